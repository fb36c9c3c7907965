"""The analytics dashboard: one self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched).

`hark stats --html FILE` writes it; the kiosk serves it on its operator port at `/dashboard`. It shows what an
operator acts on: how long each stage takes and whether that is drifting, how busy the kiosk is, how often
turns fail (errors, interruptions, reprompts, guardrails), what users rated, the questions Hark could not
answer (knowledge gaps to fill), and each persona/model pairing side by side.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path
from typing import Any

from dialogue.analytics import feedback_counts, percentile, read_turns
from dialogue.record import STAGES

DEFAULT_DAYS = 30.0
TOP_QUESTIONS = 10
UNANSWERED = re.compile(
    r"\b(?:i (?:do not|don't|dont) know|i'm not sure|i am not sure|i (?:can't|cannot|could not|couldn't) "
    r"(?:find|help|answer|tell)|i (?:do not|don't) have (?:that|any|this|information)|no information"
    r"|ask (?:the|a member of) staff)",
    re.IGNORECASE,
)
"""A reply that admits not knowing: its question is a knowledge gap."""
RATES = (
    ("error", "errors"),
    ("interrupted", "interruptions"),
    ("reprompt", "reprompts"),
    ("blocked", "guardrail blocks"),
    ("fallback", "fallbacks"),
)
PALETTE = ("#3d7dd8", "#e07b39", "#2f9e44", "#ae3ec9", "#c92a2a", "#868e96")
W, H = 640, 180
PAD = 40

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 62rem; color: #1d2330; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .4rem; } .meta { color: #5c6370; font-size: .9rem; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; } .card { border: 1px solid #d8dce5; border-radius: 6px;
  padding: .5rem .9rem; min-width: 8rem; } .card b { display: block; font-size: 1.4rem; }
table { border-collapse: collapse; } td, th { padding: .2rem .7rem; text-align: left; }
tr:nth-child(even) { background: #f4f5f8; } svg text { font: 11px system-ui, sans-serif; fill: #1d2330; }
"""


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).date().isoformat()


def _days(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every UTC day from the first turn's to the last's, quiet days included (a gap is news too)."""
    if not rows:
        return []
    first = datetime.fromtimestamp(rows[0]["at"], timezone.utc).date()
    last = datetime.fromtimestamp(rows[-1]["at"], timezone.utc).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _rate(rows: Sequence[dict[str, Any]], column: str) -> float:
    if not rows:
        return 0.0
    hits = sum(bool(r["error"] is not None if column == "error" else r[column]) for r in rows)
    return hits / len(rows)


def _svg(cls: str, label: str, body: str, height: int = H) -> str:
    return (
        f'<svg class="chart {cls}" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
        f'viewBox="0 0 {W} {height}" role="img" aria-label="{escape(label)}">{body}</svg>'
    )


def _columns(days: list[str], values: list[int]) -> str:
    """Turns per day: one column per day."""
    top = max(values, default=0) or 1
    step = (W - PAD) / max(len(days), 1)
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = (H - 30) * value / top
        x = PAD + i * step
        bars.append(
            f'<rect class="bar" data-day="{day}" x="{x + 1:.1f}" y="{H - 20 - h:.1f}" '
            f'width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{day}: {value} turns</title></rect>'
        )
    labels = f'<text x="{PAD}" y="{H - 5}">{days[0]}</text><text x="{W - 70}" y="{H - 5}">{days[-1]}</text>'
    return _svg("per-day", "turns per day", "".join(bars) + labels + f'<text x="0" y="12">{top}</text>')


def _hbars(items: list[tuple[str, float, str]], cls: str, label: str) -> str:
    """Horizontal bars of fractions 0..1, each with its label and shown value."""
    rows = []
    for i, (name, value, shown) in enumerate(items):
        y = 6 + i * 24
        rows.append(
            f'<text x="0" y="{y + 12}">{escape(name)}</text><rect class="bar" data-name="{escape(name)}" '
            f'x="150" y="{y}" width="{max(400 * value, 1):.1f}" height="16" '
            f'fill="{PALETTE[i % len(PALETTE)]}">'
            f"<title>{escape(name)}: {escape(shown)}</title></rect>"
            f'<text x="{156 + 400 * value:.1f}" y="{y + 12}">{escape(shown)}</text>'
        )
    return _svg(cls, label, "".join(rows), 12 + 24 * len(items))


def _boxes(stages: dict[str, list[float]]) -> str:
    """One box per stage on a shared scale: whiskers min–max, box p10–p90, a bar at the median."""
    scale = max((max(v) for v in stages.values()), default=0.0) or 1.0
    left, width = 170, W - 260

    def x(v: float) -> float:
        return left + width * v / scale

    parts = []
    for i, (stage, values) in enumerate(stages.items()):
        y = 8 + i * 26
        p10, p50, p90 = (percentile(values, q) for q in (0.1, 0.5, 0.9))
        parts.append(
            f'<g class="box" data-stage="{stage}"><text x="0" y="{y + 12}">{stage} ({len(values)})</text>'
            f'<line x1="{x(min(values)):.1f}" x2="{x(max(values)):.1f}" y1="{y + 8}" y2="{y + 8}" '
            f'stroke="#5c6370"/><rect x="{x(p10):.1f}" y="{y}" width="{max(x(p90) - x(p10), 1):.1f}" '
            f'height="16" fill="{PALETTE[0]}" fill-opacity="0.35" stroke="{PALETTE[0]}"/>'
            f'<line x1="{x(p50):.1f}" x2="{x(p50):.1f}" y1="{y}" y2="{y + 16}" stroke="#1d2330" '
            f'stroke-width="2"/><text x="{x(max(values)) + 4:.1f}" y="{y + 12}">p50 {p50:.2f}s</text>'
            f"<title>{stage}: p10 {p10:.3f}s, p50 {p50:.3f}s, p90 {p90:.3f}s</title></g>"
        )
    parts.append(f'<text x="{left}" y="{14 + 26 * len(stages)}">0 s</text>')
    parts.append(f'<text x="{left + width - 30}" y="{14 + 26 * len(stages)}">{scale:.2f} s</text>')
    return _svg("latency-boxes", "latency per stage", "".join(parts), 20 + 26 * len(stages))


def _trend(days: list[str], series: dict[str, list[float | None]]) -> str:
    """The daily median of each stage as a line; a day without that stage breaks nothing, it is skipped."""
    top = max((v for values in series.values() for v in values if v is not None), default=0.0) or 1.0
    step = (W - PAD - 130) / max(len(days) - 1, 1)
    parts = []
    for i, (stage, values) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        points = [
            (PAD + d * step, H - 20 - (H - 30) * v / top) for d, v in enumerate(values) if v is not None
        ]
        coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        dots = "".join(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"/>' for px, py in points)
        parts.append(
            f'<g class="series" data-stage="{stage}"><polyline points="{coords}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>{dots}</g>'
            f'<rect x="{W - 125}" y="{5 + 14 * i}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{W - 111}" y="{14 + 14 * i}">{stage}</text>'
        )
    parts.append(f'<text x="0" y="12">{top:.2f}s</text><text x="{PAD}" y="{H - 5}">{days[0]}</text>')
    parts.append(f'<text x="{PAD + step * (len(days) - 1) - 60:.1f}" y="{H - 5}">{days[-1]}</text>')
    return _svg("trend", "median latency per day", "".join(parts))


def unanswered(rows: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    """The questions most often left unanswered (the reply admitted not knowing, the model failed, or the
    user rated the reply bad), grouped case- and punctuation-insensitively, with the latest wording."""
    counts: Counter[str] = Counter()
    wording: dict[str, str] = {}
    for r in rows:
        missed = r["error"] is not None or r["feedback"] == "bad" or UNANSWERED.search(r["reply"] or "")
        if missed and not r["reprompt"] and r["user"].strip():
            key = " ".join(re.sub(r"[^\w\s]", " ", r["user"].casefold()).split())
            counts[key] += 1
            wording[key] = r["user"]
    return [(wording[k], n) for k, n in counts.most_common(TOP_QUESTIONS)]


def _stage_values(rows: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    values: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for stage, v in r["latencies"].items():
            values[stage].append(v)
    order = {s: i for i, s in enumerate(STAGES)}
    return dict(sorted(values.items(), key=lambda item: order.get(item[0], len(order))))


def _table(head: Sequence[str], body: list[Sequence[str]], cls: str) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f'<table class="{cls}"><tr>{th}</tr>{rows}</table>'


def _breakdown(rows: Sequence[dict[str, Any]]) -> str:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["persona"] or "unknown", r["model"] or "none")].append(r)
    body = []
    for (persona, model), members in sorted(groups.items(), key=lambda item: -len(item[1])):
        stages = _stage_values(members)
        p50 = {s: f"{percentile(v, 0.5):.2f}s" for s, v in stages.items()}
        fb = feedback_counts(members)
        body.append(
            (
                persona,
                model,
                str(len(members)),
                f"{_rate(members, 'error'):.1%}",
                f"{_rate(members, 'interrupted'):.1%}",
                f"{fb['good']}/{fb['bad']}",
                p50.get("llm_first_token_s", "-"),
                p50.get("eos_to_first_audio_s", "-"),
            )
        )
    head = (
        "persona",
        "model",
        "turns",
        "errors",
        "interrupted",
        "good/bad",
        "first token p50",
        "first audio p50",
    )
    return _table(head, body, "breakdown")


def render(rows: Sequence[dict[str, Any]], period: str, now: float | None = None) -> str:
    """The page for `rows` (analytics rows, oldest first); an empty list gives a valid page that says so."""
    generated = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)
    head = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>hark dashboard</title>'
        f"<style>{STYLE}</style></head><body><h1>Hark dashboard</h1>"
        f'<p class="meta">{escape(period)} · generated {generated.isoformat(timespec="seconds")}</p>'
    )
    if not rows:
        return head + '<p class="empty">No turns recorded yet.</p></body></html>\n'
    days = _days(rows)
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_day[_day(r["at"])].append(r)
    stages = _stage_values(rows)
    trend = {
        stage: [percentile(v, 0.5) if (v := _stage_values(by_day[d]).get(stage)) else None for d in days]
        for stage in stages
    }
    fb = feedback_counts(rows)
    rated = fb["good"] + fb["bad"]
    conversations = len({r["conversation_id"] for r in rows if r["conversation_id"] is not None})
    cards = [
        ("turns", str(len(rows))),
        ("conversations", str(conversations)),
        ("days", str(len(days))),
        ("rated bad", f"{fb['bad_rate']:.0%} of {rated}"),
    ]
    gaps = unanswered(rows)
    sections = [
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{escape(v)}</b>{escape(k)}</div>' for k, v in cards)
        + "</div>",
        "<h2>Latency per stage</h2>" + (_boxes(stages) if stages else '<p class="meta">none measured</p>'),
        "<h2>Median latency per day</h2>" + (_trend(days, trend) if stages else '<p class="meta">none</p>'),
        "<h2>Turns per day</h2>" + _columns(days, [len(by_day[d]) for d in days]),
        "<h2>Rates</h2>"
        + _hbars(
            [(label, v, f"{v:.1%}") for column, label in RATES for v in [_rate(rows, column)]],
            "rates",
            "rates",
        ),
        "<h2>Feedback</h2>"
        + _hbars(
            [
                ("good", fb["good"] / rated if rated else 0.0, str(fb["good"])),
                ("bad", fb["bad"] / rated if rated else 0.0, str(fb["bad"])),
            ],
            "feedback",
            "feedback",
        ),
        "<h2>Top unanswered questions</h2>"
        + (
            _table(("question", "times"), [(q, str(n)) for q, n in gaps], "unanswered")
            if gaps
            else '<p class="meta">none</p>'
        ),
        "<h2>Per persona and model</h2>" + _breakdown(rows),
    ]
    return head + "".join(sections) + "</body></html>\n"


def dashboard(path: Path, days: float | None = DEFAULT_DAYS, now: float | None = None) -> str:
    """The page for the analytics database at `path` over the last `days` (None: everything)."""
    period = f"the last {days:g} days" if days else "all recorded turns"
    return render(read_turns(path, days, now), period, now)
