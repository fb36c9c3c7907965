"""The interface every chat backend implements, the errors they raise, and the streaming plumbing."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

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
class GenerationOptions:
    max_tokens: int = 120
    """About five spoken sentences: a voice reply longer than that loses the listener."""
    temperature: float = 0.2
    """Low: on the embedded SmolLM2-135M, 0.6 wandered off the question in 3 of 5 test questions, 0.2 in 1."""


class ChatBackend(Protocol):
    """A model that streams replies.

    Optional extras the dialogue manager uses when present: `context_length` (int, tokens the model's
    context holds) and `open_stream(prepare, options, info)` (see `open_stream` below).
    """

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


Prepare = Callable[[ChatBackend], Sequence[Message]]
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
    """An iterator of reply pieces plus the `StreamInfo` it fills. `close()` cancels the generation."""

    def __init__(self, pieces: Iterator[str], info: StreamInfo) -> None:
        self._pieces = pieces
        self.info = info

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


def open_stream(
    backend: ChatBackend, prepare: Prepare, options: GenerationOptions, info: StreamInfo | None = None
) -> ReplyStream:
    """Start a reply on any backend; those with their own `open_stream` also report tokens and fallbacks."""
    info = info if info is not None else StreamInfo()
    info.backend, info.model = backend.name, backend.model
    native = getattr(backend, "open_stream", None)
    if native is not None:
        return native(prepare, options, info)
    return ReplyStream(iter(backend.stream(prepare(backend), options)), info)


class StreamingBackend:
    """`stream` and `open_stream` for a backend that implements `_generate(messages, options, info)`."""

    name: str
    model: str

    def _generate(
        self, messages: Sequence[Message], options: GenerationOptions, info: StreamInfo
    ) -> Iterator[str]:
        raise NotImplementedError

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        return self._generate(messages, options, StreamInfo(self.name, self.model))

    def open_stream(self, prepare: Prepare, options: GenerationOptions, info: StreamInfo) -> ReplyStream:
        return ReplyStream(self._generate(prepare(self), options, info), info)
