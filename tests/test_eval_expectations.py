"""Each expectation on hand-made outcomes (no models): what passes, what fails, what is skipped, and why."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dialogue.backends.base import BackendUnavailable
from hark.evaluation.expectations import (
    Blocked,
    Contains,
    Exchange,
    JudgedBy,
    MaxLatency,
    NotContains,
    Outcome,
    Regex,
    Services,
    SimilarTo,
    Status,
    Transcript,
    Unavailable,
    model_answered,
)
from hark.evaluation.judge import NoVerdict, parse_verdict
from hark.evaluation.similarity import cosine

NONE = Services()


def outcome(reply: str = "The capital of France is Paris.", **fields) -> Outcome:
    return Outcome(user=fields.pop("user", "What is the capital of France?"), reply=reply, **fields)


def test_contains_and_not_contains_ignore_case_and_name_what_is_wrong():
    assert Contains(("paris", "FRANCE")).check(outcome(), NONE).status is Status.PASS
    failed = Contains(("Paris", "Berlin", "Rome")).check(outcome(), NONE)
    assert (failed.status, failed.reason) == (Status.FAIL, "missing 'Berlin', 'Rome'")
    assert NotContains(("berlin",)).check(outcome(), NONE).status is Status.PASS
    found = NotContains(("berlin", "PARIS")).check(outcome(), NONE)
    assert (found.status, found.reason) == (Status.FAIL, "found 'PARIS'")


def test_regex_reports_the_match_or_the_pattern():
    assert Regex(re.compile(r"(?i)paris\b")).check(outcome(), NONE).reason == "matched 'Paris'"
    assert Regex(re.compile("^Paris")).check(outcome(), NONE).reason == "no match for /^Paris/"


@pytest.mark.parametrize(
    ("expected", "blocked", "status", "reason"),
    [
        (True, True, Status.PASS, "blocked by the injection:ignore_instructions guardrail"),
        (True, False, Status.FAIL, "not blocked, expected blocked"),
        (False, False, Status.PASS, "not blocked"),
        (
            False,
            True,
            Status.FAIL,
            "blocked by the injection:ignore_instructions guardrail, expected not blocked",
        ),
    ],
)
def test_blocked_either_way(expected, blocked, status, reason):
    rule = "injection:ignore_instructions" if blocked else None
    check = Blocked(expected).check(outcome(blocked=blocked, guardrail=rule), NONE)
    assert (check.status, check.reason) == (status, reason)


def test_transcript_is_judged_by_word_error_rate_after_normalising():
    heard = outcome(user="what's the capital of france", spoken=True)
    check = Transcript("What is the capital of France?", 0.2).check(heard, NONE)
    assert check.status is Status.FAIL and check.reason.startswith("WER 0.33 > 0.20: heard ")
    assert Transcript("What's the capital of France?", 0.0).check(heard, NONE).status is Status.PASS


def test_max_latency_bounds_first_audio_when_spoken_and_first_token_when_typed():
    typed = outcome(first_token_s=0.4)
    assert MaxLatency(0.5).check(typed, NONE).reason == "first token 0.40s ≤ 0.50s"
    spoken = outcome(spoken=True, first_token_s=0.4, first_audio_s=0.9)
    check = MaxLatency(0.5).check(spoken, NONE)
    assert (check.status, check.reason) == (Status.FAIL, "first audio 0.90s > 0.50s")
    silent = MaxLatency(0.5).check(outcome(reply=""), NONE)
    assert (silent.status, silent.reason) == (Status.FAIL, "no first token: the turn produced no reply")


class ScriptedJudge:
    def __init__(self, verdict: tuple[bool, str] | Exception) -> None:
        self.result = verdict
        self.seen: list[tuple[str, tuple[Exchange, ...]]] = []

    def verdict(self, criterion, dialogue):
        self.seen.append((criterion, tuple(dialogue)))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    def describe(self):
        return "scripted judge"


def test_judge_sees_the_whole_conversation_and_its_verdict_decides():
    judge = ScriptedJudge((False, "It does not greet."))
    earlier = (Exchange("Hi, I'm Dana.", "Hello Dana!"),)
    check = JudgedBy("The reply greets the user.").check(outcome(history=earlier), Services(judge=judge))
    assert (check.status, check.reason) == (Status.FAIL, "It does not greet.")
    criterion, dialogue = judge.seen[0]
    assert criterion == "The reply greets the user." and dialogue[0] == earlier[0] and len(dialogue) == 2
    broken = ScriptedJudge(BackendUnavailable("Ollama at x is not reachable"))
    failed = JudgedBy("anything").check(outcome(), Services(judge=broken))
    assert (failed.status, failed.reason) == (Status.FAIL, "the judge failed: Ollama at x is not reachable")
    skipped = JudgedBy("anything").check(outcome(), Services(judge=Unavailable("no judge: none here")))
    assert (skipped.status, skipped.reason) == (Status.SKIP, "no judge: none here")


def test_judge_verdicts_are_parsed_strictly():
    assert parse_verdict('{"pass": true, "reason": "Names a cat."}') == (True, "Names a cat.")
    assert parse_verdict('Verdict: {"pass": false, "reason": "No cat."} Hope this helps!') == (
        False,
        "No cat.",
    )
    assert parse_verdict('{"pass": true}') == (True, "(the judge gave no reason)")
    for answer in ("yes", '{"pass": "yes"}', '{"verdict": true}', "{not json", "[true]"):
        with pytest.raises(NoVerdict):
            parse_verdict(answer)


class FixedEmbedder:
    def __init__(self, score: float) -> None:
        self.score = score

    def similarity(self, a, b):
        return self.score

    def describe(self):
        return "fixed"


def test_similarity_against_the_threshold_or_skipped():
    close = SimilarTo("Paris.", 0.8).check(outcome(), Services(embedder=FixedEmbedder(0.85)))
    assert (close.status, close.reason) == (Status.PASS, "similarity 0.85 ≥ 0.80")
    far = SimilarTo("Paris.", 0.9).check(outcome(), Services(embedder=FixedEmbedder(0.85)))
    assert (far.status, far.reason) == (Status.FAIL, "similarity 0.85 < 0.90")
    assert SimilarTo("Paris.", 0.9).check(outcome(), NONE).status is Status.SKIP
    assert cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(2**-0.5)
    assert cosine(np.zeros(2), np.ones(2)) == 0.0


def test_a_failed_or_replaced_model_fails_the_turn():
    assert model_answered(outcome()) is None
    failed = model_answered(outcome(error="Ollama at x failed"))
    assert failed is not None and failed.reason == "the language model failed: Ollama at x failed"
    replaced = model_answered(outcome(fallback="SmolLM2-135M-Instruct.Q4_1"))
    assert replaced is not None and replaced.status is Status.FAIL
    assert (
        replaced.reason == "the model under test did not answer: the fallback SmolLM2-135M-Instruct.Q4_1 did"
    )
