"""Finding a wake phrase in a transcript, tolerant to how speech recognition spells it.

Whisper hears "Hey Hark" as "Hey, Hart.", "Hey Hark!", "Hey hark," or "Heyhark": words are lower-cased and
stripped of punctuation, then every run of words near the start of the utterance (one word fewer to one
more than the phrase, so merged and split words count too) is compared with the phrase, spaces removed,
by difflib's similarity ratio. What follows the best match is the request.

It also hears the greeting as something else or not at all: "A. Hark, remember that I'm vegetarian." (1
Piper take in 10). So a phrase that opens with a greeting ("hey", "hi", "ok" ...) also matches by its name
alone, said first or second and spelled as the name is (`NAME_RATIO`): "Hark, what time is it?" wakes Hark,
"Mark said so" and "Park here" do not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

SEARCH_WORDS = 3
"""The wake phrase may start this many words into the utterance ("Excuse me, hey Hark ...")."""
GREETINGS = frozenset("hey hi hello ok okay".split())
NAME_SEARCH_WORDS = 1
"""The name alone may start this many words into the utterance (after a misheard greeting)."""
NAME_RATIO = 0.9
"""The name alone must be this close to how it is spelled: one letter off in a short name is another name
("Mark", "Hart"), which the greeting makes safe to accept but the name alone does not."""
_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


@dataclass(frozen=True)
class WakeMatch:
    phrase: str
    ratio: float
    rest: str
    """What was said after the wake phrase, as transcribed (empty when it was said on its own)."""


@dataclass(frozen=True)
class _Target:
    phrase: str
    spelled: str
    """The words to find, lower-case, spaces removed."""
    sizes: frozenset[int]
    """How many transcript words may spell them."""
    starts: int
    """How many words into the utterance they may start."""
    threshold: float


class WakeMatcher:
    def __init__(self, phrases: Sequence[str], threshold: float) -> None:
        self.threshold = threshold
        self._targets: list[_Target] = []
        for phrase in phrases:
            words = _words(phrase)
            if not words:
                continue
            n = len(words)
            sizes = frozenset({max(1, n - 1), n, n + 1})
            self._targets.append(_Target(phrase, "".join(words), sizes, SEARCH_WORDS, threshold))
            if n > 1 and words[0] in GREETINGS:
                name = words[1:]
                strict = max(threshold, NAME_RATIO)
                self._targets.append(
                    _Target(phrase, "".join(name), frozenset({len(name)}), NAME_SEARCH_WORDS, strict)
                )

    def __bool__(self) -> bool:
        return bool(self._targets)

    def match(self, text: str) -> WakeMatch | None:
        """The best match of a wake phrase near the start of `text`, or None."""
        # Each word with where it ends in `text`, so the rest keeps the transcript's own spelling.
        spans = [(m.group(), m.end()) for m in _WORD.finditer(text.lower().replace("\u2019", "'"))]
        best: WakeMatch | None = None
        for target in self._targets:
            for start in range(min(len(spans), target.starts + 1)):
                for size in target.sizes:
                    window = spans[start : start + size]
                    if len(window) < size:
                        continue
                    ratio = SequenceMatcher(None, "".join(w for w, _ in window), target.spelled).ratio()
                    if ratio >= target.threshold and (best is None or ratio > best.ratio):
                        rest = text[window[-1][1] :].lstrip(" \t,.;:!?-–—")
                        best = WakeMatch(target.phrase, ratio, rest.strip())
        return best


def spoken_form(wake_word: str) -> str:
    """How a wake word model's name is said: `hey_jarvis` (or `.../hey_jarvis.json`) → "hey jarvis"."""
    return Path(wake_word).stem.replace("_", " ")
