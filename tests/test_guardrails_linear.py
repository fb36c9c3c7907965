"""The guardrail and PII regexes are linear-time: by construction (no nested unbounded quantifiers), and in
cost: on 100k-character hostile tokens, sixteen times the text costs well under 256 times as much (no
wall-clock limit: the bound is relative to the same check on a sixteenth of the text)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from dialogue import guardrails, injection
from dialogue.guardrails import Guardrails, redact_pii

try:  # Python 3.11+
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)}
UNBOUNDED = sre_parse.MAXREPEAT
TOKEN = 100_000

ALL_PATTERNS = {
    **{f"injection:{name}": re.compile(p) for name, p in injection.INJECTION_PATTERNS.items()},
    "email": guardrails._EMAIL,
    "card": guardrails._CARD,
    "phone": guardrails._PHONE,
    "role_claim": guardrails.ROLE_CLAIM,
    "leet_word": injection._LEET_WORD,
    "spaced": injection._SPACED,
    "base64": injection._BASE64,
    "hex": injection._HEX,
}


def _children(op, av) -> list:
    """The sub-patterns of one parsed node (groups, alternatives, lookarounds)."""
    if op == sre_parse.SUBPATTERN:
        return [av[-1]]
    if op == sre_parse.BRANCH:
        return list(av[1])
    if op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
        return [av[1]]
    if op == getattr(sre_parse, "ATOMIC_GROUP", None):
        return [av]
    return []


def _nested_repeat(items, inside_unbounded: bool = False) -> str | None:
    """The first repeat (with a maximum above 1) found inside an unbounded repeat, as text."""
    for op, av in items:
        if op in REPEATS:
            low, high, sub = av
            if inside_unbounded and high > 1:
                return f"{op} {{{low},{high}}}"
            subs, inside = [sub], inside_unbounded or high == UNBOUNDED
        else:
            subs, inside = _children(op, av), inside_unbounded
        for sub in subs:
            if found := _nested_repeat(sub, inside):
                return found
    return None


@pytest.mark.parametrize("name", sorted(ALL_PATTERNS))
def test_no_pattern_nests_quantifiers(name):
    pattern = ALL_PATTERNS[name]
    assert _nested_repeat(sre_parse.parse(pattern.pattern, pattern.flags)) is None


def test_the_structure_check_finds_a_nested_quantifier():
    assert _nested_repeat(sre_parse.parse(r"(?:a+b?)*c")) is not None
    assert _nested_repeat(sre_parse.parse(r"(?:ab?)*c(?:\w+\s)?")) is None


def _cost(fn: Callable[[str], object], text: str) -> float:
    """The least CPU time of a few runs: this process's own work, not the time other processes take."""
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        fn(text)
        best = min(best, time.process_time() - start)
    return best


SCALE = 16
LINEAR_BOUND = 64
"""Sixteen times the text may cost up to this many times as much: 16 if linear, 256 if quadratic; the slack
is for a busy machine (two cores shared by many processes)."""

HOSTILE = {
    "letters": "a" * TOKEN,
    "digits": "1" * TOKEN,
    "at signs": "a@" * (TOKEN // 2),
    "dots": "a." * (TOKEN // 2),
    "a domain without end": "x@" + "a." * (TOKEN // 2),
    "dashed digits": "1-" * (TOKEN // 2),
    "spaced digits": "12 " * (TOKEN // 3),
    "spaced letters": "a " * (TOKEN // 2),
    "base64 alphabet": "QUJD" * (TOKEN // 4),
    "words": "ignore your " * (TOKEN // 12),
}


def _part(text: str) -> str:
    return text[: len(text) // SCALE]


@pytest.mark.parametrize("check", ["redact_pii", "check_input"])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_pii_and_input_checks_grow_linearly_with_the_text(kind, check):
    """The e-mail regex this replaced took 13.7 s on one 100k-character token (quadratic)."""
    fn = redact_pii if check == "redact_pii" else Guardrails().check_input
    text = HOSTILE[kind]
    assert _cost(fn, text) < LINEAR_BOUND * _cost(fn, _part(text))


def test_the_output_check_grows_linearly_with_the_reply():
    guard = Guardrails()

    def check(text: str) -> object:
        return guard.check_output(text, "You are Hark. Keep it short and plain.")

    text = "some words here " * 6_000
    assert _cost(check, text) < LINEAR_BOUND * _cost(check, _part(text))
