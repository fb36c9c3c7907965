"""Fair access to the models every session shares: one Whisper and one Piper for the whole server.

Each model call is a short critical section (one transcription, one sentence of speech), granted in the
order asked, so a session that keeps asking (long replies, many partial transcripts) cannot starve
another's first words. Python's own locks promise no order: a thread that releases and re-acquires at once
usually wins again. The transcriptions that decide when a reply can start (final ones) go before the
partial transcripts that only update captions.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator

import numpy as np

from voice.ports import SpeechToText, TextToSpeech
from voice.stt import Transcript

URGENT = 0
"""Priority of a call someone waits on (a final transcript, speech to play)."""
BACKGROUND = 1
"""Priority of a call that only improves what is shown (a partial transcript)."""


class FairLock:
    """A lock granted by priority, then first come first served."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._order = itertools.count()

    def acquire(self, priority: int = URGENT) -> None:
        with self._guard:
            if not self._held and not self._waiting:
                self._held = True
                return
            turn = threading.Event()
            heapq.heappush(self._waiting, (priority, next(self._order), turn))
        turn.wait()  # ownership is handed over by `release`, never raced for

    def release(self) -> None:
        with self._guard:
            if self._waiting:
                heapq.heappop(self._waiting)[2].set()
            else:
                self._held = False


class SharedTranscriber:
    """One Whisper model for every session (`voice.ports.SpeechToText`), calls taken in fair order."""

    def __init__(self, transcriber: SpeechToText, lock: FairLock | None = None) -> None:
        self._transcriber = transcriber
        self._lock = lock or FairLock()

    def transcribe(self, audio: np.ndarray) -> Transcript:
        self._lock.acquire(URGENT)
        try:
            return self._transcriber.transcribe(audio)
        finally:
            self._lock.release()

    def quick_transcribe(self, audio: np.ndarray) -> Transcript:
        self._lock.acquire(BACKGROUND)
        try:
            return self._transcriber.quick_transcribe(audio)
        finally:
            self._lock.release()


class SharedSpeaker:
    """One Piper voice for every session (`voice.ports.TextToSpeech`): each call is one short chunk of a
    reply (the loop synthesises a reply clause by clause), so sessions' replies interleave."""

    def __init__(self, speaker: TextToSpeech, lock: FairLock | None = None) -> None:
        self._speaker = speaker
        self._lock = lock or FairLock()
        self.sample_rate = speaker.sample_rate

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        self._lock.acquire(URGENT)
        try:
            pieces = list(self._speaker.synthesize(text))
        finally:
            self._lock.release()
        yield from pieces
