"""The endpointer on scripted frame sequences (30 ms frames)."""

import pytest

from voice.endpointer import Endpointer, EndpointerConfig, EventKind

F = 0.03


def run(script: str, config: EndpointerConfig | None = None):
    """Feed a script of 'S' (speech) and '.' (silence) frames; return the events with their frame index."""
    ep = Endpointer(config or EndpointerConfig(start_s=0.09, hang_s=0.3))
    events = []
    for i, c in enumerate(script):
        ev = ep.process(c == "S", F)
        if ev is not None:
            events.append((i, ev))
    return events


def kinds(events):
    return [ev.kind for _, ev in events]


def test_speech_start_needs_enough_speech():
    assert run("..SS..SS....") == []  # two-frame blips never start an utterance
    events = run("..SSS" + "." * 12)
    assert kinds(events) == [EventKind.START, EventKind.PAUSE, EventKind.END]
    start = events[0][1]
    assert start.speech_start_s == pytest.approx(2 * F)
    assert events[0][0] == 4  # confirmed on the third speech frame


def test_end_after_hang_reports_true_end_of_speech():
    events = run("S" * 10 + "." * 20)
    end_index, end = events[-1]
    assert end.kind is EventKind.END
    assert end.speech_end_s == pytest.approx(10 * F)
    assert end_index == 10 + 10 - 1  # hang 0.3 s = 10 silent frames
    assert not end.capped


def test_short_pause_resumes_the_same_utterance():
    events = run("S" * 10 + "." * 5 + "S" * 10 + "." * 12)
    assert kinds(events) == [
        EventKind.START,
        EventKind.PAUSE,
        EventKind.RESUME,
        EventKind.PAUSE,
        EventKind.END,
    ]
    assert events[-1][1].speech_start_s == pytest.approx(0.0)
    assert events[-1][1].speech_end_s == pytest.approx(25 * F)


def test_two_utterances_are_separate():
    events = run("S" * 10 + "." * 15 + "S" * 8 + "." * 15)
    ends = [ev for _, ev in events if ev.kind is EventKind.END]
    assert len(ends) == 2
    assert ends[1].speech_start_s == pytest.approx(25 * F)


def test_max_utterance_caps_a_monologue():
    cfg = EndpointerConfig(start_s=0.09, hang_s=0.3, max_utterance_s=1.5)
    events = run("S" * 100, cfg)
    ends = [ev for _, ev in events if ev.kind is EventKind.END]
    assert ends and ends[0].capped
    assert ends[0].speech_end_s - ends[0].speech_start_s == pytest.approx(1.5, abs=F)


def test_no_speech_timeout_fires_once_per_period():
    cfg = EndpointerConfig(hang_s=0.3, no_speech_timeout_s=0.9)
    events = run("." * 65, cfg)
    assert kinds(events) == [EventKind.TIMEOUT, EventKind.TIMEOUT]


def test_reset_forgets_the_utterance_in_progress():
    ep = Endpointer(EndpointerConfig(start_s=0.09, hang_s=0.3))
    for _ in range(5):
        ep.process(True, F)
    assert ep.in_utterance
    ep.reset()
    assert not ep.in_utterance
    assert all(ep.process(False, F) is None for _ in range(20))


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError):
        EndpointerConfig(hang_s=-1)
