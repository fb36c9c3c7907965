"""Visitor sessions: who Hark is talking to, and when it is time to forget them.

A session starts when a visitor addresses Hark (the wake phrase, the wake word model, push-to-talk, or any
speech when neither is configured). After each reply a follow-up window (`follow_up_s`) is open in which
no wake phrase is needed; after it the session goes on (the conversation is remembered) but the wake
phrase is needed again. When nobody has addressed Hark and Hark has said nothing for `idle_timeout_s`,
the session ends and `on_event` hears `session_end` — the service clears the conversation there, while
holding the session lock, so no turn of the next visitor can start before the previous visitor is forgotten.

Times are on an injectable clock. An utterance counts from when the visitor *started* speaking (told by
`speech_started`), so a question begun just inside the follow-up window or before the idle timeout is not
lost because it ended outside it. Pure logic: no audio, no threads of its own.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hark.config import KioskSettings
from hark.kiosk.wake import WakeMatch, WakeMatcher, spoken_form

DECIDE_GRACE_S = 3.0
"""After an utterance ends, how long its transcript may take to arrive before the session can time out."""
SPEECH_LIMIT_S = 120.0
"""An utterance whose end never came (the microphone was lost mid-word) stops holding the session then."""


class Phase(enum.Enum):
    IDLE = "idle"
    """No visitor."""
    LISTENING = "listening"
    """A visitor's session with the follow-up window open: no wake phrase needed."""
    WAITING = "waiting"
    """A visitor's session after the follow-up window: the wake phrase is needed again."""


class How(enum.Enum):
    """Why an utterance was taken as meant for Hark (or not)."""

    IGNORED = "ignored"
    WAKE = "wake_phrase"
    WAKE_WORD = "wake_word"
    """The wake word model heard the utterance begin with the wake word (`kiosk.wake_word`)."""
    FOLLOW_UP = "follow_up"
    OPEN = "open"
    """No wake phrase is configured: everything is for Hark."""
    PUSH_TO_TALK = "push_to_talk"


@dataclass(frozen=True)
class Decision:
    how: How
    text: str = ""
    """What to answer: the utterance without its wake phrase."""
    session: int = 0
    greet: bool = False
    """A new visitor: say the greeting before the answer."""
    wake_only: bool = False
    """The visitor only said the wake phrase."""

    @property
    def addressed(self) -> bool:
        return self.how is not How.IGNORED


@dataclass
class _Visit:
    id: int
    started: float
    last_activity: float
    window_until: float
    greeted: bool = False
    turns: int = 0
    generating: int = 0


class Sessions:
    def __init__(
        self,
        config: KioskSettings,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[dict], None] = lambda _e: None,
    ) -> None:
        self._clock = clock
        self._on_event = on_event
        self._lock = threading.RLock()
        self._visit: _Visit | None = None
        self._count = 0
        self._speech_start: float | None = None
        self._speech_end: float | None = None
        """End of the latest utterance; None while it goes on."""
        self.configure(config)

    def configure(self, config: KioskSettings) -> None:
        with self._lock:
            self.config = config
            self._wake = WakeMatcher(config.wake_phrases, config.wake_threshold)
            words = [spoken_form(config.wake_word)] if config.wake_word else []
            self._word = WakeMatcher(words, config.wake_threshold)
            """The wake word as transcribed, to take it out of the request."""

    # ---- what the audio side tells -----------------------------------------------------------------

    def speech_started(self, at: float) -> None:
        """Someone began an utterance at clock time `at` (called from the capture thread)."""
        with self._lock:
            self._speech_start, self._speech_end = at, None

    def speech_ended(self, at: float) -> None:
        with self._lock:
            self._speech_end = at

    # ---- what the conversation asks and tells --------------------------------------------------------

    def decide(self, text: str, understood: bool, woken: bool = False) -> Decision:
        """Whether this utterance is for Hark, starting or continuing a session. `understood` is False for
        an empty or low-confidence transcript: only a visitor inside the follow-up window gets a reprompt.
        `woken`: the wake word model heard the utterance begin with the wake word (then, even when the rest
        was not understood, Hark acknowledges).

        May be called more than once for one utterance (the loop starts replies speculatively), with the
        same outcome: the utterance's start time, not the time of the call, is what is compared.
        """
        with self._lock:
            now = self._clock()
            start = min(now, self._speech_start) if self._speech_start is not None else now
            visit = self._visit
            if visit is not None and start > visit.last_activity + self.config.idle_timeout_s:
                self._end("idle", visit.last_activity + self.config.idle_timeout_s)
                visit = None
            wake = self._wake.match(text) if self._wake and understood else None
            if woken:  # what follows the wake word as transcribed, or all of it
                said = self._word.match(text) if self._word and understood else None
                wake = said or WakeMatch(self.config.wake_word, 1.0, text if understood else "")
            if visit is not None and start <= visit.window_until:
                how = How.FOLLOW_UP
            elif woken:
                how = How.WAKE_WORD
            elif wake is not None:
                how = How.WAKE
            elif understood and not self._wake and not self.config.wake_word:
                how = How.OPEN
            else:
                return Decision(How.IGNORED)
            if visit is None:
                visit = self._start(how, start)
            visit.last_activity = max(visit.last_activity, now)
            greet = self.config.greeting and not visit.greeted
            if wake is None:
                return Decision(how, text, visit.id, greet)
            return Decision(how, wake.rest, visit.id, greet, wake_only=not wake.rest)

    def generating(self, session: int, delta: int) -> None:
        """A reply of `session` started (+1) or stopped (-1) generating: no idle timeout meanwhile."""
        with self._lock:
            visit = self._visit
            if visit is not None and visit.id == session:
                visit.generating += delta
                visit.last_activity = max(visit.last_activity, self._clock())

    def finish_turn(self, session: int, greeted: bool, commit: Callable[[], None]) -> bool:
        """A reply of `session` was heard: `commit` it to the conversation, unless the session is over
        (then the turn is forgotten with its visitor). Opens the follow-up window. True when committed."""
        with self._lock:
            visit = self._visit
            if visit is None or visit.id != session:
                return False
            commit()
            now = self._clock()
            visit.turns += 1
            visit.greeted = visit.greeted or greeted
            visit.last_activity = now
            visit.window_until = now + self.config.follow_up_s
            return True

    def push_to_talk(self) -> Decision:
        """The visitor pressed the button: a session (greeted if new) and an open follow-up window."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            visit = self._visit or self._start(How.PUSH_TO_TALK, now)
            greet = self.config.greeting and not visit.greeted
            visit.greeted = True
            visit.last_activity = now
            visit.window_until = now + self.config.follow_up_s
            return Decision(How.PUSH_TO_TALK, "", visit.id, greet)

    def spoke(self) -> None:
        """Hark finished saying something on its own (the greeting after push-to-talk): listen afresh."""
        with self._lock:
            if self._visit is not None:
                now = self._clock()
                self._visit.last_activity = now
                self._visit.window_until = max(self._visit.window_until, now + self.config.follow_up_s)

    # ---- time passing --------------------------------------------------------------------------------

    def tick(self, busy: bool = False) -> None:
        """End the session if it has been idle too long. `busy`: Hark is speaking (a long reply is not
        idleness). Called periodically; `decide` checks the timeout too, so this only makes it timely."""
        with self._lock:
            if not busy:
                self._expire(self._clock())

    def end(self, reason: str) -> None:
        """End the session now (e.g. the configuration changed)."""
        with self._lock:
            if self._visit is not None:
                self._end(reason, self._clock())

    def _expire(self, now: float) -> None:
        visit = self._visit
        if visit is None or visit.generating > 0:
            return
        deadline = visit.last_activity + self.config.idle_timeout_s
        start, end = self._speech_start, self._speech_end
        in_time = start is not None and start <= deadline and now - start < SPEECH_LIMIT_S
        if in_time and (end is None or now < end + DECIDE_GRACE_S):
            return  # someone began speaking in time: wait for `decide` to tell whether it was to Hark
        if now > deadline:
            self._end("idle", deadline)

    def _start(self, how: How, at: float) -> _Visit:
        self._count += 1
        self._visit = _Visit(self._count, started=at, last_activity=at, window_until=-math.inf)
        self._on_event({"event": "session_start", "session": self._count, "via": how.value})
        return self._visit

    def _end(self, reason: str, at: float) -> None:
        visit = self._visit
        assert visit is not None
        self._visit = None
        duration = round(max(0.0, at - visit.started), 3)
        self._on_event(
            {
                "event": "session_end",
                "session": visit.id,
                "reason": reason,
                "duration_s": duration,
                "turns": visit.turns,
            }
        )

    # ---- what the operator sees ----------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        with self._lock:
            visit = self._visit
            if visit is None:
                return Phase.IDLE
            open_window = self._clock() <= visit.window_until or not (self._wake or self.config.wake_word)
            return Phase.LISTENING if open_window else Phase.WAITING

    def snapshot(self) -> dict:
        with self._lock:
            visit = self._visit
            now = self._clock()
            state: dict = {"phase": self.phase.value, "sessions": self._count}
            if visit is not None:
                state |= {
                    "id": visit.id,
                    "age_s": round(now - visit.started, 1),
                    "turns": visit.turns,
                    "idle_s": round(max(0.0, now - visit.last_activity), 1),
                }
            return state
