"""Coverage of the intervals, measured on the project's own quantities and on skewed bounded data (SPEC §5).

    .venv/bin/python benchmarks/calibration.py pools      # writes tests/data/calibration_pools.npz (minutes)
    .venv/bin/python benchmarks/calibration.py table [--trials 2000]   # the table of docs/guides/calibration.md

``pools``: :data:`POOL` realizations of T1 (C = 16 and 128), P6 (C = 32 and 128) and T2-GN (the quick
configurations), by the engine (seed 0, one worker), kept as float32 — the test
``tests/validation/test_calibration.py`` resamples from them. ``table``: for each pool, each interval (Student-t,
the betting confidence sequence on the declared bounds) and each number of realizations ``n``, the fraction of
``trials`` resamples of ``n`` realizations (with replacement) whose interval covers the pool's mean — one cell at
95 % (the last layer for T1 and P6, the first step for T2-GN), and all cells jointly at 95 % Bonferroni — and
the mean width relative to Student-t's; then the same for synthetic Beta and Bernoulli data (true mean known).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from theorems.base import FRACTION, FRACTION_STEP, REGISTRY  # noqa: E402
from validation.engine import run_claim  # noqa: E402
from validation.intervals import betting_interval, bonferroni, t_interval  # noqa: E402

POOLS_FILE = ROOT / "tests" / "data" / "calibration_pools.npz"
POOL = 160
SOURCES = {"T1 C=16": ("T1", 16, "noncollapsed"), "T1 C=128": ("T1", 128, "noncollapsed"),
           "P6 C=32": ("P6", 32, "noncollapsed"), "P6 C=128": ("P6", 128, "noncollapsed"),
           "T2-GN C=32": ("T2-GN", None, "collapse_step")}
SYNTHETIC = {"Beta(0.3, 6)": (lambda rng, s: rng.beta(0.3, 6.0, s), 0.3 / 6.3),
             "Bernoulli(0.97)": (lambda rng, s: (rng.uniform(size=s) < 0.97).astype(float), 0.97),
             "Beta(5, 1)": (lambda rng, s: rng.beta(5.0, 1.0, s), 5 / 6)}


def make_pools() -> None:
    """Run the engine for every source and save the stacked samples (realizations × cells) as float32."""
    pools = {}
    for name, (key, width, quantity) in SOURCES.items():
        claim = REGISTRY[key]
        configs = [c for c in claim.configs("quick") if width is None or c.width == width][:1]
        result = run_claim(claim, configs, POOL, seed=0, backend="joblib", jobs=1, progress=False)
        pools[name] = np.asarray(result.results[0].samples[quantity], np.float32)
        print(f"{name}: {pools[name].shape} in {result.seconds:.0f} s", flush=True)
    POOLS_FILE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(POOLS_FILE, **pools)


def load_pools() -> dict[str, np.ndarray]:
    with np.load(POOLS_FILE) as f:
        return {k: np.asarray(f[k], np.float64) for k in f.files}


def bounds_of(name: str) -> tuple[float, float]:
    """The bounds of the pool's quantity by construction: a power fraction, or T2-GN's difference of two (T2-GN does
    not declare them: on [−1, 1] the betting sequence cannot decide its small steps, docs/guides/calibration.md)."""
    return FRACTION_STEP if name.startswith("T2-GN") else FRACTION


def interval(kind: str, x: np.ndarray, level: float, bounds: tuple[float, float]):
    return betting_interval(x, level, bounds) if kind == "betting" else t_interval(x, level)


def coverage(pool: np.ndarray, n: int, trials: int, kind: str, bounds: tuple[float, float], cell: int | None,
             seed: int = 0) -> tuple[float, float]:
    """Coverage of the pool's mean by ``trials`` resampled intervals of ``n`` realizations, and their mean width:
    ``cell`` one cell at 95 %, or None: every cell jointly, each at the 95 % Bonferroni level."""
    rng = np.random.default_rng(seed)
    cols = [cell] if cell is not None else list(range(pool.shape[1]))
    level = 0.95 if cell is not None else bonferroni(0.95, len(cols))
    truth = pool[:, cols].mean(axis=0)
    x = pool[rng.integers(0, len(pool), (n, trials))][:, :, cols]          # (n, trials, cells)
    ci = interval(kind, x.reshape(n, -1), level, bounds)
    low, high = ci.low.reshape(trials, -1), ci.high.reshape(trials, -1)
    covered = ((low <= truth) & (truth <= high)).all(axis=1)
    return float(covered.mean()), float((high - low).mean())


def synthetic_coverage(draw, truth: float, n: int, trials: int, kind: str, seed: int = 0) -> tuple[float, float]:
    x = draw(np.random.default_rng(seed), (n, trials))
    ci = interval(kind, x, 0.95, (0.0, 1.0))
    return float(((ci.low <= truth) & (truth <= ci.high)).mean()), float((ci.high - ci.low).mean())


def table(trials: int) -> None:
    print(f"| data | n | cells | Student-t coverage | betting coverage | betting width / t width |")
    print("|---|---|---|---|---|---|")
    for name, pool in load_pools().items():
        cell = 0 if name.startswith("T2-GN") else pool.shape[1] - 1
        for n in (8, 16, 50):
            for which, c in ((f"{'step 1' if cell == 0 else f'layer {cell + 1}'}", cell),
                             (f"all {pool.shape[1]} (joint)", None)):
                t_cov, t_w = coverage(pool, n, trials, "t", bounds_of(name), c)
                b_cov, b_w = coverage(pool, n, trials, "betting", bounds_of(name), c)
                print(f"| {name} | {n} | {which} | {t_cov:.3f} | {b_cov:.3f} | {b_w / t_w:.1f} |", flush=True)
    for name, (draw, truth) in SYNTHETIC.items():
        for n in (8, 16, 50):
            t_cov, t_w = synthetic_coverage(draw, truth, n, trials, "t")
            b_cov, b_w = synthetic_coverage(draw, truth, n, trials, "betting")
            print(f"| {name} | {n} | 1 | {t_cov:.3f} | {b_cov:.3f} | {b_w / t_w:.1f} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("pools", "table"))
    p.add_argument("--trials", type=int, default=2000)
    args = p.parse_args()
    make_pools() if args.what == "pools" else table(args.trials)


if __name__ == "__main__":
    main()
