"""Running flows: which flow a turn starts, what it fills, what to ask next, confirm, act, or leave.

A step is decided from the words alone (no model call): the typed slot parsers find values in free speech
("a room for four tomorrow at ten" fills people, day and time); a turn that fills nothing in an active
flow is a digression, answered by the model, after which the missing slot is asked again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from dialogue.backends.base import ToolCallItem
from dialogue.flows.spec import Flow, Slot
from dialogue.flows.values import SlotValueError, check, find

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


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower())) - STOPWORDS


class FlowEngine:
    def __init__(self, flows: list[Flow]) -> None:
        self.flows = {flow.name: flow for flow in flows}

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

    def step(self, state: FlowState | None, text: str) -> FlowStep | None:
        """The flow's part in this turn; None when the turn is not part of a flow."""
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
        return filled, problems

    def _next(self, flow: Flow, state: FlowState, problems: list[str]) -> FlowStep:
        missing = next((s for s in flow.slots if s.name not in state.slots), None)
        if missing is not None:
            return FlowStep(flow.name, " ".join([*problems, missing.prompt]), state)
        state.confirming = True
        return FlowStep(flow.name, " ".join([*problems, flow.confirm.format(**state.slots)]), state)
