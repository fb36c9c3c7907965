"""`hark stats`: what the analytics recorded: turns, p50/p90 latencies, error and interruption rates."""

from __future__ import annotations

import argparse
import json

from dialogue.analytics import read_stats
from hark.commands.common import add_json_arg
from hark.errors import UserError
from hark.paths import analytics_path
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats", help="analytics of the recorded turns (latencies, error and interruption rates)"
    )
    p.add_argument("--days", type=float, help="only the turns of the last DAYS days")
    add_json_arg(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.days is not None and args.days <= 0:
        raise UserError("--days must be more than 0")
    stats = read_stats(analytics_path(), args.days)
    if args.json:
        print(json.dumps(stats))
        return 0
    for line in human(stats):
        print(line)
    return 0


def human(stats: dict) -> list[str]:
    total = stats["turns"]
    if not total:
        return ["no turns recorded yet"]
    rates = stats["rates"]
    lines = [
        f"{total} turns in {stats['conversations']} conversations, {stats['first']} to {stats['last']}",
        f"errors {stats['errors']} ({rates['error']:.1%}), interrupted {stats['interrupted']} "
        f"({rates['interruption']:.1%}), blocked {stats['blocked']} ({rates['blocked']:.1%}), "
        f"reprompts {stats['reprompts']} ({rates['reprompt']:.1%}), fallbacks {stats['fallbacks']}",
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
    return lines
