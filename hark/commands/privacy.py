"""`hark privacy purge|export`: delete what Hark stored about conversations, or hand all of it over.

What is stored where is in the README ("What Hark stores"): conversations (for `--resume`) and analytics
(per-turn timings and outcomes, PII-redacted) in `$HARK_HOME`; personal facts are `hark memory`'s.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from dialogue.analytics import Analytics
from dialogue.store import ConversationStore
from hark.errors import UserError
from hark.paths import analytics_path, conversations_path
from hark.report import Reporter

DAY_S = 86_400.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("privacy", help="delete stored conversations and analytics, or export them")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    purge = actions.add_parser("purge", help="delete stored conversations and analytics")
    purge.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="only what is older than DAYS (default: all)",
    )
    purge.add_argument("--json", action="store_true", help="one JSON line with the counts")
    purge.set_defaults(run=run_purge)
    export = actions.add_parser("export", help="print every stored conversation and analytics row as JSON")
    export.set_defaults(run=run_export)


def _cutoff(days: float | None) -> float:
    if days is None:
        return math.inf
    if not (days >= 0 and math.isfinite(days)):
        raise UserError(f"--older-than must be a number of days, 0 or more (got {days})")
    return time.time() - days * DAY_S


def _stores() -> tuple[ConversationStore | None, Analytics | None]:
    """The stores that exist (nothing is created just to be emptied or exported)."""
    conversations = conversations_path()
    turns = analytics_path()
    return (
        ConversationStore(conversations, retention_days=None) if conversations.exists() else None,
        Analytics(turns, retention_days=None) if turns.exists() else None,
    )


def run_purge(args: argparse.Namespace, reporter: Reporter) -> int:
    before = _cutoff(args.older_than)
    conversations, turns = _stores()
    counts = {"conversations": 0, "turns": 0}
    for name, store in (("conversations", conversations), ("turns", turns)):
        if store is not None:
            counts[name] = store.delete_before(before)
            store.close()
    if args.json:
        print(json.dumps(counts))
    else:
        print(f"deleted {counts['conversations']} conversation(s) and {counts['turns']} analytics row(s)")
    return 0


def run_export(args: argparse.Namespace, reporter: Reporter) -> int:
    conversations, turns = _stores()
    data = {
        "conversations": conversations.export() if conversations is not None else [],
        "turns": turns.export() if turns is not None else [],
    }
    for store in (conversations, turns):
        if store is not None:
            store.close()
    print(json.dumps(data, ensure_ascii=False))
    return 0
