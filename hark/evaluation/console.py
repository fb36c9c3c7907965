"""The readable console summary: one line per case, and for a failure what failed and what was said."""

from __future__ import annotations

from hark.evaluation.runner import CaseResult, SuiteResult, Verdict

MARKS = {Verdict.PASSED: "PASS", Verdict.FAILED: "FAIL", Verdict.SKIPPED: "SKIP"}
INDENT = " " * 6


def case_lines(result: CaseResult) -> list[str]:
    runs = len(result.runs)
    passed_runs = sum(r.passed for r in result.runs)
    head = f"{MARKS[result.verdict]}  {result.case.name}"
    if runs > 1:
        head += f"  ({passed_runs}/{runs} runs passed, {result.pass_rate:.0%})"
    lines = [head]
    if result.verdict is Verdict.FAILED:
        for turn in result.shown_run.turns:
            if turn.passed:
                continue
            where = f"turn {turn.index} (line {turn.line})"
            lines += [f"{INDENT}{where} {c.expect}: {c.reason}" for c in turn.failures]
            said = f"you (heard): {turn.user}" if turn.audio else f"you:  {turn.user}"
            lines += [f"{INDENT}  {said}", f"{INDENT}  hark: {turn.reply or '(no reply)'}"]
    lines += [f"{INDENT}skipped {c.expect}: {c.reason}" for c in result.skips()]
    return lines


def summary_line(result: SuiteResult) -> str:
    counts = ", ".join(f"{result.count(v)} {v.value}" for v in Verdict)
    return f"suite {result.suite.name!r}: {counts} ({len(result.cases)} cases in {result.duration_s:.1f}s)"
