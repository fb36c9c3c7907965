"""`hark bench echo` on real Piper replies: the numbers the issue targets, on two echo paths."""

from __future__ import annotations

import json

import pytest

from hark.benchmark.echo import run_echo_bench
from voice.tts import Speaker, TtsConfig


@pytest.fixture(scope="module")
def same_voice_every_run():
    """Piper without its random noise: the replies, and so the bench's numbers, are the same on every run."""
    return Speaker(TtsConfig(deterministic=True))


def test_echo_bench_meets_the_targets_and_sees_what_aec_prevents(same_voice_every_run):
    report = run_echo_bench(same_voice_every_run, paths=((0.05, 8.0), (0.15, 20.0)))
    json.dumps(report)  # JSON-ready
    assert report["erle_db"] >= 20.0
    assert report["self_interruptions"] == 0
    assert report["self_interruptions_without_aec"] >= len(report["paths"]) * 2  # the bench sees echo
    assert report["barge_in_detection_rate"] >= 0.95
    assert 0.0 < report["cpu_share_of_core"] <= 0.05
    assert 0.0 < report["time_to_detection_s_median"] <= 1.0
    for path in report["paths"]:
        assert abs(path["tracked_delay_ms"] - path["delay_ms"]) <= 5
        assert all(0.0 < d <= 1.0 for d in path["barge_in_detect_s"])
