"""What the single-threaded BLAS of every realization costs (``validation.realization.single_threaded_blas``).

    .venv/bin/python benchmarks/bench_blas_limit.py [--rounds 7] [--quick]

Realizations run under a single-threaded BLAS in every backend so that they are bit-for-bit the same whatever
the backend (a GEMM's blocking, hence its float32 round-off, depends on the thread count). joblib and Dask
workers already ran one BLAS thread each, so they pay nothing; the serial backend, which let BLAS use every
core, pays on the conv's GEMMs. This times one layer of the reference kind (float32, BN, ReLU, 16×16 maps,
the layer's conv, fused norm pass and statistics, as ``randnet.layer_stream`` runs it) with the ambient BLAS
at all CPUs against the same under the limit, in paired rounds (median ratio and its range), numba's threads
untouched; and the cost of entering and leaving the limit itself.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from validation.blas import stop_idle_spinning  # noqa: E402 (before numpy loads BLAS)

stop_idle_spinning()

from threadpoolctl import threadpool_limits  # noqa: E402

from randnet import DatasetSpec, NetConfig, layer_stream, realization_seed  # noqa: E402
from validation.realization import single_threaded_blas  # noqa: E402

CONFIGS = [(32, 256, 3), (32, 512, 3), (32, 256, 5), (32, 512, 5)]  # (N, C, K), 16x16 maps, C -> C


def layer_seconds(config: NetConfig) -> float:
    """Seconds of layer 2 of one realization (layer 1 draws the data and runs C⁰ = 3 -> C: not timed)."""
    stream = layer_stream(config, realization_seed(0, 0))
    next(stream)
    start = time.perf_counter()
    next(stream)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="C = 256 only, 3 rounds")
    args = ap.parse_args()
    configs = CONFIGS[::2] if args.quick else CONFIGS
    rounds = 3 if args.quick else args.rounds
    cpus = os.cpu_count() or 1
    print(f"{cpus} CPUs; load average {os.getloadavg()[0]:.2f}; {rounds} paired rounds after a warm-up")
    print(f"{'N':>3} {'C':>5} {'K':>2} | {'BLAS ' + str(cpus) + ' threads':>16} | {'limited to 1':>12} | "
          f"{'limited / free [range]':>26}")
    for n, c, k in configs:
        config = NetConfig(widths=c, depth=2, kernel_size=k, norm="bn",
                           dataset=DatasetSpec(n=n, height=16, width=16, channels=c))
        with threadpool_limits(cpus, user_api="blas"):
            layer_seconds(config)  # warm-up: numba caches, work arrays
            free, limited, ratios = [], [], []
            for _ in range(rounds):
                a = layer_seconds(config)
                with single_threaded_blas():
                    b = layer_seconds(config)
                free.append(a)
                limited.append(b)
                ratios.append(b / a)
        print(f"{n:>3} {c:>5} {k:>2} | {statistics.median(free) * 1e3:>13.1f} ms | "
              f"{statistics.median(limited) * 1e3:>9.1f} ms | {statistics.median(ratios):>10.3f} "
              f"[{min(ratios):.3f}, {max(ratios):.3f}]")
    reps = 2000
    start = time.perf_counter()
    for _ in range(reps):
        with single_threaded_blas():
            pass
    print(f"entering and leaving the limit: {(time.perf_counter() - start) / reps * 1e6:.1f} µs per realization")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
