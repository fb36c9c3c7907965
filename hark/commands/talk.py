"""`hark talk`: a voice session on the microphone, or on an audio file played as the microphone."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable

from hark import assembly
from hark.commands.common import (
    CONVERSATION,
    DEVICES,
    GROUNDING,
    LISTENING,
    LLM,
    SPEAKING,
    add_config_args,
    add_json_arg,
    add_resume_arg,
    config_from_args,
)
from hark.config import HarkConfig
from hark.conversation import VoiceConversation
from hark.errors import UserError
from hark.report import Reporter
from hark.wakeword import WakeWordConversation, WakeWordOpener, wake_handler
from vision.camera import parse_device, snapshot
from voice.events import VoiceEvent
from voice.loop import Conversation, VoiceLoop
from voice.processors.wake import check_wake_word
from voice.sinks import AudioSink, SpeakerSink, WavSink
from voice.sources import AudioSource, FileSource, MicSource, ReconnectingSource


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("talk", help="talk with Hark (microphone, or --input FILE)")
    p.add_argument("--input", metavar="FILE", help="an audio file to use as the microphone")
    p.add_argument("--output", metavar="FILE", help="write the spoken replies to this WAV instead of playing")
    p.add_argument("--fast", action="store_true", help="read --input as fast as possible, not in real time")
    p.add_argument(
        "--wake-word",
        metavar="NAME|FILE",
        help="answer only what begins with this wake word (hey_jarvis, okay_nabu, hey_mycroft, alexa, "
        "or a microWakeWord .json); saying it while Hark speaks interrupts",
    )
    p.add_argument(
        "--camera",
        metavar="DEVICE",
        help="camera index or video path: questions like 'what am I holding?' get a fresh frame",
    )
    add_json_arg(p)
    add_resume_arg(p)
    add_config_args(p, *LLM, *CONVERSATION, *LISTENING, *SPEAKING, *DEVICES, *GROUNDING)
    p.set_defaults(run=run)


def open_source(args: argparse.Namespace, config: HarkConfig, reporter: Reporter) -> AudioSource:
    """The input file, or the microphone (reopened with backoff if it fails mid-session)."""
    if args.input:
        return FileSource(args.input, paced=not args.fast)
    mic = config.audio.input or None
    MicSource(mic)  # fail fast, with a clear error, when there is no such device

    def lost(exc: Exception, retry_in: float) -> None:
        reporter.event(
            {"event": "error", "kind": "audio_input", "message": f"{exc}; retrying in {retry_in:.0f}s"}
        )

    def back() -> None:
        reporter.info("microphone is back")

    return ReconnectingSource(lambda: MicSource(mic), lost, back, max_backoff_s=config.audio.retry_max_s)


def camera_snapshot(device: str | None, max_side: int) -> Callable[[], bytes] | None:
    if not device:
        return None
    parsed = parse_device(device)
    return lambda: snapshot(parsed, max_side=max_side).data


def camera_failed(reporter: Reporter) -> Callable[[Exception], None]:
    """In a live session a camera problem is said and the turn goes on without the picture."""

    def report(exc: Exception) -> None:
        reporter.event(
            {"event": "error", "kind": "camera", "message": f"{exc}; answering without the picture"}
        )

    return report


def open_sink(args: argparse.Namespace, config: HarkConfig) -> tuple[AudioSink, bool]:
    """The sink and whether it plays in real time (so the microphone might hear it)."""
    if args.output:
        return WavSink(args.output), False
    return SpeakerSink(config.audio.output or None), True


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = config_from_args(args)
    if args.wake_word:
        check_wake_word(args.wake_word)  # before any model loads
    source = open_source(args, config, reporter)  # fails fast on a bad file or missing microphone
    sink, realtime = open_sink(args, config)
    camera = camera_snapshot(args.camera or config.vision.camera, config.vision.max_side)
    turn_model = assembly.build_turn_model(config, reporter)  # a bad --turn-model fails before the rest loads
    transcriber = assembly.build_transcriber(config, reporter)
    manager = assembly.build_manager(config, reporter, resume=args.resume)
    manager.warm_up()
    speaker = assembly.build_speaker(config, reporter, manager.persona)
    voice = VoiceConversation(manager, config.stt.min_confidence, camera, camera_failed(reporter))
    conversation: Conversation = voice
    listeners = [voice.on_event]
    on_wake = None
    if args.wake_word:
        opener = WakeWordOpener(wake_handler(lambda: loop, reporter.event))
        conversation, on_wake = WakeWordConversation(voice, opener, args.wake_word), opener.on_wake
        listeners.append(opener.on_event)

    def on_event(event: VoiceEvent) -> None:
        reporter.event(voice.to_json(event))
        for listener in listeners:
            listener(event)

    mic_latency_s = 0.0 if args.input else assembly.input_latency_s(config.audio.input)
    processors = assembly.build_processors(
        config,
        realtime,
        reporter,
        mic_latency_s=mic_latency_s,
        wake_word=args.wake_word or "",
        on_wake=on_wake,
    )
    loop, player = assembly.build_loop(
        config,
        source,
        sink,
        transcriber,
        speaker,
        conversation,
        on_event,
        realtime=realtime,
        processors=processors,
        turn_model=turn_model,
    )
    assembly.announce_reminders(manager, loop)
    if not args.input:
        loop.say(manager.persona.greeting)
        reporter.info("listening; press Ctrl-C to stop")
    stop_on_signal(loop)
    try:
        summary = loop.run()
    finally:
        player.close()
        sink.close()
        assembly.close_manager(manager)
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
