"""`hark demo`: one spoken turn from a bundled sample question through the whole loop."""

from __future__ import annotations

import argparse
import threading
from importlib import resources
from pathlib import Path

from hark.commands import talk
from hark.commands.common import LLM, add_config_args, add_json_arg
from hark.report import Reporter
from voice.decode import decode_file, to_int16
from voice.errors import AudioDeviceError
from voice.sinks import SpeakerSink

SAMPLE = "question.wav"


def sample_question() -> Path:
    return Path(str(resources.files("hark.samples").joinpath(SAMPLE)))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run one spoken turn from a sample question (no microphone needed)")
    p.add_argument("--output", default="out/demo-reply.wav", metavar="FILE", help="where to write the reply")
    p.add_argument("--no-play", action="store_true", help="do not play the reply even if a speaker exists")
    add_json_arg(p)
    add_config_args(p, *LLM)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    question = sample_question()
    reporter.info(f"playing the sample question {question} as the microphone, in real time")
    talk.run(talk_args(args, question), reporter)
    if not args.no_play:
        play(args.output, reporter)
    return 0


def talk_args(args: argparse.Namespace, question: Path) -> argparse.Namespace:
    """`hark talk --input QUESTION` with every other talk option at its default, and the demo's own given
    options over them: built by talk's parser, so an option added to `talk` cannot be missing here."""
    parser = argparse.ArgumentParser()
    talk.add_parser(parser.add_subparsers())
    defaults = parser.parse_args(["talk", "--input", str(question)])
    return argparse.Namespace(**(vars(defaults) | vars(args)))


def play(path: str, reporter: Reporter) -> None:
    try:
        sink = SpeakerSink()
    except AudioDeviceError:
        reporter.info(f"no speaker here: listen to {path} with any audio player")
        return
    try:
        sink.play(to_int16(decode_file(path, 22_050)), 22_050, threading.Event())
    except AudioDeviceError as exc:
        reporter.info(f"could not play the reply ({exc}); it is in {path}")
    finally:
        sink.close()
