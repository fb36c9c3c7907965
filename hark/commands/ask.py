"""`hark ask`: one question, typed or spoken, about images or a camera snapshot; the answer streamed as text
and, if asked, spoken.

Images are read and checked before any model is loaded, so a bad input fails in a fraction of a second.
A model that cannot see gets the facts found on this machine (size, colours, OCR text) instead of pixels.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Iterator

from dialogue.manager import DialogueManager, DialogueTurn
from hark import assembly
from hark.commands.common import (
    CONVERSATION,
    LLM,
    SPEAKING,
    add_config_args,
    add_json_arg,
    add_resume_arg,
    check_message,
    config_from_args,
)
from hark.config import HarkConfig
from hark.errors import UserError
from hark.report import Reporter
from vision.camera import parse_device, snapshot
from vision.describe import image_facts
from vision.image import IntakeLimits, PreparedImage
from vision.intent import refers_to_camera
from vision.ocr import default_reader
from vision.sources import STDIN, open_image
from voice.decode import decode_file
from voice.player import Player
from voice.sinks import AudioSink, SpeakerSink, WavSink
from voice.speech import ReplySpeech
from voice.tts import Speaker


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask one question, about images or a camera snapshot if given")
    p.add_argument("question", nargs="*", help="the question (or speak it into a file given with --audio)")
    p.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="PATH|URL|-",
        help="an image file, an http(s) URL, or - for stdin; repeat for several images",
    )
    p.add_argument(
        "--camera",
        nargs="?",
        const="0",
        metavar="DEVICE",
        help="take a snapshot: a camera index (default 0) or a video file",
    )
    p.add_argument("--audio", metavar="FILE", help="the question, spoken, in an audio file")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--speak", action="store_true", help="also speak the answer")
    out.add_argument("--output", metavar="FILE.wav", help="write the spoken answer to a WAV file")
    add_json_arg(p)
    add_resume_arg(p)
    add_config_args(p, *LLM, *CONVERSATION, "--stt-model", *SPEAKING, "--max-side")
    p.set_defaults(run=run)


def _camera_and_question(args: argparse.Namespace) -> tuple[str | None, str]:
    """`hark ask --camera "what is this?"` means camera 0 and that question (argparse reads it as DEVICE)."""
    question = " ".join(args.question).strip()
    camera = args.camera
    if camera is not None and " " in camera.strip() and not question:
        return "0", camera.strip()
    return camera, question


def _load_images(
    args: argparse.Namespace, config: HarkConfig, camera: str | None, reporter: Reporter
) -> list[PreparedImage]:
    limits = IntakeLimits(max_side=config.vision.max_side)
    if args.image.count(STDIN) > 1:
        raise UserError("only one --image can be - (standard input is read once)")
    private = config.vision.allow_private_urls
    images = [open_image(spec, limits, allow_private=private) for spec in args.image]
    if camera is not None:
        images.append(snapshot(parse_device(camera), max_side=limits.max_side))
    for image in images:
        reporter.info(
            f"image {image.source}: {image.original_format} {image.original_width}x{image.original_height}"
            f" -> JPEG {image.width}x{image.height}, {len(image.data) // 1024} kB"
        )
    return images


def _describe_ahead(images: list[PreparedImage], reporter: Reporter) -> tuple[Callable[[bytes], str], float]:
    """For a model that cannot see: the facts of each image, found before the model is asked (so OCR time
    is not counted as the model's), as the manager's `image_describer`; and the seconds OCR took."""
    assembly.timed_load(reporter, "text recognition (RapidOCR)", default_reader.load)
    described: dict[bytes, str] = {}
    ocr_s = 0.0
    for image in images:
        facts = image_facts(image.data)
        described[image.data] = facts.as_text()
        ocr_s += facts.ocr_s or 0.0
        reporter.info(f"image {image.source} as text: {described[image.data]}")
    return described.__getitem__, ocr_s


class _Answer:
    """Consumes the reply stream: shows it as it comes (unless --json), speaks it if asked, times both."""

    def __init__(self, show: bool, speaker: Speaker | None) -> None:
        self.show = show
        self.speech = ReplySpeech(speaker)

    def _shown(self, pieces: Iterable[str]) -> Iterator[str]:
        for piece in pieces:
            if self.show:
                print(piece, end="", flush=True)
            yield piece
        if self.show:
            print(flush=True)

    def consume(self, turn: DialogueTurn, sink: AudioSink | None) -> None:
        chunks = self.speech.chunks(self._shown(turn.pieces()))
        if self.speech.speaker is None or sink is None:
            for _ in chunks:
                pass
        else:
            self._speak(chunks, self.speech.speaker.sample_rate, sink)
        self.speech.marks["llm_end"] = time.monotonic()

    def _speak(self, chunks: Iterator[str], rate: int, sink: AudioSink) -> None:
        """Synthesise each chunk as soon as the text has it; a player thread plays while the next is made."""
        player = Player(sink, realtime=isinstance(sink, SpeakerSink))
        player.begin_reply()
        try:
            for chunk in chunks:
                for audio in self.speech.audio(chunk):
                    player.enqueue(chunk, audio, rate)
            playback = player.wait_idle()
        finally:
            player.close()
        if playback.error is not None:
            raise playback.error


def _open_sink(args: argparse.Namespace, config: HarkConfig) -> AudioSink | None:
    if args.output:
        return WavSink(args.output)
    return SpeakerSink(config.audio.output or None) if args.speak else None


def _transcribe(args: argparse.Namespace, config: HarkConfig, reporter: Reporter) -> tuple[str, dict, float]:
    """The spoken question, its transcript event, and the seconds recognition took."""
    audio = decode_file(args.audio)  # a bad file fails before the model loads
    transcriber = assembly.build_transcriber(config, reporter)
    start = time.monotonic()
    transcript = transcriber.transcribe(audio)
    seconds = time.monotonic() - start
    if not transcript.text.strip():
        raise UserError(f"no speech found in {args.audio}: is it a silent or empty recording?")
    event = {
        "event": "transcript",
        "final": True,
        "text": transcript.text,
        "confidence": round(transcript.confidence, 3),
    }
    return transcript.text, event, seconds


def _emit(reporter: Reporter, event: dict) -> None:
    """Events are stdout JSON under --json; otherwise a note on stderr, so stdout holds just the answer."""
    if reporter.json_mode:
        reporter.event(event)
    elif (line := Reporter.human(event)) is not None:
        reporter.info(line)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = config_from_args(args)
    camera, question = _camera_and_question(args)
    if question and args.audio:
        raise UserError("give the question either typed or with --audio, not both")
    if not question and not args.audio:
        raise UserError('no question: type one (hark ask "what is in this picture?") or give --audio FILE')
    check_message(question, config)
    start = time.monotonic()
    images = _load_images(args, config, camera, reporter)
    images_s = time.monotonic() - start
    sink = _open_sink(args, config)
    try:
        return _answer(args, config, reporter, question, images, images_s, sink)
    finally:
        if sink is not None:
            sink.close()


def _answer(
    args: argparse.Namespace,
    config: HarkConfig,
    reporter: Reporter,
    question: str,
    images: list[PreparedImage],
    images_s: float,
    sink: AudioSink | None,
) -> int:
    metrics: dict = {"event": "metrics", "images": len(images), "images_s": round(images_s, 4)}
    if args.audio:
        question, transcript_event, metrics["stt_s"] = _transcribe(args, config, reporter)
        _emit(reporter, transcript_event)
    if not images and refers_to_camera(question):
        reporter.info("hint: to ask about something you are showing, add --camera or --image")
    manager = assembly.build_manager(config, reporter, resume=args.resume)
    try:
        turn, answer = _ask(manager, config, reporter, question, images, metrics, sink)
    finally:
        assembly.close_manager(manager)
    if reporter.json_mode:
        reporter.event({"event": "reply", "text": turn.record.reply, "images_seen": turn.record.images_seen})
    metrics.update(
        llm_first_token_s=answer.speech.seconds("llm_start", "llm_first_token"),
        answer_s=answer.speech.seconds("llm_start", "llm_end"),
        images_seen=turn.record.images_seen,
    )
    if answer.speech.speaker is not None:
        metrics["tts_first_audio_s"] = answer.speech.seconds("tts_start", "tts_first_audio")
    _emit(reporter, metrics)
    if turn.record.error:
        _emit(reporter, {"event": "error", "kind": "llm", "message": turn.record.error})
        return 1
    if args.output:
        reporter.info(f"answer written to {args.output}")
    return 0


def _ask(
    manager: DialogueManager,
    config: HarkConfig,
    reporter: Reporter,
    question: str,
    images: list[PreparedImage],
    metrics: dict,
    sink: AudioSink | None,
) -> tuple[DialogueTurn, _Answer]:
    """The answer, shown as it comes and spoken if asked."""
    speaker = assembly.build_speaker(config, reporter, manager.persona) if sink else None
    if images and not manager.backend.sees_images:
        manager.image_describer, ocr_s = _describe_ahead(images, reporter)
        metrics["ocr_s"] = round(ocr_s, 4)
    turn = manager.begin_turn(question, [image.data for image in images])
    answer = _Answer(not reporter.json_mode, speaker)
    answer.consume(turn, sink)
    turn.finish()
    return turn, answer
