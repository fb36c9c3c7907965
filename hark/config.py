"""Hark's one configuration, for every command: defaults → `hark.toml` → `HARK_*` variables → flags.

The file is `--config FILE`, else `$HARK_HOME/hark.toml` when it exists (every key is documented in the
`hark.toml` at the top of the repository). Each `[section]` is a typed dataclass here (`[guardrails]` is
`dialogue.guardrails.GuardrailConfig`); `HARK_<SECTION>_<KEY>` (e.g. `HARK_KIOSK_IDLE_TIMEOUT_S=45`)
overrides one key, read as a TOML value when it is one (`45`, `true`, `["hey hark"]`), otherwise as text (a
list may be comma-separated text); a command-line flag (see `hark.commands.common`) overrides both.
Everything is checked at start: a wrong type, a value out of range, an unknown section or key stops the
command with one line naming where the value came from (file and line, variable, or flag).

Every value remembers its origin, so `hark config show` can say why a setting has the value it has.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialogue.backends.select import LLM_CHOICES
from dialogue.errors import DialogueError
from dialogue.guardrails import GuardrailConfig
from dialogue.toml import tomllib
from hark.errors import UserError
from hark.paths import data_dir
from vision.image import DEFAULT_LIMITS
from voice.endpointer import EndpointerConfig
from voice.loop import LoopConfig, TurnTaking
from voice.turn import BUNDLED as BUNDLED_TURN_MODEL
from voice.turn import TurnConfig

ENV_PREFIX = "HARK_"
CONFIG_NAME = "hark.toml"
LOG_LEVELS = ("debug", "info", "warning", "error")
STT_ENGINES = ("whisper", "wyoming")
TTS_ENGINES = ("piper", "wyoming")
TURN_TAKING_CHOICES = ("auto", *(t.value for t in TurnTaking))
"""`auto`: barge-in when echo cancellation runs (Hark plays through a speaker), else half-duplex. Not the
default: on a PulseAudio echo path the echo still interrupted some replies (see the README)."""


class ConfigError(UserError):
    """A configuration that cannot be used; the message names where the value came from."""


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


def _whole(default: int, low: int, high: int) -> Any:
    return _setting(default, f"a whole number from {low} to {high}", lambda v: low <= v <= high)


@dataclass(frozen=True)
class AudioSettings:
    input: str = ""
    """Microphone: a device index or part of its name; empty for the system default."""
    output: str = ""
    turn_taking: str = _one_of(LoopConfig.turn_taking.value, TURN_TAKING_CHOICES)
    barge_in_min_s: float = _between(LoopConfig.barge_in_min_s, 0.1, 5)
    overheard_min_confidence: float = _between(LoopConfig.overheard_min_confidence, 0, 1)
    """In barge-in mode, how sure Whisper must be of speech heard over Hark's reply for it to count as words
    (below, it is taken for Hark's own echo: the reply plays on, nothing is answered), unless someone went
    on speaking `echo_after_pause_s` after the reply paused: then the reply stops, and nothing is answered."""
    echo_after_pause_s: float = _between(LoopConfig.echo_after_pause_s, 0, 2)
    """After a barge-in pauses Hark, how long its own echo may still reach the microphone (speaker and sound
    server latency, room): raise it for a speaker with more latency (Bluetooth)."""
    aec: bool = True
    """Cancel the speaker's echo in the microphone when Hark plays through a speaker. Where no echo reaches
    the microphone (a headset) it passes the microphone as it is."""
    retry_max_s: float = _between(10.0, 1, 300)
    """Longest wait between attempts to reopen a missing or lost microphone."""


@dataclass(frozen=True)
class VadSettings:
    aggressiveness: int = _setting(2, "0, 1, 2 or 3", lambda v: v in (0, 1, 2, 3))
    noisy_room: bool = False
    hang_s: float = _between(EndpointerConfig.hang_s, 0.1, 5)
    max_utterance_s: float = _between(EndpointerConfig.max_utterance_s, 1, 120)


@dataclass(frozen=True)
class TurnSettings:
    model: str = _setting(BUNDLED_TURN_MODEL, '"bundled", "off" or an .onnx path', lambda v: bool(v.strip()))
    """End-of-turn model: "bundled" (Smart Turn v3.2), a Smart Turn v3 `.onnx` path, or "off" (the fixed
    hang, `vad.hang_s`, ends every turn)."""
    min_pause_s: float = _between(TurnConfig.min_pause_s, 0.05, 2)
    """Silence before the first "is the user done?" check."""
    threshold: float = _between(TurnConfig.threshold, 0, 1)
    recheck_threshold: float = _between(TurnConfig.recheck_threshold, 0, 1)
    max_wait_s: float = _between(TurnConfig.max_wait_s, 0.2, 10)
    """Answer anyway after this much silence."""
    text: bool = TurnConfig.use_text
    """Never end a turn on a word a sentence cannot end with ("for", "the", "and", "um")."""


@dataclass(frozen=True)
class SttSettings:
    engine: str = _one_of("whisper", STT_ENGINES)
    model: str = "bundled"
    min_confidence: float = _between(0.4, 0, 1)
    """Transcripts Whisper is less sure of get a "say that again" instead of an answer."""
    partials: bool = True
    speculate: bool = True
    max_file_s: float = _between(7200.0, 1, 86400)
    """`hark transcribe` refuses a recording longer than this (it is read in chunks, memory stays bounded)."""
    uri: str = ""
    """With engine "wyoming": the service's address, tcp://HOST:PORT or unix:///PATH."""


@dataclass(frozen=True)
class TtsSettings:
    engine: str = _one_of("piper", TTS_ENGINES)
    voice: str = ""
    """A Piper `.onnx` voice; empty: the persona's voice, else the bundled one."""
    uri: str = ""
    """With engine "wyoming": the service's address, tcp://HOST:PORT or unix:///PATH."""


@dataclass(frozen=True)
class LlmSettings:
    backend: str = _one_of("auto", LLM_CHOICES)
    model: str = ""
    """The Ollama model (empty: the default); with backend "embedded", a GGUF path (empty: bundled)."""
    ollama_host: str = ""
    timeout_s: float = _between(60.0, 1, 600)
    """Longest wait for the model server to answer a request."""
    first_token_timeout_s: float = _between(8.0, 0.5, 600)
    """A first word later than this counts as a failure: the fallback answers, or an apology."""
    base_url: str = ""
    """With backend "openai": the server's API root, including /v1 (e.g. http://127.0.0.1:8000/v1)."""
    api_key_env: str = ""
    """With backend "openai": the environment variable holding the API key; "" or unset: no key is sent."""
    sees_images: bool = False
    """With backend "openai": the model takes images (a vision model); they are sent as image parts."""


@dataclass(frozen=True)
class VisionSettings:
    camera: str = ""
    """A camera index or video device path for snapshots when a user shows something; empty: none."""
    max_side: int = _whole(DEFAULT_LIMITS.max_side, 16, 8192)
    allow_private_urls: bool = False
    """Fetch image URLs on loopback, link-local and private addresses (off: such URLs are refused)."""


@dataclass(frozen=True)
class DialogueSettings:
    persona: str = ""
    """A built-in name, a name in $HARK_HOME/personas, or a .toml path; empty: the default persona."""
    vision_model: str = ""
    max_history_messages: int = _whole(20, 0, 1000)
    summarise: bool = True
    summary_tokens: int = _whole(160, 16, 4096)
    max_message_chars: int = _whole(4000, 100, 100_000)
    """A typed message longer than this is refused with a clear message (checks stay fast, prompts fit)."""
    flows: tuple[str, ...] = ()
    """YAML dialogue flows (glob patterns, relative to the config file's folder)."""


@dataclass(frozen=True)
class RecoverySettings:
    retries: int = _whole(2, 0, 10)
    backoff_s: float = _between(0.25, 0, 30)
    cooldown_s: float = _not_negative(30.0)
    fallback: bool = True


@dataclass(frozen=True)
class PrivacySettings:
    log: bool = True
    retention_days: float = _setting(30.0, "0 (keep everything) or more", lambda v: v >= 0)
    keep_kiosk_conversations: bool = False
    """Keep a kiosk visitor's conversation after the visit (off: it is deleted when the session ends)."""


@dataclass(frozen=True)
class KioskSettings:
    wake_phrases: tuple[str, ...] = ()
    """Empty: every utterance is for Hark."""
    wake_threshold: float = _between(0.75, 0.5, 1)
    wake_word: str = ""
    """A microWakeWord model (a built-in name or a .json/.tflite file) heard before any transcription."""
    follow_up_s: float = _not_negative(8.0)
    idle_timeout_s: float = _positive(30.0)
    greeting: bool = True
    health_host: str = _setting("127.0.0.1", "a host name or address", lambda v: bool(v.strip()))
    health_port: int = _whole(8765, 0, 65535)


@dataclass(frozen=True)
class McpServer:
    """One `[[tools.mcp]]` table: an MCP server whose tools the model may call."""

    name: str
    command: tuple[str, ...] = ()
    """A stdio server: the program and its arguments."""
    url: str = ""
    """A streamable-HTTP server."""
    allow: tuple[str, ...] = ()
    """Tool names to offer; empty: all."""
    confirm: tuple[str, ...] = ()
    """Tools that act only after the user said yes."""
    timeout_s: float = 10.0


@dataclass(frozen=True)
class ToolSettings:
    enabled: bool = True
    builtin: bool = True
    embedded: bool = False
    """Offer tools to the embedded model too. Off: SmolLM2-135M picked the right tool (or none) for 10 of 30
    requests, and every turn would pay a tool decision first. Flows run their actions on any model."""
    mcp: tuple[McpServer, ...] = ()


def _mcp_server(where: str, index: int, table: Any) -> McpServer:
    """One `[[tools.mcp]]` table, checked: `name` and exactly one of `command` or `url` are required."""
    at = f"{where} tools.mcp[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{at}: must be a table ([[tools.mcp]])")
    fields = {f.name: f for f in dataclasses.fields(McpServer)}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ConfigError(f"{at}.{unknown[0]}: unknown key (allowed: {', '.join(fields)})")
    name, command, url = table.get("name"), table.get("command", []), table.get("url", "")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{at}.name: must be text naming the server")
    if isinstance(command, str):
        command = command.split()
    lists = {key: table.get(key, []) for key in ("allow", "confirm")} | {"command": command}
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{at}.{key}: must be a list of text (got {_describe(value)})")
    if not isinstance(url, str) or bool(command) == bool(url.strip()):
        raise ConfigError(f'{at} ({name}): give either command = [...] (stdio) or url = "http..."')
    timeout = table.get("timeout_s", McpServer.timeout_s)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
        raise ConfigError(f"{at}.timeout_s: must be a number from 0 to 600 (got {_describe(timeout)})")
    return McpServer(
        name.strip(),
        tuple(command),
        url.strip(),
        tuple(lists["allow"]),
        tuple(lists["confirm"]),
        float(timeout),
    )


def _tools(table: Mapping[str, Any], origins: Mapping[str, Origin]) -> ToolSettings:
    fields = {f.name: f for f in dataclasses.fields(ToolSettings)}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        where = origins[f"tools.{unknown[0]}"].where
        raise ConfigError(f"{where} tools.{unknown[0]}: unknown key (allowed: {', '.join(fields)})")
    values = {
        key: _check(origins[f"tools.{key}"].where, "tools", fields[key], value)
        for key, value in table.items()
        if key != "mcp"
    }
    servers = table.get("mcp", [])
    where = origins["tools.mcp"].where if "mcp" in table else ""
    if not isinstance(servers, list):
        raise ConfigError(f"{where} tools.mcp: must be [[tools.mcp]] tables")
    mcp = tuple(_mcp_server(where, i, server) for i, server in enumerate(servers))
    names = [server.name for server in mcp]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where} tools.mcp: two servers have the same name")
    return ToolSettings(**values, mcp=mcp)


@dataclass(frozen=True)
class LoggingSettings:
    level: str = _one_of("info", LOG_LEVELS)
    text: bool = True
    """Include what visitors and Hark said; false logs only word counts."""


@dataclass(frozen=True)
class KnowledgeSettings:
    base: str = ""
    """The knowledge base answers come from; empty: the persona's, else the default base (when not empty)."""
    min_score: float = _between(0.35, 0, 1)
    """A passage less relevant than this is not used; a question with none gets "I don't know"."""
    k: int = _whole(3, 1, 20)
    embed: str = _setting(
        "auto",
        'auto, none, minilm or "ollama:MODEL"',
        lambda v: v in ("auto", "none", "minilm") or (v.startswith("ollama:") and len(v) > 7),
    )
    """The embedder of a new base (`hark knowledge add`); a base keeps the one it was made with."""


@dataclass(frozen=True)
class MemorySettings:
    enabled: bool = True
    user: str = _setting("default", "a user name", lambda v: bool(v.strip()))
    context_chars: int = _whole(600, 0, 20000)
    """At most this much of what the user asked Hark to remember goes in front of each conversation."""
    kiosk_keep: bool = False
    """Keep kiosk visitors' facts after their visit (as the user `memory.user`)."""


@dataclass(frozen=True)
class ServeSettings:
    host: str = _setting("127.0.0.1", "a host name or address", lambda v: bool(v.strip()))
    port: int = _whole(8780, 0, 65535)
    token: str = ""
    """Empty: a random token is made at start and printed with the page's address."""
    origins: tuple[str, ...] = ()
    """Pages allowed to open the socket besides the server's own (e.g. "https://kiosk.example")."""
    max_sessions: int = _whole(4, 1, 256)
    max_utterance_s: float = _between(15.0, 1, 120)
    max_message_bytes: int = _whole(2_000_000, 4096, 50_000_000)
    max_messages_per_s: float = _positive(60.0)


SECTIONS: dict[str, type] = {
    "audio": AudioSettings,
    "vad": VadSettings,
    "turn": TurnSettings,
    "stt": SttSettings,
    "tts": TtsSettings,
    "llm": LlmSettings,
    "vision": VisionSettings,
    "dialogue": DialogueSettings,
    "recovery": RecoverySettings,
    "guardrails": GuardrailConfig,
    "tools": ToolSettings,
    "privacy": PrivacySettings,
    "kiosk": KioskSettings,
    "logging": LoggingSettings,
    "knowledge": KnowledgeSettings,
    "memory": MemorySettings,
    "serve": ServeSettings,
}
"""Every section, in the order of the documented `hark.toml`."""
_TYPE_MEANS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


@dataclass(frozen=True)
class Origin:
    """Where a value came from: `file` (with its path), `env` (the variable) or `flag` (the option)."""

    kind: str
    where: str


DEFAULT = Origin("default", "")


@dataclass(frozen=True)
class HarkConfig:
    audio: AudioSettings = field(default_factory=AudioSettings)
    vad: VadSettings = field(default_factory=VadSettings)
    turn: TurnSettings = field(default_factory=TurnSettings)
    stt: SttSettings = field(default_factory=SttSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    vision: VisionSettings = field(default_factory=VisionSettings)
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    recovery: RecoverySettings = field(default_factory=RecoverySettings)
    guardrails: GuardrailConfig = field(default_factory=GuardrailConfig)
    tools: ToolSettings = field(default_factory=ToolSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    kiosk: KioskSettings = field(default_factory=KioskSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    source: str = "defaults"
    """The file it was read from, or "defaults"."""
    origins: Mapping[str, Origin] = field(default_factory=dict)
    """`section.key` → where its value came from; keys left at their default are absent."""
    flags: Mapping[str, tuple[str, Any]] = field(default_factory=dict)
    """The command-line overrides it was built with (`section.key` → (flag, value)), kept for reloads."""

    def value(self, key: str) -> Any:
        section, _, name = key.partition(".")
        return getattr(getattr(self, section), name)

    def origin(self, key: str) -> Origin:
        return self.origins.get(key, DEFAULT)

    def setting_names(self) -> list[str]:
        return [f"{name}.{f.name}" for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)]

    def changes(self, other: HarkConfig) -> list[str]:
        """The `section.key` names whose values differ in `other`."""
        return [key for key in self.setting_names() if self.value(key) != other.value(key)]

    def replaced(self, key: str, value: Any) -> HarkConfig:
        """This configuration with one value set by the program (e.g. an eval suite's persona)."""
        section, _, name = key.partition(".")
        return dataclasses.replace(
            self, **{section: dataclasses.replace(getattr(self, section), **{name: value})}
        )

    def reload(self, environ: Mapping[str, str] | None = None) -> HarkConfig:
        """The same file, variables and flags, read again."""
        return load_config(None if self.source == "defaults" else self.source, environ, self.flags)


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
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # not NaN
        value = float(value) if ok else value
    else:
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    valid = f.metadata.get("valid")
    if not ok or (valid is not None and not valid(value)):
        raise ConfigError(f"{where} {name}.{f.name}: must be {means} (got {_describe(value)})")
    return value


def _guardrails(table: Mapping[str, Any], origins: Mapping[str, Origin]) -> GuardrailConfig:
    try:
        return GuardrailConfig.from_mapping(table)
    except DialogueError as exc:
        where = ", ".join(sorted({o.where for o in origins.values()})) or "defaults"
        raise ConfigError(f"{where} {exc}") from None


def _build_section(name: str, table: Mapping[str, Any], origins: Mapping[str, Origin]) -> Any:
    cls = SECTIONS[name]
    if cls is GuardrailConfig:
        return _guardrails(table, {k: origins[f"{name}.{k}"] for k in table})
    if cls is ToolSettings:
        return _tools(table, origins)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        where = origins[f"{name}.{unknown[0]}"].where
        raise ConfigError(f"{where} {name}.{unknown[0]}: unknown key (allowed: {', '.join(fields)})")
    return cls(
        **{
            key: _check(origins[f"{name}.{key}"].where, name, fields[key], value)
            for key, value in table.items()
        }
    )


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


def _defaults(section: str) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(SECTIONS[section])}


def _line_of(text: str, section: str, key: str | None = None) -> int | None:
    """The line of `[section]` (or of `key` inside it) in a TOML text, for errors that point at the file."""
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if header := re.match(r"\[\s*([^\]\s]+)\s*\]", stripped):
            current = header.group(1)
            if key is None and current == section:
                return number
        elif key is not None and current == section and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return None


def read_file(path: str) -> tuple[dict[str, Any], str]:
    """The parsed file and its text (for line numbers)."""
    try:
        raw = Path(os.path.expanduser(path)).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (a config file is UTF-8 TOML)") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def default_path(environ: Mapping[str, str] | None = None) -> str | None:
    """`$HARK_HOME/hark.toml` (or the data folder's) when it exists: the file used without `--config`."""
    path = data_dir(environ) / CONFIG_NAME
    return str(path) if path.is_file() else None


def load_config(
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, tuple[str, Any]] | None = None,
) -> HarkConfig:
    """The configuration from `path` (None: defaults only), then `HARK_*` in `environ`, then `flags`
    (`section.key` → (the flag as typed, its value))."""
    environ = os.environ if environ is None else environ
    flags = dict(flags or {})
    data, text = read_file(path) if path else ({}, "")
    source = path or "defaults"
    tables: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    origins: dict[str, Origin] = {}
    for name, table in data.items():
        line = _line_of(text, name)
        at = f"{source}:{line}" if line else source
        if name not in SECTIONS or not isinstance(table, dict):
            what = "unknown section" if name not in SECTIONS else "must be a table"
            raise ConfigError(f"{at} [{name}]: {what} (allowed: {', '.join(SECTIONS)})")
        for key, value in table.items():
            tables[name][key] = value
            line = _line_of(text, name, key)
            origins[f"{name}.{key}"] = Origin("file", f"{source}:{line}" if line else source)
    for var in sorted(v for v in environ if v.startswith(ENV_PREFIX)):
        section, key = _env_key(var)
        if section is None:
            continue  # e.g. HARK_HOME: not a setting
        defaults = _defaults(section)
        if key not in defaults:
            raise ConfigError(f"{var} {section}.{key}: unknown key (allowed: {', '.join(defaults)})")
        tables[section][key] = _env_value(environ[var], defaults[key])
        origins[f"{section}.{key}"] = Origin("env", var)
    for key, (flag, value) in flags.items():
        section, _, name = key.partition(".")
        tables[section][name] = value
        origins[key] = Origin("flag", flag)
    sections = {name: _build_section(name, tables[name], origins) for name in SECTIONS}
    return HarkConfig(**sections, source=source, origins=origins, flags=flags)


def _env_key(var: str) -> tuple[str | None, str]:
    """`HARK_STT_MIN_CONFIDENCE` → ("stt", "min_confidence"); (None, "") for a variable that is no setting."""
    rest = var.removeprefix(ENV_PREFIX).lower()
    for section in SECTIONS:
        if rest.startswith(section + "_") and len(rest) > len(section) + 1:
            return section, rest[len(section) + 1 :]
    return None, ""
