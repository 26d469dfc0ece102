"""Calibration: the coverage of each interval measured on the project's own quantities and on skewed bounded data
(SPEC §5 "coverage is measured, not assumed"). Seeded and fast.

The pools (``tests/data/calibration_pools.npz``, made by ``benchmarks/calibration.py pools``; read by
:func:`validation.calibration.load_pools`) hold 160 realizations
of T1's and P6's ``noncollapsed`` fraction at a small and a large width and of T2-GN's ``collapse_step``, as the
engine measures them; resampling ``n`` of them with replacement gives data whose true mean (the pool's) is known.
The betting confidence sequence must cover at its nominal level minus the simulation error (3 standard errors),
one cell and the whole Bonferroni family; the Student-t interval is shown *not* to (why the bounded quantities do
not use it). The full table, at more trials, is in docs/guides/calibration.md.
"""
from pathlib import Path

import numpy as np
import pytest

from validation.calibration import SKEWED, coverage, load_pools, synthetic_coverage

TRIALS, NOMINAL = 400, 0.95
FLOOR = NOMINAL - 3 * np.sqrt(NOMINAL * (1 - NOMINAL) / TRIALS)
POOLS = load_pools(Path(__file__).resolve().parents[1] / "data" / "calibration_pools.npz")


def _cell(name: str, pool: np.ndarray) -> int:
    return 0 if name.startswith("T2-GN") else pool.shape[1] - 1


@pytest.mark.parametrize("name", sorted(POOLS))
@pytest.mark.parametrize("n", [8, 16, 32])
def test_betting_covers_the_projects_quantities(name, n):
    pool, bounds = POOLS[name]
    for cell in (_cell(name, pool), None):  # one cell at 95 %; every cell jointly at 95 % Bonferroni
        covered, _ = coverage(pool, n, TRIALS, "betting", bounds, cell, seed=n)
        assert covered >= FLOOR, (name, n, cell, covered)


@pytest.mark.parametrize("name", sorted(SKEWED))
@pytest.mark.parametrize("n", [8, 16, 50])
def test_betting_covers_skewed_bounded_data(name, n):
    covered, _ = synthetic_coverage(name, n, 4 * TRIALS, "betting", seed=n)
    assert covered >= NOMINAL - 3 * np.sqrt(NOMINAL * (1 - NOMINAL) / (4 * TRIALS))


def test_student_t_undercovers_the_layer_family_at_small_width():
    """Why T1 and P6 use the betting sequence: Student-t's 50 Bonferroni cells of T1 at C = 16 cover well below 0.95
    at the quick mode's 16 realizations (measured 0.86 in docs/guides/calibration.md)."""
    pool, bounds = POOLS["T1 C=16"]
    covered, _ = coverage(pool, 16, 4 * TRIALS, "t", bounds, None, seed=1)
    assert covered < NOMINAL - 3 * np.sqrt(NOMINAL * (1 - NOMINAL) / (4 * TRIALS))
