"""The interface every chat backend implements, the errors they raise, and the streaming plumbing.

A backend streams `StreamItem`s (text, and later tool calls) through a `ReplyStream`, which any thread may
`cancel()` without waiting: the backend then stops at its next chance (the HTTP response is shut, the
embedded model stops between tokens) and the stream ends quietly, so recovery and apologies stay out of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from dialogue.messages import Message


class BackendError(RuntimeError):
    """The backend could not produce a reply (after its own retries, if any)."""


class BackendUnavailable(BackendError):
    """The server cannot be reached or did not answer in time."""


class BackendTimeout(BackendUnavailable):
    """The server did not answer within the timeout. Retrying would cost the whole timeout again."""


class ModelNotFound(BackendError):
    """The server answers but does not have the model."""

    def __init__(self, message: str, model: str | None = None) -> None:
        super().__init__(message)
        self.model = model


@dataclass(frozen=True)
class TextDelta:
    """The next piece of the reply's text."""

    text: str


@dataclass(frozen=True)
class ToolCallItem:
    """The model asks for a tool to be called (issue 14)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


StreamItem = TextDelta | ToolCallItem


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 120
    """About five spoken sentences: a voice reply longer than that loses the listener."""
    temperature: float = 0.2
    """Low: on the embedded SmolLM2-135M, 0.6 wandered off the question in 3 of 5 test questions, 0.2 in 1."""
    tools: tuple[dict, ...] = ()
    """Tools the model may call (function specs): Ollama's tools API where the model has it; the embedded
    model decides first with a JSON schema. A backend that can do neither answers without them."""
    keep_cache: bool = False
    """A call aside from the conversation (the rolling summary): the embedded model puts back the prompt it
    had read before it, so the next turn does not read the whole conversation again."""


class Cancel:
    """A thread-safe, one-way stop signal for one reply, with hooks that run when it is given.

    A hook unblocks whatever the generation is waiting on (shuts a socket, wakes a queue); hooks must not
    block. `set()` runs them on the caller's thread, once; a hook added after `set()` runs at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []
        self._event = threading.Event()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds, or until the stop signal; True when it was given."""
        return self._event.wait(timeout)

    def set(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            hooks = list(self._hooks)
        for hook in hooks:
            hook()

    @contextmanager
    def hook(self, action: Callable[[], None]) -> Iterator[None]:
        """Run `action` when the stop signal is given while this block runs."""
        with self._lock:
            self._hooks.append(action)
            now = self._event.is_set()
        if now:
            action()
        try:
            yield
        finally:
            with self._lock:
                self._hooks.remove(action)


Prepare = Callable[["ChatBackend"], Sequence[Message]]
"""Builds the messages for the backend that is about to answer: what a model is sent depends on it (whether
it sees images, how much context it holds), and a fallback is only known once the first choice failed."""


@dataclass
class StreamInfo:
    """What was learned while streaming one reply; filled in as the stream goes."""

    backend: str = ""
    model: str = ""
    attempts: int = 0
    """How many times the first-choice backend was asked (retries included)."""
    fallback_reason: BackendError | None = None
    """Why a fallback answered instead of the first choice (None when the first choice answered)."""
    prompt_tokens: int | None = None
    reply_tokens: int | None = None


class ReplyStream:
    """An iterator of `StreamItem`s plus the `StreamInfo` it fills.

    `cancel()` may be called from any thread and returns at once; the iterator then ends at the backend's
    next chance. `close()` belongs to the consuming thread: it abandons the generation and releases what it
    holds, without marking the reply cancelled (the `Cancel` may be shared with the caller's turn).
    """

    def __init__(self, items: Iterator[StreamItem], info: StreamInfo, cancel: Cancel) -> None:
        self._items = items
        self.info = info
        self._cancel = cancel

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> StreamItem:
        return next(self._items)

    def text(self) -> Iterator[str]:
        """Only the text of the reply."""
        return (item.text for item in self if isinstance(item, TextDelta))

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        close = getattr(self._items, "close", None)
        if close is not None:
            close()


class ChatBackend(Protocol):
    """A model that streams replies. Optional: `context_length` (int, tokens the model's context holds)."""

    name: str
    """The engine's registered name (`ollama`, `embedded`, ...)."""
    model: str
    sees_images: bool

    def open_stream(
        self, prepare: Prepare, options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> ReplyStream:
        """Start a reply to `prepare(self)`; give up quietly once `cancel` is set."""
        ...

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        """The reply's text to `messages`, for callers that need nothing else. Closing it cancels."""
        ...

    def describe(self) -> str:
        """One line for the user: which model answers, and where it runs."""
        ...

    def close(self) -> None:
        """Stop the generations in flight, waiting a bounded time; called once the backend is done with."""
        ...


def open_stream(
    backend: ChatBackend,
    prepare: Prepare,
    options: GenerationOptions,
    info: StreamInfo | None = None,
    cancel: Cancel | None = None,
) -> ReplyStream:
    """Start a reply on `backend`, recording which backend and model answer in `info`."""
    info = info if info is not None else StreamInfo()
    info.backend, info.model = backend.name, backend.model
    return backend.open_stream(prepare, options, info, cancel if cancel is not None else Cancel())


def read_prompt(backend: ChatBackend, messages: Sequence[Message], cancel: Cancel) -> None:
    """Have `backend` read `messages` and stop at the first token of the reply.

    What a model read last is its cached prefix (llama.cpp keeps its KV cache; Ollama keeps the prompt it
    last evaluated), so reading a prompt ahead, while the user listens or talks, spares the next turn from
    reading it after the user stops. Errors are the next turn's to report.
    """
    try:
        with closing(
            open_stream(backend, lambda _b: messages, GenerationOptions(max_tokens=1), None, cancel)
        ) as stream:
            next(stream, None)
    except BackendError:
        pass


class TextStreaming:
    """`stream()` and a `close()` with nothing to stop, for a backend that has `open_stream`."""

    name: str
    model: str

    def open_stream(
        self, prepare: Prepare, options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> ReplyStream:
        raise NotImplementedError

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        reply = open_stream(self, lambda _backend: messages, options)  # type: ignore[arg-type]
        try:
            yield from reply.text()
        finally:
            reply.close()

    def close(self) -> None:
        pass


class StreamingBackend(TextStreaming):
    """`open_stream` and `stream` for an engine that implements `_generate`."""

    def _generate(
        self, messages: Sequence[Message], options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> Iterator[StreamItem]:
        raise NotImplementedError

    def open_stream(
        self, prepare: Prepare, options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> ReplyStream:
        return ReplyStream(self._generate(prepare(self), options, info, cancel), info, cancel)
