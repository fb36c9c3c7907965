"""Loading the models a command needs, once, and wiring them together."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

from dialogue.backends.base import ChatBackend
from dialogue.backends.select import LlmConfig, select_backend
from hark.errors import UserError
from hark.report import Reporter
from voice.stt import SttConfig, Transcriber
from voice.tts import Speaker, TtsConfig

T = TypeVar("T")


def timed_load(reporter: Reporter, what: str, load: Callable[[], T]) -> T:
    start = time.monotonic()
    value = load()
    reporter.info(f"loaded {what} in {time.monotonic() - start:.1f}s")
    return value


def llm_config(args: argparse.Namespace) -> LlmConfig:
    kwargs: dict = {"backend": args.llm, "host": args.ollama_host}
    if args.model:
        if args.llm == "embedded":
            kwargs["embedded_model"] = args.model
        else:
            kwargs["model"] = args.model
    try:
        return LlmConfig(**kwargs)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def load_backend(args: argparse.Namespace, reporter: Reporter) -> ChatBackend:
    start = time.monotonic()
    backend, note = select_backend(llm_config(args))
    reporter.info(f"{note} ({time.monotonic() - start:.1f}s)")
    return backend


def load_transcriber(args: argparse.Namespace, reporter: Reporter) -> Transcriber:
    config = SttConfig(model=getattr(args, "stt_model", None) or SttConfig.model)
    return timed_load(reporter, "speech recognition (Whisper)", lambda: Transcriber(config))


def load_speaker(
    args: argparse.Namespace, reporter: Reporter, voice: str | None = None, rate: float = 1.0
) -> Speaker:
    """Piper with `--voice` if given, else `voice` (a persona's), else the bundled voice."""
    config = TtsConfig(voice=getattr(args, "voice", None) or voice or TtsConfig.voice, rate=rate)
    return timed_load(reporter, "speech synthesis (Piper)", lambda: Speaker(config))
