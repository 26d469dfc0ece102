"""Speed-up of a fixed small sweep from 1 to 2 workers, on this machine.

    .venv/bin/python benchmarks/bench_workers.py                 # joblib and dask
    .venv/bin/python benchmarks/bench_workers.py --backend dask --realizations 12 --repeats 3

The sweep: claim T1 on its first quick configuration (LN, ReLU, 16 inputs of 8×8) at widths 32 and
64, depth 20, ``--realizations`` realizations each; no store, so every run computes every task.
Each measurement is the wall time of ``run_sweep`` with the workers already started and warmed up
(one untimed realization first: imports, numba caches), best of ``--repeats``. The results of every
run are checked bit-for-bit against the serial run; the time each task took, summed, is printed beside
the wall time (it grows when the workers compete for the cores). Every process runs a single-threaded
BLAS (as Dask's workers do), so one worker is one core for every backend (joblib's one worker is this
process). The speed-up is ``T(1 worker) / T(2 workers)``; other processes on the machine make it
noisy, so the load average is printed with it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# one BLAS thread per process, as in a Dask worker: "1 worker" then means one core for every backend
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from validation.backends import dask_client, execute  # noqa: E402
from validation.engine import measure_realization  # noqa: E402
from validation.sweep import parse_sweep, plan, run_sweep  # noqa: E402

SWEEP = {
    "name": "bench-workers", "claims": ["T1"], "seed": 0, "base": "first",
    "grid": {"widths": [32, 64], "depths": 20},
}


def _differences(a, b) -> list[str]:
    """Where two sweep results differ (configuration, quantity, realizations), empty when bit-for-bit equal."""
    out = []
    for x, y in zip(a.results, b.results):
        for r, s in zip(x.results, y.results):
            if r.digest != s.digest or r.samples.keys() != s.samples.keys():
                out.append(f"{r.label}: different configurations or quantities")
                continue
            for q in r.samples:
                diff = np.flatnonzero([u.tobytes() != v.tobytes() for u, v in zip(r.samples[q], s.samples[q])])
                if diff.size:
                    out.append(f"{r.label} [{r.digest}] {q}: realizations {diff.tolist()} differ, max |Δ| = "
                               f"{np.nanmax(np.abs(r.samples[q] - s.samples[q])):.3g}")
    return out


def _timed(sweep, repeats: int, **kwargs):
    """The best wall time of ``repeats`` runs, and that run's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = run_sweep(sweep, progress=False, **kwargs)
        t = time.perf_counter() - t0
        if t < best:
            best, result = t, r
    return best, result


def _warm_up(sweep, **kwargs) -> None:
    """One realization per worker process (imports, numba caches), not timed."""
    e = sweep.expand()[0]
    jobs = kwargs.get("jobs", 1)
    execute(measure_realization, [(e.claim, e.config, 10 ** 6 + j, 0) for j in range(jobs)], progress=False,
            **kwargs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("joblib", "dask", "both"), default="both")
    ap.add_argument("--realizations", type=int, default=8, help="per configuration (default 8)")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs (default 2)")
    args = ap.parse_args(argv)
    sweep = parse_sweep({**SWEEP, "realizations": args.realizations}, source="bench_workers.SWEEP")
    p = plan(sweep, calibrate_costs=False)
    print(f"sweep: {len(p.entries)} configurations x {args.realizations} realizations = {p.tasks} tasks "
          f"({sum(m for m in p.macs) * args.realizations / 1e9:.1f} G conv multiply-adds); "
          f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}")
    t_serial, serial = _timed(sweep, 1, backend="serial")
    print(f"serial (reference, in this process): {t_serial:.2f} s")
    backends = ("joblib", "dask") if args.backend == "both" else (args.backend,)
    for backend in backends:
        times = {}
        for jobs in (1, 2):
            if backend == "dask":
                with dask_client(jobs=jobs) as client:
                    _warm_up(sweep, backend="dask", client=client)
                    times[jobs], result = _timed(sweep, args.repeats, backend="dask", jobs=jobs)
            else:
                _warm_up(sweep, backend="joblib", jobs=jobs)
                times[jobs], result = _timed(sweep, args.repeats, backend="joblib", jobs=jobs)
            diff = _differences(result, serial)
            task_s = sum(r.seconds for cr in result.results for r in cr.results)
            print(f"{backend:<7} {jobs} worker(s): {times[jobs]:7.2f} s wall, {task_s:7.2f} s summed over tasks "
                  f"(bit-for-bit equal to serial: {not diff})")
            if diff:
                print("ERROR: results differ from the serial run:\n  " + "\n  ".join(diff), file=sys.stderr)
                return 1
        speedup = times[1] / times[2]
        where = ("1 worker = this process, 2 workers = 2 loky processes" if backend == "joblib"
                 else "1 and 2 single-threaded worker processes")
        print(f"{backend:<7} speed-up 1 -> 2 workers: {speedup:.2f}x (parallel efficiency {speedup / 2:.0%}; {where}); "
              f"load average now {os.getloadavg()[0]:.2f}")
    print("note: the machine's cores are shared with other processes, so the figures are noisy; on a loaded machine "
          "2 processes also get a larger share of the CPUs than 1, which can push the speed-up above 2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
