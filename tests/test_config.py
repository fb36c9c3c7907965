"""hark.toml: typed sections, HARK_* overrides, one-line errors; the documented example is the defaults."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import ROOT

from dialogue.toml import tomllib
from hark.cli import main
from hark.config import DIALOGUE_TABLES, SECTIONS, ConfigError, HarkConfig, load_config


def write(tmp_path, text: str):
    path = tmp_path / "hark.toml"
    path.write_text(text)
    return str(path)


def test_the_example_file_lists_every_key_with_its_default():
    example = tomllib.loads((ROOT / "hark.toml").read_text())
    assert set(example) == {*SECTIONS, *DIALOGUE_TABLES}
    for name, cls in SECTIONS.items():
        assert list(example[name]) == [f.name for f in dataclasses.fields(cls)], name
    config = load_config(str(ROOT / "hark.toml"), environ={})
    defaults = HarkConfig()
    for name in SECTIONS:
        assert getattr(config, name) == getattr(defaults, name), name
    assert config.dialogue == defaults.dialogue  # the dialogue tables' documented values are theirs too
    guardrail_keys = {f.name for f in dataclasses.fields(type(defaults.dialogue.guardrails))}
    assert set(example["guardrails"]) == guardrail_keys


def test_file_values_are_typed_and_environment_overrides_them(tmp_path):
    path = write(
        tmp_path,
        '[kiosk]\nwake_phrases = ["hey hark"]\nidle_timeout_s = 12\n[llm]\nbackend = "embedded"\n'
        '[guardrails]\nblocked_topics = ["weapons"]\n',
    )
    env = {
        "HARK_KIOSK_IDLE_TIMEOUT_S": "45",
        "HARK_KIOSK_WAKE_PHRASES": "hello hark, ok hark",
        "HARK_KIOSK_GREETING": "false",
        "HARK_LLM_MODEL": "123",  # text setting: kept as text although it looks like a number
        "HARK_PRIVACY_RETENTION_DAYS": "7",
        "HARK_HOME": "/somewhere",  # not a setting: ignored
    }
    config = load_config(path, env)
    assert config.kiosk.idle_timeout_s == 45.0 and isinstance(config.kiosk.idle_timeout_s, float)
    assert config.kiosk.wake_phrases == ("hello hark", "ok hark")
    assert config.kiosk.greeting is False
    assert config.llm.backend == "embedded" and config.llm.model == "123"
    assert config.dialogue.guardrails.blocked_topics == ("weapons",)
    assert config.dialogue.retention_days == 7
    assert config.tables["privacy"] == {"retention_days": 7}


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (
            '[kiosk]\nidle_timeout_s = "soon"\n',
            {},
            'hark.toml: kiosk.idle_timeout_s must be a positive number (got "soon")',
        ),
        ("[kiosk]\nidle_timeout_s = 0\n", {}, "kiosk.idle_timeout_s must be a positive number (got 0.0)"),
        ("[vad]\naggressiveness = 2.5\n", {}, "vad.aggressiveness must be 0, 1, 2 or 3 (got 2.5)"),
        ("[stt]\npartials = 1\n", {}, "stt.partials must be true or false (got 1)"),
        ('[audio]\nturn_taking = "duplex"\n', {}, 'audio.turn_taking must be one of "half-duplex"'),
        ("[kiosk]\nwake_phrases = [1]\n", {}, "kiosk.wake_phrases must be a list of text (got [1])"),
        ("[kiosk]\nidle = 3\n", {}, "unknown key kiosk.idle (allowed: wake_phrases, wake_threshold,"),
        ("[kiosks]\n", {}, "unknown section [kiosks] (allowed: audio, vad, stt, llm, vision, kiosk,"),
        ("idle = 3\n", {}, "unknown section [idle]"),
        ("[kiosk\n", {}, "hark.toml: not valid TOML"),
        (
            "",
            {"HARK_KIOSK_FOLLOW_UP_S": "soon"},
            "HARK_KIOSK_FOLLOW_UP_S: kiosk.follow_up_s must be a number",
        ),
        ("", {"HARK_KIOSK_IDLE": "3"}, "HARK_KIOSK_IDLE: unknown key kiosk.idle (allowed:"),
        ("[privacy]\nretention_days = -1\n", {}, "hark.toml: privacy.retention_days must be 0"),
        (
            "",
            {"HARK_RECOVERY_RETRIES": "many"},
            "with HARK_RECOVERY_RETRIES: recovery.retries has the wrong type",
        ),
        ('[guardrails]\nblocked_topics = "x"\n', {}, "guardrails.blocked_topics must be a list"),
        ("[dialogue]\nmood = 1\n", {}, "dialogue: unknown setting(s) mood"),
    ],
)
def test_bad_values_are_one_clear_error(tmp_path, text, env, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env)
    assert message in str(caught.value)


def test_changes_name_the_keys_that_differ(tmp_path):
    old = load_config(write(tmp_path, "[kiosk]\nidle_timeout_s = 30\n"), {})
    new = load_config(
        write(tmp_path, '[kiosk]\nidle_timeout_s = 40\n[guardrails]\nblocked_topics = ["x"]\n'), {}
    )
    assert old.changes(new) == ["kiosk.idle_timeout_s", "guardrails.blocked_topics"]
    assert old.changes(old) == []


def test_the_kiosk_command_stops_on_a_bad_config_with_one_line_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, '[kiosk]\nidle_timeout_s = "soon"\n')
    assert main(["kiosk", "--config", path]) == 2
    err = capsys.readouterr().err
    assert err == f'error: {path}: kiosk.idle_timeout_s must be a positive number (got "soon")\n'
    assert main(["kiosk", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "error: config file not found" in capsys.readouterr().err
    assert main(["kiosk", "--health-port", "70000"]) == 2
    assert "--health-port must be a port number" in capsys.readouterr().err
