"""What the dialogue manager reports about tools while a turn runs (the `--json` lines of every command)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCalled:
    turn_id: int
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"event": "tool_call", "turn_id": self.turn_id, "name": self.name, "arguments": self.arguments}


@dataclass(frozen=True)
class ToolReturned:
    turn_id: int
    name: str
    ok: bool
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "tool_result",
            "turn_id": self.turn_id,
            "name": self.name,
            "ok": self.ok,
            "duration_s": self.duration_s,
        }


ToolEvent = ToolCalled | ToolReturned
