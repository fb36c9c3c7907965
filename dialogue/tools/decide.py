"""Decide-then-call for models without a tools API: the model first answers one JSON object, constrained by
a schema (llama.cpp grammar, Ollama `format`), that either names a tool with its arguments or says it will
answer; so a call is always well-formed JSON that matches a tool's parameters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dialogue.backends.base import ToolCallItem
from dialogue.messages import Message

INSTRUCTION = (
    "You can use these tools:\n{tools}\n"
    'To use one, reply only {{"tool": "<name>", "arguments": {{...}}}}. '
    'To answer without a tool, reply only {{"answer": true}}. Use a tool when it knows what you do not '
    "(the time, exact arithmetic) or does what the user asks (notes, timers)."
)


def decision_schema(specs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One branch per tool (its name as a constant, its parameters as the schema of `arguments`), plus
    the branch that answers in words."""
    branches = [
        {
            "type": "object",
            "properties": {
                "tool": {"const": spec["function"]["name"]},
                "arguments": spec["function"]["parameters"],
            },
            "required": ["tool", "arguments"],
            "additionalProperties": False,
        }
        for spec in specs
    ]
    answer = {
        "type": "object",
        "properties": {"answer": {"const": True}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    return {"anyOf": [*branches, answer]}


def decision_messages(messages: Sequence[Message], specs: Sequence[dict[str, Any]]) -> list[Message]:
    """`messages` with the tool list added to the system prompt (tool descriptions come from the
    configuration, never from a tool's results)."""
    tools = "\n".join(f"- {s['function']['name']}: {s['function']['description']}" for s in specs)
    note = INSTRUCTION.format(tools=tools)
    if messages and messages[0].role == "system":
        return [Message("system", f"{messages[0].content}\n\n{note}"), *messages[1:]]
    return [Message("system", note), *messages]


def parse_decision(text: str) -> ToolCallItem | None:
    """The tool call the decision asks for, or None to answer in words (also for text that is not a
    decision: the caller then answers normally)."""
    try:
        decision = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(decision, dict) or not isinstance(decision.get("tool"), str):
        return None
    arguments = decision.get("arguments")
    return ToolCallItem(decision["tool"], arguments if isinstance(arguments, dict) else {})
