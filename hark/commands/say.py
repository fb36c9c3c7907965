"""`hark say TEXT`: speak text (to the speaker, or to a WAV file)."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

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
    chunks = [chunk for chunk in chunk_stream([text]) if any(ch.isalnum() for ch in chunk)]
    if not chunks:
        raise UserError(
            f"nothing speakable in {text!r}: give words or numbers (emoji and symbols are not read)"
        )
    if args.output:
        check_output_path(Path(args.output))
    sink = WavSink(args.output) if args.output else SpeakerSink()
    speaker = load_speaker(args, reporter)
    never = threading.Event()
    samples = 0
    try:
        for chunk in chunks:
            for audio in speaker.synthesize(chunk):
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
