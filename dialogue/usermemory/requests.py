"""Recognising what a user asks of Hark's memory of them, by rules, so it works with any model.

"remember that I'm vegetarian", "what do you know about me?", "forget that", "forget that I'm
vegetarian", "forget everything about me", in their usual variants. Anything else is not a memory
request (None) and goes to the model as usual. Self-statements worth keeping ("I'm allergic to
peanuts", "my favourite colour is green") are recognised separately by `noticed`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    REMEMBER = "remember"
    RECALL = "recall"
    FORGET_LAST = "forget_last"
    FORGET_ABOUT = "forget_about"
    FORGET_ALL = "forget_all"


@dataclass(frozen=True)
class MemoryRequest:
    kind: Kind
    fact: str = ""


_LEAD = r"^(?:(?:hey|ok|okay|so|and|now|also|oh)\b[,\s]*)*(?:hark\b[,\s]*)?"
_POLITE = (
    r"(?:please\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?"
    r"|i(?:\s+(?:want|need|would\s+like)|'d\s+like)\s+you\s+to\s+)?"
)
_REMEMBER = re.compile(
    _LEAD
    + _POLITE
    + r"(?:(?:remember|memori[sz]e|keep\s+in\s+mind|(?:don't|do\s+not|never)\s+forget)(?:\s+(?:that|this))?"
    r"|(?:make\s+a\s+note|note(?:\s+down)?|store|save|write\s+down)\s+that)\s*[:,]?\s+"
    r"(?!(?:to|when|how|what|where|who|why|if|whether)\b)(?P<fact>.+)$",
    re.IGNORECASE,
)
_RECALL = re.compile(
    r"\b(?:know|remember|recall|stored|saved|kept|have|got)\b.{0,30}\babout\s+(?:me|myself)\b|"
    r"\bwhat\s+(?:did|have)\s+i\s+(?:tell|told)\s+you\b|"
    r"^\W*(?:what|tell\s+me\s+what)\s+do\s+you\s+remember\W*$|"
    r"\bwhat\s+do\s+you\s+know\s+of\s+me\b|\bwho\s+am\s+i\b",
    re.IGNORECASE,
)
_ERASE = r"(?:delete|erase|remove|wipe|clear|drop|purge)"
_STORED = r"(?:\s+(?:you\s+know|you\s+have|you've\s+got|you\s+remember|stored|saved))?"
_FORGET_ALL = re.compile(
    _LEAD
    + _POLITE
    + r"(?:forget\s+(?:about\s+)?(?:everything|all)"
    + _STORED
    + r"(?:\s+(?:about|on|of)\s+me)?|forget\s+(?:about\s+)?me|"
    + _ERASE
    + r"\s+(?:everything|all)"
    + _STORED
    + r"\s+(?:about|on|of)\s+me|"
    + r"(?:forget|"
    + _ERASE
    + r")\s+(?:all\s+)?(?:my\s+(?:data|information|info|facts|details|memories)|your\s+memory(?:\s+of\s+me)?|"
    r"what\s+you\s+know\s+about\s+me))\W*$",
    re.IGNORECASE,
)
_FORGET_LAST = re.compile(
    _LEAD + _POLITE + r"(?:forget|" + _ERASE + r"|scratch|undo|never\s*mind|don't\s+remember)\s+"
    r"(?:that|it|this|what\s+i\s+(?:just\s+)?(?:said|told\s+you)|the\s+last\s+(?:one|thing|fact))\W*$",
    re.IGNORECASE,
)
# Only a first-person fact can be one Hark keeps: "forget about the weather" is not a memory request.
_FORGET_ABOUT = re.compile(
    _LEAD
    + _POLITE
    + r"(?:forget|don't\s+remember|"
    + _ERASE
    + r"\s+the\s+fact)\s+(?:about\s+)?(?:the\s+fact\s+)?(?:that\s+)?"
    r"(?P<fact>(?:.*\b)?(?:i|i'm|i've|my|mine)\b.*?)\W*$",
    re.IGNORECASE,
)
_NOTICED = re.compile(
    r"^(?P<fact>(?:i'm|i\s+am)\s+(?:a\s+)?(?:vegetarian|vegan|pescatarian|diabetic|lactose\s+intolerant|"
    r"allergic\s+to\s+[\w\s,-]+|left-handed|colou?r\s*blind|hard\s+of\s+hearing)|"
    r"i\s+(?:don't|do\s+not|can't|cannot)\s+eat\s+[\w\s,-]+|"
    r"my\s+favou?rite\s+[\w\s]+\s+(?:is|are)\s+[\w\s'-]+|"
    r"i\s+live\s+in\s+[\w\s'-]+|"
    r"i\s+prefer\s+[\w\s'-]+)(?:[.!]|$)",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    return text.strip().rstrip(".!?,; ").strip()


def recognise(utterance: str) -> MemoryRequest | None:
    """The memory request in `utterance`, or None when it is not one."""
    text = " ".join(utterance.split())
    if not text:
        return None
    if _FORGET_ALL.search(text):
        return MemoryRequest(Kind.FORGET_ALL)
    if _FORGET_LAST.search(text):
        return MemoryRequest(Kind.FORGET_LAST)
    if match := _FORGET_ABOUT.search(text):
        return MemoryRequest(Kind.FORGET_ABOUT, _clean(match.group("fact")))
    if _RECALL.search(text):
        return MemoryRequest(Kind.RECALL)
    if match := _REMEMBER.search(text):
        fact = _clean(match.group("fact"))
        if fact.lower() in ("", "that", "this", "it", "me"):  # "remember that" names no fact
            return None
        return MemoryRequest(Kind.REMEMBER, fact[0].upper() + fact[1:])
    return None


def noticed(utterance: str) -> str | None:
    """A lasting fact the user stated about themselves without asking Hark to remember it."""
    for sentence in re.split(r"(?<=[.!?])\s+", " ".join(utterance.split())):
        if match := _NOTICED.match(sentence):
            fact = _clean(match.group("fact"))
            return fact[0].upper() + fact[1:]
    return None
