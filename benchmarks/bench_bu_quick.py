"""Time the quick configurations of the BU claims (SPEC-companions §7A) as the suite runs them.

    python benchmarks/bench_bu_quick.py [--jobs 2] [--only BU3,BU4]

Prints, per claim, the wall time of ``run_claim`` (joblib, ``--jobs`` workers, no store) and the compute time
summed over realizations, then the totals and the machine's load average (a shared machine's load inflates both).
The target: all BU claims together within about 90 s of wall time with 2 jobs on the project's 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import time

from validation.engine import run_claim

KEYS = ("BU1", "BU2", "BU3", "BU3b", "BU4", "BU4b", "BU5", "BU6", "BU7", "BU8", "BU9", "BU11")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default=",".join(KEYS))
    args = parser.parse_args()
    rows, start = [], time.perf_counter()
    for key in args.only.split(","):
        t = time.perf_counter()
        result = run_claim(key, jobs=args.jobs, progress=False)
        rows.append((key, time.perf_counter() - t, sum(r.seconds for r in result.results), result.verdict))
        print(f"{key:<6} wall {rows[-1][1]:6.1f} s  compute {rows[-1][2]:6.1f} s  {result.verdict}", flush=True)
    print(f"total  wall {time.perf_counter() - start:6.1f} s  compute {sum(r[2] for r in rows):6.1f} s  "
          f"(jobs {args.jobs}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
