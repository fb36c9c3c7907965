"""Flow files: YAML that describes a task (trigger, typed slots with prompts, confirmation, action)."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dialogue.errors import DialogueError

SLOT_TYPES = ("text", "integer", "number", "date", "time", "choice", "yes_no")


@dataclass(frozen=True)
class Slot:
    name: str
    type: str
    prompt: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flow:
    name: str
    description: str
    examples: tuple[str, ...]
    slots: tuple[Slot, ...]
    confirm: str
    """Said with the slots filled in (`{people}`), ending in a question the user answers yes or no to."""
    tool: str
    """The tool called with the slots as its arguments once the user said yes."""
    done: str = "Done: {result}"


def _text(where: str, table: dict[str, Any], key: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise DialogueError(f"{where}: '{key}' must be a non-empty text")
    return value.strip()


def _slot(where: str, name: str, table: Any) -> Slot:
    at = f"{where} slot {name}"
    if not isinstance(table, dict):
        raise DialogueError(f"{at}: must be a mapping with type and prompt")
    kind = table.get("type", "text")
    if kind not in SLOT_TYPES:
        raise DialogueError(f"{at}: unknown slot type {kind!r} (known: {', '.join(SLOT_TYPES)})")
    unknown = sorted(set(table) - {"type", "prompt", "min", "max", "choices"})
    if unknown:
        raise DialogueError(f"{at}: unknown key {unknown[0]!r}")
    choices = tuple(str(c) for c in table.get("choices", ()))
    if kind == "choice" and not choices:
        raise DialogueError(f"{at}: a choice slot needs 'choices'")
    return Slot(name, kind, _text(at, table, "prompt"), table.get("min"), table.get("max"), choices)


def parse_flow(where: str, data: Any) -> Flow:
    if not isinstance(data, dict):
        raise DialogueError(f"{where}: a flow file is a YAML mapping")
    trigger = data.get("trigger") or {}
    examples = tuple(str(e) for e in (trigger.get("examples") or ()))
    if not examples:
        raise DialogueError(f"{where}: 'trigger' needs 'examples' (phrases that start the flow)")
    slots = data.get("slots") or {}
    if not isinstance(slots, dict) or not slots:
        raise DialogueError(f"{where}: 'slots' must map slot names to their type and prompt")
    action = data.get("action") or {}
    flow = Flow(
        _text(where, data, "name"),
        _text(where, data, "description", str(trigger.get("intent", "")) or None),
        examples,
        tuple(_slot(where, name, table) for name, table in slots.items()),
        _text(where, data, "confirm"),
        _text(where, action if isinstance(action, dict) else {}, "tool"),
        _text(where, data, "done", Flow.done),
    )
    try:
        flow.confirm.format(**{s.name: "" for s in flow.slots})
    except (KeyError, IndexError) as exc:
        raise DialogueError(f"{where}: 'confirm' names {exc} that is not a slot") from None
    return flow


def load_flows(patterns: tuple[str, ...], base: Path) -> list[Flow]:
    """Every flow in the files matching `patterns` (relative to `base`); a pattern matching nothing, a
    file that is not a flow, or two flows with one name is a `DialogueError` naming the file."""
    flows: dict[str, Flow] = {}
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        paths = sorted(glob.glob(full))
        if not paths:
            raise DialogueError(f"dialogue.flows: no flow file matches {pattern}")
        for path in paths:
            try:
                data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise DialogueError(f"{path}: not a readable YAML flow ({exc})") from None
            flow = parse_flow(path, data)
            if flow.name in flows:
                raise DialogueError(f"{path}: a second flow is named {flow.name}")
            flows[flow.name] = flow
    return list(flows.values())
