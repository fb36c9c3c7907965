"""`hark say TEXT`: speak text (to the speaker, or to a WAV file)."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from hark import assembly
from hark.commands.common import SPEAKING, add_config_args, config_from_args
from hark.errors import UserError
from hark.report import Reporter
from voice.sinks import SpeakerSink, WavSink
from voice.speech import ReplySpeech


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("say", help="speak TEXT aloud, or into a WAV file")
    p.add_argument("text", nargs="+", help="what to say")
    p.add_argument("--output", metavar="FILE", help="write a WAV file instead of playing")
    add_config_args(p, *SPEAKING, "--speaker")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    text = " ".join(args.text).strip()
    if not text:
        raise UserError("nothing to say: give some text")
    config = config_from_args(args)
    chunks = [chunk for chunk in ReplySpeech(None).chunks([text]) if any(ch.isalnum() for ch in chunk)]
    if not chunks:
        raise UserError(
            f"nothing speakable in {text!r}: give words or numbers (emoji and symbols are not read)"
        )
    if args.output:
        check_output_path(Path(args.output))
    sink = WavSink(args.output) if args.output else SpeakerSink(config.audio.output or None)
    speaker = assembly.build_speaker(config, reporter)
    speech = ReplySpeech(speaker)
    never = threading.Event()
    samples = 0
    try:
        for chunk in chunks:
            for audio in speech.audio(chunk):
                samples += sink.play(audio, speaker.sample_rate, never)
    finally:
        sink.close()
    if not samples:
        raise UserError(f"the voice produced no audio for {text!r}")
    if args.output:
        reporter.info(f"wrote {args.output}")
    return 0


def check_output_path(path: Path) -> None:
    """Fail with a clear message before loading the voice, not with a traceback after synthesis."""
    if path.is_dir():
        raise UserError(f"--output {path} is a directory: give a file name such as {path / 'speech.wav'}")
    if not path.parent.is_dir():
        raise UserError(f"--output {path}: the folder {path.parent} does not exist")
