"""`hark eval SUITE.yaml`: run a dialogue test suite, typed or spoken, and report what passed.

Exit codes: 0 when every selected case passed (or was skipped), 1 when any failed, 2 for an invalid suite,
a missing file or a model that was asked for by name and is not there. With `--compare A.toml B.toml`: 1 when
B is significantly worse than A on a case marked `must_not_regress`, else 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from dialogue.analytics import read_turns
from dialogue.feedback import RATINGS
from dialogue.guardrails import Guardrails
from dialogue.manager import DialogueManager
from hark import assembly
from hark.commands.common import (
    CONVERSATION,
    LISTENING,
    LLM,
    SPEAKING,
    add_config_args,
    add_json_arg,
    config_from_args,
)
from hark.config import HarkConfig
from hark.errors import UserError
from hark.evaluation.compare import Comparison
from hark.evaluation.compare_report import write_comparison_report
from hark.evaluation.console import case_lines, comparison_lines, summary_line
from hark.evaluation.draft import draft_suite, parse_since
from hark.evaluation.expectations import Services, Unavailable
from hark.evaluation.judge import make_judge
from hark.evaluation.report import write_report
from hark.evaluation.runner import CaseResult, Inputs, Pipeline, Runner, SuiteResult, load_inputs
from hark.evaluation.similarity import make_embedder
from hark.evaluation.suite import Case, Suite, has_spoken_turns, load_suite, uses
from hark.paths import analytics_path
from hark.report import Reporter

MODEL_TIMEOUT_S = 60.0
UNUSED = Unavailable("not used by the selected cases")
DRAFT = "draft"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="run a dialogue test suite (YAML) and report what passed")
    p.add_argument(
        "suite",
        metavar="SUITE.yaml",
        help=f"the suite to run; `{DRAFT}` writes draft cases (--from-feedback)",
    )
    p.add_argument(
        "-k",
        dest="select",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only the cases whose name contains PATTERN (case-insensitive; repeat for more)",
    )
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="run each case N times (default 1)")
    p.add_argument(
        "--min-pass-rate",
        type=float,
        default=1.0,
        metavar="RATE",
        help="with --repeat, the share of runs a case must pass, 0-1 (default 1: every run)",
    )
    p.add_argument("--report", metavar="FILE.html", help="also write an HTML report")
    p.add_argument(
        "--judge-model",
        metavar="NAME",
        help="Ollama model for `judge` checks (default: the model under test)",
    )
    p.add_argument(
        "--embed-model",
        metavar="NAME",
        help="Ollama embedding model for `similar_to` (default: the first found)",
    )
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("A.toml", "B.toml"),
        help="A/B: run the suite on both configurations and compare pass rates (exit 1 when B is "
        "significantly worse on a `must_not_regress` case)",
    )
    p.add_argument(
        "--from-feedback",
        choices=RATINGS,
        help=f"with `{DRAFT}`: print draft cases (YAML) from the recorded turns users rated so",
    )
    p.add_argument(
        "--since", metavar="PERIOD", help=f"with `{DRAFT}`: only turns of the last PERIOD (7d, 12h)"
    )
    add_json_arg(p)
    add_config_args(
        p, *LLM, *CONVERSATION, *LISTENING, *SPEAKING, "--turn-taking", "--barge-in-min", "--kb"
    )  # --persona overrides the suite's
    p.set_defaults(run=run)


def make_manager(config: HarkConfig, reporter: Reporter) -> DialogueManager:
    """The manager the suite talks to, wired exactly as the other commands wire theirs (persona, config,
    guardrails, memory, recovery, vision). Evaluation conversations are not the user's: never saved."""
    return assembly.build_manager(config, reporter, keep=False, tool_events=False)  # stdout: the results


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.suite == DRAFT:
        return draft(args, reporter)
    if args.from_feedback or args.since:
        raise UserError(f"--from-feedback and --since go with `hark eval {DRAFT}`")
    if args.repeat < 1:
        raise UserError("--repeat must be at least 1")
    if not 0 < args.min_pass_rate <= 1:
        raise UserError("--min-pass-rate must be more than 0 and at most 1")
    if args.report:
        check_report_path(Path(args.report))
    suite = load_suite(args.suite)
    cases = select(suite, args.select)
    inputs = load_inputs(suite, cases)
    if args.compare:
        return run_comparison(args, reporter, suite, cases, inputs)
    result = run_suite(args, config_from_args(args), reporter, suite, cases, inputs)
    if args.report:
        reporter.info(f"report written to {write_report(result, args.report)}")
    if args.json:
        reporter.event(result.to_json())
    return 1 if result.failed else 0


def run_suite(
    args: argparse.Namespace,
    config: HarkConfig,
    reporter: Reporter,
    suite: Suite,
    cases: tuple[Case, ...],
    inputs: Inputs,
    label: str = "",
) -> SuiteResult:
    """The suite on one configuration. The suite's persona applies unless the persona was set on the
    command line, or (in an A/B comparison, where the persona may be what is compared) in the config file."""
    keep = ("flag", "file") if label else ("flag",)
    if suite.persona and config.origin("dialogue.persona").kind not in keep:
        config = config.replaced("dialogue.persona", suite.persona)
    manager = make_manager(config, reporter)
    try:
        return evaluate(args, config, reporter, suite, cases, inputs, manager, label)
    finally:
        assembly.close_manager(manager)


def run_comparison(
    args: argparse.Namespace, reporter: Reporter, suite: Suite, cases: tuple[Case, ...], inputs: Inputs
) -> int:
    paths = [Path(p) for p in args.compare]
    labels = config_labels(paths)
    a, b = (
        run_suite(
            args,
            config_from_args(argparse.Namespace(**{**vars(args), "config": str(path)})),
            reporter,
            suite,
            cases,
            inputs,
            label,
        )
        for path, label in zip(paths, labels, strict=True)
    )
    comparison = Comparison(labels[0], labels[1], a, b)
    show = reporter.info if args.json else print
    for line in comparison_lines(comparison):
        show(line)
    if args.report:
        reporter.info(f"report written to {write_comparison_report(comparison, args.report)}")
    if args.json:
        reporter.event(comparison.to_json())
    return 1 if comparison.regressions else 0


def config_labels(paths: list[Path]) -> list[str]:
    """Each configuration's file name (`A.toml`), or its path as given when the names are the same; two
    names for one file is a mistake, not a comparison."""
    for path in paths:
        if not path.is_file():
            raise UserError(f"--compare {path}: no such file")
    if os.path.samefile(paths[0], paths[1]):
        raise UserError(
            f"--compare {paths[0]} {paths[1]}: both are the same file; compare two configurations"
        )
    names = [p.name for p in paths]
    return names if names[0] != names[1] else [str(p) for p in paths]


def evaluate(
    args: argparse.Namespace,
    config: HarkConfig,
    reporter: Reporter,
    suite: Suite,
    cases: tuple[Case, ...],
    inputs: Inputs,
    manager: DialogueManager,
    label: str = "",
) -> SuiteResult:
    backend = manager.backend
    services = Services(
        judge=make_judge(args.judge_model, backend, config.llm.ollama_host or None, MODEL_TIMEOUT_S)
        if uses(cases, "judge") or uses(cases, "grounded")
        else UNUSED,
        embedder=make_embedder(args.embed_model, config.llm.ollama_host or None, MODEL_TIMEOUT_S)
        if uses(cases, "similar_to")
        else UNUSED,
    )
    spoken = has_spoken_turns(cases)
    pipeline = Pipeline(
        fresh_conversation(manager),
        services,
        transcriber=assembly.build_transcriber(config, reporter) if spoken else None,
        speaker=assembly.build_speaker(config, reporter) if spoken else None,
        config=config,
    )
    setup = {"model": backend.describe(), "persona": f"{manager.persona.name} ({manager.persona.source})"}
    for name, service in (("judge", services.judge), ("embeddings", services.embedder)):
        setup[name] = service.reason if isinstance(service, Unavailable) else service.describe()
    if label:
        setup["config"] = label
    prefix = f"[{label}] " if label else ""
    show = reporter.info if args.json else print

    def on_case(result: CaseResult) -> None:
        for line in case_lines(result):
            show(prefix + line)

    result = Runner(pipeline, args.repeat, args.min_pass_rate, on_case).run(suite, cases, inputs, setup)
    show(prefix + summary_line(result))
    return result


def fresh_conversation(manager: DialogueManager) -> Callable[[], DialogueManager]:
    """Each case starts a new conversation on the same manager (`reset()` forgets history and summary), so
    the models are loaded, checked and warmed up once per suite rather than once per case."""

    def fresh() -> DialogueManager:
        manager.reset()
        return manager

    return fresh


def draft(args: argparse.Namespace, reporter: Reporter) -> int:
    """`hark eval draft --from-feedback bad [--since 7d] > cases.yaml`."""
    if not args.from_feedback:
        raise UserError(f"`hark eval {DRAFT}` needs --from-feedback good|bad")
    config = config_from_args(args)
    days = parse_since(args.since) if args.since else None
    rows = read_turns(analytics_path(), days)
    title = f"drafts from turns rated {args.from_feedback}" + (
        f" in the last {args.since}" if args.since else ""
    )
    text, count = draft_suite(rows, args.from_feedback, Guardrails(config.guardrails).redact, title)
    sys.stdout.write(text)
    reporter.info(f"{count} draft case(s) from turns rated {args.from_feedback}")
    return 0


def check_report_path(path: Path) -> None:
    """Fail before the run, not after it, when the report could not be written."""
    if path.is_dir():
        raise UserError(f"--report {path} is a directory: give a file name such as {path / 'report.html'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--report {path}: cannot create its folder ({exc.strerror})") from exc


def select(suite: Suite, patterns: list[str]) -> tuple[Case, ...]:
    cases = suite.select(patterns)
    if not cases:
        names = ", ".join(repr(c.name) for c in suite.cases)
        raise UserError(f"no case matches -k {' -k '.join(patterns)}; the cases are: {names}")
    return cases
