"""Wiring the dialogue side for a command: persona, guardrails, memory, store, analytics, recovery, vision.

Settings come from the config file's tables (all optional; shown with their defaults):

    [dialogue]
    persona = "default"          # a built-in name, a name in $HARK_HOME/personas, or a .toml path
    vision_model = ""            # an Ollama model that sees, for images the main model cannot see
    max_history_messages = 20
    summarise = true             # fold older turns into a rolling summary
    summary_tokens = 160

    [recovery]
    retries = 2                  # extra attempts when Ollama fails before replying
    backoff_s = 0.25             # first wait between attempts, doubled each time
    cooldown_s = 30              # after an outage, the fallback answers this long before Ollama is retried
    fallback = true              # with --llm auto, the embedded model answers when Ollama cannot

    [guardrails]                 # see dialogue.guardrails.GuardrailConfig
    blocked_topics = []
    injection_checks = true
    injection_patterns = []
    blocked_output = []
    check_leakage = true
    redact_pii = true

    [privacy]
    log = true                   # false: store no conversations or analytics (same as --no-log)
    retention_days = 30          # 0 keeps everything

Command-line flags (`add_dialogue_args`) win over the file.
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialogue import analytics, store
from dialogue.analytics import Analytics
from dialogue.backends.base import BackendError, ChatBackend, ModelNotFound
from dialogue.backends.embedded import EmbeddedBackend
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.backends.resilient import ResilientBackend, RetryPolicy
from dialogue.errors import DialogueError, reject_unknown_keys
from dialogue.guardrails import GuardrailConfig, Guardrails
from dialogue.manager import DialogueManager
from dialogue.memory import MemoryConfig
from dialogue.persona import load_persona
from dialogue.store import ConversationStore
from dialogue.toml import tomllib
from hark.report import Reporter
from hark.stack import llm_config, load_backend
from vision.describe import describe

LATEST = "latest"
DIALOGUE_KEYS = ("persona", "vision_model", "max_history_messages", "summarise", "summary_tokens")


def data_dir() -> Path:
    """Where Hark keeps its data: $HARK_HOME, else $XDG_DATA_HOME/hark, else ~/.local/share/hark."""
    if home := os.environ.get("HARK_HOME"):
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
    return Path(xdg).expanduser() / "hark"


def personas_dir() -> Path:
    return data_dir() / "personas"


def conversations_path() -> Path:
    return data_dir() / store.DB_NAME


def analytics_path() -> Path:
    return data_dir() / analytics.DB_NAME


def load_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(os.path.expanduser(path), "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as exc:
        raise DialogueError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DialogueError(f"{path} is not valid TOML: {exc}") from exc


def _table(config: Mapping[str, Any], name: str, known: tuple[str, ...]) -> Mapping[str, Any]:
    table = config.get(name, {})
    if not isinstance(table, Mapping):
        raise DialogueError(f"[{name}] in the config file must be a table")
    reject_unknown_keys(table, known, name)
    return table


def _typed(
    table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str
) -> Any:
    value = table.get(key, default)
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise DialogueError(f"{where}.{key} has the wrong type ({type(value).__name__})")
    return value


@dataclass(frozen=True)
class DialogueSettings:
    persona: str | None = None
    vision_model: str | None = None
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    fallback: bool = True
    guardrails: GuardrailConfig = field(default_factory=GuardrailConfig)
    log: bool = True
    retention_days: float = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DialogueSettings:
        """Read the `[dialogue]`, `[recovery]`, `[guardrails]` and `[privacy]` tables of a parsed config."""
        number = (int, float)
        d = _table(config, "dialogue", DIALOGUE_KEYS)
        r = _table(config, "recovery", ("retries", "backoff_s", "cooldown_s", "fallback"))
        p = _table(config, "privacy", ("log", "retention_days"))
        retention = _typed(p, "retention_days", number, 30, "privacy")
        if retention < 0:
            raise DialogueError("privacy.retention_days must be 0 (keep everything) or more")
        try:
            memory = MemoryConfig(
                max_messages=_typed(d, "max_history_messages", int, 20, "dialogue"),
                summarise=_typed(d, "summarise", bool, True, "dialogue"),
                summary_tokens=_typed(d, "summary_tokens", int, 160, "dialogue"),
            )
            retry = RetryPolicy(
                attempts=_typed(r, "retries", int, 2, "recovery") + 1,
                backoff_s=_typed(r, "backoff_s", number, 0.25, "recovery"),
                cooldown_s=_typed(r, "cooldown_s", number, 30, "recovery"),
            )
        except ValueError as exc:
            raise DialogueError(str(exc)) from exc
        return cls(
            persona=_typed(d, "persona", str, "", "dialogue") or None,
            vision_model=_typed(d, "vision_model", str, "", "dialogue") or None,
            memory=memory,
            retry=retry,
            fallback=_typed(r, "fallback", bool, True, "recovery"),
            guardrails=GuardrailConfig.from_mapping(config.get("guardrails", {})),
            log=_typed(p, "log", bool, True, "privacy"),
            retention_days=retention,
        )


def _resume_id(value: str) -> str | int:
    if value == LATEST:
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a conversation number: {value!r}") from None


def add_dialogue_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("conversation")
    group.add_argument(
        "--persona", metavar="FILE|NAME", help="a persona TOML file or name (see `hark personas`)"
    )
    group.add_argument("--config", metavar="FILE", help="a TOML config file ([dialogue], [guardrails], ...)")
    group.add_argument("--vision-model", metavar="NAME", help="an Ollama model that sees, for images")
    log = group.add_mutually_exclusive_group()
    log.add_argument(
        "--resume",
        nargs="?",
        const=LATEST,
        type=_resume_id,
        metavar="ID",
        help="continue a saved conversation (default: the latest)",
    )
    log.add_argument("--no-log", action="store_true", help="save no conversation and no analytics")


def _fallback_factory(args: argparse.Namespace, reporter: Reporter) -> Callable[[], ChatBackend]:
    spec = llm_config(args).embedded_model

    def make() -> ChatBackend:
        backend = EmbeddedBackend(spec)
        reporter.info(f"Ollama is not answering: the {backend.describe()} answers until it is back")
        return backend

    return make


def load_vision_backend(
    name: str | None, main: ChatBackend, args: argparse.Namespace, reporter: Reporter, policy: RetryPolicy
) -> ChatBackend | None:
    """The vision model for images the main model cannot see, when it is set, pulled and sees."""
    if not name or main.sees_images or args.llm == "embedded":
        return None
    config = llm_config(args)
    vision = OllamaBackend(name, config.host, config.timeout_s)
    instead = "images will be described from what can be found on this computer"
    try:
        vision.check()
    except ModelNotFound:
        reporter.info(f"the vision model {name} is not pulled (run: ollama pull {name}); {instead}")
        return None
    except BackendError as exc:
        reporter.info(f"the vision model is not usable ({exc}); {instead}")
        return None
    if not vision.sees_images:
        reporter.info(f"{name} cannot see images either; {instead}")
        return None
    reporter.info(f"images go to {vision.describe()}")
    return ResilientBackend(vision, None, policy)


def build_manager(
    args: argparse.Namespace,
    reporter: Reporter,
    config: Mapping[str, Any] | None = None,
    image_describer: Callable[[bytes], str] | None = None,
) -> DialogueManager:
    """A dialogue manager for `args` (from `add_llm_args`, and `add_dialogue_args` if the command has them)
    and the config tables.

    `config` is the parsed config file (default: the file given with --config). `image_describer` defaults
    to the vision package's local description (size, colours, OCR text).
    """
    flag = functools.partial(getattr, args)  # a command without the conversation flags gets the defaults
    if config is None:
        config = load_config(flag("config", None))
    settings = DialogueSettings.from_config(config)
    persona = load_persona(flag("persona", None) or settings.persona, personas_dir())
    guardrails = Guardrails(settings.guardrails)
    backend = load_backend(args, reporter)
    if backend.name == "ollama":
        fallback = _fallback_factory(args, reporter) if args.llm == "auto" and settings.fallback else None
        backend = ResilientBackend(backend, fallback, settings.retry)
    vision_model = flag("vision_model", None) or settings.vision_model
    vision = load_vision_backend(vision_model, backend, args, reporter, settings.retry)
    conversations = turns = None
    if settings.log and not flag("no_log", False):
        conversations = ConversationStore(conversations_path(), settings.retention_days)
        turns = Analytics(analytics_path(), guardrails.redact, settings.retention_days)
    manager = DialogueManager(
        backend,
        persona=persona,
        guardrails=guardrails,
        memory=settings.memory,
        store=conversations,
        analytics=turns,
        vision_backend=vision,
        image_describer=image_describer or describe,
    )
    resume = flag("resume", None)
    if resume is not None:
        conversation = manager.resume(None if resume == LATEST else resume)
        reporter.info(f"resuming conversation {conversation} ({len(manager.history)} messages)")
    return manager
