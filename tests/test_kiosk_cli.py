"""`hark kiosk` end to end on the real models: Piper-spoken visitors in a file, the Ollama-protocol test
server (or the embedded model), the health endpoints over real HTTP, real signals."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import numpy as np
import pytest
from audio_fixtures import silence, spoken, write_wav
from prometheus_client.parser import text_string_to_metric_families

from dialogue.manager import APOLOGY
from dialogue.persona import load_persona
from hark.benchmark.pulse import HarkProcess

pytestmark = pytest.mark.integration

GREETING = load_persona(None, Path("/nonexistent")).greeting
"""The default persona's greeting, which each new visitor hears first."""


def visitors_wav(speaker, path: Path, script: list[str | float]) -> Path:
    """Utterances (text, spoken by Piper) and silences (seconds), in order."""
    return write_wav(
        path, np.concatenate([spoken(speaker, p) if isinstance(p, str) else silence(p) for p in script])
    )


def kiosk_toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "hark.toml"
    path.write_text(text)
    return str(path)


class Kiosk(HarkProcess):
    """`hark kiosk` in a subprocess; its JSON log lines are collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        super().__init__("kiosk", *args, env=env)

    def __enter__(self) -> Kiosk:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def get(self, path: str) -> tuple[int, str]:
        url = self.wait_for("starting")[0]["health"] + path
        try:
            with urlopen(url, timeout=10) as response:
                return response.status, response.read().decode()
        except HTTPError as error:
            return error.code, error.read().decode()

    def healthz(self) -> tuple[int, dict]:
        status, body = self.get("/healthz")
        return status, json.loads(body)

    def metrics(self) -> dict[tuple[str, tuple], float]:
        status, body = self.get("/metrics")
        assert status == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        assert not self.not_json, f"stdout lines that are not JSON: {self.not_json}"
        return code


def home_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HARK_HOME": str(tmp_path / "home"), **extra}


A_NAME = "Hey Hark, my name is Robert and I love astronomy."
A_FOLLOW_UP = "What do I love?"
B_QUESTION = "Hey Hark, what is my name?"


def test_two_visitors_apart_the_second_sees_nothing_of_the_first_and_the_operator_sees_it_all(
    speaker, fake_ollama, tmp_path
):
    wav = visitors_wav(
        speaker, tmp_path / "visitors.wav", [0.6, A_NAME, 1.5, A_FOLLOW_UP, 5.0, B_QUESTION, 3.0]
    )
    config = kiosk_toml(
        tmp_path, '[kiosk]\nhealth_port = 0\nwake_phrases = ["hey hark"]\nidle_timeout_s = 1.5\n'
    )
    env = home_env(tmp_path, HARK_LLM_BACKEND="ollama", HARK_LLM_OLLAMA_HOST=fake_ollama.url)
    with Kiosk(
        "--config", config, "--input", str(wav), "--output", str(tmp_path / "out.wav"), env=env
    ) as kiosk:
        kiosk.wait_for("turn")
        status, health = kiosk.healthz()
        assert status == 200, health
        assert health["state"] == "serving" and health["status"] == "ok" and health["problems"] == []
        assert health["session"]["phase"] == "listening" and health["session"]["turns"] == 1
        assert health["llm"] == {
            "status": "ok",
            "backend": "ollama",
            "model": "gemma3:4b",
            "fallback": False,
            "degraded": False,
        }
        assert health["audio"]["input"]["status"] == "ok" and health["last_turn_at"].endswith("Z")
        kiosk.wait_for("turn", count=3)
        metrics = kiosk.metrics()  # while the file's last silence still plays
        code = kiosk.finish()
    assert code == 0, "".join(kiosk.stderr)

    # Every request the model got (speculative ones the loop dropped too), by the question it answers.
    chats = [[(m["role"], m["content"]) for m in chat["messages"]] for chat in fake_ollama.chats()]
    first = [c for c in chats if "astronomy" in c[-1][1]]
    follow_up = [c for c in chats if "love?" in c[-1][1]]
    second_visitor = [c for c in chats if "what is my" in c[-1][1].lower()]
    assert first and follow_up and second_visitor, chats
    assert not any(
        content.startswith("Hey") for c in first for _, content in c
    )  # the wake phrase is not asked
    assert all(any("astronomy" in content for _, content in c[:-1]) for c in follow_up)  # remembered
    for chat in second_visitor:  # the next visitor: a fresh conversation
        assert [role for role, _ in chat] == ["system", "user"], chat
        assert not any("astronomy" in content or "Robert" in content for _, content in chat)

    order = [
        (e["event"], e.get("session")) for e in kiosk.events if e["event"] in ("session_start", "session_end")
    ]
    assert order == [("session_start", 1), ("session_end", 1), ("session_start", 2), ("session_end", 2)]
    assert [e["reason"] for e in kiosk.events_of("session_end")] == ["idle", "idle"]
    last_final = kiosk.events_of("transcript", final=True)[-1]
    assert kiosk.events.index(kiosk.events_of("session_end")[0]) < kiosk.events.index(
        last_final
    )  # ended before B spoke
    turns = kiosk.events_of("turn")
    assert [(t["session"], t["via"], t["kind"]) for t in turns] == [
        (1, "wake_phrase", "answer"),
        (1, "follow_up", "answer"),
        (2, "wake_phrase", "answer"),
    ]
    replies = [r["text"] for r in kiosk.events_of("reply")]
    assert (
        replies[0].startswith(GREETING)
        and replies[2].startswith(GREETING)
        and not replies[1].startswith(GREETING)
    )
    assert all(line["ts"].endswith("Z") and line["level"] in ("info", "debug") for line in kiosk.events)

    assert metrics[("hark_sessions_total", ())] == 2
    assert metrics[("hark_turns_total", (("kind", "answer"),))] == 3
    assert metrics[("hark_session_duration_seconds_count", ())] == 1
    assert metrics[("hark_latency_seconds_count", (("stage", "eos_to_first_audio"),))] == 3
    assert metrics[("hark_ready", ())] == 1
    assert metrics[("process_open_fds", ())] > 0
    assert not [key for key in metrics if key[0] == "hark_errors_total"]


def test_on_the_embedded_model_the_next_visitors_prompt_holds_no_history(speaker, tmp_path):
    # A long silence: the embedded model's reply (it rambles) must be over long before the idle timeout, even
    # on a loaded machine (at 14 s, a reply still being made under load kept the first session open).
    wav = visitors_wav(speaker, tmp_path / "visitors.wav", [0.6, A_NAME, 30.0, B_QUESTION, 1.0])
    config = kiosk_toml(
        tmp_path,
        '[kiosk]\nhealth_port = 0\nwake_phrases = ["hey hark"]\nidle_timeout_s = 2.0\n'
        '[llm]\nbackend = "embedded"\n',
    )
    with Kiosk(
        "--config", config, "--input", str(wav), "--output", str(tmp_path / "out.wav"), env=home_env(tmp_path)
    ) as kiosk:
        code = kiosk.finish(timeout=120)
    assert code == 0, "".join(kiosk.stderr)
    turns = kiosk.events_of("turn")
    assert len(turns) == 2, [
        e for e in kiosk.events if e.get("event") in ("transcript", "turn", "session_start")
    ]
    first, second = turns
    assert (first["session"], second["session"]) == (1, 2) and first["backend"] == "embedded"
    assert first["reply_tokens"] > 5
    # The same system prompt and a question of the same length: had the first exchange been kept, the second
    # prompt would be longer by the whole first question and reply.
    assert abs(second["prompt_tokens"] - first["prompt_tokens"]) <= 4, (first, second)
    ended, started = kiosk.events_of("session_end")[0], kiosk.events_of("session_start")[1]
    assert ended["reason"] == "idle" and kiosk.events.index(ended) < kiosk.events.index(started)


def test_operator_health_metrics_push_to_talk_reload_and_sigterm_mid_reply(speaker, fake_ollama, tmp_path):
    fake_ollama.replier = lambda _messages: (
        "The museum has many rooms. " + "There is a lot to see, " * 12 + "enjoy."
    )
    fake_ollama.behaviour.piece_delay_s = 0.15  # a slow model: the reply is still coming when SIGTERM arrives
    wav = visitors_wav(speaker, tmp_path / "museum.wav", [5.0, "Hey Hark, tell me about the museum.", 20.0])
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(0.5)
    told: set[str] = set()

    def listen() -> None:  # as systemd does, for READY=1, WATCHDOG=1, STOPPING=1
        while True:
            try:
                told.update(notify.recv(4096).decode().splitlines())
            except TimeoutError:
                continue
            except OSError:
                return

    threading.Thread(target=listen, daemon=True).start()
    config = kiosk_toml(
        tmp_path, '[kiosk]\nhealth_port = 0\nwake_phrases = ["hey hark"]\n[llm]\nbackend = "ollama"\n'
    )
    env = home_env(
        tmp_path,
        HARK_LLM_OLLAMA_HOST=fake_ollama.url,
        NOTIFY_SOCKET=str(tmp_path / "notify"),
        WATCHDOG_USEC="600000",
    )
    with Kiosk(
        "--config", config, "--input", str(wav), "--output", str(tmp_path / "out.wav"), env=env
    ) as kiosk:
        kiosk.wait_for("ready")
        status, health = kiosk.healthz()
        assert status == 200 and health["session"] == {"phase": "idle", "sessions": 0}
        assert health["config"]["idle_timeout_s"] == 30.0 and health["config"]["restart_required"] == []
        assert kiosk.get("/nope")[0] == 404
        metrics = kiosk.metrics()
        assert metrics[("hark_ready", ())] == 1 and metrics[("hark_sessions_total", ())] == 0

        kiosk.signal(signal.SIGUSR1)  # push-to-talk: a session, and the greeting
        assert kiosk.wait_for("announcement")[0]["text"] == GREETING
        assert kiosk.events_of("session_start")[0]["via"] == "push_to_talk"

        Path(config).write_text(
            '[kiosk]\nhealth_port = 0\nwake_phrases = ["hey hark", "hello hark"]\nidle_timeout_s = 45\n'
            '[llm]\nbackend = "ollama"\nmodel = "llama3:8b"\n'
        )
        kiosk.signal(signal.SIGHUP)
        reloaded = kiosk.wait_for("config_reloaded")[0]
        assert reloaded["changed"] == ["llm.model", "kiosk.wake_phrases", "kiosk.idle_timeout_s"]
        assert kiosk.wait_for("restart_required")[0]["settings"] == ["llm.model"]
        status, health = kiosk.healthz()
        assert status == 200 and health["config"]["idle_timeout_s"] == 45.0
        assert health["config"]["wake_phrases"] == ["hey hark", "hello hark"]
        assert health["config"]["restart_required"] == ["llm.model"] and health["config"]["reloads"] == 1

        Path(config).write_text('[kiosk]\nidle_timeout_s = "soon"\n')
        kiosk.signal(signal.SIGHUP)
        error = kiosk.wait_for("config_error")[0]
        assert 'kiosk.idle_timeout_s: must be a positive number (got "soon")' in error["error"]
        assert error["level"] == "error"
        status, health = kiosk.healthz()
        assert status == 200 and health["config"]["idle_timeout_s"] == 45.0  # the running config was kept

        kiosk.wait_for("transcript", final=True, timeout=30)  # the question; its reply is being made
        sent = time.monotonic()
        kiosk.signal(signal.SIGTERM)
        code = kiosk.finish(timeout=10)
        stop_s = time.monotonic() - sent
    assert code == 0 and stop_s < 5.0, (code, stop_s, "".join(kiosk.stderr))
    print(f"SIGTERM mid-reply: exited in {stop_s:.2f}s")
    assert kiosk.events_of("reply")[-1]["interrupted"] is True  # the reply was cut, not played to its end
    assert (
        kiosk.events_of("stopping")[0]["signal"] == "SIGTERM"
        and "forced" not in kiosk.events_of("stopped")[0]
    )
    notify.close()
    assert {"READY=1", "STATUS=serving", "WATCHDOG=1", "STOPPING=1"} <= told, told


def test_sigterm_while_the_model_server_hangs_exits_0_within_a_second(speaker, fake_ollama, tmp_path):
    fake_ollama.behaviour.hang_s = 30
    wav = visitors_wav(speaker, tmp_path / "q.wav", [0.5, "Hey Hark, what time is it?", 20.0])
    config = kiosk_toml(tmp_path, '[kiosk]\nhealth_port = 0\n[llm]\nbackend = "ollama"\n')
    env = home_env(tmp_path, HARK_LLM_OLLAMA_HOST=fake_ollama.url)
    with Kiosk(
        "--config", config, "--input", str(wav), "--output", str(tmp_path / "out.wav"), env=env
    ) as kiosk:
        deadline = time.monotonic() + 30
        while not fake_ollama.chats() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake_ollama.chats(), kiosk.events
        time.sleep(0.3)  # the turn is waiting for the model's first word now, which never comes
        sent = time.monotonic()
        kiosk.signal(signal.SIGTERM)
        code = kiosk.finish(timeout=10)
        stop_s = time.monotonic() - sent
    assert code == 0 and stop_s < 1.0, (code, stop_s, "".join(kiosk.stderr))
    print(f"SIGTERM with a hung model: exited in {stop_s:.2f}s")
    assert "forced" not in kiosk.events_of("stopped")[-1]  # the model call was abandoned, not the process


def test_a_failing_model_server_gets_an_apology_is_reported_and_recovers(speaker, fake_ollama, tmp_path):
    fake_ollama.behaviour.fail_status = 500
    wav = visitors_wav(
        speaker, tmp_path / "two.wav", [0.5, "Where is the cafe?", 2.5, "Where is the shop?", 2.0]
    )
    config = kiosk_toml(
        tmp_path,
        '[kiosk]\nhealth_port = 0\n[llm]\nbackend = "ollama"\n[recovery]\nretries = 0\ncooldown_s = 0\n',
    )
    env = home_env(tmp_path, HARK_LLM_OLLAMA_HOST=fake_ollama.url)
    with Kiosk(
        "--config", config, "--input", str(wav), "--output", str(tmp_path / "out.wav"), env=env
    ) as kiosk:
        failed = kiosk.wait_for("turn")[0]
        assert failed["kind"] == "answer" and "error" in failed
        assert kiosk.wait_for("reply")[0]["text"].endswith(APOLOGY)  # spoken, after the greeting
        status, health = kiosk.healthz()
        assert status == 503 and health["llm"]["status"] == "down" and health["llm"]["error"]
        fake_ollama.behaviour.fail_status = None  # the server is back
        answered = kiosk.wait_for("turn", count=2)[1]
        assert "error" not in answered and kiosk.events_of("reply")[1]["text"].startswith("You said")
        status, health = kiosk.healthz()
        assert status == 200 and health["llm"]["status"] == "ok"
        assert kiosk.metrics()[("hark_errors_total", (("kind", "llm"),))] == 1
        code = kiosk.finish()
    assert code == 0, "".join(kiosk.stderr)
