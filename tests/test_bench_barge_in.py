"""`hark bench barge-in`: its reading of the recording (synthetic signals), and one short run through a
user-space PulseAudio room with an echo path."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from audio_fixtures import spoken

from hark.benchmark.barge_in import (
    OWN_END_S,
    QUIET_S,
    Trial,
    detectable_after_s,
    silent_from_s,
    speech_onset_s,
    summarise,
)
from hark.benchmark.recording import first_audible_s
from voice import SAMPLE_RATE


def tone(seconds: float, level: float = 8000.0, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.int16)


def test_the_interruption_is_found_in_the_room_under_the_echo():
    rng = np.random.default_rng(1)
    clip = (rng.normal(0, 6000, int(0.8 * SAMPLE_RATE))).astype(np.int16)
    echo = (rng.normal(0, 2000, 6 * SAMPLE_RATE)).astype(np.int16)  # Hark's echo, all along
    room = echo.copy()
    room[int(3.2 * SAMPLE_RATE) : int(3.2 * SAMPLE_RATE) + clip.size] += clip
    # expected 0.4 s early (paplay's start-up): still found where it is, plus the clip's own lead
    assert speech_onset_s(room, clip, expected_s=2.8, clip_onset_s=0.1) == pytest.approx(3.3, abs=0.001)


def test_the_speaker_counts_as_silent_only_after_a_quiet_longer_than_its_pauses():
    speaker = np.concatenate([tone(1.0), silence(0.5), tone(1.0), silence(2.0)])
    assert silent_from_s(speaker, 0.2) == pytest.approx(2.5, abs=0.02)  # the 0.5 s pause is not the end
    assert silent_from_s(speaker[: int(2.8 * SAMPLE_RATE)], 0.2) is None  # never quiet for QUIET_S
    assert QUIET_S > 0.5


def test_a_pause_in_the_interruption_puts_off_the_point_where_it_can_be_detected(speaker):
    """The rule fires once `barge_in_min_s` lies between the first and the latest speech: during a pause
    after the first word, it cannot."""
    word, rest = spoken(speaker, "Wait."), spoken(speaker, "stop talking please.")
    # 0.25 s of the word: Piper's whole "Wait." is sometimes 0.4 s long, and the rule fires inside it
    start = round(first_audible_s(word) * SAMPLE_RATE)
    word = word[start : start + SAMPLE_RATE // 4]
    for audio, earliest, latest in (
        (np.concatenate([silence(0.3), word, silence(0.5), rest]), 0.7, 2.0),  # resumes 0.75 s in
        (np.concatenate([silence(0.3), rest]), 0.4, 0.55),
    ):
        onset = first_audible_s(audio)
        assert earliest <= detectable_after_s(audio, onset, 0.4) <= latest
    assert detectable_after_s(silence(2.0), 0.0, 0.4) is None


def trial(
    turn_id: int,
    detected: bool,
    silence_s: float | None,
    ended_before: bool = False,
    echo: int = 0,
    after: float | None = None,
):
    return Trial(
        turn_id,
        turn_id,
        1.0,
        detected,
        echo,
        silence_s=silence_s,
        after_detectable_s=after,
        ended_before=ended_before,
    )


def test_the_summary_counts_only_replies_still_playing_and_times_only_what_could_be_timed():
    trials = [
        trial(1, True, 0.10, after=0.05),
        trial(2, True, 0.30, echo=1, after=0.15),
        trial(3, False, 2.0),  # played on: a miss
        trial(4, False, None, ended_before=True),  # over before the person spoke
        trial(5, True, -0.2),  # the speaker was between two chunks: stopped, not timed
    ]
    result = summarise(trials, barge_in_min_s=0.4, replies=6)
    assert result["trials"] == 4 and result["detected"] == 3 and result["detection_rate"] == 0.75
    assert result["timed"] == 2 and result["median_time_to_silence_s"] == 0.2
    assert result["already_silent"] == 1 and result["in_time_rate"] == round(2 / 3, 3)
    assert result["in_time_after_detectable_rate"] == 1.0  # 0.05 and 0.15 (trial 5 has no detectable)
    assert result["max_time_to_silence_s"] == 0.3 and result["median_silence_after_detectable_s"] == 0.1
    assert result["self_interruptions"] == 1 and result["replies_over_before_interruption"] == 1
    assert [t["turn_id"] for t in result["per_trial"]] == [1, 2, 3, 4, 5]
    assert OWN_END_S == 0.15


def test_bad_trial_counts_are_a_clear_error():
    done = subprocess.run(
        [sys.executable, "-m", "hark.cli", "bench", "barge-in", "--trials", "0"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: --trials"), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.integration
@pytest.mark.device
def test_a_short_run_through_a_pulseaudio_room(tmp_path):
    done = subprocess.run(
        [
            sys.executable, "-m", "hark.cli", "bench", "barge-in", "--trials", "2", "--llm", "embedded",
            "--json", "--keep", str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["per_trial"]) == 2
    assert result["trials"] + result["replies_over_before_interruption"] == 2
    assert 0 <= result["detected"] <= result["trials"]
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "reply_started" for e in events) >= 3  # the greeting and two stories
    assert (tmp_path / "bus.wav").stat().st_size > 10 * 2 * 2 * SAMPLE_RATE  # 10 s and more, both sides
