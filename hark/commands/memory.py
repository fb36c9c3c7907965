"""`hark memory list|forget|export`: what Hark remembers about a user, and taking it back."""

from __future__ import annotations

import argparse
import json

from dialogue.usermemory import FactStore
from hark.commands.common import add_config_args, add_json_arg, config_from_args
from hark.errors import UserError
from hark.paths import user_memory_path
from hark.report import Reporter


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
    add_config_args(parser, "--user")


def _user(args: argparse.Namespace) -> str:
    """`--user`, else the configured user (`memory.user`, "default" for a home install)."""
    return config_from_args(args).memory.user


def run_list(args: argparse.Namespace, reporter: Reporter) -> int:
    user = _user(args)
    facts = FactStore(user_memory_path()).facts(user)
    for fact in facts:
        if args.json:
            print(json.dumps(fact.to_json(), ensure_ascii=False))
        else:
            print(f"{fact.id:>4}  {fact.text}" + ("  [personal]" if fact.personal else ""))
    if not facts:
        reporter.info(f"nothing remembered about {user!r}")
    return 0


def run_forget(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.all == bool(args.ids):
        raise UserError("name the facts to forget (ID..., see `hark memory list`) or give --all")
    user = _user(args)
    store = FactStore(user_memory_path())
    if args.all:
        count = store.forget_all(user)
    else:
        count = store.forget(user, args.ids)
        if count < len(set(args.ids)):
            missing = len(set(args.ids)) - count
            raise UserError(f"{missing} of the numbers given are not facts about {user!r} (forgot {count})")
    reporter.info(f"forgot {count} {'fact' if count == 1 else 'facts'} about {user!r}")
    return 0


def run_export(args: argparse.Namespace, reporter: Reporter) -> int:
    user = _user(args)
    facts = FactStore(user_memory_path()).facts(user)
    document = {"user": user, "store": str(user_memory_path()), "facts": [f.to_json() for f in facts]}
    print(json.dumps(document, ensure_ascii=False, indent=None if args.json else 2))
    return 0
