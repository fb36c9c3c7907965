"""Finding a wake phrase in a transcript, tolerant to how speech recognition spells it.

Whisper hears "Hey Hark" as "Hey, Hart.", "Hey Hark!", "Hey hark," or "Heyhark": words are lower-cased and
stripped of punctuation, then every run of words near the start of the utterance (one word fewer to one
more than the phrase, so merged and split words count too) is compared with the phrase, spaces removed,
by difflib's similarity ratio. What follows the best match is the request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

SEARCH_WORDS = 3
"""The wake phrase may start this many words into the utterance ("Excuse me, hey Hark ...")."""
_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


@dataclass(frozen=True)
class WakeMatch:
    phrase: str
    ratio: float
    rest: str
    """What was said after the wake phrase, as transcribed (empty when it was said on its own)."""


class WakeMatcher:
    def __init__(self, phrases: Sequence[str], threshold: float) -> None:
        self.phrases = [(phrase, "".join(_words(phrase))) for phrase in phrases if _words(phrase)]
        self.threshold = threshold

    def __bool__(self) -> bool:
        return bool(self.phrases)

    def match(self, text: str) -> WakeMatch | None:
        """The best match of a wake phrase near the start of `text`, or None."""
        # Each word with where it ends in `text`, so the rest keeps the transcript's own spelling.
        spans = [(m.group(), m.end()) for m in _WORD.finditer(text.lower().replace("\u2019", "'"))]
        best: WakeMatch | None = None
        for phrase, target in self.phrases:
            n = len(_words(phrase))
            for start in range(min(len(spans), SEARCH_WORDS + 1)):
                for size in {max(1, n - 1), n, n + 1}:
                    window = spans[start : start + size]
                    if len(window) < size:
                        continue
                    ratio = SequenceMatcher(None, "".join(w for w, _ in window), target).ratio()
                    if ratio >= self.threshold and (best is None or ratio > best.ratio):
                        rest = text[window[-1][1] :].lstrip(" \t,.;:!?-–—")
                        best = WakeMatch(phrase, ratio, rest.strip())
        return best


def spoken_form(wake_word: str) -> str:
    """How a wake word model's name is said: `hey_jarvis` (or `.../hey_jarvis.json`) → "hey jarvis"."""
    return Path(wake_word).stem.replace("_", " ")
