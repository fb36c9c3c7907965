"""`hark bench turns`: the turn benchmark's samples played in real time through the real loop.

Each sample (`hark.benchmark.turns`: complete questions, and sentences with a 0.5-1.2 s pause in the
middle, Piper-made with deterministic synthesis so every run hears the same audio) is played paced from a
file through the loop `hark talk` builds (`assembly.build_loop`: VAD, Whisper, speculation, the end-of-turn
model, the embedded chat model, Piper) into a timing sink. Read from the loop's own events:

* a false cut-off: the sample's first turn ended before its last part began, or it became two turns;
* end-of-turn delay: the loop's end of speech to the turn's release (`endpoint_s`), complete questions;
* end of speech to first audio on the pipeline clock (`eos_to_first_audio_s`), complete questions;
* the CPU the end-of-turn model used, as a share of one core over the time spent listening.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dialogue.backends.base import GenerationOptions
from hark import assembly
from hark.benchmark.latency import Stack, _FreshConversation
from hark.benchmark.sinks import TimingSink
from hark.benchmark.turns import TurnSample, build_samples
from hark.config import HarkConfig
from hark.report import Reporter
from voice.decode import write_wav
from voice.events import STAGES
from voice.sources import FileSource
from voice.tts import Speaker, TtsConfig
from voice.turn import EndOfTurnModel


class TimedModel:
    """The end-of-turn model, counting its calls and the CPU time of the thread that runs them."""

    def __init__(self, model: EndOfTurnModel) -> None:
        self.model = model
        self.calls = 0
        self.cpu_s = 0.0

    def predict(self, audio: np.ndarray) -> float:
        began = time.thread_time()
        try:
            return self.model.predict(audio)
        finally:
            self.calls += 1
            self.cpu_s += time.thread_time() - began


def play(
    stack: Stack, config: HarkConfig, model: TimedModel | None, sample: TurnSample, tmp: Path
) -> list[dict]:
    """One sample through the loop; its events, as the `--json` lines."""
    path = write_wav(tmp / "sample.wav", sample.audio)
    source = FileSource(path, paced=True, tail_silence_s=0.0)
    sink = TimingSink()
    lines: list[dict] = []
    loop, player = assembly.build_loop(
        config,
        source,
        sink,
        stack.transcriber,
        stack.speaker,
        _FreshConversation(stack),
        lambda event: lines.append(event.to_json()),
        realtime=False,
        turn_model=model,
    )
    loop.run()
    player.close()
    return lines


def outcome(sample: TurnSample, lines: list[dict]) -> dict:
    """What the loop did with one sample."""
    ended = [e for e in lines if e["event"] == "speech_ended"]
    metrics = [e for e in lines if e["event"] == "metrics"]
    finals = [e["text"] for e in lines if e["event"] == "transcript" and e["final"]]
    cut = len(ended) != 1 or ended[0]["stream_s"] < sample.parts[-1].start_s
    first = metrics[0] if metrics else {}
    return {
        "text": sample.text,
        "paused": sample.paused,
        "cut_off": cut,
        "turns": len(ended),
        "reasons": [e.get("reason") for e in ended],
        "heard": finals,
        **{stage: first.get(stage) for stage in STAGES},
    }


def _stats(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    kept = [v for v in values if v is not None]
    if not kept:
        return None, None
    return round(statistics.median(kept), 4), round(float(np.percentile(kept, 90)), 4)


def summarise(outcomes: Sequence[dict]) -> dict:
    paused = [o for o in outcomes if o["paused"]]
    complete = [o for o in outcomes if not o["paused"] and not o["cut_off"]]
    delay = _stats([o["endpoint_s"] for o in complete])
    first_audio = _stats([o["eos_to_first_audio_s"] for o in complete])
    breakdown = {stage: _stats([o[stage] for o in complete])[0] for stage in STAGES}
    return {
        "n": len(outcomes),
        "n_paused": len(paused),
        "false_cutoffs": sum(o["cut_off"] for o in outcomes),
        "false_cutoff_rate": round(sum(o["cut_off"] for o in paused) / len(paused), 4) if paused else 0.0,
        "median_end_of_turn_delay_s": delay[0],
        "p90_end_of_turn_delay_s": delay[1],
        "median_eos_to_first_audio_s": first_audio[0],
        "p90_eos_to_first_audio_s": first_audio[1],
        "median_stages_s": breakdown,
    }


def run(config: HarkConfig, reporter: Reporter, repeats: int = 1) -> dict:
    """The benchmark on the configured models (the command defaults to the embedded chat model)."""
    stack = Stack(
        assembly.build_transcriber(config, reporter),
        assembly.build_speaker(config, reporter),
        assembly.build_backend(config, reporter),
        GenerationOptions(max_tokens=60, temperature=0.0),
    )
    loaded = assembly.build_turn_model(config, reporter)
    model = TimedModel(loaded) if loaded is not None else None
    voice = TtsConfig(deterministic=True)
    samples_speaker = stack.speaker.derive(voice) if isinstance(stack.speaker, Speaker) else Speaker(voice)
    samples = build_samples(samples_speaker) * repeats
    stack.manager().reply("Hello.")  # warm the model and its prompt cache, as a running assistant is
    outcomes = []
    listening_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, sample in enumerate(samples, 1):
            began = time.monotonic()
            lines = play(stack, config, model, sample, Path(tmp))
            listening_s += sample.audio.size / 16_000
            outcomes.append(outcome(sample, lines))
            o = outcomes[-1]
            reporter.info(
                f"{i}/{len(samples)} {'cut off' if o['cut_off'] else 'whole'} "
                f"eos->audio {o['eos_to_first_audio_s']} ({time.monotonic() - began:.1f}s): {sample.text}"
            )
    result = summarise(outcomes)
    result.update(
        {
            "turn_model": config.turn.model if model is not None else "off (hang)",
            "turn_model_calls": model.calls if model is not None else 0,
            "turn_model_cpu_share_of_one_core": round(model.cpu_s / listening_s, 4) if model else 0.0,
            "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "samples": outcomes,
        }
    )
    return result
