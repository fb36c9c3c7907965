"""What the speaker played (the far-end reference), kept at 16 kHz and indexed by monotonic time.

The player hands over each chunk with the time it starts on the speaker; the capture thread asks for the
reference that belongs to a microphone frame by time. Indexing by time rather than by sample count keeps
the two sides aligned across gaps, underruns and replies that start while an old one is still queued.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from voice import SAMPLE_RATE
from voice.decode import resample


class FarEndBuffer:
    """Chunks of played audio (start time, 16 kHz int16 samples); thread-safe, never blocks on I/O."""

    def __init__(self, horizon_s: float = 10.0) -> None:
        self._horizon_s = horizon_s
        self._chunks: deque[tuple[float, np.ndarray]] = deque()
        self._lock = threading.Lock()

    def add(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        """`audio` (int16 mono, any rate) starts playing at monotonic time `at_s`."""
        if audio.size == 0:
            return
        chunk = resample(np.asarray(audio, dtype=np.int16), sample_rate, SAMPLE_RATE)
        with self._lock:
            self._chunks.append((at_s, chunk))
            while self._chunks and self._end_s(self._chunks[0]) < at_s - self._horizon_s:
                self._chunks.popleft()

    def read(self, start_s: float, n: int) -> np.ndarray:
        """The `n` samples played from `start_s` on (zeros where nothing played; overlaps are mixed)."""
        with self._lock:
            chunks = tuple(self._chunks)
        out = np.zeros(n, dtype=np.int32)
        for chunk_start_s, chunk in chunks:
            offset = round((chunk_start_s - start_s) * SAMPLE_RATE)
            lo, hi = max(0, offset), min(n, offset + chunk.size)
            if lo < hi:
                out[lo:hi] += chunk[lo - offset : hi - offset]
        return np.clip(out, -32768, 32767).astype(np.int16)

    @staticmethod
    def _end_s(chunk: tuple[float, np.ndarray]) -> float:
        return chunk[0] + chunk[1].size / SAMPLE_RATE
