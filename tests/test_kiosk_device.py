"""The kiosk on real audio devices (a user-space PulseAudio server): a microphone that is missing at boot,
appears later, serves a visitor, and is lost again — retried with backoff and reported on /healthz."""

from __future__ import annotations

import signal

import pytest
from test_kiosk_cli import Kiosk, home_env, kiosk_toml, visitors_wav

from hark.benchmark.pulse import PulseServer

pytestmark = [pytest.mark.integration, pytest.mark.device]

QUESTION = "Where is the gift shop?"


def test_a_missing_microphone_is_retried_reported_found_when_it_appears_and_lost_again(
    speaker, fake_ollama, tmp_path
):
    question = visitors_wav(speaker, tmp_path / "question.wav", [0.2, QUESTION, 0.3])
    pulse_dir = tmp_path / "pulse"
    pulse_dir.mkdir()
    env = home_env(
        tmp_path,
        PULSE_SERVER=f"unix:{pulse_dir / 'native'}",  # no sound server there yet: no audio device at all
        PULSE_SOURCE="room_mic",
        PULSE_SINK="speaker",
        HARK_AUDIO_RETRY_MAX_S="1",
        HARK_LLM_BACKEND="ollama",
        HARK_LLM_OLLAMA_HOST=fake_ollama.url,
    )
    server: PulseServer | None = None
    with Kiosk("--config", kiosk_toml(tmp_path, "[kiosk]\nhealth_port = 0\n"), env=env) as kiosk:
        try:
            down = kiosk.wait_for("audio_input", status="down", timeout=30)[0]
            assert "no audio input device" in down["error"] and down["level"] == "warning"
            status, health = kiosk.healthz()
            assert status == 503 and health["status"] == "unavailable"
            assert (
                health["audio"]["input"]["status"] == "down" and health["audio"]["input"]["retry_in_s"] <= 1
            )
            assert any("microphone" in problem for problem in health["problems"])

            server = PulseServer(pulse_dir)  # the device appears
            kiosk.wait_for("audio_input", status="ok", timeout=30)
            status, health = kiosk.healthz()
            assert status == 200, health

            server.play_into_room(question)
            heard = kiosk.wait_for("transcript", final=True, timeout=60)[0]
            assert "gift shop" in heard["text"].lower(), heard
            assert kiosk.wait_for("turn", timeout=60)[0]["kind"] == "answer"
            assert kiosk.wait_for("reply", timeout=60)[0]["interrupted"] is False
            status, health = kiosk.healthz()
            assert health["audio"]["output"]["status"] == "ok"  # the reply was played on the speaker

            recovered_at = len(kiosk.events)
            server.stop()  # the device is lost
            server = None
            kiosk.wait_for(
                "audio_input", status="down", count=len(kiosk.events_of("audio_input", status="down")) + 1
            )
            assert any(e["event"] == "audio_input" for e in kiosk.events[recovered_at:])
            status, health = kiosk.healthz()
            assert status == 503 and health["audio"]["input"]["status"] == "down"

            kiosk.signal(signal.SIGTERM)
            assert kiosk.finish(timeout=10) == 0
        finally:
            if server is not None:
                server.stop()
    assert kiosk.process.returncode == 0
