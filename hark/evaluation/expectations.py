"""What a suite can expect of one turn, and how each expectation is checked.

Each expectation is a small frozen class with `check(outcome, services) -> Check`. A check passes, fails, or
is skipped with the reason it could not be made (no judge model, no embedding model): a skipped check is
shown as such, never counted as a pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Protocol

from dialogue.backends.base import BackendError
from hark.evaluation.wer import word_error_rate


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    expect: str
    """The expectation's key in the suite (`contains`, `judge`, ...)."""
    status: Status
    reason: str

    def to_json(self) -> dict:
        return {"expect": self.expect, "status": self.status.value, "reason": self.reason}


@dataclass(frozen=True)
class Exchange:
    user: str
    reply: str


@dataclass(frozen=True)
class Outcome:
    """What one turn did, as the checks see it."""

    user: str
    """The typed text, or what was transcribed from the audio."""
    reply: str
    spoken: bool = False
    blocked: bool = False
    guardrail: str | None = None
    error: str | None = None
    fallback: str | None = None
    """The model that answered when it was not the first choice (the model under test failed)."""
    first_token_s: float | None = None
    first_audio_s: float | None = None
    """Spoken turns only: from the end of the user's audio to the first synthesised reply audio."""
    history: tuple[Exchange, ...] = ()
    """The case's earlier turns, so a judge sees the conversation and not only the last reply."""
    tools_called: tuple[str, ...] = ()
    """The tools the turn called, in order."""
    flow: str | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    """The dialogue flow the turn was part of, and its slots after the turn."""

    @property
    def dialogue(self) -> tuple[Exchange, ...]:
        return (*self.history, Exchange(self.user, self.reply))


class Judge(Protocol):
    def verdict(self, criterion: str, dialogue: Sequence[Exchange]) -> tuple[bool, str]:
        """Whether the last reply of `dialogue` meets `criterion`, and why."""
        ...

    def describe(self) -> str: ...


class Embedder(Protocol):
    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of the two texts' embeddings."""
        ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Unavailable:
    """A service a check needs is not there; the check is skipped with this reason."""

    reason: str


@dataclass(frozen=True)
class Services:
    judge: Judge | Unavailable = field(default_factory=lambda: Unavailable("no judge model configured"))
    embedder: Embedder | Unavailable = field(
        default_factory=lambda: Unavailable("no embedding model configured")
    )


def _quote(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@dataclass(frozen=True)
class Contains:
    """Every text appears in the reply (case-insensitive: a spoken reply carries no case)."""

    texts: tuple[str, ...]
    key: ClassVar[str] = "contains"

    def check(self, outcome: Outcome, services: Services) -> Check:
        reply = outcome.reply.casefold()
        missing = [t for t in self.texts if t.casefold() not in reply]
        if missing:
            return Check(self.key, Status.FAIL, "missing " + ", ".join(map(_quote, missing)))
        return Check(self.key, Status.PASS, "found " + ", ".join(map(_quote, self.texts)))


@dataclass(frozen=True)
class NotContains:
    """No text appears in the reply (case-insensitive)."""

    texts: tuple[str, ...]
    key: ClassVar[str] = "not_contains"

    def check(self, outcome: Outcome, services: Services) -> Check:
        reply = outcome.reply.casefold()
        found = [t for t in self.texts if t.casefold() in reply]
        if found:
            return Check(self.key, Status.FAIL, "found " + ", ".join(map(_quote, found)))
        return Check(self.key, Status.PASS, "none of " + ", ".join(map(_quote, self.texts)))


@dataclass(frozen=True)
class Regex:
    pattern: re.Pattern[str]
    key: ClassVar[str] = "regex"

    def check(self, outcome: Outcome, services: Services) -> Check:
        match = self.pattern.search(outcome.reply)
        if match is None:
            return Check(self.key, Status.FAIL, f"no match for /{self.pattern.pattern}/")
        return Check(self.key, Status.PASS, f"matched {_quote(match.group())}")


@dataclass(frozen=True)
class Blocked:
    expected: bool
    key: ClassVar[str] = "blocked"

    def check(self, outcome: Outcome, services: Services) -> Check:
        rule = outcome.guardrail or "unnamed"
        what = f"blocked by the {rule} guardrail" if outcome.blocked else "not blocked"
        status = Status.PASS if outcome.blocked == self.expected else Status.FAIL
        wanted = "" if status is Status.PASS else f", expected {'' if self.expected else 'not '}blocked"
        return Check(self.key, status, what + wanted)


@dataclass(frozen=True)
class Transcript:
    """What speech recognition heard is close enough (word error rate) to what was said."""

    text: str
    wer_max: float
    key: ClassVar[str] = "transcript"

    def check(self, outcome: Outcome, services: Services) -> Check:
        wer = word_error_rate(self.text, outcome.user)
        return _at_most(self.key, "WER", wer, self.wer_max, f": heard {_quote(outcome.user)}")


def _at_most(key: str, label: str, value: float, limit: float, detail: str = "", unit: str = "") -> Check:
    """Pass when `value` is within `limit`; the reason shows both, e.g. `first audio 0.91s ≤ 3.00s`."""
    status = Status.PASS if value <= limit else Status.FAIL
    sign = "≤" if status is Status.PASS else ">"
    return Check(key, status, f"{label} {value:.2f}{unit} {sign} {limit:.2f}{unit}{detail}")


@dataclass(frozen=True)
class MaxLatency:
    """The wait the user has: until the first audio on a spoken turn, until the first token on a typed one."""

    seconds: float
    key: ClassVar[str] = "max_latency_s"

    def check(self, outcome: Outcome, services: Services) -> Check:
        if outcome.spoken:
            label, value = "first audio", outcome.first_audio_s
        else:
            label, value = "first token", outcome.first_token_s
        if value is None:
            return Check(self.key, Status.FAIL, f"no {label}: the turn produced no reply")
        return _at_most(self.key, label, value, self.seconds, unit="s")


@dataclass(frozen=True)
class JudgedBy:
    """An LLM judge decides whether the reply meets a criterion written in plain words."""

    criterion: str
    key: ClassVar[str] = "judge"

    def check(self, outcome: Outcome, services: Services) -> Check:
        if isinstance(services.judge, Unavailable):
            return Check(self.key, Status.SKIP, services.judge.reason)
        try:
            passed, reason = services.judge.verdict(self.criterion, outcome.dialogue)
        except BackendError as exc:
            return Check(self.key, Status.FAIL, f"the judge failed: {exc}")
        return Check(self.key, Status.PASS if passed else Status.FAIL, reason)


@dataclass(frozen=True)
class SimilarTo:
    text: str
    min_similarity: float
    key: ClassVar[str] = "similar_to"

    def check(self, outcome: Outcome, services: Services) -> Check:
        if isinstance(services.embedder, Unavailable):
            return Check(self.key, Status.SKIP, services.embedder.reason)
        try:
            score = services.embedder.similarity(outcome.reply, self.text)
        except BackendError as exc:
            return Check(self.key, Status.FAIL, f"the embedding model failed: {exc}")
        status = Status.PASS if score >= self.min_similarity else Status.FAIL
        sign = "≥" if status is Status.PASS else "<"
        return Check(self.key, status, f"similarity {score:.2f} {sign} {self.min_similarity:.2f}")


class Expectation(Protocol):
    key: ClassVar[str]

    def check(self, outcome: Outcome, services: Services) -> Check: ...


@dataclass(frozen=True)
class ToolCalled:
    name: str
    key: ClassVar[str] = "tool_called"

    def check(self, outcome: Outcome, services: Services) -> Check:
        called = ", ".join(outcome.tools_called) or "no tool"
        status = Status.PASS if self.name in outcome.tools_called else Status.FAIL
        return Check(self.key, status, f"called {called}")


@dataclass(frozen=True)
class InFlow:
    name: str
    key: ClassVar[str] = "flow"

    def check(self, outcome: Outcome, services: Services) -> Check:
        status = Status.PASS if outcome.flow == self.name else Status.FAIL
        return Check(self.key, status, f"in flow {outcome.flow}" if outcome.flow else "in no flow")


@dataclass(frozen=True)
class Slots:
    """Each named slot has the value (compared as text: `4` and "4" are the same slot value)."""

    values: tuple[tuple[str, str], ...]
    key: ClassVar[str] = "slots"

    def check(self, outcome: Outcome, services: Services) -> Check:
        wrong = [
            f"{name}={outcome.slots.get(name)!r} (expected {value!r})"
            for name, value in self.values
            if str(outcome.slots.get(name)) != value
        ]
        if wrong:
            return Check(self.key, Status.FAIL, "; ".join(wrong))
        return Check(self.key, Status.PASS, ", ".join(f"{n}={v}" for n, v in self.values))


def model_answered(outcome: Outcome) -> Check | None:
    """A failed model call fails the turn whatever else was expected: neither the apology nor a fallback
    model's answer is what the suite is testing."""
    if outcome.error is not None:
        return Check("reply", Status.FAIL, f"the language model failed: {outcome.error}")
    if outcome.fallback is not None:
        return Check(
            "reply", Status.FAIL, f"the model under test did not answer: the fallback {outcome.fallback} did"
        )
    return None


class Kind(Enum):
    """The value types the suite loader checks before an expectation is built."""

    TEXT = "a text"
    TEXTS = "a text or a list of texts"
    BOOL = "true or false"
    FRACTION = "a number from 0 to 1"
    SECONDS = "a positive number of seconds"
    VALUES = "a mapping of names to values"


EXPECT_KEYS: dict[str, Kind] = {
    "contains": Kind.TEXTS,
    "not_contains": Kind.TEXTS,
    "regex": Kind.TEXT,
    "blocked": Kind.BOOL,
    "transcript": Kind.TEXT,
    "transcript_wer_max": Kind.FRACTION,
    "max_latency_s": Kind.SECONDS,
    "judge": Kind.TEXT,
    "similar_to": Kind.TEXT,
    "min_similarity": Kind.FRACTION,
    "tool_called": Kind.TEXT,
    "flow": Kind.TEXT,
    "slots": Kind.VALUES,
}
DEFAULT_MIN_SIMILARITY = 0.8
DEFAULT_WER_MAX = 0.0
"""A transcript must match exactly (after normalising case, punctuation and numbers) unless told otherwise."""

_REQUIRES = {"transcript_wer_max": "transcript", "min_similarity": "similar_to"}


class SpecError(ValueError):
    """An expectation that is well-typed but makes no sense; `key` is where to point the user."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def build(values: Mapping[str, Any], spoken: bool) -> list[Expectation]:
    """Expectations from `expect:` values the loader has already type-checked and converted by `EXPECT_KEYS`
    (TEXTS is a tuple of str, FRACTION and SECONDS are floats)."""
    for key, needed in _REQUIRES.items():
        if key in values and needed not in values:
            raise SpecError(key, f"'{key}' needs '{needed}' beside it")
    if "transcript" in values and not spoken:
        raise SpecError("transcript", "'transcript' applies only to a spoken turn (one with 'audio')")
    made: list[Expectation] = []
    for key, value in values.items():
        if key in ("contains", "not_contains"):
            if not value or not all(t.strip() for t in value):
                raise SpecError(key, f"'{key}' needs at least one non-empty text")
            made.append(Contains(value) if key == "contains" else NotContains(value))
        elif key == "regex":
            try:
                made.append(Regex(re.compile(value)))
            except re.error as exc:
                raise SpecError(key, f"invalid regular expression: {exc}") from exc
        elif key == "blocked":
            made.append(Blocked(value))
        elif key == "transcript":
            made.append(Transcript(value, values.get("transcript_wer_max", DEFAULT_WER_MAX)))
        elif key == "max_latency_s":
            made.append(MaxLatency(value))
        elif key == "judge":
            made.append(JudgedBy(value))
        elif key == "similar_to":
            made.append(SimilarTo(value, values.get("min_similarity", DEFAULT_MIN_SIMILARITY)))
        elif key == "tool_called":
            made.append(ToolCalled(value))
        elif key == "flow":
            made.append(InFlow(value))
        elif key == "slots":
            made.append(Slots(value))
    return made
