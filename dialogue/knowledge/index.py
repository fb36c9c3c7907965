"""The knowledge index: one SQLite file holding every knowledge base, its documents, their passages
(chunks), an FTS5 index over them and, when an embedding model made them, their vectors.

Durability: WAL, and each document is replaced in ONE transaction, so a process killed while adding
leaves every document either as it was or fully updated, never half-indexed. The FTS5 table is an
external-content index of `chunks`, kept in step by triggers inside the same transactions.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dialogue.knowledge.chunking import Chunk
from dialogue.knowledge.errors import KnowledgeError

DB_NAME = "knowledge.sqlite3"
DEFAULT_BASE = "default"
# bm25() column weights for (title, heading, text): a word in a heading says more than one in the text.
BM25_WEIGHTS = (2.0, 2.0, 1.0)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bases (
    name TEXT PRIMARY KEY,
    embedder TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    base TEXT NOT NULL REFERENCES bases(name),
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    digest TEXT NOT NULL,
    added REAL NOT NULL,
    UNIQUE (base, path)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc INTEGER NOT NULL REFERENCES documents(id),
    ord INTEGER NOT NULL,
    title TEXT NOT NULL,
    heading TEXT NOT NULL,
    text TEXT NOT NULL,
    digest TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, heading, text, content='chunks', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, title, heading, text) VALUES (new.id, new.title, new.heading, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, title, heading, text)
        VALUES ('delete', old.id, old.title, old.heading, old.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_au AFTER UPDATE OF title, heading, text ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, title, heading, text)
        VALUES ('delete', old.id, old.title, old.heading, old.text);
    INSERT INTO chunks_fts(rowid, title, heading, text) VALUES (new.id, new.title, new.heading, new.text);
END;
"""


@dataclass(frozen=True)
class DocumentInfo:
    base: str
    path: str
    title: str
    kind: str
    chunks: int
    added: float


@dataclass(frozen=True)
class BaseInfo:
    name: str
    embedder: str
    documents: int
    chunks: int


@dataclass(frozen=True)
class AddResult:
    """What adding one document changed: chunks new, kept as they were, and gone."""

    path: str
    status: str  # "added", "updated" or "unchanged"
    new: int
    kept: int
    removed: int


@dataclass(frozen=True)
class Stored:
    """A stored passage with what citing it needs."""

    id: int
    path: str
    title: str
    heading: str
    text: str


Embed = Callable[[list[str]], np.ndarray]


def place(title: str, heading: str) -> str:
    """ "Visitor guide > Opening hours": the document and the headings above a passage, said once."""
    return heading if heading.startswith(title) else " > ".join(p for p in (title, heading) if p)


def embedding_text(title: str, heading: str, text: str) -> str:
    """What a passage's vector is computed from: its place in the document, then its text."""
    where = place(title, heading)
    return f"{where}: {text}" if where else text


class KnowledgeIndex:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise KnowledgeError(f"{self.path}: the knowledge index cannot be opened ({exc})") from exc
        self.writes = 0  # this connection's own commits: PRAGMA data_version counts only the others'

    def close(self) -> None:
        self._db.close()

    def version(self) -> tuple[int, int]:
        """Changes whenever the index changes, by this connection or another: cached vectors go stale."""
        return self._db.execute("PRAGMA data_version").fetchone()[0], self.writes

    # -- bases -------------------------------------------------------------------------------------

    def embedder_of(self, base: str) -> str | None:
        """The embedder a base's vectors come from ("" for none), or None when the base does not exist."""
        row = self._db.execute("SELECT embedder FROM bases WHERE name = ?", (base,)).fetchone()
        return row[0] if row else None

    def ensure_base(self, base: str, embedder: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO bases(name, embedder, created) VALUES (?, ?, ?)",
            (base, embedder, time.time()),
        )

    def bases(self) -> list[BaseInfo]:
        rows = self._db.execute(
            """SELECT b.name, b.embedder, count(DISTINCT d.id), count(c.id)
               FROM bases b LEFT JOIN documents d ON d.base = b.name LEFT JOIN chunks c ON c.doc = d.id
               GROUP BY b.name ORDER BY b.name"""
        ).fetchall()
        return [BaseInfo(*row) for row in rows]

    def documents(self, base: str | None = None) -> list[DocumentInfo]:
        rows = self._db.execute(
            """SELECT d.base, d.path, d.title, d.kind, count(c.id), d.added
               FROM documents d LEFT JOIN chunks c ON c.doc = d.id
               WHERE ?1 IS NULL OR d.base = ?1 GROUP BY d.id ORDER BY d.base, d.path""",
            (base,),
        ).fetchall()
        return [DocumentInfo(*row) for row in rows]

    def document_digest(self, base: str, path: str) -> str | None:
        row = self._db.execute(
            "SELECT digest FROM documents WHERE base = ? AND path = ?", (base, path)
        ).fetchone()
        return row[0] if row else None

    # -- writing -----------------------------------------------------------------------------------

    def put_document(
        self,
        base: str,
        path: str,
        title: str,
        kind: str,
        digest: str,
        chunks: Sequence[Chunk],
        embed: Embed | None,
    ) -> AddResult:
        """Store a document's chunks, replacing what was stored for its path, in one transaction.

        Chunks whose content is unchanged keep their row (and vector); only new chunks are embedded,
        before the transaction starts so the write lock is held briefly.
        """
        old = self._old_chunks(base, path)
        fresh = [c for c in dict.fromkeys(chunks) if c.digest not in old]
        vectors = (
            embed([embedding_text(title, c.heading, c.text) for c in fresh]) if embed and fresh else None
        )
        wanted = {c.digest for c in chunks}
        with self._transaction():
            if self._old_chunks(base, path) != old:
                raise KnowledgeError(f"{path} was changed by another process meanwhile: add it again")
            self.ensure_base(base, "")
            row = self._db.execute(
                "SELECT id FROM documents WHERE base = ? AND path = ?", (base, path)
            ).fetchone()
            if row:
                doc = row[0]
                self._db.execute(
                    "UPDATE documents SET title = ?, kind = ?, digest = ?, added = ? WHERE id = ?",
                    (title, kind, digest, time.time(), doc),
                )
            else:
                doc = self._db.execute(
                    "INSERT INTO documents(base, path, title, kind, digest, added) VALUES (?, ?, ?, ?, ?, ?)",
                    (base, path, title, kind, digest, time.time()),
                ).lastrowid
            gone = [cid for d, cid in old.items() if d not in wanted]
            self._db.executemany("DELETE FROM chunks WHERE id = ?", [(cid,) for cid in gone])
            self._db.execute("UPDATE chunks SET title = ? WHERE doc = ? AND title != ?", (title, doc, title))
            for i, chunk in enumerate(fresh):
                blob = vectors[i].astype(np.float32).tobytes() if vectors is not None else None
                self._db.execute(
                    """INSERT INTO chunks(doc, ord, title, heading, text, digest, vector)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    (doc, 0, title, chunk.heading, chunk.text, chunk.digest, blob),
                )
            order = {c.digest: i for i, c in enumerate(chunks)}
            self._db.executemany(
                "UPDATE chunks SET ord = ? WHERE doc = ? AND digest = ?",
                [(i, doc, d) for d, i in order.items()],
            )
        status = "updated" if row else "added"
        return AddResult(path, status, len(fresh), len(wanted) - len(fresh), len(gone))

    def _old_chunks(self, base: str, path: str) -> dict[str, int]:
        rows = self._db.execute(
            """SELECT c.digest, c.id FROM chunks c JOIN documents d ON d.id = c.doc
               WHERE d.base = ? AND d.path = ?""",
            (base, path),
        ).fetchall()
        return dict(rows)

    def remove(self, base: str, path: str) -> list[str]:
        """Remove the document stored as `path`, or every document under the folder `path`."""
        prefix = path.rstrip("/") + "/"
        with self._transaction():
            rows = self._db.execute(
                "SELECT id, path FROM documents WHERE base = ? AND (path = ? OR substr(path, 1, ?) = ?)",
                (base, path, len(prefix), prefix),
            ).fetchall()
            self._delete_documents([doc for doc, _ in rows])
        return [p for _, p in rows]

    def remove_base(self, base: str) -> int:
        with self._transaction():
            docs = [r[0] for r in self._db.execute("SELECT id FROM documents WHERE base = ?", (base,))]
            self._delete_documents(docs)
            self._db.execute("DELETE FROM bases WHERE name = ?", (base,))
        return len(docs)

    def _delete_documents(self, docs: list[int]) -> None:
        self._db.executemany("DELETE FROM chunks WHERE doc = ?", [(d,) for d in docs])
        self._db.executemany("DELETE FROM documents WHERE id = ?", [(d,) for d in docs])

    def _transaction(self) -> _Transaction:
        self.writes += 1
        return _Transaction(self._db)

    # -- reading -----------------------------------------------------------------------------------

    def lexical(self, base: str, words: list[str], expression: str, limit: int) -> list[tuple[int, float]]:
        """(chunk id, relevance in 0..1) for the best `limit` BM25 matches of `expression` in `base`.

        FTS5's bm25() is unbounded; dividing it by the sum of the query terms' IDF (what one occurrence
        of every term in a passage of average length scores) turns it into a share of the question that
        a passage covers, which a threshold can judge.
        """
        if not words:
            return []
        rows = self._db.execute(
            f"""SELECT c.id, -bm25(chunks_fts, {", ".join(map(str, BM25_WEIGHTS))}) AS s
                FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.doc
                WHERE chunks_fts MATCH ? AND d.base = ? ORDER BY s DESC LIMIT ?""",
            (expression, base, limit),
        ).fetchall()
        if not rows:
            return []
        total = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        idf = 0.0  # a word found nowhere counts fully: the passages do not cover that part of the question
        for word in words:
            hits = self._db.execute(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (f'"{word}"',)
            )
            n = hits.fetchone()[0]
            idf += max(math.log((total - n + 0.5) / (n + 0.5)), 1e-6)
        return [(cid, min(1.0, score / idf)) for cid, score in rows]

    def vectors(self, base: str) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, float32 matrix of their unit vectors) of every embedded passage in `base`."""
        rows = self._db.execute(
            """SELECT c.id, c.vector FROM chunks c JOIN documents d ON d.id = c.doc
               WHERE d.base = ? AND c.vector IS NOT NULL ORDER BY c.id""",
            (base,),
        ).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return ids, matrix

    def passages(self, ids: Sequence[int]) -> dict[int, Stored]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"""SELECT c.id, d.path, c.title, c.heading, c.text FROM chunks c JOIN documents d ON d.id = c.doc
                WHERE c.id IN ({marks})""",
            list(ids),
        ).fetchall()
        return {row[0]: Stored(*row) for row in rows}

    def integrity(self) -> list[str]:
        """Problems found by SQLite's and FTS5's own checks (empty when the index is sound)."""
        problems = [r[0] for r in self._db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        try:
            self._db.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            problems.append(f"fts: {exc}")
        return problems


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: the unit that a crash cannot split."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if kind else "COMMIT")
