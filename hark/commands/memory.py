"""`hark memory list|forget|export`: what Hark remembers about a user, and taking it back."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dialogue.usermemory import DB_NAME, DEFAULT_USER, FactStore
from hark.commands.common import add_json_arg
from hark.errors import UserError
from hark.paths import data_dir
from hark.report import Reporter


def memory_path() -> Path:
    return data_dir() / DB_NAME


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("memory", help="what Hark remembers about a user: list, forget, export")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))

    lst = actions.add_parser("list", help="the facts kept about a user")
    _add_user_arg(lst)
    add_json_arg(lst)
    lst.set_defaults(run=run_list)

    forget = actions.add_parser("forget", help="forget facts by number (see `list`), or --all")
    forget.add_argument("ids", nargs="*", type=int, metavar="ID")
    forget.add_argument("--all", action="store_true", help="everything about the user")
    _add_user_arg(forget)
    forget.set_defaults(run=run_forget)

    export = actions.add_parser("export", help="everything stored about a user, as one JSON document")
    _add_user_arg(export)
    add_json_arg(export)
    export.set_defaults(run=run_export)


def _add_user_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", default=DEFAULT_USER, metavar="NAME", help=f"whose memory ({DEFAULT_USER})")


def run_list(args: argparse.Namespace, reporter: Reporter) -> int:
    facts = FactStore(memory_path()).facts(args.user)
    for fact in facts:
        if args.json:
            print(json.dumps(fact.to_json(), ensure_ascii=False))
        else:
            print(f"{fact.id:>4}  {fact.text}" + ("  [personal]" if fact.personal else ""))
    if not facts:
        reporter.info(f"nothing remembered about {args.user!r}")
    return 0


def run_forget(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.all == bool(args.ids):
        raise UserError("name the facts to forget (ID..., see `hark memory list`) or give --all")
    store = FactStore(memory_path())
    if args.all:
        count = store.forget_all(args.user)
    else:
        count = store.forget(args.user, args.ids)
        if count < len(set(args.ids)):
            missing = len(set(args.ids)) - count
            raise UserError(
                f"{missing} of the numbers given are not facts about {args.user!r} (forgot {count})"
            )
    reporter.info(f"forgot {count} {'fact' if count == 1 else 'facts'} about {args.user!r}")
    return 0


def run_export(args: argparse.Namespace, reporter: Reporter) -> int:
    facts = FactStore(memory_path()).facts(args.user)
    document = {"user": args.user, "store": str(memory_path()), "facts": [f.to_json() for f in facts]}
    print(json.dumps(document, ensure_ascii=False, indent=None if args.json else 2))
    return 0
