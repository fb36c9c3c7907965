"""The dialogue manager as `build_manager` wires it, against the Ollama-protocol server over real HTTP:
what the model is sent (persona system prompt, history within the context, images only on their turn, the
summary after many turns), the vision model, and the analytics rows."""

from __future__ import annotations

import argparse
import base64
import io
import json
import sqlite3

import pytest
from fake_ollama import FakeModel, FakeOllama, echo_reply
from PIL import Image

from dialogue.backends.base import GenerationOptions
from dialogue.manager import IMAGES_NOT_SEEN
from dialogue.memory import CHARS_PER_TOKEN, SUMMARY_HEADER, SUMMARY_INSTRUCTIONS, Budget, estimate_tokens
from dialogue.messages import Message
from dialogue.persona import load_persona
from hark.assembly import build_manager
from hark.cli import build_parser
from hark.commands.common import config_from_args
from hark.report import Reporter

NOTES = "NOTES: the user is planning a trip to Lisbon."


def png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "PNG")
    return out.getvalue()


def summarising_reply(messages: list[dict]) -> str:
    if messages[0]["content"].startswith(SUMMARY_INSTRUCTIONS[:20]):
        return NOTES
    return echo_reply(messages)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HARK_HOME", str(tmp_path))
    return tmp_path


def manager_for(fake, *flags: str, environ: dict | None = None, describer=None):
    args = build_parser().parse_args(["chat", "--ollama-host", fake.url, *flags])
    err = io.StringIO()
    config = config_from_args(args, environ or {})
    manager = build_manager(config, Reporter(out=io.StringIO(), err=err), image_describer=describer)
    return manager, err.getvalue()


def turns(fake) -> list[dict]:
    """The chat requests that were turns (not summary requests, not a prompt read ahead after a summary)."""
    return [
        c
        for c in fake.chats()
        if not c["messages"][0]["content"].startswith(SUMMARY_INSTRUCTIONS[:20])
        and c["messages"][-1]["role"] == "user"
    ]


def test_the_persona_system_prompt_leads_every_request(fake_ollama, home):
    manager, _ = manager_for(fake_ollama, "--persona", "concierge")
    manager.reply("Where is the cloakroom?")
    manager.reply("And the cafe?")
    concierge = load_persona("concierge")
    for body in fake_ollama.chats():
        assert body["messages"][0] == {"role": "system", "content": concierge.system_prompt}
        assert (
            body["options"]["num_ctx"] == 8192
            and body["options"]["num_predict"] == GenerationOptions().max_tokens
        )
    assert [m["role"] for m in fake_ollama.chats()[-1]["messages"]] == ["system", "user", "assistant", "user"]
    manager.close()


def test_history_fits_a_small_context_and_a_summary_takes_over(home):
    fake = FakeOllama(
        [FakeModel("gemma3:4b", ["completion"], context_length=1200)], summarising_reply
    ).start()
    try:
        manager, _ = manager_for(fake)
        for i in range(16):
            manager.reply(f"Day {i} of my trip: I would like ideas. " + "Tell me more please. " * 12)
            assert manager.memory.wait(10)
        manager.close()
    finally:
        fake.stop()
    sent = turns(fake)
    assert len(sent) == 16
    budget = Budget(1200, 200)
    for body in sent:
        assert body["options"]["num_ctx"] == 1200  # the context learned from /api/show, asked for
        messages = [Message(m["role"], m["content"]) for m in body["messages"]]
        assert sum(estimate_tokens(m) for m in messages) <= budget.prompt
        assert sum(len(m.content) for m in messages) <= 1200 * CHARS_PER_TOKEN
        assert [m.role for m in messages[1:]][::2] == ["user"] * ((len(messages) - 1 + 1) // 2)
    last = sent[-1]["messages"]
    assert last[-1]["content"].startswith("Day 15 of my trip")
    assert not any(m["content"].startswith("Day 0 ") for m in last)
    assert last[0]["content"].endswith(f"{SUMMARY_HEADER}\n{NOTES}")
    summaries = [c for c in fake.chats() if c["messages"][0]["content"].startswith(SUMMARY_INSTRUCTIONS[:20])]
    assert summaries and "Day 0 of my trip" in summaries[0]["messages"][1]["content"]
    read_ahead = [c for c in fake.chats() if c not in sent and c not in summaries]
    assert read_ahead and all(c["options"]["num_predict"] == 1 for c in read_ahead)
    assert read_ahead[-1]["messages"] == last[:-1]  # the last turn began with what was read ahead
    assert summaries[0]["options"]["num_predict"] == 160  # the summary's own budget


def test_images_go_with_their_turn_only(fake_ollama, home):
    manager, _ = manager_for(fake_ollama)
    image = png()
    manager.reply("What colour is this?", [image])
    manager.reply("And what did I just show you?")
    first, second = fake_ollama.chats()
    assert [base64.b64decode(i) for i in first["messages"][-1]["images"]] == [image]
    assert all("images" not in m for m in first["messages"][:-1])
    assert all("images" not in m for m in second["messages"])
    assert second["messages"][1]["content"] == "What colour is this? [1 image(s) shown]"
    assert manager.last_record.images == 0 and manager.history[0].content.endswith("[1 image(s) shown]")
    manager.close()


def test_a_model_that_cannot_see_hands_images_to_the_vision_model(fake_ollama, home):
    fake_ollama.models[:] = [FakeModel("smol:1b"), FakeModel("llava:7b", ["completion", "vision"])]
    manager, notes = manager_for(fake_ollama, "--model", "smol:1b", "--vision-model", "llava:7b")
    assert "images go to Ollama model llava:7b" in notes
    manager.reply("What is in this picture?", [png("blue")])
    record = manager.last_record
    manager.reply("Thanks, and what is two plus two?")
    image_turn, text_turn = fake_ollama.chats()
    assert image_turn["model"] == "llava:7b" and image_turn["messages"][-1]["images"]
    assert text_turn["model"] == "smol:1b"
    assert record.model == "llava:7b" and record.images_seen and record.images == 1
    manager.close()


def test_no_vision_model_pulled_means_local_facts_and_an_honest_answer(fake_ollama, home):
    fake_ollama.models[:] = [FakeModel("smol:1b")]
    describe = lambda data: f"{len(data)} bytes; text read by OCR: 'EXIT'"  # noqa: E731
    manager, notes = manager_for(
        fake_ollama, "--model", "smol:1b", "--vision-model", "llava:7b", describer=describe
    )
    assert "ollama pull llava:7b" in notes
    image = png()
    reply = manager.reply("What does the sign say?", [image])
    assert reply.startswith(f"{IMAGES_NOT_SEEN} You said: What does the sign say?")  # Hark says it plainly
    sent = fake_ollama.chats()[0]["messages"][-1]
    assert "images" not in sent
    assert "cannot see images" in sent["content"] and "'EXIT'" in sent["content"]
    assert not manager.last_record.images_seen
    assert manager.history[0].content == (
        f"What does the sign say? [1 image(s) shown; found on this computer: {len(image)} bytes; "
        "text read by OCR: 'EXIT']"
    )
    manager.close()


def test_every_turn_lands_in_analytics_with_its_outcome(fake_ollama, home):
    manager, _ = manager_for(fake_ollama, environ={"HARK_GUARDRAILS_BLOCKED_TOPICS": "casino"})
    manager.reply("Hello there, my email is ana@example.org")
    manager.reply("Which casino is best?")
    fake_ollama.replier = lambda messages: messages[0]["content"]  # a model that leaks its instructions
    leaked = manager.reply("Who are you?")
    manager.close()
    assert "voice assistant running privately" not in leaked
    conn = sqlite3.connect(home / "analytics.db")
    conn.row_factory = sqlite3.Row
    hello, casino, leak = [dict(r) for r in conn.execute("SELECT * FROM turns ORDER BY id")]
    assert hello["user"] == "Hello there, my email is [email]" and "[email]" in hello["reply"]
    assert (hello["model"], hello["backend"], hello["prompt_tokens"]) == ("gemma3:4b", "ollama", 10)
    assert hello["reply_tokens"] == len(hello["reply"].split(" ")) and hello["attempts"] == 1
    assert set(json.loads(hello["latencies"])) == {"llm_first_token_s", "llm_s"}
    assert casino["blocked"] == 1 and casino["guardrail"] == "topic:casino" and casino["model"] is None
    assert leak["blocked"] == 1 and leak["guardrail"] == "output:system_prompt_leak"
    assert len(fake_ollama.chats()) == 2  # the blocked question never reached the model


def test_a_command_without_conversation_flags_gets_the_defaults(fake_ollama, home):
    args = argparse.Namespace(**{"setting__llm__ollama_host": fake_ollama.url})
    manager = build_manager(config_from_args(args, {}), Reporter(out=io.StringIO(), err=io.StringIO()))
    assert manager.persona.name == "Hark" and manager.store is not None and manager.memory.config.summarise
    assert manager.reply("hi") == "You said: hi. That is all I know."
    manager.close()
