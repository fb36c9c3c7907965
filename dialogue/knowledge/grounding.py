"""Putting retrieved passages in front of the model, and naming them in reply events.

The model sees each passage under its source name and is told to answer only from them and to name the
source briefly, so a spoken answer sounds like "The visitor guide says …". A question to which no passage
is relevant gets "I don't know" from Hark itself instead of a model's guess (see `Grounding`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dialogue.knowledge.errors import KnowledgeError
from dialogue.knowledge.retrieval import KnowledgeBase, Passage
from dialogue.manager import TurnAid

INSTRUCTIONS = (
    "Answer from the passages below, which come from the user's own documents. Name the source briefly "
    '(for example: "The visitor guide says ..."). If they do not answer the question, say that you do not '
    "know; do not guess."
)
UNKNOWN = "I don't know: I found nothing about that in my documents."
_QUESTION = re.compile(
    r"\?\s*$|^\W*(?:what|when|where|who|whom|whose|which|why|how|is|are|was|were|do|does|did|can|could|"
    r"will|would|should|may|has|have|had|tell\s+me|explain|describe)\b",
    re.IGNORECASE,
)


def prompt_block(passages: Sequence[Passage]) -> str:
    """The system-prompt text for these passages ("" for none)."""
    if not passages:
        return ""
    quoted = [f'[{i}] From "{p.place}":\n{p.text}' for i, p in enumerate(passages, 1)]
    return INSTRUCTIONS + "\n\n" + "\n\n".join(quoted)


def sources(passages: Sequence[Passage]) -> list[dict]:
    """The `sources` of a `--json` reply event: `[{"title", "path", "chunk"}]`."""
    return [{"title": p.title, "path": p.path, "chunk": p.text} for p in passages]


def is_question(text: str) -> bool:
    """A request for information (asked, or worded as one), as opposed to a greeting or a remark."""
    return bool(_QUESTION.search(text.strip()))


class Grounding:
    """The dialogue manager's `TurnHelper` for a knowledge base: the passages that answer the turn go into
    its prompt; a question none answers gets `UNKNOWN` without a model call. A base with no passages
    (nothing added yet, or everything removed) adds nothing, so Hark then talks as it would without one."""

    def __init__(self, base: KnowledgeBase, k: int = 3, unknown: str = UNKNOWN) -> None:
        self.base = base
        self.k = k
        self.unknown = unknown

    def aid(self, text: str) -> TurnAid | None:
        if not self.base.has_passages():
            return None
        try:
            passages = self.base.retrieve(text, self.k)
        except KnowledgeError:
            return None  # a broken index must not cost the user the answer
        if passages:
            return TurnAid(context=prompt_block(passages), sources=tuple(sources(passages)))
        return TurnAid(reply=self.unknown) if is_question(text) else None

    def reset(self) -> None:
        """Nothing to forget: the documents are not part of the conversation."""
