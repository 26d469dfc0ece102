"""GPU check of the torch backend (randnet.torchnet): agreement, layer speed, the reference realization, Fig. 2's cost.

    python benchmarks/gpu_check.py [--quick] [--all] [--device cuda|cuda:N|cpu] [--json FILE] [size flags]

(a) agreement: the torch backend on the device against the numba path on this CPU, realization by realization,
    on small nets (every norm, float64 and float32): the max over layers and LayerStats fields of
    |torch − numba| / max(max |numba|, 1), against the tolerances of tests/randnet/test_torchnet.py;
(b) one layer at C = 1024 (N = 128, 16×16, K = 3, float32; what layer_stream does per layer: conv, fused norm →
    affine → φ, LayerStats): torch on the device vs numba on all of this machine's CPUs — medians, their ratio,
    and each convolution's GFLOP/s counting 2·N·H·W·K²·C_in·C_out flops;
(c) one realization of the reference configuration (C = 1024, N = 128, 16×16, depth 50, float32) through
    layer_stream, after a 2-layer warm-up, with its wall time, and the host's time to draw one layer's parameters
    (numpy; drawn ahead in torchnet.PREFETCH threads);
(d) Fig. 2's top row: the 6 norms bn, in, ln, gn, ln+pn, ln+ws × R realizations (default 50): one realization per
    norm is timed and the total extrapolated (labelled so), unless --all runs them all. --quick times depth 10 and
    extrapolates to the configured depth too.

Without CUDA (and no --device) only (a) runs, on the CPU, and the script says so and exits 0; --device cpu runs
every part on the CPU (use the size flags to keep it small). Exit status 1 when (a) finds a disagreement.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's randnet, installed or not

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import randnet  # noqa: E402
from randnet import DatasetSpec, Layer, LayerStats, NetConfig, layer_statistics, layer_stream, periodic_conv, \
    realization_seed, reference_config, sample_layer  # noqa: E402
from randnet import torchnet  # noqa: E402
from randnet.kernels import normalize_activate  # noqa: E402

TOL = {"float64": 1e-12, "float32": 1e-5}  # tests/randnet/test_torchnet.py
AGREEMENT_NORMS = [dict(norm="bn"), dict(norm="bn", batch_size=4), dict(norm="ln"), dict(norm="in"),
                   dict(norm="gn", groups=8), dict(norm="ln+pn"), dict(norm="ln+ws"), dict(norm="in", first_stride=2)]
FIG2_NORMS = ("bn", "in", "ln", "gn", "ln+pn", "ln+ws")
FIG2_GROUPS = 8  # theorems.fig2.PanelConfig's default
FIELDS = [f.name for f in dataclasses.fields(LayerStats) if f.name != "index"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def difference(a: LayerStats, b: LayerStats) -> float:
    """max over fields of |b − a| / max(max |a|, 1)."""
    worst = 0.0
    for name in FIELDS:
        e, t = np.asarray(getattr(a, name), float), np.asarray(getattr(b, name), float)
        if not np.all(np.isnan(e)):
            worst = max(worst, float(np.nanmax(np.abs(t - e)) / max(float(np.nanmax(np.abs(e))), 1.0)))
    return worst


def median_seconds(fn, repeats: int, device: torch.device) -> float:
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# -- (a) ----------------------------------------------------------------------------------------------------
def agreement(device: str, width: int, depth: int, realizations: int) -> dict:
    print(f"\n(a) agreement, torch on {device} vs numba on the CPU: C = {width}, N = 8, 8x8, depth {depth}, "
          f"{realizations} realization(s) each; max over layers and LayerStats fields of |torch - numba| / "
          f"max(max |numba|, 1)")
    out, ok = {}, True
    for dtype in ("float64", "float32"):
        base = NetConfig(widths=width, depth=depth, dtype=dtype, dataset=DatasetSpec(n=8, height=8, width=8))
        for case in AGREEMENT_NORMS:
            cfg = base.replace(**case)
            worst = 0.0
            for k in range(realizations):
                ss = realization_seed(0, k)
                pairs = zip(layer_stream(cfg, ss), layer_stream(cfg.replace(backend="torch", device=device), ss))
                worst = max([worst] + [difference(a, b) for a, b in pairs])
            name = f"{dtype} {cfg.norm}" + "".join(f" {k}={v}" for k, v in case.items() if k != "norm")
            good = worst <= TOL[dtype]
            ok &= good
            out[name] = worst
            print(f"  {name:<34} {worst:9.2e}  ({worst / np.finfo(dtype).eps:6.1f} eps)  "
                  f"{'ok' if good else 'FAIL'} (tolerance {TOL[dtype]:g})", flush=True)
    print(f"  => {'agreement within tolerance' if ok else 'DISAGREEMENT beyond tolerance'}")
    return {"max_relative_difference": out, "ok": ok}


# -- (b) ----------------------------------------------------------------------------------------------------
def layer_benchmark(device: torch.device, width: int, n: int, size: int, norm: str, repeats: int) -> dict:
    cfg = NetConfig(widths=width, depth=1, norm=norm, dtype="float32", groups=FIG2_GROUPS if norm == "gn" else None)
    k = cfg.kernel_size
    flops = 2 * n * size * size * k * k * width * width
    print(f"\n(b) one layer: N = {n}, {size}x{size}, C = {width} -> {width}, K = {k}, {norm}, relu, float32 "
          f"(medians of {repeats}; conv = {flops / 1e9:.3g} GFLOP)")
    params = sample_layer(cfg, realization_seed(0, 0), 1, width)
    z = np.maximum(np.random.default_rng(0).standard_normal((n, size, size, width)), 0).astype(np.float32)
    power_in = randnet.power_decomposition(z)
    zt = torchnet.to_device(z, device)
    wt = torch.from_numpy(params.weight).to(device).permute(3, 2, 0, 1).contiguous()

    def numba_layer():
        x = periodic_conv(z, params.weight)
        y, zo, m = normalize_activate(x, cfg.base_norm, params.gamma, params.beta, cfg.activation, cfg.groups)
        return layer_statistics(Layer(1, x, y, zo, params, m), power_in)

    def torch_layer():
        x = torchnet.periodic_conv(zt, wt)
        y, zo, m = torchnet.normalize_activate(x, cfg, params)
        return layer_statistics(torchnet.TorchLayer(1, (x, y, zo), params, m), power_in)

    diff = difference(numba_layer(), torch_layer())
    t = {"torch_layer": median_seconds(torch_layer, repeats, device),
         "torch_conv": median_seconds(lambda: torchnet.periodic_conv(zt, wt), repeats, device),
         "numba_layer": median_seconds(numba_layer, repeats, device),
         "numba_conv": median_seconds(lambda: periodic_conv(z, params.weight), repeats, device)}
    print(f"  torch on {device}: layer {1e3 * t['torch_layer']:9.2f} ms, conv {1e3 * t['torch_conv']:9.2f} ms = "
          f"{flops / t['torch_conv'] / 1e9:8.4g} GFLOP/s")
    print(f"  numba, {numba.get_num_threads()} threads: layer {1e3 * t['numba_layer']:9.2f} ms, conv "
          f"{1e3 * t['numba_conv']:9.2f} ms = {flops / t['numba_conv'] / 1e9:8.4g} GFLOP/s")
    ratio = t["numba_layer"] / t["torch_layer"]
    print(f"  torch is {ratio:.1f}x the numba path's speed per layer; max relative difference of the LayerStats "
          f"{diff:.1e}")
    return {**t, "flops": flops, "torch_conv_gflops": flops / t["torch_conv"] / 1e9,
            "numba_conv_gflops": flops / t["numba_conv"] / 1e9, "speedup": ratio, "max_relative_difference": diff}


# -- (c) ----------------------------------------------------------------------------------------------------
def reference_realization(device: torch.device, width: int, n: int, size: int, depth: int, norm: str) -> dict:
    cfg = reference_config(width=width, depth=depth, norm=norm, n=n, backend="torch", device=str(device),
                           groups=FIG2_GROUPS if norm == "gn" else None)
    cfg = cfg.replace(dataset=dataclasses.replace(cfg.dataset, height=size, width=size))
    print(f"\n(c) one realization: {cfg.label()}, N = {n}, {size}x{size}, {cfg.dtype}")
    t0 = time.perf_counter()
    sample_layer(cfg, realization_seed(0, 0), 2, width)
    draw = time.perf_counter() - t0
    list(layer_stream(cfg.replace(depth=2), realization_seed(0, 1)))  # warm-up: CUDA context, cuDNN, kernels
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for s in layer_stream(cfg, realization_seed(0, 0)):
        last = s
    total = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else float("nan")
    threads = torchnet.PREFETCH.get(device.type, 1)
    print(f"  wall time {total:.2f} s ({total / depth * 1e3:.0f} ms per layer); 1 - P(mu_c(y^{depth})) = "
          f"{last.noncollapsed_y:.4f}; peak device memory {peak:.2f} GiB")
    print(f"  host: drawing one layer's parameters (numpy, one thread) {draw * 1e3:.0f} ms; drawn ahead in {threads} "
          f"thread(s), so about {depth * draw / threads:.1f} s of the realization is bound by sampling")
    return {"seconds": total, "seconds_per_layer": total / depth, "draw_seconds_per_layer": draw,
            "prefetch_threads": threads, "peak_device_gib": peak, "noncollapsed_last": last.noncollapsed_y}


# -- (d) ----------------------------------------------------------------------------------------------------
def fig2(device: torch.device, width: int, n: int, size: int, depth: int, realizations: int, quick: bool,
         run_all: bool) -> dict:
    net = reference_config(width=width, depth=depth, n=n, backend="torch", device=str(device))
    net = net.replace(dataset=dataclasses.replace(net.dataset, height=size, width=size))
    timed_depth = min(depth, 10) if quick and not run_all else depth
    runs = realizations if run_all else 1
    print(f"\n(d) Fig. 2 top row: {', '.join(FIG2_NORMS)} x {realizations} realizations, C = {width}, N = {n}, "
          f"{size}x{size}, depth {depth}: " + (f"running all {realizations} realizations per norm" if run_all else
          f"timing 1 realization per norm at depth {timed_depth}, then extrapolating"))
    seconds = {}
    for norm in FIG2_NORMS:
        cfg = net.replace(norm=norm, groups=FIG2_GROUPS if norm == "gn" else None, depth=timed_depth)
        t0 = time.perf_counter()
        for k in range(runs):
            for _ in layer_stream(cfg, realization_seed(0, k)):
                pass
        seconds[norm] = (time.perf_counter() - t0) / runs
        print(f"  {norm:<6} {seconds[norm]:8.2f} s per realization (depth {timed_depth})", flush=True)
    scale = realizations * depth / timed_depth
    total = scale * sum(seconds.values())
    label = "measured" if run_all else "EXTRAPOLATED from the times above"
    print(f"  => Fig. 2 top row, {len(FIG2_NORMS)} norms x {realizations} realizations x depth {depth}: "
          f"{total:.0f} s = {total / 60:.1f} min ({label})")
    return {"seconds_per_realization": seconds, "timed_depth": timed_depth, "total_seconds": total,
            "extrapolated": not run_all}


def machine_facts(device: torch.device | None) -> dict:
    facts = {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
             "cpus": os.cpu_count(), "numba_threads": numba.get_num_threads(), "torch": torch.__version__,
             "numpy": np.__version__, "numba": numba.__version__, "randnet": randnet.__version__,
             "cuda_available": torch.cuda.is_available(), "load_average": os.getloadavg()[0]}
    if device is not None and device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        facts.update(device=torch.cuda.get_device_name(device), device_memory_gib=p.total_memory / 2 ** 30,
                     cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    else:
        facts["device"] = "cpu"
    print(", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in facts.items()))
    return facts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats; (d) timed at depth 10 (minutes on a GPU)")
    ap.add_argument("--all", action="store_true", help="(d): run all realizations instead of extrapolating")
    ap.add_argument("--device", help="torch device (default: cuda when available; else only (a), on the CPU)")
    ap.add_argument("--width", type=int, default=1024, help="C of (b)-(d) (default 1024)")
    ap.add_argument("--n", type=int, default=128, help="N inputs of (b)-(d) (default 128)")
    ap.add_argument("--size", type=int, default=16, help="H = W of (b)-(d) (default 16)")
    ap.add_argument("--depth", type=int, default=50, help="depth of (c), (d) (default 50)")
    ap.add_argument("--realizations", type=int, default=50, help="R of (d) (default 50)")
    ap.add_argument("--norm", default="bn", help="norm of (b), (c) (default bn)")
    ap.add_argument("--agreement-width", type=int, default=32, help="C of (a) (default 32)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.device is None and not torch.cuda.is_available():
        machine_facts(None)
        report = {"agreement": agreement("cpu", args.agreement_width, 6, 1)}
        print("\nno CUDA device (torch.cuda.is_available() is False): ran (a) with torch on the CPU only; (b)-(d) "
              "need a GPU (or --device cpu, with small sizes, to try them on the CPU)")
    else:
        device = torch.device(args.device or "cuda")
        torchnet.device_of(NetConfig(backend="torch", device=str(device)))  # a clear error if it is absent
        report = {"machine": machine_facts(device)}
        report["agreement"] = agreement(str(device), args.agreement_width, 6, 1 if args.quick else 3)
        report["layer"] = layer_benchmark(device, args.width, args.n, args.size, args.norm, 2 if args.quick else 5)
        report["reference"] = reference_realization(device, args.width, args.n, args.size, args.depth, args.norm)
        report["fig2"] = fig2(device, args.width, args.n, args.size, args.depth, args.realizations, args.quick,
                              args.all)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=str)
    return 0 if report["agreement"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
