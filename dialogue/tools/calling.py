"""The tool calls of one turn: checked against the tool's schema (one repair round-trip for an invalid
call), guarded, run with a spoken filler when slow, and turned into the messages of the next model round."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogue.backends.base import Cancel, ToolCallItem
from dialogue.guardrails import Guardrails
from dialogue.messages import Message
from dialogue.tools.events import ToolCalled, ToolEvent, ToolReturned
from dialogue.tools.guard import pii_refusal, quote_result
from dialogue.tools.registry import ToolRegistry, ToolResult

FILLER = "One moment. "
FILLER_AFTER_S = 0.7
"""A tool slower than this gets the filler, so the user does not wait in silence."""
POLL_S = 0.05
CONFIRM_WORDS = frozenset(
    "yes yeah yep sure ok okay please do go ahead confirm confirmed correct right absolutely".split()
)
DENY_WORDS = frozenset("no nope don't dont stop cancel not never wait".split())


def is_yes(text: str) -> bool:
    """A clear yes: a yes word and no no word ("yes please" yes; "no, don't" and "yes, but wait" no)."""
    words = {w.strip(".,!?;:'\"").lower() for w in text.split()}
    return bool(words & CONFIRM_WORDS) and not words & DENY_WORDS


def describe_call(name: str, arguments: dict[str, Any]) -> str:
    shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in arguments.items())
    return f"I'll {name.replace('_', ' ')}" + (f" with {shown}" if shown else "")


@dataclass
class TurnTools:
    """One turn's tool calls; `messages` go after the user's message in the next model round."""

    registry: ToolRegistry
    guardrails: Guardrails
    cancel: Cancel
    turn_id: int
    emit: Callable[[ToolEvent], None] = lambda _event: None
    messages: list[Message] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)
    """What the conversation keeps of the calls: one `tool` message per call, with its result."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    """name, arguments, ok, duration_s of each call (for the turn record and analytics)."""
    results: list[ToolResult] = field(default_factory=list)
    repairs: int = 0
    needs_repair: bool = False
    confirmation: ToolCallItem | None = None
    """A call that waits for the user's yes."""
    _filled: bool = False

    def handle(self, calls: Sequence[ToolCallItem], confirmed: bool = False) -> Iterator[str]:
        """Run `calls` (yielding the filler while a slow one runs); afterwards `needs_repair` says whether
        the model should be asked once more with the errors, and `confirmation` whether to ask the user."""
        self.needs_repair = False
        self.messages.append(Message("assistant", "", tool_calls=tuple(_wire(c) for c in calls)))
        for call in calls:
            if self.cancel.is_set():
                return
            result = yield from self._one(call, confirmed)
            if result is None:
                return  # asked for a confirmation: nothing more runs in this turn
            self.messages.append(Message("tool", quote_result(call.name, result.content, self.guardrails)))
            self.history.append(Message("tool", _history_line(call, result)))

    def _one(self, call: ToolCallItem, confirmed: bool) -> Iterator[str]:
        problems = self.registry.problems(call.name, call.arguments)
        tool = self.registry.get(call.name)
        if not problems and tool is not None and tool.confirm and not confirmed:
            self.confirmation = call  # nothing is called (nor reported) before the user's yes
            return None
        self.emit(
            ToolCalled(self.turn_id, call.name, call.arguments if isinstance(call.arguments, dict) else {})
        )
        if problems or tool is None:
            if self.repairs == 0:
                self.repairs, self.needs_repair = 1, True
            return self._failed(call, "invalid call: " + "; ".join(problems) + ". Call it again correctly.")
        refusal = pii_refusal(tool, call.arguments)
        if refusal is not None:
            return self._failed(call, refusal)
        pending = self.registry.start(call.name, call.arguments)
        result = pending.wait(FILLER_AFTER_S)
        if result is None and not self._filled:
            self._filled = True
            yield FILLER
        while result is None:
            if self.cancel.is_set():
                return self._failed(call, "cancelled")
            result = pending.wait(POLL_S)
        return self._done(call, result)

    def _failed(self, call: ToolCallItem, why: str) -> ToolResult:
        return self._done(call, ToolResult(call.name, False, f"error: {why}", 0.0))

    def _done(self, call: ToolCallItem, result: ToolResult) -> ToolResult:
        self.calls.append(
            {"name": call.name, "arguments": call.arguments, "ok": result.ok, "duration_s": result.duration_s}
        )
        self.emit(ToolReturned(self.turn_id, call.name, result.ok, result.duration_s))
        self.results.append(result)
        return result


def _wire(call: ToolCallItem) -> dict[str, Any]:
    """A call as chat APIs carry it in the assistant's message."""
    return {"function": {"name": call.name, "arguments": call.arguments}}


def _history_line(call: ToolCallItem, result: ToolResult) -> str:
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    return f"{call.name}({arguments}) -> {'ok' if result.ok else 'failed'}: {result.content[:300]}"
