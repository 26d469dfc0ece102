"""Tidy tables of every measured statistic, and T1's smallest width at which the bound holds.

**The tidy table** has one row per ``(claim, configuration, realization, quantity, cell, component)``:

============== ===============================================================================
claim          the claim key
config_digest  the configuration's identity (``configs.config_digest``; not the store's key)
config_label   its short label
config.<f>     one column per field of ``config.describe()``; nested fields are dotted
               (``config.dataset.n``), lists are JSON text (``config.widths`` of unequal widths)
seed           the run's seed; realization ``k`` is ``SeedSequence(seed, spawn_key=(k,))``
realization    ``k``
quantity       the measured quantity's name (``claim.measure``'s keys)
cell_name      what the cells are (``"layer"``), from the claim's comparisons; ``"index"`` for a
               quantity no comparison labels, ``""`` for a scalar
cell           the cell's label (e.g. the layer index ``l``); the position for ``"index"``
index          the position along the quantity's first axis (0-based), whatever the label
component      the flat position along any further axes (0 for one-dimensional quantities)
value          the float64 value
============== ===============================================================================

It is built from run results (:func:`rows_from_results`) or read back from the results store
(:func:`rows_from_store`, given the entries to read) and written as CSV always and Parquet when
pyarrow is installed (:func:`write_table`). With ``pyarrow``, ``pyarrow.parquet.read_table(path)
.to_pandas().pivot_table(...)`` gives any wide view.

**Smallest width** (:func:`min_width_rows`, :func:`plot_min_width`): for an asymptotic claim swept
over widths (T1, P6), per depth ``l`` (cell), the smallest swept width from which the claim's
per-cell verdict is PASS at that width *and every larger swept width* — the width needed for the
bound ``1 − P(μ_c(y^l)) ≲ ρ^{l−1}`` to hold at depth ``l``. The verdicts are the engine's (the
simultaneous intervals of SPEC §5), read from the data alone (``cell_verdicts``), so a configuration
that breaks a hypothesis still shows where the data would put it, and says so in its group label.
"""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from theorems.base import REGISTRY

from .configs import config_columns, config_digest, config_label, group_by, result_digest
from .plots import save, subplots
from .store import Store, replace_atomically
from .verdicts import PASS

ID_COLUMNS = ("claim", "config_digest", "config_label")
ROW_COLUMNS = ("seed", "realization", "quantity", "cell_name", "cell", "index", "component", "value")
TABLE_NAME = "sweep_table"


# -- building -------------------------------------------------------------------------------------------
class Table:
    """A column store: ``add(row)`` appends a dict, missing columns are filled with None.

    ``tidy``: order the columns as the tidy table does (see the module doc); else in order of appearance.
    """

    def __init__(self, tidy: bool = True) -> None:
        self.columns: dict[str, list] = {}
        self.n = 0
        self.tidy = tidy

    def add(self, row: Mapping[str, Any]) -> None:
        for key in row:
            if key not in self.columns:
                self.columns[key] = [None] * self.n
        for key, col in self.columns.items():
            col.append(row.get(key))
        self.n += 1

    def __len__(self) -> int:
        return self.n

    def column(self, name: str) -> list:
        return self.columns[name]

    def names(self) -> list[str]:
        """Identity columns, then configuration columns (sorted), then the row columns."""
        if not self.tidy:
            return list(self.columns)
        config = sorted(k for k in self.columns if k.startswith("config."))
        fixed = [k for k in ID_COLUMNS if k in self.columns]
        rest = [k for k in ROW_COLUMNS if k in self.columns]
        other = [k for k in self.columns if k not in fixed and k not in rest and k not in config]
        return fixed + config + other + rest

    def rows(self) -> Iterable[dict]:
        names = self.names()
        for i in range(self.n):
            yield {k: self.columns[k][i] for k in names}


def _labels(comparisons: Iterable[Any]) -> dict[str, tuple[str, list | None]]:
    """quantity -> (cell_name, cell labels or None) from the first comparison that names the quantity."""
    out: dict[str, tuple[str, list | None]] = {}
    for c in comparisons:
        if c.quantity not in out:
            out[c.quantity] = (c.cell_name, None if c.cells is None else list(c.cells))
    return out


def _scalar(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def add_realization(table: Table, claim_key: str, config: Any, digest: str, seed: int, k: int,
                    values: Mapping[str, np.ndarray], labels: Mapping[str, tuple[str, list | None]],
                    base: Mapping[str, Any] | None = None) -> None:
    """Append the rows of one realization ``k`` (``values``: quantity -> array of its cells)."""
    base = dict(base) if base is not None else {"claim": claim_key, "config_digest": digest,
                                                "config_label": config_label(config), **config_columns(config)}
    for quantity, value in values.items():
        a = np.asarray(value, dtype=np.float64)
        if a.ndim == 0:
            table.add({**base, "seed": seed, "realization": k, "quantity": quantity, "cell_name": "",
                       "cell": None, "index": 0, "component": 0, "value": float(a)})
            continue
        flat = a.reshape(a.shape[0], -1)
        name, cells = labels.get(quantity, ("index", None))
        per_cell = cells is not None and len(cells) == a.size and a.ndim > 1  # labels for flattened cells
        if cells is not None and not per_cell and len(cells) != a.shape[0]:
            name, cells = "index", None
        for i in range(flat.shape[0]):
            for j in range(flat.shape[1]):
                pos = i * flat.shape[1] + j
                cell = (cells[pos] if per_cell else cells[i]) if cells is not None else i
                table.add({**base, "seed": seed, "realization": k, "quantity": quantity, "cell_name": name,
                           "cell": _scalar(cell), "index": i, "component": 0 if per_cell else j,
                           "value": float(flat[i, j])})


def rows_from_results(results: Iterable[Any], table: Table | None = None) -> Table:
    """The tidy table of run results: :class:`validation.engine.ClaimResult` or ``ConfigResult`` objects."""
    table = table if table is not None else Table()
    for res in results:
        for r in getattr(res, "results", (res,)):
            labels = _labels(j.comparison for j in (*r.comparisons, *r.negative_controls))
            base = {"claim": r.claim_key, "config_digest": r.digest, "config_label": r.label,
                    **config_columns(r.config)}
            for k in range(r.realizations):
                add_realization(table, r.claim_key, r.config, r.digest, r.seed, k,
                                {q: s[k] for q, s in r.samples.items()}, labels, base)
    return table


def rows_from_store(store: Any, entries: Iterable[tuple[str, Any]], seed: int, realizations: int,
                    registry: Mapping[str, Any] | None = None, table: Table | None = None
                    ) -> tuple[Table, list[tuple[str, str, int]]]:
    """The tidy table of what ``store`` holds for ``entries`` (``(claim_key, config)`` pairs, e.g. a sweep's
    :meth:`~validation.sweepfile.Sweep.expand`), realizations ``0..realizations-1`` of ``seed``.

    Only reads: nothing is computed. Returns the table and the ``(claim, digest, k)`` not in the store
    (missing, or corrupt — the store deletes a corrupt file when it reads it).
    """
    if isinstance(store, (str, os.PathLike)):
        store = Store(store)
    registry = REGISTRY if registry is None else registry
    table = table if table is not None else Table()
    missing = []
    for entry in entries:
        claim_key, config = (entry.claim, entry.config) if hasattr(entry, "claim") else entry
        n = getattr(entry, "realizations", realizations)
        if claim_key not in registry:
            raise KeyError(f"unknown claim {claim_key!r}; registered: {', '.join(sorted(registry))}")
        claim = registry[claim_key]
        digest, key = config_digest(config), result_digest(config)  # the store reads by its key
        labels = _labels([*claim.comparisons(config), *claim.negative_controls(config)])
        base = {"claim": claim_key, "config_digest": digest, "config_label": config_label(config),
                **config_columns(config)}
        for k in range(n):
            hit = store.load(claim_key, key, seed, k)
            if hit is None:
                missing.append((claim_key, digest, k))
                continue
            add_realization(table, claim_key, config, digest, seed, k, hit[0], labels, base)
    return table, missing


# -- writing --------------------------------------------------------------------------------------------
def _arrow_type(values: list):
    """One pyarrow type per column: bool, int64, float64 or string (mixed kinds become strings)."""
    import pyarrow as pa

    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.null()
    if kinds == {bool}:
        return pa.bool_()
    if kinds <= {int}:
        return pa.int64()
    if kinds <= {int, float}:
        return pa.float64()
    return pa.string()


def to_arrow(table: Table):
    """The table as a :class:`pyarrow.Table` (types per :func:`_arrow_type`)."""
    import pyarrow as pa

    arrays, names = [], table.names()
    for name in names:
        col = table.column(name)
        typ = _arrow_type(col)
        if typ == pa.string():
            col = [None if v is None else str(v) for v in col]
        elif typ == pa.float64():
            col = [None if v is None else float(v) for v in col]
        arrays.append(pa.array(col, type=typ))
    return pa.table(arrays, names=names)


def _csv_text(table: Table) -> str:
    buf = io.StringIO()
    names = table.names()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    cols = [table.column(n) for n in names]
    for i in range(len(table)):
        w.writerow(["" if c[i] is None else repr(c[i]) if isinstance(c[i], float) else c[i] for c in cols])
    return buf.getvalue()


def write_table(table: Table, stem: str | os.PathLike, formats: Sequence[str] = ("csv", "parquet")) -> list[Path]:
    """Write ``stem.csv`` (always, floats with full precision) and ``stem.parquet`` (when pyarrow is
    installed and ``"parquet"`` is asked for), each atomically; returns the paths written."""
    unknown = [f for f in formats if f not in ("csv", "parquet")]
    if unknown:
        raise ValueError(f"unknown table format(s) {unknown}; choose csv and/or parquet")
    stem = Path(stem)
    out = []
    text = _csv_text(table)
    path = stem.with_suffix(".csv")
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    out.append(path)
    if "parquet" in formats:
        try:
            import pyarrow.parquet as pq
        except ImportError:  # the optional "tables" extra
            return out
        arrow = to_arrow(table)
        path = stem.with_suffix(".parquet")
        replace_atomically(path, lambda tmp: pq.write_table(arrow, tmp))
        out.append(path)
    return out


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Read a table written by :func:`write_table` back as a list of string dicts."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# -- smallest width at which the bound holds ----------------------------------------------------------
@dataclass(frozen=True)
class MinWidth:
    """Per depth (cell) of one group of configurations that differ only in width.

    widths      the swept widths, ascending; verdicts: the cell's verdict at each
    min_width   the smallest swept width from which every larger swept width is PASS too (None: never)
    prediction  the claim's prediction at the cell (e.g. ``ρ^{l−1}``)
    """

    claim: str
    group: str
    comparison: str
    cell_name: str
    cell: Any
    widths: tuple[int, ...]
    verdicts: tuple[str, ...]
    min_width: int | None
    prediction: float


def _width(config: Any) -> int:
    w = getattr(config, "width", None)
    if w is None:
        raise ValueError(f"configuration {type(config).__name__} has no width")
    return int(w)


def min_width_rows(result: Any, comparison: str | None = None) -> list[MinWidth]:
    """Per group of configurations differing only in width, per cell: the smallest width at which the
    comparison holds there and at every larger swept width (see the module docstring).

    result      a :class:`validation.engine.ClaimResult`; comparison: a comparison label (default: the
                first comparison of each configuration)
    """
    out = []
    for fixed, rs in group_by(result.results, "width", lambda r: r.config):
        picked = []
        for r in rs:
            js = [j for j in r.comparisons if comparison is None or j.comparison.label == comparison]
            if js:
                picked.append((_width(r.config), js[0], r))
        if not picked:
            continue
        picked.sort(key=lambda t: t[0])
        widths = tuple(w for w, _, _ in picked)
        if len(set(widths)) != len(widths):
            raise ValueError(f"claim {result.claim.key}: configurations {[r.label for _, _, r in picked]} differ "
                             f"in more than the width but describe() does not show it")
        label = _group_label(fixed, picked[0][2].config)
        if any(r.unmet for _, _, r in picked):
            label += " [HYPOTHESIS NOT MET]"
        first = picked[0][1]
        cells = first.cells
        for _, j, r in picked:
            if j.cells != cells:
                raise ValueError(f"claim {result.claim.key}: {r.label} has cells {j.cells}, not {cells}")
        for c, cell in enumerate(cells):
            verdicts = tuple(j.cell_verdicts[c] for _, j, _ in picked)
            mw = None
            for i in range(len(widths) - 1, -1, -1):
                if verdicts[i] != PASS:
                    break
                mw = widths[i]
            out.append(MinWidth(claim=result.claim.key, group=label, comparison=first.comparison.label,
                                cell_name=first.comparison.cell_name, cell=_scalar(cell), widths=widths,
                                verdicts=verdicts, min_width=mw, prediction=float(first.prediction[c])))
    return out


def _group_label(fixed: str, config: Any) -> str:
    """What tells a group apart from the others (:func:`validation.configs.group_by`), and ρ when the
    configuration has one (T1, P6)."""
    parts = [fixed] if fixed else []
    rho = getattr(config, "rho", None)
    if isinstance(rho, float) and math.isfinite(rho):
        parts.append(f"ρ={rho:.4g}")
    return ", ".join(parts) or "all configurations"


def write_min_width_csv(rows: Sequence[MinWidth], path: str | os.PathLike) -> Path:
    """One row per (group, cell): the smallest width, and the verdict at every swept width."""
    t = Table(tidy=False)
    for m in rows:
        t.add({"claim": m.claim, "group": m.group, "comparison": m.comparison, "cell_name": m.cell_name,
               "cell": m.cell, "prediction": m.prediction, "min_width": m.min_width,
               "widths": " ".join(map(str, m.widths)),
               "verdicts": " ".join(f"{w}:{v}" for w, v in zip(m.widths, m.verdicts))})
    path = Path(path)
    text = _csv_text(t)
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def plot_min_width(rows: Sequence[MinWidth], out_dir: str | os.PathLike, name: str | None = None) -> Path:
    """PNG: the smallest width at which the bound holds against depth, one line per group; depths where no
    swept width suffices are marked above the largest width."""
    if not rows:
        raise ValueError("no rows to plot")
    fig, ax = subplots(figsize=(7.5, 4.5))
    groups = list(dict.fromkeys(m.group for m in rows))
    top = max(max(m.widths) for m in rows)
    for g, group in enumerate(groups):
        ms = [m for m in rows if m.group == group]
        x = np.array([float(m.cell) for m in ms])
        y = np.array([np.nan if m.min_width is None else float(m.min_width) for m in ms])
        color = f"C{g % 10}"
        ax.plot(x, y, "o-", ms=4, color=color, label=group if len(group) < 70 else group[:67] + "...")
        never = np.isnan(y)
        if never.any():
            ax.plot(x[never], np.full(never.sum(), top * 1.6), "x", color=color, ms=6)
    if any(m.min_width is None for m in rows):
        ax.axhline(top * 1.6, color="0.6", lw=0.8, ls=":")
        ax.text(ax.get_xlim()[0], top * 1.6, f" x: none of the swept widths (≤ {top}) suffices", va="bottom",
                fontsize=7, color="0.4")
    ax.set_yscale("log", base=2)
    widths = sorted({w for m in rows for w in m.widths})
    ax.set_yticks(widths, [str(w) for w in widths])
    ax.set_xlabel(rows[0].cell_name or "cell")
    ax.set_ylabel("smallest width where the bound holds")
    key = rows[0].claim
    ax.set_title(f"{key}: smallest swept width from which '{rows[0].comparison}' holds\n"
                 "(per-cell verdict PASS at that width and every larger one)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return save(fig, out_dir, name or f"{key}_min_width")


def write_sweep_tables(results: Sequence[Any], out: str | os.PathLike) -> list[Path]:
    """The tidy table of ``results`` and, for each claim swept over width, its smallest-width CSV and PNG."""
    out = Path(out)
    paths = write_table(rows_from_results(results), out / TABLE_NAME)
    for res in results:
        if res.claim.sweep not in ("width", "widths"):
            continue
        rows = min_width_rows(res)
        if rows and any(len(m.widths) > 1 for m in rows):
            paths.append(write_min_width_csv(rows, out / f"{res.claim.key}_min_width.csv"))
            paths.append(plot_min_width(rows, out))
    return paths
