"""Fast fakes for scripting whole sessions of the voice loop on a virtual timeline (no models, no sleeps).

A script is a string of 30 ms frames: 'S' speech, '.' silence. The fake VAD reads speech from the frame's
amplitude; the fake transcriber "hears" one word of a known sentence per 0.15 s of speech in the audio,
so partial transcripts grow as the utterance grows. Everything that takes time takes it on the shared
`VirtualClock`, so a session runs as fast as the CPU allows and the same way every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voice.clock import Clock, Signal
from voice.stt import Transcript
from voice.vad import FRAME_S, FRAME_SAMPLES

SPEECH_LEVEL = 3000
WORDS = "what is the capital of france and why is it so famous".split()


def frames(script: str) -> list[np.ndarray]:
    return [np.full(FRAME_SAMPLES, SPEECH_LEVEL if c == "S" else 0, dtype=np.int16) for c in script]


class ScriptSource:
    """Yields a script's frames in (virtual) real time; `at` runs a callback when frame k is captured."""

    def __init__(self, script: str, clock: Clock, at: dict[int, Callable[[], None]] | None = None) -> None:
        self._frames = frames(script)
        self._closed = clock.signal()
        self._at = at or {}

    def frames(self):
        for k, frame in enumerate(self._frames):
            if self._closed.wait(FRAME_S):
                return
            if k in self._at:
                self._at[k]()
            yield frame

    def close(self) -> None:
        self._closed.set()


class AmplitudeVad:
    def is_speech(self, frame: np.ndarray) -> bool:
        return bool(np.abs(frame.astype(np.int32)).mean() > SPEECH_LEVEL / 2)


class WordCountTranscriber:
    def __init__(self, clock: Clock, delay_s: float = 0.0) -> None:
        self.clock = clock
        self.delay_s = delay_s
        self.calls: list[float] = []

    def transcribe(self, audio: np.ndarray) -> Transcript:
        speech_s = float(np.count_nonzero(np.abs(audio) > 0.01)) / 16_000
        self.calls.append(speech_s)
        self.clock.sleep(self.delay_s)
        n = min(len(WORDS), int(speech_s / 0.15))
        return Transcript(" ".join(WORDS[:n]), 0.9 if n else 0.0, 0.1 if n else 1.0)

    quick_transcribe = transcribe


class ToneSpeaker:
    """0.5 s of tone per chunk of text, at 16 kHz."""

    sample_rate = 16_000

    def synthesize(self, text: str):
        if text.strip():
            yield np.full(8_000, 5_000, dtype=np.int16)


class RealtimeSink:
    """Plays in (virtual) real time in 20 ms blocks, so barge-in and gating can happen; records when."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.played = 0
        self.blocks: list[float] = []
        """Virtual time at which each block started playing."""
        self.stopped_at: float | None = None

    def play(self, samples: np.ndarray, rate: int, stop: Signal) -> int:
        block = int(rate * 0.02)
        done = 0
        while done < samples.size:
            if stop.is_set():
                self.stopped_at = self.clock.now()
                break
            self.blocks.append(self.clock.now())
            self.clock.sleep(block / rate)
            done = min(samples.size, done + block)
        self.played += done
        return done

    def gap(self, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class RecordingTurn:
    conversation: RecordingConversation
    user: str
    turn_id: int
    reply: str
    closed: bool = False
    cancelled: bool = False
    finished: tuple[str, bool] | None = None

    def pieces(self):
        try:
            for word in self.reply.split(" "):
                yield word + " "
        finally:
            self.closed = True

    def cancel(self) -> None:
        self.cancelled = True

    def finish(self, heard: str, interrupted: bool) -> None:
        self.finished = (heard, interrupted)
        self.conversation.history.append((self.user, heard, interrupted))


@dataclass
class RecordingConversation:
    reply: str = "Paris is the capital of France. It is famous for the Eiffel Tower and for its food."
    turns: list[RecordingTurn] = field(default_factory=list)
    history: list[tuple[str, str, bool]] = field(default_factory=list)

    def begin_turn(self, transcript: Transcript, turn_id: int) -> RecordingTurn:
        turn = RecordingTurn(self, transcript.text, turn_id, self.reply)
        self.turns.append(turn)
        return turn


class HungTurn(RecordingTurn):
    """A model call that never produces a token: blocks until cancelled (or forever, `deaf_to_cancel`)."""

    def __init__(self, conversation, user, turn_id, reply, clock: Clock, deaf_to_cancel: bool) -> None:
        super().__init__(conversation, user, turn_id, reply)
        self._clock = clock
        self._released = clock.signal()
        self._deaf = deaf_to_cancel
        self.cancelled_at: float | None = None
        self.finished_at: float | None = None

    def pieces(self):
        try:
            self.conversation.entered.set()
            self._released.wait()
            yield from ()
        finally:
            self.closed = True

    def cancel(self) -> None:
        self.cancelled = True
        self.cancelled_at = self._clock.now()
        if not self._deaf:
            self._released.set()

    def finish(self, heard: str, interrupted: bool) -> None:
        self.finished_at = self._clock.now()
        super().finish(heard, interrupted)


@dataclass
class HungConversation(RecordingConversation):
    clock: Clock | None = None
    deaf_to_cancel: bool = False
    entered: threading.Event = field(default_factory=threading.Event)
    """Set once a turn is waiting inside its (never answering) model call."""

    def begin_turn(self, transcript: Transcript, turn_id: int) -> RecordingTurn:
        assert self.clock is not None
        turn = HungTurn(self, transcript.text, turn_id, self.reply, self.clock, self.deaf_to_cancel)
        self.turns.append(turn)
        return turn
