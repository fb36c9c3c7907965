"""`hark bench latency`: measure end of speech to first reply audio against a sequential baseline."""

from __future__ import annotations

import argparse
import json

from hark.commands.common import LISTENING, LLM, add_config_args, config_from_args
from hark.config import HarkConfig
from hark.errors import UserError
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (embedded models): `hark bench latency`, `hark bench serve`")
    p.add_argument("which", choices=["latency", "serve"], help="what to measure")
    p.add_argument("--sessions", type=int, default=4, help="serve: most simultaneous sessions (4)")
    p.add_argument("--turns", type=int, default=10, help="questions to ask (10)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    add_config_args(p, *LLM, *LISTENING)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    from hark.benchmark import latency

    if args.which == "serve":
        return run_serve(args, reporter)
    if not 1 <= args.turns <= 100:
        raise UserError("--turns must be between 1 and 100")
    reporter.info(
        f"benchmarking {args.turns} spoken questions in real time, Hark then the sequential baseline"
    )
    result = latency.run(reference_config(args), reporter, turns=args.turns)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"end of speech to first audio: median {result['median_eos_to_first_audio_s']:.3f}s, "
        f"p90 {result['p90_eos_to_first_audio_s']:.3f}s over {result['turns']} turns"
    )
    print(f"sequential baseline: median {result['baseline_median_s']:.3f}s -> speedup {result['speedup']}x")
    print(f"breakdown: {json.dumps(result['breakdown'])}")
    print(f"barge-in stop: {json.dumps(result['barge_in_stop'])}")
    idle = result["idle_cpu_share_of_one_core"] * 100
    print(f"idle CPU {idle:.1f}% of one core, RSS peak {result['rss_peak_mb']} MB")
    return 0


def reference_config(args: argparse.Namespace) -> HarkConfig:
    config = config_from_args(args)
    if config.origin("llm.backend").kind == "default":
        config = config.replaced("llm.backend", "embedded")  # the benchmark's reference: the embedded models
    return config


def run_serve(args: argparse.Namespace, reporter: Reporter) -> int:
    from hark.benchmark import serve

    if not 1 <= args.sessions <= 64:
        raise UserError("--sessions must be between 1 and 64")
    result = serve.run(reference_config(args), reporter, args.sessions)
    if args.json:
        print(json.dumps(result))
        return 0
    nan = float("nan")
    for row in result["by_sessions"]:
        p50, p90 = row.get("p50_first_audio_s", nan), row.get("p90_first_audio_s", nan)
        answered = f"{row['answered']}/{row['turns']} answered"
        print(f"{row['sessions']:>3} sessions: first audio p50 {p50:.3f}s, p90 {p90:.3f}s ({answered})")
    largest = result["largest_sessions_p90_under_1_5_s"]
    print(f"largest N with p90 under 1.5 s: {largest} ({result['backend']})")
    return 0
