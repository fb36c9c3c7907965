"""The interface every chat backend implements, and the errors they raise."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from dialogue.messages import Message


class BackendError(RuntimeError):
    """The backend could not produce a reply (after its own retries, if any)."""


class BackendUnavailable(BackendError):
    """The server cannot be reached or did not answer in time."""


class ModelNotFound(BackendError):
    """The server answers but does not have the model."""


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 120
    """About five spoken sentences: a voice reply longer than that loses the listener."""
    temperature: float = 0.6


class ChatBackend(Protocol):
    name: str
    """`ollama` or `embedded`."""
    model: str
    sees_images: bool

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        """Yield the reply text piece by piece. Closing the iterator cancels the generation."""
        ...

    def describe(self) -> str:
        """One line for the user: which model answers, and where it runs."""
        ...
