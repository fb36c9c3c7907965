"""The end-of-turn model wired into Hark: the `[turn]` settings, how the assembly loads the model (and
what a bad one does), and `hark talk` on a Piper sentence said with a pause in the middle."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import conversation_wav
from test_talk_cli import events, hark

import voice.turn.model as turn_model_module
from hark import assembly
from hark.config import load_config
from hark.errors import UserError
from hark.evaluation.wer import word_error_rate
from hark.report import Reporter
from voice.tts import Speaker, TtsConfig
from voice.turn import EndOfTurnModel, TurnModelError

HALF, REST = "I would like to book a table for", "four people at seven tonight."


class Notes(Reporter):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)


def test_the_turn_settings_reach_the_loop_with_the_hang_as_fallback():
    config = load_config(None, {"HARK_TURN_MAX_WAIT_S": "1.2", "HARK_VAD_HANG_S": "0.6"})
    loop = assembly.loop_config(config, realtime_sink=False)
    assert loop.turn.max_wait_s == 1.2 and loop.turn.hang_s == 0.6 and loop.turn.use_text


def test_an_impossible_combination_of_turn_settings_is_a_user_error():
    config = load_config(None, {"HARK_TURN_MIN_PAUSE_S": "1.5", "HARK_TURN_MAX_WAIT_S": "1.0"})
    with pytest.raises(UserError, match=r"\[turn\]: min_pause_s"):
        assembly.loop_config(config, realtime_sink=False)


def test_the_bundled_model_is_loaded_by_default_and_off_loads_nothing():
    notes = Notes()
    assert isinstance(assembly.build_turn_model(load_config(None, {}), notes), EndOfTurnModel)
    assert assembly.build_turn_model(load_config(None, {"HARK_TURN_MODEL": "off"}), notes) is None


@pytest.mark.parametrize("content", [None, b"not an onnx model"])
def test_a_named_model_that_is_missing_or_corrupt_is_an_error(tmp_path, content):
    path = tmp_path / "turn.onnx"
    if content is not None:
        path.write_bytes(content)
    config = load_config(None, {"HARK_TURN_MODEL": str(path)})
    with pytest.raises(UserError, match=r"turn\.model: "):
        assembly.build_turn_model(config, Notes())


def test_a_broken_bundled_model_is_a_warning_and_the_hang_takes_over(monkeypatch):
    def missing():
        raise TurnModelError("the Smart Turn model is missing")

    monkeypatch.setattr(turn_model_module, "bundled_model_path", missing)
    notes = Notes()
    assert assembly.build_turn_model(load_config(None, {"HARK_VAD_HANG_S": "0.7"}), notes) is None
    assert any(
        line.startswith("warning: the Smart Turn model is missing") and "0.7 s" in line
        for line in notes.lines
    )


def test_deterministic_synthesis_gives_the_same_audio_every_time():
    speaker = Speaker(TtsConfig(deterministic=True))
    first, second = speaker.synthesize_all(HALF), speaker.synthesize_all(HALF)
    assert first.size > 0 and np.array_equal(first, second)


@pytest.mark.integration
def test_talk_answers_a_sentence_said_with_a_pause_once_to_the_whole_sentence(speaker, tmp_path):
    path, _ = conversation_wav(speaker, tmp_path / "paused.wav", [HALF, REST], gap_s=0.8, tail_s=1.0)
    result = hark("talk", "--input", str(path), "--output", str(tmp_path / "out.wav"), "--json")
    assert result.returncode == 0, result.stderr
    lines = events(result.stdout)
    finals = [e for e in lines if e["event"] == "transcript" and e["final"]]
    assert len(finals) == 1, finals
    assert word_error_rate(f"{HALF} {REST}", finals[0]["text"]) <= 0.2, finals
    assert len([e for e in lines if e["event"] == "reply"]) == 1
    (metrics,) = [e for e in lines if e["event"] == "metrics"]
    assert isinstance(metrics["eos_to_first_audio_s"], float)


@pytest.mark.integration
def test_talk_with_a_turn_model_file_that_is_not_one_stops_with_a_clear_error(speaker, tmp_path):
    bad = tmp_path / "turn.onnx"
    bad.write_text("not a model")
    wav, _ = conversation_wav(speaker, tmp_path / "q.wav", ["Hello there."])
    result = hark("talk", "--input", str(wav), "--output", str(tmp_path / "o.wav"), "--turn-model", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: turn.model: ")
