"""`hark bench latency`: end of speech to first reply audio, Hark's loop against a sequential baseline.

Both run in the same process on the same models (Whisper tiny.en, SmolLM2-135M via llama.cpp, Piper
joe-medium) and the same recording of Piper-spoken questions, paced in real time. The clock starts at
the true end of each question in the recording (its last audible sample) and stops at the first audible
sample written to the sink.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dialogue.backends.base import ChatBackend, GenerationOptions
from dialogue.manager import DialogueManager
from hark import assembly
from hark.benchmark.baseline import run_sequential
from hark.benchmark.recording import QUESTIONS, Recording, make_recording
from hark.benchmark.sinks import TimingSink
from hark.config import HarkConfig
from hark.conversation import VoiceConversation
from hark.report import Reporter
from voice.decode import write_wav
from voice.events import BargeIn, VoiceEvent
from voice.sources import FileSource
from voice.stt import Transcriber
from voice.tts import Speaker

GAP_S = 5.0
"""Silence after each question: room for the whole reply to be generated before the next one."""


@dataclass
class Stack:
    transcriber: Transcriber
    speaker: Speaker
    backend: ChatBackend
    options: GenerationOptions = field(default_factory=GenerationOptions)

    def manager(self) -> DialogueManager:
        """A fresh conversation per question keeps both pipelines' prompts identical."""
        return DialogueManager(self.backend, options=self.options)


class _FreshConversation:
    """Each question starts a new conversation, as in the baseline."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def begin_turn(self, transcript, turn_id: int):
        return VoiceConversation(self._stack.manager()).begin_turn(transcript, turn_id)


class _FreshManager:
    """The baseline's manager: a new conversation for every `reply`."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def reply(self, text: str) -> str:
        return self._stack.manager().reply(text)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _latencies(recording: Recording, source: FileSource, sink: TimingSink) -> list[float]:
    assert source.started_at is not None
    out = []
    for end_s in recording.speech_ends_s:
        eos = source.started_at + end_s
        first = sink.first_sound_after(eos)
        if first is not None:
            out.append(first - eos)
    return out


def _listen(
    stack: Stack,
    source: FileSource,
    sink: TimingSink,
    config: HarkConfig,
    on_event: Callable[[VoiceEvent], None],
) -> None:
    """Hark's loop over `source` until it ends, built as `hark talk` builds it, on the stack's models with
    a fresh conversation per turn."""
    conversation = _FreshConversation(stack)
    loop, player = assembly.build_loop(
        config, source, sink, stack.transcriber, stack.speaker, conversation, on_event, realtime=sink.realtime
    )
    loop.run()
    player.close()


def run_hark(stack: Stack, recording: Recording, config: HarkConfig) -> tuple[list[float], list[dict]]:
    source = FileSource(recording.path, paced=True)
    sink = TimingSink()
    events: list[dict] = []
    _listen(stack, source, sink, config, lambda event: events.append(event.to_json()))
    return _latencies(recording, source, sink), events


def run_baseline(stack: Stack, recording: Recording, config: HarkConfig) -> list[float]:
    source = FileSource(recording.path, paced=True)
    sink = TimingSink()
    vad, endpointer = assembly.build_vad(config), assembly.endpointer_config(config)
    run_sequential(source, vad, endpointer, stack.transcriber, _FreshManager(stack), stack.speaker, sink)
    return _latencies(recording, source, sink)


def idle_cpu_share(stack: Stack, config: HarkConfig, seconds: float = 6.0) -> float:
    """CPU used while listening to silence, as a share of one core."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_wav(Path(tmp) / "silence.wav", np.zeros(int(seconds * 16_000), np.int16))
        source = FileSource(path, paced=True, tail_silence_s=0.0)
        cpu0, wall0 = time.process_time(), time.monotonic()
        _listen(stack, source, TimingSink(), config, lambda _event: None)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    return cpu / wall


def barge_in_stop(stack: Stack, config: HarkConfig, tmp: Path) -> dict[str, float | None]:
    """How fast a reply stops when the user talks over it (the sink plays in real time here).

    `from_speech_s` counts from the moment the interrupting speech in the recording reaches the barge-in
    length; `from_detection_s` from the moment the loop decided to stop.
    """
    recording = make_recording(
        stack.speaker, tmp / "barge.wav", [QUESTIONS[7], "Stop, stop, please stop talking now."], gap_s=1.4
    )
    source = FileSource(recording.path, paced=True)
    sink = TimingSink(realtime=True)
    barge_config = config.replaced("audio.turn_taking", "barge-in")
    detections: list[float] = []

    def on_event(event: VoiceEvent) -> None:
        if isinstance(event, BargeIn):
            detections.append(time.monotonic())

    _listen(stack, source, sink, barge_config, on_event)
    assert source.started_at is not None
    if not sink.stop_times or not detections:
        return {"from_speech_s": None, "from_detection_s": None}
    threshold = source.started_at + recording.speech_starts_s[1] + config.audio.barge_in_min_s
    stop = sink.stop_times[0]
    return {"from_speech_s": round(stop - threshold, 4), "from_detection_s": round(stop - detections[0], 4)}


def run(config: HarkConfig, reporter: Reporter, turns: int = len(QUESTIONS)) -> dict:
    """The benchmark on the configured models (the command defaults to the embedded ones)."""
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]
    stack = Stack(
        assembly.build_transcriber(config, reporter),
        assembly.build_speaker(config, reporter),
        assembly.build_backend(config, reporter),
        GenerationOptions(max_tokens=60, temperature=0.0),
    )
    with tempfile.TemporaryDirectory() as tmp:
        recording = make_recording(stack.speaker, Path(tmp) / "questions.wav", questions, GAP_S)
        stack.manager().reply("Hello.")  # warm the model and its prompt cache, as a running assistant is
        hark_s, events = run_hark(stack, recording, config)
        baseline_s = run_baseline(stack, recording, config)
        barge = barge_in_stop(stack, config, Path(tmp))
    idle = idle_cpu_share(stack, config)
    stack.backend.close()
    metrics = [e for e in events if e["event"] == "metrics"]

    def median_of(key: str) -> float | None:
        values = [m[key] for m in metrics if isinstance(m.get(key), float)]
        return round(statistics.median(values), 4) if values else None

    median = statistics.median(hark_s)
    baseline = statistics.median(baseline_s)
    return {
        "turns": len(hark_s),
        "median_eos_to_first_audio_s": round(median, 4),
        "p90_eos_to_first_audio_s": round(_percentile(hark_s, 90), 4),
        "baseline_median_s": round(baseline, 4),
        "baseline_p90_s": round(_percentile(baseline_s, 90), 4),
        "speedup": round(baseline / median, 2),
        "breakdown": {
            "hang_s": config.vad.hang_s,
            "endpoint_s": median_of("endpoint_s"),
            "stt_after_endpoint_s": median_of("stt_s"),
            "llm_first_token_s": median_of("llm_first_token_s"),
            "tts_first_audio_s": median_of("tts_first_audio_s"),
            "speculative_share": round(
                sum(bool(m.get("speculative")) for m in metrics) / max(1, len(metrics)), 2
            ),
        },
        "barge_in_stop": barge,
        "idle_cpu_share_of_one_core": round(idle, 4),
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "config": {
            "stt": "tiny.en int8",
            "llm": stack.backend.describe(),
            "tts": "piper joe-medium",
            "max_tokens": stack.options.max_tokens,
            "turn_taking": "full-duplex (sink is a timer)",
        },
    }
