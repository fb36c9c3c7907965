"""Notes and timers in SQLite under $HARK_HOME, so reminders survive a restart."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "tools.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, at REAL NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY,
    due REAL NOT NULL,
    label TEXT NOT NULL,
    announced INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS timers_due ON timers(announced, due);
"""


@dataclass(frozen=True)
class Timer:
    id: int
    due: float
    """Unix time."""
    label: str


class ToolStore:
    """One SQLite file shared by the notes and timer tools and the reminder clock (any thread)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.clock = clock

    def add_note(self, text: str) -> int:
        with self._lock, self._db:
            return int(
                self._db.execute("INSERT INTO notes (at, text) VALUES (?, ?)", (self.clock(), text)).lastrowid
            )

    def notes(self, limit: int = 10) -> list[str]:
        """The latest notes, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT text FROM notes ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [text for (text,) in rows]

    def add_timer(self, seconds: float, label: str) -> Timer:
        due = self.clock() + seconds
        with self._lock, self._db:
            row = self._db.execute("INSERT INTO timers (due, label) VALUES (?, ?)", (due, label)).lastrowid
        return Timer(int(row), due, label)

    def pending(self) -> list[Timer]:
        """Timers not yet announced, soonest first (including those that came due while Hark was off)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, due, label FROM timers WHERE announced = 0 ORDER BY due"
            ).fetchall()
        return [Timer(*row) for row in rows]

    def mark_announced(self, timer_id: int) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE timers SET announced = 1 WHERE id = ?", (timer_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class ReminderClock:
    """Says each timer's reminder when it comes due, through `announce` (the voice loop's `say`).

    Polls the store (cheap: one indexed query) so that timers set by any process sharing $HARK_HOME are
    announced too; a timer that came due while Hark was not running is announced at start, saying so.
    """

    POLL_S = 0.5

    def __init__(self, store: ToolStore, announce: Callable[[str], None]) -> None:
        self.store = store
        self.announce = announce
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hark-reminders", daemon=True)
        self._started_at = store.clock()

    def start(self) -> ReminderClock:
        self._thread.start()
        return self

    def due_now(self) -> list[str]:
        """Mark the timers that are due as announced; what to say for each."""
        now = self.store.clock()
        said = []
        for timer in self.store.pending():
            if timer.due > now:
                break
            self.store.mark_announced(timer.id)
            late = " (it came due while I was off)" if timer.due < self._started_at else ""
            said.append(f"Reminder: {timer.label}.{late}" if timer.label else f"Your timer is done.{late}")
        return said

    def _run(self) -> None:
        while not self._stop.wait(self.POLL_S):
            for text in self.due_now():
                self.announce(text)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
