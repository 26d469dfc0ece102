"""The betting confidence sequence (validation.intervals.betting_interval) against a slow scalar reference of
Waudby-Smith & Ramdas (2020)'s hedged capital, and its guarantees: coverage on skewed bounded data, validity at
every number of realizations, bounds and verdict selection."""
import math

import numpy as np
import pytest

from theorems.base import Comparison
from validation.intervals import BET_CAP, betting_interval, realizations_for_betting
from validation.verdicts import FAIL, PASS, interval_kind, judge


def excluded_slow(x: list[float], m: float, alpha: float) -> bool:
    """Whether mean ``m`` of data ``x`` in [0, 1] is excluded at some t ≤ n: the hedged capital
    max(K+, K−)/2 reaches 1/α (scalar loops, the paper's definitions written out)."""
    mu_sum, var_sum, k_plus, k_minus, var_prev = 0.0, 0.0, 1.0, 1.0, 0.25
    for t, xt in enumerate(x, 1):
        lam = math.sqrt(2 * math.log(2 / alpha) / (var_prev * t * math.log(1 + t)))
        lam_plus = lam if m == 0 else min(lam, BET_CAP / m)
        lam_minus = lam if m == 1 else min(lam, BET_CAP / (1 - m))
        k_plus *= 1 + lam_plus * (xt - m)
        k_minus *= 1 - lam_minus * (xt - m)
        if max(k_plus, k_minus) / 2 >= 1 / alpha:
            return True
        mu_sum += xt
        mu_t = (0.5 + mu_sum) / (t + 1)
        var_sum += (xt - mu_t) ** 2
        var_prev = (0.25 + var_sum) / (t + 1)
    return False


@pytest.mark.parametrize("n, seed", [(1, 0), (5, 1), (16, 2), (60, 3)])
def test_betting_interval_matches_the_slow_reference(n, seed):
    rng = np.random.default_rng(seed)
    x = np.stack([rng.beta(0.5, 3.0, n), rng.uniform(0, 1, n), (rng.uniform(size=n) < 0.9).astype(float)], axis=1)
    level = 0.9
    ci = betting_interval(x, level)
    grid = np.linspace(0, 1, 201)
    for j in range(x.shape[1]):
        kept = [m for m in grid if not excluded_slow(list(x[:, j]), m, 1 - level)]
        assert kept, "the confidence set is not empty here"
        assert ci.low[j] <= min(kept) and max(kept) <= ci.high[j]  # contains every kept grid point
        outside = [m for m in grid if m < ci.low[j] - 1e-9 or m > ci.high[j] + 1e-9]
        assert all(excluded_slow(list(x[:, j]), m, 1 - level) for m in outside)
        assert ci.low[j] > min(kept) - 0.005 - 1e-9 and ci.high[j] < max(kept) + 0.005 + 1e-9  # tight to the grid


def test_betting_interval_rescales_declared_bounds():
    rng = np.random.default_rng(4)
    u = rng.beta(2, 2, (30, 2))
    a, b = -1.0, 3.0
    ci01, ci = betting_interval(u, 0.95), betting_interval(a + (b - a) * u, 0.95, (a, b))
    np.testing.assert_allclose(ci.low, a + (b - a) * ci01.low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ci.high, a + (b - a) * ci01.high, rtol=0, atol=1e-12)


def test_betting_interval_refuses_values_outside_the_bounds_and_bad_bounds():
    with pytest.raises(ValueError, match="outside the declared bounds"):
        betting_interval(np.array([[0.5], [1.5]]), 0.95)
    with pytest.raises(ValueError, match="a < b"):
        betting_interval(np.array([[0.5]]), 0.95, (1.0, 1.0))


def test_betting_interval_with_nan_cells_and_one_realization():
    ci = betting_interval(np.array([[0.2, np.nan]]), 0.95)
    assert np.isnan(ci.low[1]) and np.isnan(ci.high[1])
    assert ci.low[0] == 0.0 and ci.high[0] == 1.0  # one realization decides nothing at 95 %


@pytest.mark.parametrize("name, draw, truth", [
    ("beta(0.3,6)", lambda rng, s: rng.beta(0.3, 6.0, s), 0.3 / 6.3),
    ("bernoulli(0.97)", lambda rng, s: (rng.uniform(size=s) < 0.97).astype(float), 0.97),
    ("beta(5,1)", lambda rng, s: rng.beta(5.0, 1.0, s), 5 / 6)])
def test_betting_sequence_covers_at_every_n_at_once(name, draw, truth):
    """Time-uniform coverage: the true mean stays inside the interval at *every* n ≤ 64 in ≥ 95 % of the runs
    (2000 seeded runs; the Student-t interval, checked at every n, misses far more often on these)."""
    trials, n = 2000, 64
    x = draw(np.random.default_rng(7), (n, trials))
    ever_missed = np.zeros(trials, bool)
    for k in (4, 8, 16, 32, 64):
        ci = betting_interval(x[:k], 0.95)
        ever_missed |= (truth < ci.low) | (truth > ci.high)
    assert ever_missed.mean() <= 0.05


def test_judge_picks_the_interval_from_the_declared_bounds():
    x = np.random.default_rng(5).beta(2, 8, (40, 3))
    t = Comparison("q", "<=", 0.5, 0.0, "mean", "t")
    bet = Comparison("q", "<=", 0.5, 0.0, "mean", "betting", bounds=(0, 1))
    assert (interval_kind(t), interval_kind(bet)) == ("t", "betting")
    jt, jb = judge(t, x), judge(bet, x)
    assert jt.verdict == jb.verdict == PASS
    assert np.all(jb.high - jb.low > jt.high - jt.low)  # guaranteed coverage costs width
    assert judge(Comparison("q", ">=", 0.5, 0.0, "mean", "false", bounds=(0, 1)), x).verdict == FAIL
    assert jb.describe()["interval"] == "betting" and jb.describe()["bounds"] == [0.0, 1.0]


def test_judge_clips_round_off_past_the_bounds_and_refuses_more():
    x = np.full((40, 1), 0.1)
    x[0] = -1e-9
    assert judge(Comparison("q", "<=", 0.5, 0.0, "mean", "c", bounds=(0, 1)), x).verdict == PASS
    x[0] = -0.01
    with pytest.raises(ValueError, match="outside its declared bounds"):
        judge(Comparison("q", "<=", 0.5, 0.0, "mean", "c", bounds=(0, 1)), x)


def test_comparison_refuses_bad_bounds():
    with pytest.raises(ValueError, match="bounds"):
        Comparison("q", "<=", 0.5, 0.0, "mean", "c", bounds=(1, 0))


def test_realizations_for_betting_forecasts_the_batch_that_decides():
    """The forecast (resampling the data to n · 2^k) against the batches that actually decide fresh data."""
    rng = np.random.default_rng(9)
    draw = lambda n: rng.beta(2, 30, (n, 1))  # noqa: E731  mean 1/16, bound 0.1
    lo, hi = np.array([-np.inf]), np.array([0.1])
    forecast = realizations_for_betting(draw(16), lo, hi, 0.99, (0, 1))
    assert forecast is not None and forecast > 16
    decided_at = next(k for k in (32, 64, 128, 256, 512, 1024)
                      if betting_interval(draw(k), 0.99).high[0] <= 0.1)
    assert forecast / 4 <= decided_at <= forecast * 4
    assert realizations_for_betting(np.full((16, 1), 0.1), lo, hi, 0.99, (0, 1)) is None  # on the boundary
