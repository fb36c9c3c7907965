"""The options shared by several commands, each one a key of the configuration (`hark.config`).

A shared option means the same on every command that has it: it sets one `section.key`, wins over the
config file and `HARK_*` variables, and is checked like them (`error: --hang vad.hang_s: must be ...`).
Commands choose which of them they offer; `config_from_args` turns what was given into a `HarkConfig`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dialogue.backends.select import LLM_CHOICES
from hark.config import TURN_TAKING_CHOICES, HarkConfig, default_path, load_config
from hark.errors import UserError

_PREFIX = "setting__"
LATEST = "latest"


@dataclass(frozen=True)
class Flag:
    option: str
    key: str
    """The configuration key it sets, `section.key`."""
    help: str
    type: Callable[[str], Any] | None = str
    choices: tuple[Any, ...] | None = None
    const: Any = None
    """For an option without a value: what it sets the key to."""
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return _PREFIX + self.key.replace(".", "__")


FLAGS = {
    flag.option: flag
    for flag in (
        Flag(
            "--llm",
            "llm.backend",
            "auto|ollama|embedded|openai (default auto: Ollama when it has the model, else embedded)",
            choices=LLM_CHOICES,
        ),
        Flag(
            "--model",
            "llm.model",
            "Ollama model name, a GGUF path (--llm embedded) or the server's model id (openai)",
        ),
        Flag(
            "--ollama-host", "llm.ollama_host", "Ollama URL (default $OLLAMA_HOST or http://127.0.0.1:11434)"
        ),
        Flag(
            "--base-url",
            "llm.base_url",
            "with --llm openai: the server's API root including /v1 (e.g. http://127.0.0.1:8000/v1)",
            metavar="URL",
        ),
        Flag(
            "--persona",
            "dialogue.persona",
            "a persona TOML file or name (see `hark personas`)",
            metavar="FILE|NAME",
        ),
        Flag(
            "--vision-model", "dialogue.vision_model", "an Ollama model that sees, for images", metavar="NAME"
        ),
        Flag("--no-log", "privacy.log", "save no conversation and no analytics", type=None, const=False),
        Flag("--stt-model", "stt.model", "Whisper: bundled (tiny.en), a model name or a CTranslate2 folder"),
        Flag(
            "--max-duration",
            "stt.max_file_s",
            "refuse recordings longer than this many seconds (7200)",
            type=float,
            metavar="SECONDS",
        ),
        Flag("--voice", "tts.voice", "a Piper .onnx voice (default: the persona's, else the bundled voice)"),
        Flag(
            "--hang",
            "vad.hang_s",
            "seconds of silence that end your turn without the end-of-turn model (0.5)",
            type=float,
        ),
        Flag(
            "--turn-model",
            "turn.model",
            "end-of-turn model: bundled (Smart Turn v3.2), a Smart Turn .onnx file, or off (--hang alone)",
            metavar="bundled|off|FILE",
        ),
        Flag(
            "--max-wait",
            "turn.max_wait_s",
            "with the end-of-turn model: the longest silence before Hark answers anyway (1.5)",
            type=float,
            metavar="SECONDS",
        ),
        Flag("--vad", "vad.aggressiveness", "VAD aggressiveness 0-3 (2)", type=int, choices=(0, 1, 2, 3)),
        Flag(
            "--noisy-room",
            "vad.noisy_room",
            "confirm speech with the Silero VAD too (robust to fans, traffic and other steady noise)",
            type=None,
            const=True,
        ),
        Flag(
            "--turn-taking",
            "audio.turn_taking",
            "half-duplex (default: mic off while Hark speaks), barge-in (you can interrupt; echo "
            "cancellation lets you do it on a speaker) or auto (barge-in when echo cancellation runs)",
            choices=TURN_TAKING_CHOICES,
        ),
        Flag(
            "--aec",
            "audio.aec",
            "cancel the speaker's echo in the microphone (WebRTC AEC3) when Hark plays through a speaker",
            type=None,
            const=True,
        ),
        Flag("--no-aec", "audio.aec", "do not cancel the speaker's echo", type=None, const=False),
        Flag(
            "--barge-in-min",
            "audio.barge_in_min_s",
            "with --turn-taking barge-in: how much speech interrupts Hark (0.4)",
            type=float,
            metavar="SECONDS",
        ),
        Flag(
            "--max-side",
            "vision.max_side",
            "longest image side sent to the model, in pixels (1024)",
            type=int,
            metavar="N",
        ),
        Flag("--mic", "audio.input", "microphone: device index or name substring (see `hark devices`)"),
        Flag("--speaker", "audio.output", "speaker: device index or name substring"),
        Flag("--no-partials", "stt.partials", "do not transcribe while you speak", type=None, const=False),
        Flag(
            "--no-speculation",
            "stt.speculate",
            "start the reply only after the hang time (slower; for comparison)",
            type=None,
            const=False,
        ),
        Flag(
            "--kb",
            "knowledge.base",
            "answer from this knowledge base (default: the persona's, else the default one if not empty)",
            metavar="NAME",
        ),
        Flag(
            "--user",
            "memory.user",
            'whose long-term memory (default: memory.user, "default")',
            metavar="NAME",
        ),
    )
}

LLM = ("--llm", "--model", "--ollama-host", "--base-url")
CONVERSATION = ("--persona", "--vision-model", "--no-log")
LISTENING = (
    "--stt-model",
    "--hang",
    "--turn-model",
    "--max-wait",
    "--vad",
    "--noisy-room",
    "--no-partials",
    "--no-speculation",
)
SPEAKING = ("--voice",)
DEVICES = ("--mic", "--speaker", "--turn-taking", "--barge-in-min", "--aec", "--no-aec")
GROUNDING = ("--kb", "--user")


def add_config_args(parser: argparse.ArgumentParser, *options: str) -> None:
    """`--config` and the given shared options (see `FLAGS`)."""
    group = parser.add_argument_group("configuration (also in hark.toml and HARK_* variables)")
    group.add_argument(
        "--config", metavar="FILE", help="a hark.toml (default: $HARK_HOME/hark.toml when it exists)"
    )
    for option in options:
        flag = FLAGS[option]
        if flag.type is None:
            group.add_argument(option, dest=flag.dest, action="store_const", const=flag.const, help=flag.help)
        else:
            group.add_argument(
                option,
                dest=flag.dest,
                type=flag.type,
                choices=flag.choices,
                metavar=flag.metavar,
                help=flag.help,
            )


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> HarkConfig:
    """The configuration for a command: its file, the `HARK_*` variables, then the options given."""
    environ = os.environ if environ is None else environ
    options = {flag.dest: flag for flag in FLAGS.values()}
    flags = {
        options[name].key: (options[name].option, value)
        for name, value in vars(args).items()
        if name in options and value is not None
    }
    path = getattr(args, "config", None) or default_path(environ)
    return load_config(path, environ, flags)


def _resume_id(value: str) -> str | int:
    if value == LATEST:
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a conversation number: {value!r}") from None


def add_resume_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resume",
        nargs="?",
        const=LATEST,
        type=_resume_id,
        metavar="ID",
        help="continue a saved conversation (default: the latest)",
    )


def check_message(text: str, config: HarkConfig) -> None:
    """A typed message within `dialogue.max_message_chars`, or a `UserError` saying how long it may be."""
    limit = config.dialogue.max_message_chars
    if len(text) > limit:
        raise UserError(
            f"the message is {len(text)} characters long; the most is {limit} (dialogue.max_message_chars)"
        )


def source_line(sources: list[dict]) -> str:
    """ "sources: Visitor guide (/docs/guide.md), ...": where an answer came from, for a person."""
    named = dict.fromkeys(f"{s['title']} ({s['path']})" for s in sources)
    return "sources: " + ", ".join(named)


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object per line on stdout")
