"""Acoustic cases: a spoken turn in a room (noise at an SNR, reverberation, pauses, Hark's own echo, the user
talking over the reply) played through the real voice loop in real time, on real Piper speech and Whisper."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import silence, spoken, write_wav
from test_eval_helpers import WARM_UP_PROMPT, on_server, run_eval, write_suite

from hark.benchmark.recording import last_audible_s
from hark.evaluation.acoustic import (
    Noise,
    Scene,
    add_noise,
    compose,
    impulse_response,
    snr_db,
)
from voice import SAMPLE_RATE
from voice.decode import to_float32, to_int16

REPLY = "We open at nine tomorrow morning and close at five in the evening."


@pytest.fixture
def server(fake_ollama, monkeypatch, transcriber, speaker):
    """The test server with a reply of about four seconds, and the session's Whisper and Piper."""
    monkeypatch.setattr("hark.assembly.build_transcriber", lambda config, reporter: transcriber)
    monkeypatch.setattr("hark.assembly.build_speaker", lambda config, reporter, persona=None: speaker)
    fake_ollama.replier = lambda messages: "OK." if messages[-1]["content"] == WARM_UP_PROMPT else REPLY
    return fake_ollama


def test_noise_is_mixed_at_the_asked_snr(speaker):
    voice = to_float32(spoken(speaker, "When are you open tomorrow?"))
    rng = np.random.default_rng(1)
    for target in (0.0, 10.0, 25.0):
        noise = rng.standard_normal(SAMPLE_RATE).astype(np.float32)
        mixed = add_noise(voice, noise, target)
        assert snr_db(voice, mixed - voice) == pytest.approx(target, abs=0.05)


def test_the_room_keeps_the_true_end_of_speech_and_decays_in_rt60(speaker):
    rng = np.random.default_rng(2)
    voice = to_float32(spoken(speaker, "Where is the cafe?"))
    utterance = compose(voice, Scene(noise=Noise("white", 5.0), reverb_s=0.6), speaker, rng, lead_s=0.5)
    assert utterance.speech_end_s == pytest.approx(0.5 + last_audible_s(to_int16(voice)), abs=1e-3)
    assert utterance.audio.size >= voice.size + SAMPLE_RATE // 2
    energy = impulse_response(0.6, rng)[1:] ** 2
    tail = np.cumsum(energy[::-1])[::-1]  # Schroeder integral: -60 dB by the end, about -30 dB at half-way
    half = 10 * np.log10(tail[int(0.3 * SAMPLE_RATE)] / tail[0])
    assert -36 < half < -24


ROOM = """
name: room
cases:
  - name: heard over white noise
    turns:
      - say: "When are you open tomorrow?"
        noise: white
        snr_db: 10
        expect:
          wer_max: 0.2
          cut_off: false
          interrupted: false
          self_interruption: false
          end_of_turn_delay_max_s: 3
          first_audio_max_s: 30
          contains: "nine"
  - name: heard in a reverberant cafe
    turns:
      - say: "How do I get to the cafe?"
        noise: babble
        snr_db: 15
        reverb_s: 0.4
        expect: {wer_max: 0.5}
  - name: talked over
    turns:
      - say: "When are you open tomorrow?"
        barge_in_at_s: 1.0
        expect: {interrupted: true, self_interruption: false}
  - name: a short pause is not the end
    turns:
      - say: "When are you open on [pause 0.25] Sundays?"
        expect: {cut_off: false, wer_max: 0.2}
  - name: a long pause is taken for the end
    turns:
      - say: "When are you open [pause 1.6] tomorrow morning?"
        expect: {cut_off: false}
  - name: hears itself without echo cancellation
    turns:
      - say: "When are you open tomorrow?"
        echo_db: -3
        expect: {self_interruption: false}
"""


def test_acoustic_cases_through_the_voice_loop(server, tmp_path, capsys):
    suite = write_suite(tmp_path, ROOM)
    # The fixed hang ends turns here, so the pause cases test the eval's cut-off check, not the end-of-turn
    # model (tests/test_turn_wiring.py and test_loop_turns.py test that on real and scripted audio).
    argv = ("--turn-taking", "barge-in", "--turn-model", "off", "--json")
    run = run_eval(capsys, *on_server(server, str(suite), *argv))
    assert run.code == 1, run.err
    status = {r["name"]: r["status"] for r in run.summary["results"]}
    assert status == {
        "heard over white noise": "passed",
        "heard in a reverberant cafe": "passed",
        "talked over": "passed",
        "a short pause is not the end": "passed",
        "a long pause is taken for the end": "failed",
        "hears itself without echo cancellation": "failed",
    }
    (noisy,) = run.case("heard over white noise")["turns"]
    loop = noisy["loop"]
    assert 0 < loop["end_of_turn_delay_s"] < 3 and loop["first_audio_s"] == noisy["first_audio_s"]
    assert loop["first_audio_s"] > loop["end_of_turn_delay_s"]  # the reply starts after the turn ends
    assert noisy["stt_s"] is not None and noisy["first_token_s"] > 0  # the loop's latencies are recorded
    (talked,) = run.case("talked over")["turns"]
    barge = talked["loop"]
    assert barge["interrupted"] and barge["barge_ins_s"][0] > barge["barge_in_start_s"]
    (long_pause,) = run.case("a long pause is taken for the end")["turns"]
    assert long_pause["checks"][0]["reason"].startswith("cut off at")
    (echo,) = run.case("hears itself without echo cancellation")["turns"]
    assert echo["checks"][0]["reason"].startswith("barged in on itself")


BAD = {
    "not audio": ("noise: noise.wav\n            snr_db: 10", "noise file"),
    "snr too high": ("noise: white\n            snr_db: 100", "'snr_db' must be a number from -10 to 60 dB"),
    "snr alone": ("snr_db: 10", "'snr_db' needs 'noise' beside it"),
    "echo too loud": ("echo_db: 6", "'echo_db' must be a number from -60 to 0 dB"),
    "missing noise": ("noise: nowhere.wav\n            snr_db: 10", "noise file not found"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_scenes_are_refused_before_anything_runs(name, fake_ollama, tmp_path, capsys):
    (tmp_path / "noise.wav").write_text("this is not audio", encoding="utf-8")
    scene, message = BAD[name]
    text = f"""
    name: bad
    cases:
      - name: one
        turns:
          - say: "Hello there."
            {scene}
            expect: {{cut_off: false}}
    """
    run = run_eval(capsys, *on_server(fake_ollama, str(write_suite(tmp_path, text))))
    assert run.code == 2 and message in run.err and "error:" in run.err
    assert fake_ollama.chats() == []


def test_loop_expectations_need_a_spoken_turn(fake_ollama, tmp_path, capsys):
    text = """
    name: bad
    cases:
      - name: typed
        turns:
          - user: "Hello"
            expect: {interrupted: false}
    """
    run = run_eval(capsys, *on_server(fake_ollama, str(write_suite(tmp_path, text))))
    assert run.code == 2 and "'interrupted' applies only to a spoken turn" in run.err


def test_a_room_where_nothing_is_said_ends_and_fails_its_checks(server, tmp_path, capsys):
    write_wav(tmp_path / "quiet.wav", silence(1.5))
    text = """
    name: quiet
    cases:
      - name: nothing said
        turns:
          - audio: quiet.wav
            noise: white
            snr_db: 60
            expect: {first_audio_max_s: 5, interrupted: false}
    """
    run = run_eval(capsys, *on_server(server, str(write_suite(tmp_path, text)), "--json"))
    assert run.code == 1, run.err
    (turn,) = run.case("nothing said")["turns"]
    assert [c["reason"] for c in turn["checks"]] == [
        "no reply audio after the user finished",
        "no reply was played",
    ]
    assert turn["loop"]["turn_ended_s"] == [] and turn["loop"]["interrupted"] is None
