"""What happened in one turn: the record the dialogue manager fills and analytics stores."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

STAGES = (
    "endpoint_s",
    "stt_s",
    "llm_first_token_s",
    "llm_s",
    "tts_first_audio_s",
    "eos_to_first_audio_s",
)
"""Latency stages a turn may carry, in pipeline order. The dialogue manager measures the `llm_*` ones; the
voice loop's metrics (via `VoiceConversation.on_event`) add the others."""


@dataclass
class TurnRecord:
    """What happened in one turn, for the caller's metrics and logs."""

    user: str
    reply: str = ""
    generated: str = ""
    interrupted: bool = False
    error: str | None = None
    blocked: bool = False
    """A guardrail refused the turn (the reply is then the polite refusal)."""
    guardrail: str | None = None
    """Which guardrail rule fired, if any."""
    images_seen: bool = False
    """The model itself received the turn's images (False when they were described as text instead)."""
    images: int = 0
    """How many images the user showed."""
    reprompt: bool = False
    """No model call: the speech was not understood and the user was asked to repeat."""
    started_at: float = field(default_factory=time.time)
    backend: str | None = None
    """`ollama` or `embedded`: who answered."""
    model: str | None = None
    fallback: bool = False
    """The first-choice backend failed and the fallback answered."""
    attempts: int = 0
    """How many times the first-choice backend was asked (retries included)."""
    latencies: dict[str, float] = field(default_factory=dict)
    """Seconds per stage (names in `STAGES`)."""
    prompt_tokens: int | None = None
    reply_tokens: int | None = None
    stt_confidence: float | None = None
    conversation_id: int | None = None
    row_id: int | None = None
    """The analytics row, once written."""
    tool_calls: list[dict] = field(default_factory=list)
    """Each tool call of the turn: name, arguments, ok, duration_s."""
    flow: str | None = None
    """The dialogue flow the turn was part of."""
    slots: dict = field(default_factory=dict)
    """The flow's slots after the turn."""
