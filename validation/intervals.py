"""Confidence intervals of SPEC §5.

- :func:`t_interval`: Student-t interval for the mean over realizations (axis 0),
  ``mean ± t_{(1+level)/2, R−1} · s / sqrt(R)`` with ``s`` the sample std (``ddof = 1``);
- :func:`bootstrap_interval`: ``scipy.stats.bootstrap`` (BCa or percentile) for a statistic that is not a mean;
- :func:`clopper_pearson`: the exact binomial interval for a probability, from ``k`` successes in ``n``
  (``scipy.stats.binomtest(...).proportion_ci(method='exact')``, in vectorized Beta-quantile form);
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


def realizations_for_fraction(fraction: float, threshold: float, level: float, n0: int) -> int | None:
    """Smallest ``n >= n0`` at which the Clopper–Pearson interval of ``round(fraction · n)`` successes
    in ``n`` excludes ``threshold`` (None when ``fraction == threshold`` or beyond 10⁹)."""
    if fraction == threshold:
        return None

    def decided(n: int) -> bool:
        ci = clopper_pearson(int(round(fraction * n)), n, level)
        return bool(ci.low >= threshold) if fraction > threshold else bool(ci.high < threshold)

    return _smallest(n0, decided)
