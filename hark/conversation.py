"""The bridge from the voice loop to the dialogue manager."""

from __future__ import annotations

from collections.abc import Iterator

from dialogue.manager import DialogueManager, DialogueTurn
from voice.stt import Transcript

REPROMPT = "Sorry, I didn't catch that. Could you say it again?"


class _CannedTurn:
    """A reply that needs no model call (a reprompt after an empty transcript)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def pieces(self) -> Iterator[str]:
        yield self.text

    def finish(self, heard: str, interrupted: bool) -> None:
        pass


class VoiceConversation:
    """Implements `voice.loop.Conversation` on a `DialogueManager`."""

    def __init__(self, manager: DialogueManager, min_confidence: float = 0.0) -> None:
        self.manager = manager
        self.min_confidence = min_confidence

    def begin_turn(self, transcript: Transcript) -> DialogueTurn | _CannedTurn:
        if not transcript.text.strip() or transcript.confidence < self.min_confidence:
            return _CannedTurn(REPROMPT)
        return self.manager.begin_turn(transcript.text)
