"""The wake word in Hark: which utterances it opens, stopping a reply, the kiosk's sessions and counters."""

from __future__ import annotations

import types

import pytest

from hark.config import KioskSettings
from hark.kiosk.metrics import KioskMetrics
from hark.kiosk.session import How, Sessions
from hark.wakeword import LEAD_S, WITHIN_S, WakeWordConversation, WakeWordOpener, wake_handler
from voice.events import SpeechStarted
from voice.stt import Transcript


def opener_with(starts: dict[int, float], detections: list[float]) -> WakeWordOpener:
    opener = WakeWordOpener()
    for turn_id, at_s in starts.items():
        opener.on_event(SpeechStarted(turn_id, stream_s=at_s, at_s=at_s))
    for at_s in detections:
        opener.on_wake("hey_jarvis", at_s)
    return opener


@pytest.mark.parametrize(
    ("detected_at", "opened"),
    [
        (100.7, True),  # "hey jarvis" at the start of the utterance
        (100.0 + WITHIN_S, True),
        (100.0 + WITHIN_S + 0.1, False),  # said in the middle of a sentence
        (100.0 - LEAD_S, True),  # said while the microphone was gated, the rest after
        (100.0 - LEAD_S - 0.1, False),
    ],
)
def test_a_detection_opens_the_utterance_it_begins(detected_at, opened):
    assert opener_with({1: 100.0}, [detected_at]).opened(1) is opened


def test_each_detection_opens_one_utterance_and_a_turn_stays_opened():
    opener = opener_with({1: 100.0, 2: 101.0}, [100.8])
    assert opener.opened(1)
    assert opener.opened(1), "a speculative reply begun again for the same turn is still answered"
    assert not opener.opened(2), "no follow-up window: the next utterance needs its own wake word"
    assert not opener.opened(3), "a turn whose start is unknown is not opened"


class Recording:
    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def begin_turn(self, transcript: Transcript, turn_id: int):
        self.asked.append((transcript.text, turn_id))
        return "turn"


def test_conversation_answers_only_opened_turns_without_the_wake_word():
    inner = Recording()
    conversation = WakeWordConversation(inner, opener_with({1: 10.0, 2: 20.0}, [10.6]), "hey_jarvis")
    assert conversation.begin_turn(Transcript("Hey, Jarvis. What time is it?", 0.9, 2.0), 1) == "turn"
    assert conversation.begin_turn(Transcript("What time is it?", 0.9, 1.0), 2) is None
    assert inner.asked == [("What time is it?", 1)]


def fake_loop(speaking: bool, reply_turn: int | None):
    interrupted = []
    reply = types.SimpleNamespace(turn_id=reply_turn) if reply_turn is not None else None
    loop = types.SimpleNamespace(
        current_reply=reply,
        player=types.SimpleNamespace(speaking=speaking),
        interrupt=lambda: interrupted.append(True),
    )
    return loop, interrupted


def test_the_wake_word_over_a_reply_stops_it_and_is_its_barge_in():
    loop, interrupted = fake_loop(speaking=True, reply_turn=4)
    emitted: list[dict] = []
    wake_handler(lambda: loop, emitted.append)("hey_jarvis", 12.5)
    assert interrupted == [True]
    assert emitted == [
        {"event": "wake_word", "name": "hey_jarvis", "at_s": 12.5},
        {"event": "barge_in", "turn_id": 4, "wake_word": "hey_jarvis"},
    ]


def test_the_wake_word_in_silence_interrupts_nothing():
    loop, interrupted = fake_loop(speaking=False, reply_turn=4)  # a reply being prepared, not yet heard
    emitted: list[dict] = []
    wake_handler(lambda: loop, emitted.append)("hey_jarvis", 3.0)
    assert interrupted == []
    assert [e["event"] for e in emitted] == ["wake_word"]


def sessions(**settings) -> Sessions:
    return Sessions(KioskSettings(**settings), clock=lambda: 50.0)


def test_kiosk_session_opens_on_the_wake_word_and_answers_the_rest():
    s = sessions(wake_word="hey_jarvis")
    decision = s.decide("Hey Jarvis, where is the library?", understood=True, woken=True)
    assert (decision.how, decision.text, decision.greet) == (How.WAKE_WORD, "where is the library?", True)


def test_kiosk_with_a_wake_word_ignores_speech_without_it():
    assert not sessions(wake_word="hey_jarvis").decide("where is the library?", understood=True).addressed
    assert sessions().decide("where is the library?", understood=True).how is How.OPEN


def test_kiosk_acknowledges_the_wake_word_alone_or_not_understood():
    decision = sessions(wake_word="hey_jarvis").decide("", understood=False, woken=True)
    assert decision.how is How.WAKE_WORD and decision.wake_only


def metric(metrics: KioskMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


def test_kiosk_counts_a_barge_in_without_words_as_a_self_interruption():
    metrics = KioskMetrics()
    suspected = {"event": "echo_suspected", "text": "Thank you.", "confidence": 0.41}
    for events in (
        [{"event": "barge_in", "turn_id": 1}, {**suspected, "turn_id": 2, "barged_in": True}],
        [{"event": "barge_in", "turn_id": 3}, {"event": "transcript", "final": True, "text": "Stop."}],
        [{"event": "barge_in", "turn_id": 5, "wake_word": "hey_jarvis"}],
        [{**suspected, "turn_id": 7, "barged_in": False}],  # it paused nothing: not a self-interruption
    ):
        for event in events:
            metrics.observe(event)
    assert metric(metrics, "hark_barge_ins_total") == 3
    assert metric(metrics, "hark_self_interruptions_total") == 1


def test_kiosk_shows_the_latest_erle():
    metrics = KioskMetrics()
    assert metric(metrics, "hark_echo_erle_db") != metric(metrics, "hark_echo_erle_db")  # NaN: unknown
    metrics.observe({"event": "metrics", "erle_db": 31.5})
    metrics.observe({"event": "metrics", "erle_db": None})  # a turn without a reference keeps the last
    assert metric(metrics, "hark_echo_erle_db") == 31.5
