"""Tool calls over Ollama's protocol (the fake server over real HTTP, the real `ollama` client): the tools
API for models that have it, no tools for models that do not, and the `--json` tool events of `hark ask`."""

from __future__ import annotations

import io
import json
import re

import pytest

from hark.cli import main
from tests.fake_ollama import FakeModel, FakeOllama

HH_MM = re.compile(r"\d\d:\d\d")
TIME_CALL = [{"function": {"name": "get_time", "arguments": {}}}]


def calls_time_once(messages: list[dict], tools: list[dict]) -> list[dict]:
    """A tools model that asks for the time when the user does (and has not been told it yet)."""
    asked = "time" in messages[-1]["content"] and messages[-1]["role"] == "user"
    return TIME_CALL if asked and any(t["function"]["name"] == "get_time" for t in tools) else []


def reads_the_result(messages: list[dict]) -> str:
    told = [m["content"] for m in messages if m["role"] == "tool"]
    return f"It is {HH_MM.search(told[-1]).group()} now." if told else "I do not know."


@pytest.fixture
def server(monkeypatch, tmp_path):
    monkeypatch.setenv("HARK_HOME", str(tmp_path))
    fake = FakeOllama(
        [FakeModel("qwen3:4b", ["completion", "tools"]), FakeModel("plain:1b", ["completion"])],
        replier=reads_the_result,
        tool_caller=calls_time_once,
    ).start()
    yield fake
    fake.stop()


def ask(capsys, server: FakeOllama, model: str, question: str) -> tuple[int, list[dict]]:
    code = main(["ask", "--json", "--llm", "ollama", "--ollama-host", server.url, "--model", model, question])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_tools_model_calls_get_time_through_the_tools_api_in_one_extra_round_trip(server, capsys):
    code, events = ask(capsys, server, "qwen3:4b", "What time is it?")
    assert code == 0
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["tool_call", "tool_result"]
    assert events[0] == {"event": "tool_call", "turn_id": 1, "name": "get_time", "arguments": {}}
    assert events[1]["ok"] is True and events[1]["duration_s"] >= 0
    reply = next(e for e in events if e["event"] == "reply")
    assert re.fullmatch(r"It is \d\d:\d\d now\.", reply["text"])
    first, second = server.chats()
    assert [t["function"]["name"] for t in first["tools"]] == [
        "get_time",
        "calculate",
        "add_note",
        "read_notes",
        "set_timer",
    ]
    assert "tools" not in second or not second["tools"]  # the answer round offers no tools
    roles = [m["role"] for m in second["messages"]]
    assert roles[-2:] == ["assistant", "tool"] and second["messages"][-2]["tool_calls"] == TIME_CALL
    assert all(m["role"] != "system" or "get_time" not in m["content"] for m in second["messages"])


def test_a_plain_question_costs_one_round_trip(server, capsys):
    code, events = ask(capsys, server, "qwen3:4b", "Hello there")
    assert code == 0 and not [e for e in events if e["event"].startswith("tool")]
    assert len(server.chats()) == 1


def test_a_model_without_the_tools_api_answers_without_tools_in_one_round_trip(server, capsys):
    code, events = ask(capsys, server, "plain:1b", "What time is it?")
    assert code == 0 and not [e for e in events if e["event"].startswith("tool")]
    (only,) = server.chats()
    assert not only.get("tools")


def test_chat_json_has_the_tool_events_and_the_reply(server, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("What time is it?\n"))
    code = main(["chat", "--json", "--llm", "ollama", "--ollama-host", server.url, "--model", "qwen3:4b"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [e["event"] for e in events] == ["announcement", "tool_call", "tool_result", "reply"]
    assert events[1]["turn_id"] == events[3]["turn_id"] == 1
    assert HH_MM.search(events[3]["text"])
