"""The bridge from the voice loop to the dialogue manager."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from dialogue.manager import DialogueManager, DialogueTurn
from vision.errors import CameraError
from vision.intent import refers_to_camera
from voice.events import Metrics, Reply, VoiceEvent
from voice.stt import Transcript
from voice.turn.text import BargeIn, barge_in_kind

PENDING_TURNS = 16
"""Turns whose latencies may still arrive; older ones (dropped speculative replies) are forgotten."""


class VoiceConversation:
    """Implements `voice.loop.Conversation` on a `DialogueManager`.

    Speech that came out empty or below `min_confidence` gets the persona's reprompt instead of a model call
    (recorded in analytics as a reprompt). A bare stop request ("stop", "be quiet", "hold on") is not
    answered unless a flow or a tool call waits on an answer: whoever says it wants quiet (SmolLM2 answered
    "Stop." with a paragraph about being a voice assistant). When one does wait, a stop request is passed on
    however unsure Whisper is of it: it scores single words low (a clear "Cancel." at 0.35).

    Give `on_event` the voice loop's events too, so that each turn's analytics row gets the loop's stage
    latencies (endpointing, STT, TTS, end of speech to first audio), matched by turn id; `to_json` gives an
    event's `--json` line, a reply's with the `sources` its answer came from.
    """

    def __init__(
        self,
        manager: DialogueManager,
        min_confidence: float = 0.0,
        snapshot: Callable[[], bytes] | None = None,
        on_camera_error: Callable[[CameraError], None] = lambda _exc: None,
    ) -> None:
        self.manager = manager
        self.min_confidence = min_confidence
        self.snapshot = snapshot
        """Takes a camera picture (JPEG bytes) for questions about what the user shows ("what is this?")."""
        self.on_camera_error = on_camera_error
        self._turns: OrderedDict[int, DialogueTurn] = OrderedDict()

    def begin_turn(self, transcript: Transcript, turn_id: int) -> DialogueTurn | None:
        stop = barge_in_kind(transcript.text) is BargeIn.STOP
        if stop and not self.manager.awaiting_answer:
            return None
        if not transcript.text.strip() or (transcript.confidence < self.min_confidence and not stop):
            turn = self.manager.reprompt(transcript.text, transcript.confidence)
        else:
            turn = self.manager.begin_turn(transcript.text, self._look(transcript.text))
            turn.turn_id = turn_id  # tool events carry the loop's turn number
            turn.record.stt_confidence = transcript.confidence
        self._turns[turn_id] = turn
        while len(self._turns) > PENDING_TURNS:
            self._turns.popitem(last=False)
        return turn

    def _look(self, text: str) -> list[bytes]:
        """A fresh camera frame when the question is about what the user shows; the turn goes on without
        one (and the error is reported) when the camera fails."""
        if self.snapshot is None or not refers_to_camera(text):
            return []
        try:
            return [self.snapshot()]
        except CameraError as exc:
            self.on_camera_error(exc)
            return []

    def on_event(self, event: VoiceEvent) -> None:
        """A loop event; `metrics` (sent right after a turn is finished) completes that turn's latencies."""
        if isinstance(event, Metrics) and (turn := self._turns.pop(event.turn_id, None)) is not None:
            self.manager.add_latencies(turn.record, event.latencies())

    def to_json(self, event: VoiceEvent) -> dict:
        """The event's `--json` line; a reply's also names its sources (`[{"title", "path", "chunk"}]`)
        when its answer came from a knowledge base (the key is absent otherwise)."""
        line = event.to_json()
        if isinstance(event, Reply) and (turn := self._turns.get(event.turn_id)) is not None and turn.sources:
            line["sources"] = turn.sources
        return line
