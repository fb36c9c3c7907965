"""The readable console summary: one line per case, and for a failure what failed and what was said."""

from __future__ import annotations

from hark.evaluation.compare import LATENCIES, Comparison, Tally, latencies, latency_summary
from hark.evaluation.fisher import ALPHA
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


def comparison_lines(comparison: Comparison) -> list[str]:
    """The A/B table: each case's passes on A and B, the difference, the p-value that B is worse, the call."""
    a, b = comparison.label_a, comparison.label_b
    width = max(24, *(len(c.name) + 2 for c in comparison.cases))
    lines = [
        f"A/B: A = {a}, B = {b} (one-sided Fisher's exact test, alpha {float(ALPHA):g})",
        f"{'case':<{width}}{a:>14}{b:>14}{'diff':>8}{'p(B worse)':>12}  verdict",
    ]
    rows = [
        (c.name, c.difference, " [must not regress]" if c.a.case.must_not_regress else "")
        for c in comparison.cases
    ]
    for name, d, note in [*rows, ("overall", comparison.overall, "")]:
        lines.append(
            f"{name:<{width}}{_tally(d.a):>14}{_tally(d.b):>14}{d.delta:>+8.0%}{float(d.p_worse):>12.4f}  "
            f"{d.verdict}{note}"
        )
    for case in comparison.cases:
        if case.changed:
            lines.append(
                f"changed: {case.name}: {MARKS[case.a.verdict]} on {a} → {MARKS[case.b.verdict]} on {b}"
            )
    lines.append(f"{'latency (s)':<16}{a + ' p50/p90':>24}{b + ' p50/p90':>24}")
    for name in LATENCIES:
        sides = [latency_summary(latencies(r, name)) for r in (comparison.a, comparison.b)]
        if any(s["count"] for s in sides):
            cells = [f"{s['p50']:.2f}/{s['p90']:.2f}" if s["count"] else "-" for s in sides]
            lines.append(f"  {name:<14}{cells[0]:>24}{cells[1]:>24}")
    for case in comparison.regressions:
        lines.append(f"REGRESSION: {case.name} (must not regress) is significantly worse on {b}")
    return lines


def _tally(tally: Tally) -> str:
    return f"{tally.passed}/{tally.runs} {tally.rate:.0%}"
