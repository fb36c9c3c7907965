"""Personal memory in a conversation: answering memory requests and giving the model what is known.

`PersonalMemory.respond(utterance)` answers "remember …", "what do you know about me?", "forget …"
itself (the caller speaks the returned text instead of asking the model); `notice` keeps lasting,
non-personal facts the user states in passing; `context` gives the facts for the prompt within a budget.
As the dialogue manager's `TurnHelper` (`aid`), the answer is planned when the turn begins and the store
changes only when the turn is finished and heard, so a speculative turn that is dropped changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dialogue.manager import TurnAid
from dialogue.usermemory.requests import Kind, MemoryRequest, noticed, recognise
from dialogue.usermemory.store import Fact, FactStore

Plan = tuple[str, Callable[[], object]]
"""What to say to a memory request, and the change to the store that saying it promises."""


def nothing() -> None:
    """The change of a request that only reads the store (or finds nothing to change)."""


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
    """The memory of one user (`user`) in `store`.

    `per_visit`: the store is an in-memory one that `reset()` (the end of a kiosk visit) drops, so a
    visitor's facts last only as long as the visit.
    """

    def __init__(self, store: FactStore, user: str, max_chars: int = 600, per_visit: bool = False) -> None:
        self.store = store
        self.user = user
        self.max_chars = max_chars
        self.per_visit = per_visit

    def respond(self, utterance: str) -> str | None:
        """What to say to a memory request (done at once), or None when `utterance` is not one."""
        planned = self.plan(utterance)
        if planned is None:
            return None
        text, change = planned
        change()
        return text

    def plan(self, utterance: str) -> Plan | None:
        """What to say to a memory request and the change it promises, or None when it is not one."""
        request = recognise(utterance)
        return self._answer(request) if request else None

    def aid(self, text: str) -> TurnAid | None:
        """The dialogue manager's hook: a memory request is answered here, any other turn gets the
        user's facts in its prompt (and a lasting fact said in passing is kept once the turn is heard)."""
        planned = self.plan(text)
        if planned is not None:
            return TurnAid(reply=planned[0], commit=planned[1])
        context = self.context(self.max_chars)
        said = noticed(text) is not None
        if not context and not said:
            return None
        return TurnAid(context=context, commit=(lambda: self.notice(text)) if said else None)

    def reset(self) -> None:
        """The conversation is over: a visit's facts are dropped with its store; a user's are kept."""
        if self.per_visit:
            old, self.store = self.store, FactStore(":memory:")
            old.close()

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

    def _answer(self, request: MemoryRequest) -> Plan:
        facts = self.store.facts(self.user)
        if request.kind is Kind.REMEMBER:
            said = second_person(request.fact)
            if any(f.text.lower() == request.fact.lower() for f in facts):
                return f"I already know that {said}.", nothing
            return f"OK, I'll remember that {said}.", lambda: self.store.add(
                self.user, request.fact, explicit=True
            )
        if request.kind is Kind.RECALL:
            if not facts:
                return 'I don\'t know anything about you yet. Say "remember that…" and I will.', nothing
            listed = "; ".join(second_person(f.text) for f in facts)
            return f"Here's what I know about you: {listed}.", nothing
        if request.kind is Kind.FORGET_ALL:
            if not facts:
                return "I don't have anything stored about you.", nothing
            count = len(facts)
            told = f"Done: I've forgotten everything about you ({count} {'fact' if count == 1 else 'facts'})."
            return told, lambda: self.store.forget_all(self.user)
        if request.kind is Kind.FORGET_LAST:
            target = facts[-1:]
        else:
            scored = sorted(((_overlap(request.fact, f.text), f) for f in facts), key=lambda p: -p[0])
            target = [f for score, f in scored[:1] if score >= 0.5]
        if not target:
            missing = (
                "There's nothing like that to forget." if facts else "I don't have anything stored about you."
            )
            return missing, nothing
        return f"OK, I've forgotten that {second_person(target[0].text)}.", lambda: self.store.forget(
            self.user, [target[0].id]
        )
