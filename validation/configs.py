"""Configurations as validation sees them: labels, flattening, digests, overrides, grouping.

A configuration is any frozen object with a ``describe() -> dict`` (JSON-able) method (``theorems.base``);
a :class:`randnet.NetConfig`, a panel of norms over one, or a claim's own dataclass.

- :func:`config_label`, :func:`distinct_labels`: short labels for reports;
- :func:`flatten`: ``describe()``'s nested dicts as dotted keys (``dataset.n``), :func:`config_columns` the same
  as table columns;
- digests: :func:`config_digest`, the configuration's identity (a SHA-256 prefix of ``describe()`` as sorted
  JSON: labels of tables and reports; :func:`unique` drops configurations with the same digest);
  :func:`code_digest`, the source of packages; :func:`result_digest`, the results store's key — what a
  realization's result depends on besides ``(claim, seed, k)``: the configuration, the measurement code
  (:data:`MEASUREMENT_CODE`), the source of any plugin normalization it names and the bytes of any data file;
- :func:`override`: the one rule that sets attributes of a configuration from names such as ``widths`` or
  ``norms`` (the command line's options and a sweep's grid points both go through it; a dataset's text through
  :meth:`randnet.DatasetSpec.with_source`, and :func:`ignored_shape_fields` names the shape fields a data file
  ignores);
- :func:`group_by`: configurations that differ only in one (swept) attribute, with what tells the groups apart.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

import numpy as np

from randnet import DatasetSpec, NetConfig
from randnet.datasets import SHAPE_FIELDS, is_array_file, parse_source
from randnet.plugins import registered as registered_plugins, source_files

T = TypeVar("T")

# name -> the configuration fields it may set, in order of preference (a field named exactly as the name,
# e.g. a panel's ``norms``, comes first: :func:`fields_for`)
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
    "net_backend": ("backend",), "devices": ("device",),  # a sweep's [run] backend is where realizations run
}


# -- labels, flattening, digests ----------------------------------------------------------------------------
def flatten(described: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"dataset": {"n": 8}}`` -> ``{"dataset.n": 8}``."""
    out: dict[str, Any] = {}
    for k, v in described.items():
        out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, Mapping) else {f"{prefix}{k}": v})
    return out


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def differing(flats: Sequence[Mapping[str, Any]]) -> list[str]:
    """The keys (in order of appearance) whose values are not the same in all of ``flats``."""
    return [k for k in dict.fromkeys(k for f in flats for k in f) if len({_json(f.get(k)) for f in flats}) > 1]


def config_label(config: Any) -> str:
    """A short label: ``config.label()`` when it exists, else ``key=value`` pairs of ``describe()`` (leaving out
    long values, e.g. nested objects)."""
    if hasattr(config, "label"):
        return str(config.label())
    return ", ".join(f"{k}={v}" for k, v in config.describe().items() if len(str(v)) <= 24)


def distinct_labels(configs: Sequence[Any]) -> list[str]:
    """:func:`config_label` of each configuration, with the entries of ``describe()`` that tell apart
    configurations sharing a label appended, e.g. ``"bn C=16 L=8 relu (dtype=float64)"``."""
    labels = [config_label(c) for c in configs]
    for label in set(labels):
        same = [i for i, x in enumerate(labels) if x == label]
        if len(same) < 2:
            continue
        flat = [flatten(configs[i].describe()) for i in same]
        keys = differing(flat)
        for i, f in zip(same, flat):
            labels[i] = f"{label} ({', '.join(f'{k}={f.get(k)}' for k in keys)})" if keys else label
    return labels


def config_columns(config: Any) -> dict[str, Any]:
    """``config.describe()`` flattened to ``config.<field>`` columns of scalars (lists as JSON text)."""
    def column(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return json.dumps(list(value), default=str)
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        return value.item() if isinstance(value, np.generic) else str(value)

    return {k: column(v) for k, v in flatten(config.describe(), "config.").items()}


def config_digest(config: Any) -> str:
    """The configuration's identity: a SHA-256 prefix of ``describe()`` as sorted JSON (tables, reports, :func:`unique`;
    the results store keys on :func:`result_digest`)."""
    if not hasattr(config, "describe"):
        raise TypeError(f"configuration {type(config).__name__} has no describe() method")
    return hashlib.sha256(_json(config.describe()).encode()).hexdigest()[:16]


CODE_PACKAGES = ("randnet", "theorems", "validation")
"""The packages whose source :func:`code_digest` hashes by default (Dask workers must run the same code)."""
MEASUREMENT_CODE = ("randnet", "theorems", "validation.realization")
"""The code that determines a stored realization (:func:`result_digest`): the packages that compute it and the
engine's measure wrapper (the float64 conversion and the single-threaded BLAS of :mod:`validation.realization`).
The rest of ``validation`` — intervals, verdicts, reports, plots, the command line — reads stored realizations
and never changes one, so editing it keeps the store valid."""
RACY_SECONDS = 2.0
"""A file modified less than this long before it was hashed is hashed again next time (its timestamp may not
have moved yet on a coarse clock: git's "racy" rule)."""
_FILE_DIGESTS: dict[str, tuple[tuple, bytes]] = {}


def file_digest(path: str | os.PathLike) -> bytes:
    """SHA-256 of a file's bytes, cached while its size, timestamps and inode stay the same (and it was hashed
    more than :data:`RACY_SECONDS` after its last change)."""
    path = os.path.abspath(path)
    st = os.stat(path)
    signature = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    hit = _FILE_DIGESTS.get(path)
    if hit is not None and hit[0] == signature:
        return hit[1]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.digest()
    if time.time() - max(st.st_mtime, st.st_ctime) > RACY_SECONDS:
        _FILE_DIGESTS[path] = (signature, digest)
    return digest


def code_digest(modules: Sequence[str] = CODE_PACKAGES) -> str:
    """A SHA-256 prefix of the ``.py`` source of ``modules`` as it is on disk now (each a package: all its files,
    paths and bytes; or a module: its file): two checkouts with the same package version but different code get
    different digests."""
    h = hashlib.sha256()
    for name in modules:
        module = importlib.import_module(name)
        file = Path(module.__file__)
        if file.name == "__init__.py":
            files = [(f"{name}/{p.relative_to(file.parent).as_posix()}", p) for p in sorted(file.parent.rglob("*.py"))]
        else:
            files = [(f"{name}.py", file)]
        for label, path in files:
            h.update(f"{label}\0".encode())
            h.update(file_digest(path))
    return h.hexdigest()[:16]


def _named_content(value: Any, key: str = "") -> tuple[set[str], set[str]]:
    """The registered plugin normalizations (``"module:function"``, optionally with ``+pn``/``+ws``) and the data
    file paths (``path`` entries) anywhere in a ``describe()`` value."""
    plugins, files = set(), set()
    if isinstance(value, Mapping):
        for k, v in value.items():
            p, f = _named_content(v, str(k))
            plugins |= p
            files |= f
    elif isinstance(value, (list, tuple)):
        for v in value:
            p, f = _named_content(v, key)
            plugins |= p
            files |= f
    elif isinstance(value, str):
        if key == "path":
            files.add(value)
        elif value.partition("+")[0].strip() in registered_plugins():
            plugins.add(value.partition("+")[0].strip())
    return plugins, files


def result_digest(config: Any, code: str | None = None) -> str:
    """The results store's key of a configuration: a SHA-256 prefix of :func:`config_digest`, the measurement code
    (``code``, default :func:`code_digest` of :data:`MEASUREMENT_CODE`), the source files of every plugin
    normalization it names (:func:`randnet.plugins.source_files`) and the bytes of every data file it names
    (its ``path`` entries). Editing any of them changes the key, so a stored realization is never reused for
    another computation; the key is computed here, never by a worker."""
    h = hashlib.sha256(config_digest(config).encode())
    h.update((code_digest(MEASUREMENT_CODE) if code is None else code).encode())
    plugins, files = _named_content(config.describe())
    for reference in sorted(plugins):
        for path in source_files(reference):
            h.update(f"plugin {reference} {path.name}\0".encode())
            h.update(file_digest(path))
    for path in sorted(files):
        h.update(f"data {path}\0".encode())
        if os.path.isdir(path):  # a folder of data files: every file in it
            for f in sorted(Path(path).rglob("*")):
                if f.is_file():
                    h.update(f"{f.relative_to(path).as_posix()}\0".encode() + file_digest(f))
        else:
            h.update(file_digest(path) if os.path.isfile(path) else b"missing")
    return h.hexdigest()[:16]


def unique(items: Iterable[T], config: Callable[[T], Any] = lambda item: item) -> list[T]:
    """``items`` without repeats of the same configuration (same :func:`config_digest` of ``config(item)``),
    in order."""
    seen, out = set(), []
    for item in items:
        d = config_digest(config(item))
        if d not in seen:
            seen.add(d)
            out.append(item)
    return out


def nets(config: Any) -> list[NetConfig]:
    """The random nets a configuration is (a :class:`~randnet.NetConfig`) or holds in its fields (a panel's
    ``net``), in field order."""
    if isinstance(config, NetConfig):
        return [config]
    if not dataclasses.is_dataclass(config):
        return []
    return [v for v in (getattr(config, f.name) for f in dataclasses.fields(config)) if isinstance(v, NetConfig)]


# -- overrides ------------------------------------------------------------------------------------------------
def fields_for(name: str) -> tuple[str, ...]:
    """The fields ``name`` may set, its own name first (``norms``: a field ``norms``, else ``norm``)."""
    return tuple(dict.fromkeys((name, *ALIASES.get(name, ()))))


def same_field(name: str, names: Iterable[str]) -> list[str]:
    """The ``names`` that set the same field as ``name`` (``width`` and ``widths``)."""
    fields = ALIASES.get(name, (name,))
    return [k for k in names if ALIASES.get(k, (k,)) == fields]


@dataclasses.dataclass(frozen=True)
class Unused:
    """A name :func:`override` could not apply: ``owner`` (the configuration, or a configuration it holds in the
    field path ``within``) has no field it may set and holds no :class:`~randnet.NetConfig` to pass it to."""

    name: str
    owner: Any
    within: tuple[str, ...] = ()


def override(config: Any, changes: Mapping[str, Any], base_dir: str | Path | None = None) -> tuple[Any, list[Unused]]:
    """``config`` with ``changes`` (name -> value) set, and the names that did not apply.

    A name sets the first field of :func:`fields_for` that ``config`` has (``widths`` sets ``widths`` or
    ``width``); a name that sets none goes to every :class:`~randnet.NetConfig` field ``config`` holds (a panel
    of norms over ``net``), else it is :class:`Unused`. A value for a tuple field that is not a tuple becomes a
    one-entry tuple. A ``dataset`` value changes the :class:`~randnet.DatasetSpec` there: a text (a built-in name,
    a ``.npy``/``.npz`` path or ``cifar10-bin:PATH``, read by :meth:`~randnet.DatasetSpec.with_source`), or a dict
    of its fields, which may hold such a text as ``source`` (paths relative to ``base_dir``, kept as given when it
    is None). A value that makes the configuration invalid raises its ``ValueError``.
    """
    if not changes:
        return config, []
    if not dataclasses.is_dataclass(config):
        return config, [Unused(k, config) for k in changes]
    fields = {f.name for f in dataclasses.fields(config)}
    net_fields = sorted(f for f in fields if isinstance(getattr(config, f), NetConfig))
    direct, nested, unused = {}, {}, []
    for name, value in changes.items():
        field = next((f for f in fields_for(name) if f in fields), None)
        if field is not None:
            direct[field] = _resolve(field, value, getattr(config, field), base_dir)
        elif net_fields:
            nested[name] = value
        else:
            unused.append(Unused(name, config))
    for f in net_fields if nested else ():
        direct[f], inner = override(getattr(config, f), nested, base_dir)
        unused += [dataclasses.replace(u, within=(f, *u.within)) for u in inner]
    if isinstance(config, NetConfig):
        return config.replace(**direct), unused
    return dataclasses.replace(config, **direct), unused


def _resolve(field: str, value: Any, current: Any, base_dir: str | Path | None) -> Any:
    """A value as the configuration field wants it."""
    def path(p: str) -> str:
        return p if base_dir is None else str((Path(base_dir) / p).resolve())

    if field == "dataset" and isinstance(current, DatasetSpec):
        changes = {"source": value} if isinstance(value, str) else dict(value)
        source = changes.pop("source", None)
        if changes.get("path") is not None:
            changes["path"] = path(changes["path"])
        if source is None:
            return dataclasses.replace(current, **changes)
        return current.with_source(source, base_dir, **changes)
    if isinstance(current, tuple) and not isinstance(value, tuple):
        return (value,)  # e.g. a tuple of widths held by one configuration: one value, one entry
    return value


def ignored_shape_fields(value: str | Mapping[str, Any], current: DatasetSpec | None = None) -> list[str]:
    """The shape fields (``n, height, width, channels``) that a ``dataset`` value of :func:`override` sets in vain:
    a ``.npy``/``.npz`` file's spec takes its shape from the file's header (:class:`~randnet.DatasetSpec`,
    :func:`randnet.datasets.is_array_file`), while the built-ins, ``natural`` and ``cifar10-bin`` honour them
    (``n`` inputs, crops of ``height × width``). ``current``: the spec that ``value`` changes (it decides for a
    table without ``source``, ``name`` or ``path``)."""
    if isinstance(value, str):
        return []
    table = dict(value)
    if table.get("source") is not None:
        name, path = parse_source(table["source"])
    else:
        name = table.get("name", None if current is None else current.name)
        path = table.get("path", None if current is None else current.path)
    return [f for f in SHAPE_FIELDS if f in table] if is_array_file(name, path) else []


# -- grouping by a swept attribute ---------------------------------------------------------------------------
def group_by(items: Sequence[T], attribute: str, config: Callable[[T], Any] = lambda item: item
             ) -> list[tuple[str, list[T]]]:
    """Group ``items`` whose configurations differ only in ``attribute``; each group comes with the flattened
    ``describe()`` entries that set it apart from the other groups (``"k=v, ..."``; ``""`` for one group).

    The attribute appears in ``describe()`` under its own name or its plural (``width`` / ``widths``); every
    other entry agrees within a group. Groups keep the order of their first item.
    """
    groups: dict[str, list[T]] = {}
    for item in items:
        fixed = {k: v for k, v in config(item).describe().items() if k not in (attribute, attribute + "s")}
        groups.setdefault(_json(fixed), []).append(item)
    flat = {key: flatten(json.loads(key)) for key in groups}
    keys = differing(list(flat.values()))
    return [(", ".join(f"{k}={flat[key].get(k)}" for k in keys), members) for key, members in groups.items()]
