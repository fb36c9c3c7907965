"""Spotting the system prompt in a reply: verbatim, or in pieces (paraphrased, reordered, padded, numbered).

A model that has been talked into leaking rarely recites cleanly: it numbers the rules, pads them with filler
("so, um, basically"), reorders them or swaps a few words. Three checks run on every window of the reply,
each on words normalised the same way as the prompt's (lower case, accents and leetspeak removed, numbers
dropped so numbering does not break a run):

- a verbatim run of `VERBATIM_WORDS` prompt words (stop words included) — the guard releases a word only
  after the text up to it passed, so at most `VERBATIM_WORDS - 1` words of any run are ever spoken;
- a bag of content words: `shared_needed` distinct content words of the prompt (stop words and fillers
  excluded, crude stems) among the last `WINDOW_WORDS` words, whatever their order;
- ordered pieces: `ORDERED_TRIGRAMS` distinct triples of consecutive content words of a prompt sentence
  appearing in the same order among the window's prompt words, whatever filler sits between them, from at
  least two sentences (one sentence in other words is the assistant describing itself, "a voice assistant
  running privately on this computer", which the embedded model does unprompted; the rules are what is
  secret).

The scan is incremental: each call checks only the windows ending in new words, O(`WINDOW_WORDS`) each (the
text is re-normalised per call, which is cheap next to a model producing it).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from dialogue.injection import normalise

VERBATIM_WORDS = 6
WINDOW_WORDS = 24
MAX_SHARED_NEEDED = 8
MIN_SHARED_NEEDED = 4
SHARED_FRACTION = 0.6
"""A short prompt has few content words: a window needs this share of them (within the bounds above)."""
ORDERED_TRIGRAMS = 3

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself
    nor not of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours yourself
    yourselves i'm you're it's don't can't won't isn't aren't let's also may might must shall us
    um uh er erm hmm like basically literally actually well okay ok yeah right kind sort really oh anyway
    first second third next then finally point item number step rule
    """.split()
)
"""Function words and fillers: they carry no content of the prompt, and fillers are what a leak is padded
with. Enumeration words are here too, so "rule one: ..., point two: ..." counts only what the rules say."""

COMMON_WORDS = frozenset(
    """say said keep sure know answer short plain long good great best way person people thing
    time make use get go want need help think tell ask give take see look find try work call feel come day one
    two three four five six ten many much little well new old big small simple easy instead never always often
    sometimes maybe yes every everything something nothing anything question user word sentence number
    honest happy glad sorry today now here there back still even lot part place home world
    """.split()
)
"""Everyday words an ordinary reply is full of ("I'm not sure, I'd say keep it short"): a prompt's common
words do not count towards the bag of content words, only towards ordered pieces."""

_WORD = re.compile(r"[a-z][a-z']*")
_SENTENCE_END = re.compile(r"[.;:!?\n]")
_SUFFIXES = ("ing", "ed", "es", "ly", "s")


def _stem(word: str) -> str:
    """A crude stem, so "replies"/"reply" and "runs"/"running" meet; good enough for overlap counting."""
    word = word.removesuffix("'s")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The words of `text`, normalised as the injection checks normalise, numbers left out."""
    return _WORD.findall(normalise(text))


_COMMON_STEMS = frozenset(_stem(w) for w in COMMON_WORDS)


@dataclass(frozen=True)
class PromptProfile:
    """What of a system prompt a reply must not repeat."""

    runs: frozenset[tuple[str, ...]]
    """Every `VERBATIM_WORDS`-word run."""
    content: frozenset[str]
    """Stems of its content words."""
    trigrams: dict[tuple[str, str, str], int]
    """Triples of consecutive content stems of one sentence, in the prompt's order, with that sentence's
    index."""
    shared_needed: int


def _trigrams(system_prompt: str) -> dict[tuple[str, str, str], int]:
    found: dict[tuple[str, str, str], int] = {}
    for index, sentence in enumerate(_SENTENCE_END.split(system_prompt)):
        stems = [_stem(w) for w in words(sentence) if w not in STOP_WORDS]
        for trigram in zip(stems, stems[1:], stems[2:], strict=False):
            found.setdefault(trigram, index)
    return found


@functools.lru_cache(maxsize=16)
def profile(system_prompt: str) -> PromptProfile:
    seq = words(system_prompt)
    stems = [_stem(w) for w in seq if w not in STOP_WORDS]
    content = frozenset(stems)
    n = VERBATIM_WORDS
    needed = math.ceil(SHARED_FRACTION * len(content - _COMMON_STEMS))
    return PromptProfile(
        runs=frozenset(tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)),
        content=content,
        trigrams=_trigrams(system_prompt),
        shared_needed=max(MIN_SHARED_NEEDED, min(MAX_SHARED_NEEDED, needed)),
    )


class LeakScan:
    """Feeds a growing reply; `leaks(text)` checks only the windows that end in words not seen before.

    `text` must extend the text of the previous call (the output guard only ever adds to what passed). The
    last word seen is checked again, since the previous text may have ended inside it.
    """

    def __init__(self, prompt: PromptProfile) -> None:
        self._prompt = prompt
        self._seen = 0

    def leaks(self, text: str) -> bool:
        seq = words(text)
        start = max(0, self._seen - 1)
        self._seen = len(seq)
        return any(self._window_leaks(seq, end) for end in range(start, len(seq)))

    def _window_leaks(self, seq: list[str], end: int) -> bool:
        """Whether the window of words ending at index `end` (inclusive) repeats the prompt."""
        p = self._prompt
        if end + 1 >= VERBATIM_WORDS and tuple(seq[end + 1 - VERBATIM_WORDS : end + 1]) in p.runs:
            return True
        window = seq[max(0, end + 1 - WINDOW_WORDS) : end + 1]
        shared = [s for s in (_stem(w) for w in window if w not in STOP_WORDS) if s in p.content]
        if len(set(shared) - _COMMON_STEMS) >= p.shared_needed:
            return True
        ordered = {
            t: p.trigrams[t] for t in zip(shared, shared[1:], shared[2:], strict=False) if t in p.trigrams
        }
        return len(ordered) >= ORDERED_TRIGRAMS and len(set(ordered.values())) >= 2
