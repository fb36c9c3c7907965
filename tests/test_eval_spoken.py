"""Spoken turns: Piper-synthesised clips through Whisper, the dialogue manager and Piper again."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import silence, spoken, write_wav
from PIL import Image
from test_eval_helpers import answered, front_desk_replier, on_server, run_eval, write_suite

from dialogue.persona import DEFAULT_REPROMPT
from hark.evaluation.wer import word_error_rate

pytestmark = pytest.mark.integration

QUESTION = "What is the capital of France?"


@pytest.fixture
def clips(speaker, tmp_path):
    """The question with a little silence around it, and a clip of silence only."""
    (tmp_path / "clips").mkdir()
    question = np.concatenate([silence(0.3), spoken(speaker, QUESTION), silence(0.3)])
    write_wav(tmp_path / "clips" / "capital.wav", question)
    write_wav(tmp_path / "clips" / "quiet.wav", silence(1.5))
    return tmp_path


@pytest.fixture
def server(fake_ollama, monkeypatch, transcriber, speaker):
    """The test server, and the session's Whisper and Piper in place of loading them again."""
    monkeypatch.setattr("hark.assembly.build_transcriber", lambda config, reporter: transcriber)
    monkeypatch.setattr("hark.assembly.build_speaker", lambda config, reporter, persona=None: speaker)
    fake_ollama.replier = front_desk_replier
    return fake_ollama


SPOKEN = f"""
name: spoken
cases:
  - name: heard and answered
    turns:
      - audio: clips/capital.wav
        expect:
          transcript: "{QUESTION}"
          transcript_wer_max: 0.2
          regex: "(?i)paris"
          max_latency_s: 60
  - name: misheard on purpose
    turns:
      - audio: clips/capital.wav
        expect: {{transcript: "What is the capital of Spain?"}}
  - name: silence is reprompted
    turns:
      - audio: clips/quiet.wav
        expect: {{contains: "didn't catch that"}}
"""


def test_spoken_turns_pass_and_fail_on_what_was_heard(server, clips, capsys):
    run = run_eval(capsys, *on_server(server, str(write_suite(clips, SPOKEN)), "--json"))
    assert run.code == 1
    heard, misheard, quiet = (r["turns"][0] for r in run.summary["results"])
    assert heard["passed"] and heard["audio"] == "clips/capital.wav"
    assert [(c["expect"], c["status"]) for c in heard["checks"]] == [
        ("transcript", "pass"),
        ("regex", "pass"),
        ("max_latency_s", "pass"),
    ]
    assert heard["reply"] == "The capital of France is Paris."
    assert 0 < heard["stt_s"] <= heard["first_token_s"] <= heard["first_audio_s"] <= heard["total_s"]
    assert heard["checks"][2]["reason"].startswith("first audio ")
    misheard_check = misheard["checks"][0]
    # One word of six is wrong when Whisper hears the clip exactly; the reason reports what it did hear
    wer = word_error_rate("What is the capital of Spain?", misheard["user"])
    assert wer > 0 and misheard_check["status"] == "fail"
    assert misheard_check["reason"].startswith(f"WER {wer:.2f} > 0.00: heard ")
    assert quiet["user"] == "" and quiet["reply"] == DEFAULT_REPROMPT and quiet["passed"]
    # The model heard the transcripts of the two spoken questions, and nothing for the silence.
    assert [c["messages"][-1]["content"] for c in answered(server)] == [heard["user"], misheard["user"]]
    assert run.summary["failed"] == 1 and run.summary["passed"] == 2


def test_a_spoken_question_with_a_picture_sends_both(server, clips, capsys):
    Image.new("RGB", (32, 24), "orange").save(clips / "square.png")
    suite = write_suite(
        clips,
        """
        name: spoken photo
        cases:
          - name: asks about a picture
            turns:
              - audio: clips/capital.wav
                images: [square.png]
                expect: {regex: "(?i)paris"}
        """,
    )
    run = run_eval(capsys, *on_server(server, str(suite), "--json"))
    assert run.code == 0
    (chat,) = answered(server)
    assert (
        chat["messages"][-1]["content"].startswith("What is the capital") and chat["messages"][-1]["images"]
    )
    assert run.case("asks about a picture")["turns"][0]["images"] == 1
