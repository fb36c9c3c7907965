"""`hark talk` on real audio devices: a user-space PulseAudio server, the microphone hearing the "room",
Hark's speaker recorded back on the same clock."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
import soundfile
from audio_fixtures import conversation_wav

from hark.benchmark.pulse import HarkSession, PulseServer
from hark.evaluation.wer import word_error_rate

pytestmark = [pytest.mark.integration, pytest.mark.device]

QUESTION = "Tell me a long story about a friendly dragon."
INTERRUPTION = "Wait, wait, stop talking please."
HALF, REST = "I would like to book a table for", "four people at seven tonight."


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def clips(speaker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    question, _ = conversation_wav(speaker, folder / "question.wav", [QUESTION], lead_s=0.2, tail_s=0.2)
    interruption, _ = conversation_wav(speaker, folder / "stop.wav", [INTERRUPTION], lead_s=0.1, tail_s=0.2)
    return question, interruption


@pytest.fixture(scope="module")
def pausing(speaker, tmp_path_factory):
    """A sentence said in two halves with a 0.8 s hesitation between them."""
    folder = tmp_path_factory.mktemp("pausing")
    path, _ = conversation_wav(
        speaker, folder / "pausing.wav", [HALF, REST], lead_s=0.2, gap_s=0.8, tail_s=0.2
    )
    return path


def sound_spans(channel: np.ndarray, rate: int = 16_000, level: int = 600, min_gap_s: float = 0.35):
    """(start_s, end_s) spans of sound, merging gaps shorter than `min_gap_s` (pauses between words)."""
    window = int(0.02 * rate)
    n = channel.size // window
    loud = np.abs(channel[: n * window].astype(np.int32)).reshape(n, window).max(axis=1) > level
    spans: list[list[float]] = []
    for i in np.flatnonzero(loud):
        t = i * window / rate
        if spans and t - spans[-1][1] <= min_gap_s:
            spans[-1][1] = t + window / rate
        else:
            spans.append([t, t + window / rate])
    return [tuple(s) for s in spans]


def run_session(pulse, clips, tmp_path, *args):
    question, interruption = clips
    recording = tmp_path / "bus.wav"
    session = HarkSession(pulse, *args)
    assert session.listening.wait(120), "".join(session.stderr)
    session.wait_for("announcement")  # the persona's greeting has been spoken
    recorder = pulse.record_bus(recording)
    time.sleep(1.0)
    pulse.play_into_room(question)
    session.wait_for("transcript", final=True)
    time.sleep(1.2)  # the reply is playing now
    pulse.play_into_room(interruption)
    time.sleep(4.0)
    session.wait_for("reply")
    recorder.send_signal(signal.SIGINT)
    recorder.wait(timeout=10)
    code = session.stop()
    audio, rate = soundfile.read(recording, dtype="int16")
    assert rate == 16_000 and audio.ndim == 2
    return session, code, audio


def test_reply_is_heard_on_the_speaker_and_barge_in_cuts_it_short(pulse, clips, tmp_path):
    session, code, audio = run_session(
        pulse, clips, tmp_path, "--turn-taking", "barge-in", "--barge-in-min", "0.3"
    )
    assert code == 0, "".join(session.stderr)
    first = session.wait_for("transcript", final=True)[0]
    assert word_error_rate(QUESTION, first["text"]) <= 0.25, first
    assert session.wait_for("barge_in")
    reply = session.wait_for("reply")[0]
    assert reply["interrupted"] is True
    room, speaker = sound_spans(audio[:, 0]), sound_spans(audio[:, 1])
    assert len(room) >= 2, room  # the question and the interruption
    # The greeting's last 0.1 s may still be in the speaker's buffer when the recording starts.
    replies = [start for start, _ in speaker if start > room[0][0]]
    assert replies, "Hark's reply was not heard on the speaker"
    reply_start = replies[0]
    assert reply_start > room[0][1]  # it answered after the question
    interruption_start = next(start for start, _ in room if start > reply_start)
    reply_end = next(end for start, end in speaker if start <= interruption_start + 0.3 <= end + 0.35)
    # The reply stopped soon after the interruption got going, not at its natural end many seconds later.
    assert reply_end - interruption_start < 1.5, (speaker, room)
    # ...and a request to stop is obeyed, not answered.
    assert len([e for e in session.events if e["event"] == "reply"]) == 1, session.events


def test_a_sentence_with_a_pause_in_the_middle_gets_one_reply_to_the_whole_sentence(pulse, pausing, tmp_path):
    session = HarkSession(pulse)
    assert session.listening.wait(120), "".join(session.stderr)
    session.wait_for("announcement")
    time.sleep(1.0)
    pulse.play_into_room(pausing)
    session.wait_for("reply")
    time.sleep(2.0)  # room for a second turn, if the pause had ended the first
    code = session.stop()
    assert code == 0, "".join(session.stderr)
    finals = [e for e in session.events if e["event"] == "transcript" and e["final"]]
    assert len(finals) == 1, finals
    assert word_error_rate(f"{HALF} {REST}", finals[0]["text"]) <= 0.25, finals
    assert len([e for e in session.events if e["event"] == "reply"]) == 1


def test_half_duplex_does_not_hear_itself_or_the_room_while_speaking(pulse, clips, tmp_path):
    session, code, audio = run_session(pulse, clips, tmp_path)
    assert code == 0, "".join(session.stderr)
    reply = session.wait_for("reply")[0]
    assert reply["interrupted"] is False
    assert not [e for e in session.events if e["event"] == "barge_in"]
    finals = [e for e in session.events if e["event"] == "transcript" and e["final"]]
    assert len(finals) == 1  # the speech during the reply was not taken as a turn
    assert sound_spans(audio[:, 1]), "Hark's reply was not heard on the speaker"
