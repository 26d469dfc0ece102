"""Sweeps: a grid of configurations for several claims, described in a TOML file, run at scale.

A sweep file names the claims to evaluate and a grid over configuration attributes (widths, depths,
norms, activations, parameter distributions, datasets, ...). Each claim's default configurations
(``claim.configs(mode)``) are the base; every point of the grid overrides their attributes, and the
resulting ``(claim, configuration)`` pairs — duplicates removed — run ``realizations`` realizations
each through :func:`validation.engine.run_claim` on the chosen backend, reading and writing the
results store so that an interrupted sweep resumes where it stopped and a repeated one computes
nothing. See ``examples/sweep_t1.toml`` for a worked example::

    name = "t1-width"            # optional (default: the file's stem)
    claims = ["T1"]              # registered claim keys
    seed = 0                     # realization k is SeedSequence(seed, spawn_key=(k,))
    realizations = 8             # optional (default: each claim's own number for `mode`)
    mode = "quick"               # which default configurations of each claim are the base
    base = "first"               # "all" (default), "first", or a list of indices into them

    [grid]                       # every key: one value or a list of values; the grid is their product
    widths = [32, 64, 128]       # [[32, 64, 64]] would be one per-layer width list
    depths = 12
    norms = ["ln"]
    activations = ["relu", "leaky_relu"]
    beta = ["normal(0, 0.2)", "normal(0, 0.5)"]
    datasets = [{ name = "gaussian", n = 16, height = 8, width = 8 }]

    [grid.P6]                    # optional: keys for one claim only (they replace the common ones)
    activations = ["identity"]

    [run]                        # optional defaults for the command line (flags win)
    backend = "joblib"           # serial | joblib | dask
    jobs = 2
    scheduler = "tcp://127.0.0.1:8786"
    store = "sweeps/t1-width/.store"
    out = "sweeps/t1-width"

Grid keys are configuration field names; the usual plurals are accepted (``widths``/``width``,
``depths``, ``norms``, ``activations``, ``datasets``, ``weights``, ``gammas``, ``betas``,
``kernel_sizes``, ``dtypes``). A key that names no field of a claim's configuration goes to the
random net it wraps (a :class:`randnet.NetConfig` field such as ``net``), else it is an error that
names the claim. A dataset value is a built-in name, a ``.npy``/``.npz`` path or ``cifar10-bin:PATH``
(paths relative to the sweep file), or a table of :class:`randnet.DatasetSpec` fields that override the base
configuration's dataset. Paths in ``[run]`` are relative to the working directory.

:func:`plan` and :func:`print_plan` (``--dry-run``) give the number of tasks, those already in the
store, and an estimate of their cost from a FLOP model of the periodic convolution
(``N·H·W·K²·C_in·C_out`` multiply-adds per layer) plus a per-element term for the normalization,
activation and statistics, both calibrated by timing one small layer on this machine.
:func:`add_sweep_command` adds ``randnet-check sweep FILE.toml`` to a command line.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import math
import os
import re
import sys
import time
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

import numpy as np

from randnet import DatasetSpec, NetConfig, layer_stream, parse_distribution, realization_seed
from randnet.activations import get_activation
from randnet.config import DTYPES
from randnet.datasets import BUILTIN as BUILTIN_DATASETS, CIFAR10_BIN
from randnet.norms import parse_norm

from .backends import BACKENDS, check_worker_versions, code_digest, dask_client

SWEEP_KEYS = ("name", "claims", "seed", "realizations", "mode", "base", "grid", "run")
RUN_KEYS = ("backend", "jobs", "scheduler", "store", "out")
MODES = ("quick", "full")

# grid key -> the configuration fields it may set, in order of preference (a field named exactly as the key,
# e.g. a panel's ``norms``, comes first)
ALIASES: dict[str, tuple[str, ...]] = {
    "widths": ("widths", "width"), "width": ("widths", "width"),
    "depth": ("depth",), "depths": ("depth",),
    "norm": ("norm",), "norms": ("norm",),
    "activation": ("activation",), "activations": ("activation",),
    "dataset": ("dataset",), "datasets": ("dataset",),
    "weight": ("weight",), "weights": ("weight",),
    "gamma": ("gamma",), "gammas": ("gamma",),
    "beta": ("beta",), "betas": ("beta",),
    "kernel_size": ("kernel_size",), "kernel_sizes": ("kernel_size",),
    "dtype": ("dtype",), "dtypes": ("dtype",),
}
POSITIVE_INTS = ("depth", "kernel_size", "groups", "batch_size", "first_stride", "proxy_nodes", "steps")
NONNEGATIVE_FLOATS = ("eps", "pn_eps")
DATASET_FIELDS = tuple(f.name for f in dataclasses.fields(DatasetSpec))


class SweepError(ValueError):
    """A sweep file that cannot be used; the message names the file, the key and the problem."""


# -- the sweep description -----------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One configuration of one claim in a sweep, with the grid point that made it."""

    claim: str
    config: Any
    point: Mapping[str, Any]
    realizations: int

    @property
    def digest(self) -> str:
        from .store import config_digest

        return config_digest(self.config)


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file (see the module docstring).

    grid          grid key as written (``"widths"``) -> tuple of checked values (lists and tables made hashable)
    claim_grids   claim key -> its own grid (``[grid.<claim>]``), whose keys replace the common ones
    base          ``"all"``, ``"first"`` or indices into ``claim.configs(mode)``
    run           the ``[run]`` table (defaults for the command line)
    source, base_dir   the file (for messages) and its folder (relative dataset paths)
    """

    name: str
    claims: tuple[str, ...]
    seed: int
    realizations: int | None
    mode: str
    base: str | tuple[int, ...]
    grid: Mapping[str, tuple]
    claim_grids: Mapping[str, Mapping[str, tuple]]
    run: Mapping[str, Any]
    source: str
    base_dir: Path

    def grid_for(self, claim: str) -> dict[str, tuple]:
        """The grid of ``claim``: the common keys, replaced by the claim's own ones."""
        grid = dict(self.grid)
        for key, values in self.claim_grids.get(claim, {}).items():
            for other in _same_field(key, grid):
                del grid[other]
            grid[key] = values
        return grid

    def expand(self, registry: Mapping[str, Any] | None = None) -> list[Entry]:
        """Every ``(claim, configuration)`` of the sweep, in file order, duplicates removed."""
        registry = _registry(registry)
        entries, seen = [], set()
        for key in self.claims:
            claim = registry[key]
            bases = list(claim.configs(self.mode))
            if not bases:
                raise SweepError(f"{self.source}: claim {key} has no default configuration in mode {self.mode!r}")
            if self.base == "first":
                bases = bases[:1]
            elif isinstance(self.base, tuple):
                bad = [i for i in self.base if not -len(bases) <= i < len(bases)]
                if bad:
                    raise SweepError(f"{self.source}: base indices {bad} out of range: claim {key} has "
                                     f"{len(bases)} default configuration(s) in mode {self.mode!r}")
                bases = [bases[i] for i in self.base]
            grid = self.grid_for(key)
            n = self.realizations if self.realizations is not None else int(claim.realizations[self.mode])
            for base in bases:
                for values in itertools.product(*grid.values()):
                    point = dict(zip(grid, values))
                    config = apply_overrides(base, point, where=f"{self.source}: claim {key}",
                                             base_dir=self.base_dir)
                    entry = Entry(key, config, point, n)
                    if (key, entry.digest) not in seen:
                        seen.add((key, entry.digest))
                        entries.append(entry)
        return entries


def _registry(registry):
    if registry is not None:
        return registry
    import theorems

    return theorems.REGISTRY


def _same_field(key: str, grid: Mapping[str, Any]) -> list[str]:
    """The keys of ``grid`` that set the same field as ``key`` (``width`` and ``widths``)."""
    fields = ALIASES.get(key, (key,))
    return [k for k in grid if ALIASES.get(k, (k,)) == fields]


def load_sweep(path: str | os.PathLike, registry: Mapping[str, Any] | None = None) -> Sweep:
    """Read and check a sweep file (see the module docstring); errors name the key and the problem."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file not found: {path}")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{path}: not valid TOML: {e}") from None
    return parse_sweep(data, source=str(path), base_dir=path.resolve().parent,
                       default_name=re.sub(r"[^A-Za-z0-9._-]", "_", path.stem).lstrip("._-") or "sweep",
                       registry=registry)


def parse_sweep(data: Mapping[str, Any], source: str = "<sweep>", base_dir: str | os.PathLike = ".",
                default_name: str = "sweep", registry: Mapping[str, Any] | None = None) -> Sweep:
    """Check a sweep given as a dict (the parsed TOML) and return the :class:`Sweep`."""
    registry = _registry(registry)
    unknown = [k for k in data if k not in SWEEP_KEYS]
    if unknown:
        raise SweepError(f"{source}: unknown top-level key(s) {unknown}; allowed: {', '.join(SWEEP_KEYS)}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise SweepError(f"{source}: 'name' must be a word of letters, digits, '.', '_' or '-' (it names the "
                         f"output folder), got {name!r}")
    if "claims" not in data:
        raise SweepError(f"{source}: missing 'claims' (the claim keys to evaluate, e.g. claims = [\"T1\"]); "
                         f"registered: {', '.join(sorted(registry))}")
    claims = data["claims"]
    claims = [claims] if isinstance(claims, str) else claims
    if not isinstance(claims, list) or not claims or not all(isinstance(c, str) for c in claims):
        raise SweepError(f"{source}: 'claims' must be a non-empty list of claim keys, got {data['claims']!r}")
    for c in claims:
        if c not in registry:
            raise SweepError(f"{source}: unknown claim {c!r} in 'claims'; registered: {', '.join(sorted(registry))}")
    if len(set(claims)) != len(claims):
        raise SweepError(f"{source}: 'claims' lists a claim twice: {claims}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SweepError(f"{source}: 'seed' must be a non-negative integer, got {seed!r}")
    realizations = data.get("realizations")
    if realizations is not None and (isinstance(realizations, bool) or not isinstance(realizations, int)
                                     or realizations < 1):
        raise SweepError(f"{source}: 'realizations' must be a positive integer, got {realizations!r}")
    mode = data.get("mode", "quick")
    if mode not in MODES:
        raise SweepError(f"{source}: 'mode' must be one of {', '.join(MODES)}, got {mode!r}")
    base = data.get("base", "all")
    if isinstance(base, list):
        if not base or not all(isinstance(i, int) and not isinstance(i, bool) for i in base):
            raise SweepError(f"{source}: 'base' as a list must hold integer indices, got {base!r}")
        base = tuple(base)
    elif base not in ("all", "first"):
        raise SweepError(f"{source}: 'base' must be \"all\", \"first\" or a list of indices, got {base!r}")
    grid_data = data.get("grid", {})
    if not isinstance(grid_data, dict):
        raise SweepError(f"{source}: 'grid' must be a table ([grid]), got {type(grid_data).__name__}")
    common = {k: v for k, v in grid_data.items() if not (isinstance(v, dict) and k in claims)}
    grid = _parse_grid(common, f"{source}: [grid]", claims)
    claim_grids = {k: _parse_grid(v, f"{source}: [grid.{k}]", claims, nested=False)
                   for k, v in grid_data.items() if isinstance(v, dict) and k in claims}
    run = _parse_run(data.get("run", {}), source)
    return Sweep(name=name, claims=tuple(claims), seed=seed, realizations=realizations, mode=mode, base=base,
                 grid=grid, claim_grids=claim_grids, run=run, source=source, base_dir=Path(base_dir))


def _parse_run(run: Any, source: str) -> dict[str, Any]:
    if not isinstance(run, dict):
        raise SweepError(f"{source}: 'run' must be a table ([run]), got {type(run).__name__}")
    unknown = [k for k in run if k not in RUN_KEYS]
    if unknown:
        raise SweepError(f"{source}: unknown key(s) {unknown} in [run]; allowed: {', '.join(RUN_KEYS)}")
    if "backend" in run and run["backend"] not in BACKENDS:
        raise SweepError(f"{source}: [run] backend must be one of {', '.join(BACKENDS)}, got {run['backend']!r}")
    if "jobs" in run and (isinstance(run["jobs"], bool) or not isinstance(run["jobs"], int) or run["jobs"] < 1):
        raise SweepError(f"{source}: [run] jobs must be a positive integer, got {run['jobs']!r}")
    for k in ("scheduler", "store", "out"):
        if k in run and (not isinstance(run[k], str) or not run[k].strip()):
            raise SweepError(f"{source}: [run] {k} must be a non-empty string, got {run[k]!r}")
    return dict(run)


def _parse_grid(table: Mapping[str, Any], where: str, claims: Sequence[str], nested: bool = True) -> dict[str, tuple]:
    grid: dict[str, tuple] = {}
    for key, raw in table.items():
        if isinstance(raw, dict):
            hint = (f"; a claim's own grid is [grid.<claim>] with <claim> one of {', '.join(claims)}" if nested
                    else "; per-claim grids cannot be nested")
            raise SweepError(f"{where}: key {key!r} holds a table, not values{hint}")
        clash = _same_field(key, grid)
        if clash:
            raise SweepError(f"{where}: keys {clash[0]!r} and {key!r} set the same field; keep one")
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise SweepError(f"{where}: key {key!r} has an empty list of values")
        checked = tuple(_check_value(key, v, where) for v in values)
        for i, v in enumerate(checked):
            if v in checked[:i]:
                raise SweepError(f"{where}: key {key!r} lists the value {values[i]!r} twice")
        grid[key] = checked
    return grid


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


def _check_value(key: str, v: Any, where: str) -> Any:
    """Check one grid value for the known keys (clear errors before anything runs); returns it hashable."""
    field = ALIASES.get(key, (key,))[0]
    bad = f"{where}: key {key!r}: value {v!r}"
    if field == "widths":
        ws = v if isinstance(v, list) else [v]
        if not ws or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in ws):
            raise SweepError(f"{bad} is not a positive integer width (or a list of per-layer widths)")
    elif field in POSITIVE_INTS:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SweepError(f"{bad} is not a positive integer")
    elif field in NONNEGATIVE_FLOATS:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise SweepError(f"{bad} is not a finite number >= 0")
    elif field == "norm":
        try:
            parse_norm(_string(v, bad))
        except ValueError as e:
            raise SweepError(f"{bad}: {e}") from None
    elif field == "activation":
        try:
            get_activation(_string(v, bad))
        except ValueError as e:
            raise SweepError(f"{bad}: {e}") from None
    elif field in ("weight", "gamma", "beta"):
        try:
            parse_distribution(_string(v, bad))
        except ValueError as e:
            raise SweepError(f"{bad}: {e}") from None
    elif field == "dtype":
        if v not in DTYPES:
            raise SweepError(f"{bad} is not one of {', '.join(DTYPES)}")
    elif field == "dataset":
        if isinstance(v, dict):
            unknown = [k for k in v if k not in DATASET_FIELDS]
            if unknown:
                raise SweepError(f"{bad}: unknown dataset field(s) {unknown}; allowed: {', '.join(DATASET_FIELDS)}")
            if "name" in v and v["name"] not in BUILTIN_DATASETS + (CIFAR10_BIN,):
                raise SweepError(f"{bad}: unknown built-in dataset {v['name']!r}; choose one of "
                                 f"{', '.join(BUILTIN_DATASETS)} (or {CIFAR10_BIN!r} with a path)")
        elif not isinstance(v, str) or not (v in BUILTIN_DATASETS or v.endswith((".npy", ".npz"))
                                            or v.startswith(CIFAR10_BIN + ":")):
            raise SweepError(f"{bad} is neither a built-in dataset ({', '.join(BUILTIN_DATASETS)}), a .npy/.npz "
                             f"path, {CIFAR10_BIN}:PATH, nor a table of dataset fields")
    elif isinstance(v, list) and not all(isinstance(x, (int, float, str, bool)) for x in v):
        raise SweepError(f"{bad}: nested lists are only allowed for widths")
    return _hashable(v)


def _string(v: Any, bad: str) -> str:
    if not isinstance(v, str):
        raise SweepError(f"{bad} is not a string")
    return v


# -- applying a grid point to a configuration -------------------------------------------------------
def apply_overrides(config: Any, point: Mapping[str, Any], where: str = "", base_dir: str | os.PathLike = ".") -> Any:
    """``config`` with the grid ``point``'s values (grid key -> value) set; errors name the key and value.

    A key that names no field of ``config`` goes to the :class:`NetConfig` fields it holds, if any (claims
    whose configuration wraps one random net, e.g. a panel of norms over ``net``).
    """
    if not point:
        return config
    if not dataclasses.is_dataclass(config):
        raise SweepError(f"{where}: its configurations ({type(config).__name__}) are not dataclasses, so the grid "
                         f"cannot override them")
    fields = {f.name for f in dataclasses.fields(config)}
    nets = sorted(f for f in fields if isinstance(getattr(config, f), NetConfig))
    changes, nested = {}, {}
    for key, value in point.items():
        names = [f for f in dict.fromkeys((key, *ALIASES.get(key, ()))) if f in fields]  # the key's own name first
        if names:
            changes[names[0]] = _resolve(names[0], value, getattr(config, names[0]), Path(base_dir))
        elif nets:
            nested[key] = value
        else:
            raise SweepError(f"{where}: grid key {key!r} does not apply to its configurations "
                             f"({type(config).__name__} has fields {', '.join(sorted(fields))}); move the key to "
                             f"the [grid.<claim>] tables of the claims it applies to")
    for f in nets if nested else ():
        changes[f] = apply_overrides(getattr(config, f), nested, where=f"{where} (its field {f!r})", base_dir=base_dir)
    try:
        if isinstance(config, NetConfig):
            return config.replace(**changes)
        return dataclasses.replace(config, **changes)
    except (ValueError, TypeError) as e:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in point.items())
        raise SweepError(f"{where}: grid point ({shown}) gives an invalid configuration: {e}") from None


def _show(v: Any) -> str:
    if isinstance(v, tuple) and v and isinstance(v[0], tuple) and len(v[0]) == 2:
        return "{" + ", ".join(f"{k}={x}" for k, x in v) + "}"
    return str(list(v)) if isinstance(v, tuple) else repr(v)


def _resolve(field: str, value: Any, current: Any, base_dir: Path) -> Any:
    """A grid value as the configuration field wants it."""
    if field == "dataset" and isinstance(current, DatasetSpec):
        if isinstance(value, str):
            return current.with_source(value, base_dir)
        changes = dict(value)
        if changes.get("path") is not None:
            changes["path"] = str((base_dir / changes["path"]).resolve())
        return dataclasses.replace(current, **changes)
    if isinstance(current, tuple) and not isinstance(value, tuple):
        return (value,)  # e.g. a tuple of widths held by one configuration: one grid value, one entry
    return value


# -- cost model ----------------------------------------------------------------------------------------
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
    """``(N, H, W, C)`` of a dataset without drawing it (a file is opened memory-mapped)."""
    if spec.path is None or spec.name == CIFAR10_BIN:
        return spec.n, spec.height, spec.width, spec.channels
    if str(spec.path).endswith(".npy"):
        shape = np.load(spec.path, mmap_mode="r").shape
    else:
        with np.load(spec.path) as f:
            shape = f[spec.key if spec.key is not None else f.files[0]].shape
    if len(shape) != 4:
        raise ValueError(f"{spec.path}: expected shape (N, H, W, C), got {shape}")
    return tuple(int(s) for s in shape)  # type: ignore[return-value]


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
    from randnet import periodic_conv

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


SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""What Dask's nanny (``distributed.nanny.pre-spawn-environ``) sets for its workers."""


def _calibrate_all(configs: Sequence[NetConfig]) -> list[CostModel]:
    return [calibrate(c) for c in configs]


def calibrate_isolated(configs: Sequence[NetConfig]) -> list[CostModel]:
    """:func:`calibrate` each configuration in one fresh process with a single-threaded BLAS, as a worker."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if not configs:
        return []
    saved = {k: os.environ.get(k) for k in SINGLE_THREAD_ENV}
    os.environ.update(SINGLE_THREAD_ENV)  # inherited by the child, which imports numpy afresh
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(_calibrate_all, list(configs)).result()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cost_kind(config: Any) -> tuple | None:
    if not isinstance(config, NetConfig):
        return None
    return (config.norm, config.activation, config.dtype, config.kernel_size, config.proxy_method)


@dataclass(frozen=True)
class Plan:
    """What a sweep would do: per entry, the realizations found in the store and the estimated cost.

    stored[i]      realizations of ``entries[i]`` whose store file exists (validated when read)
    seconds[i]     estimated compute seconds of one realization (None: no cost model for this configuration)
    macs[i]        conv multiply-adds of one realization (None when not a NetConfig)
    """

    sweep: Sweep
    entries: tuple[Entry, ...]
    stored: tuple[int, ...]
    seconds: tuple[float | None, ...]
    macs: tuple[float | None, ...]
    models: tuple[CostModel, ...]

    @property
    def tasks(self) -> int:
        return sum(e.realizations for e in self.entries)

    @property
    def to_compute(self) -> int:
        return self.tasks - sum(self.stored)

    def estimated_seconds(self) -> tuple[float, int]:
        """Estimated compute seconds of the realizations still to compute, and how many have no estimate."""
        total, unknown = 0.0, 0
        for e, s, st in zip(self.entries, self.seconds, self.stored):
            if s is None:
                unknown += e.realizations - st
            else:
                total += s * (e.realizations - st)
        return total, unknown


def plan(sweep: Sweep, store: Any = None, registry: Mapping[str, Any] | None = None,
         calibrate_costs: bool = True) -> Plan:
    """Expand ``sweep``, count what ``store`` already holds, and estimate the cost of the rest."""
    from .store import Store

    entries = sweep.expand(registry)
    if isinstance(store, (str, os.PathLike)):
        store = Store(store)
    stored = []
    for e in entries:
        digest = e.digest
        stored.append(0 if store is None else
                      sum(store.path(e.claim, digest, sweep.seed, k).exists() for k in range(e.realizations)))
    kinds = {}  # cost kind -> a configuration of that kind (the first)
    for e in entries:
        kind = _cost_kind(e.config)
        if kind is not None:
            kinds.setdefault(kind, e.config)
    models = dict(zip(kinds, calibrate_isolated(list(kinds.values())))) if calibrate_costs else {}
    seconds, macs = [], []
    for e in entries:
        kind = _cost_kind(e.config)
        macs.append(None if kind is None else sum(m for m, _ in layer_work(e.config)))
        seconds.append(models[kind].seconds(e.config) if kind in models else None)
    return Plan(sweep, tuple(entries), tuple(stored), tuple(seconds), tuple(macs), tuple(models.values()))


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def print_plan(p: Plan, jobs: int = 1, file: TextIO | None = None) -> None:
    """The dry run's report: tasks per configuration, store hits, and the cost estimate."""
    file = file or sys.stdout
    from .engine import config_label

    s = p.sweep
    print(f"sweep {s.name!r} ({s.source}): {len(s.claims)} claim(s), {len(p.entries)} configuration(s), "
          f"{p.tasks} task(s) (realizations), seed {s.seed}, mode {s.mode}", file=file)
    print(f"  already in the store: {p.tasks - p.to_compute}; to compute: {p.to_compute}", file=file)
    print(f"  {'claim':<10} {'digest':<16} {'R':>4} {'stored':>6} {'conv MAC/real.':>14} {'est. s/real.':>12}  "
          f"configuration", file=file)
    varying = {c: [k for k, v in s.grid_for(c).items() if len(v) > 1] for c in s.claims}
    for e, st, sec, mac in zip(p.entries, p.stored, p.seconds, p.macs):
        point = ", ".join(f"{k}={_show(e.point[k])}" for k in varying[e.claim])
        print(f"  {e.claim:<10} {e.digest:<16} {e.realizations:>4} {st:>6} "
              f"{'n/a' if mac is None else f'{mac:.3g}':>14} {'n/a' if sec is None else f'{sec:.3g}':>12}  "
              f"{config_label(e.config)}{f'  [{point}]' if point else ''}", file=file)
    total, unknown = p.estimated_seconds()
    for m in p.models:
        print(f"  cost model: {m.seconds_per_mac * 1e9:.3g} ns per conv multiply-add + "
              f"{m.seconds_per_element * 1e9:.3g} ns per output element, fitted on {m.calibration}", file=file)
    if not p.models:
        why = ("calibration skipped" if any(m is not None for m in p.macs)
               else "no configuration is a NetConfig, the cost model's input")
        print(f"  no estimate of the seconds ({why})", file=file)
        return
    line = (f"  estimated compute: {_duration(total)} of CPU time for the {p.to_compute - unknown} realization(s) "
            f"with a model")
    if jobs > 1:
        line += f", ≈ {_duration(total / jobs)} of wall time on {jobs} single-core workers (perfect scaling)"
    print(line, file=file)
    if unknown:
        print(f"  {unknown} realization(s) have no cost model (configurations that are not NetConfig, or "
              f"measurements beyond the forward pass: training, sampling); time one with --realizations 1",
              file=file)
    print("  (the model covers the forward pass and its statistics only: worker start-up, imports and "
          "claim-specific work come on top)", file=file)


# -- running --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepResult:
    """The claims' results (``ClaimResult``), the claims that failed to run, and where outputs went."""

    sweep: Sweep
    results: tuple
    errors: Mapping[str, str]
    outputs: tuple[Path, ...]
    seconds: float
    code_changed: bool = False
    """The source of randnet/theorems/validation changed on disk while the sweep ran (worker processes
    started after the change may have run the new code)."""

    @property
    def computed(self) -> int:
        """Realizations computed by this run (the others were read from the store)."""
        return sum(r.computed for cr in self.results for r in cr.results)


def run_sweep(sweep: Sweep, *, backend: str = "joblib", jobs: int = 1, scheduler: Any = None,
              store: Any = None, out: str | os.PathLike | None = None, progress: bool = True,
              registry: Mapping[str, Any] | None = None, command: Sequence[str] = (),
              tables: bool = True, log: TextIO | None = None) -> SweepResult:
    """Run every entry of ``sweep`` (claim by claim, one cluster for all of them with ``backend="dask"``).

    backend, jobs, scheduler   see :func:`validation.backends.execute` and :func:`~validation.backends.dask_client`;
               with Dask, every worker must import the same ``randnet`` and ``numpy`` versions as this process
    store      a :class:`validation.store.Store` or folder: each realization is written there (atomically, by
               this process) as soon as its result arrives, and realizations already there are read, not
               recomputed — so an interrupted sweep resumes and a repeated one computes nothing
    out        folder for the report (``REPORT.md``, ``results.json``, plots) and the tidy tables
    log        where to print one line per claim as it starts (e.g. ``sys.stderr``)
    A claim that fails to run is recorded (report and ``errors``) and the sweep goes on with the next.
    """
    from .engine import get_claim, run_claim
    from .store import Store

    start = time.perf_counter()
    code = code_digest()
    entries = sweep.expand(registry)
    if isinstance(store, (str, os.PathLike)):
        store = Store(Path(store).resolve())
    report = None
    if out is not None:
        from .report import Report

        report = Report(out, mode=sweep.mode, seed=sweep.seed, command=command)
    results, errors, outputs = [], {}, []
    session = dask_client(scheduler, jobs) if backend == "dask" else contextlib.nullcontext()
    with session as client:
        if client is not None:
            check_worker_versions(client)
        for key in sweep.claims:
            configs = [e.config for e in entries if e.claim == key]
            n = next(e.realizations for e in entries if e.claim == key)
            claim = get_claim(key) if registry is None else registry[key]
            if log is not None:
                print(f"[{sweep.claims.index(key) + 1}/{len(sweep.claims)}] {key}: {len(configs)} configuration(s) "
                      f"x {n} realization(s) on {backend}", file=log, flush=True)
            try:
                result = run_claim(claim, configs=configs, realizations=n, seed=sweep.seed, mode=sweep.mode,
                                   backend=backend, jobs=jobs, store=store, progress=progress)
            except Exception as e:  # record it; the other claims still run
                errors[key] = f"{type(e).__name__}: {e}"
                if report is not None:
                    report.add_error(key, claim.title, e)
                continue
            results.append(result)
            if report is not None:
                from .plots import draw

                paths, plot_errors = draw(result, out)
                report.add(result, paths, plot_errors)
                outputs += paths
    if out is not None and tables and results:
        from .tables import write_sweep_tables

        outputs += write_sweep_tables(results, out)
    if report is not None:
        outputs += [Path(out) / "REPORT.md", Path(out) / "results.json"]
    changed = code_digest() != code
    if changed:
        warnings.warn("the source of randnet/theorems/validation changed on disk during the sweep: worker processes "
                      "started after the change ran the new code, so results may mix two versions; run it again "
                      "with a fresh store on a checkout that nobody edits", RuntimeWarning,
                      stacklevel=2)
    return SweepResult(sweep, tuple(results), errors, tuple(outputs), time.perf_counter() - start, changed)


# -- command line -----------------------------------------------------------------------------------------
def add_sweep_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sweep FILE.toml [--dry-run --backend B --jobs N --scheduler ADDRESS --store DIR --out DIR]``.

    The parser's default ``func`` is :func:`sweep_command` (``args.func(args)`` returns the exit status).
    """
    p = subparsers.add_parser(
        "sweep", help="run a grid of configurations described in a TOML file",
        description="Run every (claim, configuration) of a sweep file on a backend, resuming from the results "
                    "store. Flags override the file's [run] table.",
        epilog="Exit status: 0 when every claim ran (the verdicts are in the report), 2 for a bad sweep file or "
               "arguments, 3 when a claim could not run (recorded in the report; the other claims still ran).")
    p.add_argument("file", help="the sweep description (.toml); see examples/sweep_t1.toml")
    p.add_argument("--dry-run", action="store_true",
                   help="print the number of tasks and a cost estimate, run nothing")
    p.add_argument("--no-calibrate", action="store_true",
                   help="with --dry-run: count the conv multiply-adds but time nothing (no seconds estimate)")
    p.add_argument("--backend", choices=BACKENDS, default=None, help="where realizations run (default: joblib)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (joblib; dask when it starts its own LocalCluster); default: the file's "
                        "[run] jobs, else min(2, CPUs)")
    p.add_argument("--scheduler", default=None,
                   help="dask: address of a running scheduler, e.g. tcp://10.0.0.5:8786 (default: start a "
                        "LocalCluster of --jobs workers on 127.0.0.1)")
    p.add_argument("--store", default=None, help="results store folder (default: OUT/.store)")
    p.add_argument("--no-store", action="store_true", help="keep no store (the sweep cannot resume)")
    p.add_argument("--out", default=None, help="output folder (default: sweeps/NAME)")
    p.add_argument("--realizations", type=int, default=None, help="override the file's realizations")
    p.add_argument("--seed", type=int, default=None, help="override the file's seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=sweep_command)
    return p


def resolve_run_options(args: argparse.Namespace, sweep: Sweep) -> dict[str, Any]:
    """Command-line flags over the file's [run] table over the defaults."""
    run = sweep.run
    backend = args.backend or run.get("backend", "joblib")
    jobs = args.jobs if args.jobs is not None else run.get("jobs", max(1, min(os.cpu_count() or 1, 2)))
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise SweepError(f"--jobs must be a positive integer, got {jobs!r}")
    scheduler = args.scheduler or run.get("scheduler")
    if scheduler is not None and backend != "dask":
        raise SweepError(f"a scheduler ({scheduler}) needs --backend dask, not {backend!r}")
    out = Path(args.out or run.get("out") or Path("sweeps") / sweep.name)
    store = None if args.no_store else Path(args.store or run.get("store") or out / ".store")
    return {"backend": backend, "jobs": jobs, "scheduler": scheduler, "out": out, "store": store}


def sweep_command(args: argparse.Namespace, file: TextIO | None = None) -> int:
    """The ``sweep`` subcommand (see :func:`add_sweep_command`); returns the exit status."""
    file = file or sys.stdout
    try:
        sweep = load_sweep(args.file)
        if args.realizations is not None or args.seed is not None:
            if args.realizations is not None and args.realizations < 1:
                raise SweepError(f"--realizations must be a positive integer, got {args.realizations}")
            if args.seed is not None and args.seed < 0:
                raise SweepError(f"--seed must be a non-negative integer, got {args.seed}")
            sweep = dataclasses.replace(
                sweep, realizations=args.realizations if args.realizations is not None else sweep.realizations,
                seed=args.seed if args.seed is not None else sweep.seed)
        opts = resolve_run_options(args, sweep)
        if args.dry_run:
            print_plan(plan(sweep, opts["store"], calibrate_costs=not args.no_calibrate), jobs=opts["jobs"],
                       file=file)
            return 0
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    where = opts["scheduler"] or (f"{opts['jobs']} worker(s)" if opts["backend"] != "serial" else "this process")
    print(f"sweep {sweep.name!r}: {len(sweep.claims)} claim(s) on {opts['backend']} ({where}); "
          f"store {opts['store'] or 'none (not resumable)'}; output {opts['out']}", file=file)
    command = ["randnet-check", *getattr(args, "argv", ["sweep", args.file])]
    result = run_sweep(sweep, backend=opts["backend"], jobs=opts["jobs"], scheduler=opts["scheduler"],
                       store=opts["store"], out=opts["out"], progress=not args.no_progress, command=command,
                       log=sys.stderr)
    for cr in result.results:
        rejected = cr.negative_controls_rejected
        print(f"  {cr.claim.key:<10} {cr.verdict:<20} negative controls {'rejected' if rejected else 'NOT rejected'}"
              f"  ({len(cr.results)} configuration(s), {sum(r.computed for r in cr.results)} realization(s) "
              f"computed, {cr.seconds:.1f} s)", file=file)
    for key, err in result.errors.items():
        print(f"  {key:<10} ERROR {err}", file=file)
    if result.code_changed:
        print("  WARNING: the source code changed on disk during the sweep; results may mix two versions", file=file)
    status = 3 if result.errors else 0
    print(f"  {result.computed} realization(s) computed in {result.seconds:.1f} s; report: "
          f"{Path(opts['out']) / 'REPORT.md'}", file=file)
    return status
