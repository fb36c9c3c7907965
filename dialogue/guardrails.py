"""Guardrails: checks on what the user says and on what the model answers, and PII redaction for logs.

Input checks (blocked topics, prompt-injection patterns) run before any model call. Output checks (system
prompt leakage, blocked topics and phrases) run on the streamed reply: `OutputGuard` releases it word by word,
each word only once the reply up to it passed the checks. A match is therefore never released whole (the
word that completes it is held), at the cost of one token of delay: holding whole clauses instead would
delay the voice loop's first spoken clause, which is cut a few words after a comma.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from dialogue.errors import DialogueError, reject_unknown_keys

INJECTION_PATTERNS: dict[str, str] = {
    "ignore_instructions": (
        r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+)?(?:of\s+)?"
        r"(?:your|the\s+(?:previous|above|prior|earlier|system)|previous|prior|above|earlier|system|these|those)"
        r"\s+(?:\w+\s+)?(?:instructions?|rules|guidelines|prompts?|directives|programming)\b"
    ),
    "reveal_instructions": (
        r"\b(?:reveal|show|print|repeat|recite|display|output|tell\s+me|what(?:'s|\s+is|\s+are|\s+were)|"
        r"give\s+me|share|leak|read\s+out)\b[^.?!]{0,30}?"
        r"(?:\bsystem\s+(?:prompt|message)|\b(?:your|hidden|initial|original|secret|previous)\s+"
        r"(?:instructions|prompt|rules|guidelines|directives))\b"
    ),
    "role_override": (
        r"\b(?:you\s+are\s+now\s+(?:an?\s+)?(?:unrestricted|unfiltered|jailbroken|evil|DAN)|"
        r"pretend\s+(?:that\s+)?you\s+(?:have|had)\s+no\s+(?:rules|restrictions|guidelines)|"
        r"developer\s+mode|jailbreak|do\s+anything\s+now)\b"
    ),
}
"""Built-in prompt-injection patterns (case-insensitive), by name; the name is reported as the rule."""

LEAK_NGRAM_WORDS = 6
"""A reply that repeats this many consecutive words of the system prompt is leaking it."""
HOLD_MAX_CHARS = 80
"""Longest text held back waiting for the end of a word (a URL, say); beyond it, it is released as is."""

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,5}(?:[\s.-]\d{2,5}){1,4}(?![\w-])"
    r"|(?<![\w+])\+?\d{10,15}(?!\w)"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WORD = re.compile(r"[a-z0-9']+")
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if _luhn_ok(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15 or _ISO_DATE.fullmatch(text):
        return text
    return "[phone]"


def redact_pii(text: str) -> str:
    """Replace email addresses, payment card numbers (Luhn-checked) and phone numbers with placeholders."""
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


@dataclass(frozen=True)
class Verdict:
    """A guardrail fired."""

    rule: str
    """e.g. `injection:reveal_instructions`, `topic:weapons`, `output:system_prompt_leak`."""


def _as_strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DialogueError(f"guardrails.{key} must be a list of non-empty strings")
    return tuple(value)


def _compile(key: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise DialogueError(f"guardrails.{key}: bad regular expression {pattern!r}: {exc}") from exc


def _phrase(phrase: str) -> re.Pattern[str]:
    """A phrase matched as whole words, any spacing, singular or plural."""
    words = r"\s+".join(re.escape(w) for w in phrase.split())
    return re.compile(rf"\b{words}(?:s|es)?\b", re.IGNORECASE)


@dataclass(frozen=True)
class GuardrailConfig:
    """The `[guardrails]` table of the config file."""

    enabled: bool = True
    blocked_topics: tuple[str, ...] = ()
    """Words or phrases the assistant will not discuss: checked in what the user says and in replies."""
    injection_checks: bool = True
    """Refuse prompt-injection attempts (the built-in patterns plus `injection_patterns`)."""
    injection_patterns: tuple[str, ...] = ()
    """Extra regular expressions (case-insensitive) that mark an injection attempt."""
    blocked_output: tuple[str, ...] = ()
    """Regular expressions a reply must not match."""
    check_leakage: bool = True
    """Stop a reply that repeats the system prompt."""
    redact_pii: bool = True
    """Redact emails, phone and card numbers from logs and analytics."""

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> GuardrailConfig:
        if not isinstance(table, Mapping):
            raise DialogueError("[guardrails] in the config file must be a table")
        known = {f.name: f for f in fields(cls)}
        reject_unknown_keys(table, known, "guardrails")
        values: dict[str, Any] = {}
        for key, value in table.items():
            if known[key].type == "bool":
                if not isinstance(value, bool):
                    raise DialogueError(f"guardrails.{key} must be true or false")
                values[key] = value
            else:
                values[key] = _as_strings(key, value)
        config = cls(**values)
        for key in ("injection_patterns", "blocked_output"):
            for pattern in getattr(config, key):
                _compile(key, pattern)
        return config


class Guardrails:
    def __init__(self, config: GuardrailConfig | None = None) -> None:
        self.config = config = config or GuardrailConfig()
        injections = dict(INJECTION_PATTERNS) if config.injection_checks else {}
        injections.update({f"custom{i}": p for i, p in enumerate(config.injection_patterns, 1)})
        self._injections = {name: _compile("injection_patterns", p) for name, p in injections.items()}
        self._topics = {topic: _phrase(topic) for topic in config.blocked_topics}
        self._blocked_output = [_compile("blocked_output", p) for p in config.blocked_output]

    def check_input(self, text: str) -> Verdict | None:
        if not self.config.enabled:
            return None
        for name, pattern in self._injections.items():
            if pattern.search(text):
                return Verdict(f"injection:{name}")
        return self._topic(text)

    def _topic(self, text: str) -> Verdict | None:
        for topic, pattern in self._topics.items():
            if pattern.search(text):
                return Verdict(f"topic:{topic}")
        return None

    def check_output(self, text: str, system_prompt: str) -> Verdict | None:
        """Check a whole reply so far (`system_prompt`: the persona's, which must not be repeated)."""
        if not self.config.enabled:
            return None
        if self.config.check_leakage and _shingles(text) & _prompt_shingles(system_prompt):
            return Verdict("output:system_prompt_leak")
        for pattern in self._blocked_output:
            if pattern.search(text):
                return Verdict("output:blocked_content")
        verdict = self._topic(text)
        return Verdict(f"output:{verdict.rule}") if verdict else None

    def output_guard(self, system_prompt: str) -> OutputGuard:
        if not self.config.enabled:
            return OutputGuard(None)
        return OutputGuard(lambda text: self.check_output(text, system_prompt))

    def redact(self, text: str) -> str:
        return redact_pii(text) if self.config.redact_pii else text


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    n = LEAK_NGRAM_WORDS
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


_prompt_shingles = functools.lru_cache(maxsize=8)(_shingles)
"""The same for a system prompt, which is checked against every released piece of every reply."""


class OutputGuard:
    """Releases streamed reply text a word at a time, once the reply up to there passed the checks.

    After a check fails, `verdict` is set and nothing more is released.
    """

    def __init__(self, check: Callable[[str], Verdict | None] | None) -> None:
        self._check = check
        self._released = ""
        self._held = ""
        self.verdict: Verdict | None = None

    def feed(self, piece: str) -> list[str]:
        if self._check is None:
            return [piece]
        if self.verdict is not None:
            return []
        self._held += piece
        last_space = _LAST_SPACE.search(self._held)
        cut = last_space.end() if last_space else 0  # after the last complete word
        if len(self._held) > HOLD_MAX_CHARS:
            cut = len(self._held)
        return self._release(cut) if cut else []

    def flush(self) -> list[str]:
        return self._release(len(self._held)) if self._held and self.verdict is None else []

    def _release(self, cut: int) -> list[str]:
        assert self._check is not None
        segment = self._held[:cut]
        self.verdict = self._check(self._released + segment)
        if self.verdict is not None:
            return []
        self._released += segment
        self._held = self._held[cut:]
        return [segment]
