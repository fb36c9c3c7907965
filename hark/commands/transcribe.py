"""`hark transcribe FILE`: the text of a recording, one line per utterance."""

from __future__ import annotations

import argparse
import json

from hark import assembly
from hark.commands.common import add_config_args, add_json_arg, config_from_args
from hark.errors import UserError
from hark.report import Reporter
from voice import SAMPLE_RATE
from voice.decode import decode_file


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="print the text spoken in an audio file")
    p.add_argument("file", help="audio file (wav, flac, mp3, ogg, ...)")
    add_json_arg(p)
    add_config_args(p, "--stt-model")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = config_from_args(args)
    audio = decode_file(args.file)
    transcriber = assembly.build_transcriber(config, reporter)
    transcript = transcriber.transcribe(audio)
    if not transcript.text:
        raise UserError(f"no speech recognised in {args.file}")
    if args.json:
        print(
            json.dumps(
                {
                    "text": transcript.text,
                    "confidence": round(transcript.confidence, 3),
                    "duration_s": round(audio.size / SAMPLE_RATE, 3),
                }
            )
        )
    else:
        print(transcript.text)
    return 0
