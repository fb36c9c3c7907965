"""The playback thread: plays synthesised chunks in order while the next ones are being made.

It remembers how much of each chunk was really played, so after a barge-in the dialogue can keep just the
words the user heard.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from voice.clock import SYSTEM_CLOCK, Clock, Mailbox
from voice.decode import audible
from voice.ports import FrameProcessor
from voice.sinks import AudioSink


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
    """Plays chunks on its own thread; tells the `reference` (echo cancelling) what plays when."""

    def __init__(
        self,
        sink: AudioSink,
        realtime: bool,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.sink = sink
        self.realtime = realtime
        """True when the sink plays at real-time speed (a speaker), so the mic may hear it."""
        self.clock = clock
        self._reference: FrameProcessor | None = None
        self._queue: Mailbox[_Chunk | None] = Mailbox(clock)
        self._stop = clock.signal()
        self._halt = clock.signal()
        """Set by `pause()` and `interrupt()`: the sink stops writing at its next block."""
        self._wake = clock.signal()
        self._paused = False
        self._pauses = 0
        """How many times `pause()` was called: tells a write cut short by a pause from a short write."""
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = clock.signal()
        self._idle.set()
        self._reply = ReplyPlayback()
        self._replies = 0
        self._last_sound_wall = 0.0
        self._thread = clock.start_thread(self._run, "hark-player")

    @property
    def reference(self) -> FrameProcessor | None:
        """Hears what plays with the time it is heard; the voice loop sets its processor chain here, so echo
        cancelling gets the far end of exactly the audio it must remove. A sink on a real speaker dates it
        itself (`listener`), block by block as the device takes it; other sinks are dated at the write."""
        return self._reference

    @reference.setter
    def reference(self, reference: FrameProcessor | None) -> None:
        self._reference = reference
        if hasattr(self.sink, "listener"):
            self.sink.listener = reference.playback if reference is not None else None

    def begin_reply(self) -> None:
        self._stop.clear()
        self._paused = False
        self._halt.clear()
        self._reply = ReplyPlayback()
        if self._replies:
            self.sink.gap(0.4)
        self._replies += 1

    def enqueue(self, text: str, samples: np.ndarray, rate: int) -> None:
        if self._stop.is_set():
            return
        chunk = _Chunk(text, samples, rate)
        self._reply.chunks.append(chunk)
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put(chunk)

    def interrupt(self) -> None:
        """Stop the current reply now (barge-in); the rest of its queued audio is dropped."""
        if self.speaking:
            self._reply.interrupted = True
        self._stop.set()
        self._halt.set()
        self._wake.set()

    def pause(self) -> None:
        """Hold the current reply at the sample it has reached, its queue kept (someone spoke over it and
        what they said is not known yet): `resume()` plays on from there, `interrupt()` drops it."""
        self._pauses += 1
        self._paused = True
        self._wake.clear()
        self._halt.set()

    def resume(self) -> None:
        """Play on after `pause()` (nothing if the reply was interrupted meanwhile)."""
        if not self._stop.is_set():
            self._halt.clear()
        self._paused = False
        self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> ReplyPlayback:
        """The current reply's playback once all its audio has played (or `timeout` passed)."""
        self._idle.wait(timeout)
        return self._reply

    @property
    def speaking(self) -> bool:
        return self._pending > 0

    def seconds_since_sound(self) -> float:
        if self.speaking:
            return 0.0
        return self.clock.now() - self._last_sound_wall

    def close(self) -> None:
        self._stop.set()
        self._halt.set()
        self._wake.set()
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
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._last_sound_wall = self.clock.now()
                    self._idle.set()

    def _play(self, chunk: _Chunk, reply: ReplyPlayback) -> None:
        """Play `chunk` to the end, or until interrupted; a pause holds it and plays on from the same
        sample after `resume()`."""
        while chunk.played < chunk.samples.size and not self._stop.is_set():
            pauses = self._pauses  # read first: a pause from here on sends the loop round again
            while self._paused and not self._stop.is_set():
                self._wake.wait(0.1)
            if self._stop.is_set() or not self._play_part(chunk, reply, pauses):
                break
        if chunk.played < chunk.samples.size and self._stop.is_set():
            reply.interrupted = reply.interrupted or reply.error is None

    def _play_part(self, chunk: _Chunk, reply: ReplyPlayback, pauses: int) -> bool:
        """Write the rest of `chunk` from `chunk.played`; True when a pause (one after the `pauses`
        counted so far) cut it short."""
        rest = chunk.samples[chunk.played :]
        started = self.clock.now()
        if self._reference is not None and not hasattr(self.sink, "listener"):
            self._reference.playback(rest, chunk.rate, started)
        if reply.first_audio_wall is None:
            loud = audible(rest)
            if loud.size:
                offset = float(loud[0]) / chunk.rate if self.realtime else 0.0
                reply.first_audio_wall = started + offset
        try:
            written = self.sink.play(rest, chunk.rate, self._halt)
        except Exception as exc:  # a device that failed mid-reply: report it, do not kill the thread
            reply.error = exc
            self._stop.set()
            return False
        chunk.played += written
        # a sink may report a sample less than it was given (rate conversion): only a pause is resumed
        return chunk.played < chunk.samples.size and self._pauses != pauses
