"""Draft eval cases from rated turns: what users complained about becomes a test that can fail.

Each rated turn becomes a case whose last turn carries the user's words from that turn (PII redacted), after
up to `CONTEXT_TURNS` earlier turns of the same conversation so the question keeps its context. A turn
rated bad gets a `judge` criterion to sharpen by hand; one rated good gets `similar_to` its reply, a guard
against losing what worked. The text is a suite `hark eval` loads as it is.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from hark.errors import UserError

CONTEXT_TURNS = 2
NAME_CHARS = 48
_UNITS = {"d": 1.0, "h": 1 / 24, "m": 1 / 1440, "w": 7.0}
BAD_CRITERION = "The reply answers what the user asked, correctly and helpfully."


def parse_since(text: str) -> float:
    """`7d`, `12h`, `30m`, `2w` or a plain number of days → days."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhmw]?)\s*", text.lower())
    days = float(found.group(1)) * _UNITS[found.group(2) or "d"] if found else math.nan
    if not (math.isfinite(days) and days > 0):
        raise UserError(f"--since {text!r}: give a positive period such as 7d, 12h or 30m")
    return days


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join(text.split())


def draft_suite(
    rows: Sequence[dict[str, Any]], rating: str, redact: Callable[[str], str], title: str
) -> tuple[str, int]:
    """The YAML suite of the turns rated `rating` among `rows` (oldest first), and how many cases it has."""
    cases = []
    for index, row in enumerate(rows):
        if row["feedback"] != rating or not row["user"].strip():
            continue
        conversation = row["conversation_id"]
        earlier = [
            r for r in rows[:index] if conversation is not None and r["conversation_id"] == conversation
        ]
        context = earlier[-CONTEXT_TURNS:]
        cases.append(_case(row, context, rating, redact))
    if not cases:
        return "", 0
    return f"name: {_q(title)}\ncases:\n" + "".join(cases), len(cases)


def _case(
    row: dict[str, Any], context: list[dict[str, Any]], rating: str, redact: Callable[[str], str]
) -> str:
    user = redact(row["user"])
    name = _comment(user)
    label = f"turn {row['id']}: " + (name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…")
    at = datetime.fromtimestamp(row["at"], timezone.utc).isoformat(timespec="seconds")
    note = f" — note: {_comment(redact(row['feedback_note']))}" if row["feedback_note"] else ""
    lines = [
        f"  # turn {row['id']} at {at}, rated {rating}{note}",
        f"  # hark replied: {_comment(redact(row['reply']))}",
        f"  - name: {_q(label)}",
        "    turns:",
    ]
    lines += [f"      - user: {_q(redact(r['user']))}" for r in context if r["user"].strip()]
    lines.append(f"      - user: {_q(user)}")
    if rating == "bad":
        lines.append(f"        expect: {{judge: {_q(BAD_CRITERION)}}}")
    else:
        lines.append(f"        expect: {{similar_to: {_q(redact(row['reply']))}}}")
    return "\n".join(lines) + "\n"
