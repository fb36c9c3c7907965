"""Kiosk log lines: bystanders' words never logged, and what is logged is PII-redacted when asked."""

from __future__ import annotations

import io
import json

from dialogue.guardrails import redact_pii
from hark.config import LoggingSettings
from hark.kiosk.log import JsonLog


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_logged_text_is_redacted_and_overheard_text_is_only_counted():
    out = io.StringIO()
    log = JsonLog(LoggingSettings(), out, redact=redact_pii)
    log.emit({"event": "transcript", "final": True, "text": "My card is 4111 1111 1111 1111"})
    log.emit({"event": "reply", "text": "Write to ana@example.org", "interrupted": False})
    log.emit({"event": "transcript", "final": True, "ignored": True, "text": "call me on 555-123-4567"})
    heard, said, overheard = lines(out)
    assert "4111" not in heard["text"] and "[card]" in heard["text"]
    assert said["text"] == "Write to [email]"
    assert "text" not in overheard and overheard["words"] == 4
