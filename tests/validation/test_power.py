"""Power beside every verdict (validation.power): the smallest violation a check FAILs with probability 0.8."""
import numpy as np
import pytest
from scipy import stats

from theorems.base import Comparison
from validation.intervals import bonferroni
from validation.power import POWER, detectable_shift, detectable_shortfall, poor_power
from validation.report import power_text
from validation.verdicts import FAIL, PASS, judge


@pytest.mark.parametrize("bounds", [None, (0.0, 1.0)], ids=["t", "betting"])
def test_a_violation_of_the_detectable_size_fails_about_80_percent_of_the_time(bounds):
    """Judge a sample of the true spread at the boundary, read ``detectable``, then simulate data whose true mean
    violates the bound by it: Student-t FAILs about 80 % of the time (normal approximation); the betting sequence at
    least 80 % (its half-width, taken whole, makes the figure conservative)."""
    rng = np.random.default_rng(0)
    n, std, bound = 24, 0.05, 0.3
    c = Comparison("q", "<=", bound, 0.0, "mean", "E q <= 0.3", bounds=bounds)
    z = rng.standard_normal((n, 1))
    d = judge(c, bound + std * (z - z.mean()) / z.std(ddof=1)).detectable
    fails = np.mean([judge(c, rng.normal(bound + d, std, (n, 1)).clip(0, 1)).verdict == FAIL for _ in range(400)])
    assert (0.7 <= fails <= 0.88) if bounds is None else fails >= 0.75, fails


def test_detectable_shift_formula():
    assert detectable_shift(np.array([0.1]), np.array([0.2]), 16)[0] == pytest.approx(0.1 + stats.norm.ppf(0.8) * 0.05)
    assert np.isinf(detectable_shift(np.array([0.1]), np.array([0.2]), 1)[0])


def test_detectable_shortfall_is_exact_for_clopper_pearson():
    n, level = 60, 0.9
    cell = bonferroni(0.95, 4)
    q = detectable_shortfall(level, n, cell)
    k = np.arange(n + 1)
    from validation.intervals import clopper_pearson
    k_star = k[clopper_pearson(k, n, cell).high < level].max()
    assert stats.binom.cdf(k_star, n, level - q) == pytest.approx(POWER)
    assert detectable_shortfall(0.9, 3, 0.95) == np.inf or detectable_shortfall(0.9, 3, 0.95) > 0


def test_a_pass_of_poor_power_says_what_it_cannot_detect():
    x = np.random.default_rng(1).uniform(0.0, 0.2, (16, 1))
    j = judge(Comparison("q", "<=", 0.5, 0.0, "mean", "E q <= 0.5", bounds=(0, 1)), x)
    assert j.verdict == PASS and poor_power(j.detectable, j.prediction, 0.0)
    assert power_text(j).startswith(" — cannot detect a violation smaller than ")
    sharp = judge(Comparison("q", "<=", 0.5, 0.0, "mean", "E q <= 0.5"), np.full((16, 1), 0.1) +
                  np.random.default_rng(2).normal(0, 1e-4, (16, 1)))
    assert sharp.verdict == PASS and power_text(sharp).startswith(" (detects a violation ≥ ")
    exact = judge(Comparison("q", "<=", 0.5, 0.0, "exact", "q <= 0.5"), x)
    assert exact.detectable is None and power_text(exact) == ""
