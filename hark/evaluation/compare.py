"""An A/B comparison: the same suite run on two configurations, case by case, with a significance test.

A difference in pass rate is only called a win or a loss when Fisher's exact test (one-sided, α = 0.05)
says chance is an unlikely explanation; anything else is "no significant difference", however large the raw
difference looks on a few runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from dialogue.analytics import percentile
from hark.evaluation.fisher import ALPHA, significant, worse_p
from hark.evaluation.runner import CaseResult, SuiteResult, TurnResult

LATENCIES = ("first_token_s", "first_audio_s", "total_s")
"""The per-turn latencies compared side by side (the fields of `TurnResult`)."""


@dataclass(frozen=True)
class Tally:
    passed: int
    runs: int

    @property
    def rate(self) -> float:
        return self.passed / self.runs

    def to_json(self) -> dict:
        return {"passed": self.passed, "runs": self.runs, "pass_rate": round(self.rate, 4)}


@dataclass(frozen=True)
class Difference:
    """B against A: the change in pass rate and the two one-sided p-values."""

    a: Tally
    b: Tally

    @property
    def delta(self) -> float:
        return self.b.rate - self.a.rate

    @property
    def p_worse(self) -> Fraction:
        return worse_p(self.a.passed, self.a.runs, self.b.passed, self.b.runs)

    @property
    def p_better(self) -> Fraction:
        return worse_p(self.b.passed, self.b.runs, self.a.passed, self.a.runs)

    @property
    def verdict(self) -> str:
        if significant(self.p_worse):
            return "B worse"
        if significant(self.p_better):
            return "B better"
        return "no significant difference"

    def to_json(self) -> dict:
        return {
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "difference": round(self.delta, 4),
            "p_b_worse": round(float(self.p_worse), 6),
            "p_b_better": round(float(self.p_better), 6),
            "verdict": self.verdict,
        }


def _tally(results: Sequence[CaseResult]) -> Tally:
    return Tally(sum(sum(r.passed for r in c.runs) for c in results), sum(len(c.runs) for c in results))


@dataclass(frozen=True)
class CaseComparison:
    a: CaseResult
    b: CaseResult

    @property
    def name(self) -> str:
        return self.a.case.name

    @property
    def difference(self) -> Difference:
        return Difference(_tally([self.a]), _tally([self.b]))

    @property
    def changed(self) -> bool:
        """The case's verdict (passed, failed, skipped) differs between A and B."""
        return self.a.verdict is not self.b.verdict

    @property
    def regressed(self) -> bool:
        return self.a.case.must_not_regress and significant(self.difference.p_worse)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "must_not_regress": self.a.case.must_not_regress,
            **self.difference.to_json(),
            "status_a": self.a.verdict.value,
            "status_b": self.b.verdict.value,
            "changed": self.changed,
            "regressed": self.regressed,
        }


def latency_summary(values: Sequence[float]) -> dict:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "min": round(min(values), 4),
        "p50": round(percentile(values, 0.5), 4),
        "p90": round(percentile(values, 0.9), 4),
        "max": round(max(values), 4),
    }


def latencies(result: SuiteResult, name: str) -> list[float]:
    """Every measured value of the `TurnResult` field `name` across the suite's runs."""
    turns: list[TurnResult] = [t for c in result.cases for r in c.runs for t in r.turns]
    return [v for t in turns if (v := getattr(t, name)) is not None]


@dataclass(frozen=True)
class Comparison:
    label_a: str
    label_b: str
    a: SuiteResult
    b: SuiteResult

    @property
    def cases(self) -> list[CaseComparison]:
        return [CaseComparison(x, y) for x, y in zip(self.a.cases, self.b.cases, strict=True)]

    @property
    def overall(self) -> Difference:
        return Difference(_tally(self.a.cases), _tally(self.b.cases))

    @property
    def regressions(self) -> list[CaseComparison]:
        return [c for c in self.cases if c.regressed]

    def to_json(self) -> dict:
        return {
            "compare": {"a": self.label_a, "b": self.label_b},
            "suite": self.a.suite.name,
            "alpha": float(ALPHA),
            "overall": self.overall.to_json(),
            "cases": [c.to_json() for c in self.cases],
            "changed": [c.name for c in self.cases if c.changed],
            "regressions": [c.name for c in self.regressions],
            "latency_s": {
                name: {
                    self.label_a: latency_summary(latencies(self.a, name)),
                    self.label_b: latency_summary(latencies(self.b, name)),
                }
                for name in LATENCIES
            },
            "setup": {self.label_a: self.a.setup, self.label_b: self.b.setup},
            "results": {self.label_a: self.a.to_json(), self.label_b: self.b.to_json()},
        }
