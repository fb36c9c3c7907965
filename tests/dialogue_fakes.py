"""The one fast stand-in for a chat backend in the unit tests (real HTTP and real models are tested too)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

from dialogue.backends.base import (
    BackendError,
    Cancel,
    GenerationOptions,
    StreamInfo,
    StreamingBackend,
    StreamItem,
    TextDelta,
    ToolCallItem,
)
from dialogue.messages import Message
from dialogue.persona import Persona

GATE_TIMEOUT_S = 5.0


class FakeBackend(StreamingBackend):
    """Replies with `reply(messages)` word by word, records what it was sent, fails as scripted.

    `failures` are raised one per call before any text (then it behaves); `fail_mid` raises after that many
    words; `gate`, when given, is waited on before each word (to hold a generation in flight) unless the
    reply is cancelled; `started` is set once a generation has begun (it is waiting at the gate or past it).
    """

    def __init__(
        self,
        reply: str | Callable[[list[Message]], str] = "Paris is the capital. It is lovely.",
        model: str = "fake-model",
        sees_images: bool = False,
        context_length: int | None = None,
        failures: Sequence[BackendError] = (),
        fail_mid: tuple[int, BackendError] | None = None,
        gate: threading.Event | None = None,
        name: str = "fake",
        calls: Callable[[list[Message], GenerationOptions], list[ToolCallItem]] | None = None,
    ) -> None:
        self._reply = reply
        self.name = name
        self.model = model
        self.sees_images = sees_images
        self.context_length = context_length
        self.failures = list(failures)
        self.fail_mid = fail_mid
        self.gate = gate
        self.calls = calls
        """Decides the tool calls of a reply (none: it answers in words)."""
        self.options: list[GenerationOptions] = []
        self.started = threading.Event()
        self.seen: list[list[Message]] = []
        self.closed = 0
        """Generations abandoned by their consumer before the end."""
        self.cancelled = 0
        """Generations that stopped because their reply was cancelled."""

    def _generate(
        self, messages: Sequence[Message], options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> Iterator[StreamItem]:
        self.seen.append(list(messages))
        self.options.append(options)
        if self.failures:
            raise self.failures.pop(0)
        if self.calls is not None and (calls := self.calls(list(messages), options)):
            yield from calls
            return
        text = self._reply if isinstance(self._reply, str) else self._reply(list(messages))
        words = text.split(" ")
        self.started.set()
        try:
            for i, word in enumerate(words):
                if self.fail_mid is not None and i == self.fail_mid[0]:
                    raise self.fail_mid[1]
                if self._held(cancel):
                    self.cancelled += 1
                    return
                yield TextDelta(word if i == len(words) - 1 else word + " ")
        except GeneratorExit:
            self.closed += 1
            raise

    def _held(self, cancel: Cancel) -> bool:
        """Wait at the gate, if any; True when the reply was cancelled instead."""
        if self.gate is not None:
            woken = threading.Event()
            with cancel.hook(woken.set):
                waited = 0.0
                while not self.gate.is_set() and not woken.wait(0.01) and waited < GATE_TIMEOUT_S:
                    waited += 0.01
        return cancel.is_set()

    def describe(self) -> str:
        return f"fake {self.model}"


PERSONA = Persona(
    name="Testy",
    greeting="Hello from Testy.",
    system_prompt="You are Testy, a careful test assistant who answers in short plain sentences always.",
    refusal="Testy cannot help with that.",
    reprompt="Testy did not catch that.",
)
