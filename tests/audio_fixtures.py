"""Spoken test inputs made with the real Piper voice: utterances with silence around and between them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voice import SAMPLE_RATE
from voice.decode import resample, write_wav


def spoken(speaker, text: str) -> np.ndarray:
    """`text` spoken by Piper, as 16 kHz int16."""
    return resample(speaker.synthesize_all(text), speaker.sample_rate, SAMPLE_RATE)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


def conversation_wav(
    speaker, path: Path, texts: list[str], lead_s: float = 0.8, gap_s: float = 1.5, tail_s: float = 1.0
) -> tuple[Path, list[float]]:
    """Write the utterances with silences; return the path and each utterance's true end time (s)."""
    parts = [silence(lead_s)]
    ends = []
    t = lead_s
    for i, text in enumerate(texts):
        audio = spoken(speaker, text)
        parts.append(audio)
        t += audio.size / SAMPLE_RATE
        ends.append(t)
        gap = tail_s if i == len(texts) - 1 else gap_s
        parts.append(silence(gap))
        t += gap
    return write_wav(path, np.concatenate(parts)), ends
