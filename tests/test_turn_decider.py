"""The end-of-turn decider on virtual timelines: 30 ms frames, scripted model answers, no clock."""

from __future__ import annotations

import pytest

from voice.stt import Transcript
from voice.turn.decider import TurnConfig, TurnDecider

F = 0.03


class ScriptedModel:
    """Answers from a script keyed by silence, and counts how often it is asked."""

    def __init__(self, answer):
        self.answer = answer
        self.asked_at: list[float] = []

    def probability_at(self, silence_s: float):
        def ask() -> float:
            self.asked_at.append(round(silence_s, 3))
            return self.answer(silence_s)

        return ask


def run_pause(decider, silent_frames, model=None, transcript=lambda s: "what is the capital of france"):
    """Feed one pause frame by frame; return (silence at release or None, decisions taken)."""
    decider.reset()
    decisions = []
    for i in range(1, silent_frames + 1):
        silence = round(i * F, 6)
        if not decider.due(silence):
            continue
        ask = model.probability_at(silence) if model is not None else None
        decision = decider.decide(silence, transcript(silence), ask)
        decisions.append((silence, decision))
        if decision.release:
            return silence, decisions
    return None, decisions


def test_a_confident_model_releases_at_the_first_check():
    model = ScriptedModel(lambda s: 0.9)
    released, decisions = run_pause(TurnDecider(), 100, model)
    assert released == pytest.approx(0.15)
    assert decisions[-1][1].reason == "model 0.90"
    assert model.asked_at == [0.15]


def test_an_unsure_model_is_asked_again_as_silence_grows():
    model = ScriptedModel(lambda s: 0.2 if s < 0.4 else 0.9)
    released, decisions = run_pause(TurnDecider(), 100, model)
    assert model.asked_at == [0.15, 0.45]
    assert released == pytest.approx(0.45)
    assert [d.reason for _, d in decisions] == ["model 0.20", "model 0.90"]


def test_a_second_opinion_must_clear_the_higher_bar():
    model = ScriptedModel(lambda s: 0.2 if s < 0.4 else 0.7)  # enough at the first check, not later
    released, _ = run_pause(TurnDecider(TurnConfig(recheck_threshold=0.8)), 100, model)
    assert released == pytest.approx(1.5)


def test_rechecks_stop_at_max_wait():
    model = ScriptedModel(lambda s: 0.1)
    released, decisions = run_pause(TurnDecider(), 100, model)
    assert released == pytest.approx(1.5)
    assert decisions[-1][1].reason == "max wait"
    assert model.asked_at == [0.15, 0.45, 0.75, 1.05, 1.35]


def test_without_rechecks_the_first_answer_stands_until_max_wait():
    model = ScriptedModel(lambda s: 0.2 if s < 0.4 else 0.9)
    released, decisions = run_pause(TurnDecider(TurnConfig(recheck_s=None, max_wait_s=1.2)), 100, model)
    assert model.asked_at == [0.15]
    assert released == pytest.approx(1.2)
    assert [d.reason for _, d in decisions] == ["model 0.20", "max wait"]


def test_an_unfinished_transcript_holds_even_a_confident_model_until_max_wait():
    model = ScriptedModel(lambda s: 0.95)
    released, decisions = run_pause(
        TurnDecider(), 100, model, transcript=lambda s: "I would like to book a table for"
    )
    assert released == pytest.approx(1.5)
    assert decisions[0][1].reason == "text: preposition 'for'"
    assert model.asked_at == []  # the words settled it: no model run was spent


def test_a_transcript_without_words_holds_until_max_wait():
    model = ScriptedModel(lambda s: 0.99)
    released, decisions = run_pause(TurnDecider(), 100, model, transcript=lambda s: "")
    assert released == pytest.approx(1.5)
    assert decisions[0][1].reason == "text: no words"


def test_a_finished_verdict_waits_for_the_transcript_and_its_veto():
    model = ScriptedModel(lambda s: 0.9)
    decider = TurnDecider()
    late = lambda s: None if s < 0.3 else "book a table for"  # noqa: E731
    released, decisions = run_pause(decider, 100, model, transcript=late)
    assert released == pytest.approx(1.5)
    assert [d.reason for _, d in decisions[:2]] == ["model 0.90, transcript pending"] * 2
    assert model.asked_at == [0.15]  # the answer is reused while the transcript is pending (< recheck_s)


def test_a_pending_transcript_releases_as_soon_as_it_arrives():
    model = ScriptedModel(lambda s: 0.9)
    late = lambda s: None if s < 0.3 else "book a table for four"  # noqa: E731
    released, _ = run_pause(TurnDecider(), 100, model, transcript=late)
    assert released == pytest.approx(0.3)


def test_without_a_model_the_fixed_hang_ends_the_turn():
    released, decisions = run_pause(TurnDecider(TurnConfig(hang_s=0.5)), 100)
    assert released == pytest.approx(0.51, abs=F / 2)
    assert decisions[-1][1].reason == "hang"


def test_without_a_model_the_text_still_holds_a_half_sentence():
    released, _ = run_pause(TurnDecider(), 100, transcript=lambda s: "put it on my")
    assert released == pytest.approx(1.5)


def test_text_signal_can_be_turned_off():
    model = ScriptedModel(lambda s: 0.9)
    decider = TurnDecider(TurnConfig(use_text=False))
    released, _ = run_pause(decider, 100, model, transcript=lambda s: None)
    assert released == pytest.approx(0.15)


def test_resumed_speech_starts_a_fresh_pause():
    model = ScriptedModel(lambda s: 0.1)
    decider = TurnDecider()
    run_pause(decider, 20, model)  # 0.6 s of silence, then the user goes on
    model.answer = lambda s: 0.8
    released, _ = run_pause(decider, 100, model)
    assert released == pytest.approx(0.15)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_pause_s": 0.0},
        {"min_pause_s": 2.0, "max_wait_s": 1.5},
        {"recheck_s": 0.0},
        {"threshold": 1.5},
        {"recheck_threshold": -0.1},
        {"hang_s": 2.0},
    ],
)
def test_impossible_configs_are_refused(kwargs):
    with pytest.raises(ValueError):
        TurnConfig(**kwargs)


def test_a_near_reading_that_ends_unfinished_vetoes_a_confident_model():
    # Whisper's "Where did I leave mine?" for Piper's "Where did I leave my", with "my?" close behind
    model = ScriptedModel(lambda s: 0.9)
    heard = Transcript("Where did I leave mine?", 0.83, 0.1, alternatives=("Where did I leave my?",))
    released, decisions = run_pause(TurnDecider(), 100, model, lambda s: heard)
    assert released == pytest.approx(TurnConfig().max_wait_s)
    assert decisions[0][1].reason == "text: possessive 'my' in the near reading 'Where did I leave my?'"
    assert model.asked_at == []
    assert run_pause(TurnDecider(), 100, model, lambda s: heard.text)[0] == pytest.approx(0.15)  # without it


def test_an_unsure_transcript_cannot_confirm_the_first_finished():
    # "Add eggs," before a 0.27 s comma pause: Whisper "at x" (0.41), the model 0.97 (recorded)
    model = ScriptedModel(lambda s: 0.97)
    released, decisions = run_pause(TurnDecider(), 100, model, lambda s: Transcript("at x", 0.41, 0.2))
    assert decisions[0][1].reason == "model 0.97, transcript unsure (0.41)"
    assert released == pytest.approx(0.45)  # the second opinion, past the comma's pause
    assert model.asked_at == [0.15, 0.45]
    sure = lambda s: Transcript("What is the capital of France?", 0.83, 0.1)  # noqa: E731
    assert run_pause(TurnDecider(), 100, model, sure)[0] == pytest.approx(0.15)
