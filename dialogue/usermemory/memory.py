"""Personal memory in a conversation: answering memory requests and giving the model what is known.

`PersonalMemory.respond(utterance)` answers "remember …", "what do you know about me?", "forget …"
itself (the caller speaks the returned text instead of asking the model); `notice` keeps lasting,
non-personal facts the user states in passing; `context` gives the facts for the prompt within a budget.
"""

from __future__ import annotations

import re

from dialogue.usermemory.requests import Kind, MemoryRequest, noticed, recognise
from dialogue.usermemory.store import Fact, FactStore

_SECOND_PERSON = {
    "i": "you",
    "i'm": "you're",
    "i've": "you've",
    "i'll": "you'll",
    "i'd": "you'd",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "am": "are",
    "was": "were",
}
_PRONOUN = re.compile(  # longest first: "I'm" before "I"
    r"\b(?:" + "|".join(re.escape(w) for w in sorted(_SECOND_PERSON, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9']+")


def second_person(fact: str) -> str:
    """ "I'm vegetarian" → "you're vegetarian": how Hark says a fact back."""
    text = _PRONOUN.sub(lambda m: _SECOND_PERSON[m.group().lower()], fact)
    return text[0].lower() + text[1:] if text[:1].isupper() and not text[:2].isupper() else text


def _overlap(query: str, fact: str) -> float:
    """Share of the words of `query` found in `fact` (both said in the first person)."""
    wanted = set(_WORD.findall(query.lower())) - {"that", "the", "a", "an", "about"}
    have = set(_WORD.findall(fact.lower()))
    return len(wanted & have) / len(wanted) if wanted else 0.0


class PersonalMemory:
    """The memory of one user (`user`) in `store`."""

    def __init__(self, store: FactStore, user: str) -> None:
        self.store = store
        self.user = user

    def respond(self, utterance: str) -> str | None:
        """What to say to a memory request, or None when `utterance` is not one."""
        request = recognise(utterance)
        return self._answer(request) if request else None

    def notice(self, utterance: str) -> Fact | None:
        """Keep a lasting fact stated in passing; personal facts are not kept this way."""
        fact = noticed(utterance)
        return self.store.add(self.user, fact, explicit=False) if fact else None

    def context(self, max_chars: int = 600) -> str:
        """The user's facts for the prompt, newest first within `max_chars`; "" when none."""
        lines: list[str] = []
        used = 0
        for fact in reversed(self.store.facts(self.user)):
            if used + len(fact.text) + 3 > max_chars:
                break
            lines.append(f"- {fact.text}")
            used += len(fact.text) + 3
        if not lines:
            return ""
        return "What the user has told you about themselves (their words):\n" + "\n".join(reversed(lines))

    def _answer(self, request: MemoryRequest) -> str:
        facts = self.store.facts(self.user)
        if request.kind is Kind.REMEMBER:
            kept = self.store.add(self.user, request.fact, explicit=True)
            said = second_person(request.fact)
            return f"OK, I'll remember that {said}." if kept else f"I already know that {said}."
        if request.kind is Kind.RECALL:
            if not facts:
                return 'I don\'t know anything about you yet. Say "remember that…" and I will.'
            return "Here's what I know about you: " + "; ".join(second_person(f.text) for f in facts) + "."
        if request.kind is Kind.FORGET_ALL:
            count = self.store.forget_all(self.user)
            return (
                f"Done: I've forgotten everything about you ({count} {'fact' if count == 1 else 'facts'})."
                if count
                else "I don't have anything stored about you."
            )
        if request.kind is Kind.FORGET_LAST:
            target = facts[-1:]
        else:
            scored = sorted(((_overlap(request.fact, f.text), f) for f in facts), key=lambda p: -p[0])
            target = [f for score, f in scored[:1] if score >= 0.5]
        if not target:
            return (
                "There's nothing like that to forget." if facts else "I don't have anything stored about you."
            )
        self.store.forget(self.user, [target[0].id])
        return f"OK, I've forgotten that {second_person(target[0].text)}."
