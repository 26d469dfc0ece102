"""Confidence intervals of SPEC §5.

- :func:`t_interval`: Student-t interval for the mean over realizations (axis 0),
  ``mean ± t_{(1+level)/2, R−1} · s / sqrt(R)`` with ``s`` the sample std (``ddof = 1``);
- :func:`bootstrap_interval`: ``scipy.stats.bootstrap`` (BCa or percentile) for a statistic that is not a mean;
- :func:`clopper_pearson`: the exact binomial interval for a probability, from ``k`` successes in ``n``
  (``scipy.stats.binomtest(...).proportion_ci(method='exact')``, in vectorized Beta-quantile form);
- :func:`betting_interval`: for a quantity with known bounds ``[a, b]``, the hedged-capital betting confidence
  sequence of Waudby-Smith & Ramdas (2020): its coverage holds for *any* distribution on ``[a, b]`` and at
  every number of realizations simultaneously (so a run may add realizations until decided);
- :func:`bonferroni`: the per-cell level that makes ``m`` intervals simultaneous at ``level``;
- :func:`realizations_for_mean` / :func:`realizations_for_fraction`: how many realizations would
  make an interval clear a boundary, assuming the estimates stay where they are.
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple, Sequence

import numpy as np
from scipy import stats

MAX_REALIZATIONS = 10 ** 9


class ConfidenceInterval(NamedTuple):
    low: np.ndarray
    high: np.ndarray


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"confidence level must lie strictly between 0 and 1, got {level!r}")


def bonferroni(level: float, m: int) -> float:
    """Per-cell level ``1 − (1 − level)/m``: ``m`` intervals then hold jointly with probability ≥ ``level``."""
    _check_level(level)
    if m < 1:
        raise ValueError(f"number of cells must be >= 1, got {m}")
    return 1.0 - (1.0 - level) / m


def t_quantile(level: float, df) -> np.ndarray:
    """``t_{(1+level)/2, df}``, the two-sided Student-t critical value."""
    return stats.t.ppf(0.5 + level / 2, df)


def t_interval(samples: np.ndarray, level: float = 0.95) -> ConfidenceInterval:
    """Student-t interval for the mean of ``samples`` over axis 0 (one interval per cell).

    With one realization the interval is ``(−∞, ∞)``; with zero spread it is the mean itself.
    """
    _check_level(level)
    x = np.asarray(samples, dtype=np.float64)
    r = x.shape[0]
    if r < 1:
        raise ValueError("t_interval needs at least one realization")
    mean = x.mean(axis=0)
    if r == 1:
        inf = np.full_like(mean, np.inf)
        return ConfidenceInterval(np.where(np.isnan(mean), np.nan, -inf), np.where(np.isnan(mean), np.nan, inf))
    half = t_quantile(level, r - 1) * x.std(axis=0, ddof=1) / np.sqrt(r)
    return ConfidenceInterval(mean - half, mean + half)


def bootstrap_interval(data: Sequence[np.ndarray], statistic: Callable[..., np.ndarray], level: float = 0.95, *,
                       paired: bool = False, method: str = "BCa", n_resamples: int = 2000,
                       seed: int = 0) -> ConfidenceInterval:
    """Bootstrap interval (``scipy.stats.bootstrap``, ``method`` BCa or percentile) of ``statistic``.

    ``data`` holds one or more samples, realizations along axis 0 (cells may follow); ``statistic``
    is called as ``statistic(*samples, axis=-1)`` with the realizations along the *last* axis (cells
    first, then any resampling axes). ``paired``: resample the same realization indices in every
    sample. Degenerate data, where BCa is undefined, fall back to the percentile interval. Seeded.
    """
    _check_level(level)
    moved = tuple(np.moveaxis(np.asarray(d, dtype=np.float64), 0, -1) for d in data)
    for method in dict.fromkeys((method, "percentile")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate data: BCa gives NaN, handled below
            res = stats.bootstrap(moved, statistic, confidence_level=level, n_resamples=n_resamples, paired=paired,
                                  vectorized=True, axis=-1, method=method, rng=np.random.default_rng(seed))
        ci = ConfidenceInterval(np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high))
        if not (np.isnan(ci.low).any() or np.isnan(ci.high).any()):
            break
    return ci


def clopper_pearson(k, n: int, level: float = 0.95) -> ConfidenceInterval:
    """Exact (Clopper–Pearson) interval for a probability from ``k`` successes in ``n`` trials (``k``: an array too).

    The Beta-quantile form ``[B(α/2; k, n−k+1), B(1−α/2; k+1, n−k)]`` (0 and 1 at ``k = 0`` and ``k = n``),
    the same interval as ``scipy.stats.binomtest(k, n).proportion_ci(level, method="exact")``, vectorized.
    """
    _check_level(level)
    k = np.asarray(k)
    if n < 1 or np.any((k < 0) | (k > n)):
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k.tolist()}, n={n}")
    alpha = 1.0 - level
    with np.errstate(invalid="ignore"):
        low = np.where(k == 0, 0.0, stats.beta.ppf(alpha / 2, k, n - k + 1))
        high = np.where(k == n, 1.0, stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return ConfidenceInterval(low, high)


BET_CAP = 0.75
"""``c`` of the hedged-capital bets: ``λ^+ ≤ c/m``, ``λ^− ≤ c/(1 − m)`` keep every factor of the capital ≥ 1 − c > 0."""
BISECTIONS = 48
"""Bisection steps per end of a betting interval: the end is found to ``2^−48`` of the range (always outward)."""


def _bets(x: np.ndarray, alpha: float) -> np.ndarray:
    """The predictable plug-in bets ``λ_t = sqrt(2 log(2/α) / (σ̂²_{t−1} t log(1 + t)))`` for data
    ``x`` of shape ``(n, cells)`` in ``[0, 1]``, with ``μ̂_t = (1/2 + Σ_{i≤t} x_i)/(t + 1)``,
    ``σ̂²_t = (1/4 + Σ_{i≤t} (x_i − μ̂_i)²)/(t + 1)`` and ``σ̂²_0 = 1/4`` (WSR 2020, Eq. 26 with Theorem 3)."""
    t = np.arange(1, len(x) + 1, dtype=np.float64)[:, None]
    mu = (0.5 + np.cumsum(x, axis=0)) / (t + 1)
    var = (0.25 + np.cumsum((x - mu) ** 2, axis=0)) / (t + 1)
    previous = np.concatenate([np.full((1, x.shape[1]), 0.25), var[:-1]])
    return np.sqrt(2 * np.log(2 / alpha) / (previous * t * np.log1p(t)))


def _max_log_capital(x: np.ndarray, bets: np.ndarray, m: np.ndarray, side: int) -> np.ndarray:
    """``max_{t≤n} log K^±_t(m)`` per cell, with ``K^+_t(m) = Π_{i≤t} (1 + min(λ_i, c/m)(x_i − m))`` (``side = +1``) and
    ``K^−_t(m) = Π_{i≤t} (1 − min(λ_i, c/(1 − m))(x_i − m))`` (``side = −1``); ``m`` one candidate mean per cell."""
    with np.errstate(divide="ignore"):
        cap = BET_CAP / (m if side > 0 else 1 - m)
    lam = np.minimum(bets, cap)
    return np.cumsum(np.log1p(side * lam * (x - m)), axis=0).max(axis=0)


def betting_interval(samples: np.ndarray, level: float = 0.95, bounds: tuple[float, float] = (0.0, 1.0)
                     ) -> ConfidenceInterval:
    """Hedged-capital betting confidence sequence for the mean of ``samples`` (axis 0) on ``bounds = (a, b)``.

    On ``x = (samples − a)/(b − a) ∈ [0, 1]``, a mean ``m`` is excluded at ``α = 1 − level`` once the hedged capital
    ``max(K^+_t(m), K^−_t(m))/2`` (:func:`_max_log_capital`, bets :func:`_bets`) has reached ``1/α`` at some
    ``t ≤ n``; by Ville's inequality the true mean is excluded with probability ≤ α *over all n at once*, whatever
    the distribution on ``[a, b]`` (Waudby-Smith & Ramdas 2020, "Estimating means of bounded random variables by
    betting", Theorem 3, with the running intersection). ``K^+`` is non-increasing and ``K^−`` non-decreasing in
    ``m``, so the set is an interval ``[low, high]``: each end is found by bisection, rounded outward. An empty
    set (probability ≤ α) is returned as the point midway between its would-be ends. Values outside the bounds
    are an error.
    """
    _check_level(level)
    a, b = map(float, bounds)
    if not (np.isfinite(a) and np.isfinite(b) and a < b):
        raise ValueError(f"bounds must be finite with a < b, got {bounds!r}")
    x = np.asarray(samples, dtype=np.float64)
    shape = x.shape[1:]
    x = x.reshape(len(x), -1)
    if len(x) < 1:
        raise ValueError("betting_interval needs at least one realization")
    if np.any((x < a) | (x > b)):
        raise ValueError(f"samples outside the declared bounds [{a:g}, {b:g}]: range [{np.nanmin(x):g}, "
                         f"{np.nanmax(x):g}]")
    nan = np.isnan(x).any(axis=0)
    u = np.clip(np.where(np.isnan(x), 0.5, (x - a) / (b - a)), 0.0, 1.0)
    alpha = 1.0 - level
    bets = _bets(u, alpha)
    threshold = np.log(2 / alpha)  # hedged with θ = 1/2: max(K+, K−)/2 ≥ 1/α

    def end(side: int) -> np.ndarray:
        """``side = +1``: inf of the m not excluded by K+ (non-increasing in m); ``−1``: sup of those not excluded
        by K− (non-decreasing in m)."""
        rejected, kept = (np.zeros(u.shape[1]), np.ones(u.shape[1])) if side > 0 else \
            (np.ones(u.shape[1]), np.zeros(u.shape[1]))
        ok = _max_log_capital(u, bets, rejected, side) < threshold
        kept = np.where(ok, rejected, kept)  # the range's own end is not excluded: it is the interval's end
        for _ in range(BISECTIONS):
            mid = (rejected + kept) / 2
            out = _max_log_capital(u, bets, mid, side) >= threshold
            rejected, kept = np.where(out, mid, rejected), np.where(out, kept, mid)
        return np.where(ok, kept, rejected)  # outward: the last excluded point

    low, high = end(+1), end(-1)
    empty = low > high
    low, high = np.where(empty, (low + high) / 2, low), np.where(empty, (low + high) / 2, high)
    low, high = a + (b - a) * low, a + (b - a) * high
    low, high = np.where(nan, np.nan, low), np.where(nan, np.nan, high)
    return ConfidenceInterval(low.reshape(shape), high.reshape(shape))


def _smallest(n0: int, decided: Callable[[int], bool]) -> int | None:
    """Smallest ``n >= n0`` with ``decided(n)`` (``decided`` monotone), or None below :data:`MAX_REALIZATIONS`."""
    hi = max(n0, 2)
    while not decided(hi):
        hi *= 2
        if hi > MAX_REALIZATIONS:
            return None
    lo = max(n0, 2) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decided(mid) else (mid, hi)
    return hi


def realizations_for_mean(std: float, distance: float, level: float, n0: int) -> int | None:
    """Smallest ``n >= n0`` with ``t_{(1+level)/2, n−1} · std / sqrt(n) < distance``.

    The number of realizations at which a t-interval of the same mean and spread would no
    longer straddle a boundary ``distance`` away from the mean (half-width ∝ 1/sqrt(n)).
    None when it cannot be estimated (``distance = 0``, unknown spread) or exceeds 10⁹.
    """
    if not (np.isfinite(std) and np.isfinite(distance)) or distance <= 0:
        return None
    return _smallest(n0, lambda n: bool(t_quantile(level, n - 1) * std / np.sqrt(n) < distance))


BETTING_FORECAST_LIMIT = 2 ** 14
""":func:`realizations_for_betting` looks no further than this many realizations."""


def realizations_for_betting(samples: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float,
                             bounds: tuple[float, float], reps: int = 4, seed: int = 0) -> int | None:
    """Smallest ``n' = n · 2^k`` (the batches of ``--until-decided``) at which betting intervals of ``n'`` realizations
    resampled from ``samples`` (``(n, cells)``) decide every cell against its region ``[lo, hi]`` in most of ``reps``
    seeded resamples — assuming the data's distribution stays the empirical one, as :func:`realizations_for_mean`
    assumes the spread stays. None beyond :data:`BETTING_FORECAST_LIMIT`."""
    x = np.asarray(samples, dtype=np.float64)
    n = len(x)
    rng = np.random.default_rng(seed)
    k = n
    while 2 * k <= BETTING_FORECAST_LIMIT:
        k *= 2
        ci = betting_interval(x[rng.integers(0, n, (k, reps))].reshape(k, -1), level, bounds)
        low, high = ci.low.reshape(reps, -1), ci.high.reshape(reps, -1)
        decided = ((low >= lo) & (high <= hi)) | (low > hi) | (high < lo)
        if np.all(decided.mean(axis=0) > 0.5):
            return k
    return None


def realizations_for_fraction(fraction: float, threshold: float, level: float, n0: int) -> int | None:
    """Smallest ``n >= n0`` at which the Clopper–Pearson interval of ``round(fraction · n)`` successes
    in ``n`` excludes ``threshold`` (None when ``fraction == threshold`` or beyond 10⁹)."""
    if fraction == threshold:
        return None

    def decided(n: int) -> bool:
        ci = clopper_pearson(int(round(fraction * n)), n, level)
        return bool(ci.low >= threshold) if fraction > threshold else bool(ci.high < threshold)

    return _smallest(n0, decided)
