"""`hark talk`: a voice session on the microphone, or on an audio file played as the microphone."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable

from hark.commands.common import add_json_arg, add_llm_args
from hark.conversation import VoiceConversation
from hark.dialogue_setup import add_dialogue_args, build_manager
from hark.errors import UserError
from hark.report import Reporter
from hark.stack import load_speaker, load_transcriber
from vision.camera import parse_device, snapshot
from voice.endpointer import EndpointerConfig
from voice.loop import LoopConfig, TurnTaking, VoiceLoop
from voice.player import Player
from voice.silero import SileroConfirmedVad
from voice.sinks import AudioSink, SpeakerSink, WavSink
from voice.sources import AudioSource, FileSource, MicSource, ReconnectingSource
from voice.vad import FrameVad, WebRtcVad

MIN_CONFIDENCE = 0.4
"""Transcripts Whisper is less sure of than this get a "say that again" instead of an answer."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("talk", help="talk with Hark (microphone, or --input FILE)")
    p.add_argument("--input", metavar="FILE", help="an audio file to use as the microphone")
    p.add_argument("--output", metavar="FILE", help="write the spoken replies to this WAV instead of playing")
    p.add_argument("--fast", action="store_true", help="read --input as fast as possible, not in real time")
    p.add_argument("--mic", help="microphone: device index or name substring (see `hark devices`)")
    p.add_argument("--speaker", help="speaker: device index or name substring")
    p.add_argument(
        "--turn-taking",
        choices=[t.value for t in TurnTaking],
        default=TurnTaking.HALF_DUPLEX.value,
        help="half-duplex (default: mic off while Hark speaks) or barge-in (you can interrupt)",
    )
    p.add_argument("--hang", type=float, default=0.5, help="seconds of silence that end your turn (0.5)")
    p.add_argument("--vad", type=int, default=2, choices=[0, 1, 2, 3], help="VAD aggressiveness (2)")
    p.add_argument(
        "--noisy-room",
        action="store_true",
        help="confirm speech with the Silero VAD too (robust to fans, traffic and other steady noise)",
    )
    p.add_argument(
        "--barge-in-min",
        type=float,
        default=0.4,
        metavar="SECONDS",
        help="with --turn-taking barge-in: how much speech interrupts Hark (0.4)",
    )
    p.add_argument(
        "--camera",
        metavar="DEVICE",
        help="camera index or video path: questions like 'what am I holding?' get a fresh frame",
    )
    p.add_argument("--no-partials", action="store_true", help="do not transcribe while you speak")
    p.add_argument(
        "--no-speculation",
        action="store_true",
        help="start the reply only after the hang time (slower; for comparison)",
    )
    add_json_arg(p)
    add_llm_args(p)
    add_dialogue_args(p)
    p.set_defaults(run=run)


def open_source(args: argparse.Namespace, reporter: Reporter) -> AudioSource:
    """The input file, or the microphone (reopened with backoff if it fails mid-session)."""
    if args.input:
        return FileSource(args.input, paced=not args.fast)
    MicSource(args.mic)  # fail fast, with a clear error, when there is no such device

    def lost(exc: Exception, retry_in: float) -> None:
        reporter.event(
            {"event": "error", "kind": "audio_input", "message": f"{exc}; retrying in {retry_in:.0f}s"}
        )

    def back() -> None:
        reporter.info("microphone is back")

    return ReconnectingSource(lambda: MicSource(args.mic), lost, back)


def camera_snapshot(args: argparse.Namespace) -> Callable[[], bytes] | None:
    if not getattr(args, "camera", None):
        return None
    device = parse_device(args.camera)
    return lambda: snapshot(device).data


def camera_failed(reporter: Reporter) -> Callable[[Exception], None]:
    """In a live session a camera problem is said and the turn goes on without the picture."""

    def report(exc: Exception) -> None:
        reporter.event(
            {"event": "error", "kind": "camera", "message": f"{exc}; answering without the picture"}
        )

    return report


def make_vad(args: argparse.Namespace) -> FrameVad:
    gate = WebRtcVad(args.vad)
    return SileroConfirmedVad(gate) if args.noisy_room else gate


def open_sink(args: argparse.Namespace) -> tuple[AudioSink, bool]:
    """The sink and whether it plays in real time (so the microphone might hear it)."""
    if args.output:
        return WavSink(args.output), False
    return SpeakerSink(args.speaker), True


def loop_config(args: argparse.Namespace, realtime_sink: bool) -> LoopConfig:
    if args.hang < 0.1 or args.hang > 5:
        raise UserError("--hang must be between 0.1 and 5 seconds")
    if not 0.1 <= args.barge_in_min <= 5:
        raise UserError("--barge-in-min must be between 0.1 and 5 seconds")
    mode = TurnTaking(args.turn_taking)
    if not realtime_sink:
        mode = TurnTaking.FULL_DUPLEX
    return LoopConfig(
        endpointer=EndpointerConfig(hang_s=args.hang),
        turn_taking=mode,
        barge_in_min_s=args.barge_in_min,
        partial_interval_s=None if args.no_partials else LoopConfig.partial_interval_s,
        speculate=not args.no_speculation,
    )


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    source = open_source(args, reporter)  # fails fast on a bad file or missing microphone
    sink, realtime = open_sink(args)
    config = loop_config(args, realtime)
    transcriber = load_transcriber(args, reporter)
    manager = build_manager(args, reporter)
    manager.warm_up()
    speaker = load_speaker(args, reporter, manager.persona.voice, manager.persona.rate)
    conversation = VoiceConversation(manager, MIN_CONFIDENCE, camera_snapshot(args), camera_failed(reporter))

    def on_event(event: dict) -> None:
        reporter.event(event)
        conversation.on_event(event)

    player = Player(sink, realtime=realtime)
    loop = VoiceLoop(source, player, make_vad(args), transcriber, speaker, conversation, config, on_event)
    if not args.input:
        loop.say(manager.persona.greeting)
        reporter.info("listening; press Ctrl-C to stop")
    stop_on_signal(loop)
    try:
        summary = loop.run()
    finally:
        player.close()
        sink.close()
        manager.close()
    if args.input and summary.utterances == 0:
        raise UserError(f"no speech found in {args.input}: is it a silent or empty recording?")
    if args.output:
        reporter.info(f"replies written to {args.output}")
    return 0


def stop_on_signal(loop: VoiceLoop) -> None:
    """Ctrl-C and SIGTERM end the session cleanly (the current turn is cut)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(_signum, _frame) -> None:
        loop.stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
