"""Fast fakes for scripting whole sessions of the voice loop on a timeline (no models).

A script is a string of 30 ms frames: 'S' speech, '.' silence. The fake VAD reads speech from the frame's
amplitude; the fake transcriber "hears" one word of a known sentence per 0.15 s of speech in the audio,
so partial transcripts grow as the utterance grows.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from voice.stt import Transcript
from voice.vad import FRAME_S, FRAME_SAMPLES

SPEECH_LEVEL = 3000
WORDS = "what is the capital of france and why is it so famous".split()


def frames(script: str) -> list[np.ndarray]:
    return [np.full(FRAME_SAMPLES, SPEECH_LEVEL if c == "S" else 0, dtype=np.int16) for c in script]


class ScriptSource:
    """Yields a script's frames, paced at `speed` times real time."""

    def __init__(self, script: str, speed: float = 1.0) -> None:
        self._frames = frames(script)
        self._speed = speed
        self._closed = threading.Event()
        self.started: float | None = None

    def frames(self):
        self.started = time.monotonic()
        for k, frame in enumerate(self._frames):
            delay = self.started + (k + 1) * FRAME_S / self._speed - time.monotonic()
            if delay > 0 and self._closed.wait(delay):
                return
            if self._closed.is_set():
                return
            yield frame

    def close(self) -> None:
        self._closed.set()


class AmplitudeVad:
    def is_speech(self, frame: np.ndarray) -> bool:
        return bool(np.abs(frame.astype(np.int32)).mean() > SPEECH_LEVEL / 2)


class WordCountTranscriber:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[float] = []

    def transcribe(self, audio: np.ndarray) -> Transcript:
        speech_s = float(np.count_nonzero(np.abs(audio) > 0.01)) / 16_000
        self.calls.append(speech_s)
        if self.delay_s:
            time.sleep(self.delay_s)
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
    """Plays at `speed` times real time (so barge-in and gating can happen), recording what it played."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self.played = 0
        self.stopped_at: float | None = None

    def play(self, samples: np.ndarray, rate: int, stop: threading.Event) -> int:
        block = int(rate * 0.02)
        done = 0
        while done < samples.size:
            if stop.is_set():
                self.stopped_at = time.monotonic()
                break
            time.sleep(block / rate / self.speed)
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
    reply: str
    closed: bool = False
    finished: tuple[str, bool] | None = None

    def pieces(self):
        try:
            for word in self.reply.split(" "):
                time.sleep(0.005)
                yield word + " "
        finally:
            self.closed = True

    def finish(self, heard: str, interrupted: bool) -> None:
        self.finished = (heard, interrupted)
        self.conversation.history.append((self.user, heard, interrupted))


@dataclass
class RecordingConversation:
    reply: str = "Paris is the capital of France. It is famous for the Eiffel Tower and for its food."
    turns: list[RecordingTurn] = field(default_factory=list)
    history: list[tuple[str, str, bool]] = field(default_factory=list)

    def begin_turn(self, transcript: Transcript) -> RecordingTurn:
        turn = RecordingTurn(self, transcript.text, self.reply)
        self.turns.append(turn)
        return turn
