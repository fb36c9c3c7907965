"""Retrieval for the dialogue manager: a question → the few passages that answer it, or none.

Ranking is hybrid when the base has vectors: BM25 and cosine similarity each rank candidates, and
reciprocal rank fusion (1/(60 + rank), summed) merges the two lists, so neither scale has to be tuned
against the other. Whether anything is relevant at all is a separate question, judged on a 0..1
relevance: the larger of the passage's lexical coverage of the question and its cosine similarity. A
question whose best passage stays under `min_score` gets no passages, and the caller can say it does
not know.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from dialogue.knowledge.embeddings import Embedder, make_embedder
from dialogue.knowledge.errors import KnowledgeError
from dialogue.knowledge.index import DEFAULT_BASE, KnowledgeIndex, place
from dialogue.knowledge.query import match_expression, terms

RRF_K = 60
EMBED_RETRY_S = 30.0
"""After the embedder failed (Ollama down or too slow), questions are ranked by BM25 alone this long
before it is asked again, so a live conversation does not wait out its timeout on every turn."""


@dataclass(frozen=True)
class Passage:
    title: str
    path: str
    heading: str
    text: str
    score: float

    @property
    def place(self) -> str:
        return place(self.title, self.heading)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "title": self.title,
            "heading": self.heading,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class RetrievalSettings:
    min_score: float = 0.35
    candidates: int = 50

    def __post_init__(self) -> None:
        if not 0 <= self.min_score <= 1:
            raise KnowledgeError("the knowledge relevance threshold must be between 0 and 1")
        if self.candidates < 1:
            raise KnowledgeError("knowledge candidates must be 1 or more")


class KnowledgeBase:
    """One named base of an index. `embedder` defaults to the one that made the base's vectors."""

    def __init__(
        self,
        index: KnowledgeIndex,
        name: str = DEFAULT_BASE,
        settings: RetrievalSettings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.index = index
        self.name = name
        self.settings = settings or RetrievalSettings()
        self._embedder = embedder
        self._cache: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None
        self._count: tuple[tuple[int, int], int] | None = None
        self._embedder_down_until = 0.0
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.index.embedder_of(self.name) is not None

    def has_passages(self) -> bool:
        """Whether the base holds any passage now (counted again only when the index has changed)."""
        version = self.index.version()
        if self._count is None or self._count[0] != version:
            self._count = (version, self.index.chunk_count(self.name))
        return self._count[1] > 0

    def embedder(self) -> Embedder | None:
        if self._embedder is None:
            self._embedder = make_embedder(self.index.embedder_of(self.name) or "")
        return self._embedder

    def retrieve(self, question: str, k: int = 3, min_score: float | None = None) -> list[Passage]:
        """The best `k` passages whose relevance reaches the threshold, best first; [] when none does."""
        floor = self.settings.min_score if min_score is None else min_score
        ranked = self._rank(question)
        best = [(cid, score) for cid, score in ranked if score >= floor][:k]
        stored = self.index.passages([cid for cid, _ in best])
        return [
            Passage(stored[cid].title, stored[cid].path, stored[cid].heading, stored[cid].text, score)
            for cid, score in best
            if cid in stored
        ]

    def _rank(self, question: str) -> list[tuple[int, float]]:
        """(chunk id, relevance) in fused rank order."""
        words = terms(question)
        lexical = self.index.lexical(self.name, words, match_expression(words), self.settings.candidates)
        dense = self._dense(question)
        if dense is None:
            return lexical
        ids, sims = dense
        n = min(self.settings.candidates, len(sims))
        top = np.argpartition(-sims, n - 1)[:n]  # the n best without sorting all passages
        top = top[np.argsort(-sims[top])]
        fused: dict[int, float] = {}
        relevance = {int(ids[i]): float(sims[i]) for i in top}
        for rank, i in enumerate(top):
            fused[int(ids[i])] = 1 / (RRF_K + rank + 1)
        for rank, (cid, score) in enumerate(lexical):
            fused[cid] = fused.get(cid, 0.0) + 1 / (RRF_K + rank + 1)
            row = int(np.searchsorted(ids, cid))
            cosine = float(sims[row]) if row < len(ids) and ids[row] == cid else 0.0
            relevance[cid] = max(score, cosine)
        order = sorted(fused, key=fused.__getitem__, reverse=True)
        return [(cid, relevance[cid]) for cid in order]

    def _dense(self, question: str) -> tuple[np.ndarray, np.ndarray] | None:
        embedder = self.embedder()
        if embedder is None or time.monotonic() < self._embedder_down_until:
            return None
        ids, matrix = self._vectors()
        if not len(ids):
            return None
        try:
            query = embedder.embed([question])[0]
        except KnowledgeError:
            self._embedder_down_until = time.monotonic() + EMBED_RETRY_S
            return None  # an embedding server that is down: lexical ranking still answers
        return ids, matrix @ query

    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            version = self.index.version()
            if self._cache is None or self._cache[0] != version:
                self._cache = (version, *self.index.vectors(self.name))
            return self._cache[1], self._cache[2]
