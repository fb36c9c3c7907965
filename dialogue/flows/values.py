"""Typed slot values from speech: each type finds its value in free text ("a room for four tomorrow at
ten") or checks a value the model extracted, and says why a value is not acceptable."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
YES = {"yes", "yeah", "yep", "sure", "ok", "okay", "correct", "right"}
NO = {"no", "nope", "not"}
_NUM = r"(\d+|" + "|".join(NUMBER_WORDS) + ")"


class SlotValueError(ValueError):
    """A value that does not fit the slot; the message is said to the user."""


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def find(kind: str, text: str, asked: bool) -> Any:
    """The value of type `kind` in `text`, or None. `asked`: the user answers this slot's prompt, so a
    bare value ("four", "Friday") counts; otherwise only a value in its usual phrase does."""
    words = text.lower()
    if kind == "integer" or kind == "number":
        match = re.search(rf"\bfor {_NUM}\b|\b{_NUM} (?:people|persons|of us|guests)\b", words)
        if match is None and asked:
            match = re.search(rf"\b{_NUM}\b", words)
        return _number(next(g for g in match.groups() if g)) if match else None
    if kind == "date":
        return _date(words)
    if kind == "time":
        match = re.search(rf"\bat {_NUM}(?::(\d\d))?\s*(am|pm|a\.m\.|p\.m\.)?", words)
        if match is None and asked:
            match = re.search(rf"\b{_NUM}(?::(\d\d))?\s*(am|pm|a\.m\.|p\.m\.)?", words)
        if match is None:
            return None
        hour, minutes, half = _number(match.group(1)), int(match.group(2) or 0), (match.group(3) or "")
        hour += 12 if half.startswith("p") and hour < 12 else 0
        return f"{hour:02d}:{minutes:02d}"
    if kind == "yes_no":
        tokens = set(re.findall(r"[a-z']+", words))
        return True if tokens & YES and not tokens & NO else False if tokens & NO else None
    return text.strip() or None if asked else None


def _date(words: str, today: date | None = None) -> str | None:
    today = today or date.today()
    if match := re.search(r"\b(\d{4})-(\d\d)-(\d\d)\b", words):
        return date(*map(int, match.groups())).isoformat()
    if re.search(r"\bday after tomorrow\b", words):
        return (today + timedelta(days=2)).isoformat()
    if re.search(r"\btomorrow\b", words):
        return (today + timedelta(days=1)).isoformat()
    if re.search(r"\btoday\b", words):
        return today.isoformat()
    for index, name in enumerate(WEEKDAYS):
        if re.search(rf"\b{name}\b", words):
            ahead = (index - today.weekday()) % 7 or 7
            return (today + timedelta(days=ahead)).isoformat()
    return None


def check(kind: str, value: Any, low: float | None, high: float | None, choices: tuple[str, ...]) -> Any:
    """`value` as the slot keeps it, or `SlotValueError` saying what is wrong with it."""
    if kind in ("integer", "number"):
        if isinstance(value, str):
            value = find(kind, value, asked=True)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SlotValueError("that is not a number")
        if (low is not None and value < low) or (high is not None and value > high):
            lowest = "" if low is None else f" at least {low:g}"
            highest = "" if high is None else f" at most {high:g}"
            raise SlotValueError(
                f"{value:g} will not do: it must be{lowest}{' and' if lowest and highest else ''}{highest}"
            )
        return int(value) if kind == "integer" else float(value)
    if kind in ("date", "time"):
        found = find(kind, str(value), asked=True)
        if found is None:
            raise SlotValueError(f"that is not a {kind}")
        if kind == "time" and not (0 <= int(found[:2]) < 24 and int(found[3:]) < 60):
            raise SlotValueError("that is not a time of day")
        return found
    if kind == "choice":
        picked = next((c for c in choices if c.lower() in str(value).lower()), None)
        if picked is None:
            raise SlotValueError("please choose " + " or ".join(choices))
        return picked
    if kind == "yes_no":
        return value if isinstance(value, bool) else find(kind, str(value), asked=True)
    text = str(value).strip()
    if not text:
        raise SlotValueError("that is empty")
    return text
