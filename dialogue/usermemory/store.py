"""Facts about each user, kept in SQLite under $HARK_HOME (or in memory for a kiosk visit).

A fact is kept as the user said it, in the first person ("I'm vegetarian"). Facts that carry personal
identifiers (an email, a phone or card number, an address, a birth date, ...) are flagged `personal`
and are kept only when the user explicitly asked Hark to remember them.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from dialogue.guardrails import redact_pii

DB_NAME = "user_memory.sqlite3"
DEFAULT_USER = "default"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    text TEXT NOT NULL,
    personal INTEGER NOT NULL,
    explicit INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS facts_user ON facts(user, created);
"""
_PERSONAL = re.compile(
    r"\b(?:address|live at|street|avenue|postcode|post code|zip code|born on|birthday|date of birth|"
    r"passport|social security|ssn|national insurance|bank|account number|iban|password|passcode|pin|"
    r"licen[cs]e number|phone|e-?mail|my (?:full |last |sur)?name is|call me)\b",
    re.IGNORECASE,
)


def is_personal(text: str) -> bool:
    """Whether a fact identifies or locates the person (PII), by the guardrails' detectors and words
    that introduce identifiers."""
    return redact_pii(text) != text or bool(_PERSONAL.search(text))


@dataclass(frozen=True)
class Fact:
    id: int
    user: str
    text: str
    personal: bool
    explicit: bool
    created: float

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "user": self.user,
            "text": self.text,
            "personal": self.personal,
            "explicit": self.explicit,
            "created": self.created,
        }


class FactStore:
    """`path` may be ":memory:": facts then last as long as the store (a kiosk visitor's visit)."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, user: str, text: str, explicit: bool) -> Fact | None:
        """Keep a fact; None when it is personal and was not explicitly asked to be remembered, or when
        the same fact is already kept."""
        personal = is_personal(text)
        if personal and not explicit:
            return None
        same = self._db.execute(
            "SELECT 1 FROM facts WHERE user = ? AND lower(text) = lower(?)", (user, text)
        ).fetchone()
        if same:
            return None
        now = time.time()
        cursor = self._db.execute(
            "INSERT INTO facts(user, text, personal, explicit, created) VALUES (?, ?, ?, ?, ?)",
            (user, text, int(personal), int(explicit), now),
        )
        return Fact(cursor.lastrowid, user, text, personal, explicit, now)

    def facts(self, user: str) -> list[Fact]:
        rows = self._db.execute(
            """SELECT id, user, text, personal, explicit, created FROM facts
               WHERE user = ? ORDER BY created, id""",
            (user,),
        ).fetchall()
        return [Fact(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5]) for r in rows]

    def users(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT user FROM facts ORDER BY user")]

    def forget(self, user: str, ids: list[int]) -> int:
        marks = ",".join("?" * len(ids))
        cursor = self._db.execute(f"DELETE FROM facts WHERE user = ? AND id IN ({marks})", (user, *ids))
        return cursor.rowcount

    def forget_all(self, user: str) -> int:
        return self._db.execute("DELETE FROM facts WHERE user = ?", (user,)).rowcount
