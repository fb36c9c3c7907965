"""`hark stats`: what the analytics recorded: turns, p50/p90 latencies, error and interruption rates,
feedback, the latest turns with their ids (to rate them with `hark feedback`), and an HTML dashboard."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from dialogue.analytics import read_stats, read_turns
from hark.commands.common import add_json_arg
from hark.commands.eval import check_report_path
from hark.dashboard import dashboard
from hark.errors import UserError
from hark.paths import analytics_path
from hark.report import Reporter

SHOWN_CHARS = 60


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats", help="analytics of the recorded turns (latencies, error and interruption rates, feedback)"
    )
    p.add_argument("--days", type=float, help="only the turns of the last DAYS days")
    p.add_argument(
        "--turns", type=int, default=0, metavar="N", help="also list the last N turns with their ids"
    )
    p.add_argument("--html", metavar="FILE", help="also write the dashboard: one self-contained HTML page")
    add_json_arg(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.days is not None and not (math.isfinite(args.days) and args.days > 0):
        raise UserError(f"--days must be a number more than 0, not {args.days}")
    if args.turns < 0:
        raise UserError("--turns must be 0 or more")
    path = analytics_path()
    if args.html:
        check_report_path(Path(args.html))
        Path(args.html).write_text(dashboard(path, args.days), encoding="utf-8")
        reporter.info(f"dashboard written to {args.html}")
    stats = read_stats(path, args.days)
    if args.turns:
        stats["recent"] = [_brief(r) for r in read_turns(path, args.days)[-args.turns :]]
    if args.json:
        print(json.dumps(stats))
        return 0
    for line in human(stats):
        print(line)
    return 0


def _brief(row: dict) -> dict:
    """A turn as `--turns` lists it: what `hark feedback` needs to pick it out."""
    keys = ("id", "at", "conversation_id", "user", "reply", "interrupted", "feedback")
    return {k: row[k] for k in keys}


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def human(stats: dict) -> list[str]:
    total = stats["turns"]
    if not total:
        return ["no turns recorded yet"]
    rates = stats["rates"]
    feedback = stats["feedback"]
    lines = [
        f"{total} turns in {stats['conversations']} conversations, {stats['first']} to {stats['last']}",
        f"errors {stats['errors']} ({rates['error']:.1%}), interrupted {stats['interrupted']} "
        f"({rates['interruption']:.1%}), blocked {stats['blocked']} ({rates['blocked']:.1%}), "
        f"reprompts {stats['reprompts']} ({rates['reprompt']:.1%}), fallbacks {stats['fallbacks']}",
        f"feedback: {feedback['good']} good, {feedback['bad']} bad ({feedback['bad_rate']:.1%} of rated bad)",
    ]
    if stats["latency_s"]:
        lines.append(f"{'latency (s)':<22}{'p50':>8}{'p90':>8}{'turns':>7}")
        for stage, value in stats["latency_s"].items():
            lines.append(f"  {stage:<20}{value['p50']:>8.3f}{value['p90']:>8.3f}{value['count']:>7}")
    tokens = stats["tokens"]
    lines.append(f"tokens: {tokens['prompt_total']} in prompts, {tokens['reply_total']} in replies")
    if stats["models"]:
        lines.append("models: " + ", ".join(f"{m} ({n})" for m, n in stats["models"].items()))
    if stats["guardrails"]:
        lines.append("guardrails: " + ", ".join(f"{g} ({n})" for g, n in stats["guardrails"].items()))
    for row in stats.get("recent", []):
        rated = f" [{row['feedback']}]" if row["feedback"] else ""
        lines.append(f"  #{row['id']}{rated} you: {_short(row['user'])} | hark: {_short(row['reply'])}")
    return lines
