"""Benchmark one layer of the random net against a straightforward PyTorch layer; memory against depth.

    .venv/bin/python benchmarks/bench_layer.py [--quick] [--reference] [--threads T] [--norm bn]

1. Layer time. The project's layer is what :func:`randnet.forward` and :func:`randnet.layer_statistics`
   do per layer: ``x = periodic_conv(z, ω)``, the fused normalization → affine → ReLU pass with its
   instance moments, and the :class:`randnet.LayerStats` of the layer (power terms of x, y, z, channel
   moments, per-input moments, linearity residual, extremes of y). The PyTorch layer computes the same
   tensors and statistics with torch ops: circular ``nn.Conv2d``, ``F.batch_norm`` / ``F.layer_norm``,
   ReLU, statistics in float64; ε = 1e-5. Both float32, same number of threads (torch, numba, BLAS, FFT).
   The two results are checked against each other before timing. The four timed calls (torch layer, project
   layer, torch conv, project conv) run in turn, round after round, after a warm-up; times are medians over
   rounds, the ratio is the median over rounds of torch / project within a round (with its range), "outside
   conv" the median share of the project's layer spent after its convolution.
2. Memory. Peak RSS (VmHWM, Linux) of a subprocess streaming :func:`randnet.layer_stream` at depth 10 and depth 100.
3. ``--reference``: one realization of the paper's reference configuration (C = 1024, N = 128, 16×16,
   depth 50) through ``layer_stream`` — minutes.

The load average is printed before and after: other processes on the machine slow memory-bound code
(the Fourier path) more than compute-bound code (PyTorch's direct convolution).
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else os.cpu_count()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):  # BLAS reads these at import
    os.environ[var] = str(THREADS)
from validation.blas import stop_idle_spinning  # noqa: E402 (imports no numpy: before it loads BLAS)

stop_idle_spinning()  # idle BLAS threads stop spinning (importing validation did it already; said here)

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import randnet  # noqa: E402
from randnet import Layer, NetConfig, layer_statistics, layer_stream, periodic_conv, realization_seed, \
    reference_config, sample_layer  # noqa: E402
from randnet.conv import auto_method  # noqa: E402
from randnet.kernels import normalize_activate  # noqa: E402

CONFIGS = [(32, 16, 256), (32, 16, 512), (16, 16, 1024)]  # (N, H = W, C)
KERNELS = (3, 5)
EPS = 1e-5  # PyTorch's batch_norm needs ε > 0; both layers use this one


# -- the two layers -------------------------------------------------------------------------
def project_layer(z, params, norm, power_in):
    x = periodic_conv(z, params.weight)
    y, z_out, moments = normalize_activate(x, norm, params.gamma, params.beta, "relu", eps=EPS)
    return layer_statistics(Layer(1, x, y, z_out, params, moments), power_in)


class TorchLayer:
    """Circular conv, PyTorch's norm, affine + ReLU, then LayerStats' statistics with torch ops in float64."""

    def __init__(self, params, norm):
        k, _, cin, cout = params.weight.shape
        self.conv = torch.nn.Conv2d(cin, cout, k, padding=k // 2, padding_mode="circular", bias=False)
        self.conv.weight.data = torch.from_numpy(params.weight.transpose(3, 2, 0, 1).copy())
        self.conv.requires_grad_(False)
        self.gamma = torch.from_numpy(params.gamma).view(1, -1, 1, 1)
        self.beta = torch.from_numpy(params.beta).view(1, -1, 1, 1)
        self.norm = norm

    @staticmethod
    def power_terms(m, s):
        mu, s_bar = m.mean(0), s.mean(0)
        return torch.stack([mu ** 2, ((m - mu) ** 2).mean(0), s_bar ** 2, ((s - s_bar) ** 2).mean(0)])

    def __call__(self, z):
        with torch.no_grad():
            x = self.conv(z)
            if self.norm == "bn":
                y = torch.nn.functional.batch_norm(x, None, None, training=True, eps=EPS)
            else:
                y = torch.nn.functional.layer_norm(x, x.shape[1:], eps=EPS)
            zo = torch.relu(self.gamma * y + self.beta)
            out = {}
            for name, t in (("x", x), ("y", y), ("z", zo)):
                t64 = t.double()
                m, v = t64.mean((2, 3)), t64.var((2, 3), unbiased=False)
                out[f"power_{name}"] = self.power_terms(m, v.sqrt())
                out[f"mean_{name}"] = t64.mean((0, 2, 3))
                out[f"var_{name}"] = t64.var((0, 2, 3), unbiased=False)
                if name == "x":
                    out["input_mean_x"] = t64.mean((1, 2, 3))
                    out["input_var_x"] = t64.var((1, 2, 3), unbiased=False)
            dy = y.double() - out["mean_y"].view(1, -1, 1, 1)
            dz = zo.double() - out["mean_z"].view(1, -1, 1, 1)
            cov = (dy * dz).mean((0, 2, 3))
            out["residual_z"] = torch.clamp(out["var_z"] - cov ** 2 / out["var_y"], min=0.0)
            out["y_min"] = y.amin((0, 2, 3)).double()
            out["y_max"] = y.amax((0, 2, 3)).double()
            return out


def check_same(stats, out):
    """Max difference over the fields both compute, relative to max(|field|, 1) (means of normalized y are ~0)."""
    worst = 0.0
    for key, t in out.items():
        ours, theirs = np.asarray(getattr(stats, key)), t.numpy()
        worst = max(worst, float(np.max(np.abs(ours - theirs)) / max(float(np.max(np.abs(theirs))), 1.0)))
    return worst


def interleaved_times(fns, repeats):
    """Wall times (ms) of each function, run in turn ``repeats`` times after one warm-up: ``{name: [t_1, …]}``.

    Round ``i`` runs every function once, back to back, so that ratios taken within a round see the same state of
    a shared machine (whose speed drifts by up to 1.5× over minutes here)."""
    times = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(1e3 * (time.perf_counter() - t0))
    return {k: np.array(v) for k, v in times.items()}


def bench_layers(repeats, norm, quick):
    print(f"\n== layer time, float32, norm {norm}, ReLU (ms: medians of {repeats} rounds; ratio: median over rounds of "
          f"torch / project within the round, [min, max]) ==")
    head = f"{'N':>3} {'H':>3} {'C':>5} {'K':>2} | {'torch layer':>11} {'project':>8} {'ratio':>6} {'[min, max]':>13} | " \
           f"{'torch conv':>10} {'our conv':>8} {'(path)':>9} {'outside conv':>12} | {'max rel diff':>12}"
    print(head)
    rng = np.random.default_rng(0)
    for k in KERNELS:
        for n, h, c in CONFIGS:
            cfg = NetConfig(widths=c, depth=1, kernel_size=k, norm=norm, dtype="float32")
            params = sample_layer(cfg, realization_seed(0, 0), 1, c)
            z = np.maximum(rng.standard_normal((n, h, h, c)), 0).astype(np.float32)
            zt = torch.from_numpy(z.transpose(0, 3, 1, 2).copy())
            power_in = randnet.power_decomposition(z)
            ours = lambda: project_layer(z, params, norm, power_in)  # noqa: E731
            theirs = TorchLayer(params, norm)
            diff = check_same(ours(), theirs(zt))
            t = interleaved_times({"torch": lambda: theirs(zt), "ours": ours,
                                   "torch_conv": lambda: theirs.conv(zt).detach(),
                                   "our_conv": lambda: periodic_conv(z, params.weight)}, repeats)
            ratio = t["torch"] / t["ours"]
            outside = float(np.median(1 - t["our_conv"] / t["ours"]))
            med = {key: float(np.median(v)) for key, v in t.items()}
            print(f"{n:>3} {h:>3} {c:>5} {k:>2} | {med['torch']:>11.1f} {med['ours']:>8.1f} {np.median(ratio):>5.2f}x "
                  f"[{ratio.min():>4.2f}, {ratio.max():>4.2f}] | {med['torch_conv']:>10.1f} {med['our_conv']:>8.1f} "
                  f"{auto_method(z.shape, params.weight.shape):>9} {outside:>11.0%} | {diff:>12.1e}", flush=True)
            if quick:
                break


# -- memory ------------------------------------------------------------------------------------
MEMORY_CHILD = """
import sys
from randnet import DatasetSpec, NetConfig, layer_stream, realization_seed
depth, width, n = map(int, sys.argv[1:])
cfg = NetConfig(widths=width, depth=depth, norm="bn", dtype="float32", dataset=DatasetSpec(n=n, height=16, width=16))
for _ in layer_stream(cfg, realization_seed(0, 0)):
    pass
# VmHWM: this process's peak RSS (ru_maxrss would include the forking parent's, kept across exec)
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))  # KiB
"""


def bench_memory(width, n):
    print(f"\n== peak memory of layer_stream (bn, C={width}, N={n}, 16x16, float32), one subprocess per depth ==")
    peaks = {}
    subprocess.run([sys.executable, "-c", MEMORY_CHILD, "1", str(width), str(n)], check=True, capture_output=True)
    for depth in (10, 100):  # after a warm-up run that fills numba's cache: compiling would add to the peak
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(depth), str(width), str(n)],
                             capture_output=True, text=True, check=True)
        peaks[depth] = int(res.stdout.split()[-1]) / 1024
        print(f"depth {depth:>3}: peak RSS {peaks[depth]:8.1f} MiB  ({time.perf_counter() - t0:.1f} s)")
    print(f"depth 100 / depth 10: {peaks[100] / peaks[10]:.3f}")


def peak_rss_mib():
    """Peak resident memory of this process (VmHWM), MiB."""
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024


def bench_reference(norm):
    cfg = reference_config(norm=norm)
    print(f"\n== reference realization: {cfg.label()}, N={cfg.dataset.n}, 16x16, K={cfg.kernel_size}, float32 ==")
    t0 = time.perf_counter()
    for s in layer_stream(cfg, realization_seed(0, 0)):
        if s.index in (1, 10, 25, 50):
            print(f"  layer {s.index:>2}: {time.perf_counter() - t0:7.1f} s elapsed, "
                  f"1 - P(mu_c(y)) = {s.noncollapsed_y:.4f}", flush=True)
    total = time.perf_counter() - t0
    print(f"total {total:.1f} s, {total / cfg.depth:.2f} s per layer (incl. sampling the weights), "
          f"peak RSS of this process so far {peak_rss_mib():.0f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, one configuration per K, smaller memory run")
    ap.add_argument("--reference", action="store_true", help="also time the paper's reference realization (minutes)")
    ap.add_argument("--threads", type=int, default=THREADS, help="threads for torch, numba, BLAS and FFTs (all CPUs)")
    ap.add_argument("--norm", default="bn", choices=("bn", "ln"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} threads "
          f"(torch {torch.__version__}, numpy {np.__version__}, numba {numba.__version__}, "
          f"OPENBLAS_THREAD_TIMEOUT={os.environ['OPENBLAS_THREAD_TIMEOUT']}); "
          f"load average {os.getloadavg()[0]:.2f}")
    bench_layers(3 if args.quick else 7, args.norm, args.quick)
    bench_memory(*((64, 16) if args.quick else (128, 32)))
    if args.reference:
        bench_reference(args.norm)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} (other processes on the machine make these times noisy)")


if __name__ == "__main__":
    main()
