"""Cutting sections into passages small enough to rank well and to fit a prompt.

A passage stays under its section's heading path, never spans two sections, and is cut at paragraph,
then sentence, ends so a passage read aloud or quoted in a prompt makes sense on its own. The size
(~120 words) keeps a passage within MiniLM's 256-token window with its headings in front.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dialogue.knowledge.documents import Section

MAX_WORDS = 120
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class Chunk:
    heading: str
    text: str

    @property
    def digest(self) -> str:
        """Identity of the chunk's content: an unchanged chunk keeps its row and its vector."""
        return hashlib.sha256(f"{self.heading}\x00{self.text}".encode()).hexdigest()


def chunk_sections(sections: Iterable[Section], max_words: int = MAX_WORDS) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in sections:
        heading = " > ".join(section.headings)
        chunks.extend(Chunk(heading, text) for text in _pack(_pieces(section.text, max_words), max_words))
    return chunks


def _pieces(text: str, max_words: int) -> Iterable[str]:
    """Paragraphs, with a paragraph longer than `max_words` cut into sentences (and a run-on sentence
    into word windows)."""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if len(paragraph.split()) <= max_words:
            yield paragraph
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            words = sentence.split()
            for start in range(0, len(words), max_words):
                yield " ".join(words[start : start + max_words])


def _pack(pieces: Iterable[str], max_words: int) -> Iterable[str]:
    """Join consecutive pieces while they fit: short paragraphs share a passage."""
    current: list[str] = []
    count = 0
    for piece in pieces:
        words = len(piece.split())
        if current and count + words > max_words:
            yield "\n\n".join(current)
            current, count = [], 0
        current.append(piece)
        count += words
    if current:
        yield "\n\n".join(current)
