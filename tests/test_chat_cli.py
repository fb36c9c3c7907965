"""`hark chat`: the typed REPL on the dialogue manager, against the Ollama-protocol server over real HTTP."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from PIL import Image

from dialogue.manager import FALLBACK_NOTICE
from dialogue.persona import load_persona
from hark.cli import main

GREETING = load_persona("default").greeting


class CountingOut(io.StringIO):
    """stdout that remembers how many writes the text came in (to see that replies stream)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HARK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def chat(monkeypatch, capsys, typed: str, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    try:
        code = main(["chat", *args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_replies_stream_and_reset_starts_over(fake_ollama, home, monkeypatch, capsys):
    out = CountingOut()
    monkeypatch.setattr(sys, "stdout", out)
    code, _, err = chat(monkeypatch, capsys, "Hello\n\n/reset\nWho am I?\n", "--ollama-host", fake_ollama.url)
    assert code == 0, err
    lines = out.getvalue().splitlines()
    assert lines == [
        GREETING,
        "You said: Hello. That is all I know.",
        GREETING,
        "You said: Who am I?. That is all I know.",
    ]
    assert out.writes > 10  # the replies arrived piece by piece
    assert "(conversation forgotten)" in err and "you> " in err
    first, second = fake_ollama.chats()
    assert len(first["messages"]) == 2 and len(second["messages"]) == 2  # nothing remembered across /reset
    assert {p.name for p in home.iterdir()} >= {"conversations.db", "analytics.db"}


def test_resume_continues_the_saved_conversation(fake_ollama, home, monkeypatch, capsys):
    url = ["--ollama-host", fake_ollama.url]
    code, _, err = chat(monkeypatch, capsys, "My name is Ana.\n/quit\nnever sent\n", *url)
    assert code == 0 and "saved as conversation 1: continue it with --resume" in err
    code, out, err = chat(monkeypatch, capsys, "What is my name?\n", *url, "--resume")
    assert code == 0, err
    assert "resuming conversation 1 (2 messages)" in err
    assert GREETING not in out  # a resumed conversation is not greeted again
    last = fake_ollama.chats()[-1]["messages"]
    assert [m["content"] for m in last[1:]] == [
        "My name is Ana.",
        "You said: My name is Ana.. That is all I know.",
        "What is my name?",
    ]
    assert len(fake_ollama.chats()) == 2  # `/quit` ended the first session before "never sent"


def test_no_log_writes_nothing(fake_ollama, home, monkeypatch, capsys):
    code, out, _ = chat(
        monkeypatch, capsys, "Secret question\n", "--ollama-host", fake_ollama.url, "--no-log"
    )
    assert code == 0 and "Secret question" in out
    assert not home.exists() or not any(home.iterdir())


def test_images_and_a_bad_image_in_the_session(fake_ollama, home, monkeypatch, capsys, tmp_path):
    picture = tmp_path / "cat.png"
    Image.new("RGB", (64, 48), "orange").save(picture)
    typed = f"What is this?\n/image {tmp_path}/missing.png\n/image {picture}\nAnd this one?\nThanks\n"
    code, out, err = chat(
        monkeypatch, capsys, typed, "--ollama-host", fake_ollama.url, "--image", str(picture)
    )
    assert code == 0
    assert err.count("error: ") == 1 and "missing.png" in err and "Traceback" not in err
    assert "(image attached: 64x48" in err
    with_image, second_image, text_only = fake_ollama.chats()
    assert len(with_image["messages"][-1]["images"]) == 1 and len(second_image["messages"][-1]["images"]) == 1
    assert all("images" not in m for m in text_only["messages"])
    assert out.count("You said:") == 3


@pytest.mark.parametrize(
    ("args", "typed", "message"),
    [
        (["--persona", "{tmp}/missing.toml"], "", "persona file not found"),
        (["--persona", "{tmp}/bad.toml"], "", "bad.toml is not valid TOML"),
        (["--persona", "pirate"], "", "unknown persona 'pirate'"),
        (["--config", "{tmp}/bad.toml"], "", "bad.toml: not valid TOML"),
        (["--config", "{tmp}/typo.toml"], "", "guardrails: unknown setting(s) blocked"),
        (["--resume"], "", "no saved conversation to resume"),
        (["--resume", "42"], "", "no saved conversation 42"),
        (["--resume", "x"], "", "not a conversation number"),
        (["--resume", "--no-log"], "", "--resume needs the stored conversations"),
        (["--llm", "ollama", "--model", "nope"], "", "ollama pull nope"),
        (["--image", "{tmp}/notes.png"], "", "notes.png"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    args, typed, message, fake_ollama, home, monkeypatch, capsys, tmp_path
):
    (tmp_path / "bad.toml").write_text("name = \n")
    (tmp_path / "typo.toml").write_text("[guardrails]\nblocked = ['x']\n")
    (tmp_path / "notes.png").write_text("not an image at all\n" * 20)
    argv = [a.format(tmp=tmp_path) for a in args]
    code, _, err = chat(monkeypatch, capsys, typed, "--ollama-host", fake_ollama.url, *argv)
    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err
    assert fake_ollama.chats() == []


def test_a_piped_session_survives_ollama_failing_with_the_embedded_model(fake_ollama, tmp_path):
    """A real process and a real pipe: Ollama answers HTTP 500, the embedded model takes over, once said."""
    fake_ollama.behaviour.fail_status = 500
    env = {**os.environ, "HARK_HOME": str(tmp_path), "OLLAMA_HOST": fake_ollama.url}
    result = subprocess.run(
        [sys.executable, "-m", "hark.cli", "chat"],
        input="Hello!\nSay one word.\n",
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.count(FALLBACK_NOTICE) == 1
    assert result.stdout.startswith(f"{GREETING}\n{FALLBACK_NOTICE} ")
    assert "Ollama is not answering: the embedded model" in result.stderr
    assert len(fake_ollama.chats()) == 3  # retried three times once, then the fallback until the cooldown
