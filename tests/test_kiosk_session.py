"""Visitor sessions on scripted timelines (a fake clock): wake phrase, follow-up window, idle timeout,
greeting, push-to-talk — and the wake phrase matcher's tolerance."""

from __future__ import annotations

import pytest

from hark.config import KioskSettings
from hark.kiosk.session import How, Phase, Sessions
from hark.kiosk.wake import WakeMatcher


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(**settings) -> tuple[Sessions, Clock, list[dict]]:
    clock = Clock()
    events: list[dict] = []
    config = KioskSettings(**{"follow_up_s": 8.0, "idle_timeout_s": 30.0, **settings})
    return Sessions(config, clock, events.append), clock, events


def say(sessions: Sessions, clock: Clock, text: str, duration_s: float = 1.5, understood: bool = True):
    """An utterance: it starts now, ends `duration_s` later, and its transcript arrives 0.3 s after that."""
    sessions.speech_started(clock.now)
    clock.advance(duration_s)
    sessions.speech_ended(clock.now)
    clock.advance(0.3)
    return sessions.decide(text, understood)


def reply(
    sessions: Sessions, clock: Clock, decision, seconds: float = 2.0, greeted: bool = False
) -> list[str]:
    committed: list[str] = []
    sessions.generating(decision.session, +1)
    clock.advance(seconds)
    sessions.generating(decision.session, -1)
    sessions.finish_turn(decision.session, greeted, lambda: committed.append(decision.text))
    return committed


def kinds(events: list[dict]) -> list[tuple[str, int]]:
    return [(e["event"], e["session"]) for e in events]


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        ("Hey, Hark, where's the gift shop?", "where's the gift shop?"),
        ("Hey, Hart.", ""),  # how Whisper often hears it
        ("Heyhark what time is it", "what time is it"),
        ("Hey hawk. Open the door", "Open the door"),
        ("Excuse me, hey Hark, help", "help"),
        ("Hi Hark! Where is the museum?", "Where is the museum?"),
        ("A. Hark, remember that I'm vegetarian.", "remember that I'm vegetarian."),  # the greeting misheard
        ("Hark, what time is it?", "what time is it?"),  # or left out
    ],
)
def test_the_wake_phrase_is_found_despite_small_misrecognitions(text, rest):
    match = WakeMatcher(["hey hark"], 0.75).match(text)
    assert match is not None and match.rest == rest


@pytest.mark.parametrize(
    "text",
    [
        "Let's go to the park",
        "What is my name?",
        "Hello there, park.",
        "hey",
        "I was telling my friend that hey hark is here",
        "Mark said he would come.",  # a name one letter off needs the greeting
        "A park, a museum and a cafe.",
        "I think Hark is here",  # the name alone only first or second
    ],
)
def test_other_speech_is_not_the_wake_phrase(text):
    assert WakeMatcher(["hey hark"], 0.75).match(text) is None


def test_a_stricter_threshold_rejects_what_a_lenient_one_accepts():
    assert WakeMatcher(["hey hark"], 0.8).match("Hey Clark, hello") is not None
    assert WakeMatcher(["hey hark"], 0.95).match("Hey Clark, hello") is None


def test_wake_phrase_then_follow_ups_without_it_then_it_is_needed_again():
    sessions, clock, events = make(wake_phrases=("hey hark",))
    assert not say(sessions, clock, "What a nice day").addressed  # chatter, no session
    assert sessions.phase is Phase.IDLE and events == []
    first = say(sessions, clock, "Hey Hark, where is the shop?")
    assert (first.how, first.text, first.greet) == (How.WAKE, "where is the shop?", True)
    reply(sessions, clock, first, greeted=True)
    clock.advance(3)
    follow = say(sessions, clock, "And when does it open?")
    assert (follow.how, follow.text, follow.greet, follow.session) == (How.FOLLOW_UP, follow.text, False, 1)
    reply(sessions, clock, follow)
    clock.advance(9)  # past the follow-up window, well inside the idle timeout
    assert sessions.phase is Phase.WAITING
    assert not say(sessions, clock, "And the toilets?").addressed
    again = say(sessions, clock, "Hey Hark, and the toilets?")
    assert again.session == 1 and again.how is How.WAKE and not again.greet  # same visitor, remembered
    assert kinds(events) == [("session_start", 1)]


def test_an_utterance_begun_inside_the_window_counts_even_if_it_ends_after_it():
    sessions, clock, _ = make(wake_phrases=("hey hark",))
    first = say(sessions, clock, "Hey Hark, tell me about the exhibition")
    reply(sessions, clock, first)
    clock.advance(7.5)  # the window closes at 8 s; this question starts at 7.5 s and lasts 3 s
    assert say(sessions, clock, "Is it open on Sundays and holidays too?", duration_s=3.0).addressed


def test_idle_timeout_ends_the_session_exactly_once_and_the_next_visitor_starts_fresh():
    sessions, clock, events = make(wake_phrases=("hey hark",), idle_timeout_s=30.0)
    first = say(sessions, clock, "Hey Hark, my name is Zebulon")
    reply(sessions, clock, first, greeted=True)
    clock.advance(29)
    sessions.tick()
    assert sessions.phase is not Phase.IDLE
    clock.advance(2)
    sessions.tick()
    sessions.tick()
    assert sessions.phase is Phase.IDLE
    assert events[-1] == {
        "event": "session_end",
        "session": 1,
        "reason": "idle",
        "duration_s": 33.8,
        "turns": 1,
    }
    nxt = say(sessions, clock, "Hey Hark, what is my name?")
    assert (nxt.session, nxt.greet) == (2, True)
    assert kinds(events) == [("session_start", 1), ("session_end", 1), ("session_start", 2)]


def test_without_ticks_the_timeout_is_applied_when_the_next_visitor_speaks():
    sessions, clock, events = make(idle_timeout_s=10.0)  # no wake phrase: everything is for Hark
    first = say(sessions, clock, "My name is Zebulon")
    assert first.how is How.OPEN
    reply(sessions, clock, first)
    clock.advance(60)
    second = say(sessions, clock, "What is my name?")
    assert second.session == 2 and second.greet
    assert kinds(events) == [("session_start", 1), ("session_end", 1), ("session_start", 2)]


def test_a_visitor_who_began_speaking_before_the_timeout_is_not_cut_off():
    sessions, clock, events = make(idle_timeout_s=10.0)
    reply(sessions, clock, say(sessions, clock, "Hello"))
    clock.advance(9)
    sessions.speech_started(clock.now)  # a long question starts just in time...
    clock.advance(6)
    sessions.tick()  # ...and is still being transcribed when the timeout passes
    assert sessions.phase is not Phase.IDLE
    assert sessions.decide("so what do you think about it", True).session == 1
    assert [e["event"] for e in events] == ["session_start"]


def test_a_decision_at_a_pause_does_not_let_the_session_time_out_while_the_visitor_goes_on():
    sessions, clock, events = make(wake_phrases=("hey hark",), idle_timeout_s=1.5)
    sessions.speech_started(clock.now)
    clock.advance(0.8)
    early = sessions.decide(
        "Hey Hark,", True
    )  # the loop's speculative turn at a pause, dropped when speech resumes
    assert early.wake_only and early.session == 1
    for _ in range(20):  # four more seconds of speech, the clock ticking
        clock.advance(0.2)
        sessions.tick()
    sessions.speech_ended(clock.now)
    clock.advance(0.3)
    final = sessions.decide("Hey Hark, my name is Robert and I love astronomy.", True)
    assert final.session == 1 and final.text == "my name is Robert and I love astronomy."
    assert [e["event"] for e in events] == ["session_start"]


def test_no_timeout_while_a_reply_is_generated_or_played():
    sessions, clock, events = make(idle_timeout_s=5.0)
    decision = say(sessions, clock, "Tell me a long story")
    sessions.generating(decision.session, +1)
    clock.advance(20)  # a slow model
    sessions.tick()
    sessions.generating(decision.session, -1)
    clock.advance(30)  # a long reply being played
    sessions.tick(busy=True)
    assert sessions.phase is not Phase.IDLE
    sessions.finish_turn(decision.session, False, lambda: None)
    clock.advance(6)
    sessions.tick()
    assert [e["event"] for e in events] == ["session_start", "session_end"]


def test_a_reply_finishing_after_its_session_ended_is_not_committed():
    sessions, clock, _ = make(idle_timeout_s=5.0)
    decision = say(sessions, clock, "Hello")
    sessions.end("reload")
    committed: list[str] = []
    assert not sessions.finish_turn(decision.session, False, lambda: committed.append("x"))
    assert committed == []


def test_only_a_visitor_in_the_follow_up_window_gets_a_reprompt_for_mumbling():
    sessions, clock, _ = make()
    assert not say(sessions, clock, "", understood=False).addressed  # noise with nobody there
    first = say(sessions, clock, "Hello")
    reply(sessions, clock, first)
    mumble = say(sessions, clock, "", understood=False)
    assert mumble.how is How.FOLLOW_UP and mumble.text == ""


def test_the_wake_phrase_alone_is_marked_and_the_greeting_is_given_once():
    sessions, clock, _ = make(wake_phrases=("hey hark",))
    alone = say(sessions, clock, "Hey, Hart.")
    assert alone.wake_only and alone.greet
    reply(sessions, clock, alone, greeted=True)
    clock.advance(20)
    again = say(sessions, clock, "Hey Hark")
    assert again.wake_only and not again.greet


def test_speculative_repeats_of_one_utterance_get_the_same_answer():
    sessions, clock, events = make(wake_phrases=("hey hark",))
    first = say(sessions, clock, "Hey Hark, hello")
    reply(sessions, clock, first)
    clock.advance(7.9)
    sessions.speech_started(clock.now)
    clock.advance(0.6)
    early = sessions.decide("Where is", True)  # the loop's speculative start, dropped when speech resumed
    clock.advance(2.0)
    final = sessions.decide("Where is the cafe?", True)
    assert early.addressed and final.addressed and early.session == final.session == 1
    assert len(events) == 1


def test_push_to_talk_opens_a_session_with_a_greeting_and_a_window():
    sessions, clock, events = make(wake_phrases=("hey hark",))
    pressed = sessions.push_to_talk()
    assert (pressed.how, pressed.greet, pressed.session) == (How.PUSH_TO_TALK, True, 1)
    clock.advance(3)  # the greeting is spoken
    sessions.spoke()
    clock.advance(6)
    assert say(sessions, clock, "Where is the cafe?").how is How.FOLLOW_UP
    assert not sessions.push_to_talk().greet  # the same visitor presses again: no second greeting
    assert events == [{"event": "session_start", "session": 1, "via": "push_to_talk"}]


def test_reconfiguring_changes_the_rules_at_once():
    sessions, clock, _ = make()
    assert say(sessions, clock, "Where is the cafe?").addressed
    sessions.end("reload")
    sessions.configure(KioskSettings(wake_phrases=("hello kiosk",)))
    assert not say(sessions, clock, "Where is the cafe?").addressed
    assert say(sessions, clock, "Hello kiosk, where is the cafe?").text == "where is the cafe?"


def test_the_snapshot_shows_what_the_operator_needs():
    sessions, clock, _ = make(wake_phrases=("hey hark",))
    assert sessions.snapshot() == {"phase": "idle", "sessions": 0}
    decision = say(sessions, clock, "Hey Hark, hi")
    reply(sessions, clock, decision)
    clock.advance(1)
    assert sessions.snapshot() == {
        "phase": "listening",
        "sessions": 1,
        "id": 1,
        "age_s": 4.8,
        "turns": 1,
        "idle_s": 1.0,
    }
