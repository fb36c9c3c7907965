"""Personas: who the assistant is (name, greeting, speaking style, rules, voice), read from TOML files.

A persona file:

    name = "Ada"                         # required
    greeting = "Welcome! How can I help?"  # required: said when a conversation starts
    style = "warm and concise"           # how it speaks, used by the system prompt
    rules = ["Only talk about the museum."]
    system_prompt = "You are {name}. Your manner is {style}.\\n{rules}"  # optional template
    refusal = "Sorry, I can't help with that."   # the answer to a turn a guardrail blocked
    reprompt = "Sorry, I didn't catch that."     # the answer to speech that was not understood
    [tts]
    voice = "bundled"                    # a Piper .onnx voice, or the bundled one
    rate = 1.0                           # speaking rate, 0.5 to 2.0

The template may use `{name}`, `{style}` and `{rules}` (the rules as lines); write `{{` for a literal brace.
Only bare placeholders are allowed: no attribute or item access (`{name.__class__}`, `{rules[0]}`), no
conversion and no format spec (`{name:>999999999}` would build a huge string), since a persona file may come
from someone other than the person running Hark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Formatter
from typing import Any

from dialogue.errors import PersonaError, reject_unknown_keys
from dialogue.toml import tomllib

DEFAULT_PERSONA = "default"
DEFAULT_TEMPLATE = (
    "You are {name}, a voice assistant running privately on this computer. Your manner is {style}. "
    "Your replies are spoken aloud, so answer in one to three short sentences of plain speech. "
    "Never use Markdown, lists, tables, code blocks, emoji or URLs. "
    "Say numbers the way a person would say them. "
    "If you are not sure, say so briefly instead of guessing.\n{rules}"
)
DEFAULT_REFUSAL = "Sorry, I can't help with that. Is there something else I can do for you?"
DEFAULT_REPROMPT = "Sorry, I didn't catch that. Could you say it again?"
PLACEHOLDERS = ("name", "style", "rules")
TOP_KEYS = ("name", "greeting", "style", "rules", "system_prompt", "refusal", "reprompt", "tts")
TTS_KEYS = ("voice", "rate")


@dataclass(frozen=True)
class Persona:
    name: str
    greeting: str
    system_prompt: str
    """Rendered: the template with the name, style and rules filled in."""
    style: str = "friendly"
    rules: tuple[str, ...] = ()
    refusal: str = DEFAULT_REFUSAL
    reprompt: str = DEFAULT_REPROMPT
    voice: str = "bundled"
    """Piper voice for `voice.tts.TtsConfig.voice`."""
    rate: float = 1.0
    """Speaking rate for `voice.tts.TtsConfig.rate`."""
    source: str = "built-in"

    @classmethod
    def plain(cls, system_prompt: str) -> Persona:
        """A persona that is only a system prompt (for a bare `DialogueManager`)."""
        return cls(name="Hark", greeting="Hello!", system_prompt=system_prompt)


def _text(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if value is None:
        raise PersonaError(f"{where}: the persona needs `{key}`")
    if not isinstance(value, str) or not value.strip():
        raise PersonaError(f"{where}: `{key}` must be non-empty text")
    return value.strip()


def _check_template(template: str, where: str) -> None:
    """Refuse anything but bare known placeholders, before any formatting is attempted."""
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise PersonaError(f"{where}: malformed system_prompt ({exc}); write {{{{ for a brace") from exc
    for _literal, field, spec, conversion in parsed:
        if field is None or (field in PLACEHOLDERS and not spec and not conversion):
            continue
        if field and field.isidentifier() and not spec and not conversion:
            problem = f"unknown placeholder {{{field}}}"
        else:
            shown = (
                "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            )
            problem = f"placeholder {shown} is not allowed (no attributes, indexes, conversions or formats)"
        raise PersonaError(f"{where}: {problem} in system_prompt (use {allowed}; write {{{{ for a brace)")


def render(template: str, name: str, style: str, rules: Iterable[str], where: str) -> str:
    _check_template(template, where)
    lines = "\n".join(f"- {rule}" for rule in rules)
    return template.format_map({"name": name, "style": style, "rules": lines}).strip()


def parse_persona(table: Mapping[str, Any], where: str) -> Persona:
    """A persona from a parsed TOML table; `where` names the file in error messages."""
    reject_unknown_keys(table, TOP_KEYS, where, PersonaError)
    name = _text(table, "name", where)
    style = _text(table, "style", where, "friendly and warm")
    rules = table.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) and r.strip() for r in rules):
        raise PersonaError(f"{where}: `rules` must be a list of text lines")
    tts = table.get("tts", {})
    if not isinstance(tts, dict):
        raise PersonaError(f"{where}: `tts` must be a table with `voice` and `rate`")
    reject_unknown_keys(tts, TTS_KEYS, f"{where} [tts]", PersonaError)
    rate = tts.get("rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.5 <= rate <= 2.0:
        raise PersonaError(f"{where}: tts.rate must be a number from 0.5 to 2.0")
    template = _text(table, "system_prompt", where, DEFAULT_TEMPLATE)
    return Persona(
        name=name,
        greeting=_text(table, "greeting", where),
        system_prompt=render(template, name, style, rules, where),
        style=style,
        rules=tuple(r.strip() for r in rules),
        refusal=_text(table, "refusal", where, DEFAULT_REFUSAL),
        reprompt=_text(table, "reprompt", where, DEFAULT_REPROMPT),
        voice=_text(tts, "voice", where, "bundled"),
        rate=float(rate),
        source=where,
    )


def _parse_text(text: str, where: str) -> Persona:
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PersonaError(f"{where} is not valid TOML: {exc}") from exc
    return parse_persona(table, where)


def load_persona_file(path: str | Path) -> Persona:
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PersonaError(f"persona file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PersonaError(f"cannot read the persona file {path}: {exc}") from exc
    return _parse_text(text, str(path))


def builtin_names() -> list[str]:
    folder = resources.files("dialogue") / "personas"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _builtin(name: str) -> Persona:
    text = (resources.files("dialogue") / "personas" / f"{name}.toml").read_text(encoding="utf-8")
    return _parse_text(text, f"built-in persona {name}")


def _looks_like_path(spec: str) -> bool:
    return spec.endswith(".toml") or "/" in spec or "\\" in spec or Path(spec).expanduser().is_file()


def load_persona(spec: str | None = None, user_dir: Path | None = None) -> Persona:
    """A persona by file path, or by name: `user_dir/NAME.toml` first, then the built-in ones."""
    spec = (spec or DEFAULT_PERSONA).strip()
    if _looks_like_path(spec):
        return load_persona_file(spec)
    if user_dir is not None and (user_dir / f"{spec}.toml").is_file():
        return load_persona_file(user_dir / f"{spec}.toml")
    if spec in builtin_names():
        return _builtin(spec)
    names = ", ".join(available_names(user_dir))
    raise PersonaError(f"unknown persona {spec!r}: give a .toml file or one of: {names}")


def available_names(user_dir: Path | None = None) -> list[str]:
    user = sorted(p.stem for p in user_dir.glob("*.toml")) if user_dir and user_dir.is_dir() else []
    return sorted(set(user) | set(builtin_names()))


@dataclass(frozen=True)
class PersonaEntry:
    """One line of `hark personas`: a persona, or why the file could not be used."""

    key: str
    """What `--persona` takes to select it."""
    persona: Persona | None
    problem: str | None = None


def list_personas(user_dir: Path | None = None) -> list[PersonaEntry]:
    entries = []
    for key in available_names(user_dir):
        try:
            entries.append(PersonaEntry(key, load_persona(key, user_dir)))
        except PersonaError as exc:
            entries.append(PersonaEntry(key, None, str(exc)))
    return entries
