"""Verdict rules of SPEC §5 on inputs whose answer is known in closed form."""
import numpy as np
import pytest
from scipy import stats

from tests.helpers import assert_close
from theorems.base import Comparison, Hypothesis
from validation.intervals import bonferroni, clopper_pearson, t_quantile
from validation.verdicts import (FAIL, INCONCLUSIVE, PASS, UNMET, combine, excess, judge, judge_asymptotic,
                                 judge_trend, overall, power_law_rate)


def samples_with(mean, std, r):
    """``r`` samples whose mean and std (ddof=1) are exactly ``mean`` and ``std``, one column per entry."""
    z = np.linspace(-1.0, 1.0, r)
    z = z / z.std(ddof=1)
    return np.asarray(mean, float)[None, ...] + np.outer(z, np.asarray(std, float)).reshape((r,) + np.shape(std))


def half_width(std, r, level):
    return t_quantile(level, r - 1) * std / np.sqrt(r)


def cmp(relation, prediction, tolerance=0.0, mode="mean", **kw):
    return Comparison("q", relation, prediction, tolerance, mode, f"q {relation} {prediction}", **kw)


# -- mean mode -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("relation, prediction, verdict", [
    ("<=", 1.3, PASS), ("<=", 0.7, FAIL), ("<=", 1.0, INCONCLUSIVE),
    (">=", 0.7, PASS), (">=", 1.3, FAIL), (">=", 1.0, INCONCLUSIVE),
])
def test_mean_one_sided(relation, prediction, verdict):
    r, std = 8, 0.2
    h = half_width(std, r, 0.95)
    assert 0.1 < h < 0.3  # the interval is 1 ± h: inside 1.3, outside 0.7 in the relevant direction
    j = judge(cmp(relation, prediction), samples_with([1.0], [std], r))
    assert j.verdict == j.measured_verdict == verdict
    assert_close(j.low, [1 - h])
    assert_close(j.high, [1 + h])


def test_mean_equality_with_tolerance():
    r, std = 8, 0.2
    h = half_width(std, r, 0.95)
    x = samples_with([1.0], [std], r)
    assert judge(cmp("==", 1.0, tolerance=h + 1e-9), x).verdict == PASS
    assert judge(cmp("==", 1.0, tolerance=h - 1e-3), x).verdict == INCONCLUSIVE
    assert judge(cmp("==", 1.0 + 2 * h + 0.01, tolerance=0.0), x).verdict == FAIL
    assert judge(cmp("==", 1.0 - 2 * h - 0.01, tolerance=0.0), x).verdict == FAIL


def test_inconclusive_says_how_many_realizations_would_decide():
    r, std, level = 8, 0.3, 0.95
    x = samples_with([1.0], [std], r)
    j = judge(cmp("<=", 1.2), x)
    assert j.verdict == INCONCLUSIVE and j.more_realizations > r
    n = j.more_realizations
    assert judge(cmp("<=", 1.2), samples_with([1.0], [std], n)).verdict == PASS
    assert judge(cmp("<=", 1.2), samples_with([1.0], [std], n - 1)).verdict == INCONCLUSIVE
    assert judge(cmp("<=", 0.8), samples_with([1.0], [std], n)).verdict == FAIL
    assert half_width(std, n, level) < 0.2 <= half_width(std, n - 1, level)
    assert judge(cmp("<=", 1.0), x).more_realizations is None  # the mean sits on the boundary: never decided


def test_decided_comparisons_need_no_more_realizations():
    assert judge(cmp("<=", 5.0), samples_with([1.0], [0.1], 8)).more_realizations is None


# -- exact mode ----------------------------------------------------------------------------------------
def test_exact_passes_only_if_every_realization_satisfies():
    x = np.full((6, 3), 1.0)
    x[:, 1] += 1e-15
    assert judge(cmp("==", 1.0, tolerance=1e-14, mode="exact"), x).verdict == PASS
    x[4, 2] += 1e-13  # one realization, one cell, beyond round-off
    j = judge(cmp("==", 1.0, tolerance=1e-14, mode="exact"), x)
    assert j.verdict == FAIL and j.cell_verdicts == (PASS, PASS, FAIL) and j.worst == 2
    assert_close(j.margin[2], 1e-13 - 1e-14, rtol=1e-3)
    assert judge(cmp("<=", 1.0 + 2e-13, mode="exact"), x).verdict == PASS
    assert judge(cmp(">=", 1.0 + 1e-14, mode="exact"), x).verdict == FAIL


def test_exact_fails_on_nan():
    x = np.ones((4, 2))
    x[1, 0] = np.nan
    j = judge(cmp("==", 1.0, tolerance=1e-12, mode="exact"), x)
    assert j.cell_verdicts == (FAIL, PASS) and "NaN" in j.note


# -- probability mode ----------------------------------------------------------------------------------
def test_probability_uses_clopper_pearson():
    r = 30
    x = np.zeros((r, 1))
    x[:2] = 5.0  # the event q <= 1 holds in 28 of 30 realizations
    ci = clopper_pearson(28, r, 0.95)
    j = judge(cmp("<=", 1.0, mode="probability", level=0.7), x)
    assert j.verdict == PASS and ci.low >= 0.7
    assert_close([j.low[0], j.high[0], j.estimate[0]], [ci.low, ci.high, 28 / 30])
    assert judge(cmp("<=", 1.0, mode="probability", level=0.99), x).verdict == INCONCLUSIVE
    assert judge(cmp("<=", -1.0, mode="probability", level=0.5), x).verdict == FAIL
    j = judge(cmp("<=", 1.0, mode="probability", level=0.9), x)
    assert j.verdict == INCONCLUSIVE and j.more_realizations > r


# -- hypotheses, cells, family-wise error --------------------------------------------------------------
def test_unmet_hypothesis_is_never_pass():
    x = samples_with([1.0], [0.01], 8)
    unmet = [Hypothesis("ε = 0", False, "ε = 0.1")]
    j = judge(cmp("<=", 2.0), x, unmet)
    assert j.verdict == UNMET and j.measured_verdict == PASS
    assert judge(cmp("<=", 0.0), x, unmet).verdict == UNMET


def test_multi_cell_combination():
    std = np.array([0.1, 0.1, 0.1])
    good = judge(cmp("<=", 2.0), samples_with([1.0, 1.0, 1.0], std, 8))
    one_bad = judge(cmp("<=", 2.0), samples_with([1.0, 3.0, 1.0], std, 8))
    one_open = judge(cmp("<=", 2.0), samples_with([1.0, 2.0, 1.0], std, 8))
    assert (good.verdict, one_bad.verdict, one_open.verdict) == (PASS, FAIL, INCONCLUSIVE)
    assert one_bad.cell_verdicts == (PASS, FAIL, PASS) and one_bad.first_failing_cell() == 1
    assert combine([PASS, INCONCLUSIVE, FAIL]) == FAIL
    assert overall([PASS, UNMET]) == PASS and overall([UNMET, UNMET]) == UNMET
    assert overall([PASS, INCONCLUSIVE, UNMET]) == INCONCLUSIVE


def test_bonferroni_widens_every_cell_interval():
    """A cell decided at 95% alone is undecided among m = 20 cells at a family-wise 95%."""
    r, std, m = 8, 0.2, 20
    h1, hm = half_width(std, r, 0.95), half_width(std, r, bonferroni(0.95, m))
    bound = 1.0 + (h1 + hm) / 2
    single = judge(cmp("<=", bound), samples_with([1.0], [std], r))
    family = judge(cmp("<=", bound), samples_with(np.ones(m), np.full(m, std), r))
    assert single.verdict == PASS and family.verdict == INCONCLUSIVE
    assert_close(family.high, np.full(m, 1 + hm))
    assert family.cell_level == pytest.approx(1 - 0.05 / m)


def test_negative_control_rejection():
    x = samples_with([1.0], [0.1], 8)
    assert judge(cmp("==", 3.0, tolerance=0.1), x, negative_control=True).rejected
    assert not judge(cmp("==", 1.0, tolerance=0.5), x, negative_control=True).rejected


def test_prediction_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="does not match the cells"):
        judge(cmp("<=", np.zeros(3)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="cell labels"):
        judge(cmp("<=", 0.0, cells=[1, 2]), np.zeros((4, 5)))


# -- trends over a sweep -------------------------------------------------------------------------------
def _sweep(values, excess_of, noise=0.05, r=8, cells=4, seed=0):
    rng = np.random.default_rng(seed)
    c = cmp("<=", 0.0)
    samples = [excess_of(v) * (1 + noise * rng.standard_normal((r, cells))) for v in values]
    return [judge(c, s) for s in samples], samples


def test_excess_definitions():
    m, p = np.array([0.1, 0.5, 0.2]), np.array([0.2, 0.3, 0.4])
    assert_close(excess("<=", m, p), 0.2)
    assert_close(excess(">=", m, p), 0.2)
    assert_close(excess("==", m, p), 0.2)
    assert_close(excess("<=", m, p + 1), -0.8)


def test_trend_shrinking_growing_and_flat():
    widths = (16, 64, 256)
    js, s = _sweep(widths, lambda c: 1 / np.sqrt(c))
    t = judge_trend("width", widths, js, s)
    assert t.verdict == PASS and t.difference_low > 0
    assert t.slope == pytest.approx(-0.5, abs=0.05) and t.slope_low < -0.5 < t.slope_high
    assert t.first_failing == (0, 0, 0)
    js, s = _sweep(widths, lambda c: np.sqrt(c) / 16)  # the negative control: the excess grows
    assert judge_trend("width", widths, js, s).verdict == FAIL
    js, s = _sweep(widths, lambda c: 1.0, noise=0.3)
    assert judge_trend("width", widths, js, s).verdict == INCONCLUSIVE


def test_trend_false_decisions_are_rare_when_the_excess_is_flat():
    """Under a flat truth, PASS or FAIL is a false decision: about 5% of seeded trials at most."""
    trials, decided = 300, 0
    for seed in range(trials):
        js, s = _sweep((16, 256), lambda c: 1.0, noise=0.3, seed=seed)
        decided += judge_trend("width", (16, 256), js, s).verdict != INCONCLUSIVE
    assert decided / trials <= 0.08
    assert stats.binomtest(decided, trials, 0.05, alternative="greater").pvalue > 1e-3


def test_trend_accepts_different_cell_counts_and_unordered_values():
    c = cmp("<=", 0.0)
    rng = np.random.default_rng(1)
    s = [0.1 + 0.01 * rng.standard_normal((8, 6)), 0.5 + 0.01 * rng.standard_normal((8, 3))]
    t = judge_trend("width", [256, 16], [judge(c, x) for x in s], s)
    assert t.values == (16, 256) and t.verdict == PASS
    assert_close(t.excess, [s[1].max(axis=1).mean(), s[0].max(axis=1).mean()])


def test_trend_with_unmet_hypothesis():
    widths = (16, 256)
    js, s = _sweep(widths, lambda c: 1 / np.sqrt(c))
    js[0] = judge(js[0].comparison, s[0], [Hypothesis("h", False)])
    t = judge_trend("width", widths, js, s)
    assert t.verdict == UNMET and t.measured_verdict == PASS


# -- the overall verdict of an asymptotic claim (SPEC §5) ---------------------------------------------------
def _asymptotic(excess_of, prediction=0.0, tolerance=0.0, widths=(16, 64, 256), cells=4, limit=None, r=8):
    """Samples ``excess_of(width)`` (one value per cell, 2% noise) judged against ``q <= prediction (± tol)``."""
    rng = np.random.default_rng(3)
    c = cmp("<=", prediction, tolerance, cells=list(range(1, cells + 1)))
    s = [np.asarray(excess_of(w), float) * (1 + 0.02 * rng.standard_normal((r, cells))) for w in widths]
    js = [judge(c, x) for x in s]
    return judge_asymptotic(judge_trend("width", widths, js, s), js[-1], limit)


def test_asymptotic_a_bound_every_width_fails_is_fail_however_the_excess_shrinks():
    a = _asymptotic(lambda w: np.full(4, 1 / np.sqrt(w)))
    assert a.trend.verdict == PASS and a.verdict == FAIL and a.failing == (1, 2, 3, 4) and a.certified is None
    assert "no C = ∞ limit" in a.reason
    a = _asymptotic(lambda w: np.full(4, 1 / np.sqrt(w)), limit=np.full(4, 0.01))  # the limit violates it too
    assert a.verdict == FAIL and a.limit_cells == (FAIL,) * 4 and "limit C = ∞ violates" in a.reason


def test_asymptotic_a_limit_inside_the_bound_clears_the_widest_fails():
    """The widest width FAILs only where its finite-width floor crosses the bound, the limit lies inside: no FAIL;
    the excess shrinks and layers 1–2 PASS at the widest width: PASS up to the named depth 2."""
    bound = np.array([1.0, 0.8, 0.02, 0.01])
    a = _asymptotic(lambda w: np.array([0.5, 0.4, 0.02 + 1 / np.sqrt(w), 0.01 + 1 / np.sqrt(w)]), prediction=bound,
                    limit=np.array([0.5, 0.4, 0.01, 0.005]))
    assert a.widest_cells == (PASS, PASS, FAIL, FAIL) and a.failing == () and a.limit_cells == (PASS,) * 4
    assert a.verdict == PASS and a.certified == 2 and a.crossing[-1] == 3 and "crossing at layer 3" in a.reason
    without = _asymptotic(lambda w: np.array([0.5, 0.4, 0.02 + 1 / np.sqrt(w), 0.01 + 1 / np.sqrt(w)]),
                          prediction=bound)
    assert without.verdict == FAIL and without.failing == (3, 4)


def test_asymptotic_growing_excess_fails_and_undecided_cells_are_inconclusive():
    a = _asymptotic(lambda w: np.full(4, np.sqrt(w) / 100), prediction=1.0, limit=np.zeros(4))
    assert a.trend.verdict == FAIL and a.verdict == FAIL and "grows" in a.reason
    a = _asymptotic(lambda w: np.full(4, 1 / np.sqrt(w)), limit=np.zeros(4))  # FAILs cleared, nothing PASSes
    assert a.verdict == INCONCLUSIVE and a.certified is None and a.decide == "width = 1024 would decide"
    assert "does not PASS layer 1" in a.reason


def test_asymptotic_keeps_an_unmet_hypothesis():
    widths = (16, 256)
    js, s = _sweep(widths, lambda c: -1 / np.sqrt(c))
    js[0] = judge(js[0].comparison, s[0], [Hypothesis("h", False)])
    a = judge_asymptotic(judge_trend("width", widths, js, s), js[-1])
    assert a.verdict == UNMET and a.describe()["verdict"] == UNMET


def test_power_law_rate_recovers_the_exponent_and_tolerates_a_vanished_mean():
    widths = np.array([16.0, 64.0, 256.0])
    exact = [np.full(4, 2.0 / w) for w in widths]
    assert power_law_rate(widths, np.ones(3), *exact) == pytest.approx(-1.0)
    assert -1.0 < power_law_rate(widths, np.ones(3), np.ones(3), np.full(3, 0.5), np.full(3, -0.01)) < -0.5
    assert np.isnan(power_law_rate(widths, np.ones(3), *[-e for e in exact]))


def test_trend_rate_falls_back_to_the_power_law_fit_when_a_resample_vanishes():
    """A 1/C excess whose widest mean is 2.5 standard errors above 0: some bootstrap resamples are ≤ 0, so the
    log-log interval is undefined; the power-law fit gives an interval, and it covers the true −1."""
    widths, r = (16, 64, 256), 64
    rng = np.random.default_rng(5)
    c = cmp("<=", 0.0)
    s = [1.0 / w + (0.02 if w == 256 else 0.05 / w) * rng.standard_normal((r, 1)) for w in widths]
    t = judge_trend("width", widths, [judge(c, x) for x in s], s)
    assert t.slope_method == "power-law fit" and t.describe()["slope_method"] == "power-law fit"
    assert t.slope_low < -1.0 < t.slope_high and t.slope_high < -0.5
