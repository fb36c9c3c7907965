"""`hark talk --wake-word` end to end on the real models: only what begins with the wake word is answered."""

from __future__ import annotations

import json

import pytest
from audio_fixtures import conversation_wav
from test_talk_cli import events, hark

from voice.processors.wake import BUILTIN_WAKE_WORDS

pytestmark = pytest.mark.integration


def test_answers_only_the_utterance_that_begins_with_the_wake_word(speaker, tmp_path):
    said = ["Hey Jarvis, how many legs does a spider have?", "What color is the sky?"]
    path, _ = conversation_wav(speaker, tmp_path / "wake.wav", said, gap_s=2.0)
    result = hark(
        "talk", "--wake-word", "hey_jarvis", "--input", str(path), "--output", str(tmp_path / "r.wav"),
        "--json", "--llm", "embedded",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    evs = events(result.stdout)
    finals = [e for e in evs if e["event"] == "transcript" and e["final"]]
    assert len(finals) == 2, finals
    assert [bool(f.get("ignored")) for f in finals] == [False, True], finals
    replies = [e for e in evs if e["event"] == "reply"]
    assert len(replies) == 1 and replies[0]["turn_id"] == finals[0]["turn_id"] and replies[0]["text"].strip()
    assert [e["name"] for e in evs if e["event"] == "wake_word"] == ["hey_jarvis"]
    metrics = [e for e in evs if e["event"] == "metrics"]
    assert len(metrics) == 1 and metrics[0]["erle_db"] is None  # replies to a file: no echo to cancel


def test_an_unknown_wake_word_lists_the_available_ones():
    result = hark("talk", "--wake-word", "hey_hark", "--input", "/nonexistent.wav")
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown wake word 'hey_hark'")
    assert all(name in result.stderr for name in BUILTIN_WAKE_WORDS)


def test_a_file_that_is_not_a_wake_word_model_is_a_clear_error(tmp_path):
    fake = tmp_path / "hey_hark.json"
    fake.write_text(json.dumps({"model": "hey_hark.tflite", "micro": {"probability_cutoff": 0.9}}))
    (tmp_path / "hey_hark.tflite").write_bytes(b"not a model at all")
    result = hark("talk", "--wake-word", str(fake), "--input", "/nonexistent.wav")
    assert result.returncode == 2
    assert "is not a TFLite wake word model" in result.stderr and "Traceback" not in result.stderr
