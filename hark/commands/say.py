"""`hark say TEXT`: speak text (to the speaker, or to a WAV file)."""

from __future__ import annotations

import argparse
import threading

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
    sink = WavSink(args.output) if args.output else SpeakerSink(config.audio.output or None)
    speaker = assembly.build_speaker(config, reporter)
    never = threading.Event()
    try:
        speech = ReplySpeech(speaker)
        for chunk in speech.chunks([text]):
            for audio in speech.audio(chunk):
                sink.play(audio, speaker.sample_rate, never)
    finally:
        sink.close()
    if args.output:
        reporter.info(f"wrote {args.output}")
    return 0
