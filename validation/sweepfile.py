"""The sweep file: a grid of configurations for several claims, described in TOML (run by :mod:`validation.sweep`).

A sweep file names the claims to evaluate and a grid over configuration attributes (widths, depths,
norms, activations, parameter distributions, datasets, ...). Each claim's default configurations
(``claim.configs(mode)``) are the base; every point of the grid overrides their attributes, and the
resulting ``(claim, configuration)`` pairs — duplicates removed — run ``realizations`` realizations
each (:func:`validation.sweep.run_sweep`), reading and writing the results store so that an
interrupted sweep resumes where it stopped and a repeated one computes nothing. See ``examples/sweep_t1.toml`` for a worked example::

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

Grid keys are configuration field names, applied by :func:`validation.configs.override` (the rule the
command line's options follow too); the usual plurals are accepted (``widths``/``width``,
``depths``, ``norms``, ``activations``, ``datasets``, ``weights``, ``gammas``, ``betas``,
``kernel_sizes``, ``dtypes``; ``net_backend`` and ``device``/``devices`` for the net's forward pass, e.g.
``net_backend = "torch"``, ``device = "cuda"``, since ``[run] backend`` says where realizations run). A key
that names no field of a claim's configuration goes to the random net it wraps (a :class:`randnet.NetConfig`
field such as ``net``), else it is an error that names the claim. A dataset value is a built-in name, a
``.npy``/``.npz`` path or ``cifar10-bin:PATH`` (paths relative to the sweep file; read as the command line's
``--dataset`` is, by :meth:`randnet.DatasetSpec.with_source`), or a table of :class:`randnet.DatasetSpec` fields
that override the base configuration's dataset. Paths in ``[run]`` are relative to the working directory.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from randnet import DatasetSpec, parse_distribution
from randnet.activations import get_activation
from randnet.checks import is_int, is_number
from randnet.config import DTYPES
from randnet.datasets import BUILTIN as BUILTIN_DATASETS, CIFAR10_BIN, parse_source
from randnet.norms import parse_norm
from randnet.plugins import resolve_norm
from theorems.base import REGISTRY, RUN_MODES

from .backends import BACKENDS
from .configs import ALIASES, config_digest, ignored_shape_fields, override, same_field, unique
from .realization import MAX_REALIZATIONS

SWEEP_KEYS = ("name", "claims", "seed", "realizations", "mode", "base", "grid", "run")
RUN_KEYS = ("backend", "jobs", "scheduler", "store", "out")
POSITIVE_INTS = ("depth", "kernel_size", "groups", "batch_size", "first_stride", "proxy_nodes", "steps")
NONNEGATIVE_FLOATS = ("eps", "pn_eps")
DATASET_FIELDS = tuple(f.name for f in dataclasses.fields(DatasetSpec))
PARSERS = {"norm": lambda v: parse_norm(resolve_norm(v)[0]), "activation": get_activation,
           "weight": parse_distribution, "gamma": parse_distribution, "beta": parse_distribution}
"""Fields whose grid values are strings that randnet reads (their ``ValueError`` names the problem); a norm may be
a user's ``package.module:function`` (imported and checked now, as ``randnet-check run --norm`` does)."""


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
            for other in same_field(key, grid):
                del grid[other]
            grid[key] = values
        return grid

    def expand(self, registry: Mapping[str, Any] | None = None) -> list[Entry]:
        """Every ``(claim, configuration)`` of the sweep, in file order, duplicates removed."""
        registry = REGISTRY if registry is None else registry
        entries = []
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
            points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
            entries += unique([Entry(key, apply_overrides(base, point, f"{self.source}: claim {key}", self.base_dir),
                                     point, n) for base in bases for point in points], lambda e: e.config)
        return entries


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
    registry = REGISTRY if registry is None else registry
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
    if not is_int(seed, 0):
        raise SweepError(f"{source}: 'seed' must be a non-negative integer, got {seed!r}")
    realizations = data.get("realizations")
    if realizations is not None and not (is_int(realizations) and realizations <= MAX_REALIZATIONS):
        raise SweepError(f"{source}: 'realizations' must be a positive integer at most {MAX_REALIZATIONS:,}, got "
                         f"{realizations!r}")
    mode = data.get("mode", "quick")
    if mode not in RUN_MODES:
        raise SweepError(f"{source}: 'mode' must be one of {', '.join(RUN_MODES)}, got {mode!r}")
    base = data.get("base", "all")
    if isinstance(base, list):
        if not base or not all(is_int(i, None) for i in base):
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
    if "jobs" in run and not is_int(run["jobs"]):
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
        clash = same_field(key, grid)
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
        if not ws or not all(is_int(w) for w in ws):
            raise SweepError(f"{bad} is not a positive integer width (or a list of per-layer widths)")
    elif field in POSITIVE_INTS:
        if not is_int(v):
            raise SweepError(f"{bad} is not a positive integer")
    elif field in NONNEGATIVE_FLOATS:
        if not is_number(v, 0):
            raise SweepError(f"{bad} is not a finite number >= 0")
    elif field in PARSERS:
        try:
            PARSERS[field](_string(v, bad))
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
            try:
                sized = ignored_shape_fields(v)
            except ValueError as e:
                raise SweepError(f"{bad}: {e}") from None
            if sized:
                raise SweepError(f"{bad}: {', '.join(sized)} apply to built-in datasets and {CIFAR10_BIN} only; a "
                                 ".npy/.npz file's shape is its own (drop them)")
        elif not isinstance(v, str) or not _dataset_text(v, bad):
            raise SweepError(f"{bad} is neither a built-in dataset ({', '.join(BUILTIN_DATASETS)}), a .npy/.npz "
                             f"path, {CIFAR10_BIN}:PATH, nor a table of dataset fields")
    elif isinstance(v, list) and not all(isinstance(x, (int, float, str, bool)) for x in v):
        raise SweepError(f"{bad}: nested lists are only allowed for widths")
    return _hashable(v)


def _dataset_text(v: str, bad: str) -> bool:
    """``v`` names a dataset as :func:`randnet.datasets.parse_source` reads it, a file being a .npy/.npz one."""
    try:
        name, path = parse_source(v)
    except ValueError as e:
        raise SweepError(f"{bad}: {e}") from None
    return name is not None or path.endswith((".npy", ".npz"))


def _string(v: Any, bad: str) -> str:
    if not isinstance(v, str):
        raise SweepError(f"{bad} is not a string")
    return v


# -- applying a grid point to a configuration -------------------------------------------------------
def apply_overrides(config: Any, point: Mapping[str, Any], where: str = "", base_dir: str | os.PathLike = ".") -> Any:
    """``config`` with the grid ``point``'s values (grid key -> value) set by :func:`validation.configs.override`
    (dataset paths relative to ``base_dir``); a key that does not apply, or an invalid result, is a
    :class:`SweepError` that names the key and value."""
    if not point:
        return config
    if not dataclasses.is_dataclass(config):
        raise SweepError(f"{where}: its configurations ({type(config).__name__}) are not dataclasses, so the grid "
                         f"cannot override them")
    try:
        new, unused = override(config, point, base_dir)
    except (ValueError, TypeError, OSError) as e:  # OSError: a dataset file that cannot be read
        shown = ", ".join(f"{k}={show_value(v)}" for k, v in point.items())
        raise SweepError(f"{where}: grid point ({shown}) gives an invalid configuration: {e}") from None
    if unused:
        u = unused[0]
        inside = "".join(f" (its field {f!r})" for f in u.within)
        fields = ", ".join(sorted(f.name for f in dataclasses.fields(u.owner)))
        raise SweepError(f"{where}{inside}: grid key {u.name!r} does not apply to its configurations "
                         f"({type(u.owner).__name__} has fields {fields}); move the key to the [grid.<claim>] "
                         "tables of the claims it applies to")
    return new


def show_value(v: Any) -> str:
    """A grid value as the sweep file wrote it (lists for tuples, ``{k=v}`` for tables)."""
    if isinstance(v, tuple) and v and isinstance(v[0], tuple) and len(v[0]) == 2:
        return "{" + ", ".join(f"{k}={x}" for k, x in v) + "}"
    return str(list(v)) if isinstance(v, tuple) else repr(v)
