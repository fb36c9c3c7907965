"""What the voice loop tells the rest of Hark, as typed events.

Every event carries the `turn_id` of the utterance (or `say()`) it belongs to: ids increase, one per
utterance, so per-turn latencies reach analytics by id rather than by "the last record". `to_json()` gives
the `--json` line; its keys are only ever added to, never renamed.

Events are created on the thread named in each docstring and delivered to `on_event`, in order, on the
loop's event thread (never on the capture thread, so a callback may write to disk). Within a turn the final
transcript comes before `ReplyStarted`, that before the `Reply`, and the `Reply` before its `Metrics`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

STAGES: tuple[str, ...] = (
    "eos_to_first_audio_s",
    "endpoint_s",
    "stt_s",
    "llm_first_token_s",
    "tts_first_audio_s",
)
"""The latency stages of one turn, as `Metrics` field names (seconds)."""


@dataclass(frozen=True)
class VoiceEvent:
    turn_id: int
    event: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        """The `--json` line: `event`, `turn_id`, then the fields."""
        return {"event": self.event, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class SpeechStarted(VoiceEvent):
    """The endpointer heard speech begin (capture thread). Stream time includes no pre-roll."""

    event: ClassVar[str] = "speech_started"
    stream_s: float
    at_s: float
    """When the speech began on the loop's clock (monotonic seconds), for callers that keep time."""


@dataclass(frozen=True)
class SpeechEnded(VoiceEvent):
    """The utterance has ended (capture thread): the hang time is over, or it was cut off (the microphone
    gated while Hark speaks, the source ended). Every `SpeechStarted` gets one."""

    event: ClassVar[str] = "speech_ended"
    stream_s: float
    """Stream time of the last speech frame (not of the end of the hang)."""
    speech_start_s: float
    at_s: float
    """When the last speech frame was captured, on the loop's clock."""
    reason: str = ""
    """Why it ended: the end-of-turn decider's reason ("model 0.91", "max wait"), "hang", "cut off"
    (microphone gated or source ended mid-speech), "source ended" (in a pause)."""


@dataclass(frozen=True)
class Transcript(VoiceEvent):
    """A partial transcript (STT thread) or the final one (reply thread, once the utterance ended)."""

    event: ClassVar[str] = "transcript"
    final: bool
    text: str
    confidence: float | None = None
    committed: str | None = None
    """Partials: the words LocalAgreement has made stable."""
    ignored: bool = False
    """Finals: the conversation declined the utterance (no wake phrase)."""

    def to_json(self) -> dict[str, Any]:
        line = {"event": self.event, "turn_id": self.turn_id, "final": self.final, "text": self.text}
        if self.final and not self.ignored:
            line["confidence"] = self.confidence
        if not self.final:
            line["committed"] = self.committed
        if self.ignored:
            line["ignored"] = True
        return line


@dataclass(frozen=True)
class ReplyStarted(VoiceEvent):
    """The reply's first audio goes to the player (reply thread)."""

    event: ClassVar[str] = "reply_started"


@dataclass(frozen=True)
class Reply(VoiceEvent):
    """The reply is over: what the user heard of it (reply thread)."""

    event: ClassVar[str] = "reply"
    text: str
    interrupted: bool


@dataclass(frozen=True)
class Announcement(VoiceEvent):
    """A `say()` was spoken (reply thread); `text` is what was heard of it."""

    event: ClassVar[str] = "announcement"
    text: str
    interrupted: bool


@dataclass(frozen=True)
class Metrics(VoiceEvent):
    """Latencies of one turn, in seconds (reply thread, after its `Reply`). Names are in `STAGES`."""

    event: ClassVar[str] = "metrics"
    eos_to_first_audio_s: float | None
    endpoint_s: float | None
    stt_s: float | None
    llm_first_token_s: float | None
    tts_first_audio_s: float | None
    speculative: bool
    """The reply began before the hang was over."""
    utterance_s: float
    erle_db: float | None = None
    """Echo return loss enhancement of the echo canceller over recent speaker audio; None when it is off."""

    def latencies(self) -> dict[str, float]:
        """The measured stages (those that happened), by `STAGES` name."""
        values = {stage: getattr(self, stage) for stage in STAGES}
        return {stage: value for stage, value in values.items() if value is not None}


@dataclass(frozen=True)
class BargeIn(VoiceEvent):
    """The user spoke over a reply long enough to stop it (capture thread). `turn_id`: the reply's turn."""

    event: ClassVar[str] = "barge_in"
    speech_s: float


@dataclass(frozen=True)
class EchoSuspected(VoiceEvent):
    """Speech heard over a reply turned out to have no words Whisper is sure of (capture thread): most likely
    Hark's own echo, which the canceller let through. `turn_id`: the utterance's; `barged_in`: whether it
    paused the reply."""

    event: ClassVar[str] = "echo_suspected"
    text: str
    confidence: float
    barged_in: bool


@dataclass(frozen=True)
class Error(VoiceEvent):
    """A turn failed, or the audio output did (reply thread). The loop goes on."""

    event: ClassVar[str] = "error"
    kind: str
    """`audio_output`, or the exception's class name."""
    message: str


@dataclass(frozen=True)
class NoSpeechTimeout(VoiceEvent):
    """Nobody spoke for the endpointer's `no_speech_timeout_s` (capture thread). `turn_id`: the last one."""

    event: ClassVar[str] = "no_speech_timeout"
