"""Sinks that time what reaches them, for benchmarks."""

from __future__ import annotations

import threading
import time

import numpy as np

from hark.benchmark.recording import AUDIBLE


class TimingSink:
    """Records the wall time of every write that holds audible sound; optionally plays in real time."""

    def __init__(self, realtime: bool = False) -> None:
        self.realtime = realtime
        self.sound_times: list[float] = []
        self.stop_times: list[float] = []

    def play(self, samples: np.ndarray, rate: int, stop: threading.Event) -> int:
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > AUDIBLE)
        if loud.size:
            self.sound_times.append(time.monotonic() + (loud[0] / rate if self.realtime else 0.0))
        if not self.realtime:
            return int(samples.size)
        block = int(rate * 0.02)
        for start in range(0, samples.size, block):
            if stop.is_set():
                self.stop_times.append(time.monotonic())
                return start
            time.sleep(block / rate)
        return int(samples.size)

    def first_sound_after(self, t: float) -> float | None:
        return next((s for s in self.sound_times if s >= t), None)

    def gap(self, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass
