"""Fisher's exact test on a 2×2 table of passed/failed runs, one-sided, computed exactly.

With few runs per case (an eval repeats a case a handful of times) a normal approximation is meaningless, so
the hypergeometric tail is summed with integer binomials and compared as a fraction: `3/3 vs 0/3` gives
exactly p = 1/20, which is *not* below α = 0.05, whatever floating point would have made of it.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

ALPHA = Fraction(1, 20)


def worse_p(passed_a: int, runs_a: int, passed_b: int, runs_b: int) -> Fraction:
    """P-value of "B passes less often than A": the chance, with the pass/fail totals fixed and no real
    difference, that A gets at least `passed_a` of the passes."""
    for passed, runs in ((passed_a, runs_a), (passed_b, runs_b)):
        if runs < 1 or not 0 <= passed <= runs:
            raise ValueError(f"{passed} passes out of {runs} runs")
    total, passes = runs_a + runs_b, passed_a + passed_b
    tail = sum(
        comb(passes, k) * comb(total - passes, runs_a - k) for k in range(passed_a, min(passes, runs_a) + 1)
    )
    return Fraction(tail, comb(total, runs_a))


def significant(p: Fraction, alpha: Fraction = ALPHA) -> bool:
    return p < alpha
