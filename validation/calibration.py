"""Measured coverage of the intervals (SPEC §5, "coverage is measured, not assumed").

- :func:`coverage`: how often intervals of ``n`` realizations resampled (with replacement) from a *pool* of stored
  realizations cover the pool's mean — data whose true mean is known — for one cell, or for every cell jointly at the
  Bonferroni level;
- :func:`synthetic_coverage`: the same on fresh draws from a law of known mean (:data:`SKEWED`: skewed bounded laws);
- :func:`save_pools` / :func:`load_pools`: pools of realizations, each with the bounds of its quantity, in one
  ``.npz``.

``benchmarks/calibration.py`` makes the pools of T1, P6 and T2-GN and prints the table of
``docs/guides/calibration.md``; ``tests/validation/test_calibration.py`` checks it at fewer trials.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .intervals import ConfidenceInterval, betting_interval, bonferroni, t_interval

INTERVALS = ("t", "betting")
SKEWED: dict[str, tuple[Callable[[np.random.Generator, tuple], np.ndarray], float]] = {
    "Beta(0.3, 6)": (lambda rng, s: rng.beta(0.3, 6.0, s), 0.3 / 6.3),
    "Bernoulli(0.97)": (lambda rng, s: (rng.uniform(size=s) < 0.97).astype(float), 0.97),
    "Beta(5, 1)": (lambda rng, s: rng.beta(5.0, 1.0, s), 5 / 6),
}
"""Skewed laws on [0, 1] and their means."""


def interval(kind: str, x: np.ndarray, level: float, bounds: tuple[float, float]) -> ConfidenceInterval:
    """The ``kind`` (:data:`INTERVALS`) interval of the mean of ``x`` over axis 0."""
    if kind not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {kind!r}")
    return betting_interval(x, level, bounds) if kind == "betting" else t_interval(x, level)


def coverage(pool: np.ndarray, n: int, trials: int, kind: str, bounds: tuple[float, float], cell: int | None,
             seed: int = 0) -> tuple[float, float]:
    """Coverage of the pool's mean by ``trials`` intervals of ``n`` realizations resampled from ``pool``
    (``(R, cells)``), and their mean width: ``cell`` one cell at 95 %, or None every cell jointly, each at the 95 %
    Bonferroni level."""
    rng = np.random.default_rng(seed)
    cols = [cell] if cell is not None else list(range(pool.shape[1]))
    level = 0.95 if cell is not None else bonferroni(0.95, len(cols))
    truth = pool[:, cols].mean(axis=0)
    x = pool[rng.integers(0, len(pool), (n, trials))][:, :, cols]          # (n, trials, cells)
    ci = interval(kind, x.reshape(n, -1), level, bounds)
    low, high = ci.low.reshape(trials, -1), ci.high.reshape(trials, -1)
    return float(((low <= truth) & (truth <= high)).all(axis=1).mean()), float((high - low).mean())


def synthetic_coverage(name: str, n: int, trials: int, kind: str, seed: int = 0) -> tuple[float, float]:
    """Coverage of the mean of the :data:`SKEWED` law ``name`` by ``trials`` 95 % intervals of ``n`` draws, and their
    mean width."""
    draw, truth = SKEWED[name]
    ci = interval(kind, draw(np.random.default_rng(seed), (n, trials)), 0.95, (0.0, 1.0))
    return float(((ci.low <= truth) & (truth <= ci.high)).mean()), float((ci.high - ci.low).mean())


def save_pools(path: str | Path, pools: Mapping[str, tuple[np.ndarray, tuple[float, float]]]) -> None:
    """Save ``name -> (realizations × cells, bounds)`` to ``path`` (``.npz``; samples as float32)."""
    arrays = {}
    for name, (samples, bounds) in pools.items():
        arrays[name] = np.asarray(samples, np.float32)
        arrays[f"{name} bounds"] = np.asarray(bounds, np.float64)
    np.savez_compressed(path, **arrays)


def load_pools(path: str | Path) -> dict[str, tuple[np.ndarray, tuple[float, float]]]:
    """The pools of :func:`save_pools`: ``name -> (samples in float64, bounds)``."""
    with np.load(path) as f:
        return {k: (np.asarray(f[k], np.float64), tuple(float(v) for v in f[f"{k} bounds"]))
                for k in f.files if not k.endswith(" bounds")}
