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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from theorems.base import FRACTION, FRACTION_STEP, REGISTRY  # noqa: E402
from validation.calibration import SKEWED, coverage, load_pools, save_pools, synthetic_coverage  # noqa: E402
from validation.engine import run_claim  # noqa: E402

POOLS_FILE = ROOT / "tests" / "data" / "calibration_pools.npz"
POOL = 160
SOURCES = {"T1 C=16": ("T1", 16, "noncollapsed", FRACTION), "T1 C=128": ("T1", 128, "noncollapsed", FRACTION),
           "P6 C=32": ("P6", 32, "noncollapsed", FRACTION), "P6 C=128": ("P6", 128, "noncollapsed", FRACTION),
           "T2-GN C=32": ("T2-GN", None, "collapse_step", FRACTION_STEP)}
"""name -> (claim, width, quantity, the quantity's bounds by construction). T2-GN does not declare its bounds: on
[−1, 1] the betting sequence cannot decide its small steps (docs/guides/calibration.md)."""


def make_pools() -> None:
    """Run the engine for every source and save the stacked samples (realizations × cells) with their bounds."""
    pools = {}
    for name, (key, width, quantity, bounds) in SOURCES.items():
        claim = REGISTRY[key]
        configs = [c for c in claim.configs("quick") if width is None or c.width == width][:1]
        result = run_claim(claim, configs, POOL, seed=0, backend="joblib", jobs=1, progress=False)
        pools[name] = (result.results[0].samples[quantity], bounds)
        print(f"{name}: {pools[name][0].shape} in {result.seconds:.0f} s", flush=True)
    POOLS_FILE.parent.mkdir(parents=True, exist_ok=True)
    save_pools(POOLS_FILE, pools)


def table(trials: int) -> None:
    print("| data | n | cells | Student-t coverage | betting coverage | betting width / t width |")
    print("|---|---|---|---|---|---|")
    for name, (pool, bounds) in load_pools(POOLS_FILE).items():
        cell = 0 if name.startswith("T2-GN") else pool.shape[1] - 1
        for n in (8, 16, 50):
            for which, c in ((f"{'step 1' if cell == 0 else f'layer {cell + 1}'}", cell),
                             (f"all {pool.shape[1]} (joint)", None)):
                t_cov, t_w = coverage(pool, n, trials, "t", bounds, c)
                b_cov, b_w = coverage(pool, n, trials, "betting", bounds, c)
                print(f"| {name} | {n} | {which} | {t_cov:.3f} | {b_cov:.3f} | {b_w / t_w:.1f} |", flush=True)
    for name in SKEWED:
        for n in (8, 16, 50):
            t_cov, t_w = synthetic_coverage(name, n, trials, "t")
            b_cov, b_w = synthetic_coverage(name, n, trials, "betting")
            print(f"| {name} | {n} | 1 | {t_cov:.3f} | {b_cov:.3f} | {b_w / t_w:.1f} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("pools", "table"))
    p.add_argument("--trials", type=int, default=2000)
    args = p.parse_args()
    make_pools() if args.what == "pools" else table(args.trials)


if __name__ == "__main__":
    main()
