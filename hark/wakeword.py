"""Answer only utterances that begin with the wake word, heard by a model on the microphone frames.

The detector (`voice.processors.wake`) runs on every frame before the half-duplex gate and the VAD, so it
hears the wake word while Hark speaks too; a detection during a reply stops the reply ("Hey Jarvis — stop").
An utterance is for Hark when a detection falls between `LEAD_S` before its speech start (the wake word was
said while the microphone was gated, or the VAD caught only the words after it) and `WITHIN_S` after it
(the wake word opens the utterance). Each detection opens one utterance only: there is no follow-up window.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict, deque
from collections.abc import Callable

from hark.kiosk.wake import WakeMatcher, spoken_form
from voice.events import SpeechStarted, VoiceEvent
from voice.loop import Conversation, Turn, VoiceLoop
from voice.stt import Transcript

LEAD_S = 1.5
"""A detection this long before the speech start still opens the utterance."""
WITHIN_S = 1.5
"""A detection this long after the speech start opens it (the wake word is at its beginning)."""
KEEP = 32
"""Detections and speech starts remembered (older ones can no longer match a turn)."""


class WakeWordTimes:
    """Wake-word detections on the loop's clock, each used by at most one utterance. Thread-safe."""

    def __init__(self) -> None:
        self._times: deque[float] = deque(maxlen=KEEP)
        self._lock = threading.Lock()

    def add(self, at_s: float) -> None:
        with self._lock:
            self._times.append(at_s)

    def take(self, speech_start_s: float) -> bool:
        """Whether a detection opens an utterance that began at `speech_start_s`; it is used up if so."""
        with self._lock:
            for at_s in self._times:
                if speech_start_s - LEAD_S <= at_s <= speech_start_s + WITHIN_S:
                    self._times = deque((t for t in self._times if t > at_s), maxlen=KEEP)
                    return True
        return False


class WakeWordOpener:
    """Which utterances the wake word opened. Feed it the detector's detections (`on_wake`, capture thread)
    and the loop's events (`on_event`: speech starts date the utterances); `on_detect(name, at_s)` hears
    each detection after it is recorded (to stop a reply under way, to report it)."""

    def __init__(self, on_detect: Callable[[str, float], None] = lambda _n, _t: None) -> None:
        self._times = WakeWordTimes()
        self._starts: OrderedDict[int, float] = OrderedDict()
        self._opened: OrderedDict[int, None] = OrderedDict()
        """Turns the wake word opened: a speculative reply dropped and begun again stays answered."""
        self._lock = threading.Lock()
        self._on_detect = on_detect

    def on_wake(self, name: str, at_s: float) -> None:
        self._times.add(at_s)
        self._on_detect(name, at_s)

    def on_event(self, event: VoiceEvent) -> None:
        if isinstance(event, SpeechStarted):
            with self._lock:
                _remember(self._starts, event.turn_id, event.at_s)

    def opened(self, turn_id: int) -> bool:
        """Whether the wake word opened this turn's utterance (the same answer each time it is asked)."""
        with self._lock:
            start = self._starts.get(turn_id)
            opened = turn_id in self._opened or (start is not None and self._times.take(start))
            if opened:
                _remember(self._opened, turn_id, None)
        return opened


class WakeWordConversation:
    """`talk --wake-word`: a `Conversation` answering only utterances the wake word opened, without the wake
    word itself in the request ("Hey, Jarvis. What time is it?" → "What time is it?")."""

    def __init__(self, inner: Conversation, opener: WakeWordOpener, wake_word: str) -> None:
        self.inner = inner
        self.opener = opener
        self._phrase = WakeMatcher([spoken_form(wake_word)], threshold=0.75)

    def begin_turn(self, transcript: Transcript, turn_id: int) -> Turn | None:
        if not self.opener.opened(turn_id):
            return None
        match = self._phrase.match(transcript.text) if self._phrase else None
        if match is not None and match.rest:
            transcript = dataclasses.replace(transcript, text=match.rest)
        return self.inner.begin_turn(transcript, turn_id)


def wake_handler(loop: Callable[[], VoiceLoop], emit: Callable[[dict], None]) -> Callable[[str, float], None]:
    """Each detection is a `wake_word` event; one said while Hark speaks stops the reply ("Hey Jarvis —
    stop") and is that reply's `barge_in`. Runs on the capture thread: it only flags and reports."""

    def detected(name: str, at_s: float) -> None:
        emit({"event": "wake_word", "name": name, "at_s": round(at_s, 3)})
        current = loop()
        reply = current.current_reply
        if reply is not None and current.player.speaking:
            current.interrupt()
            emit({"event": "barge_in", "turn_id": reply.turn_id, "wake_word": name})

    return detected


def _remember(table: OrderedDict, key: int, value: object) -> None:
    table[key] = value
    while len(table) > KEEP:
        table.popitem(last=False)
