"""What the speaker played (the far-end reference), kept at 16 kHz and indexed by monotonic time.

The player hands over each chunk with the time it starts on the speaker; the capture thread asks for the
reference that belongs to a microphone frame by time. Indexing by time rather than by sample count keeps
the two sides aligned across gaps, underruns and replies that start while an old one is still queued.
"""

from __future__ import annotations

import bisect
import threading

import numpy as np

from voice import SAMPLE_RATE
from voice.decode import resample


class FarEndBuffer:
    """Chunks of played audio (start time, 16 kHz int16 samples); thread-safe, never blocks on I/O.

    A speaker reports what it plays block by block (10-40 ms each, so thousands of chunks within the horizon)
    and every microphone frame reads a few windows of it: chunks are kept in order of their start and a
    read looks only at those that can overlap its window.
    """

    def __init__(self, horizon_s: float = 10.0) -> None:
        self._horizon_s = horizon_s
        self._starts: list[float] = []
        self._chunks: list[np.ndarray] = []
        self._longest_s = 0.0
        self._lock = threading.Lock()

    def add(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        """`audio` (int16 mono, any rate) starts playing at monotonic time `at_s`."""
        if audio.size == 0:
            return
        chunk = resample(np.asarray(audio, dtype=np.int16), sample_rate, SAMPLE_RATE)
        with self._lock:
            index = bisect.bisect_right(self._starts, at_s)
            self._starts.insert(index, at_s)
            self._chunks.insert(index, chunk)
            self._longest_s = max(self._longest_s, chunk.size / SAMPLE_RATE)
            stale = bisect.bisect_left(self._starts, at_s - self._horizon_s - self._longest_s)
            if stale:
                del self._starts[:stale], self._chunks[:stale]

    def read(self, start_s: float, n: int) -> np.ndarray:
        """The `n` samples played from `start_s` on (zeros where nothing played; overlaps are mixed)."""
        end_s = start_s + n / SAMPLE_RATE
        with self._lock:
            lo = bisect.bisect_left(self._starts, start_s - self._longest_s)
            hi = bisect.bisect_left(self._starts, end_s)
            chunks = list(zip(self._starts[lo:hi], self._chunks[lo:hi], strict=True))
        out = np.zeros(n, dtype=np.int32)
        for chunk_start_s, chunk in chunks:
            offset = round((chunk_start_s - start_s) * SAMPLE_RATE)
            lo, hi = max(0, offset), min(n, offset + chunk.size)
            if lo < hi:
                out[lo:hi] += chunk[lo - offset : hi - offset]
        return np.clip(out, -32768, 32767).astype(np.int16)
