"""`hark say TEXT`: speak text (to the speaker, or to a WAV file)."""

from __future__ import annotations

import argparse
import threading

from hark.errors import UserError
from hark.report import Reporter
from hark.stack import load_speaker
from voice.shaper import chunk_stream
from voice.sinks import SpeakerSink, WavSink


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("say", help="speak TEXT aloud, or into a WAV file")
    p.add_argument("text", nargs="+", help="what to say")
    p.add_argument("--output", metavar="FILE", help="write a WAV file instead of playing")
    p.add_argument("--voice", help="a Piper .onnx voice (default: the bundled en_US joe voice)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    text = " ".join(args.text).strip()
    if not text:
        raise UserError("nothing to say: give some text")
    sink = WavSink(args.output) if args.output else SpeakerSink()
    speaker = load_speaker(args, reporter)
    never = threading.Event()
    try:
        for chunk in chunk_stream([text]):
            for audio in speaker.synthesize(chunk):
                sink.play(audio, speaker.sample_rate, never)
    finally:
        sink.close()
    if args.output:
        reporter.info(f"wrote {args.output}")
    return 0
