"""One HarkConfig for every command: defaults → hark.toml → HARK_* → flags, each value with its origin."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import ROOT

from dialogue.toml import tomllib
from hark.cli import build_parser, main
from hark.commands.common import config_from_args
from hark.config import SECTIONS, ConfigError, HarkConfig, load_config


def write(tmp_path, text: str, name: str = "hark.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_example_file_lists_every_key_with_its_default():
    example = tomllib.loads((ROOT / "hark.toml").read_text())
    assert list(example) == list(SECTIONS)
    for name, cls in SECTIONS.items():
        assert list(example[name]) == [f.name for f in dataclasses.fields(cls)], name
    config = load_config(str(ROOT / "hark.toml"), environ={})
    defaults = HarkConfig()
    for name in SECTIONS:
        assert getattr(config, name) == getattr(defaults, name), name


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
        "HARK_STT_MIN_CONFIDENCE": "0.2",  # a key with an underscore in its name
        "HARK_HOME": "/somewhere",  # not a setting: ignored
    }
    config = load_config(path, env)
    assert config.kiosk.idle_timeout_s == 45.0 and isinstance(config.kiosk.idle_timeout_s, float)
    assert config.kiosk.wake_phrases == ("hello hark", "ok hark")
    assert config.kiosk.greeting is False
    assert config.llm.backend == "embedded" and config.llm.model == "123"
    assert config.guardrails.blocked_topics == ("weapons",)
    assert config.privacy.retention_days == 7
    assert config.stt.min_confidence == 0.2
    assert config.origin("kiosk.idle_timeout_s").where == "HARK_KIOSK_IDLE_TIMEOUT_S"
    assert config.origin("llm.backend").where == f"{path}:5"
    assert config.origin("vad.hang_s").kind == "default"


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (
            '[kiosk]\nidle_timeout_s = "soon"\n',
            {},
            'hark.toml:2 kiosk.idle_timeout_s: must be a positive number (got "soon")',
        ),
        ("[kiosk]\nidle_timeout_s = 0\n", {}, "kiosk.idle_timeout_s: must be a positive number (got 0.0)"),
        ("[vad]\naggressiveness = 2.5\n", {}, "vad.aggressiveness: must be 0, 1, 2 or 3 (got 2.5)"),
        ("[stt]\npartials = 1\n", {}, "stt.partials: must be true or false (got 1)"),
        ('[audio]\nturn_taking = "duplex"\n', {}, 'audio.turn_taking: must be one of "auto", "half-duplex"'),
        ("[kiosk]\nwake_phrases = [1]\n", {}, "kiosk.wake_phrases: must be a list of text (got [1])"),
        ("[kiosk]\nidle = 3\n", {}, "hark.toml:2 kiosk.idle: unknown key (allowed: wake_phrases,"),
        ("\n[kiosks]\n", {}, "hark.toml:2 [kiosks]: unknown section (allowed: audio, vad, turn, stt,"),
        ("idle = 3\n", {}, "[idle]: unknown section"),
        ("[kiosk\n", {}, "hark.toml: not valid TOML"),
        (
            "",
            {"HARK_KIOSK_FOLLOW_UP_S": "soon"},
            "HARK_KIOSK_FOLLOW_UP_S kiosk.follow_up_s: must be a number",
        ),
        ("", {"HARK_KIOSK_IDLE": "3"}, "HARK_KIOSK_IDLE kiosk.idle: unknown key (allowed:"),
        (
            "[privacy]\nretention_days = -1\n",
            {},
            "privacy.retention_days: must be 0 (keep everything) or more",
        ),
        ("", {"HARK_RECOVERY_RETRIES": "many"}, "HARK_RECOVERY_RETRIES recovery.retries: must be a whole"),
        ("", {"HARK_PRIVACY_RETENTION_DAYS": "nan"}, "privacy.retention_days: must be 0"),
        ('[guardrails]\nblocked_topics = "x"\n', {}, "guardrails.blocked_topics must be a list"),
        ("[dialogue]\nmood = 1\n", {}, "dialogue.mood: unknown key"),
        ("[dialogue]\nsummarise = 1\n", {}, "dialogue.summarise: must be true or false"),
    ],
)
def test_bad_values_are_one_clear_error(tmp_path, text, env, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\xff\xfe[kiosk]\n", "not a text file"), (None, "is a directory")],
)
def test_a_config_that_is_not_a_text_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "hark.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_config(str(path), {})


def test_changes_name_the_keys_that_differ(tmp_path):
    old = load_config(write(tmp_path, "[kiosk]\nidle_timeout_s = 30\n"), {})
    new = load_config(
        write(tmp_path, '[kiosk]\nidle_timeout_s = 40\n[guardrails]\nblocked_topics = ["x"]\n', "new.toml"),
        {},
    )
    assert old.changes(new) == ["guardrails.blocked_topics", "kiosk.idle_timeout_s"]
    assert old.changes(old) == []
    assert old.changes(old.reload({})) == []  # re-reading an unchanged file changes nothing


def parsed(argv: list[str]):
    return build_parser().parse_args(argv)


def test_flags_win_over_variables_and_the_file_and_mean_the_same_on_every_command(tmp_path):
    path = write(tmp_path, '[vad]\nhang_s = 0.8\n[llm]\nbackend = "ollama"\n')
    env = {"HARK_VAD_HANG_S": "0.7", "HARK_LLM_BACKEND": "auto"}
    for command in (["talk"], ["kiosk"]):
        config = config_from_args(
            parsed([*command, "--config", path, "--hang", "0.6", "--llm", "embedded"]), env
        )
        assert config.vad.hang_s == 0.6 and config.origin("vad.hang_s").where == "--hang"
        assert config.llm.backend == "embedded" and config.origin("llm.backend").kind == "flag"
    config = config_from_args(parsed(["chat", "--config", path]), env)
    assert config.vad.hang_s == 0.7 and config.llm.backend == "auto"  # the variables over the file
    config = config_from_args(parsed(["talk", "--no-partials", "--no-log"]), {})
    assert config.stt.partials is False and config.privacy.log is False


def test_hark_home_config_is_used_without_config_flag(tmp_path):
    write(tmp_path, '[dialogue]\npersona = "tutor"\n')
    config = config_from_args(parsed(["chat"]), {"HARK_HOME": str(tmp_path)})
    assert config.dialogue.persona == "tutor"
    assert config.origin("dialogue.persona").where == f"{tmp_path / 'hark.toml'}:2"


def test_a_bad_flag_value_names_the_flag(capsys):
    assert main(["talk", "--hang", "9", "--input", "nothing.wav"]) == 2
    assert capsys.readouterr().err == "error: --hang vad.hang_s: must be a number from 0.1 to 5 (got 9.0)\n"


def test_config_show_names_the_source_of_each_value(capsys, monkeypatch):
    monkeypatch.setenv("HARK_STT_PARTIALS", "false")
    assert main(["config", "show", "--json", "--hang", "0.3"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["stt"]["partials"] == {"value": False, "source": "env", "origin": "HARK_STT_PARTIALS"}
    assert shown["vad"]["hang_s"] == {"value": 0.3, "source": "flag", "origin": "--hang"}
    assert shown["llm"]["backend"] == {"value": "auto", "source": "default"}
    assert main(["config", "show"]) == 0
    assert "partials = false    # env HARK_STT_PARTIALS" in capsys.readouterr().out


def test_config_check_points_at_the_line(tmp_path, capsys):
    good = write(tmp_path, "[vad]\nhang_s = 0.4\n", "good.toml")
    assert main(["config", "check", good]) == 0
    assert f"{good}: ok" in capsys.readouterr().out
    bad = write(tmp_path, "[vad]\nhang_s = 0.4\n\n[stt]\npartials = 3\n", "bad.toml")
    assert main(["config", "check", bad]) == 2
    assert capsys.readouterr().err == f"error: {bad}:5 stt.partials: must be true or false (got 3)\n"


def test_the_kiosk_command_stops_on_a_bad_config_with_one_line_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, '[kiosk]\nidle_timeout_s = "soon"\n')
    assert main(["kiosk", "--config", path]) == 2
    err = capsys.readouterr().err
    assert err == f'error: {path}:2 kiosk.idle_timeout_s: must be a positive number (got "soon")\n'
    assert main(["kiosk", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "error: config file not found" in capsys.readouterr().err
    assert main(["kiosk", "--health-port", "70000"]) == 2
    assert "--health-port must be a port number" in capsys.readouterr().err


def test_chat_rejects_what_the_kiosk_rejects(tmp_path, capsys):
    path = write(tmp_path, "[nonsense]\n")
    assert main(["chat", "--config", path]) == 2
    assert "[nonsense]: unknown section" in capsys.readouterr().err
