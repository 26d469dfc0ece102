"""The cost model of a realization: a FLOP count of the periodic convolution plus a per-element term.

One layer costs about ``seconds_per_mac · N·H·W·K²·C_in·C_out + seconds_per_element · N·H·W·C_out`` (the conv's
multiply-adds, then the normalization, activation and statistics), both rates calibrated by timing one small
layer like the configuration's on this machine (:func:`calibrate`), in a fresh single-threaded process as a
worker is (:func:`calibrate_isolated`). A sweep's dry run prints the estimate (:func:`validation.sweep.plan`).
"""
from __future__ import annotations

import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from randnet import DatasetSpec, NetConfig, layer_stream, periodic_conv, realization_seed

from .blas import single_threaded_children


def layer_work(config: NetConfig) -> list[tuple[float, float]]:
    """Per layer ``(multiply-adds of the conv, elements of its output)``: ``N·H·W·K²·C_in·C_out`` and
    ``N·H·W·C_out`` (the first conv runs at full resolution even when ``first_stride = 2``)."""
    n, h, w, c = dataset_shape(config.dataset)
    k2 = config.kernel_size ** 2
    out = []
    for l, cout in enumerate(config.widths, start=1):
        out.append((float(n * h * w * k2 * c * cout), float(n * h * w * cout)))
        if l == 1 and config.first_stride == 2:
            h, w = -(-h // 2), -(-w // 2)
        c = cout
    return out


def dataset_shape(spec: DatasetSpec) -> tuple[int, int, int, int]:
    """``(N, H, W, C)`` of a dataset without drawing it: every spec holds its shape (an array file's is the file's,
    read from its header; CIFAR-10's and ``natural``'s the crops')."""
    return spec.n, spec.height, spec.width, spec.channels


@dataclass(frozen=True)
class CostModel:
    """Seconds of one layer ≈ ``seconds_per_mac · N·H·W·K²·C_in·C_out + seconds_per_element · N·H·W·C_out``

    Calibrated by :func:`calibrate` on one layer timed on this machine (CPU seconds): ``calibration`` says how.
    """

    seconds_per_mac: float
    seconds_per_element: float
    calibration: str

    def seconds(self, config: NetConfig) -> float:
        """Estimated seconds of one realization's forward pass with its statistics."""
        return sum(self.seconds_per_mac * m + self.seconds_per_element * e for m, e in layer_work(config))


def _calibration_config(config: NetConfig, width: int, n: int, size: int) -> NetConfig:
    groups = math.gcd(config.groups, width) if config.groups else None
    return config.replace(widths=width, depth=2, groups=groups, batch_size=None, first_stride=1,
                          dataset=DatasetSpec(n=n, height=size, width=size, channels=width))


def calibrate(config: NetConfig, width: int = 32, n: int = 8, size: int = 16, repeats: int = 10) -> CostModel:
    """Time one small layer like ``config``'s (same norm, activation, dtype, kernel and distributions;
    ``n`` inputs of ``size × size``, ``width → width`` channels) and split its time between the conv
    (timed alone: ``seconds_per_mac``) and the rest (``seconds_per_element``).

    Times are CPU seconds of this process (``time.process_time``), best of ``repeats`` after one warm-up,
    so that other processes on the machine inflate them as little as possible. Run it in a process whose
    BLAS is single-threaded, as a worker's is (:func:`calibrate_isolated` does): a multi-threaded BLAS
    counts its threads' busy-waiting as CPU time.
    """
    cfg = _calibration_config(config, width, n, size)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((n, size, size, width)).astype(cfg.np_dtype)
    w = (rng.standard_normal((cfg.kernel_size, cfg.kernel_size, width, width)) / width).astype(cfg.np_dtype)
    conv, layer = math.inf, math.inf
    for r in range(repeats + 1):  # pass 0 warms up (numba caches, allocations)
        t0 = time.process_time()
        periodic_conv(z, w)
        t1 = time.process_time()
        stream = layer_stream(cfg, realization_seed(0, r))
        next(stream)  # layer 1 (C_0 = width as well) also draws the data: not timed
        t2 = time.process_time()
        next(stream)
        t3 = time.process_time()
        if r:
            conv, layer = min(conv, t1 - t0), min(layer, t3 - t2)
    mac, elements = layer_work(cfg)[1]
    what = (f"one {cfg.norm}/{cfg.activation}/{cfg.dtype} layer, N={n}, {size}x{size}, C={width}->{width}, "
            f"K={cfg.kernel_size}: conv {conv * 1e3:.2f} of {layer * 1e3:.2f} CPU-ms (best of {repeats})")
    return CostModel(conv / mac, max(layer - conv, 0.0) / elements, what)


def _calibrate_all(configs: Sequence[NetConfig]) -> list[CostModel]:
    return [calibrate(c) for c in configs]


def calibrate_isolated(configs: Sequence[NetConfig]) -> list[CostModel]:
    """:func:`calibrate` each configuration in one fresh process with a single-threaded BLAS, as a worker."""
    if not configs:
        return []
    with single_threaded_children(), \
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_calibrate_all, list(configs)).result()


def cost_kind(config: Any) -> tuple | None:
    """What the calibration of a configuration depends on (None: not a :class:`~randnet.NetConfig`, no model)."""
    if not isinstance(config, NetConfig):
        return None
    return (config.norm, config.activation, config.dtype, config.kernel_size, config.proxy_method)


def estimate(configs: Sequence[Any], calibrate_costs: bool = True
             ) -> tuple[list[float | None], list[float | None], list[CostModel]]:
    """Per configuration: estimated seconds of one realization and its conv multiply-adds (None where there is
    no model, or no calibration), and the models, one per :func:`cost_kind` (calibrated on the first
    configuration of each kind, in a fresh process)."""
    kinds: dict[tuple, NetConfig] = {}
    for c in configs:
        kind = cost_kind(c)
        if kind is not None:
            kinds.setdefault(kind, c)
    models = dict(zip(kinds, calibrate_isolated(list(kinds.values())))) if calibrate_costs else {}
    seconds, macs = [], []
    for c in configs:
        kind = cost_kind(c)
        macs.append(None if kind is None else sum(m for m, _ in layer_work(c)))
        seconds.append(models[kind].seconds(c) if kind in models else None)
    return seconds, macs, list(models.values())
