"""Steady capture times for microphone frames, from the uneven times at which they reach the loop.

A frame reaches the loop some time after it was captured: the device's buffer (constant) plus however long
the capture thread was busy, or the sound server held frames back to deliver several at once (varying from
frame to frame). Echo cancelling looks up the speaker's reference by time, and a reference read a few
milliseconds off from one frame to the next is a reference with skipped or repeated samples, which AEC3
cannot follow. Counting samples gives the true spacing; the anchor is the least lateness seen, the constant
part, which the echo delay tracking then absorbs.
"""

from __future__ import annotations

from collections import deque

WINDOW_S = 10.0
"""How long every frame must have arrived later than the timeline allows before the anchor moves later."""
TOLERANCE_S = 0.005


class CaptureTimeline:
    """Maps the arrival time of each frame (in order, none skipped) to a steady capture time."""

    def __init__(self, sample_rate: int) -> None:
        self._rate = sample_rate
        self._samples = 0
        self._anchor: float | None = None
        self._recent: deque[float] = deque()
        self._recent_s = 0.0

    def time_of(self, arrived_s: float, samples: int) -> float:
        """The steady time of a frame of `samples` that arrived at `arrived_s`."""
        counted_s = self._samples / self._rate
        lateness = arrived_s - counted_s
        self._samples += samples
        self._recent.append(lateness)
        self._recent_s += samples / self._rate
        if self._recent_s > WINDOW_S:
            self._recent.popleft()
            self._recent_s -= samples / self._rate
        if self._anchor is None or lateness < self._anchor:
            self._anchor = lateness  # a frame came earlier than the timeline allowed: it was late
        elif self._recent_s >= WINDOW_S and (least := min(self._recent)) > self._anchor + TOLERANCE_S:
            self._anchor = least  # frames were lost, or the clocks drift apart
        return self._anchor + counted_s
