"""Power beside every verdict (SPEC §5): the smallest violation of the bound that the check would FAIL with
probability at least :data:`POWER` at its number of realizations.

- ``"mean"`` (:func:`detectable_shift`): a true mean ``d`` beyond the region's boundary makes the interval (half-width
  ``h``, about the sample mean) lie entirely beyond it with probability ``≈ POWER`` when
  ``d = h + z_POWER · s/√R`` (normal approximation of the sample mean, ``s`` the sample std). For the Student-t
  interval ``h = t_{(1+ℓ)/2, R−1} · s/√R`` (analytic); for the betting interval ``h`` is the interval's own
  half-width (it depends on the data only through their spread, to first order).
- ``"probability"`` (:func:`detectable_shortfall`): exact for Clopper–Pearson: the largest success count ``k*`` whose
  upper end is below ``level`` FAILs; ``P(Bin(R, p) ≤ k*) ≥ POWER`` iff ``p ≤ B(1 − POWER; k* + 1, R − k*)``, so
  the smallest detectable shortfall is ``level − B(1 − POWER; k* + 1, R − k*)``.
- ``"exact"``: deterministic; any realization beyond the tolerance FAILs (no power to state).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from .intervals import clopper_pearson

POWER = 0.8
POOR = 0.05
"""A PASS is of *poor power* when it cannot detect a violation of ``POOR`` (5 %) of the bound's scale
(:func:`poor_power`)."""


def detectable_shift(half_width: np.ndarray, std: np.ndarray, n: int) -> np.ndarray:
    """``h + z_POWER · s/√n`` per cell (see the module docstring); ``inf`` with fewer than two realizations."""
    if n < 2:
        return np.full(np.shape(half_width), np.inf)
    return np.asarray(half_width, float) + stats.norm.ppf(POWER) * np.asarray(std, float) / np.sqrt(n)


def detectable_shortfall(level: float, n: int, cell_level: float) -> float:
    """Smallest ``level − p`` that a Clopper–Pearson check at ``cell_level`` on ``n`` realizations FAILs with
    probability ``≥ POWER`` (``inf`` if no outcome can FAIL)."""
    k = np.arange(n + 1)
    fails = np.flatnonzero(clopper_pearson(k, n, cell_level).high < level)
    if not fails.size:
        return float("inf")
    k_star = int(fails[-1])
    return float(level - stats.beta.ppf(1 - POWER, k_star + 1, n - k_star))


def poor_power(detectable: float | None, prediction: np.ndarray, tolerance: float) -> bool:
    """Whether a violation of ``POOR`` of the scale ``max(max |prediction|, tolerance)`` would go undetected
    (always, when that scale is 0 and the detectable violation is not)."""
    if detectable is None:
        return False
    scale = max(float(np.max(np.abs(prediction))), tolerance)
    return detectable > POOR * scale
