"""Every command against a table of bad inputs: one `error:` line, exit code 2, no traceback, no hang.

The cases are the ones a test as a new user and as an attacker found, plus the ones that already passed.
Each runs in-process (an exception escaping `main` fails the test); the few that could crash or hang the
interpreter (native model code, stdin) run as real processes with a time limit.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from hark.cli import main

PROCESS_LIMIT_S = 60
"""A hang is a failure; generous, because loading a model on a busy 2-core machine takes seconds."""


@pytest.fixture
def files(tmp_path, monkeypatch):
    """Real bad files, and a data folder of our own."""
    monkeypatch.setenv("HARK_HOME", str(tmp_path / "home"))
    (tmp_path / "folder").mkdir()
    (tmp_path / "latin1.toml").write_bytes(b'[dialogue]\npersona = "caf\xe9"\n')
    (tmp_path / "typo.toml").write_text("[dialgue]\npersona = 'tutor'\n")
    (tmp_path / "wrong.toml").write_text("[vad]\nhang_s = 'long'\n")
    (tmp_path / "notes.wav").write_text("this is not audio\n" * 50)
    (tmp_path / "not.gguf").write_text("this is not a model\n")
    (tmp_path / "evil.toml").write_text(
        'name = "Evil"\ngreeting = "Hi."\nsystem_prompt = "You are {name.__class__}"\n'
    )
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "analytics.db").write_text("not a database\n" * 10)
    return tmp_path


CASES = [
    (["chat", "--config", "{tmp}/folder"], "is a directory"),
    (["chat", "--config", "{tmp}/latin1.toml"], "not a text file"),
    (["chat", "--config", "{tmp}/typo.toml"], "[dialgue]: unknown section"),
    (["talk", "--config", "{tmp}/wrong.toml", "--input", "{tmp}/notes.wav"], "vad.hang_s: must be a number"),
    (["kiosk", "--config", "{tmp}/missing.toml"], "config file not found"),
    (["config", "check", "{tmp}/wrong.toml"], "wrong.toml:2 vad.hang_s"),
    (["talk", "--hang", "9", "--input", "{tmp}/notes.wav"], "--hang vad.hang_s"),
    (["talk", "--input", "{tmp}/notes.wav", "--output", "{tmp}/r.wav"], "not a readable audio file"),
    (["transcribe", "{tmp}/missing.wav"], "not found"),
    (["transcribe", "{tmp}/notes.wav"], "not a readable audio file"),
    (["say", "😀", "--output", "{tmp}/x.wav"], "nothing speakable"),
    (["say", "hello", "--output", "{tmp}/folder"], "is a directory"),
    (["ask", "--llm", "embedded", "x" * 5000], "the most is 4000"),
    (["ask", "--image", "http://127.0.0.1:9/cat.png", "what is it?"], "refused"),
    (["ask", "--image", "{tmp}/notes.wav", "what is it?"], "notes.wav"),
    (["ask", "--persona", "{tmp}/evil.toml", "hi"], "{name.__class__}"),
    (["kiosk", "--health-port", "70000"], "--health-port must be a port number"),
    (["eval", "{tmp}/missing.yaml"], "not found"),
    (["privacy", "purge", "--older-than", "-1"], "--older-than must be"),
    (["personas", "pirate"], "unknown persona"),
]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_a_bad_input_is_one_error_line_and_exit_2(files, capsys, argv, message):
    code = main([arg.format(tmp=files) for arg in argv])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "environ", "stdin", "message"),
    [
        (["stats"], {"HARK_HOME": "{tmp}/damaged"}, b"", "damaged or not Hark's"),
        (["stats"], {"HARK_HOME": "{tmp}/latin1.toml"}, b"", "is a file"),
        (["chat", "--llm", "embedded", "--model", "{tmp}/not.gguf"], {}, b"", "not a GGUF model"),
        (["config", "show"], {"HARK_VAD_HANG_S": "abc"}, b"", "HARK_VAD_HANG_S vad.hang_s"),
    ],
)
def test_in_a_real_process_too(files, argv, environ, stdin, message):
    env = {"PATH": "/usr/bin:/bin", "HARK_HOME": str(files / "home")}
    env |= {key: value.format(tmp=files) for key, value in environ.items()}
    done = subprocess.run(
        [sys.executable, "-m", "hark.cli", *(arg.format(tmp=files) for arg in argv)],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=PROCESS_LIMIT_S,
    )
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert err.strip().splitlines()[-1].startswith("error:") and message in err and "Traceback" not in err


def test_bytes_that_are_not_utf8_do_not_end_chat(files):
    done = subprocess.run(
        [sys.executable, "-m", "hark.cli", "chat", "--llm", "embedded", "--no-log"],
        input=b"/reset \xff\xfe\n/quit\n",
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "HARK_HOME": str(files / "home")},
        timeout=PROCESS_LIMIT_S,
    )
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode()


def test_an_internal_error_is_one_line_and_exit_1_with_the_traceback_only_under_debug(capsys, monkeypatch):
    def broken(args, reporter):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr("hark.commands.personas.run", broken)  # the parser is built anew by each main()
    assert main(["personas"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: internal error: RuntimeError: something inside broke (run with --debug for the traceback)\n"
    )
    assert main(["--debug", "personas"]) == 1
    assert "Traceback" in capsys.readouterr().err
