"""The core of `hark bench turns`: utterances with mid-sentence pauses, and how a turn-taker scores.

Samples are Piper-spoken: complete questions (the latency benchmark's) and sentences said in two halves
with a 0.5-1.2 s silence where people hesitate ("I would like to book a table for" ... "four people at
seven tonight."). Which sentences, where they pause and for how long is fixed, so every run plays the
same plan. A turn-taker is scored on when it first released each turn (stream time): before the true
end of speech is a false cut-off; after it, the difference is the end-of-turn delay.

`decide_offline` runs the end-of-turn decider alone over a sample, with the same VAD and endpointer the
loop uses, the audio model run on the audio so far at each check, and a transcript from a callable.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hark.benchmark.recording import QUESTIONS, first_audible_s, last_audible_s
from voice import SAMPLE_RATE
from voice.decode import resample, to_float32
from voice.endpointer import Endpointer, EndpointerConfig, EventKind
from voice.tts import Speaker
from voice.turn import EndOfTurnModel, TurnConfig, TurnDecider, TurnDecision
from voice.vad import FRAME_S, FRAME_SAMPLES, FrameVad

PAUSED: tuple[tuple[str, str], ...] = (
    ("I would like to book a table for", "four people at seven tonight."),
    ("What is the capital of", "Australia?"),
    ("Add eggs, milk and", "two loaves of bread to my list."),
    ("Where did I leave my", "car keys yesterday?"),
    ("The best thing about summer is", "the long warm evenings."),
    ("Set a timer for", "ten minutes, please."),
    ("I need a taxi to the", "airport at six."),
    ("Tell me a story about", "a dragon and a brave knight."),
    ("My favourite food is, um", "pasta with tomato sauce."),
    ("How long does it take to drive from", "Berlin to Munich?"),
    ("Can you tell me the weather in", "Paris tomorrow morning?"),
    ("Remind me to call", "my sister after lunch."),
)
"""First half, second half. "in" (a particle as often as a preposition) is left to the audio model."""
PAUSES_S: tuple[float, ...] = (0.5, 0.8, 1.1, 0.6, 0.9, 1.2, 0.7, 1.0)
"""Mid-sentence silences, assigned in turn."""
LEAD_S = 0.5
TAIL_S = 2.5
"""Silence after each sample: longer than any maximum wait, so every turn gets released."""


@dataclass(frozen=True)
class SpokenPart:
    text: str
    start_s: float
    """First audible sample of the part."""
    end_s: float
    """Last audible sample of the part."""


@dataclass(frozen=True)
class TurnSample:
    text: str
    audio: np.ndarray
    """16 kHz int16: lead silence, speech (with its pauses), tail silence."""
    parts: tuple[SpokenPart, ...]

    @property
    def speech_end_s(self) -> float:
        """The true end of speech: the last audible sample of the whole turn."""
        return self.parts[-1].end_s

    @property
    def paused(self) -> bool:
        return len(self.parts) > 1

    def said_by(self, time_s: float) -> str:
        """The words of every part begun by `time_s`: a perfect transcriber's partial at the pauses between
        parts, an optimistic one inside a part (at a comma it already has the whole part)."""
        return " ".join(part.text for part in self.parts if part.start_s < time_s)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), np.int16)


def make_sample(speaker: Speaker, parts: Sequence[str], pauses_s: Sequence[float] = ()) -> TurnSample:
    """`parts` synthesised separately (as someone who stops and starts again), with `pauses_s` of
    silence from the last sound of one part to the first sound of the next."""
    if len(pauses_s) != len(parts) - 1:
        raise ValueError("one pause between each two parts")
    chunks = [_silence(LEAD_S)]
    spoken: list[SpokenPart] = []
    t = LEAD_S
    quiet_after = 0.0
    for i, text in enumerate(parts):
        clip = resample(speaker.synthesize_all(text), speaker.sample_rate, SAMPLE_RATE)
        head = first_audible_s(clip)
        if i == 0:
            clip = clip[round(head * SAMPLE_RATE) :]  # the lead silence is exactly LEAD_S
            head = 0.0
        else:
            chunks.append(_silence(max(0.0, pauses_s[i - 1] - quiet_after - head)))
            t += chunks[-1].size / SAMPLE_RATE
        spoken.append(SpokenPart(text, float(t + head), float(t + last_audible_s(clip))))
        chunks.append(clip)
        t += clip.size / SAMPLE_RATE
        quiet_after = clip.size / SAMPLE_RATE - last_audible_s(clip)
    chunks.append(_silence(TAIL_S))
    return TurnSample(" ".join(parts), np.concatenate(chunks), tuple(spoken))


def build_samples(
    speaker: Speaker, n_complete: int = len(QUESTIONS), n_paused: int = len(PAUSED)
) -> list[TurnSample]:
    """The benchmark's fixed plan: complete questions first, then the paused sentences. Piper draws
    random noise while synthesising, so the same plan gives slightly different audio on each call."""
    samples = [make_sample(speaker, [q]) for q in QUESTIONS[:n_complete]]
    for i, halves in enumerate(PAUSED[:n_paused]):
        samples.append(make_sample(speaker, halves, [PAUSES_S[i % len(PAUSES_S)]]))
    return samples


@dataclass(frozen=True)
class TurnScore:
    n: int
    n_paused: int
    false_cutoffs: int
    """Samples (paused or not) released before their true end of speech."""
    false_cutoff_rate: float
    """Over the paused samples, the ones the target is set on."""
    median_delay_s: float | None
    p90_delay_s: float | None
    """End of speech to release, on complete questions that were not cut off."""

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "n_paused": self.n_paused,
            "false_cutoffs": self.false_cutoffs,
            "false_cutoff_rate": round(self.false_cutoff_rate, 4),
            "median_delay_s": None if self.median_delay_s is None else round(self.median_delay_s, 3),
            "p90_delay_s": None if self.p90_delay_s is None else round(self.p90_delay_s, 3),
        }


def score(samples: Sequence[TurnSample], releases_s: Sequence[float]) -> TurnScore:
    """Score the first release (stream time) of each sample's turn."""
    if len(samples) != len(releases_s):
        raise ValueError("one release per sample")
    cut = [release < sample.speech_end_s for sample, release in zip(samples, releases_s, strict=True)]
    paused = [c for sample, c in zip(samples, cut, strict=True) if sample.paused]
    delays = [
        release - sample.speech_end_s
        for sample, release, c in zip(samples, releases_s, cut, strict=True)
        if not sample.paused and not c
    ]
    return TurnScore(
        n=len(samples),
        n_paused=len(paused),
        false_cutoffs=sum(cut),
        false_cutoff_rate=sum(paused) / len(paused) if paused else 0.0,
        median_delay_s=statistics.median(delays) if delays else None,
        p90_delay_s=float(np.percentile(delays, 90)) if delays else None,
    )


Transcribe = Callable[[np.ndarray, float], str]
"""(utterance audio up to the end of speech, 16 kHz float; stream time of that end) -> transcript."""


@dataclass
class OfflineRun:
    release_s: float
    """Stream time at which the decider released the turn."""
    decisions: list[TurnDecision] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)
    """The transcript taken at each pause."""
    model_calls: int = 0
    model_s: float = 0.0
    """Process CPU time spent in the model (features included)."""


def decide_offline(
    sample: TurnSample,
    vad: FrameVad,
    config: TurnConfig,
    model: EndOfTurnModel | None,
    transcribe: Transcribe | None,
    endpointer: EndpointerConfig | None = None,
) -> OfflineRun:
    """Play `sample` frame by frame through VAD and endpointer; at each pause ask the decider, as the
    loop does, until it releases. The endpointer's own hang is pushed past the maximum wait so only the
    decider ends the turn. The transcript is taken once per pause (speech does not change in a pause)."""
    base = endpointer or EndpointerConfig()
    ep = Endpointer(dataclasses.replace(base, hang_s=config.max_wait_s + 1.0))
    if transcribe is None and config.use_text:
        raise ValueError("the text signal needs a transcript: pass transcribe or turn use_text off")
    decider = TurnDecider(config)
    audio = to_float32(sample.audio)
    run = OfflineRun(release_s=float("nan"))
    start = None
    transcript: str | None = None

    def probability(end: int) -> Callable[[], float]:
        def ask() -> float:
            began = time.process_time()
            p = model.predict(audio[start:end])
            run.model_calls += 1
            run.model_s += time.process_time() - began
            return p

        return ask

    for i in range(sample.audio.size // FRAME_SAMPLES):
        frame = sample.audio[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
        event = ep.process(vad.is_speech(frame), FRAME_S)
        if event is not None and event.kind is EventKind.START:
            start = max(0, round((event.speech_start_s - base.pre_roll_s) * SAMPLE_RATE))
        if event is not None and event.kind in (EventKind.START, EventKind.RESUME):
            decider.reset()
            transcript = None
        silence = ep.silence_s
        if start is None or not ep.in_utterance or silence == 0.0 or not decider.due(silence):
            continue
        end = (i + 1) * FRAME_SAMPLES
        if transcript is None and transcribe is not None:
            speech_end = round(ep.last_speech_end_s * SAMPLE_RATE)
            transcript = transcribe(audio[start:speech_end], ep.last_speech_end_s)
            run.transcripts.append(transcript)
        decision = decider.decide(silence, transcript, probability(end) if model is not None else None)
        run.decisions.append(decision)
        if decision.release:
            run.release_s = ep.now_s
            return run
    raise ValueError(f"the decider never released {sample.text!r}: the sample's tail is too short")


def said(sample: TurnSample) -> Transcribe:
    """A perfect transcriber for `sample`: the words spoken by the end of speech."""
    return lambda audio, speech_end_s: sample.said_by(speech_end_s)


def run_offline(
    samples: Sequence[TurnSample],
    vad: FrameVad,
    config: TurnConfig,
    model: EndOfTurnModel | None,
    transcriber: Callable[[TurnSample], Transcribe] | None,
) -> dict:
    """Score the decider over `samples`; with the model's cost and each turn's outcome."""
    runs = [
        decide_offline(s, vad, config, model, transcriber(s) if transcriber is not None else None)
        for s in samples
    ]
    calls = sum(r.model_calls for r in runs)
    result = score(samples, [r.release_s for r in runs]).to_json()
    result["model_calls_per_turn"] = round(calls / len(runs), 2)
    result["model_cpu_ms_per_call"] = round(1000 * sum(r.model_s for r in runs) / calls, 1) if calls else None
    result["turns"] = [
        {
            "text": s.text,
            "paused": s.paused,
            "release_after_end_s": round(r.release_s - s.speech_end_s, 3),
            "reasons": [d.reason for d in r.decisions],
            "transcripts": r.transcripts,
        }
        for s, r in zip(samples, runs, strict=True)
    ]
    return result


def model_cost(model: EndOfTurnModel, sample: TurnSample, calls: int = 30) -> dict:
    """Wall and CPU time of one `predict` (features included) on the whole of `sample`."""
    audio = to_float32(sample.audio)
    model.predict(audio)  # warm-up: the first run allocates
    walls, cpus = [], []
    for _ in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        model.predict(audio)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "median_ms": round(1000 * statistics.median(walls), 1),
        "p90_ms": round(1000 * float(np.percentile(walls, 90)), 1),
        "cpu_median_ms": round(1000 * statistics.median(cpus), 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m hark.benchmark.turns [--repeats N]`: the model's cost per call with one and two
    threads, then the decider alone on the benchmark's samples (synthesised N times), one JSON line per
    variant: today's fixed hang, the hang with the text signal, the model alone, the model with the text
    signal (perfect transcripts, then Whisper's), and the last two asking the model only once per pause.
    The load average is reported because the model's cost depends on it."""
    import argparse
    import json
    import os

    from voice.stt import Transcriber
    from voice.turn import EndOfTurnModel
    from voice.vad import WebRtcVad

    parser = argparse.ArgumentParser(prog="python -m hark.benchmark.turns")
    parser.add_argument("--repeats", type=int, default=1, help="synthesise the plan this many times")
    args = parser.parse_args(argv)
    speaker = Speaker()
    samples = [s for _ in range(args.repeats) for s in build_samples(speaker)]
    model = EndOfTurnModel()
    stt = Transcriber()
    cost = {f"threads_{n}": model_cost(EndOfTurnModel(threads=n), samples[-1]) for n in (1, 2)}
    print(json.dumps({"variant": "model_cost", "loadavg_1m": os.getloadavg()[0], **cost}), flush=True)

    def whisper(sample: TurnSample) -> Transcribe:
        return lambda audio, speech_end_s: stt.transcribe(audio).text

    variants = {
        "hang": (TurnConfig(use_text=False), None, None),
        "hang+text": (TurnConfig(), None, said),
        "model": (TurnConfig(use_text=False), model, None),
        "model+text": (TurnConfig(), model, said),
        "model+whisper_text": (TurnConfig(), model, whisper),
        "model+text+once": (TurnConfig(recheck_s=None), model, said),
        "model+whisper_text+once": (TurnConfig(recheck_s=None), model, whisper),
    }
    for name, (config, variant_model, transcriber) in variants.items():
        result = run_offline(samples, WebRtcVad(), config, variant_model, transcriber)
        print(json.dumps({"variant": name, "loadavg_1m": os.getloadavg()[0], **result}), flush=True)


if __name__ == "__main__":
    main()
