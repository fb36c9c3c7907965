"""Running flows: which flow a turn starts, what it fills, what to ask next, confirm, act, or leave.

Slots are filled from free speech in two ways: the typed slot parsers find values in their usual phrases
("a room for four tomorrow at ten" fills people, day and time), and the model extracts the rest as JSON
under a schema (constrained decoding on the embedded model, `format` on Ollama). A value the model gives
is kept only when the user's words contain it: a small model must not invent a booking detail. A turn
that fills nothing in an active flow is a digression, answered by the model, after which the missing slot
is asked again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogue.backends.base import ToolCallItem
from dialogue.flows.spec import Flow, Slot
from dialogue.flows.values import NUMBER_WORDS, SlotValueError, check, find
from dialogue.messages import Message

Extract = Callable[[Sequence[Message], dict], "dict | None"]
"""Asks the model for a JSON object under a schema (messages, schema) → the object or None."""
JSON_TYPES = {"integer": "integer", "number": "number", "yes_no": "boolean"}
EXTRACT = (
    "From the user's words, give the value of each of these, or null when the user did not say it: {slots}."
)

STATE_MARK = "[flow "
CANCEL = re.compile(r"\b(cancel|never ?mind|forget it|stop)\b", re.IGNORECASE)
CANCELLED = "All right, I've cancelled that."
NOT_DONE = "All right, I won't. What should I change?"
STOPWORDS = frozenset(
    "a an the i to for me my please want would like need can you could some of on in at is it we".split()
)
TRIGGER_SCORE = 0.6
"""Share of an example's words the utterance must contain to start its flow."""


@dataclass
class FlowState:
    """Where a flow stands: part of the conversation (a line in its history, so it survives --resume)."""

    flow: str
    slots: dict[str, Any] = field(default_factory=dict)
    confirming: bool = False

    def line(self) -> str:
        return f"{STATE_MARK}{self.flow}] " + json.dumps({"slots": self.slots, "confirming": self.confirming})

    @staticmethod
    def ended_line(flow: str, how: str) -> str:
        return f"{STATE_MARK}{flow}] {how}"

    @classmethod
    def from_line(cls, text: str) -> FlowState | None:
        """The state a history line records; None for a line that ends a flow (or is no flow line)."""
        if not text.startswith(STATE_MARK):
            return None
        name, _, rest = text[len(STATE_MARK) :].partition("] ")
        try:
            data = json.loads(rest)
        except json.JSONDecodeError:
            return None
        return cls(name, dict(data.get("slots", {})), bool(data.get("confirming")))


@dataclass
class FlowStep:
    """What one turn of a flow does: say `say`, after the model's answer when `digress`, after running
    `call` when set (`say` then has `{result}`); `state` is the flow afterwards (None: it is over)."""

    flow: str
    say: str
    state: FlowState | None
    digress: bool = False
    call: ToolCallItem | None = None


def _said(value: object, text: str) -> bool:
    """Whether the user's words hold `value` (a number as digits or a word, text as it was said)."""
    words = text.lower()
    if isinstance(value, bool):
        return False  # a yes or no is the parsers' to find
    if isinstance(value, (int, float)):
        names = {str(int(value)) if float(value).is_integer() else str(value)}
        names |= {w for w, n in NUMBER_WORDS.items() if n == value}
        return any(re.search(rf"\b{re.escape(name)}\b", words) for name in names)
    return bool(str(value).strip()) and str(value).strip().lower() in words


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower())) - STOPWORDS


class FlowEngine:
    def __init__(self, flows: list[Flow]) -> None:
        self.flows = {flow.name: flow for flow in flows}
        self._extract: Extract | None = None

    @property
    def actions(self) -> frozenset[str]:
        """The tools that are flows' actions: they run only when the user confirmed a flow, so they are
        not offered to the model on its own (a small model once called one to answer a digression)."""
        return frozenset(flow.tool for flow in self.flows.values())

    def triggered(self, text: str) -> Flow | None:
        said = _words(text)
        best, score = None, 0.0
        for flow in self.flows.values():
            for example in flow.examples:
                wanted = _words(example)
                share = len(wanted & said) / len(wanted) if wanted else 0.0
                if share > score:
                    best, score = flow, share
        return best if score >= TRIGGER_SCORE else None

    def step(self, state: FlowState | None, text: str, extract: Extract | None = None) -> FlowStep | None:
        """The flow's part in this turn; None when the turn is not part of a flow. `extract` lets the
        model fill what the parsers did not find."""
        self._extract = extract
        flow = self.flows.get(state.flow) if state is not None else None
        if flow is None or state is None:
            flow = self.triggered(text)
            if flow is None:
                return None
            state = FlowState(flow.name)
            return self._next(flow, state, self._fill(flow, state, text, asked=None)[1])
        if CANCEL.search(text):
            return FlowStep(flow.name, CANCELLED, None)
        if state.confirming:
            answer = find("yes_no", text, asked=True)
            if answer is True:
                arguments = dict(state.slots)
                return FlowStep(flow.name, flow.done, None, call=ToolCallItem(flow.tool, arguments))
            state.confirming = False
            if answer is False:
                return FlowStep(flow.name, NOT_DONE, state)
        asked = next((s for s in flow.slots if s.name not in state.slots), None)
        filled, problems = self._fill(flow, state, text, asked)
        if not filled and not problems:
            step = self._next(flow, state, [])
            step.digress = True
            return step
        return self._next(flow, state, problems)

    def _fill(
        self, flow: Flow, state: FlowState, text: str, asked: Slot | None
    ) -> tuple[list[str], list[str]]:
        """Fill what `text` gives; the names filled, and what was wrong with values that did not fit."""
        filled, problems = [], []
        for slot in flow.slots:
            is_asked = asked is not None and slot.name == asked.name
            raw = text if slot.type == "choice" and is_asked else find(slot.type, text, asked=is_asked)
            if raw is None:
                continue
            try:
                state.slots[slot.name] = check(slot.type, raw, slot.min, slot.max, slot.choices)
                filled.append(slot.name)
            except SlotValueError as exc:
                problems.append(f"Sorry, {exc}.")
        missing = [s for s in flow.slots if s.name not in state.slots and s.name not in filled]
        if missing and self._extract is not None:
            filled += self._extracted(missing, state, text)
        return filled, problems

    def _extracted(self, slots: list[Slot], state: FlowState, text: str) -> list[str]:
        """The slots the model finds in `text`, each kept only if `text` holds its value and it fits."""
        assert self._extract is not None
        schema = {
            "type": "object",
            "properties": {
                s.name: {"anyOf": [{"type": JSON_TYPES.get(s.type, "string")}, {"type": "null"}]}
                for s in slots
            },
            "required": [s.name for s in slots],
            "additionalProperties": False,
        }
        wanted = ", ".join(f"{s.name} ({s.type})" for s in slots)
        found = (
            self._extract([Message("system", EXTRACT.format(slots=wanted)), Message("user", text)], schema)
            or {}
        )
        filled = []
        for slot in slots:
            value = found.get(slot.name)
            if value is None or not _said(value, text):
                continue
            try:
                state.slots[slot.name] = check(slot.type, value, slot.min, slot.max, slot.choices)
                filled.append(slot.name)
            except SlotValueError:
                continue
        return filled

    def _next(self, flow: Flow, state: FlowState, problems: list[str]) -> FlowStep:
        missing = next((s for s in flow.slots if s.name not in state.slots), None)
        if missing is not None:
            return FlowStep(flow.name, " ".join([*problems, missing.prompt]), state)
        state.confirming = True
        return FlowStep(flow.name, " ".join([*problems, flow.confirm.format(**state.slots)]), state)
