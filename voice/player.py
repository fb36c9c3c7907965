"""The playback thread: plays synthesised chunks in order while the next ones are being made.

It remembers how much of each chunk was really played, so after a barge-in the dialogue can keep just the
words the user heard.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from voice.sinks import AudioSink

AUDIBLE = 300
"""int16 amplitude (about -40 dBFS) above which a sample counts as sound, for first-audio timing."""


@dataclass
class _Chunk:
    text: str
    samples: np.ndarray
    rate: int
    played: int = 0


@dataclass
class ReplyPlayback:
    """What happened to one reply's audio."""

    chunks: list[_Chunk] = field(default_factory=list)
    first_audio_wall: float | None = None
    interrupted: bool = False
    error: Exception | None = None

    def heard_text(self) -> str:
        """The chunks played in full, plus the share of words of a chunk cut off part-way."""
        words: list[str] = []
        for chunk in self.chunks:
            if chunk.played <= 0:
                break
            chunk_words = chunk.text.split()
            if chunk.played >= chunk.samples.size:
                words.extend(chunk_words)
                continue
            share = chunk.played / max(1, chunk.samples.size)
            words.extend(chunk_words[: int(len(chunk_words) * share)])
            break
        return " ".join(words)


class Player:
    def __init__(self, sink: AudioSink, realtime: bool) -> None:
        self.sink = sink
        self.realtime = realtime
        """True when the sink plays at real-time speed (a speaker), so the mic may hear it."""
        self._queue: queue.Queue[_Chunk | None] = queue.Queue()
        self._stop = threading.Event()
        self._pending = 0
        self._cond = threading.Condition()
        self._reply = ReplyPlayback()
        self._replies = 0
        self._last_sound_wall = 0.0
        self._thread = threading.Thread(target=self._run, name="hark-player", daemon=True)
        self._thread.start()

    def begin_reply(self) -> None:
        self._stop.clear()
        self._reply = ReplyPlayback()
        if self._replies:
            self.sink.gap(0.4)
        self._replies += 1

    def enqueue(self, text: str, samples: np.ndarray, rate: int) -> None:
        if self._stop.is_set():
            return
        chunk = _Chunk(text, samples, rate)
        self._reply.chunks.append(chunk)
        with self._cond:
            self._pending += 1
        self._queue.put(chunk)

    def interrupt(self) -> None:
        """Stop the current reply now (barge-in); the rest of its queued audio is dropped."""
        if self.speaking:
            self._reply.interrupted = True
        self._stop.set()

    def wait_idle(self, timeout: float | None = None) -> ReplyPlayback:
        with self._cond:
            self._cond.wait_for(lambda: self._pending == 0, timeout)
        return self._reply

    @property
    def speaking(self) -> bool:
        return self._pending > 0

    def seconds_since_sound(self) -> float:
        if self.speaking:
            return 0.0
        return time.monotonic() - self._last_sound_wall

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            reply = self._reply
            if not self._stop.is_set():
                self._play(chunk, reply)
            with self._cond:
                self._pending -= 1
                if self._pending == 0:
                    self._last_sound_wall = time.monotonic()
                    self._cond.notify_all()

    def _play(self, chunk: _Chunk, reply: ReplyPlayback) -> None:
        started = time.monotonic()
        if reply.first_audio_wall is None:
            loud = np.flatnonzero(np.abs(chunk.samples.astype(np.int32)) > AUDIBLE)
            if loud.size:
                offset = float(loud[0]) / chunk.rate if self.realtime else 0.0
                reply.first_audio_wall = started + offset
        try:
            chunk.played = self.sink.play(chunk.samples, chunk.rate, self._stop)
        except Exception as exc:  # a device that failed mid-reply: report it, do not kill the thread
            reply.error = exc
            self._stop.set()
        if chunk.played < chunk.samples.size and self._stop.is_set():
            reply.interrupted = reply.interrupted or reply.error is None
