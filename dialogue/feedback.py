"""Recognising what a user says about the last reply ("that's wrong", "thanks, perfect") without the model.

Rules, not a model call: feedback must be recognised on every turn at no cost, and a false positive would
file a user's question as a complaint. So only a whole first clause counts (after a leading "no," or "oh,"):
"That's wrong, it opens at nine" is feedback, "what's wrong with my order" and "is that correct" are not,
and a bare "thanks" (a polite goodbye as often as praise) is not either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Rating = Literal["good", "bad"]
RATINGS: tuple[Rating, ...] = ("good", "bad")

_THAT = r"(?:that's|that is|thats|this is|it's|it is|that was|this was)"
_THANKS = r"(?:thanks|thank you|cheers)(?: (?:so|very) much)?"
_BAD = (
    rf"{_THAT} (?:wrong|all wrong|not right|incorrect|not correct|not true|nonsense|useless|not helpful"
    r"|not (?:it|what i (?:asked|meant|wanted|said|was asking)(?: for)?))",
    r"(?:you're|you are|youre) (?:wrong|not listening|not helping)",
    r"(?:wrong|wrong answer|incorrect|not helpful)",
    r"(?:that's |that is )?not what i (?:asked|meant|wanted|said|was asking)(?: for)?",
    r"you (?:didn't|did not|don't|do not) (?:answer|understand) (?:my question|me|the question)",
    r"that (?:didn't|did not|doesn't|does not) (?:help|answer (?:my|the) question)",
)
_GOOD = (
    rf"{_THANKS} (?:perfect|great|excellent|exactly|brilliant|that's (?:perfect|great|right|helpful|it))",
    rf"(?:perfect|great|excellent|exactly|brilliant|spot on|great answer)(?: {_THANKS})?",
    rf"{_THAT} (?:right|correct|perfect|great|helpful|very helpful"
    r"|exactly (?:it|right|what i (?:needed|wanted|asked)))"
    rf"(?: {_THANKS})?",
    r"(?:that|this) (?:helped|helps|was helpful)(?: a lot)?",
)
_LEAD_IN = {"no", "nope", "nah", "oh", "hmm", "um", "well", "yes", "yeah", "ok", "okay", "wow"}


@dataclass(frozen=True)
class Feedback:
    rating: Rating
    phrase: str
    """The clause that was recognised, normalised (lower case, plain apostrophes)."""


def _clauses(text: str) -> list[str]:
    plain = text.casefold().replace("’", "'").replace("‘", "'")
    parts = (re.sub(r"[^a-z' ]+", " ", part) for part in re.split(r"[,.!?;:—–-]+", plain))
    return [" ".join(part.split()) for part in parts if part.strip()]


def recognise(text: str) -> Feedback | None:
    """Good or bad feedback on the previous reply, when the utterance starts with it; else None."""
    clauses = _clauses(text)
    while clauses and clauses[0] in _LEAD_IN:
        clauses.pop(0)
    if not clauses:
        return None
    # Whisper drops commas: "thanks perfect" is one clause; a lead-in may be glued on the same way.
    words = clauses[0].split()
    first = " ".join(words[1:]) if len(words) > 1 and words[0] in _LEAD_IN else clauses[0]
    if re.fullmatch(_THANKS, first) and len(clauses) > 1:
        first += " " + clauses[1]  # "thanks, perfect": the thanks alone says nothing
    for rating, patterns in (("bad", _BAD), ("good", _GOOD)):
        if any(re.fullmatch(p, first) for p in patterns):
            return Feedback(rating, first)
    return None
