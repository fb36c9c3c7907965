"""Where to cut a long sentence so that Piper synthesises it in parts that are joined into one piece of audio.

Piper's model holds about 22 MB per second of a sentence's audio while it synthesises it: the chunk
limit's 240 characters took 290 MB, the peak of the whole process, where 100 characters take about 110 MB.
Cutting such sentences into shorter reply chunks bounded that peak, but changed how a reply is paced and
played (more, shorter chunks; the echo-path device test then failed 2 runs in 16). Cutting the phonemes
instead, and joining the parts' audio, bounds the memory and leaves the reply's chunks as they were.

A part ends at a pause the voice makes anyway (a comma, semicolon or colon: Piper's own rendering of the
whole sentence pauses there about as long as the end of a part does), and only without one, in a run of
more than `most` phonemes, between two words; there the parts' silences are trimmed to a word gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PART_PHONEMES = 100
"""A sentence longer than this (about as many characters, five seconds of speech) is cut at its pauses."""
MOST_PHONEMES = 160
"""No part is longer than this: a longer run without a pause is cut between two words."""
PAUSES = frozenset(",;:")
"""Punctuation that Piper's phonemes keep and the voice pauses at."""
WORD_GAP_S = 0.03
"""Silence kept at each side of a join between two words (Piper ends each part as a sentence, with about
0.2 s of silence)."""
SILENT = 0.02
"""A sample this far below a part's peak counts as silence when trimming."""


@dataclass(frozen=True)
class Part:
    phonemes: Sequence[str]
    joins_words: bool
    """It ends between two words (not at a pause): its audio and the next part's are trimmed at the join."""


def split_phonemes(
    phonemes: Sequence[str], part: int = PART_PHONEMES, most: int = MOST_PHONEMES
) -> list[Part]:
    """One sentence's phonemes as parts: whole when no longer than `part`, else cut at its last pause within
    `part` (or its first within `most`), and a run without one longer than `most` between two words."""
    parts: list[Part] = []
    rest = list(phonemes)
    while len(rest) > part:
        cut, joins_words = _pause_cut(rest, part, most), False
        if cut is None and len(rest) > most:
            cut, joins_words = _word_cut(rest, most), True
        if cut is None:
            break
        parts.append(Part(rest[:cut], joins_words))
        rest = rest[cut:]
        while rest and rest[0] == " ":
            rest = rest[1:]
    if rest:
        parts.append(Part(rest, False))
    return parts


def _pause_cut(phonemes: list[str], part: int, most: int) -> int | None:
    """Just after a pause that leaves speech on both sides: the last within `part`, else the first within
    `most`."""
    ends = [
        i + 1 for i, p in enumerate(phonemes[: most - 1]) if p in PAUSES and _speech_after(phonemes, i + 1)
    ]
    within = [end for end in ends if end <= part]
    if within:
        return within[-1]
    return ends[0] if ends else None


def _speech_after(phonemes: list[str], at: int) -> bool:
    return any(p.isalpha() for p in phonemes[at:])


def _word_cut(phonemes: list[str], most: int) -> int | None:
    """The word boundary nearest the middle of the run, or of its first `most` phonemes if it is longer."""
    target = min(len(phonemes) // 2, most)
    spaces = [i for i, p in enumerate(phonemes[1:most], start=1) if p == " "]
    return min(spaces, key=lambda i: abs(i - target)) if spaces else None


def join(parts: Sequence[Part], audio: Sequence[np.ndarray], rate: int) -> np.ndarray:
    """The parts' audio as one, with the silence at a join between two words trimmed to `WORD_GAP_S`."""
    keep = int(WORD_GAP_S * rate)
    pieces = [np.asarray(a, dtype=np.float32) for a in audio]
    for i, part in enumerate(parts[:-1]):
        if part.joins_words:
            pieces[i] = _trim(pieces[i], keep, end=True)
            pieces[i + 1] = _trim(pieces[i + 1], keep, end=False)
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def _trim(audio: np.ndarray, keep: int, end: bool) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    loud = np.flatnonzero(np.abs(audio) > SILENT * peak)
    if peak == 0.0 or loud.size == 0:
        return audio
    if end:
        return audio[: min(audio.size, int(loud[-1]) + 1 + keep)]
    return audio[max(0, int(loud[0]) - keep) :]
