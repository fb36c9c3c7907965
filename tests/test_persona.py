"""Personas: the built-in ones, user files, every way a file can be wrong, and `hark personas`."""

from __future__ import annotations

import json
import re

import pytest

from dialogue.errors import PersonaError
from dialogue.persona import builtin_names, list_personas, load_persona, load_persona_file
from hark.cli import main

GOOD = """
name = "Juno"
greeting = "Hi, Juno here."
style = "cheerful"
rules = ["Talk about space.", "Keep it short."]
system_prompt = "You are {name}. Be {style}. Use {{braces}} literally.\\n{rules}"
refusal = "Juno won't go there."

[tts]
voice = "/voices/juno.onnx"
rate = 1.25
"""


def write(path, text):
    path.write_text(text)
    return path


def test_built_in_personas_render_completely():
    assert {"default", "concierge", "tutor"} <= set(builtin_names())
    for name in builtin_names():
        persona = load_persona(name)
        assert persona.name and persona.greeting and persona.refusal and persona.reprompt
        assert persona.name in persona.system_prompt
        assert all(rule in persona.system_prompt for rule in persona.rules)
        assert "{" not in persona.system_prompt and "}" not in persona.system_prompt
        assert 0.5 <= persona.rate <= 2.0


def test_default_is_hark_and_speaks_plainly():
    persona = load_persona(None)
    assert persona.name == "Hark"
    assert "Markdown" in persona.system_prompt  # a voice persona: no formatting in replies


def test_a_file_fills_its_template(tmp_path):
    persona = load_persona(str(write(tmp_path / "juno.toml", GOOD)))
    assert (
        persona.system_prompt
        == "You are Juno. Be cheerful. Use {braces} literally.\n- Talk about space.\n- Keep it short."
    )
    assert (persona.voice, persona.rate) == ("/voices/juno.onnx", 1.25)
    assert persona.refusal == "Juno won't go there."
    assert persona.reprompt.startswith("Sorry")  # default
    assert persona.source.endswith("juno.toml")


def test_names_look_in_the_user_folder_first_and_list_broken_files(tmp_path):
    write(tmp_path / "juno.toml", GOOD)
    write(tmp_path / "default.toml", GOOD.replace("Juno", "Override"))
    write(tmp_path / "broken.toml", "name = ")
    assert load_persona("juno", tmp_path).name == "Juno"
    assert load_persona("default", tmp_path).name == "Override"
    entries = {e.key: e for e in list_personas(tmp_path)}
    assert {"juno", "broken", "concierge", "tutor", "default"} <= set(entries)
    assert entries["broken"].persona is None and "not valid TOML" in entries["broken"].problem


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = ", "not valid TOML"),
        ('greeting = "hi"', "needs `name`"),
        ('name = "X"', "needs `greeting`"),
        ('name = "X"\ngreeting = "hi"\ngreting = "typo"', "unknown setting(s) greting"),
        ('name = "X"\ngreeting = "hi"\nsystem_prompt = "I am {nam}"', "unknown placeholder {nam}"),
        ('name = "X"\ngreeting = "hi"\nsystem_prompt = "a { b"', "malformed system_prompt"),
        (
            'name = "X"\ngreeting = "hi"\nsystem_prompt = "{name.__class__}"',
            "{name.__class__} is not allowed",
        ),
        ('name = "X"\ngreeting = "hi"\nsystem_prompt = "{rules[0]}"', "{rules[0]} is not allowed"),
        ('name = "X"\ngreeting = "hi"\nsystem_prompt = "{name!r}"', "{name!r} is not allowed"),
        ('name = "X"\ngreeting = "hi"\nsystem_prompt = "{name:>999999999}"', "{name:>999999999} is not"),
        ('name = "X"\ngreeting = "hi"\nsystem_prompt = "{0}"', "{0} is not allowed"),
        ('name = "X"\ngreeting = "hi"\nrules = "be nice"', "`rules` must be a list"),
        ('name = "X"\ngreeting = "hi"\n[tts]\nrate = 9', "tts.rate"),
        ('name = "X"\ngreeting = "hi"\n[tts]\nspeed = 1', "[tts]: unknown setting(s) speed"),
        ('name = ""\ngreeting = "hi"', "`name` must be non-empty"),
    ],
)
def test_bad_persona_files_are_named_errors(tmp_path, text, message):
    with pytest.raises(PersonaError, match=re.escape(message)):
        load_persona_file(write(tmp_path / "p.toml", text))


def test_unknown_names_and_missing_files(tmp_path):
    with pytest.raises(PersonaError, match=r"unknown persona 'pirate'.*concierge, default, tutor"):
        load_persona("pirate", tmp_path)
    with pytest.raises(PersonaError, match="persona file not found"):
        load_persona(str(tmp_path / "missing.toml"))


def test_hark_personas_lists_and_shows(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARK_HOME", str(tmp_path))
    (tmp_path / "personas").mkdir()
    write(tmp_path / "personas" / "juno.toml", GOOD)
    assert main(["personas", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["key"] for r in rows} >= {"juno", "default", "concierge", "tutor"}
    juno = next(r for r in rows if r["key"] == "juno")
    assert juno["name"] == "Juno" and juno["rate"] == 1.25 and juno["problem"] is None

    assert main(["personas", "concierge"]) == 0
    shown = capsys.readouterr().out
    assert "name:     Ada" in shown and "system prompt:" in shown and "front desk" in shown

    assert main(["personas", "pirate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown persona 'pirate'") and "Traceback" not in err
