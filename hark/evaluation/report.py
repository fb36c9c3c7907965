"""The HTML report: one self-contained page (inline CSS and SVG, no scripts, no external assets).

For each case: its verdict, the dialogue of each run, every check with its reason, and a bar chart of the
latency per turn. All charts share one scale so turns and cases can be compared by eye.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from hark.evaluation.console import MARKS
from hark.evaluation.runner import CaseResult, RunResult, SuiteResult, TurnResult

BAR_HEIGHT = 14
ROW_GAP = 8
LABEL_WIDTH = 64
CHART_WIDTH = 560
VALUE_WIDTH = 56
SERIES = (
    ("stt", "speech recognition", "#8e9aaf"),
    ("first-token", "first token", "#3d7dd8"),
    ("first-audio", "first audio", "#e07b39"),
)

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1d2330; }
h1 { margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin: 0 0 .3rem; }
.summary { font-size: 1.1rem; } .setup dt { font-weight: 600; float: left; width: 8rem; }
.setup dd { margin: 0 0 .2rem 8rem; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { padding: .2rem .7rem; text-align: left; }
tr:nth-child(even) { background: #f4f5f8; }
.case { border: 1px solid #d8dce5; border-left: 6px solid #999; border-radius: 6px; padding: 1rem;
        margin: 1.2rem 0; }
.case.passed { border-left-color: #2f9e44; } .case.failed { border-left-color: #d9480f; }
.case.skipped { border-left-color: #adb5bd; }
.mark { font-weight: 700; margin-right: .4rem; } .passed .mark { color: #2f9e44; }
.failed .mark, .check.fail { color: #c92a2a; } .check.skip { color: #868e96; }
.meta, .latency { color: #5c6370; font-size: .9rem; margin: .2rem 0; }
.dialogue { padding-left: 1.4rem; } .turn { margin-bottom: .8rem; }
.user, .reply { margin: .15rem 0; white-space: pre-wrap; } .who { font-weight: 600; margin-right: .4rem; }
.checks { margin: .2rem 0; padding-left: 1.2rem; } .check code { font-weight: 600; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2330; }
"""


def write_report(result: SuiteResult, path: str | Path) -> Path:
    out = Path(path)
    out.write_text(render(result), encoding="utf-8")
    return out


def render(result: SuiteResult) -> str:
    scale = max(
        (value for c in result.cases for r in c.runs for t in r.turns for *_, value in _latencies(t)),
        default=0.0,
    )
    counts = ", ".join(f"{result.count(v)} {v.value}" for v in MARKS)
    setup = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in result.setup.items())
    rows = "".join(
        f'<tr><td><a href="#case-{i}">{escape(c.case.name)}</a></td><td class="{c.verdict.value}">'
        f"{MARKS[c.verdict]}</td><td>{c.pass_rate:.0%}</td></tr>"
        for i, c in enumerate(result.cases, 1)
    )
    cases = "".join(_case(i, c, scale) for i, c in enumerate(result.cases, 1))
    title = escape(result.suite.name)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>hark eval: {title}</title>'
        f"<style>{STYLE}</style></head><body>"
        f'<header><h1>{title}</h1><p class="summary">{counts} — {len(result.cases)} cases in '
        f'{result.duration_s:.1f}s</p><p class="meta">{escape(str(result.suite.path))}</p>'
        f'<dl class="setup">{setup}</dl>'
        f'<table class="overview"><tr><th>case</th><th>result</th><th>runs passed</th></tr>{rows}</table>'
        f"</header><main>{cases}</main></body></html>\n"
    )


def _case(index: int, result: CaseResult, scale: float) -> str:
    verdict = result.verdict.value
    runs = len(result.runs)
    passed = sum(r.passed for r in result.runs)
    skips = "".join(
        f'<li class="check skip"><code>{escape(c.expect)}</code> skipped: {escape(c.reason)}</li>'
        for c in result.skips()
    )
    skipped = f'<ul class="checks">{skips}</ul>' if skips else ""
    if runs == 1:
        body = _run(result.runs[0], scale)
    else:
        body = "".join(
            f"<details{' open' if not r.passed else ''}><summary>run {i}: "
            f"{'passed' if r.passed else 'failed'}</summary>{_run(r, scale)}</details>"
            for i, r in enumerate(result.runs, 1)
        )
    return (
        f'<section class="case {verdict}" id="case-{index}" data-name="{escape(result.case.name)}" '
        f'data-status="{verdict}"><h2><span class="mark">{MARKS[result.verdict]}</span>'
        f'{escape(result.case.name)}</h2><p class="meta">line {result.case.line} · {passed}/{runs} runs '
        f"passed</p>{skipped}{body}</section>"
    )


def _run(run: RunResult, scale: float) -> str:
    turns = "".join(_turn(t) for t in run.turns)
    return f'<ol class="dialogue">{turns}</ol>{_chart(run.turns, scale)}'


def _turn(turn: TurnResult) -> str:
    state = "passed" if turn.passed else "failed"
    heard = f' <span class="meta">(spoken: {escape(turn.audio)}, heard as)</span>' if turn.audio else ""
    images = f' <span class="meta">[{turn.images} image(s)]</span>' if turn.images else ""
    checks = "".join(
        f'<li class="check {c.status.value}"><code>{escape(c.expect)}</code> {c.status.value}: '
        f"{escape(c.reason)}</li>"
        for c in turn.checks
    )
    latency = " · ".join(f"{label} {value:.2f}s" for _, label, _, value in _latencies(turn))
    return (
        f'<li class="turn {state}" data-turn="{turn.index}" data-line="{turn.line}">'
        f'<p class="user"><span class="who">you</span>{heard}{escape(turn.user)}{images}</p>'
        f'<p class="reply"><span class="who">hark</span>{escape(turn.reply)}</p>'
        f'<ul class="checks">{checks}</ul><p class="latency">{latency} · total {turn.total_s:.2f}s</p></li>'
    )


def _latencies(turn: TurnResult) -> list[tuple[str, str, str, float]]:
    """(key, label, colour, seconds) of each latency the turn measured, in `SERIES` order."""
    values = {"stt": turn.stt_s, "first-token": turn.first_token_s, "first-audio": turn.first_audio_s}
    return [(key, label, colour, v) for key, label, colour in SERIES if (v := values[key]) is not None]


def _chart(turns: list[TurnResult], scale: float) -> str:
    """Horizontal bars: one group per turn, one bar per measured latency, on the report-wide scale."""
    rows = []
    y = 0
    for turn in turns:
        rows.append(f'<text x="0" y="{y + BAR_HEIGHT - 3}">turn {turn.index}</text>')
        for key, label, colour, value in _latencies(turn):
            width = max(1.0, CHART_WIDTH * value / scale) if scale else 1.0
            rows.append(
                f'<rect class="bar {key}" data-turn="{turn.index}" x="{LABEL_WIDTH}" y="{y}" '
                f'width="{width:.1f}" height="{BAR_HEIGHT}" fill="{colour}"><title>turn {turn.index} '
                f"{label}: {value:.3f}s</title></rect>"
                f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{y + BAR_HEIGHT - 3}">{value:.2f}s</text>'
            )
            y += BAR_HEIGHT + 2
        y += ROW_GAP
    legend = "".join(
        f'<rect x="{LABEL_WIDTH + i * 150}" y="{y}" width="10" height="10" fill="{colour}"/>'
        f'<text x="{LABEL_WIDTH + i * 150 + 14}" y="{y + 9}">{label}</text>'
        for i, (_, label, colour) in enumerate(SERIES)
    )
    height = y + 14
    width = LABEL_WIDTH + CHART_WIDTH + VALUE_WIDTH
    return (
        f'<figure><svg class="latency-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="latency per turn">'
        f'{"".join(rows)}{legend}</svg><figcaption class="meta">latency per turn, seconds</figcaption>'
        "</figure>"
    )
