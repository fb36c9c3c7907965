"""A session's microphone and speaker are its socket: frames come in from the browser, replies go out to it.

The socket's side (the asyncio thread) must never wait on the voice loop, and the voice loop must never
wait on the network: the source is a queue the socket fills, and the sink hands audio to the socket and
then waits, on the player's own thread, for as long as the browser needs to play it (so the loop knows
what was heard when the user barges in, and half-duplex gating knows when Hark is speaking).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from voice.clock import Signal
from voice.vad import FRAME_S, FRAME_SAMPLES


class SocketSource:
    """`voice.sources.AudioSource` over PCM int16 (16 kHz mono) received from a socket."""

    def __init__(self, max_backlog_s: float = 3.0) -> None:
        self._frames: queue.Queue[np.ndarray | None] = queue.Queue()
        self._max_frames = int(max_backlog_s / FRAME_S)
        self._pending = np.zeros(0, dtype=np.int16)
        self._closed = threading.Event()

    def feed(self, pcm: bytes) -> bool:
        """Queue received audio (little-endian int16); False when the loop is this far behind (a client
        sending faster than real time, or a server too busy to keep up)."""
        if self._closed.is_set():
            return True
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
        pending = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = pending.size - pending.size % FRAME_SAMPLES
        for start in range(0, whole, FRAME_SAMPLES):
            self._frames.put(pending[start : start + FRAME_SAMPLES])
        self._pending = pending[whole:]
        return self._frames.qsize() <= self._max_frames

    def silence(self, seconds: float) -> None:
        """Append silence: push-to-talk released, so the utterance ends now rather than at the next sound."""
        self.feed(np.zeros(int(seconds / FRAME_S) * FRAME_SAMPLES, dtype="<i2").tobytes())

    def frames(self) -> Iterator[np.ndarray]:
        while (frame := self._frames.get()) is not None:
            yield frame

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._frames.put(None)


class SocketSink:
    """`voice.sinks.AudioSink` that sends each chunk to the socket and waits while the browser plays it.

    `send_audio` and `send_event` must not block (they queue for the socket's thread). When a reply is
    stopped part-way (barge-in), the browser is told to drop what it still has queued (`flush`).
    """

    def __init__(self, send_audio: Callable[[bytes], None], send_event: Callable[[dict], None]) -> None:
        self._send_audio = send_audio
        self._send_event = send_event

    def play(self, samples: np.ndarray, rate: int, stop: Signal) -> int:
        if stop.is_set():
            return 0
        start = time.monotonic()
        self._send_audio(samples.astype("<i2").tobytes())
        duration = samples.size / rate
        if not stop.wait(duration):
            return int(samples.size)
        self._send_event({"event": "flush"})
        return min(int(samples.size), int((time.monotonic() - start) * rate))

    def gap(self, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass
