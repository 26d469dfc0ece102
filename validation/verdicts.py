"""Verdicts of SPEC §5: one :class:`Judgement` per comparison and configuration.

A comparison ``measured relation prediction`` (up to ``δ = tolerance``) defines, per cell, the
region ``m ≤ pred + δ`` (``"<="``), ``m ≥ pred − δ`` (``">="``) or ``|m − pred| ≤ δ`` (``"=="``).

- ``"mean"``: an interval of the mean over realizations — the betting confidence sequence
  (:func:`~validation.intervals.betting_interval`) when the comparison declares ``bounds``, else Student-t
  (:func:`interval_kind`). **PASS** if it lies inside the region, **FAIL** if it lies entirely outside,
  **INCONCLUSIVE** if it straddles a boundary (with the number of realizations at which an interval of the
  same mean and spread would no longer straddle it).
- ``"probability"``: the event "realization in the region" must have probability ≥ ``comparison.level``;
  Clopper–Pearson interval on the fraction of realizations where it holds: PASS if its lower end is
  ≥ ``level``, FAIL if its upper end is < ``level``, else INCONCLUSIVE.
- ``"exact"`` (deterministic claims): PASS only if *every* realization lies in the region, else FAIL.

Family-wise error over the ``m`` cells of one comparison: **Bonferroni** — every cell's interval has
level ``1 − (1 − confidence)/m``, so the ``m`` intervals (and the cell verdicts read from them) hold
jointly with probability ≥ ``confidence``. The comparison is PASS if every cell passes, FAIL if any cell
fails, else INCONCLUSIVE. If the configuration breaks a hypothesis the verdict is **HYPOTHESIS NOT MET**
(never PASS); the verdict the data alone gives is kept in ``measured_verdict``. A negative control is
*rejected* (good) when its measured verdict is FAIL in a cell whose values are all finite: a FAIL read from NaN
or ±inf values rejects nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import stats

from theorems.base import Comparison, Hypothesis

from .intervals import (ConfidenceInterval, betting_interval, bonferroni, bootstrap_interval, clopper_pearson,
                        realizations_for_betting, realizations_for_fraction, realizations_for_mean, t_interval)
from .power import POWER, detectable_shift, detectable_shortfall

PASS, FAIL, INCONCLUSIVE, UNMET = "PASS", "FAIL", "INCONCLUSIVE", "HYPOTHESIS NOT MET"
FORECAST_CELLS = 3
"""How many undecided cells (those nearest their boundary) the betting forecast of ``more_realizations`` resamples."""
BOUND_SLACK = 1e-6
"""Measured values may pass a comparison's declared bounds by round-off, up to ``BOUND_SLACK · (b − a)``: they are
clipped to the bounds (:func:`within_bounds`); anything further is an error."""


def interval_kind(comparison: Comparison) -> str:
    """The interval that judges ``comparison``: ``"betting"`` (a ``"mean"`` with declared bounds: a confidence
    sequence, valid at every number of realizations), ``"t"``, ``"clopper-pearson"`` or ``"range"`` (exact)."""
    if comparison.mode == "mean":
        return "betting" if comparison.bounds is not None else "t"
    return "clopper-pearson" if comparison.mode == "probability" else "range"


def within_bounds(comparison: Comparison, x: np.ndarray) -> np.ndarray:
    """``x`` clipped to ``comparison.bounds`` where it passes them by round-off (:data:`BOUND_SLACK`), else a clear
    error."""
    a, b = comparison.bounds
    slack = BOUND_SLACK * (b - a)
    with np.errstate(invalid="ignore"):
        if np.any((x < a - slack) | (x > b + slack)):
            raise ValueError(f"comparison {comparison.label!r}: {comparison.quantity!r} has values in "
                             f"[{np.nanmin(x):.6g}, {np.nanmax(x):.6g}], outside its declared bounds [{a:g}, {b:g}]")
    return np.clip(x, a, b)


def region(comparison: Comparison, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The claim's region per cell as ``[lower, upper]`` (±∞ for one-sided relations)."""
    tol = comparison.tolerance
    inf = np.full_like(prediction, np.inf)
    if comparison.relation == "<=":
        return -inf, prediction + tol
    if comparison.relation == ">=":
        return prediction - tol, inf
    return prediction - tol, prediction + tol


def combine(cell_verdicts: Sequence[str]) -> str:
    """PASS if every cell passes, FAIL if any fails, else INCONCLUSIVE."""
    if any(v == FAIL for v in cell_verdicts):
        return FAIL
    return PASS if all(v == PASS for v in cell_verdicts) else INCONCLUSIVE


def overall(verdicts: Sequence[str]) -> str:
    """One verdict for several comparisons, configurations or trends:
    FAIL if any, else INCONCLUSIVE if any, else PASS if any, else HYPOTHESIS NOT MET.

    Configurations that break a hypothesis (e.g. a negative-control dataset) do not mask the
    verdicts of those that meet them; they are reported in their own rows.
    """
    if not verdicts:
        raise ValueError("no verdicts to combine")
    for v in (FAIL, INCONCLUSIVE, PASS):
        if v in verdicts:
            return v
    return UNMET


@dataclass(frozen=True)
class Judgement:
    """The verdict of one comparison on one configuration's samples.

    estimate, low, high   per cell: ``"mean"``: the mean and its (Bonferroni) t-interval;
                          ``"probability"``: the fraction of realizations in the region and its
                          Clopper–Pearson interval; ``"exact"``: the mean and the range [min, max]
                          over realizations.
    margin                per cell, how far the interval (``"exact"``: the worst realization) reaches
                          beyond the region (> 0: outside on that side; ``"probability"``: ``level − low``).
    worst                 the cell with the largest margin.
    more_realizations     INCONCLUSIVE only: realizations that would likely decide every straddling cell
                          (total, not additional), or None when it cannot be estimated.
    detectable            the smallest violation of the bound (in the quantity's units; ``"probability"``: a
                          shortfall of the probability) that the check would FAIL with probability ≥ 0.8 at this
                          number of realizations, in its least sensitive cell (:mod:`validation.power`);
                          None for ``"exact"``.
    """

    comparison: Comparison
    negative_control: bool
    verdict: str
    measured_verdict: str
    cell_verdicts: tuple[str, ...]
    prediction: np.ndarray
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    margin: np.ndarray
    confidence: float
    cell_level: float
    realizations: int
    more_realizations: int | None
    unmet: tuple[Hypothesis, ...] = ()
    note: str = ""
    finite: np.ndarray | None = None
    """per cell, whether every realization's value is finite (None: all of them)"""
    detectable: float | None = None

    @property
    def interval(self) -> str:
        return interval_kind(self.comparison)

    @property
    def worst(self) -> int:
        return int(np.argmax(np.where(np.isnan(self.margin), np.inf, self.margin)))

    @property
    def rejected(self) -> bool:
        """For a negative control: the checker rejected the false claim — FAIL in a cell of finite values."""
        finite = np.ones(len(self.cell_verdicts), bool) if self.finite is None else self.finite
        return self.measured_verdict == FAIL and any(v == FAIL and f for v, f in zip(self.cell_verdicts, finite))

    @property
    def cells(self) -> list[Any]:
        c = self.comparison.cells
        return list(c) if c is not None else list(range(len(self.estimate)))

    def first_failing_cell(self, strict: bool = True) -> Any:
        """The label of the first cell whose verdict is FAIL (``strict``) or anything but PASS, or None.

        The first non-PASS cell is T1's crossing depth: the first depth where the bound is no longer certified.
        """
        for label, v in zip(self.cells, self.cell_verdicts):
            if v == FAIL or (not strict and v != PASS):
                return label
        return None

    def describe(self) -> dict:
        """A JSON-able summary (per-cell arrays as lists)."""
        c = self.comparison
        return {
            "label": c.label, "quantity": c.quantity, "relation": c.relation, "mode": c.mode,
            "tolerance": c.tolerance, "probability_level": c.level if c.mode == "probability" else None,
            "cell_name": c.cell_name, "cells": [_jsonable(x) for x in self.cells],
            "negative_control": self.negative_control, "verdict": self.verdict,
            "measured_verdict": self.measured_verdict, "rejected": self.rejected if self.negative_control else None,
            "cell_verdicts": list(self.cell_verdicts), "prediction": _list(self.prediction),
            "estimate": _list(self.estimate), "low": _list(self.low), "high": _list(self.high),
            "margin": _list(self.margin), "worst_cell": _jsonable(self.cells[self.worst]),
            "first_failing_cell": _jsonable(self.first_failing_cell()), "confidence": self.confidence,
            "cell_level": self.cell_level, "correction": "bonferroni", "realizations": self.realizations,
            "interval": self.interval, "bounds": None if c.bounds is None else list(c.bounds),
            "more_realizations": self.more_realizations, "detectable_power": POWER,
            "detectable_violation": None if self.detectable is None else _list([self.detectable])[0],
            "unmet_hypotheses": [f"{h.name}: {h.why}" for h in self.unmet], "note": self.note,
        }


def _list(a: np.ndarray) -> list:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float).ravel()]


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return x if isinstance(x, (int, float, str, bool, type(None))) else str(x)


def _cells(comparison: Comparison, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples as (R, m) and the prediction broadcast to the m cells, with a clear error on mismatch."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    cell_shape = x.shape[1:]
    try:
        pred = np.broadcast_to(comparison.prediction, cell_shape).astype(np.float64).ravel()
    except ValueError:
        raise ValueError(f"comparison {comparison.label!r}: prediction of shape {comparison.prediction.shape} does not "
                         f"match the cells {cell_shape} of {comparison.quantity!r}") from None
    if comparison.cells is not None and len(comparison.cells) != pred.size:
        raise ValueError(f"comparison {comparison.label!r}: {len(comparison.cells)} cell labels for {pred.size} cells")
    return x.reshape(len(x), -1), pred


def _outside(low, high, lo, hi) -> np.ndarray:
    """How far [low, high] reaches beyond [lo, hi] (> 0: not contained)."""
    with np.errstate(invalid="ignore"):
        return np.fmax(high - hi, lo - low)


def judge(comparison: Comparison, samples: np.ndarray, unmet: Sequence[Hypothesis] = (), confidence: float = 0.95,
          negative_control: bool = False) -> Judgement:
    """Judge ``comparison`` on ``samples`` of shape ``(R, cells...)`` (see the module docstring)."""
    x, pred = _cells(comparison, samples)
    r, m = x.shape
    if r < 1:
        raise ValueError(f"comparison {comparison.label!r}: no realizations to judge")
    cell_level = bonferroni(confidence, m)
    lo, hi = region(comparison, pred)
    mean = x.mean(axis=0)
    nan_cells = np.isnan(x).any(axis=0)
    more, note, detectable = None, "", None
    if comparison.mode == "exact":
        low, high = x.min(axis=0), x.max(axis=0)
        margin = _outside(low, high, lo, hi)
        cells = np.where((margin <= 0) & ~nan_cells, PASS, FAIL)
        estimate = mean
    elif comparison.mode == "mean":
        bounded = comparison.bounds is not None
        if bounded:
            x = within_bounds(comparison, x)
            mean = x.mean(axis=0)
        low, high = betting_interval(x, cell_level, comparison.bounds) if bounded else t_interval(x, cell_level)
        with np.errstate(invalid="ignore"):
            std = x.std(axis=0, ddof=1) if r > 1 else np.full(m, np.nan)
            half = (high - low) / 2
        shift = detectable_shift(half, std, r)[~np.isnan(half)]  # undefined (NaN) cells detect nothing
        detectable = float(shift.max()) if r > 1 and shift.size else None
        margin = _outside(low, high, lo, hi)
        with np.errstate(invalid="ignore"):
            inside = (low >= lo) & (high <= hi)
            outside = (low > hi) | (high < lo)
        cells = np.where(nan_cells, INCONCLUSIVE, np.where(inside, PASS, np.where(outside, FAIL, INCONCLUSIVE)))
        estimate = mean
        if r > 1 and FAIL not in cells:
            distance = np.fmin(np.abs(mean - lo), np.abs(mean - hi))
            undecided = np.flatnonzero(cells == INCONCLUSIVE)
            if bounded:  # by resampling, in the FORECAST_CELLS cells nearest their boundary (relative to the width)
                j = undecided[np.argsort(-half[undecided] / np.fmax(distance[undecided], 1e-300))][:FORECAST_CELLS]
                need = [realizations_for_betting(x[:, j], lo[j], hi[j], cell_level, comparison.bounds)] if j.size else []
            else:
                need = [realizations_for_mean(std[i], distance[i], cell_level, r) for i in undecided]
            more = None if (not need or None in need) else max(need)
    else:
        with np.errstate(invalid="ignore"):
            hits = ((x >= lo) & (x <= hi)).sum(axis=0)
        estimate = hits / r
        low, high = clopper_pearson(hits, r, cell_level)
        margin = comparison.level - low
        cells = np.where(low >= comparison.level, PASS, np.where(high < comparison.level, FAIL, INCONCLUSIVE))
        detectable = detectable_shortfall(comparison.level, r, cell_level)
        if FAIL not in cells:
            need = [realizations_for_fraction(estimate[j], comparison.level, cell_level, r)
                    for j in np.flatnonzero(cells == INCONCLUSIVE)]
            more = None if (not need or None in need) else max(need)
    if nan_cells.any():
        note = f"undefined (NaN) in {int(nan_cells.sum())} cell(s)"
    cell_verdicts = tuple(str(v) for v in cells)
    measured = combine(cell_verdicts)
    if measured != INCONCLUSIVE:
        more = None
    return Judgement(comparison=comparison, negative_control=negative_control,
                     verdict=UNMET if unmet else measured, measured_verdict=measured, cell_verdicts=cell_verdicts,
                     prediction=pred, estimate=estimate, low=np.asarray(low, float), high=np.asarray(high, float),
                     margin=np.asarray(margin, float), confidence=confidence, cell_level=cell_level, realizations=r,
                     more_realizations=more, unmet=tuple(unmet), note=note, finite=np.isfinite(x).all(axis=0),
                     detectable=detectable)


# -- asymptotic claims: the trend over a sweep (SPEC §5) ------------------------------------------------
def excess(relation: str, values: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """How far ``values`` (..., cells) go beyond the prediction in the worst cell (NaN cells ignored):

    ``"<="``: ``max_c (v_c − pred_c)``;  ``">="``: ``max_c (pred_c − v_c)``;  ``"=="``: ``max_c |v_c − pred_c|``.
    Negative for a one-sided relation when every cell is strictly inside the bound.
    """
    d = values - prediction if relation == "<=" else prediction - values if relation == ">=" else \
        np.abs(values - prediction)
    return np.nanmax(d, axis=-1)


def log_log_slope(values: Sequence[float], *means: np.ndarray, axis: int = -1) -> np.ndarray:
    """Least-squares slope of ``log mean_i`` against ``log values_i`` (NaN where a mean is <= 0)."""
    lx = np.log(np.asarray(values, dtype=float))
    lx = lx - lx.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.stack([np.log(np.mean(m, axis=axis)) for m in means])
    return np.tensordot(lx, ly - ly.mean(axis=0), axes=(0, 0)) / np.sum(lx ** 2)


RATE_GRID = np.round(np.arange(-3.0, 1.0 + 1e-9, 0.005), 3)
"""The exponents :func:`power_law_rate` searches (step 0.005)."""


def power_law_rate(values: Sequence[float], weights: np.ndarray, *means: np.ndarray, axis: int = -1) -> np.ndarray:
    """Exponent ``s`` of the weighted least-squares fit ``mean_i ≈ a · values_i^s`` (``a > 0``; ``s`` on
    :data:`RATE_GRID`), the weights ``w_i`` fixed. Defined where a mean is ≤ 0 (a resample of a nearly vanished
    excess), unlike :func:`log_log_slope`: for each ``s`` the best ``a`` is ``Σ w m v / Σ w v²`` (``v_i =
    (values_i / values_0)^s``), leaving ``Σ w m² − (Σ w m v)² / Σ w v²``. NaN where no ``a > 0`` fits."""
    v = (np.asarray(values, dtype=float) / float(values[0]))[:, None] ** RATE_GRID[None, :]     # (k, G)
    w = np.asarray(weights, dtype=float)
    m = np.stack([np.mean(x, axis=axis) for x in means])                                      # (k, ...)
    num = np.tensordot(w[:, None] * v, m, axes=(0, 0))                                        # (G, ...)
    den = ((w[:, None] * v ** 2).sum(axis=0)).reshape((-1,) + (1,) * (num.ndim - 1))
    score = np.where(num > 0, num ** 2 / den, -np.inf)
    return np.where(np.isfinite(score.max(axis=0)), RATE_GRID[np.argmax(score, axis=0)], np.nan)


@dataclass(frozen=True)
class Trend:
    """Does the excess over the prediction shrink as the swept attribute grows?

    The *excess* of one realization is :func:`excess` of its cells (its worst-cell excess); a
    configuration's excess is the mean over its realizations, with a Student-t interval.

    fixed                 what sets this group of configurations apart from the other groups ("" if none)
    values                the swept attribute (ascending), one configuration each
    excess, low, high     per configuration: mean worst-cell excess and its t-interval (level ``confidence``)
    difference, …_low/high   excess(smallest value) − excess(largest value) and its t-interval — paired
                          over the realization index when the numbers of realizations agree (realization
                          ``k`` of every configuration shares its seed), else Welch's. PASS if the lower end
                          is > 0 (the excess shrinks), FAIL if the upper end is < 0 (it grows), else
                          INCONCLUSIVE; HYPOTHESIS NOT MET if a configuration breaks a hypothesis.
    slope, slope_low/high least-squares slope of log excess against log value (about −1/2 for a
                          1/sqrt(C) convergence) and its percentile-bootstrap interval; NaN unless the
                          excesses are positive. Where a resampled excess is not positive (the log-log interval
                          is then undefined), ``slope_method = "power-law fit"``: the exponent of
                          :func:`power_law_rate` (weights 1/se² of the excesses) and its percentile-bootstrap interval
    first_failing         per value, the first cell whose verdict is FAIL, or None
    first_not_passing     per value, the first cell whose verdict is not PASS (T1's crossing depth), or None
    """

    label: str
    sweep: str
    fixed: str
    values: tuple
    excess: np.ndarray
    low: np.ndarray
    high: np.ndarray
    difference: float
    difference_low: float
    difference_high: float
    slope: float
    slope_low: float
    slope_high: float
    verdict: str
    measured_verdict: str
    first_failing: tuple
    first_not_passing: tuple
    cell_name: str
    confidence: float
    slope_method: str = "log-log"

    def describe(self) -> dict:
        num = lambda v: _list([v])[0]  # noqa: E731
        return {"label": self.label, "sweep": self.sweep, "fixed": self.fixed,
                "values": [_jsonable(v) for v in self.values], "excess": _list(self.excess), "low": _list(self.low),
                "high": _list(self.high), "difference": num(self.difference),
                "difference_low": num(self.difference_low), "difference_high": num(self.difference_high),
                "slope": num(self.slope), "slope_low": num(self.slope_low), "slope_high": num(self.slope_high),
                "slope_method": self.slope_method,
                "verdict": self.verdict, "measured_verdict": self.measured_verdict,
                "first_failing": [_jsonable(v) for v in self.first_failing],
                "first_not_passing": [_jsonable(v) for v in self.first_not_passing], "cell_name": self.cell_name,
                "confidence": self.confidence, "excess_definition": "mean over realizations of the worst-cell excess"}


def judge_trend(sweep: str, values: Sequence[Any], judgements: Sequence[Judgement], samples: Sequence[np.ndarray],
                confidence: float = 0.95, fixed: str = "", seed: int = 0) -> Trend:
    """Judge the trend of one comparison over configurations that differ only in ``sweep``.

    ``judgements[i]`` and ``samples[i]`` (shape ``(R_i, cells...)``) belong to the configuration with
    ``values[i]``; the numbers of cells may differ.
    """
    if len(values) < 2 or not (len(values) == len(judgements) == len(samples)):
        raise ValueError(f"a trend over {sweep!r} needs >= 2 configurations with one judgement and sample each")
    order = np.argsort(np.asarray(values, dtype=float), kind="stable")
    values = tuple(values[i] for i in order)
    judgements = [judgements[i] for i in order]
    relation = judgements[0].comparison.relation
    per_realization = [excess(relation, np.asarray(samples[i], float).reshape(len(samples[i]), -1), j.prediction)
                       for i, j in zip(order, judgements)]
    point = np.array([e.mean() for e in per_realization])
    cis = [t_interval(e, confidence) for e in per_realization]
    first, last = per_realization[0], per_realization[-1]
    if len(first) == len(last):
        d_ci = t_interval(first - last, confidence)
    else:
        w = stats.ttest_ind(first, last, equal_var=False).confidence_interval(confidence)
        d_ci = ConfidenceInterval(w.low, w.high)
    measured = PASS if d_ci.low > 0 else FAIL if d_ci.high < 0 else INCONCLUSIVE
    slope, s_ci, method = log_log_slope(values, *per_realization), ConfidenceInterval(np.nan, np.nan), "log-log"
    if np.isfinite(slope) and min(len(e) for e in per_realization) > 1:
        paired = len({len(e) for e in per_realization}) == 1
        s_ci = bootstrap_interval(per_realization, lambda *m, axis=-1: log_log_slope(values, *m, axis=axis),
                                  confidence, paired=paired, seed=seed, method="percentile")
        if not (np.isfinite(s_ci.low) and np.isfinite(s_ci.high)):
            weights = np.array([len(e) / e.var(ddof=1) for e in per_realization])
            rate = lambda *m, axis=-1: power_law_rate(values, weights, *m, axis=axis)  # noqa: E731
            slope, method = rate(*per_realization), "power-law fit"
            s_ci = bootstrap_interval(per_realization, rate, confidence, paired=paired, seed=seed,
                                      method="percentile")
    unmet = any(j.unmet for j in judgements)
    return Trend(label=judgements[0].comparison.label, sweep=sweep, fixed=fixed, values=values, excess=point,
                 low=np.array([float(c.low) for c in cis]), high=np.array([float(c.high) for c in cis]),
                 difference=float(first.mean() - last.mean()), difference_low=float(d_ci.low),
                 difference_high=float(d_ci.high), slope=float(slope), slope_low=float(s_ci.low),
                 slope_high=float(s_ci.high), verdict=UNMET if unmet else measured, measured_verdict=measured,
                 first_failing=tuple(j.first_failing_cell() for j in judgements),
                 first_not_passing=tuple(j.first_failing_cell(strict=False) for j in judgements),
                 cell_name=judgements[0].comparison.cell_name or "cell", confidence=confidence, slope_method=method)


# -- asymptotic claims: the overall verdict (SPEC §5) ------------------------------------------------------
@dataclass(frozen=True)
class Asymptotic:
    """The overall verdict of one comparison of an asymptotic claim over a sweep (SPEC §5): it combines the cells of
    the widest configuration, the infinite-width limit (SPEC §8) where it is computed, and the :class:`Trend`;
    the trend alone never makes a PASS.

    - **FAIL** if the trend FAILs (the excess grows with the swept value), or if the widest configuration FAILs a
      cell where the limit also lies outside the claim's region (where no limit is computed, the widest FAIL alone);
    - **PASS** only if the trend PASSes and the widest configuration PASSes every cell up to ``certified`` (the
      depth the verdict names: the cell before the widest configuration's crossing, the last cell if none);
    - else **INCONCLUSIVE**, with ``decide``: the swept value (and realizations) to run next.

    widest          the largest swept value; ``widest_cells`` its cell verdicts
    limit           per cell, the compared quantity at C = ∞ (None: no limit computed); ``limit_cells`` PASS / FAIL
                    of the limit against the region (deterministic), None without a limit
    failing         the cells where the widest configuration FAILs and the limit does not clear it
    certified       the last cell of the widest configuration's leading run of PASS cells, or None
    crossing        per swept value, the first cell whose verdict is not PASS (None: none), as in the trend
    """

    label: str
    sweep: str
    fixed: str
    trend: Trend
    widest: Any
    widest_cells: tuple[str, ...]
    cells: tuple
    limit: np.ndarray | None
    limit_cells: tuple[str, ...] | None
    failing: tuple
    certified: Any
    verdict: str
    measured_verdict: str
    reason: str
    decide: str

    @property
    def crossing(self) -> tuple:
        return self.trend.first_not_passing

    def describe(self) -> dict:
        return {"label": self.label, "sweep": self.sweep, "fixed": self.fixed, "verdict": self.verdict,
                "measured_verdict": self.measured_verdict, "reason": self.reason, "decide": self.decide,
                "widest": _jsonable(self.widest), "widest_cells": list(self.widest_cells),
                "cell_name": self.trend.cell_name, "cells": [_jsonable(c) for c in self.cells],
                "limit": None if self.limit is None else _list(self.limit),
                "limit_cells": None if self.limit_cells is None else list(self.limit_cells),
                "limit_verdict": None if self.limit_cells is None else combine(self.limit_cells),
                "failing": [_jsonable(c) for c in self.failing], "certified": _jsonable(self.certified),
                "crossing": {str(_jsonable(v)): _jsonable(c) for v, c in zip(self.trend.values, self.crossing)},
                "trend_verdict": self.trend.measured_verdict}


def judge_limit(comparison: Comparison, prediction: np.ndarray, limit: np.ndarray) -> tuple[str, ...]:
    """Per cell, PASS if the deterministic C = ∞ value lies in the claim's region, else FAIL (NaN: FAIL)."""
    lo, hi = region(comparison, prediction)
    value = np.broadcast_to(np.asarray(limit, dtype=float).ravel(), prediction.shape)
    with np.errstate(invalid="ignore"):
        inside = (value >= lo) & (value <= hi)
    return tuple(PASS if ok else FAIL for ok in inside)


def judge_asymptotic(trend: Trend, widest: Judgement, limit: np.ndarray | None = None) -> Asymptotic:
    """The overall verdict of an asymptotic claim (see :class:`Asymptotic`) from its ``trend``, the judgement of its
    widest configuration (``trend.values[-1]``) and the limit of the compared quantity per cell (or None)."""
    cells, name, v = tuple(widest.cells), trend.cell_name, trend.values[-1]
    limit_cells = None if limit is None else judge_limit(widest.comparison, widest.prediction, limit)
    cleared = limit_cells or (FAIL,) * len(cells)
    failing = tuple(c for c, w, lim in zip(cells, widest.cell_verdicts, cleared) if w == FAIL and lim == FAIL)
    lead = next((i for i, w in enumerate(widest.cell_verdicts) if w != PASS), len(cells))
    certified = cells[lead - 1] if lead else None
    where = f"{trend.sweep} = {v}"
    decide = ""
    if trend.measured_verdict == FAIL:
        measured, reason = FAIL, (f"the excess over the prediction grows from {trend.sweep} = {trend.values[0]} to "
                                  f"{v}")
    elif failing:
        why = "the limit C = ∞ violates it too" if limit is not None else "no C = ∞ limit is computed to clear it"
        measured, reason = FAIL, f"{where} FAILs {name} {_span(failing)} and {why}"
    elif trend.measured_verdict == PASS and lead:
        measured = PASS
        reason = (f"the excess shrinks with {trend.sweep} and {where} PASSes every {name} up to {certified}"
                  + ("" if lead == len(cells) else f" (crossing at {name} {cells[lead]})"))
    else:
        measured = INCONCLUSIVE
        undecided = []
        if trend.measured_verdict != PASS:
            undecided.append(f"the excess's trend is {trend.measured_verdict}")
        if not lead:
            undecided.append(f"{where} does not PASS {name} {cells[0]}")
        reason = "; ".join(undecided)
        decide = _decide(trend, widest)
    return Asymptotic(label=trend.label, sweep=trend.sweep, fixed=trend.fixed, trend=trend, widest=v,
                      widest_cells=tuple(widest.cell_verdicts), cells=cells,
                      limit=None if limit is None else np.asarray(limit, float).ravel(), limit_cells=limit_cells,
                      failing=failing, certified=certified, verdict=UNMET if trend.verdict == UNMET else measured,
                      measured_verdict=measured, reason=reason, decide=decide)


def _span(cells: Sequence[Any]) -> str:
    return str(cells[0]) if len(cells) == 1 else f"{cells[0]}–{cells[-1]} ({len(cells)} cells)"


def _decide(trend: Trend, widest: Judgement) -> str:
    """Which run would decide: the next swept value of the sweep's own geometric progression (and the realizations
    the widest configuration's straddling cells ask for)."""
    try:
        a, b = float(trend.values[-2]), float(trend.values[-1])
        nxt = f"{trend.sweep} = {b * b / a:g}" if a > 0 and b > a else f"a larger {trend.sweep}"
    except (TypeError, ValueError):
        nxt = f"a larger {trend.sweep}"
    more = (f", or ≈{widest.more_realizations} realizations at {trend.sweep} = {trend.values[-1]}"
            if widest.more_realizations else "")
    return f"{nxt} would decide{more}"
