"""`hark bench knowledge`: retrieval quality and speed of the knowledge index on a generated corpus.

Reports Recall@3 (the section that answers the question is among the first three passages) for BM25
alone and for the hybrid ranking, how often the relevance threshold answers "nothing relevant" to
off-topic questions and lets on-topic ones through, indexing speed in pages per second, and retrieval
latency (p50/p95) on an index grown to `big_chunks` passages.

Embedding 10,000 passages with MiniLM in numpy takes many minutes on two cores, so the latency index
reuses the quality corpus's real passage vectors, in turn, for its passages; its text, its FTS5 index
and every question's embedding are real. What a retrieval costs does not depend on the vectors' values.
"""

from __future__ import annotations

import functools
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dialogue.knowledge import KnowledgeBase, KnowledgeIndex, Passage, RetrievalSettings, ingest
from dialogue.knowledge.embeddings import Embedder, make_embedder
from hark.benchmark.knowledge_corpus import OFF_TOPIC, SECTIONS, Question, generate, write


def _recall_at(base: KnowledgeBase, questions: list[Question], k: int) -> float:
    hits = 0
    for q in questions:
        found = base.retrieve(q.text, k, min_score=0.0)
        hits += any(_answers(p, q) for p in found)
    return hits / len(questions)


def _answers(passage: Passage, question: Question) -> bool:
    return Path(passage.path).name == question.path and passage.heading.split(" > ")[-1] == question.heading


def _threshold(base: KnowledgeBase, questions: list[Question]) -> dict:
    """On-topic questions whose right passage passes the threshold; off-topic ones that get nothing."""
    answered = sum(any(_answers(p, q) for p in base.retrieve(q.text, 3)) for q in questions) / len(questions)
    rejected = sum(not base.retrieve(q, 3) for q in OFF_TOPIC) / len(OFF_TOPIC)
    return {"on_topic_answered": round(answered, 3), "off_topic_rejected": round(rejected, 3)}


class _Reused:
    """Passage vectors taken in turn from a pool of real ones, under the real model's name."""

    def __init__(self, name: str, pool: np.ndarray) -> None:
        self.name = name
        self._pool = pool
        self._next = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = [(self._next + i) % len(self._pool) for i in range(len(texts))]
        self._next += len(texts)
        return self._pool[rows]


def _index(folder: Path, home: Path, embed: str | Embedder) -> tuple[KnowledgeIndex, float]:
    name = embed if isinstance(embed, str) else embed.name
    index = KnowledgeIndex(home / f"{name.replace(':', '_')}.sqlite3")
    start = time.perf_counter()
    ingest.add(index, [str(folder)], "bench", embed)
    return index, time.perf_counter() - start


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def run(
    pages: int = 120, big_chunks: int = 10_000, embed: str = "auto", info: Callable[[str], None] = print
) -> dict:
    corpus, questions = generate(pages)
    dense = make_embedder(embed)
    modes = {"bm25": "none", "hybrid": dense.name} if dense else {"bm25": "none"}
    result: dict = {"pages": pages, "questions": len(questions), "off_topic_questions": len(OFF_TOPIC)}
    result["min_score"] = RetrievalSettings().min_score
    pools: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="hark-kb-bench-") as tmp:
        folder = Path(tmp) / "pages"
        write(corpus, folder)
        for mode, spec in modes.items():
            info(f"indexing {pages} pages ({mode})")
            index, seconds = _index(folder, Path(tmp), spec)
            base = KnowledgeBase(index, "bench")
            result[mode] = {
                "embedder": spec,
                "chunks": index.bases()[0].chunks,
                "index_pages_per_s": round(pages / seconds, 1),
                "recall_at_1": round(_recall_at(base, questions, 1), 3),
                "recall_at_3": round(_recall_at(base, questions, 3), 3),
                **_threshold(base, questions),
            }
            pools[mode] = index.vectors("bench")[1]
            index.close()
        result["latency"] = _latency(Path(tmp), big_chunks, modes, pools, questions, info)
    return result


def _latency(
    tmp: Path,
    chunks: int,
    modes: dict[str, str],
    pools: dict[str, np.ndarray],
    questions: list[Question],
    info: Callable[[str], None],
) -> dict:
    """Retrieval time per question on an index of about `chunks` passages, each mode."""
    pages = math.ceil(chunks / len(SECTIONS))
    corpus, _ = generate(pages, seed=7)
    folder = tmp / "big"
    write(corpus, folder)
    asked = [q.text for q in questions] + list(OFF_TOPIC)
    out = {}
    for mode, spec in modes.items():
        info(f"indexing {pages} pages for the latency run ({mode})")
        embed = _Reused(spec, pools[mode]) if len(pools[mode]) else spec
        index, seconds = _index(folder, tmp / "big-index", embed)
        base = KnowledgeBase(index, "bench")
        base.retrieve("warm up the caches", 3)
        times, cpu = _timed(functools.partial(base.retrieve, k=3), asked)
        out[mode] = {
            "chunks": index.bases()[0].chunks,
            "index_pages_per_s_without_embedding": round(pages / seconds, 1),
            "retrieve_p50_ms": _ms(statistics.median(times)),
            "retrieve_p95_ms": _ms(_percentile(times, 0.95)),
            # CPU time of the retrieving thread: what a retrieval costs when it has a core to itself
            "retrieve_cpu_p50_ms": _ms(statistics.median(cpu)),
            "retrieve_cpu_p95_ms": _ms(_percentile(cpu, 0.95)),
            "queries": len(times),
        }
        if embedder := base.embedder():
            alone, _ = _timed(embedder.embed, [[text] for text in asked])  # the question's embedding alone
            out[mode]["embed_question_p50_ms"] = _ms(statistics.median(alone))
        index.close()
    out["load_average_1min"] = round(os.getloadavg()[0], 2)  # other work on the machine during the run
    return out


def _timed(call: Callable[[Any], object], inputs: list, rounds: int = 3) -> tuple[list[float], list[float]]:
    """Wall-clock and thread CPU seconds of each call."""
    wall, cpu = [], []
    for _ in range(rounds):
        for given in inputs:
            start, start_cpu = time.perf_counter(), time.thread_time()
            call(given)
            wall.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
    return wall, cpu


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
