"""Chat messages as the dialogue manager keeps them and the backends send them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    role: str
    """`system`, `user` or `assistant`."""
    content: str
    images: tuple[bytes, ...] = field(default=(), repr=False)
    """Encoded images (JPEG/PNG bytes) that belong to this message only."""
