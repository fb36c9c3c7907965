"""The kiosk's side of the voice loop's `Conversation`: only what is addressed to Hark gets a reply.

`begin_turn` asks the session whether the utterance is for Hark (wake phrase or word, follow-up, push-to-talk)
and returns None when it is not, so the loop ignores it. An addressed utterance is answered by the dialogue
manager (with a camera snapshot when the visitor shows something and a camera is configured); a new visitor
hears the persona's greeting first; the wake phrase said on its own is answered with the greeting, or an
acknowledgement when the visitor was already greeted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from dialogue.manager import DialogueManager, DialogueTurn
from hark.conversation import VoiceConversation
from hark.kiosk.session import Decision, Sessions
from hark.wakeword import WakeWordOpener
from voice.events import SpeechEnded, SpeechStarted, VoiceEvent
from voice.loop import Turn
from voice.stt import Transcript

ACKNOWLEDGEMENT = "Yes? How can I help?"


class _Said:
    """Fixed words (the acknowledgement), or nothing at all: no model call, nothing to remember."""

    def __init__(self, text: str) -> None:
        self.text = text

    def pieces(self) -> Iterator[str]:
        if self.text:
            yield self.text

    def cancel(self) -> None:
        pass

    def finish(self, heard: str, interrupted: bool) -> None:
        pass


class SessionTurn:
    """A turn inside a visitor's session.

    It tells the session while it generates (no idle timeout meanwhile), says the greeting first when asked,
    and is committed to the conversation only if its session is still the current one when it is finished.
    """

    def __init__(
        self,
        inner: Turn,
        sessions: Sessions,
        decision: Decision,
        greeting: str | None,
        on_event: Callable[[dict], None],
        turn_id: int,
    ) -> None:
        self.inner = inner
        self.turn_id = turn_id
        self.decision = decision
        self.greeting = greeting
        self._sessions = sessions
        self._on_event = on_event

    def pieces(self) -> Iterator[str]:
        self._sessions.generating(self.decision.session, +1)
        try:
            if self.greeting:
                yield self.greeting + " "
            yield from self.inner.pieces()
        finally:
            self._sessions.generating(self.decision.session, -1)

    def cancel(self) -> None:
        self.inner.cancel()

    def finish(self, heard: str, interrupted: bool) -> None:
        words = heard.split()
        greeted = bool(self.greeting) and len(words) >= len(self.greeting.split())
        rest = " ".join(words[len(self.greeting.split()) :]) if self.greeting else heard
        committed = self._sessions.finish_turn(
            self.decision.session, greeted, lambda: self.inner.finish(rest, interrupted)
        )
        event = {
            "event": "turn",
            "turn_id": self.turn_id,
            "session": self.decision.session,
            "kind": self.kind,
            "via": self.decision.how.value,
            "interrupted": interrupted,
            "committed": committed,
        }
        if isinstance(self.inner, DialogueTurn):
            record = self.inner.record
            event |= {
                "backend": record.backend,
                "model": record.model,
                "fallback": record.fallback,
                "prompt_tokens": record.prompt_tokens,
                "reply_tokens": record.reply_tokens,
            }
            if record.error:
                event["error"] = record.error
            if record.guardrail:
                event["guardrail"] = record.guardrail
        self._on_event(event)

    @property
    def kind(self) -> str:
        if not isinstance(self.inner, DialogueTurn):
            return "greeting" if self.greeting else "acknowledgement"
        if self.inner.record.reprompt:
            return "reprompt"
        return "refusal" if self.inner.record.blocked else "answer"


class KioskConversation:
    """Implements `voice.loop.Conversation` for the kiosk. `snapshot` takes a camera picture (JPEG bytes)."""

    def __init__(
        self,
        sessions: Sessions,
        manager: DialogueManager,
        min_confidence: float = 0.0,
        snapshot: Callable[[], bytes] | None = None,
        on_event: Callable[[dict], None] = lambda _e: None,
        wake_word: WakeWordOpener | None = None,
    ) -> None:
        self.sessions = sessions
        self.wake_word = wake_word
        """With `kiosk.wake_word`: which utterances the wake word model opened."""

        def camera_failed(exc: Exception) -> None:
            on_event({"event": "error", "kind": "camera", "message": str(exc)})

        self.voice = VoiceConversation(manager, min_confidence, snapshot, camera_failed)
        self.on_event = on_event
        self.stopping = False
        """Set when the kiosk is shutting down: utterances still queued get no reply."""

    @property
    def manager(self) -> DialogueManager:
        return self.voice.manager

    def on_loop_event(self, event: VoiceEvent) -> None:
        """The loop's speech start and end keep the sessions' time (an utterance counts from when the
        visitor began speaking, and nobody times out mid-sentence); metrics complete the turn's analytics."""
        if self.wake_word is not None:
            self.wake_word.on_event(event)
        if isinstance(event, SpeechStarted):
            self.sessions.speech_started(event.at_s)
        elif isinstance(event, SpeechEnded):
            self.sessions.speech_ended(event.at_s)
        else:
            self.voice.on_event(event)

    def begin_turn(self, transcript: Transcript, turn_id: int) -> SessionTurn | None:
        if self.stopping:
            return None
        text = transcript.text.strip()
        understood = bool(text) and transcript.confidence >= self.voice.min_confidence
        woken = self.wake_word is not None and self.wake_word.opened(turn_id)
        decision = self.sessions.decide(text, understood, woken)
        if not decision.addressed:
            return None
        greeting = self.manager.persona.greeting if decision.greet else None
        if decision.wake_only:
            inner: Turn = _Said("" if greeting else ACKNOWLEDGEMENT)
        else:
            turn = self.voice.begin_turn(dataclasses.replace(transcript, text=decision.text), turn_id)
            if turn is None:  # a bare "stop": not answered
                return None
            inner = turn
        return SessionTurn(inner, self.sessions, decision, greeting, self.on_event, turn_id)
