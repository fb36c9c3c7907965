"""Endpointing: a small pure state machine fed one VAD decision per frame.

It knows nothing about audio or clocks: it counts stream time from the frame durations it is given, which
makes it trivial to test on scripted timelines and deterministic whatever the machine is doing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class EndpointerConfig:
    """Timings in seconds of stream audio."""

    start_s: float = 0.09
    """Continuous speech needed before an utterance is considered started (filters clicks)."""
    hang_s: float = 0.5
    """Silence after speech that ends the utterance (the endpointing delay the user waits through)."""
    pre_roll_s: float = 0.3
    """Audio kept from before the detected start, so soft onsets are not clipped."""
    max_utterance_s: float = 30.0
    """An utterance this long is ended even if the speaker goes on."""
    no_speech_timeout_s: float | None = None
    """Report a timeout after this much time with no utterance started (None: never)."""

    def __post_init__(self) -> None:
        for name in ("start_s", "hang_s", "pre_roll_s", "max_utterance_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.max_utterance_s <= self.start_s:
            raise ValueError("max_utterance_s must be longer than start_s")


class EventKind(enum.Enum):
    START = "start"
    """Speech confirmed; `speech_start_s` is where it began."""
    PAUSE = "pause"
    """The first silent frame after speech: the utterance may be ending (speculative work can start)."""
    RESUME = "resume"
    """Speech again after a PAUSE, before the hang ran out: the utterance goes on."""
    END = "end"
    """The utterance is over; `speech_end_s` is the end of its last speech frame."""
    TIMEOUT = "timeout"
    """No utterance started within `no_speech_timeout_s`."""


@dataclass(frozen=True)
class EndpointEvent:
    kind: EventKind
    time_s: float
    """Stream time at the end of the frame that caused the event."""
    speech_start_s: float | None = None
    speech_end_s: float | None = None
    capped: bool = False
    """True when END came from `max_utterance_s` rather than silence."""


class _State(enum.Enum):
    IDLE = 0
    ONSET = 1
    SPEAKING = 2
    TRAILING = 3


class Endpointer:
    """Turns a stream of per-frame speech decisions into utterance events."""

    def __init__(self, config: EndpointerConfig | None = None) -> None:
        self.config = config or EndpointerConfig()
        self.reset()

    def reset(self, now_s: float | None = None) -> None:
        """Forget any utterance in progress (used when the microphone is gated)."""
        if now_s is not None:
            self._now = now_s
        elif not hasattr(self, "_now"):
            self._now = 0.0
        self._state = _State.IDLE
        self._onset_start = 0.0
        self._speech_start = 0.0
        self._last_speech_end = 0.0
        self._idle_since = self._now

    @property
    def now_s(self) -> float:
        return self._now

    @property
    def last_speech_end_s(self) -> float:
        """Stream time at the end of the latest speech frame of the utterance in progress."""
        return self._last_speech_end

    @property
    def silence_s(self) -> float:
        """Silence so far after the last speech frame of the utterance in progress (0 while speaking)."""
        if self._state is not _State.TRAILING:
            return 0.0
        return round(self._now - self._last_speech_end, 6)  # whole frames, free of float drift

    @property
    def in_utterance(self) -> bool:
        return self._state in (_State.SPEAKING, _State.TRAILING)

    def process(self, is_speech: bool, frame_s: float) -> EndpointEvent | None:
        """Advance by one frame of `frame_s` seconds; return the event it causes, if any."""
        frame_start = self._now
        self._now += frame_s
        cfg = self.config
        state = self._state

        if state is _State.IDLE:
            if is_speech:
                self._state = _State.ONSET
                self._onset_start = frame_start
                return self._maybe_start()
            return self._maybe_timeout()

        if state is _State.ONSET:
            if not is_speech:
                self._state = _State.IDLE
                return self._maybe_timeout()
            return self._maybe_start()

        if is_speech:
            self._last_speech_end = self._now
            if self._now - self._speech_start >= cfg.max_utterance_s:
                return self._end(capped=True)
            if state is _State.TRAILING:
                self._state = _State.SPEAKING
                return EndpointEvent(EventKind.RESUME, self._now, self._speech_start)
            return None

        # Silence while in an utterance.
        if self._now - self._speech_start >= cfg.max_utterance_s:
            return self._end(capped=True)
        if state is _State.SPEAKING:
            self._state = _State.TRAILING
            if self._now - self._last_speech_end >= cfg.hang_s:
                return self._end(capped=False)
            return EndpointEvent(EventKind.PAUSE, self._now, self._speech_start, self._last_speech_end)
        if self._now - self._last_speech_end >= cfg.hang_s - 1e-9:
            return self._end(capped=False)
        return None

    def end_now(self) -> EndpointEvent:
        """End the utterance in progress at its last speech frame: the end-of-turn decider, not the
        hang, said the user has finished."""
        if not self.in_utterance:
            raise RuntimeError("no utterance in progress")
        return self._end(capped=False)

    def _maybe_start(self) -> EndpointEvent | None:
        if self._now - self._onset_start + 1e-9 < self.config.start_s:
            return None
        self._state = _State.SPEAKING
        self._speech_start = self._onset_start
        self._last_speech_end = self._now
        return EndpointEvent(EventKind.START, self._now, self._speech_start)

    def _maybe_timeout(self) -> EndpointEvent | None:
        limit = self.config.no_speech_timeout_s
        if limit is not None and self._now - self._idle_since >= limit:
            self._idle_since = self._now
            return EndpointEvent(EventKind.TIMEOUT, self._now)
        return None

    def _end(self, capped: bool) -> EndpointEvent:
        end = self._now if capped else self._last_speech_end
        event = EndpointEvent(EventKind.END, self._now, self._speech_start, end, capped)
        self._state = _State.IDLE
        self._idle_since = self._now
        return event
