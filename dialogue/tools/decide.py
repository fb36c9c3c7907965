"""Decide-then-call for a model without a tools API (the embedded model): two short answers, each
constrained by a JSON schema (llama.cpp turns it into a grammar), so a call is always well-formed.

First `{"tool": <one of the names, or "none">}`, then, for a tool that takes arguments, the arguments
object under the tool's own parameter schema. Two small grammars instead of one that covers every tool:
grammar-constrained sampling costs time per generated token, and the short choice comes first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dialogue.messages import Message

NONE = "none"
CHOOSE = (
    "You can use these tools:\n{tools}\n"
    'Reply only {{"tool": "<name>"}} to use one, or {{"tool": "none"}} to answer in words. Use a tool only '
    "when the user asks for what it does."
)
FILL = "Now give the arguments for {name} ({description}) as a JSON object, e.g. {example}."


def choice_schema(specs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    names = [spec["function"]["name"] for spec in specs]
    return {
        "type": "object",
        "properties": {"tool": {"enum": [*names, NONE]}},
        "required": ["tool"],
        "additionalProperties": False,
    }


def _with_note(messages: Sequence[Message], note: str) -> list[Message]:
    """`messages` with `note` after the user's last words, where a small model heeds it most (the tool
    list comes from the configuration, never from a tool's results)."""
    *before, last = messages
    return [*before, Message(last.role, f"{last.content}\n\n({note})")]


def choice_messages(messages: Sequence[Message], specs: Sequence[dict[str, Any]]) -> list[Message]:
    tools = "\n".join(f"- {s['function']['name']}: {s['function']['description']}" for s in specs)
    return _with_note(messages, CHOOSE.format(tools=tools))


def arguments_messages(messages: Sequence[Message], spec: dict[str, Any]) -> list[Message]:
    function = spec["function"]
    example = {key: f"<{key}>" for key in function["parameters"].get("properties", {})}
    note = FILL.format(
        name=function["name"], description=function["description"], example=json.dumps(example)
    )
    return _with_note(messages, note)


def chosen(text: str, specs: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The spec of the tool the choice names; None for "none" or text that is not a choice."""
    try:
        name = json.loads(text).get("tool")
    except (json.JSONDecodeError, AttributeError):
        return None
    return next((s for s in specs if s["function"]["name"] == name), None)


def takes_arguments(spec: dict[str, Any]) -> bool:
    return bool(spec["function"]["parameters"].get("properties"))


def parse_arguments(text: str) -> Any:
    """The arguments object; text that is not JSON is returned as it is, for validation to reject."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
