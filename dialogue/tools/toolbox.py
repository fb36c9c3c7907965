"""What the dialogue manager gets of tools: the registry, the notes/timer store, and what to close."""

from __future__ import annotations

import threading
from collections.abc import Callable

from dialogue.tools.builtins import builtin_tools
from dialogue.tools.registry import ToolRegistry
from dialogue.tools.store import ReminderClock, ToolStore


class Toolbox:
    """The tools of one session. `status` holds one line per tool source that is not healthy (an MCP
    server that failed to start or died), for `hark doctor` and `/healthz`."""

    def __init__(self, registry: ToolRegistry, store: ToolStore | None = None) -> None:
        self.registry = registry
        self.store = store
        self.status: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closers: list[Callable[[], None]] = []
        self._reminders: ReminderClock | None = None

    @classmethod
    def with_builtins(cls, store: ToolStore | None) -> Toolbox:
        return cls(ToolRegistry(builtin_tools(store)), store)

    def announce_with(self, say: Callable[[str], None]) -> None:
        """Say due reminders with `say` (the voice loop's), from now on; only with a store."""
        if self.store is not None and self._reminders is None:
            self._reminders = ReminderClock(self.store, say).start()

    def on_close(self, close: Callable[[], None]) -> None:
        with self._lock:
            self._closers.append(close)

    def close(self) -> None:
        if self._reminders is not None:
            self._reminders.stop()
        with self._lock:
            closers, self._closers = self._closers, []
        for close in reversed(closers):
            close()
        if self.store is not None:
            self.store.close()
