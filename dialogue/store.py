"""Conversations on disk (SQLite in WAL mode), so that a conversation can be resumed.

Only text is stored: images never are (the history keeps a note of what was shown). The text is kept as
said, since a resumed conversation needs it; the file is readable by its owner only, and conversations not
touched for `retention_days` are deleted. (Analytics, which are redacted, live in a separate file.)
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dialogue.errors import ConversationNotFound
from dialogue.messages import Message

DB_NAME = "conversations.db"
DAY_S = 86_400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    persona TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    folded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, folded, id);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a private SQLite database in WAL mode, usable from several threads."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = not path.exists()
    conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
    if new:
        os.chmod(path, 0o600)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def cutoff(retention_days: float | None, now: float) -> float | None:
    """The time before which records are deleted; None keeps everything (`retention_days` 0 or None)."""
    return now - retention_days * DAY_S if retention_days else None


@dataclass(frozen=True)
class StoredConversation:
    id: int
    started_at: float
    updated_at: float
    persona: str
    summary: str
    messages: tuple[Message, ...]
    """The messages not folded into the summary, oldest first."""


class ConversationStore:
    def __init__(
        self,
        path: Path,
        retention_days: float | None = 30,
        clock: Callable[[], float] = time.time,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        """`redact` is applied to every message and summary before it is written (e.g. PII redaction), so
        what was said never reaches the disk verbatim; a resumed conversation continues from that text."""
        self.path = path
        self.retention_days = retention_days
        self._clock = clock
        self._redact = redact or (lambda text: text)
        self._lock = threading.Lock()
        self._conn = connect(path)
        with self._lock, self._conn:
            self._conn.executescript(_SCHEMA)
        self.purge()

    def create(self, persona: str) -> int:
        now = self._clock()
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO conversations (started_at, updated_at, persona) VALUES (?, ?, ?)",
                (now, now, persona),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def append(self, conversation_id: int, messages: Sequence[Message]) -> None:
        now = self._clock()
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO messages (conversation_id, at, role, content) VALUES (?, ?, ?, ?)",
                [(conversation_id, now, m.role, self._redact(m.content)) for m in messages],
            )
            self._touch(conversation_id, now)

    def fold(self, conversation_id: int, count: int, summary: str) -> None:
        """The `count` oldest unfolded messages are now in `summary`."""
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE messages SET folded = 1 WHERE id IN (SELECT id FROM messages "
                "WHERE conversation_id = ? AND folded = 0 ORDER BY id LIMIT ?)",
                (conversation_id, count),
            )
            self._conn.execute(
                "UPDATE conversations SET summary = ? WHERE id = ?", (self._redact(summary), conversation_id)
            )
            self._touch(conversation_id, self._clock())

    def _touch(self, conversation_id: int, now: float) -> None:
        self._conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))

    def load(self, conversation_id: int | None = None) -> StoredConversation:
        """A stored conversation, or the most recently used one."""
        with self._lock:
            if conversation_id is None:
                row = self._conn.execute(
                    "SELECT id, started_at, updated_at, persona, summary FROM conversations "
                    "ORDER BY updated_at DESC, id DESC LIMIT 1"
                ).fetchone()
            else:
                row = self._conn.execute(
                    "SELECT id, started_at, updated_at, persona, summary FROM conversations WHERE id = ?",
                    (conversation_id,),
                ).fetchone()
            if row is None:
                raise ConversationNotFound(
                    "there is no saved conversation to resume"
                    if conversation_id is None
                    else f"there is no saved conversation {conversation_id}"
                )
            messages = self._conn.execute(
                "SELECT role, content FROM messages WHERE conversation_id = ? AND folded = 0 ORDER BY id",
                (row[0],),
            ).fetchall()
        return StoredConversation(*row, messages=tuple(Message(role, content) for role, content in messages))

    def purge(self) -> int:
        """Delete the conversations older than the retention period; how many were deleted."""
        before = cutoff(self.retention_days, self._clock())
        return 0 if before is None else self.delete_before(before)

    def delete_before(self, at: float) -> int:
        """Delete the conversations last touched before clock time `at`; how many were deleted."""
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM conversations WHERE updated_at < ?", (at,)).rowcount

    def delete(self, conversation_id: int) -> None:
        """Forget one conversation and its messages (a kiosk visit, once the visitor has gone)."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def export(self) -> list[dict]:
        """Every stored conversation with its messages, oldest first, as plain data."""
        with self._lock:
            conversations = self._conn.execute(
                "SELECT id, started_at, updated_at, persona, summary FROM conversations ORDER BY id"
            ).fetchall()
            messages = self._conn.execute(
                "SELECT conversation_id, at, role, content FROM messages ORDER BY id"
            ).fetchall()
        by_conversation: dict[int, list[dict]] = {}
        for conversation_id, at, role, content in messages:
            message = {"at": at, "role": role, "content": content}
            by_conversation.setdefault(conversation_id, []).append(message)
        keys = ("id", "started_at", "updated_at", "persona", "summary")
        out = [dict(zip(keys, row, strict=True)) for row in conversations]
        return [c | {"messages": by_conversation.get(c["id"], [])} for c in out]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
