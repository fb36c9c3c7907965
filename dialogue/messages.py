"""Chat messages as the dialogue manager keeps them and the backends send them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    role: str
    """`system`, `user`, `assistant`, or `tool` (a tool's result, quoted as data)."""
    content: str
    images: tuple[bytes, ...] = field(default=(), repr=False)
    """Encoded images (JPEG/PNG bytes) that belong to this message only."""
    tool_calls: tuple[dict, ...] = ()
    """An assistant message's calls, as chat APIs carry them: `{"function": {"name", "arguments"}}`."""


MESSAGE_OVERHEAD_TOKENS = 5
"""Tokens a chat template adds around each message (ChatML: `<|im_start|>role\\n ... <|im_end|>\\n`), used
both by the estimate that budgets a prompt and by the embedded model's exact count."""
