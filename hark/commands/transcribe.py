"""`hark transcribe FILE`: the text of a recording, one line per utterance.

A recording of any length is decoded and transcribed a chunk at a time (memory stays flat: an hour costs
what a minute costs), only where Silero hears speech (silence gives no text, not Whisper's invented "You"),
and each utterance is printed as soon as it is transcribed. Recordings longer than `--max-duration` are
refused before anything loads when the file announces its length, or as soon as decoding passes the limit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import TextIO

import numpy as np

from hark import assembly
from hark.commands.common import add_config_args, add_json_arg, config_from_args
from hark.errors import UserError
from hark.report import Reporter
from voice import SAMPLE_RATE
from voice.decode import audio_duration, clock, decode_chunks
from voice.silero import SileroVad
from voice.stt import Utterance, transcribe_stream

CHUNK_S = 30.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="print the text spoken in an audio file")
    p.add_argument("file", help="audio file (wav, flac, mp3, ogg, ...)")
    add_json_arg(p)
    add_config_args(p, "--stt-model", "--max-duration")
    p.set_defaults(run=run)


class Progress:
    """`transcribing FILE: 12:30 of 60:00 (21 %)` on one rewritten stderr line, for a person watching."""

    def __init__(self, name: str, total_s: float | None, err: TextIO) -> None:
        self._name, self._total, self._err = name, total_s, err

    def show(self, done_s: float) -> None:
        of = f" of {_minutes(self._total)} ({100 * done_s / self._total:.0f} %)" if self._total else ""
        self._err.write(f"\rtranscribing {self._name}: {_minutes(done_s)}{of}\x1b[K")
        self._err.flush()

    def clear(self) -> None:
        self._err.write("\r\x1b[K")
        self._err.flush()


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = config_from_args(args)
    max_s = config.stt.max_file_s
    duration = audio_duration(args.file)
    if duration is not None and duration > max_s:
        raise UserError(
            f"{args.file} is {clock(round(duration))} long, over the {clock(max_s)} limit "
            "(stt.max_file_s, --max-duration)"
        )
    transcriber = assembly.build_transcriber(config, reporter)
    progress = Progress(args.file, duration, sys.stderr) if sys.stderr.isatty() else None
    decoded = [0]

    def chunks() -> Iterator[np.ndarray]:
        for chunk in decode_chunks(args.file, CHUNK_S, max_s):
            decoded[0] += chunk.size
            if progress is not None:
                progress.show(decoded[0] / SAMPLE_RATE)
            yield chunk

    utterances: list[Utterance] = []
    try:
        for utterance in transcribe_stream(transcriber, chunks(), SileroVad()):
            utterances.append(utterance)
            if not args.json:
                if progress is not None:
                    progress.clear()
                print(utterance.transcript.text, flush=True)
    finally:
        if progress is not None:
            progress.clear()
    if not utterances:
        raise UserError(f"no speech recognised in {args.file}")
    if args.json:
        print(json.dumps(_summary(utterances, decoded[0] / SAMPLE_RATE)))
    return 0


def _summary(utterances: list[Utterance], duration_s: float) -> dict:
    confidence = sum(u.transcript.confidence for u in utterances) / len(utterances)
    return {
        "text": " ".join(u.transcript.text for u in utterances),
        "confidence": round(confidence, 3),
        "duration_s": round(duration_s, 3),
        "utterances": [
            {"start_s": round(u.start_s, 2), "end_s": round(u.end_s, 2), "text": u.transcript.text}
            for u in utterances
        ],
    }
