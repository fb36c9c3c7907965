"""Turn analytics: one SQLite row per turn (PII redacted before it is written), and the stats over them."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dialogue.guardrails import redact_pii
from dialogue.record import STAGES, TurnRecord
from dialogue.store import connect, cutoff

DB_NAME = "analytics.db"
"""Its own file, apart from the conversations: every text in it is redacted, so it can be inspected or
shared without exposing what users said about themselves."""
PURGE_EVERY_S = 3600.0
"""A kiosk runs for weeks: old rows are purged at most this often while it records."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    conversation_id INTEGER,
    user TEXT NOT NULL,
    reply TEXT NOT NULL,
    backend TEXT,
    model TEXT,
    fallback INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    latencies TEXT NOT NULL DEFAULT '{}',
    prompt_tokens INTEGER,
    reply_tokens INTEGER,
    stt_confidence REAL,
    error TEXT,
    interrupted INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0,
    guardrail TEXT,
    reprompt INTEGER NOT NULL DEFAULT 0,
    images INTEGER NOT NULL DEFAULT 0,
    images_seen INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS turns_by_time ON turns(at);
"""


class Analytics:
    """Writes turn rows. `redact` is applied to every text before it reaches the disk."""

    def __init__(
        self,
        path: Path,
        redact: Callable[[str], str] = redact_pii,
        retention_days: float | None = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self._redact = redact
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = connect(path)
        with self._lock, self._conn:
            self._conn.executescript(_SCHEMA)
        self._purged_at = -math.inf
        self.purge()

    def record(self, record: TurnRecord) -> int:
        """Write the turn; returns its row id."""
        if self._clock() - self._purged_at > PURGE_EVERY_S:
            self.purge()
        redact = self._redact
        row = (
            record.started_at,
            record.conversation_id,
            redact(record.user),
            redact(record.reply),
            record.backend,
            record.model,
            record.fallback,
            record.attempts,
            json.dumps(record.latencies),
            record.prompt_tokens,
            record.reply_tokens,
            record.stt_confidence,
            redact(record.error) if record.error else None,
            record.interrupted,
            record.blocked,
            record.guardrail,
            record.reprompt,
            record.images,
            record.images_seen,
        )
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO turns (at, conversation_id, user, reply, backend, model, fallback, attempts, "
                "latencies, prompt_tokens, reply_tokens, stt_confidence, error, interrupted, blocked, "
                "guardrail, reprompt, images, images_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?)",
                row,
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def add_latencies(self, row_id: int, latencies: dict[str, float]) -> None:
        """Merge stage latencies measured after the row was written (the voice loop's, for instance)."""
        with self._lock, self._conn:
            found = self._conn.execute("SELECT latencies FROM turns WHERE id = ?", (row_id,)).fetchone()
            if found is None:
                return
            merged = {**json.loads(found[0]), **latencies}
            self._conn.execute("UPDATE turns SET latencies = ? WHERE id = ?", (json.dumps(merged), row_id))

    def purge(self) -> int:
        """Delete rows older than the retention period; how many were deleted."""
        now = self._clock()
        self._purged_at = now
        before = cutoff(self.retention_days, now)
        return 0 if before is None else self.delete_before(before)

    def delete_before(self, at: float) -> int:
        """Delete the rows of turns before clock time `at`; how many were deleted."""
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM turns WHERE at < ?", (at,)).rowcount

    def export(self) -> list[dict]:
        """Every stored turn, oldest first, as plain data."""
        with self._lock:
            cursor = self._conn.execute("SELECT * FROM turns ORDER BY id")
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1), interpolating between the nearest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def _rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def read_stats(path: Path, days: float | None = None, now: float | None = None) -> dict[str, Any]:
    """Counts, rates, p50/p90 latency per stage, tokens and models over the turns of the last `days`.

    Reads without creating anything: with no database yet, every count is zero.
    """
    since = cutoff(days, time.time() if now is None else now) or 0.0
    rows: list[sqlite3.Row] = []
    if path.exists():
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute("SELECT * FROM turns WHERE at >= ? ORDER BY at", (since,)).fetchall()
        except sqlite3.OperationalError:  # the database exists but no turn was ever recorded
            rows = []
        finally:
            conn.close()
    total = len(rows)
    counts = {
        "blocked": sum(r["blocked"] for r in rows),
        "reprompts": sum(r["reprompt"] for r in rows),
        "errors": sum(r["error"] is not None for r in rows),
        "interrupted": sum(r["interrupted"] for r in rows),
        "fallbacks": sum(r["fallback"] for r in rows),
    }
    stages: dict[str, list[float]] = {}
    for r in rows:
        for stage, value in json.loads(r["latencies"]).items():
            stages.setdefault(stage, []).append(value)
    order = {stage: i for i, stage in enumerate(STAGES)}
    latency = {
        stage: {
            "p50": round(percentile(values, 0.5), 4),
            "p90": round(percentile(values, 0.9), 4),
            "count": len(values),
        }
        for stage, values in sorted(stages.items(), key=lambda item: order.get(item[0], len(order)))
    }
    reply_tokens = [r["reply_tokens"] for r in rows if r["reply_tokens"] is not None]
    return {
        "turns": total,
        "conversations": len({r["conversation_id"] for r in rows if r["conversation_id"] is not None}),
        "first": _iso(rows[0]["at"]) if rows else None,
        "last": _iso(rows[-1]["at"]) if rows else None,
        **counts,
        "rates": {
            "error": _rate(counts["errors"], total),
            "interruption": _rate(counts["interrupted"], total),
            "blocked": _rate(counts["blocked"], total),
            "reprompt": _rate(counts["reprompts"], total),
            "fallback": _rate(counts["fallbacks"], total),
        },
        "latency_s": latency,
        "tokens": {
            "prompt_total": sum(r["prompt_tokens"] or 0 for r in rows),
            "reply_total": sum(reply_tokens),
            "reply_p50": percentile(reply_tokens, 0.5) if reply_tokens else None,
        },
        "models": dict(Counter(r["model"] for r in rows if r["model"]).most_common()),
        "guardrails": dict(Counter(r["guardrail"] for r in rows if r["guardrail"]).most_common()),
    }
