"""A text signal for end of turn: some last words mean the sentence cannot be over.

Nobody ends a turn on "the", "and", "my" or "um". The lists are small on purpose: a word belongs here
only if a sentence practically never ends with it, because a wrong "unfinished" only costs waiting (up to
the decider's maximum wait) while the audio model keeps the right to say "finished" everywhere else.

Two marks say "unfinished" whatever the last word: Whisper writes a trailing-off voice as "..." (or a
dash), and a transcript with no words at all has nothing to answer yet (a reply needs words anyway).

Known ambiguities, and how they are handled:
* Questions strand prepositions ("What is it for?", "Where are you from?", "What are you looking at?"):
  in a sentence opening with a question word, a preposition right after a pronoun or an -ing/-ed verb is
  taken as stranded and not counted. "What is the capital of" still counts (a noun before it); "Who did
  you talk to?" counts too and waits longer than it should (the price of a word list).
* "is"/"are"/"was"/"were" close embedded questions ("what time it is", "what colour the sky is"): a
  copula right after a subject pronoun, or with a question word before its subject, is not counted
  ("Where is" still counts).
* Verbs that need an object ("call", "tell", "buy", "send" ...) after "to" ("Remind me to call",
  "I want to buy") leave the request without its point: the object follows. Not in a question ("Who do I
  need to call?") and not without "to" ("Give me a call", "Who should I call").
* Particles that double as prepositions and often end sentences ("on", "off", "in", "out", "up", "down",
  "over", "back", "around", "away") are left out; so are "so", "that", "her" and "like".
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

PREPOSITIONS = frozenset(
    "about above across after against along among at before behind below beneath beside between beyond "
    "by during for from into near of onto per than through throughout to toward towards under until "
    "upon via with within without".split()
)
ARTICLES = frozenset("a an the".split())
CONJUNCTIONS = frozenset("and but or nor because although though while whereas unless whether if".split())
POSSESSIVES = frozenset("my your our their its whose".split())
COPULAS = frozenset("is are was were am".split())
FILLERS = frozenset("um umm uh uhh uhm er erm hmm mm".split())

OBJECT_VERBS = frozenset(
    "call phone ring text email message tell ask remind buy order send bring book get fetch find visit "
    "contact invite pay meet".split()
)
"""After "to", a verb that is not finished without its object."""

ADDRESSES = frozenset("hey hi hello ok okay".split())
ADDRESS_WORDS = 3
"""An utterance this short that starts by addressing someone ("Hey Hark", "OK Jarvis") is the call before
the request: answering it at once would talk over the question (a kiosk greets a wake phrase said alone
after the maximum wait instead)."""

TRAILING_OFF = ("...", "…", "-", "–", "—")
"""How Whisper ends a transcript whose speaker trails off."""

QUESTION_WORDS = frozenset("what who whom which where when why how whose".split())
SUBJECT_PRONOUNS = frozenset("i you he she it we they this that there these those".split())
OBJECT_PRONOUNS = frozenset("me you him her it us them this that these those one".split())

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
"""A word, a contraction or a number (Whisper writes "at 6", not "at six")."""
_CATEGORIES = (
    ("filler", FILLERS),
    ("article", ARTICLES),
    ("conjunction", CONJUNCTIONS),
    ("possessive", POSSESSIVES),
    ("preposition", PREPOSITIONS),
    ("copula", COPULAS),
)


def unfinished_reason(transcript: str) -> str | None:
    """Why the transcript cannot be a finished turn (e.g. "preposition 'for'"), or None when its words
    do not say (the audio model decides then). Full stops and question marks are ignored: Whisper puts
    them after halves too."""
    words = _WORD.findall(transcript.lower())
    if not words:
        return "no words"
    if transcript.rstrip().endswith(TRAILING_OFF):
        return "trailing off"
    if words[0] in ADDRESSES and len(words) <= ADDRESS_WORDS:
        return "an address, the request follows"
    last = words[-1]
    if last in OBJECT_VERBS and len(words) >= 2 and words[-2] == "to" and not _is_question(words):
        return f"'to {last}' without its object"
    for name, vocabulary in _CATEGORIES:
        if last not in vocabulary:
            continue
        if name == "preposition" and _stranded(words):
            return None
        if name == "copula" and _closes_embedded_question(words):
            return None
        return f"{name} '{last}'"
    return None


def unfinished_reading(transcript: str, alternatives: Sequence[str] = ()) -> str | None:
    """`unfinished_reason` of the transcript, or else of a near reading of the same audio (Whisper's beam
    alternatives) that differs only in its last word or adds one: "Where did I leave mine?" with "Where
    did I leave my?" close behind is held. Whisper's language model mends a sentence cut short by a pause
    into one that could end there, so the word that says "unfinished" is often the runner-up. A near
    reading with the same words (only its punctuation differs, "the moon...") does not count."""
    reason = unfinished_reason(transcript)
    if reason is not None:
        return reason
    words = _WORD.findall(transcript.lower())
    for alternative in alternatives:
        other = _WORD.findall(alternative.lower())
        last_word_differs = len(other) == len(words) and other[-1] != words[-1]
        one_more = len(other) == len(words) + 1
        if not (last_word_differs or one_more) or other[: len(words) - 1] != words[:-1]:
            continue
        if (reason := unfinished_reason(alternative)) is not None:
            return f"{reason} in the near reading {alternative!r}"
    return None


def _closes_embedded_question(words: list[str]) -> bool:
    """A copula closing a question inside the sentence: "what time it is", "what colour the sky is"
    (after a subject pronoun, or with a question word before its subject)."""
    if len(words) < 2:
        return False
    return words[-2] in SUBJECT_PRONOUNS or any(w in QUESTION_WORDS for w in words[:-2])


def _is_question(words: list[str]) -> bool:
    return words[0].split("'")[0] in QUESTION_WORDS


def _stranded(words: list[str]) -> bool:
    """A question's preposition left at the end ("what is it for"), rather than one awaiting its noun."""
    if len(words) < 2 or not _is_question(words):
        return False
    before = words[-2]
    return before in OBJECT_PRONOUNS or before.endswith(("ing", "ed"))


class BargeIn(enum.Enum):
    """What someone said over Hark's reply, from its transcript."""

    NOISE = "noise"
    """No words (a cough, a door, the TV): the reply plays on from where it was paused."""
    BACKCHANNEL = "backchannel"
    """Only acknowledgements ("uh-huh", "okay", "yeah", "mm-hm"): the reply plays on."""
    STOP = "stop"
    """Only a stop request ("stop", "wait", "cancel", "hold on"): the reply stops, nothing to answer."""
    WORDS = "words"
    """Anything else: the reply stops and what was said is the next turn."""


BACKCHANNEL_WORDS = frozenset(
    "uh huh mhm mmhmm mm hm hmm mmm okay ok yeah yes yep yup right sure alright cool great".split()
)
BACKCHANNEL_PHRASES = ("i see", "got it", "go on")
STOP_WORDS = frozenset("stop wait cancel enough quiet pause shush".split())
STOP_PHRASES = ("hold on", "shut up", "be quiet", "hang on", "never mind", "nevermind", "forget it")
POLITE = frozenset("please now hark hey no okay ok oh that it talking".split())
"""Words that may come with a stop request without making it a new question."""


def _strip_phrases(text: str, phrases: tuple[str, ...]) -> str:
    for phrase in phrases:
        text = re.sub(rf"\b{phrase}\b", " ", text)
    return text


def starts_with_stop(transcript: str) -> bool:
    """Whether a (partial) transcript opens with a stop request ("Okay, stop", "No, wait" too): enough to
    stop at once."""
    words = _WORD.findall(transcript.lower())
    while words and words[0] in POLITE and words[0] not in STOP_WORDS:
        words = words[1:]
    text = " ".join(words)
    return bool(words) and (words[0] in STOP_WORDS or any(text.startswith(p) for p in STOP_PHRASES))


def barge_in_kind(transcript: str) -> BargeIn:
    """Classify the whole transcript of a barge-in."""
    text = transcript.lower()
    if not _WORD.findall(text):
        return BargeIn.NOISE
    if all(w in BACKCHANNEL_WORDS for w in _WORD.findall(_strip_phrases(text, BACKCHANNEL_PHRASES))):
        return BargeIn.BACKCHANNEL
    rest = _WORD.findall(_strip_phrases(text, STOP_PHRASES))
    if starts_with_stop(text) and all(w in STOP_WORDS or w in POLITE for w in rest):
        return BargeIn.STOP
    return BargeIn.WORDS
