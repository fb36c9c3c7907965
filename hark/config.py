"""Hark's configuration: one TOML file (`hark.toml`, every key documented there), then environment variables.

Each `[section]` of the file is a typed dataclass here; `HARK_<SECTION>_<KEY>` (e.g.
`HARK_KIOSK_IDLE_TIMEOUT_S=45`) overrides one key. An environment value is read as a TOML value when it is
one (`45`, `true`, `["hey hark"]`), otherwise as text; a list may also be given as comma-separated text.
Everything is checked at start: a wrong type, a value out of range, an unknown section or key stops the
command with one line naming the file (or variable), the key and the value.

The `[dialogue]`, `[recovery]`, `[guardrails]` and `[privacy]` tables belong to the dialogue side: they are
validated by `hark.dialogue_setup.DialogueSettings` (guardrails as `dialogue.guardrails.GuardrailConfig`)
and handed to `build_manager` as they are, so the same file serves `hark chat --config` too.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialogue.backends.select import LLM_CHOICES
from dialogue.errors import DialogueError
from dialogue.toml import tomllib
from hark.dialogue_setup import DialogueSettings
from hark.errors import UserError
from vision.image import DEFAULT_LIMITS
from voice.endpointer import EndpointerConfig
from voice.loop import LoopConfig, TurnTaking
from voice.stt import SttConfig

ENV_PREFIX = "HARK_"
DIALOGUE_TABLES = ("dialogue", "recovery", "guardrails", "privacy")
"""Tables owned by the dialogue side (`hark.dialogue_setup`), checked by `DialogueSettings`."""
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(UserError):
    """A configuration that cannot be used; the message names where it came from."""


def _setting(default: Any, means: str | None = None, valid: Callable[[Any], bool] | None = None) -> Any:
    """A dataclass field with what a valid value is, in words (for errors) and as a check."""
    return field(default=default, metadata={"means": means, "valid": valid})


def _between(default: float, low: float, high: float) -> Any:
    return _setting(default, f"a number from {low:g} to {high:g}", lambda v: low <= v <= high)


def _positive(default: float) -> Any:
    return _setting(default, "a positive number", lambda v: v > 0)


def _not_negative(default: float) -> Any:
    return _setting(default, "a number, 0 or more", lambda v: v >= 0)


def _one_of(default: str, choices: tuple[str, ...]) -> Any:
    return _setting(default, "one of " + ", ".join(f'"{c}"' for c in choices), lambda v: v in choices)


@dataclass(frozen=True)
class AudioSettings:
    input: str = ""
    """Microphone: a device index or part of its name; empty for the system default."""
    output: str = ""
    turn_taking: str = _one_of(LoopConfig.turn_taking.value, tuple(t.value for t in TurnTaking))
    barge_in_min_s: float = _between(LoopConfig.barge_in_min_s, 0.1, 5)
    retry_max_s: float = _between(10.0, 1, 300)
    """Longest wait between attempts to reopen a missing or lost microphone."""


@dataclass(frozen=True)
class VadSettings:
    aggressiveness: int = _setting(2, "0, 1, 2 or 3", lambda v: v in (0, 1, 2, 3))
    noisy_room: bool = False
    hang_s: float = _between(EndpointerConfig.hang_s, 0.1, 5)
    max_utterance_s: float = _between(EndpointerConfig.max_utterance_s, 1, 120)


@dataclass(frozen=True)
class SttSettings:
    model: str = SttConfig.model
    min_confidence: float = _between(0.0, 0, 1)
    partials: bool = True
    speculate: bool = True


@dataclass(frozen=True)
class LlmSettings:
    backend: str = _one_of("auto", LLM_CHOICES)
    model: str = ""
    """The Ollama model (empty: the default); with backend "embedded", a GGUF path (empty: bundled)."""
    ollama_host: str = ""


@dataclass(frozen=True)
class VisionSettings:
    camera: str = ""
    """A camera index or video device path for snapshots when a visitor shows something; empty: none."""
    max_side: int = _setting(
        DEFAULT_LIMITS.max_side, "a whole number from 16 to 8192", lambda v: 16 <= v <= 8192
    )


@dataclass(frozen=True)
class KioskSettings:
    wake_phrases: tuple[str, ...] = ()
    """Empty: every utterance is for Hark."""
    wake_threshold: float = _between(0.75, 0.5, 1)
    follow_up_s: float = _not_negative(8.0)
    idle_timeout_s: float = _positive(30.0)
    greeting: bool = True
    health_host: str = _setting("127.0.0.1", "a host name or address", lambda v: bool(v.strip()))
    health_port: int = _setting(8765, "a port number from 0 to 65535", lambda v: 0 <= v <= 65535)


@dataclass(frozen=True)
class LoggingSettings:
    level: str = _one_of("info", LOG_LEVELS)
    text: bool = True
    """Include what visitors and Hark said; false logs only word counts."""


SECTIONS: dict[str, type] = {
    "audio": AudioSettings,
    "vad": VadSettings,
    "stt": SttSettings,
    "llm": LlmSettings,
    "vision": VisionSettings,
    "kiosk": KioskSettings,
    "logging": LoggingSettings,
}
_TYPE_MEANS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


@dataclass(frozen=True)
class HarkConfig:
    audio: AudioSettings = field(default_factory=AudioSettings)
    vad: VadSettings = field(default_factory=VadSettings)
    stt: SttSettings = field(default_factory=SttSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    vision: VisionSettings = field(default_factory=VisionSettings)
    kiosk: KioskSettings = field(default_factory=KioskSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    tables: Mapping[str, Any] = field(default_factory=dict)
    """The dialogue tables as given (file and environment), for `hark.dialogue_setup.build_manager`."""
    source: str = "defaults"
    """The file it was read from."""

    def changes(self, other: HarkConfig) -> list[str]:
        """The `section.key` names whose values differ in `other`."""
        changed = [
            f"{name}.{f.name}"
            for name in SECTIONS
            for f in dataclasses.fields(getattr(self, name))
            if getattr(getattr(self, name), f.name) != getattr(getattr(other, name), f.name)
        ]
        for table in DIALOGUE_TABLES:
            mine, theirs = self.tables.get(table, {}), other.tables.get(table, {})
            keys = sorted(set(mine) | set(theirs))
            changed += [f"{table}.{k}" for k in keys if mine.get(k) != theirs.get(k)]
        return changed


def _describe(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _check(where: str, name: str, f: dataclasses.Field, value: Any) -> Any:
    """`value` as the field's type, or a `ConfigError` saying what was expected."""
    default = f.default
    kind = type(default)
    means = f.metadata.get("means") or ("a list of text" if kind is tuple else _TYPE_MEANS[kind])
    if kind is tuple:
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) and v.strip() for v in value)
        value = tuple(v.strip() for v in value) if ok else value
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    valid = f.metadata.get("valid")
    if not ok or (valid is not None and not valid(value)):
        raise ConfigError(f"{where}: {name}.{f.name} must be {means} (got {_describe(value)})")
    return value


def _build_section(name: str, table: Mapping[str, Any], origins: Mapping[str, str]) -> Any:
    cls = SECTIONS[name]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        where = origins[unknown[0]]
        raise ConfigError(f"{where}: unknown key {name}.{unknown[0]} (allowed: {', '.join(fields)})")
    return cls(**{key: _check(origins[key], name, fields[key], value) for key, value in table.items()})


def _env_value(raw: str, default: Any) -> Any:
    """An environment value: text for a text setting, else a TOML value if it is one, else text."""
    if isinstance(default, str):
        return raw
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if isinstance(default, tuple) and isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(os.path.expanduser(path), "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None) -> HarkConfig:
    """The configuration from `path` (None: defaults only) with `HARK_*` overrides from `environ`."""
    environ = os.environ if environ is None else environ
    source = path or "defaults"
    data = _read_file(path) if path else {}
    known = (*SECTIONS, *DIALOGUE_TABLES)
    for name, table in data.items():
        if name not in known or not isinstance(table, dict):
            what = f"unknown section [{name}]" if name not in known else f"[{name}] must be a table"
            raise ConfigError(f"{source}: {what} (allowed: {', '.join(known)})")
    tables: dict[str, dict[str, Any]] = {name: dict(data.get(name, {})) for name in known}
    origins: dict[str, dict[str, str]] = {name: dict.fromkeys(tables[name], source) for name in known}
    for var in sorted(v for v in environ if v.startswith(ENV_PREFIX)):
        section, _, key = var.removeprefix(ENV_PREFIX).lower().partition("_")
        if section not in known or not key:
            continue  # e.g. HARK_HOME: not a setting
        if section in SECTIONS:
            defaults = {f.name: f.default for f in dataclasses.fields(SECTIONS[section])}
            if key not in defaults:
                raise ConfigError(f"{var}: unknown key {section}.{key} (allowed: {', '.join(defaults)})")
            tables[section][key] = _env_value(environ[var], defaults[key])
        else:
            tables[section][key] = _env_value(environ[var], None)
        origins[section][key] = var
    sections = {name: _build_section(name, tables[name], origins[name]) for name in SECTIONS}
    dialogue_tables = {name: tables[name] for name in DIALOGUE_TABLES if tables[name]}
    try:
        dialogue = DialogueSettings.from_config(dialogue_tables)
    except DialogueError as exc:
        overrides = sorted({o for t in DIALOGUE_TABLES for o in origins[t].values() if o != source})
        where = source + (f" with {', '.join(overrides)}" if overrides else "")
        raise ConfigError(f"{where}: {exc}") from None
    return HarkConfig(**sections, dialogue=dialogue, tables=dialogue_tables, source=source)
