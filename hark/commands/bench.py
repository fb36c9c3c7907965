"""`hark bench latency`: end of speech to first reply audio against a sequential baseline.
`hark bench turns`: end-of-turn decisions on sentences with mid-sentence pauses, through the real loop."""

from __future__ import annotations

import argparse
import json

from hark.commands.common import LISTENING, LLM, add_config_args, config_from_args
from hark.config import HarkConfig
from hark.errors import UserError
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (embedded models): `hark bench latency|turns`")
    p.add_argument("which", choices=["latency", "turns"], help="what to measure")
    p.add_argument("--turns", type=int, default=10, help="latency: questions to ask (10)")
    p.add_argument("--repeats", type=int, default=1, help="turns: play the sample plan this many times (1)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    add_config_args(p, *LLM, *LISTENING)
    p.set_defaults(run=run)


def _config(args: argparse.Namespace) -> HarkConfig:
    config = config_from_args(args)
    if config.origin("llm.backend").kind == "default":
        config = config.replaced("llm.backend", "embedded")  # the benchmark's reference: the embedded models
    return config


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.which == "turns":
        return run_turns(args, reporter)
    from hark.benchmark import latency

    if not 1 <= args.turns <= 100:
        raise UserError("--turns must be between 1 and 100")
    reporter.info(
        f"benchmarking {args.turns} spoken questions in real time, Hark then the sequential baseline"
    )
    config = _config(args)
    result = latency.run(config, reporter, turns=args.turns)
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


def run_turns(args: argparse.Namespace, reporter: Reporter) -> int:
    from hark.benchmark import turns_live

    if not 1 <= args.repeats <= 20:
        raise UserError("--repeats must be between 1 and 20")
    reporter.info("playing sentences with and without mid-sentence pauses through the loop, in real time")
    result = turns_live.run(_config(args), reporter, repeats=args.repeats)
    samples = result.pop("samples")
    if args.json:
        for sample in samples:
            print(json.dumps(sample))
        print(json.dumps(result))
        return 0
    print(
        f"false cut-offs: {result['false_cutoff_rate']:.1%} of {result['n_paused']} paused sentences; "
        f"end-of-turn delay median {result['median_end_of_turn_delay_s']}s, "
        f"p90 {result['p90_end_of_turn_delay_s']}s"
    )
    print(
        f"end of speech to first audio: median {result['median_eos_to_first_audio_s']}s, "
        f"p90 {result['p90_eos_to_first_audio_s']}s over {result['n'] - result['n_paused']} questions"
    )
    share = result["turn_model_cpu_share_of_one_core"] * 100
    print(f"turn model: {share:.2f}% of one core while listening; RSS peak {result['rss_peak_mb']} MB")
    return 0
