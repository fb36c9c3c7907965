"""Fast stand-ins for chat backends in the dialogue unit tests (real HTTP and real models are tested too)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

from dialogue.backends.base import BackendError, GenerationOptions
from dialogue.messages import Message
from dialogue.persona import Persona


class FakeBackend:
    """Replies with `reply(messages)` word by word, records what it was sent, fails as scripted.

    `failures` are raised one per call before any text (then it behaves); `fail_mid` raises after that many
    words; `gate`, when given, is waited on before each word (to hold a generation in flight).
    """

    name = "fake"

    def __init__(
        self,
        reply: str | Callable[[list[Message]], str] = "Paris is the capital. It is lovely.",
        model: str = "fake-model",
        sees_images: bool = False,
        context_length: int | None = None,
        failures: Sequence[BackendError] = (),
        fail_mid: tuple[int, BackendError] | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        self._reply = reply
        self.model = model
        self.sees_images = sees_images
        self.context_length = context_length
        self.failures = list(failures)
        self.fail_mid = fail_mid
        self.gate = gate
        self.seen: list[list[Message]] = []
        self.closed = 0

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        self.seen.append(list(messages))
        if self.failures:
            raise self.failures.pop(0)
        text = self._reply if isinstance(self._reply, str) else self._reply(list(messages))
        words = text.split(" ")
        try:
            for i, word in enumerate(words):
                if self.fail_mid is not None and i == self.fail_mid[0]:
                    raise self.fail_mid[1]
                if self.gate is not None:
                    self.gate.wait(5)
                yield word if i == len(words) - 1 else word + " "
        except GeneratorExit:
            self.closed += 1
            raise

    def describe(self) -> str:
        return f"fake {self.model}"


PERSONA = Persona(
    name="Testy",
    greeting="Hello from Testy.",
    system_prompt="You are Testy, a careful test assistant who answers in short plain sentences always.",
    refusal="Testy cannot help with that.",
    reprompt="Testy did not catch that.",
)
