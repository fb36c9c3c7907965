"""Printing what happens: JSON lines on stdout under --json, readable lines otherwise.

Under --json, stdout carries only JSON objects (one per line) and every human-readable line goes to stderr.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import TextIO


class Reporter:
    def __init__(self, json_mode: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._lock = threading.Lock()

    def info(self, line: str) -> None:
        """A note for the human: stderr, always."""
        with self._lock:
            print(line, file=self._err, flush=True)

    def event(self, event: dict) -> None:
        """A loop event: a JSON line under --json, otherwise a readable line when it is worth one."""
        if self.json_mode:
            with self._lock:
                print(json.dumps(event, ensure_ascii=False), file=self._out, flush=True)
            return
        line = self.human(event)
        if line is not None:
            with self._lock:
                print(line, file=self._out, flush=True)

    @staticmethod
    def human(event: dict) -> str | None:
        kind = event.get("event")
        if kind == "transcript" and event.get("final"):
            if not event["text"]:
                return "you:  (nothing understood)"
            return f"you:  {event['text']}" + ("  (not addressed to Hark)" if event.get("ignored") else "")
        if kind == "announcement":
            return f"hark: {event['text']}"
        if kind == "reply":
            suffix = "  [interrupted]" if event.get("interrupted") else ""
            return f"hark: {event['text']}{suffix}"
        if kind == "metrics":
            parts = [
                f"{name.removesuffix('_s').replace('_', ' ')} {value:.2f}s"
                for name, value in event.items()
                if name.endswith("_s") and isinstance(value, float)
            ]
            return "      latency: " + ", ".join(parts)
        if kind == "error":
            return f"error: {event.get('message')}"
        if kind == "barge_in":
            return "      (interrupted by you)"
        return None
