"""`hark feedback TURN_ID good|bad [NOTE]`: rate a recorded turn (its id is in `hark stats --turns N`)."""

from __future__ import annotations

import argparse

from dialogue.analytics import Analytics
from dialogue.feedback import RATINGS
from dialogue.guardrails import Guardrails
from hark.commands.common import add_config_args, config_from_args
from hark.errors import UserError
from hark.paths import analytics_path
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("feedback", help="rate a recorded turn good or bad (see `hark stats --turns 10`)")
    p.add_argument("turn_id", type=int, metavar="TURN_ID", help="the turn's id in the analytics")
    p.add_argument("rating", choices=RATINGS, help="good or bad")
    p.add_argument("note", nargs="?", help="what was wrong or right (PII is redacted)")
    add_config_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = config_from_args(args)
    path = analytics_path()
    if not path.exists():
        raise UserError(f"no turns are recorded yet ({path} does not exist)")
    analytics = Analytics(path, Guardrails(config.guardrails).redact, config.privacy.retention_days)
    try:
        if not analytics.set_feedback(args.turn_id, args.rating, args.note, source="cli"):
            raise UserError(f"no turn {args.turn_id} in the analytics (see `hark stats --turns 10`)")
    finally:
        analytics.close()
    reporter.info(f"turn {args.turn_id} rated {args.rating}")
    return 0
