"""The end-of-turn model, run off the capture thread.

One call costs about 0.1 s of CPU on this machine's class of hardware: far more than a 30 ms frame, so the
capture thread (VAD, endpointer, frame processors) must never run it. It asks instead, gets a `Prediction`
back at once, and looks at it again on the next frames; the decider treats "not ready" as "ask me at the
next frame". One request is in flight at a time per pause, so the model's cost is bounded by the pauses.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from voice.clock import Clock, Mailbox, Signal


class TurnPredictor(Protocol):
    def predict(self, audio: np.ndarray) -> float:
        """Probability that the turn is over, for 16 kHz float audio ending now."""
        ...


class Prediction:
    """One model answer in the making; `done` is set last, after `value` or `error`."""

    def __init__(self, audio: np.ndarray, done: Signal) -> None:
        self.audio = audio
        self.value: float | None = None
        self.error: Exception | None = None
        self.done = done
        self.abandoned = False
        """The pause it was asked for is over: skip it if it has not started."""


class TurnModelWorker:
    """A thread (`hark-turn-model`) that answers `Prediction`s in order."""

    def __init__(self, model: TurnPredictor, clock: Clock) -> None:
        self.model = model
        self._clock = clock
        self._requests: Mailbox[Prediction | None] = Mailbox(clock)

    def start(self) -> None:
        self._clock.start_thread(self._run, "hark-turn-model")

    def ask(self, audio: np.ndarray) -> Prediction:
        prediction = Prediction(audio, self._clock.signal())
        self._requests.put(prediction)
        return prediction

    def close(self) -> None:
        self._requests.put(None)

    def _run(self) -> None:
        while (prediction := self._requests.get()) is not None:
            if not prediction.abandoned:
                try:
                    prediction.value = self.model.predict(prediction.audio)
                except Exception as exc:  # the loop falls back to the hang; it must not die of it
                    prediction.error = exc
            prediction.audio = np.zeros(0, np.float32)  # the utterance's copy is not kept alive
            prediction.done.set()
