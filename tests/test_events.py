"""The loop's typed events keep the `--json` lines the CLI has always printed, plus `turn_id`."""

from __future__ import annotations

import dataclasses

import pytest

from voice import events


def test_json_lines_keep_their_keys_and_add_the_turn_id():
    lines = [
        events.Transcript(1, final=False, text="what is", committed="what").to_json(),
        events.Transcript(1, final=True, text="what is it", confidence=0.9).to_json(),
        events.Reply(1, "It is.", interrupted=False).to_json(),
        events.BargeIn(1, 0.42).to_json(),
        events.Error(1, "audio_output", "gone").to_json(),
        events.Announcement(2, "Hello", interrupted=True).to_json(),
        events.NoSpeechTimeout(2).to_json(),
    ]
    assert lines == [
        {"event": "transcript", "turn_id": 1, "final": False, "text": "what is", "committed": "what"},
        {"event": "transcript", "turn_id": 1, "final": True, "text": "what is it", "confidence": 0.9},
        {"event": "reply", "turn_id": 1, "text": "It is.", "interrupted": False},
        {"event": "barge_in", "turn_id": 1, "speech_s": 0.42},
        {"event": "error", "turn_id": 1, "kind": "audio_output", "message": "gone"},
        {"event": "announcement", "turn_id": 2, "text": "Hello", "interrupted": True},
        {"event": "no_speech_timeout", "turn_id": 2},
    ]


def test_metrics_carry_every_stage_and_report_only_the_measured_ones():
    metrics = events.Metrics(3, 0.5, 0.45, 0.0, 0.1, None, speculative=True, utterance_s=1.2)
    line = metrics.to_json()
    assert set(events.STAGES) <= set(line) and line["speculative"] is True and line["utterance_s"] == 1.2
    assert metrics.latencies() == {
        "eos_to_first_audio_s": 0.5,
        "endpoint_s": 0.45,
        "stt_s": 0.0,
        "llm_first_token_s": 0.1,
    }


def test_events_are_immutable():
    event = events.SpeechEnded(4, stream_s=2.5, speech_start_s=1.0, at_s=10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.stream_s = 3.0  # type: ignore[misc]
