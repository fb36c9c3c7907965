"""Personal memory: recognising memory requests by rules, the real SQLite fact store, the PII
guardrail, `hark memory`, and memory that outlives the process (three processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dialogue.usermemory import (
    FactStore,
    Kind,
    PersonalMemory,
    is_personal,
    noticed,
    recognise,
    second_person,
)
from hark.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("said", "kind", "fact"),
    [
        ("Remember that I'm vegetarian", Kind.REMEMBER, "I'm vegetarian"),
        ("remember I'm vegetarian.", Kind.REMEMBER, "I'm vegetarian"),
        ("Hey Hark, please remember that my sister is called Ana!", Kind.REMEMBER, "My sister is called Ana"),
        ("Can you remember that I take my coffee black?", Kind.REMEMBER, "I take my coffee black"),
        ("I want you to remember: I am allergic to peanuts", Kind.REMEMBER, "I am allergic to peanuts"),
        ("Don't forget that I work nights", Kind.REMEMBER, "I work nights"),
        ("Keep in mind that I'm hard of hearing", Kind.REMEMBER, "I'm hard of hearing"),
        ("make a note that my car is blue", Kind.REMEMBER, "My car is blue"),
        ("I'd like you to remember that I'm vegan", Kind.REMEMBER, "I'm vegan"),
        ("remember my name is Sam", Kind.REMEMBER, "My name is Sam"),
        ("What do you know about me?", Kind.RECALL, ""),
        ("what do you remember about me", Kind.RECALL, ""),
        ("Tell me what you know about me.", Kind.RECALL, ""),
        ("What have you got stored about me?", Kind.RECALL, ""),
        ("What did I tell you?", Kind.RECALL, ""),
        ("Do you remember anything about me?", Kind.RECALL, ""),
        ("Forget that", Kind.FORGET_LAST, ""),
        ("please forget that.", Kind.FORGET_LAST, ""),
        ("Scratch that!", Kind.FORGET_LAST, ""),
        ("forget what I just said", Kind.FORGET_LAST, ""),
        ("Forget that I'm vegetarian", Kind.FORGET_ABOUT, "I'm vegetarian"),
        ("Forget about my sister", Kind.FORGET_ABOUT, "my sister"),
        ("Delete the fact that I work nights", Kind.FORGET_ABOUT, "I work nights"),
        ("Forget everything about me", Kind.FORGET_ALL, ""),
        ("forget everything", Kind.FORGET_ALL, ""),
        ("Please delete everything you know about me.", Kind.FORGET_ALL, ""),
        ("Erase all my data", Kind.FORGET_ALL, ""),
        ("Wipe your memory of me", Kind.FORGET_ALL, ""),
        ("Forget me", Kind.FORGET_ALL, ""),
    ],
)
def test_memory_requests_are_recognised_in_their_variants(said, kind, fact):
    request = recognise(said)
    assert request is not None and request.kind is kind
    assert request.fact == fact


@pytest.mark.parametrize(
    "said",
    [
        "Remember to buy milk",
        "Do you remember when the museum opens?",
        "What's the weather like?",
        "Forget about the weather, tell me a joke",
        "Clear the table please",
        "Remove the batteries from the remote",
        "I remember that film",
        "Save the file",
        "Remember that!",
        "What do you know about the moon?",
        "",
    ],
)
def test_other_sentences_are_not_memory_requests(said):
    assert recognise(said) is None


def test_facts_are_said_back_in_the_second_person():
    assert second_person("I'm vegetarian") == "you're vegetarian"
    assert second_person("My sister is called Ana and I am her brother") == (
        "your sister is called Ana and you are her brother"
    )


def test_a_conversation_with_memory(tmp_path):
    memory = PersonalMemory(FactStore(tmp_path / "m.sqlite3"), "sam")
    assert memory.respond("What's the capital of France?") is None
    assert memory.respond("What do you know about me?").startswith("I don't know anything about you")
    assert memory.respond("Remember that I'm vegetarian") == "OK, I'll remember that you're vegetarian."
    assert memory.respond("remember that I'm vegetarian") == "I already know that you're vegetarian."
    assert memory.respond("Remember that my phone number is 555 123 4567") is not None
    assert memory.respond("what do you know about me?") == (
        "Here's what I know about you: you're vegetarian; your phone number is 555 123 4567."
    )
    assert "I'm vegetarian" in memory.context()
    assert memory.respond("Forget that") == "OK, I've forgotten that your phone number is 555 123 4567."
    assert memory.respond("Remember that I live in Lyon") is not None
    assert memory.respond("Forget that I'm vegetarian") == "OK, I've forgotten that you're vegetarian."
    assert memory.respond("Forget that I have a boat") == "There's nothing like that to forget."
    assert [f.text for f in memory.store.facts("sam")] == ["I live in Lyon"]
    assert (
        memory.respond("Forget everything about me") == "Done: I've forgotten everything about you (1 fact)."
    )
    assert memory.store.facts("sam") == []


def test_personal_facts_are_kept_only_when_asked(tmp_path):
    store = FactStore(tmp_path / "m.sqlite3")
    memory = PersonalMemory(store, "sam")
    assert is_personal("My email is sam@example.org") and is_personal("I live at 4 Harbour Street")
    assert not is_personal("I'm vegetarian")
    assert (
        memory.notice("Hi! I'm allergic to peanuts. Is there a café here?").text == "I'm allergic to peanuts"
    )
    assert noticed("My favourite number is 0612 345 678") == "My favourite number is 0612 345 678"
    assert memory.notice("My favourite number is 0612 345 678") is None  # a phone number: only if asked
    memory.respond("Remember that my email is sam@example.org")
    facts = {f.text: f for f in store.facts("sam")}
    assert set(facts) == {"I'm allergic to peanuts", "My email is sam@example.org"}
    assert facts["My email is sam@example.org"].personal and facts["My email is sam@example.org"].explicit
    assert not facts["I'm allergic to peanuts"].explicit


def test_users_are_kept_apart_and_context_fits_its_budget(tmp_path):
    store = FactStore(tmp_path / "m.sqlite3")
    ana, ben = PersonalMemory(store, "ana"), PersonalMemory(store, "ben")
    for i in range(30):
        ana.respond(f"Remember that my locker number {i} is free")
    ben.respond("Remember that I'm vegan")
    assert ben.context() == "What the user has told you about themselves (their words):\n- I'm vegan"
    context = ana.context(max_chars=200)
    assert len(context) <= 200 + 80 and "locker number 29" in context and "locker number 0 " not in context
    assert ana.respond("forget everything about me").endswith("(30 facts).")
    assert [f.text for f in store.facts("ben")] == ["I'm vegan"]


def test_a_kiosk_visit_keeps_facts_only_in_memory():
    visit = PersonalMemory(FactStore(":memory:"), "visitor")
    visit.respond("Remember that I'm in a wheelchair")
    assert [f.text for f in visit.store.facts("visitor")] == ["I'm in a wheelchair"]
    assert FactStore(":memory:").facts("visitor") == []  # the next visit starts knowing nothing


def _python(code: str, home: Path) -> str:
    env = {**os.environ, "HARK_HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_memory_outlives_the_process(tmp_path):
    """Remember in one process, recall in the next, forget in a third (through `hark memory`)."""
    say = (
        "from dialogue.usermemory import FactStore, PersonalMemory\n"
        "from hark.commands.memory import memory_path\n"
        "print(PersonalMemory(FactStore(memory_path()), 'sam').respond({!r}))"
    )
    assert (
        _python(say.format("Remember that I'm vegetarian"), tmp_path)
        == "OK, I'll remember that you're vegetarian."
    )
    assert (
        _python(say.format("What do you know about me?"), tmp_path)
        == "Here's what I know about you: you're vegetarian."
    )
    env = {**os.environ, "HARK_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "hark.cli", "memory"]
    export = subprocess.run(
        [*cli, "export", "--user", "sam", "--json"], env=env, capture_output=True, text=True
    )
    assert [f["text"] for f in json.loads(export.stdout)["facts"]] == ["I'm vegetarian"]
    forget = subprocess.run(
        [*cli, "forget", "--all", "--user", "sam"], env=env, capture_output=True, text=True
    )
    assert forget.returncode == 0 and "forgot 1 fact" in forget.stderr
    assert _python(say.format("What do you know about me?"), tmp_path).startswith("I don't know anything")


def test_memory_cli_list_and_forget_by_number(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARK_HOME", str(tmp_path))
    from hark.commands.memory import memory_path

    memory = PersonalMemory(FactStore(memory_path()), "default")
    memory.respond("Remember that I'm vegetarian")
    memory.respond("Remember that my birthday is on May 3")
    assert main(["memory", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(f["text"], f["personal"]) for f in listed] == [
        ("I'm vegetarian", False),
        ("My birthday is on May 3", True),
    ]
    assert main(["memory", "forget", str(listed[0]["id"])]) == 0
    assert main(["memory", "forget", "999"]) == 2
    assert "not facts about 'default'" in capsys.readouterr().err
    assert main(["memory", "forget"]) == 2
    assert main(["memory", "list"]) == 0
    assert capsys.readouterr().out.split() == [
        str(listed[1]["id"]),
        "My",
        "birthday",
        "is",
        "on",
        "May",
        "3",
        "[personal]",
    ]
