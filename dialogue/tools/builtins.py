"""The built-in tools: the date and time, a calculator, notes, and timers that Hark announces when due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialogue.tools.calculator import calculate
from dialogue.tools.registry import Tool, ToolError
from dialogue.tools.store import ToolStore

MAX_TIMER_MINUTES = 24 * 60


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name.strip().replace(" ", "_"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"unknown time zone {name!r}; use an IANA name such as Europe/Paris") from None


def get_time(arguments: dict[str, Any], now: Callable[[], datetime] = datetime.now) -> str:
    """The local date and time (or in `timezone`), with HH:MM, as a sentence the model can repeat."""
    zone = _zone(arguments.get("timezone"))
    moment = now().astimezone(zone)
    name = arguments.get("timezone") or moment.tzname() or "local time"
    return f"{moment:%A} {moment.day} {moment:%B %Y}, {moment:%H:%M} ({name})"


def _calculate(arguments: dict[str, Any]) -> str:
    try:
        return f"{arguments['expression']} = {calculate(arguments['expression'])}"
    except ValueError as exc:
        raise ToolError(str(exc)) from None


def builtin_tools(store: ToolStore | None) -> list[Tool]:
    """Every built-in tool; notes and timers only with a store to keep them in."""
    tools = [
        Tool(
            "get_time",
            "The current local date and time (HH:MM); optionally in another time zone.",
            get_time,
            {
                "type": "object",
                "properties": {"timezone": {"type": "string", "description": "IANA name, e.g. Asia/Tokyo"}},
                "additionalProperties": False,
            },
            timeout_s=2.0,
        ),
        Tool(
            "calculate",
            "Work out arithmetic exactly: + - * / ** %, parentheses, sqrt.",
            _calculate,
            {
                "type": "object",
                "properties": {"expression": {"type": "string", "minLength": 1, "maxLength": 200}},
                "required": ["expression"],
                "additionalProperties": False,
            },
            timeout_s=2.0,
        ),
    ]
    if store is None:
        return tools

    def add_note(arguments: dict[str, Any]) -> str:
        number = store.add_note(arguments["text"].strip())
        return f"note {number} saved"

    def read_notes(_arguments: dict[str, Any]) -> str:
        notes = store.notes()
        return "; ".join(notes) if notes else "there are no notes"

    def set_timer(arguments: dict[str, Any]) -> str:
        minutes = float(arguments["minutes"])
        timer = store.add_timer(minutes * 60, arguments.get("label", "").strip())
        due = datetime.fromtimestamp(timer.due).astimezone()
        return f"timer {timer.id} set for {minutes:g} minutes, due at {due:%H:%M}"

    return [
        *tools,
        Tool(
            "add_note",
            "Save a note for the user (kept on this computer).",
            add_note,
            {
                "type": "object",
                "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 1000}},
                "required": ["text"],
                "additionalProperties": False,
            },
            receives_pii=True,  # notes stay on this computer
            timeout_s=2.0,
        ),
        Tool("read_notes", "Read the user's latest notes.", read_notes, timeout_s=2.0),
        Tool(
            "set_timer",
            "Set a timer or reminder; Hark says the label aloud when it is due.",
            set_timer,
            {
                "type": "object",
                "properties": {
                    "minutes": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMER_MINUTES},
                    "label": {"type": "string", "maxLength": 200},
                },
                "required": ["minutes"],
                "additionalProperties": False,
            },
            receives_pii=True,
            timeout_s=2.0,
        ),
    ]
