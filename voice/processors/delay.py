"""Where the echo sits in the microphone signal relative to the far-end reference, tracked as it drifts.

The device latencies give a first guess; the real figure moves with buffer sizes, resampling in the sound
server and clock drift, so it is re-estimated from the signals themselves: generalised cross-correlation
with phase transform (GCC-PHAT) between the reference and the raw microphone. PHAT whitens the spectrum,
which gives speech a sharp correlation peak even through a coloured (filtered, reverberant) echo path.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

import numpy as np

MIN_REFERENCE_RMS = 100.0
"""Below this (int16 units, about -50 dBFS) the reference is too quiet to correlate against."""
MIN_PEAK_RATIO = 6.0
"""The correlation peak must stand this many standard deviations above the other lags."""


@dataclass(frozen=True)
class DelayEstimate:
    delay_s: float
    """How much later the echo appears in the microphone than in the reference (negative: earlier)."""
    strength: float
    """Peak height over the spread of the other lags: a confidence, higher is surer."""


def estimate_delay(
    reference: np.ndarray, mic: np.ndarray, sample_rate: int, max_delay_s: float
) -> DelayEstimate | None:
    """The lag of `reference` inside `mic` (two equally long windows at the same timestamps), or None.

    None when the reference is too quiet or no lag within ±`max_delay_s` stands out (no echo, or the
    near end drowns it).
    """
    if reference.size != mic.size:
        raise ValueError("reference and mic windows must be the same length")
    ref = reference.astype(np.float64)
    if ref.size == 0 or np.sqrt(np.mean(ref**2)) < MIN_REFERENCE_RMS:
        return None
    max_lag = min(int(max_delay_s * sample_rate), ref.size - 1)
    nfft = 1 << int(np.ceil(np.log2(2 * ref.size)))
    cross = np.fft.rfft(mic.astype(np.float64), nfft) * np.conj(np.fft.rfft(ref, nfft))
    cross /= np.abs(cross) + 1e-12
    corr = np.fft.irfft(cross, nfft)
    lags = np.concatenate([corr[-max_lag:], corr[: max_lag + 1]])  # lags -max_lag .. +max_lag
    peak = int(np.argmax(lags))
    others = np.delete(lags, range(max(0, peak - 2), min(lags.size, peak + 3)))
    strength = float((lags[peak] - np.mean(others)) / (np.std(others) + 1e-12))
    if strength < MIN_PEAK_RATIO:
        return None
    return DelayEstimate(delay_s=(peak - max_lag) / sample_rate, strength=strength)


class DelayTracker:
    """Keeps a rolling window of reference and raw microphone audio and re-estimates the delay in it.

    The reported delay is the median of the last few confident estimates, so one estimate thrown off by
    double talk does not move it; until the first one it is the initial guess from the device latencies.
    """

    def __init__(
        self,
        initial_s: float,
        sample_rate: int,
        window_s: float = 1.5,
        every_s: float = 1.0,
        max_delay_s: float = 0.5,
        keep: int = 5,
    ) -> None:
        if window_s <= 2 * max_delay_s:
            raise ValueError("the window must be longer than twice the largest delay")
        self.delay_s = initial_s
        self._rate = sample_rate
        self._max_delay_s = max_delay_s
        self._size = int(window_s * sample_rate)
        self._every = int(every_s * sample_rate)
        self._ref = np.zeros(self._size, dtype=np.int16)
        self._mic = np.zeros(self._size, dtype=np.int16)
        self._filled = 0
        self._since = 0
        self._recent: deque[float] = deque(maxlen=keep)
        self.found = 0
        """Confident estimates so far: each says the microphone heard the reference."""

    def push(self, reference: np.ndarray, mic: np.ndarray) -> None:
        """Blocks of reference and raw microphone audio for the same timestamps."""
        n = min(mic.size, self._size)
        self._ref = np.concatenate([self._ref[n:], reference[-n:]])
        self._mic = np.concatenate([self._mic[n:], mic[-n:]])
        self._filled = min(self._size, self._filled + n)
        self._since += n
        if self._filled == self._size and self._since >= self._every:
            self._since = 0
            found = estimate_delay(self._ref, self._mic, self._rate, self._max_delay_s)
            if found is not None:
                self.found += 1
                self._recent.append(found.delay_s)
                self.delay_s = statistics.median(self._recent)
