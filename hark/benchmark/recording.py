"""A benchmark recording: questions spoken by Piper, with silences, and where each one truly ends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice import SAMPLE_RATE
from voice.decode import resample, write_wav
from voice.tts import Speaker

QUESTIONS = (
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What color is the sky on a clear day?",
    "Can you name a big animal that lives in the ocean?",
    "What do bees make?",
    "Is the sun a star?",
    "What is two plus two?",
    "Tell me something about the moon.",
    "Which is bigger, a cat or a horse?",
    "What do people drink in the morning?",
)

AUDIBLE = 300
"""int16 amplitude (about -40 dBFS) counted as sound when finding where speech truly ends."""


@dataclass(frozen=True)
class Recording:
    path: Path
    questions: list[str]
    speech_ends_s: list[float]
    """Stream time of the last audible sample of each question."""
    speech_starts_s: list[float]


def last_audible_s(audio: np.ndarray) -> float:
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > AUDIBLE)
    return (loud[-1] + 1) / SAMPLE_RATE if loud.size else 0.0


def first_audible_s(audio: np.ndarray) -> float:
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > AUDIBLE)
    return loud[0] / SAMPLE_RATE if loud.size else 0.0


def make_recording(
    speaker: Speaker, path: Path, questions: list[str], gap_s: float, lead_s: float = 1.0
) -> Recording:
    parts = [np.zeros(int(lead_s * SAMPLE_RATE), np.int16)]
    t = lead_s
    starts, ends = [], []
    for question in questions:
        audio = resample(speaker.synthesize_all(question), speaker.sample_rate, SAMPLE_RATE)
        starts.append(t + first_audible_s(audio))
        ends.append(t + last_audible_s(audio))
        parts += [audio, np.zeros(int(gap_s * SAMPLE_RATE), np.int16)]
        t += (audio.size + int(gap_s * SAMPLE_RATE)) / SAMPLE_RATE
    return Recording(write_wav(path, np.concatenate(parts)), list(questions), ends, starts)
