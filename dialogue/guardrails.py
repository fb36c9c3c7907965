"""Guardrails: checks on what the user says and on what the model answers, and PII redaction for logs.

Input checks (blocked topics, prompt-injection patterns on the normalised and decoded text: see
`dialogue.injection`) run before any model call. Output checks (the system prompt repeated verbatim or in
pieces: see `dialogue.leakage`; the model claiming an imposed role; blocked topics and phrases) run on the
streamed reply, before the shaper and TTS see it: `OutputGuard` releases it word by word, each word only once
the reply up to it passed the checks. A match is therefore never released whole (the word that completes it
is held), at the cost of one token of delay: holding whole clauses instead would delay the voice loop's first
spoken clause, which is cut a few words after a comma.

Every regular expression here is linear-time in the text length (no nested unbounded quantifiers, matches
anchored at token starts), so a pasted 100k-character token costs milliseconds, not minutes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from dialogue.errors import DialogueError, reject_unknown_keys
from dialogue.injection import INJECTION_PATTERNS, normalise, variants
from dialogue.leakage import LeakScan, profile

__all__ = ["INJECTION_PATTERNS", "GuardrailConfig", "Guardrails", "OutputGuard", "Verdict", "redact_pii"]

ROLE_CLAIM = re.compile(
    r"\b(?:i\s+am|i'm|call\s+me)\s+(?:now\s+)?(?:dan|an?\s+(?:unrestricted|unfiltered|uncensored|jailbroken)"
    r"\b)\b|\bdan\s+here\b"
    r"|\b(?:i|i've|i'm)\s+(?:now\s+)?(?:have\s+no|got\s+no|no\s+longer\s+have|free\s+(?:of|from)|am\s+free\s+"
    r"(?:of|from)|not\s+bound\s+by|am\s+not\s+bound\s+by)\s+(?:any\s+)?(?:rules|restrictions|limits|"
    r"limitations|filters|guidelines)\b"
    r"|\b(?:dan|jailbreak|unfiltered|unrestricted)\s+mode\s+(?:is\s+)?(?:on|enabled|activated|engaged)\b"
    r"|\bdeveloper\s+mode\s+(?:enabled|activated|engaged)\b"  # the jailbreak's confirmation, not a phone's
    r"|\bi\s+can\s+(?:now\s+)?do\s+anything\s+now\b"
)
"""A reply taking on a role the user tried to impose ("I am DAN", "I have no rules now"), on normalised text:
caught here when the input check missed the set-up, so the role is never voiced."""

HOLD_MAX_CHARS = 80
"""Longest text held back waiting for the end of a word (a URL, say); beyond it, it is released as is."""

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@[A-Za-z0-9-][A-Za-z0-9.-]*+")
"""An address candidate: a possessive match that starts only where a token starts, so no backtracking; its
domain is checked by `_email`."""
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,5}(?:[\s.-]\d{2,5}){1,4}(?![\w-])"
    r"|(?<![\w+])\+?\d{10,15}(?!\w)"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _email(match: re.Match[str]) -> str:
    """`[email]` when the domain has a dot and ends in a letters-only top-level label (a final dot stays)."""
    candidate = match.group()
    full = candidate.partition("@")[2]
    domain = full.rstrip(".-")
    labels = domain.split(".")
    tld = labels[-1]
    if len(labels) >= 2 and all(labels) and len(tld) >= 2 and tld.isascii() and tld.isalpha():
        return "[email]" + full[len(domain) :]
    return candidate


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
    text = _EMAIL.sub(_email, text)
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
        """Injection patterns on the text as typed and on every normalised or decoded variant of it, then
        blocked topics."""
        if not self.config.enabled:
            return None
        texts = [text, *variants(text)] if self._injections else []
        for name, pattern in self._injections.items():
            if any(pattern.search(t) for t in texts):
                return Verdict(f"injection:{name}")
        return self._topic(text) or self._topic(normalise(text))

    def _topic(self, text: str) -> Verdict | None:
        for topic, pattern in self._topics.items():
            if pattern.search(text):
                return Verdict(f"topic:{topic}")
        return None

    def check_output(self, text: str, system_prompt: str) -> Verdict | None:
        """Check a whole reply (`system_prompt`: the persona's, which must not be repeated)."""
        return self._output_check(system_prompt)(text) if self.config.enabled else None

    def _output_check(self, system_prompt: str) -> Callable[[str], Verdict | None]:
        """A check for one streamed reply: each call gets the reply so far, extending the previous call's."""
        scan = LeakScan(profile(system_prompt)) if self.config.check_leakage else None

        def check(text: str) -> Verdict | None:
            if scan is not None and scan.leaks(text):
                return Verdict("output:system_prompt_leak")
            if ROLE_CLAIM.search(normalise(text)):
                return Verdict("output:role_claim")
            for pattern in self._blocked_output:
                if pattern.search(text):
                    return Verdict("output:blocked_content")
            verdict = self._topic(text)
            return Verdict(f"output:{verdict.rule}") if verdict else None

        return check

    def output_guard(self, system_prompt: str) -> OutputGuard:
        return OutputGuard(self._output_check(system_prompt) if self.config.enabled else None)

    def redact(self, text: str) -> str:
        return redact_pii(text) if self.config.redact_pii else text


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
        cut = _after_last_space(self._held)  # after the last complete word
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


def _after_last_space(text: str) -> int:
    """The index just after the last whitespace character (0 if none), scanning back from the end only."""
    for i in range(len(text) - 1, -1, -1):
        if text[i].isspace():
            return i + 1
    return 0
