"""Benchmark the infinite-width limit's exact LN recursion (SPEC §8; :func:`randnet.limit_profile`).

    .venv/bin/python benchmarks/bench_limit.py [--n 32] [--size 16] [--depth 50] [--dtype float64] [--threads T]

Prints the configuration, the memory plan (:func:`randnet.limit.memory_need`: the ``N(N+1)/2`` symmetric blocks
of ``(HW)²`` entries), the wall time of the whole recursion (``limit_profile``, ReLU, LN, reference γ, β, gaussian
inputs, after a warm-up that compiles the numba kernels), the time per layer, the peak RSS (VmHWM) of this
process, and the load average before and after (other processes on the machine slow it down).
"""
from __future__ import annotations

import argparse
import os
import platform
import time


def peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    import numba

    from randnet import DatasetSpec, NetConfig, limit_profile
    from randnet.limit import memory_need

    ds = DatasetSpec(n=args.n, height=args.size, width=args.size, channels=3, seed=0)
    cfg = NetConfig(widths=8, depth=args.depth, norm="ln", dataset=ds)
    data = ds.draw()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numba threads "
          f"{numba.get_num_threads()}; load average before {os.getloadavg()}")
    print(f"LN + ReLU, N = {args.n} inputs {args.size}×{args.size}, depth {args.depth}, {args.dtype}: "
          f"kernel blocks {memory_need(cfg, data.shape, args.dtype) / 2**30:.2f} GiB")
    warm = NetConfig(widths=8, depth=2, norm="ln", dataset=DatasetSpec(n=2, height=4, width=4, channels=3))
    limit_profile(warm, warm.dataset.draw(), dtype=args.dtype)
    t = time.perf_counter()
    prof = limit_profile(cfg, data, dtype=args.dtype)
    wall = time.perf_counter() - t
    print(f"time {wall:.1f} s ({wall / args.depth:.2f} s a layer); peak RSS {peak_rss() / 2**30:.2f} GiB")
    layers = sorted({1, min(10, args.depth), args.depth})
    print(f"f_l at l = {', '.join(map(str, layers))}: " + ", ".join(f"{prof.noncollapsed[l - 1]:.4f}" for l in layers))
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
