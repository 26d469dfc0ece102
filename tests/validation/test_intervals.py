"""Intervals of SPEC §5 against closed forms, known values and their coverage."""
import numpy as np
import pytest
from scipy import stats

from tests.helpers import assert_close
from validation.intervals import (bonferroni, bootstrap_interval, clopper_pearson, realizations_for_fraction,
                                  realizations_for_mean, t_interval, t_quantile)


def test_t_interval_matches_the_formula():
    x = np.array([[1.0, 10.0], [2.0, 10.0], [4.0, 10.0], [5.0, 10.0]])
    ci = t_interval(x, 0.9)
    half = stats.t.ppf(0.95, 3) * np.std([1, 2, 4, 5], ddof=1) / 2
    assert_close(ci.low, [3 - half, 10.0])
    assert_close(ci.high, [3 + half, 10.0])


def test_t_interval_with_one_realization_is_unbounded():
    ci = t_interval(np.array([[0.5, np.nan]]))
    assert ci.low[0] == -np.inf and ci.high[0] == np.inf
    assert np.isnan(ci.low[1]) and np.isnan(ci.high[1])


@pytest.mark.parametrize("draw, truth", [(lambda rng, s: rng.normal(2.0, 3.0, s), 2.0),
                                         (lambda rng, s: rng.uniform(-1.0, 3.0, s), 1.0)], ids=["normal", "uniform"])
def test_t_interval_covers_the_true_mean_95_percent_of_the_time(draw, truth):
    trials, r = 4000, 10
    ci = t_interval(draw(np.random.default_rng(20240611), (r, trials)), 0.95)
    covered = int(np.sum((ci.low <= truth) & (truth <= ci.high)))
    assert 0.93 <= covered / trials <= 0.97
    assert stats.binomtest(covered, trials, 0.95).pvalue > 1e-3


def test_bonferroni_level():
    assert bonferroni(0.95, 1) == 0.95
    assert_close(bonferroni(0.95, 10), 0.995)
    with pytest.raises(ValueError, match="level"):
        bonferroni(1.5, 2)
    with pytest.raises(ValueError, match="cells"):
        bonferroni(0.95, 0)


def test_clopper_pearson_known_values():
    ci = clopper_pearson(np.array([3, 0, 10]), 10, 0.95)
    # 3/10: the textbook exact interval; 0/n: upper 1 − (α/2)^(1/n); n/n: lower (α/2)^(1/n)
    assert_close(ci.low, [0.06673951117773447, 0.0, 0.025 ** 0.1], rtol=1e-9)
    assert_close(ci.high, [0.6524528500599973, 1 - 0.025 ** 0.1, 1.0], rtol=1e-9)
    # the same interval as scipy's exact binomial test, for every k
    n = 13
    ci = clopper_pearson(np.arange(n + 1), n, 0.9)
    for k in range(n + 1):
        exact = stats.binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
        assert_close([ci.low[k], ci.high[k]], [exact.low, exact.high], rtol=1e-9, atol=1e-15, msg=f"k={k}")
    with pytest.raises(ValueError, match="k <= n"):
        clopper_pearson(11, 10)


def test_bootstrap_interval_of_a_mean_agrees_with_t_for_normal_data():
    x = np.random.default_rng(3).normal(5.0, 2.0, (400, 1))
    boot = bootstrap_interval([x], lambda a, axis=-1: a.mean(axis=axis)[0], 0.95)
    t = t_interval(x, 0.95)
    assert_close([boot.low, boot.high], [t.low[0], t.high[0]], rtol=0.01)
    again = bootstrap_interval([x], lambda a, axis=-1: a.mean(axis=axis)[0], 0.95)
    assert boot == again  # seeded


def test_bootstrap_interval_of_constant_data_is_the_point():
    ci = bootstrap_interval([np.full((8, 3), 2.5)], lambda a, axis=-1: a.mean(axis=axis).max(axis=0))
    assert ci.low == 2.5 and ci.high == 2.5


def test_realizations_for_mean_is_the_smallest_deciding_number():
    std, distance, level = 1.3, 0.4, 0.99
    n = realizations_for_mean(std, distance, level, 8)
    half = lambda m: t_quantile(level, m - 1) * std / np.sqrt(m)  # noqa: E731
    assert half(n) < distance <= half(n - 1)
    assert realizations_for_mean(std, 0.0, level, 8) is None
    assert realizations_for_mean(np.nan, 1.0, level, 8) is None


def test_realizations_for_fraction_decides():
    n = realizations_for_fraction(1.0, 0.9, 0.95, 8)
    assert clopper_pearson(n, n, 0.95).low >= 0.9 > clopper_pearson(n - 1, n - 1, 0.95).low
    n = realizations_for_fraction(0.5, 0.9, 0.95, 4)
    ci = clopper_pearson(round(0.5 * n), n, 0.95)
    assert ci.high < 0.9
    assert realizations_for_fraction(0.9, 0.9, 0.95, 8) is None
