"""Per-realization cost of ``randnet-check reproduce paper`` at the paper's shape, beside the cost model's.

    .venv/bin/python benchmarks/bench_reproduce.py [--layers 3] [--width 1024] [--n 128] [--norms bn,ln]

For each norm of Fig. 2's panel (:func:`theorems._panels.paper_panel`: C = 1024, N = 128 natural 32×32 images,
stride-2 first conv, float32, ReLU) it streams ``--layers`` layers of one realization through
:func:`randnet.layer_stream` under a single-threaded BLAS, as a worker does, and prints the wall and CPU seconds of
layer 1 (the full-resolution 32×32 conv; it also draws the dataset) and the median of layers 2… (16×16 maps); then the extrapolation to the
paper's 50 layers, per norm and for the six norms of one realization, beside :func:`validation.cost.estimate`'s
prediction (calibrated on one small layer, C = 32). The load average is printed before and after: other processes on
the machine inflate the wall times (CPU seconds less so).
"""
from __future__ import annotations

import argparse
import os
import time

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # one worker's threads, before numpy loads BLAS

import numpy as np  # noqa: E402

from randnet import layer_stream, realization_seed  # noqa: E402
from theorems._panels import paper_panel  # noqa: E402
from validation.cost import estimate  # noqa: E402
from validation.realization import single_threaded_blas  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", type=int, default=3, help="layers timed per norm (default 3; at least 2)")
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--norms", default=None, help="comma-separated subset of the panel's norms (default all six)")
    args = p.parse_args()
    depth = 50
    panel = paper_panel(args.width, max(args.layers, 2), args.n)
    norms = panel.norms if args.norms is None else tuple(args.norms.split(","))
    full = paper_panel(args.width, depth, args.n)
    predicted, _, _ = estimate([full.config_for(n) for n in norms])
    print(f"load average before: {os.getloadavg()}")
    print(f"paper shape: C = {args.width}, N = {args.n}, natural 32x32, stride-2 first conv; {args.layers} layers "
          f"timed per norm, extrapolated to L = {depth}")
    print(f"{'norm':<7} {'layer 1 s':>10} {'layer l>1 s':>12} {'CPU l>1 s':>10} {'L=50 s':>9} {'model s':>9}")
    total, total_model = 0.0, 0.0
    for norm, model in zip(norms, predicted):
        wall, cpu = [], []
        with single_threaded_blas():
            t, c = time.perf_counter(), time.process_time()
            for _ in layer_stream(panel.config_for(norm), realization_seed(0, 0)):
                wall.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                t, c = time.perf_counter(), time.process_time()
        later, later_cpu = float(np.median(wall[1:])), float(np.median(cpu[1:]))
        extrapolated = wall[0] + (depth - 1) * later
        total, total_model = total + extrapolated, total_model + model
        print(f"{norm:<7} {wall[0]:10.2f} {later:12.2f} {later_cpu:10.2f} {extrapolated:9.0f} {model:9.0f}")
    print(f"one realization ({len(norms)} norms, one worker): {total:.0f} s measured-extrapolated, "
          f"{total_model:.0f} s cost model (ratio model / measured {total_model / total:.2f})")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
