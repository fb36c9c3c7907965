"""The A/B report: one self-contained HTML page (inline CSS and SVG), each configuration named by its file.

The overview table gives each case's passes on A and B, the difference, the p-value and the call; the
latency figure puts both configurations' distributions on one scale (each turn a dot, the median a bar);
then each case that changed outcome with what A and B replied.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from hark.evaluation.compare import LATENCIES, CaseComparison, Comparison, Difference, latencies
from hark.evaluation.console import MARKS
from hark.evaluation.report import STYLE
from hark.evaluation.runner import CaseResult

ROW = 22
LABEL = 190
WIDTH = 520
COLOURS = ("#3d7dd8", "#e07b39")
NONE = '<p class="meta">none</p>'

EXTRA_STYLE = """
.verdict-worse { color: #c92a2a; font-weight: 600; } .verdict-better { color: #2f9e44; font-weight: 600; }
.side { display: inline-block; vertical-align: top; width: 48%; margin-right: 2%; }
"""


def write_comparison_report(comparison: Comparison, path: str | Path) -> Path:
    out = Path(path)
    out.write_text(render_comparison(comparison), encoding="utf-8")
    return out


def render_comparison(comparison: Comparison) -> str:
    a, b = escape(comparison.label_a), escape(comparison.label_b)
    title = f"{escape(comparison.a.suite.name)}: {a} vs {b}"
    rows = "".join(_row(c.name, c.difference, c) for c in comparison.cases)
    rows += _row("overall", comparison.overall, None)
    changed = "".join(_changed(c, comparison) for c in comparison.cases if c.changed)
    setups = "".join(
        f'<div class="side"><h2>{escape(label)}</h2><dl class="setup">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in result.setup.items())
        + "</dl></div>"
        for label, result in ((comparison.label_a, comparison.a), (comparison.label_b, comparison.b))
    )
    regressions = comparison.regressions
    summary = (
        f"{len(regressions)} must-not-regress case(s) significantly worse on {b}"
        if regressions
        else f"no must-not-regress case is significantly worse on {b}"
    )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>hark eval A/B: {title}</title>'
        f"<style>{STYLE}{EXTRA_STYLE}</style></head><body><header><h1>{title}</h1>"
        f'<p class="summary" data-regressions="{len(regressions)}">{summary}</p>'
        f'<p class="meta">A = {a}, B = {b}; one-sided Fisher\'s exact test, α = 0.05</p>{setups}</header>'
        f'<main><table class="comparison"><tr><th>case</th><th>{a}</th><th>{b}</th><th>difference</th>'
        f"<th>p (B worse)</th><th>verdict</th></tr>{rows}</table>"
        f"<h2>Latency</h2>{_latency_chart(comparison)}"
        f"<h2>Changed outcome</h2>{changed or NONE}</main></body></html>\n"
    )


def _row(name: str, d: Difference, case: CaseComparison | None) -> str:
    css = {"B worse": "verdict-worse", "B better": "verdict-better"}.get(d.verdict, "")
    guard = " (must not regress)" if case is not None and case.a.case.must_not_regress else ""
    return (
        f'<tr data-case="{escape(name)}" data-verdict="{escape(d.verdict)}"><td>{escape(name)}{guard}</td>'
        f"<td>{d.a.passed}/{d.a.runs} ({d.a.rate:.0%})</td><td>{d.b.passed}/{d.b.runs} ({d.b.rate:.0%})</td>"
        f"<td>{d.delta:+.0%}</td><td>{float(d.p_worse):.4f}</td>"
        f'<td class="{css}">{escape(d.verdict)}</td></tr>'
    )


def _changed(case: CaseComparison, comparison: Comparison) -> str:
    def side(label: str, result: CaseResult) -> str:
        turns = "".join(
            f'<p class="user"><span class="who">you</span>{escape(t.user)}</p>'
            f'<p class="reply"><span class="who">hark</span>{escape(t.reply)}</p>'
            for t in result.shown_run.turns
        )
        return f'<div class="side"><h3>{escape(label)}: {MARKS[result.verdict]}</h3>{turns}</div>'

    return (
        f'<section class="case changed" data-name="{escape(case.name)}"><h2>{escape(case.name)}</h2>'
        f"{side(comparison.label_a, case.a)}{side(comparison.label_b, case.b)}</section>"
    )


def _latency_chart(comparison: Comparison) -> str:
    """A strip plot per latency and configuration on one shared scale: each turn a dot, the median a bar."""
    sides = ((comparison.label_a, comparison.a), (comparison.label_b, comparison.b))
    series = [
        (name, label, colour, latencies(result, name))
        for name in LATENCIES
        for (label, result), colour in zip(sides, COLOURS, strict=True)
    ]
    series = [s for s in series if s[3]]
    if not series:
        return '<p class="meta">no latency measured</p>'
    scale = max(max(values) for *_, values in series) or 1.0
    parts = []
    for i, (name, label, colour, values) in enumerate(series):
        y = i * ROW + ROW // 2
        parts.append(f'<text x="0" y="{y + 4}">{escape(name)} · {escape(label)}</text>')
        parts += [
            f'<circle class="dot" cx="{LABEL + WIDTH * v / scale:.1f}" cy="{y}" r="3" fill="{colour}" '
            f'fill-opacity="0.6"><title>{v:.3f}s</title></circle>'
            for v in values
        ]
        median = sorted(values)[len(values) // 2]
        x = LABEL + WIDTH * median / scale
        parts.append(
            f'<line class="median" x1="{x:.1f}" x2="{x:.1f}" y1="{y - 8}" y2="{y + 8}" stroke="#1d2330" '
            f'stroke-width="2"/>'
        )
    height = len(series) * ROW + 16
    parts.append(f'<text x="{LABEL}" y="{height - 2}">0 s</text>')
    parts.append(f'<text x="{LABEL + WIDTH - 40}" y="{height - 2}">{scale:.2f} s</text>')
    total = LABEL + WIDTH + 20
    return (
        f'<svg class="latency-compare" xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height}" '
        f'viewBox="0 0 {total} {height}" role="img" aria-label="latency distributions">{"".join(parts)}</svg>'
    )
