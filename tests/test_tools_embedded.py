"""The embedded model (SmolLM2-135M through llama.cpp) calls a tool: its call is decided under a JSON
schema (a llama.cpp grammar), so it is well-formed and valid for the tool."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

from dialogue.backends.base import Cancel
from dialogue.manager import DialogueManager
from dialogue.messages import Message
from dialogue.tools.toolbox import Toolbox

pytestmark = pytest.mark.integration


def test_the_embedded_model_calls_get_time_and_hears_the_time(embedded_backend):
    events = []
    manager = DialogueManager(
        embedded_backend,
        toolbox=Toolbox.with_builtins(None),
        on_tool_event=events.append,
        tools_on_embedded=True,  # [tools] embedded = true
    )
    turn = manager.begin_turn("What time is it?")
    reply = "".join(turn.pieces())
    turn.finish()
    calls = turn.record.tool_calls
    assert calls and calls[0]["name"] == "get_time" and calls[0]["ok"], calls
    assert manager.toolbox.registry.problems("get_time", calls[0]["arguments"]) == []
    assert [e.to_json()["event"] for e in events][:2] == ["tool_call", "tool_result"]
    result = next(m for m in turn.tools.messages if m.role == "tool")
    assert re.search(r"\d\d:\d\d", result.content)  # the model was told the time
    assert reply.strip() and turn.record.error is None
    assert [m.role for m in manager.history] == ["user", "tool", "assistant"]


def test_the_embedded_model_extracts_json_that_fits_the_schema(embedded_backend):
    schema = {
        "type": "object",
        "properties": {"people": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
        "required": ["people"],
        "additionalProperties": False,
    }
    messages = [Message("system", "Give the number of people, or null."), Message("user", "A room for four.")]
    found = embedded_backend.extract(messages, schema, Cancel())
    assert found is not None
    Draft202012Validator(schema).validate(found)


def test_by_default_the_embedded_model_is_offered_no_tools(embedded_backend):
    manager = DialogueManager(embedded_backend, toolbox=Toolbox.with_builtins(None))
    turn = manager.begin_turn("What time is it?")
    "".join(turn.pieces())
    turn.finish()
    assert turn.record.tool_calls == [] and turn.record.error is None
