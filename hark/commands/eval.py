"""`hark eval SUITE.yaml`: run a dialogue test suite, typed or spoken, and report what passed.

Exit codes: 0 when every selected case passed (or was skipped), 1 when any failed, 2 for an invalid suite,
a missing file or a model that was asked for by name and is not there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from dialogue.manager import DialogueManager
from hark import assembly
from hark.commands.common import (
    CONVERSATION,
    LLM,
    SPEAKING,
    add_config_args,
    add_json_arg,
    config_from_args,
)
from hark.config import HarkConfig
from hark.errors import UserError
from hark.evaluation.console import case_lines, summary_line
from hark.evaluation.expectations import Services, Unavailable
from hark.evaluation.judge import make_judge
from hark.evaluation.report import write_report
from hark.evaluation.runner import CaseResult, Inputs, Pipeline, Runner, SuiteResult, load_inputs
from hark.evaluation.similarity import make_embedder
from hark.evaluation.suite import Case, Suite, has_spoken_turns, load_suite, uses
from hark.report import Reporter

MODEL_TIMEOUT_S = 60.0
UNUSED = Unavailable("not used by the selected cases")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="run a dialogue test suite (YAML) and report what passed")
    p.add_argument("suite", metavar="SUITE.yaml", help="the suite to run")
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
    add_json_arg(p)
    add_config_args(p, *LLM, *CONVERSATION, "--stt-model", *SPEAKING)  # --persona overrides the suite's
    p.set_defaults(run=run)


def make_manager(config: HarkConfig, reporter: Reporter) -> DialogueManager:
    """The manager the suite talks to, wired exactly as the other commands wire theirs (persona, config,
    guardrails, memory, recovery, vision). Evaluation conversations are not the user's: never saved."""
    return assembly.build_manager(config, reporter, keep=False, tool_events=False)  # stdout: the results


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.repeat < 1:
        raise UserError("--repeat must be at least 1")
    if not 0 < args.min_pass_rate <= 1:
        raise UserError("--min-pass-rate must be more than 0 and at most 1")
    if args.report:
        check_report_path(Path(args.report))
    suite = load_suite(args.suite)
    cases = select(suite, args.select)
    inputs = load_inputs(suite, cases)
    config = config_from_args(args)
    if suite.persona and config.origin("dialogue.persona").kind != "flag":
        config = config.replaced("dialogue.persona", suite.persona)
    manager = make_manager(config, reporter)
    try:
        result = evaluate(args, config, reporter, suite, cases, inputs, manager)
    finally:
        assembly.close_manager(manager)
    if args.report:
        reporter.info(f"report written to {write_report(result, args.report)}")
    if args.json:
        reporter.event(result.to_json())
    return 1 if result.failed else 0


def evaluate(
    args: argparse.Namespace,
    config: HarkConfig,
    reporter: Reporter,
    suite: Suite,
    cases: tuple[Case, ...],
    inputs: Inputs,
    manager: DialogueManager,
) -> SuiteResult:
    backend = manager.backend
    services = Services(
        judge=make_judge(args.judge_model, backend, config.llm.ollama_host or None, MODEL_TIMEOUT_S)
        if uses(cases, "judge")
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
    )
    setup = {"model": backend.describe(), "persona": f"{manager.persona.name} ({manager.persona.source})"}
    for name, service in (("judge", services.judge), ("embeddings", services.embedder)):
        setup[name] = service.reason if isinstance(service, Unavailable) else service.describe()
    show = reporter.info if args.json else print

    def on_case(result: CaseResult) -> None:
        for line in case_lines(result):
            show(line)

    result = Runner(pipeline, args.repeat, args.min_pass_rate, on_case).run(suite, cases, inputs, setup)
    show(summary_line(result))
    return result


def fresh_conversation(manager: DialogueManager) -> Callable[[], DialogueManager]:
    """Each case starts a new conversation on the same manager (`reset()` forgets history and summary), so
    the models are loaded, checked and warmed up once per suite rather than once per case."""

    def fresh() -> DialogueManager:
        manager.reset()
        return manager

    return fresh


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
