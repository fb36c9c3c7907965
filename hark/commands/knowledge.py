"""`hark knowledge add|list|remove|search`: the documents Hark answers from (see dialogue.knowledge)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dialogue.knowledge import DB_NAME, DEFAULT_BASE, KnowledgeBase, KnowledgeError, KnowledgeIndex, ingest
from dialogue.knowledge.embeddings import AUTO
from dialogue.knowledge.fetch import is_url
from dialogue.knowledge.index import AddResult
from hark.commands.common import add_json_arg
from hark.errors import UserError
from hark.paths import data_dir
from hark.report import Reporter


def index_path() -> Path:
    return data_dir() / DB_NAME


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("knowledge", help="documents to answer from: add, list, remove, search")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))

    add = actions.add_parser("add", help="add (or refresh) files, folders and http(s) URLs")
    add.add_argument("sources", nargs="+", metavar="PATH|URL")
    _add_kb_arg(add)
    add.add_argument(
        "--embed",
        default=AUTO,
        metavar="auto|none|minilm|ollama:MODEL",
        help="dense embeddings for a new base (auto: the bundled MiniLM when installed)",
    )
    add.add_argument("--allow-private", action="store_true", help="allow URLs on local or private addresses")
    add_json_arg(add)
    add.set_defaults(run=run_add)

    lst = actions.add_parser("list", help="the knowledge bases and their documents")
    lst.add_argument("--kb", metavar="NAME", help="only this knowledge base")
    add_json_arg(lst)
    lst.set_defaults(run=run_list)

    remove = actions.add_parser(
        "remove", help="remove documents (a file, a folder's files, a URL) or a whole base"
    )
    remove.add_argument("paths", nargs="*", metavar="PATH|URL")
    remove.add_argument(
        "--kb", metavar="NAME", help=f"the knowledge base; alone: remove it all ({DEFAULT_BASE})"
    )
    remove.set_defaults(run=run_remove)

    search = actions.add_parser("search", help="the passages that answer a question")
    search.add_argument("query", metavar="QUERY")
    _add_kb_arg(search)
    search.add_argument("-k", type=int, default=3, help="passages to show (3)")
    search.add_argument("--min-score", type=float, help="relevance threshold, 0..1 (0.35)")
    add_json_arg(search)
    search.set_defaults(run=run_search)


def _add_kb_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kb", metavar="NAME", default=DEFAULT_BASE, help=f"the knowledge base ({DEFAULT_BASE})"
    )


def run_add(args: argparse.Namespace, reporter: Reporter) -> int:
    index = KnowledgeIndex(index_path())

    def show(result: AddResult) -> None:
        if args.json:
            print(json.dumps(vars(result)), flush=True)
        else:
            counts = f"{result.new} new, {result.kept} kept, {result.removed} removed"
            reporter.info(f"{result.status:<9} {result.path} ({counts})")

    ingest.add(index, args.sources, args.kb, args.embed, args.allow_private, progress=show)
    return 0


def run_list(args: argparse.Namespace, reporter: Reporter) -> int:
    index = KnowledgeIndex(index_path())
    bases = [b for b in index.bases() if args.kb in (None, b.name)]
    if args.kb and not bases:
        raise KnowledgeError(f"no knowledge base named {args.kb!r}")
    for base in bases:
        docs = index.documents(base.name)
        if args.json:
            entry = {**vars(base), "documents": [vars(d) for d in docs]}
            print(json.dumps(entry))
            continue
        embedder = base.embedder or "BM25 only"
        print(f"{base.name}: {base.documents} documents, {base.chunks} passages ({embedder})")
        for doc in docs:
            print(f'  {doc.path}  "{doc.title}" ({doc.chunks} passages, {doc.kind})')
    if not bases and not args.json:
        reporter.info("no knowledge yet: `hark knowledge add PATH|URL...`")
    return 0


def run_remove(args: argparse.Namespace, reporter: Reporter) -> int:
    index = KnowledgeIndex(index_path())
    base = args.kb or DEFAULT_BASE
    if index.embedder_of(base) is None:
        raise KnowledgeError(f"no knowledge base named {base!r}")
    if not args.paths:
        if not args.kb:
            raise UserError("name what to remove: PATH... or --kb NAME")
        count = index.remove_base(base)
        reporter.info(f"removed knowledge base {base!r} ({count} documents)")
        return 0
    for path in args.paths:
        stored = path if is_url(path) else str(Path(path).expanduser().resolve())
        removed = index.remove(base, stored)
        if not removed:
            raise KnowledgeError(f"{path}: not in knowledge base {base!r}")
        for doc in removed:
            reporter.info(f"removed {doc}")
    return 0


def run_search(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.k < 1:
        raise UserError("-k must be 1 or more")
    if args.min_score is not None and not 0 <= args.min_score <= 1:
        raise UserError("--min-score must be between 0 and 1")
    base = KnowledgeBase(KnowledgeIndex(index_path()), args.kb)
    if not base.exists():
        raise KnowledgeError(f"no knowledge base named {args.kb!r} (add documents with `hark knowledge add`)")
    passages = base.retrieve(args.query, args.k, args.min_score)
    for passage in passages:
        if args.json:
            print(json.dumps(passage.to_json(), ensure_ascii=False))
            continue
        print(f"[{passage.score:.2f}] {passage.place}  ({passage.path})")
        print(f"    {passage.text}")
    if not passages:
        reporter.info("nothing relevant found")
    return 0
