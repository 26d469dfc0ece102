"""Tidy tables (from results and from the store, CSV and Parquet) and the smallest width at which a
swept claim's bound holds per depth (table and PNG)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import theorems
from randnet import DatasetSpec, NetConfig
from theorems.base import Claim, Comparison, Hypothesis
from validation import store, tables
from validation.engine import run_claim
from validation.configs import config_columns, config_digest, result_digest
from validation.store import Store

from .toy_claims import TOY, ToyConfig

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SEED = 5
R = 3
TOY_CELLS = 4 + 4 + 4 + 16  # q, one, tail (4,) and power_y (4, 4) per realization


@pytest.fixture
def toy_result(tmp_path):
    return run_claim(TOY, realizations=R, seed=SEED, backend="serial", store=tmp_path / "store", progress=False)


def _rows(table):
    return list(table.rows())


def test_rows_from_results_one_row_per_value(toy_result):
    t = tables.rows_from_results([toy_result])
    assert len(t) == 2 * R * TOY_CELLS
    names = t.names()
    assert names[:3] == ["claim", "config_digest", "config_label"]
    assert names[-8:] == list(tables.ROW_COLUMNS)
    assert {"config.width", "config.mean", "config.symmetric"} <= set(names)
    for row in t.rows():
        r = next(r for r in toy_result.results if r.digest == row["config_digest"])
        sample = r.samples[row["quantity"]][row["realization"]]
        expected = sample[row["index"]] if sample.ndim == 1 else sample.reshape(len(sample), -1)[row["index"],
                                                                                               row["component"]]
        assert row["value"] == expected
        assert row["config.width"] == r.config.width and row["seed"] == SEED and row["claim"] == "TOY"
    q = [row for row in t.rows() if row["quantity"] == "q"]
    assert {row["cell_name"] for row in q} == {"layer"} and sorted({row["cell"] for row in q}) == [1, 2, 3, 4]
    power = [row for row in t.rows() if row["quantity"] == "power_y"]
    assert {row["cell_name"] for row in power} == {"index"}  # no comparison labels it
    assert sorted({(row["index"], row["component"]) for row in power}) == [(i, j) for i in range(4) for j in range(4)]


def test_rows_from_store_equal_rows_from_results_and_report_missing(tmp_path, toy_result):
    store = Store(tmp_path / "store")
    entries = [("TOY", r.config) for r in toy_result.results]
    from_store, missing = tables.rows_from_store(store, entries, SEED, R)
    assert missing == []
    assert _rows(from_store) == _rows(tables.rows_from_results([toy_result]))
    # a deleted entry and a corrupt one are reported missing, never read
    digest = config_digest(toy_result.results[0].config)
    key = result_digest(toy_result.results[0].config)  # the store's key
    store.path("TOY", key, SEED, 1).unlink()
    store.path("TOY", key, SEED, 2).write_bytes(b"garbage")
    partial, missing = tables.rows_from_store(store, entries, SEED, R)
    assert missing == [("TOY", digest, 1), ("TOY", digest, 2)]
    assert len(partial) == (2 * R - 2) * TOY_CELLS
    assert not store.path("TOY", key, SEED, 2).exists()
    with pytest.raises(KeyError, match="unknown claim 'NOPE'"):
        tables.rows_from_store(store, [("NOPE", ToyConfig())], SEED, R)


def test_csv_and_parquet_round_trip(tmp_path, toy_result):
    t = tables.rows_from_results([toy_result])
    paths = tables.write_table(t, tmp_path / "out" / "table")
    assert [p.name for p in paths] == ["table.csv", "table.parquet"]
    rows = _rows(t)
    back = tables.read_csv(paths[0])
    assert len(back) == len(rows) and list(back[0]) == t.names()
    for a, b in zip(rows, back):
        assert float(b["value"]) == a["value"]  # full precision
        assert b["quantity"] == a["quantity"] and int(b["realization"]) == a["realization"]
    arrow = pq.read_table(paths[1])
    assert arrow.num_rows == len(rows) and arrow.column_names == t.names()
    assert arrow.schema.field("value").type == pa.float64()
    assert arrow.schema.field("realization").type == pa.int64()
    assert arrow.schema.field("config.symmetric").type == pa.bool_()
    assert arrow.column("value").to_pylist() == [r["value"] for r in rows]
    assert arrow.column("cell").to_pylist() == [r["cell"] for r in rows]
    assert not list((tmp_path / "out").glob("*.tmp")), "temporary files left behind"
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~store._umask() for p in paths)  # not mkstemp's 0600
    csv_only = tables.write_table(t, tmp_path / "csv_only", formats=("csv",))
    assert [p.suffix for p in csv_only] == [".csv"]
    with pytest.raises(ValueError, match="unknown table format"):
        tables.write_table(t, tmp_path / "x", formats=("xlsx",))


def test_config_columns_of_a_netconfig():
    c = NetConfig(widths=(4, 8), depth=2, norm="gn", groups=2,
                  dataset=DatasetSpec("grf", n=3, height=5, width=6, channels=2))
    cols = config_columns(c)
    assert cols["config.widths"] == "[4, 8]" and cols["config.depth"] == 2 and cols["config.norm"] == "gn"
    assert cols["config.dataset.name"] == "grf" and cols["config.dataset.height"] == 5
    assert cols["config.beta"] == "normal(0, 0.2)" and cols["config.dataset.path"] is None
    assert json.loads(cols["config.widths"]) == [4, 8]


def test_mixed_kinds_become_strings_in_parquet():
    t = tables.Table()
    t.add({"a": 1, "b": 1.5})
    t.add({"a": "x"})
    arrow = tables.to_arrow(t)
    assert arrow.schema.field("a").type == pa.string() and arrow.column("a").to_pylist() == ["1", "x"]
    assert arrow.column("b").to_pylist() == [1.5, None]


# -- smallest width ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class WidthConfig:
    """``excess_l = scale · l / width`` for ``l = 1..depth``, except a bump at (l = 1, width = 32)."""

    width: int
    scale: float = 1.0
    depth: int = 7

    def describe(self) -> dict:
        return dataclasses.asdict(self)


def _excess(config, ss):
    v = config.scale * np.arange(1, config.depth + 1) / config.width
    if config.width == 32:
        v[0] = 1.0  # the bound fails at 32 although it held at 16: the smallest width must not be 16
    return {"excess": v}


def _bound(config):
    return [Comparison("excess", "<=", 0.1, 0.0, "exact", "excess ≤ 0.1", cells=list(range(1, config.depth + 1)))]


MINW = Claim(key="MINW", title="width toy", statement="excess ≤ 0.1", configs=lambda mode: [],
             hypotheses=lambda c: [Hypothesis("scale is one", c.scale == 1.0, "toy")], measure=_excess,
             comparisons=_bound, negative_controls=lambda c: [], realizations={"quick": 1, "full": 1})


@pytest.fixture
def minw_result(monkeypatch):
    monkeypatch.setitem(theorems.REGISTRY, MINW.key, MINW)
    configs = [WidthConfig(w, s) for s in (1.0, 2.0) for w in (64, 8, 32, 16)]
    return run_claim(MINW, configs=configs, realizations=2, backend="serial", progress=False)


def _expected(scale):
    """By hand: the smallest w in {8, 16, 32, 64} with excess ≤ 0.1 there and at every larger w."""
    out = []
    for l in range(1, 8):
        ok = [(scale * l / w if not (w == 32 and l == 1) else 1.0) <= 0.1 for w in (8, 16, 32, 64)]
        mw = None
        for i in range(3, -1, -1):
            if not ok[i]:
                break
            mw = (8, 16, 32, 64)[i]
        out.append(mw)
    return out


def test_min_width_per_depth(minw_result):
    rows = tables.min_width_rows(minw_result)
    assert len(rows) == 2 * 7
    groups = list(dict.fromkeys(m.group for m in rows))
    assert len(groups) == 2 and "scale=1.0" in groups[0] and "HYPOTHESIS NOT MET" in groups[1]
    for g, scale in zip(groups, (1.0, 2.0)):
        got = [m.min_width for m in rows if m.group == g]
        assert got == _expected(scale)
    assert _expected(1.0) == [64, 32, 32, 64, 64, 64, None]  # the hand count in the docstring of WidthConfig
    first = rows[0]
    assert first.widths == (8, 16, 32, 64) and first.verdicts == ("FAIL", "PASS", "FAIL", "PASS")
    assert first.cell_name == "layer" and first.cell == 1 and first.prediction == 0.1


def test_min_width_csv_and_png(tmp_path, minw_result):
    rows = tables.min_width_rows(minw_result)
    csv_path = tables.write_min_width_csv(rows, tmp_path / "minw.csv")
    back = tables.read_csv(csv_path)
    assert len(back) == len(rows)
    assert [r["min_width"] for r in back[:7]] == ["64", "32", "32", "64", "64", "64", ""]
    assert back[0]["verdicts"] == "8:FAIL 16:PASS 32:FAIL 64:PASS"
    png = tables.plot_min_width(rows, tmp_path)
    assert png.name == "MINW_min_width.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    with pytest.raises(ValueError, match="no rows"):
        tables.plot_min_width([], tmp_path)


def test_min_width_by_comparison_label(minw_result):
    assert tables.min_width_rows(minw_result, comparison="no such comparison") == []
    assert len(tables.min_width_rows(minw_result, comparison="excess ≤ 0.1")) == 14


def test_write_sweep_tables_skips_claims_without_width_sweep(tmp_path, toy_result):
    paths = tables.write_sweep_tables([toy_result], tmp_path)
    assert sorted(p.name for p in paths) == ["sweep_table.csv", "sweep_table.parquet"]
    assert len(tables.read_csv(paths[0])) == 2 * R * TOY_CELLS
