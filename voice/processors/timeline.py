"""Steady device times for audio blocks, from the uneven times at which the program learns of them.

A microphone frame reaches the loop some time after it was captured: the device's buffer (constant) plus
however long the capture thread was busy, or the sound server held frames back to deliver several at once
(varying from frame to frame). A speaker block's playout time is reported when its callback runs, and a
callback that runs late reports its block late by as much, though the device plays it right after the last.
Echo cancelling looks up the speaker's reference by time, and a reference read or placed a few milliseconds
off from one block to the next is a reference with skipped or repeated samples, which AEC3 cannot follow.
Counting samples gives the true spacing; the anchor is the least lateness seen, the constant part, which the
echo delay tracking then absorbs.
"""

from __future__ import annotations

from collections import deque

WINDOW_S = 10.0
"""How long every frame must have arrived later than the timeline allows before the anchor moves later, on
the capture side (a sound server may hold captured frames back for long)."""
TOLERANCE_S = 0.005


class SteadyTimeline:
    """Maps the reported time of each block (in order, none skipped) to a steady device time.

    The anchor moves later only when every block for `settle_s` came later than it allows: samples were
    lost (an underrun), the sound server's latency grew, or the clocks drift apart.
    """

    def __init__(self, sample_rate: int, settle_s: float = WINDOW_S) -> None:
        self._rate = sample_rate
        self._settle_s = settle_s
        self._samples = 0
        self._anchor: float | None = None
        self._recent: deque[tuple[float, float]] = deque()
        """(lateness, duration) of the latest blocks, `settle_s` of them."""
        self._recent_s = 0.0

    def time_of(self, arrived_s: float, samples: int) -> float:
        """The steady time of a block of `samples` reported at `arrived_s`."""
        counted_s = self._samples / self._rate
        lateness = arrived_s - counted_s
        self._samples += samples
        self._recent.append((lateness, samples / self._rate))
        self._recent_s += samples / self._rate
        while self._recent_s - self._recent[0][1] >= self._settle_s:
            self._recent_s -= self._recent.popleft()[1]
        if self._anchor is None or lateness < self._anchor:
            self._anchor = lateness  # a block came earlier than the timeline allowed: the others were late
        elif self._recent_s >= self._settle_s and (least := min(r[0] for r in self._recent)) > (
            self._anchor + TOLERANCE_S
        ):
            self._anchor = least  # samples were lost, or the clocks drift apart
        return self._anchor + counted_s
