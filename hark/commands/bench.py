"""`hark bench latency`: end of speech to first reply audio against a sequential baseline.
`hark bench turns`: end-of-turn decisions on sentences with mid-sentence pauses, through the real loop."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hark.commands.common import LISTENING, LLM, add_config_args, config_from_args
from hark.config import HarkConfig
from hark.errors import UserError
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks: `hark bench latency`, `turns`, `echo`, `barge-in`, `knowledge`, `serve`, "
        "`conversation`",
    )
    p.add_argument(
        "which",
        choices=["latency", "turns", "echo", "barge-in", "knowledge", "serve", "conversation"],
        help="latency: end of speech to first audio (embedded models); turns: end-of-turn decisions on "
        "paused and complete questions; echo: echo cancellation and barge-in over simulated echo paths; "
        "barge-in: a person stopping replies on an open speaker, through real (PulseAudio) devices; "
        "knowledge: retrieval recall and speed; serve: first audio with N sessions at once; conversation: "
        "the model's first token over one long conversation",
    )
    p.add_argument(
        "--turns",
        type=int,
        help="latency: questions to ask (10); conversation: turns of the conversation (30)",
    )
    p.add_argument("--repeats", type=int, default=1, help="turns: play the sample plan this many times (1)")
    p.add_argument("--trials", type=int, default=20, help="barge-in: interruptions to try (20)")
    p.add_argument(
        "--keep", type=Path, metavar="FOLDER", help="barge-in: keep the recording and Hark's events there"
    )
    p.add_argument("--sessions", type=int, default=4, help="serve: most simultaneous sessions (4)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--pages", type=int, default=120, help="knowledge: pages of the generated corpus (120)")
    p.add_argument("--chunks", type=int, default=10_000, help="knowledge: passages of the latency index")
    p.add_argument("--embed", default="auto", help="knowledge: the dense embedder (auto: MiniLM)")
    add_config_args(p, *LLM, *LISTENING)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.which == "knowledge":
        return run_knowledge(args, reporter)
    if args.which == "echo":
        return run_echo(args, reporter)
    if args.which == "barge-in":
        return run_barge_in(args, reporter)
    if args.which == "turns":
        return run_turns(args, reporter)
    if args.which == "serve":
        return run_serve(args, reporter)
    if args.which == "conversation":
        return run_conversation(args, reporter)
    from hark.benchmark import latency

    args.turns = 10 if args.turns is None else args.turns
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


def run_knowledge(args: argparse.Namespace, reporter: Reporter) -> int:
    """Recall@1/@3 of BM25 alone and hybrid on a generated corpus, the "nothing relevant" threshold,
    indexing speed, and retrieval latency at `--chunks` passages."""
    from hark.benchmark import knowledge

    if not 10 <= args.pages <= 5000 or not 100 <= args.chunks <= 200_000:
        raise UserError("--pages must be 10 to 5000 and --chunks 100 to 200000")
    result = knowledge.run(args.pages, args.chunks, args.embed, reporter.info)
    if args.json:
        print(json.dumps(result))
        return 0
    for mode in ("bm25", "hybrid"):
        if mode in result:
            r = result[mode]
            print(
                f"{mode}: recall@3 {r['recall_at_3']}, recall@1 {r['recall_at_1']}, "
                f"{r['index_pages_per_s']} pages/s indexed, off-topic rejected {r['off_topic_rejected']}"
            )
    print(f"latency at {args.chunks} passages: {json.dumps(result['latency'])}")
    return 0


def run_echo(args: argparse.Namespace, reporter: Reporter) -> int:
    from hark import assembly
    from hark.benchmark.echo import run_echo_bench

    config = config_from_args(args)
    speaker = assembly.build_speaker(config, reporter)
    reporter.info("playing replies through simulated echo paths, alone and with a person talking over them")
    result = run_echo_bench(speaker, barge_in_min_s=config.audio.barge_in_min_s)
    if not args.json:
        for path in result["paths"]:
            print(
                f"echo {path['delay_ms']} ms, {path['attenuation_db']:g} dB down: ERLE {path['erle_db']} dB, "
                f"{path['self_interruptions']} self-interruptions "
                f"({path['self_interruptions_without_aec']} without echo cancellation), "
                f"barge-in {path['barge_in_detected']}/{path['barge_in_trials']}"
            )
    summary = {key: value for key, value in result.items() if key != "paths"}
    print(json.dumps(summary if not args.json else result))
    return 0


def run_barge_in(args: argparse.Namespace, reporter: Reporter) -> int:
    from hark import assembly
    from hark.benchmark import barge_in

    if not 1 <= args.trials <= 200:
        raise UserError("--trials must be between 1 and 200")
    config = config_from_args(args)
    speaker = assembly.build_speaker(config, reporter)
    reporter.info(f"{args.trials} interruptions of replies on an open speaker, through a PulseAudio room")
    result = barge_in.run(speaker, args.trials, config.audio.barge_in_min_s, reporter.info, args.keep)
    if not args.json:
        print(
            f"stopped {result['detected']} of {result['trials']} replies; silent "
            f"{result['median_time_to_silence_s']} s (median), {result['p90_time_to_silence_s']} s (p90) "
            f"after {result['barge_in_min_s']} s of speech; silent within 0.15 s in "
            f"{result['in_time_rate']} of them ({result['in_time_after_detectable_rate']} from where the "
            "rule could fire); "
            f"{result['self_interruptions']} self-interruptions over {result['replies']} replies"
        )
    print(json.dumps(result))
    return 0


def run_turns(args: argparse.Namespace, reporter: Reporter) -> int:
    from hark.benchmark import turns_live

    if not 1 <= args.repeats <= 20:
        raise UserError("--repeats must be between 1 and 20")
    reporter.info("playing sentences with and without mid-sentence pauses through the loop, in real time")
    result = turns_live.run(reference_config(args), reporter, repeats=args.repeats)
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


def reference_config(args: argparse.Namespace) -> HarkConfig:
    config = config_from_args(args)
    if config.origin("llm.backend").kind == "default":
        config = config.replaced("llm.backend", "embedded")  # the benchmark's reference: the embedded models
    return config


def run_conversation(args: argparse.Namespace, reporter: Reporter) -> int:
    from hark.benchmark import conversation

    turns = 30 if args.turns is None else args.turns
    if not 1 <= turns <= 200:
        raise UserError("--turns must be between 1 and 200")
    reporter.info(f"asking {turns} questions in one conversation")
    result = conversation.run(reference_config(args), reporter, turns)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"first token: median {result['median_first_token_s']}s, p90 {result['p90_first_token_s']}s, "
        f"longest {result['max_first_token_s']}s over {turns} turns ({result['llm']})"
    )
    return 0


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
