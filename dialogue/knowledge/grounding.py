"""Putting retrieved passages in front of the model, and naming them in reply events.

The model sees each passage under its source name and is told to answer only from them and to name the
source briefly, so a spoken answer sounds like "The visitor guide says …". With no relevant passage the
caller says it does not know instead of asking the model (see `KnowledgeBase.retrieve`).
"""

from __future__ import annotations

from collections.abc import Sequence

from dialogue.knowledge.retrieval import Passage

INSTRUCTIONS = (
    "Answer from the passages below, which come from the user's own documents. Name the source briefly "
    '(for example: "The visitor guide says ..."). If they do not answer the question, say that you do not '
    "know; do not guess."
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
