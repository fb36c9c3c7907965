"""Structured logs: one JSON object per line on stdout (journald keeps them; `jq` reads them).

Each line has `ts` (UTC, ISO 8601), `level` and `event`, then the event's own fields — the voice loop's
events (`transcript`, `reply`, `metrics`, `barge_in`, `error`, ...) as they are, and the kiosk's
(`session_start`, `session_end`, `turn`, `audio_input`, `config_reloaded`, ...).

Privacy: what bystanders say is never logged, only its length — utterances not addressed to Hark, and
partial transcripts (said before it is known whom to); with `logging.text = false` no transcript or reply
text is logged at all; what is logged is PII-redacted (e-mail addresses, phone and card numbers) when
`guardrails.redact_pii` is on.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TextIO

from hark.config import LOG_LEVELS, LoggingSettings
from hark.report import Reporter

TEXT_EVENTS = {"transcript", "reply", "announcement"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def level_of(event: dict) -> str:
    kind = event.get("event")
    if kind in ("error", "config_error", "fatal"):
        return "error"
    device_down = kind in ("audio_input", "audio_output") and event.get("status") == "down"
    if device_down or kind == "restart_required":
        return "warning"
    if kind == "transcript" and not event.get("final"):
        return "debug"
    return "info"


class JsonLog:
    def __init__(
        self,
        settings: LoggingSettings,
        out: TextIO | None = None,
        clock: Callable[[], str] = _now,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.settings = settings
        self.redact = redact
        self._out = out or sys.stdout
        self._clock = clock
        self._lock = threading.Lock()

    def emit(self, event: dict) -> None:
        level = level_of(event)
        if LOG_LEVELS.index(level) < LOG_LEVELS.index(self.settings.level):
            return
        fields = dict(event)
        text = fields.get("text")
        # A partial or ignored transcript may be a bystander's words: only what was said to Hark is logged.
        overheard = fields.get("event") == "transcript" and (fields.get("ignored") or not fields.get("final"))
        hide = not self.settings.text or overheard
        if fields.get("event") in TEXT_EVENTS and isinstance(text, str):
            if hide:
                del fields["text"]
                fields.pop("committed", None)
                fields["words"] = len(text.split())
            else:
                fields["text"] = self.redact(text)
        line = json.dumps({"ts": self._clock(), "level": level, **fields}, ensure_ascii=False, default=str)
        # A closed stdout (BrokenPipeError, ValueError) leaves nothing sensible to do.
        with self._lock, contextlib.suppress(BrokenPipeError, ValueError):
            print(line, file=self._out, flush=True)

    def note(self, message: str) -> None:
        self.emit({"event": "note", "message": message})


class LogReporter(Reporter):
    """A `Reporter` for code shared with the interactive commands: its notes and events become log lines."""

    def __init__(self, log: JsonLog) -> None:
        super().__init__(json_mode=True)
        self._log = log

    def info(self, line: str) -> None:
        self._log.note(line)

    def event(self, event: dict) -> None:
        self._log.emit(event)
