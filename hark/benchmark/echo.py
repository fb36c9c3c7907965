"""`hark bench echo`: replies played through a simulated echo path, with and without a person talking over.

The far end is Piper speech handed to the echo canceller exactly as the player does (its own rate, start
time on the speaker); the microphone hears it delayed, attenuated and coloured by a small room response,
over a quiet noise floor. Frames then go through the canceller and the barge-in detection the loop uses
(WebRTC VAD → endpointer → speech at least `barge_in_min_s` long) on a simulated monotonic clock, so the
numbers do not depend on what else the machine is doing.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voice import SAMPLE_RATE
from voice.decode import resample
from voice.endpointer import Endpointer, EndpointerConfig, EventKind
from voice.ports import EchoJudge
from voice.processors.echo import EchoCanceller
from voice.processors.echo_bands import hidden_onset_s
from voice.tts import Speaker
from voice.vad import FRAME_S, FRAME_SAMPLES, WebRtcVad

REPLIES = (
    "The weather today is mostly sunny with a light breeze from the west, and around twenty degrees.",
    "Tomorrow there may be some rain in the afternoon, so you might want to take an umbrella with you.",
    "Your next meeting is at three o'clock in the main conference room, with the design team.",
    "I have set a timer for ten minutes. I will let you know when the pasta is ready.",
)
INTERRUPTIONS = ("Wait, stop please.", "Hold on a second.", "No, that's not what I asked.", "Stop, stop.")
PATHS = ((0.02, 6.0), (0.06, 10.0), (0.10, 6.0), (0.15, 20.0))
"""(delay s, echo level below the speaker dB) of the simulated echo paths."""
CONVERGENCE_S = 2.0
"""Far-end audio the canceller gets before ERLE is counted."""
NOISE_RMS = 10.0
"""Microphone noise floor (int16 units, about -70 dBFS: a quiet room)."""
GAP_S = 1.0
"""Silence between replies."""
LEAD_S = 0.1
"""How long before a chunk plays the player hands it over."""


@dataclass(frozen=True)
class EchoPath:
    delay_s: float
    attenuation_db: float

    def apply(self, far: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The echo of `far` (16 kHz) at the microphone, as float samples."""
        n = int(0.04 * SAMPLE_RATE)
        tail = rng.normal(0.0, 1.0, n) * np.exp(-np.arange(n) / 80)  # 40 ms of reverberation, 5 ms decay
        response = np.concatenate([[1.0], 0.3 * tail / np.max(np.abs(tail))])
        echo = np.convolve(far.astype(np.float64), response)[: far.size]
        echo *= np.sqrt(np.sum(far.astype(np.float64) ** 2) / max(np.sum(echo**2), 1e-9))
        delay = round(self.delay_s * SAMPLE_RATE)
        return np.concatenate([np.zeros(delay), echo])[: far.size] * 10 ** (-self.attenuation_db / 20)


class BargeInDetector:
    """The loop's barge-in rule on a stream of frames: an utterance holding `min_s` of speech, counted from
    its onset as `judge` (the canceller that cleaned the frames, if any) heard it over the echo."""

    def __init__(self, min_s: float, judge: EchoJudge | None = None) -> None:
        self.vad = WebRtcVad(2)
        self.endpointer = Endpointer(EndpointerConfig())
        self.min_s = min_s
        self.judge = judge
        self._speech_start_s = 0.0
        self._fired = False

    def feed(self, frame: np.ndarray) -> float | None:
        """Stream time at which this frame completes a barge-in, or None."""
        ep = self.endpointer
        event = ep.process(self.vad.is_speech(frame), FRAME_S)
        if event is not None and event.kind is EventKind.START and event.speech_start_s is not None:
            heard_s = event.time_s - event.speech_start_s
            hidden_s = 0.0 if self.judge is None else hidden_onset_s(self.judge.heard_over_echo_s(), heard_s)
            self._speech_start_s, self._fired = event.speech_start_s - hidden_s, False
        if ep.in_utterance and not self._fired and ep.last_speech_end_s - self._speech_start_s >= self.min_s:
            self._fired = True
            return ep.now_s
        return None


@dataclass
class Timeline:
    """Replies laid out on a stream clock, with where near-end speech was mixed in."""

    far: np.ndarray
    """What the speaker played, at 16 kHz."""
    starts_s: list[float]
    chunks: list[np.ndarray]
    """Each reply at the speaker's own rate, as handed to `playback`."""
    rate: int
    near: np.ndarray
    near_spans_s: list[tuple[float, float]]


def build_timeline(
    speaker: Speaker, replies: Sequence[str], interruptions: Sequence[str] | None, rng: np.random.Generator
) -> Timeline:
    """Replies one after the other; with `interruptions`, one spoken into each reply 1-3 s after it starts."""
    chunks = [speaker.synthesize_all(text) for text in replies]
    spoken = [resample(chunk, speaker.sample_rate, SAMPLE_RATE) for chunk in chunks]
    parts, starts, t = [np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.int16)], [], GAP_S
    for audio in spoken:
        starts.append(t)
        parts += [audio, np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.int16)]
        t += audio.size / SAMPLE_RATE + GAP_S
    far = np.concatenate(parts)
    near = np.zeros(far.size)
    spans: list[tuple[float, float]] = []
    for i, start in enumerate(starts if interruptions else []):
        text = interruptions[i % len(interruptions)]
        said = resample(speaker.synthesize_all(text), speaker.sample_rate, SAMPLE_RATE)
        voiced = np.flatnonzero(np.abs(said) > 500)
        said = said[voiced[0] : voiced[-1] + 1]
        at = int((start + rng.uniform(1.0, 3.0)) * SAMPLE_RATE)
        near[at : at + said.size] += said[: near.size - at]
        spans.append((at / SAMPLE_RATE, (at + said.size) / SAMPLE_RATE))
    return Timeline(far, starts, chunks, speaker.sample_rate, near, spans)


def run_path(
    timeline: Timeline, path: EchoPath, near_db: float, rng: np.random.Generator, barge_in_min_s: float
) -> dict:
    """One pass over the timeline: ERLE, barge-ins on the cleaned and on the raw microphone, CPU."""
    echo = path.apply(timeline.far, rng)
    mic = echo + timeline.near * 10 ** (near_db / 20) + rng.normal(0.0, NOISE_RMS, echo.size)
    mic16 = np.clip(np.round(mic), -32768, 32767).astype(np.int16)
    aec = EchoCanceller()
    cleaned_bi, raw_bi = BargeInDetector(barge_in_min_s, aec), BargeInDetector(barge_in_min_s)
    pending = list(zip(timeline.starts_s, timeline.chunks, strict=True))
    first_far_s = timeline.starts_s[0]
    echo_power, out_power = 0.0, 0.0
    cleaned_hits, raw_hits = [], []
    for i in range(mic16.size // FRAME_SAMPLES):
        at_s = i * FRAME_S
        while pending and pending[0][0] - LEAD_S <= at_s:
            start_s, chunk = pending.pop(0)
            aec.playback(chunk, timeline.rate, start_s)
        frame = mic16[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
        out = aec.process(frame, at_s)
        span = slice(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES)
        if at_s >= first_far_s + CONVERGENCE_S and not np.any(timeline.near[span]):
            echo_frame = echo[span]
            if np.sqrt(np.mean(echo_frame**2)) > 3 * NOISE_RMS:
                echo_power += float(np.sum(frame.astype(np.float64) ** 2))
                out_power += float(np.sum(aec.cancelled.astype(np.float64) ** 2))
        if (t := cleaned_bi.feed(out)) is not None:
            cleaned_hits.append(t)
        if (t := raw_bi.feed(frame)) is not None:
            raw_hits.append(t)
    return {
        "delay_ms": round(path.delay_s * 1000),
        "attenuation_db": path.attenuation_db,
        "erle_db": round(10 * np.log10(echo_power / out_power), 1) if out_power > 0 else None,
        "erle_online_db": None if aec.erle_db is None else round(aec.erle_db, 1),
        "tracked_delay_ms": round(aec.delay_s * 1000),
        "cpu_pct_of_core": round(100 * aec.cpu_fraction, 2),
        "cleaned_hits_s": cleaned_hits,
        "raw_hits_s": raw_hits,
    }


def _within(hits: list[float], span: tuple[float, float], slack_s: float) -> float | None:
    """Time from the start of the person's words (`span`) to the first barge-in that belongs to them.

    A barge-in belongs to them up to `slack_s` after they stop: the endpointer confirms speech late."""
    inside = [t for t in hits if span[0] <= t <= span[1] + slack_s]
    return inside[0] - span[0] if inside else None


def run_echo_bench(
    speaker: Speaker,
    paths: Sequence[tuple[float, float]] = PATHS,
    near_db: float = -6.0,
    barge_in_min_s: float = 0.4,
    seed: int = 0,
) -> dict:
    """Every path twice: replies alone (ERLE, self-interruptions) and with a person talking over each reply
    (barge-in rate, time from the person's first sound to detection; a barge-in outside their words
    counts as a self-interruption). JSON-ready; the totals: `erle_db` (the worst path's),
    `self_interruptions`, `barge_in_detection_rate`, `time_to_detection_s_median`, `cpu_share_of_core`."""
    rng = np.random.default_rng(seed)
    alone = build_timeline(speaker, REPLIES, None, rng)
    talked_over = build_timeline(speaker, REPLIES, INTERRUPTIONS, rng)
    slack_s = EndpointerConfig().start_s + barge_in_min_s
    results = []
    for delay_s, attenuation_db in paths:
        path = EchoPath(delay_s, attenuation_db)
        quiet = run_path(alone, path, near_db, rng, barge_in_min_s)
        busy = run_path(talked_over, path, near_db, rng, barge_in_min_s)
        detect = [_within(busy["cleaned_hits_s"], span, slack_s) for span in talked_over.near_spans_s]
        found = [d for d in detect if d is not None]
        stray = [
            t
            for t in busy["cleaned_hits_s"]
            if not any(start <= t <= end + slack_s for start, end in talked_over.near_spans_s)
        ]
        results.append(
            {
                "delay_ms": quiet["delay_ms"],
                "attenuation_db": attenuation_db,
                "erle_db": quiet["erle_db"],
                "erle_online_db": quiet["erle_online_db"],
                "tracked_delay_ms": quiet["tracked_delay_ms"],
                "cpu_pct_of_core": quiet["cpu_pct_of_core"],
                "replies": 2 * len(REPLIES),
                "self_interruptions": len(quiet["cleaned_hits_s"]) + len(stray),
                "self_interruptions_without_aec": len(quiet["raw_hits_s"]),
                "barge_in_trials": len(detect),
                "barge_in_detected": len(found),
                "barge_in_detect_s": [round(d, 3) for d in found],
            }
        )
    trials = sum(r["barge_in_trials"] for r in results)
    detected = [d for r in results for d in r["barge_in_detect_s"]]
    return {
        "paths": results,
        "near_db": near_db,
        "barge_in_min_s": barge_in_min_s,
        "erle_db": min((r["erle_db"] for r in results if r["erle_db"] is not None), default=None),
        "self_interruptions": sum(r["self_interruptions"] for r in results),
        "self_interruptions_without_aec": sum(r["self_interruptions_without_aec"] for r in results),
        "replies": sum(r["replies"] for r in results),
        "barge_in_detection_rate": round(len(detected) / trials, 3) if trials else None,
        "time_to_detection_s_median": round(statistics.median(detected), 3) if detected else None,
        "cpu_share_of_core": round(max(r["cpu_pct_of_core"] for r in results) / 100, 4),
    }
