"""Adding documents to a base: sources (files, folders, URLs) → parsed, chunked documents → the index.

Every source is resolved, read and parsed before the first write, so a missing path, an unsupported
type, a corrupt or encrypted PDF or an unreachable URL stops the command with nothing changed. Then
each document is written in its own transaction; an unchanged document (same bytes) is skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dialogue.knowledge import documents
from dialogue.knowledge.chunking import chunk_sections
from dialogue.knowledge.embeddings import AUTO, Embedder, make_embedder
from dialogue.knowledge.errors import KnowledgeError
from dialogue.knowledge.fetch import fetch, is_url
from dialogue.knowledge.index import AddResult, KnowledgeIndex

PARSER_VERSION = "1"  # part of a document's digest: a new parser re-indexes documents it reads differently
_BASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Source:
    """One document to add: where it is stored as (`path`: absolute file path or URL) and its bytes."""

    path: str
    kind: str
    data: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(PARSER_VERSION.encode() + self.data).hexdigest()


def check_base_name(name: str) -> str:
    if not _BASE_NAME.fullmatch(name):
        raise KnowledgeError(f"{name!r} is not a knowledge base name (letters, digits, '.', '_', '-')")
    return name


def collect(sources: Iterable[str], allow_private: bool = False) -> list[Source]:
    """Read every source; folders recursively (files of unsupported types in a folder are passed over,
    a file named explicitly must be supported)."""
    found: list[Source] = []
    for source in sources:
        if is_url(source):
            page = fetch(source, allow_private=allow_private)
            found.append(Source(page.url, documents.kind_of(page.url, page.content_type), page.data))
            continue
        path = Path(source).expanduser()
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in documents.SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            found.extend(_read(p, documents.kind_of(p.name)) for p in files)
        elif path.is_file():
            found.append(_read(path, documents.kind_of(path.name)))
        else:
            raise KnowledgeError(f"{source}: no such file or folder")
    return found


def _read(path: Path, kind: str) -> Source:
    try:
        return Source(str(path.resolve()), kind, path.read_bytes())
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot be read ({exc.strerror})") from exc


def add(
    index: KnowledgeIndex,
    sources: Iterable[str],
    base: str,
    embedder: str | Embedder = AUTO,
    allow_private: bool = False,
    progress: Callable[[AddResult], None] | None = None,
) -> list[AddResult]:
    """Add or refresh documents in `base`. The base's embedder (a spec for `make_embedder`, or an
    embedder) is chosen when the base is created ("auto": MiniLM when installed) and kept; asking for
    another one for an existing base is an error."""
    check_base_name(base)
    found = collect(sources, allow_private)
    pending = []
    for source in found:
        if index.document_digest(base, source.path) == source.digest:
            pending.append((source, None))
            continue
        parsed = documents.parse(source.data, source.kind, source.path)
        chunks = chunk_sections(parsed.sections)
        if not chunks:
            raise KnowledgeError(f"{source.path}: no text found in it")
        pending.append((source, (parsed.title, chunks)))
    model = _embedder_for(index, base, embedder)
    index.ensure_base(base, model.name if model else "")
    results = []
    for source, content in pending:
        if content is None:
            result = AddResult(source.path, "unchanged", 0, 0, 0)
        else:
            title, chunks = content
            embed = model.embed if model else None
            result = index.put_document(base, source.path, title, source.kind, source.digest, chunks, embed)
        results.append(result)
        if progress:
            progress(result)
    return results


def _embedder_for(index: KnowledgeIndex, base: str, wanted: str | Embedder) -> Embedder | None:
    stored = index.embedder_of(base)
    requested = make_embedder(wanted) if isinstance(wanted, str) else wanted
    if stored is None or wanted == AUTO:
        return requested if stored is None else make_embedder(stored)
    if (requested.name if requested else "") != stored:
        raise KnowledgeError(
            f"knowledge base {base!r} uses {stored or 'no embeddings'}; remove it to change the embedder"
        )
    return requested
