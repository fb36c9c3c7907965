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
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from dialogue.backends.base import BackendError
from dialogue.knowledge.query import terms
from hark.evaluation.wer import word_error_rate

if TYPE_CHECKING:
    from hark.evaluation.acoustic import LoopTurn


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
    sources: tuple[dict, ...] = ()
    """The knowledge passages the model was given (`{"title", "path", "chunk"}`)."""
    loop: LoopTurn | None = None
    """What the voice loop did, for a turn played through it (an acoustic scene)."""
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


@dataclass(frozen=True)
class Sources:
    """Each named document (a file name, a path's ending, or a title) is among the turn's sources."""

    names: tuple[str, ...]
    key: ClassVar[str] = "sources"

    def check(self, outcome: Outcome, services: Services) -> Check:
        given = [(s["path"], s["title"]) for s in outcome.sources]
        missing = [n for n in self.names if not any(_names(n, path, title) for path, title in given)]
        shown = ", ".join(dict.fromkeys(PurePath(path).name for path, _ in given)) or "none"
        if missing:
            return Check(
                self.key, Status.FAIL, f"missing {', '.join(map(_quote, missing))} (sources: {shown})"
            )
        return Check(self.key, Status.PASS, f"sources: {shown}")


def _names(name: str, path: str, title: str) -> bool:
    wanted = name.casefold()
    return (
        PurePath(path).name.casefold() == wanted
        or path.casefold().endswith(wanted)
        or title.casefold() == wanted
    )


GROUNDED_CRITERION = (
    "Every fact in the last reply is stated in, or follows from, these passages from the user's documents "
    "(saying that it does not know also passes):\n{passages}"
)
MIN_OVERLAP = 0.6
"""Without a judge: the share of the reply's content words that must occur in the passages."""


@dataclass(frozen=True)
class Grounded:
    """`true`: the reply is supported by the passages retrieved for it, by the judge when there is one,
    else by lexical overlap (the reason says which). `false`: no passage was used (nothing relevant)."""

    expected: bool
    key: ClassVar[str] = "grounded"

    def check(self, outcome: Outcome, services: Services) -> Check:
        if not self.expected:
            if outcome.sources:
                return Check(self.key, Status.FAIL, f"{len(outcome.sources)} passage(s) were used")
            return Check(self.key, Status.PASS, "no passage was used")
        if not outcome.sources:
            return Check(self.key, Status.FAIL, "no passage was retrieved for this turn")
        passages = "\n\n".join(f'From "{s["title"]}": {s["chunk"]}' for s in outcome.sources)
        if isinstance(services.judge, Unavailable):
            share = overlap(outcome.reply, passages)
            return _at_least(self.key, "lexical overlap", share, MIN_OVERLAP, f" ({services.judge.reason})")
        try:
            passed, reason = services.judge.verdict(
                GROUNDED_CRITERION.format(passages=passages), outcome.dialogue
            )
        except BackendError as exc:
            return Check(self.key, Status.FAIL, f"the judge failed: {exc}")
        return Check(self.key, Status.PASS if passed else Status.FAIL, f"judge: {reason}")


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def overlap(reply: str, passages: str) -> float:
    """The share of the reply's content words (plurals folded) that the passages contain; 0 for none."""
    said = {_stem(w) for w in terms(reply)}
    known = {_stem(w) for w in terms(passages)}
    return len(said & known) / len(said) if said else 0.0


def _at_least(key: str, label: str, value: float, floor: float, detail: str = "") -> Check:
    status = Status.PASS if value >= floor else Status.FAIL
    sign = "≥" if status is Status.PASS else "<"
    return Check(key, status, f"{label} {value:.2f} {sign} {floor:.2f}{detail}")


CUT_OFF_TOLERANCE_S = 0.3
"""A turn the loop ended this much before the user's true end of speech was cut off (less is the VAD's
frame and trailing-consonant slack, not a cut)."""


def _loop(key: str, outcome: Outcome) -> LoopTurn | Check:
    if outcome.loop is None:
        return Check(key, Status.FAIL, "the turn was not played through the voice loop")
    return outcome.loop


@dataclass(frozen=True)
class CutOff:
    """Whether the loop ended the user's turn before they finished (at a pause, say)."""

    expected: bool
    key: ClassVar[str] = "cut_off"

    def check(self, outcome: Outcome, services: Services) -> Check:
        loop = _loop(self.key, outcome)
        if isinstance(loop, Check):
            return loop
        early = [s for s in loop.ended_speech_s if s < loop.speech_end_s - CUT_OFF_TOLERANCE_S]
        what = (
            f"cut off at {early[0]:.2f}s of speech ending at {loop.speech_end_s:.2f}s"
            if early
            else f"not cut off (speech ended at {loop.speech_end_s:.2f}s)"
        )
        return Check(self.key, Status.PASS if bool(early) == self.expected else Status.FAIL, what)


def end_of_turn_delay(loop: LoopTurn) -> float | None:
    """From the user's true end of speech to the loop ending the turn that holds it."""
    for ended_at, speech in zip(loop.ended_at_s, loop.ended_speech_s, strict=True):
        if speech >= loop.speech_end_s - CUT_OFF_TOLERANCE_S:
            return ended_at - loop.speech_end_s
    return None


@dataclass(frozen=True)
class EndOfTurnDelay:
    seconds: float
    key: ClassVar[str] = "end_of_turn_delay_max_s"

    def check(self, outcome: Outcome, services: Services) -> Check:
        loop = _loop(self.key, outcome)
        if isinstance(loop, Check):
            return loop
        delay = end_of_turn_delay(loop)
        if delay is None:
            return Check(self.key, Status.FAIL, "the loop never ended the turn after the user finished")
        return _at_most(self.key, "end of turn", delay, self.seconds, unit="s")


@dataclass(frozen=True)
class Interrupted:
    expected: bool
    key: ClassVar[str] = "interrupted"

    def check(self, outcome: Outcome, services: Services) -> Check:
        loop = _loop(self.key, outcome)
        if isinstance(loop, Check):
            return loop
        if loop.interrupted is None:
            return Check(self.key, Status.FAIL, "no reply was played")
        what = "the reply was interrupted" if loop.interrupted else "the reply played to its end"
        return Check(self.key, Status.PASS if loop.interrupted == self.expected else Status.FAIL, what)


@dataclass(frozen=True)
class SelfInterruption:
    """Hark stopped its own reply for something that was not the user talking over it (its own echo)."""

    expected: bool
    key: ClassVar[str] = "self_interruption"

    def check(self, outcome: Outcome, services: Services) -> Check:
        loop = _loop(self.key, outcome)
        if isinstance(loop, Check):
            return loop
        start = loop.barge_in_start_s
        own = [t for t in loop.barge_ins_s if start is None or t < start]
        what = f"barged in on itself at {own[0]:.2f}s" if own else "never barged in on itself"
        return Check(self.key, Status.PASS if bool(own) == self.expected else Status.FAIL, what)


@dataclass(frozen=True)
class FirstAudio:
    """From the user's true end of speech (in the mix) to the first audible reply sound at the speaker."""

    seconds: float
    key: ClassVar[str] = "first_audio_max_s"

    def check(self, outcome: Outcome, services: Services) -> Check:
        loop = _loop(self.key, outcome)
        if isinstance(loop, Check):
            return loop
        if loop.first_audio_s is None:
            return Check(self.key, Status.FAIL, "no reply audio after the user finished")
        return _at_most(self.key, "first audio", loop.first_audio_s, self.seconds, unit="s")


@dataclass(frozen=True)
class WerMax:
    """The loop's transcript is within a word error rate of what was said."""

    reference: str
    limit: float
    key: ClassVar[str] = "wer_max"

    def check(self, outcome: Outcome, services: Services) -> Check:
        return _at_most(
            self.key,
            "WER",
            word_error_rate(self.reference, outcome.user),
            self.limit,
            f": heard {_quote(outcome.user)}",
        )


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
    "sources": Kind.TEXTS,
    "grounded": Kind.BOOL,
    "cut_off": Kind.BOOL,
    "end_of_turn_delay_max_s": Kind.SECONDS,
    "interrupted": Kind.BOOL,
    "self_interruption": Kind.BOOL,
    "first_audio_max_s": Kind.SECONDS,
    "wer_max": Kind.FRACTION,
    "tool_called": Kind.TEXT,
    "flow": Kind.TEXT,
    "slots": Kind.VALUES,
}
LOOP_KEYS = ("cut_off", "end_of_turn_delay_max_s", "interrupted", "self_interruption", "first_audio_max_s")
"""Expectations measured on the voice loop: a turn with any of them is played through it."""
DEFAULT_MIN_SIMILARITY = 0.8
DEFAULT_WER_MAX = 0.0
"""A transcript must match exactly (after normalising case, punctuation and numbers) unless told otherwise."""

_REQUIRES = {"transcript_wer_max": "transcript", "min_similarity": "similar_to"}


class SpecError(ValueError):
    """An expectation that is well-typed but makes no sense; `key` is where to point the user."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def build(values: Mapping[str, Any], spoken: bool, said: str | None = None) -> list[Expectation]:
    """Expectations from `expect:` values the loader has already type-checked and converted by `EXPECT_KEYS`
    (TEXTS is a tuple of str, FRACTION and SECONDS are floats). `said`: the words of a `say` turn."""
    for key in (*LOOP_KEYS, "wer_max"):
        if key in values and not spoken:
            raise SpecError(key, f"'{key}' applies only to a spoken turn (one with 'say' or 'audio')")
    if "wer_max" in values and said is None and "transcript" not in values:
        raise SpecError("wer_max", "'wer_max' needs the words said: a 'say' turn, or 'transcript' beside it")
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
        elif key == "sources":
            made.append(Sources(value))
        elif key == "grounded":
            made.append(Grounded(value))
        elif key in LOOP_KEYS:
            made.append(_LOOP_CHECKS[key](value))
        elif key == "wer_max":
            made.append(WerMax(said if said is not None else values["transcript"], value))
        elif key == "tool_called":
            made.append(ToolCalled(value))
        elif key == "flow":
            made.append(InFlow(value))
        elif key == "slots":
            made.append(Slots(value))
    return made


_LOOP_CHECKS = {
    "cut_off": CutOff,
    "end_of_turn_delay_max_s": EndOfTurnDelay,
    "interrupted": Interrupted,
    "self_interruption": SelfInterruption,
    "first_audio_max_s": FirstAudio,
}
