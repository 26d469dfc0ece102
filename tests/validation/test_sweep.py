"""Sweeps: TOML parsing and its errors, grid expansion, the cost model and dry run, and running at scale —
bit-for-bit equal on serial and Dask, resumable (an interrupted or partly corrupted sweep recomputes only
what is missing, a repeated sweep computes nothing), and complete when a worker is killed mid-sweep.

Dask tests use a real LocalCluster of 2 single-threaded worker processes on 127.0.0.1. The toy claims
(``toy_claims``) are registered in the workers too (importing the module that defines ``ToyConfig``
registers them); ``NET_TOY`` below is registered in this process only, so it runs on the serial backend.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import io
import os
import signal
import textwrap
from pathlib import Path

import numpy as np
import pytest

import theorems
from randnet import DatasetSpec, NetConfig, layer_stream
from theorems.base import Claim, Comparison, Hypothesis
from validation import cost, engine, sweep as sw, sweepfile
from validation.cli import apply_options
from validation.store import Store

from .toy_claims import ToyConfig

distributed = pytest.importorskip("distributed")

WAIT_S = 180

# -- a randnet claim for NetConfig overrides (this process only) ------------------------------------------
TINY = NetConfig(widths=4, depth=2, norm="ln", dtype="float64", dataset=DatasetSpec(n=4, height=4, width=4, channels=2))


def _net_measure(config, ss):
    return {"noncollapsed": np.array([s.noncollapsed_y for s in layer_stream(config, ss)])}


def _net_comparisons(config):
    cells = list(range(1, config.depth + 1))
    return [Comparison("noncollapsed", "<=", 1.0, 1e-12, "exact", "1 − P(μ_c(y)) ≤ 1", cells=cells)]


def _net_negative(config):
    cells = list(range(1, config.depth + 1))
    return [Comparison("noncollapsed", "<=", -1.0, 0.0, "exact", "1 − P(μ_c(y)) ≤ −1", cells=cells)]


NET_TOY = Claim(
    key="NET_TOY", title="A tiny randnet measurement", statement="0 ≤ 1 − P(μ_c(y^l)) ≤ 1",
    configs=lambda mode: [TINY, TINY.replace(norm="bn")], hypotheses=lambda c: [Hypothesis("none", True)],
    measure=_net_measure, comparisons=_net_comparisons, negative_controls=_net_negative,
    realizations={"quick": 2, "full": 4})


@pytest.fixture
def net_toy(monkeypatch):
    monkeypatch.setitem(theorems.REGISTRY, NET_TOY.key, NET_TOY)
    return NET_TOY


def write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


TOY_SWEEP_FILE = """
    name = "toy"
    claims = ["TOY", "TOY_SWEEP"]
    seed = 3
    realizations = 4
    base = "first"
    [grid]
    width = [8, 32]
    [grid.TOY]
    mean = [0.0, 1.0]
"""


# -- parsing and its errors ---------------------------------------------------------------------------------
def test_parse_and_expand_toy_sweep(tmp_path):
    s = sweepfile.load_sweep(write(tmp_path, TOY_SWEEP_FILE))
    assert (s.name, s.claims, s.seed, s.realizations, s.mode, s.base) == ("toy", ("TOY", "TOY_SWEEP"), 3, 4,
                                                                          "quick", "first")
    assert s.grid_for("TOY") == {"width": (8, 32), "mean": (0.0, 1.0)}
    assert s.grid_for("TOY_SWEEP") == {"width": (8, 32)}
    entries = s.expand()
    assert [(e.claim, e.config.width, e.config.mean) for e in entries] == [
        ("TOY", 8, 0.0), ("TOY", 8, 1.0), ("TOY", 32, 0.0), ("TOY", 32, 1.0),
        ("TOY_SWEEP", 8, 0.0), ("TOY_SWEEP", 32, 0.0)]
    assert all(e.realizations == 4 and isinstance(e.config, ToyConfig) for e in entries)
    assert len({(e.claim, e.digest) for e in entries}) == 6  # the same configuration may serve two claims


def test_base_all_removes_duplicates_and_default_realizations(tmp_path):
    # TOY_SWEEP has three default widths; overriding the width makes them collapse into one per grid value
    s = sweepfile.load_sweep(write(tmp_path, 'claims = "TOY_SWEEP"\n[grid]\nwidths = [8, 16]\n'))
    entries = s.expand()
    assert [e.config.width for e in entries] == [8, 16]
    assert all(e.realizations == theorems.REGISTRY["TOY_SWEEP"].realizations["quick"] for e in entries)
    # no grid: the claim's default configurations as they are
    s = sweepfile.load_sweep(write(tmp_path, 'claims = ["TOY_SWEEP"]\nbase = [0, -1]\nmode = "full"\n'))
    assert [e.config.width for e in s.expand()] == [16, 256]
    assert s.expand()[0].realizations == 16


def test_netconfig_overrides(tmp_path, net_toy):
    np.save(tmp_path / "data.npy", np.random.default_rng(0).standard_normal((3, 5, 5, 2)) + 1.0)
    s = sweepfile.load_sweep(write(tmp_path, """
        claims = ["NET_TOY"]
        base = "first"
        [grid]
        widths = [4, [4, 6, 8]]
        depths = 3
        norms = ["ln", "gn+pn"]
        groups = 2
        activations = "tanh"
        beta = "normal(0, 0.5)"
        datasets = ["centered", { n = 5, height = 6 }, "data.npy"]
    """))
    entries = s.expand()
    assert len(entries) == 2 * 2 * 3
    c = entries[0].config
    assert (c.widths, c.depth, c.norm, c.groups, c.activation, str(c.beta)) == (
        (4, 4, 4), 3, "ln", 2, "tanh", "normal(0, 0.5)")
    assert c.dataset == DatasetSpec("centered", n=4, height=4, width=4, channels=2)
    assert entries[1].config.dataset == DatasetSpec("gaussian", n=5, height=6, width=4, channels=2)
    assert entries[2].config.dataset.path == str((tmp_path / "data.npy").resolve())
    assert entries[3].config.norm == "gn+pn"
    assert entries[6].config.widths == (4, 6, 8)


def test_natural_and_cifar_dataset_values(tmp_path, net_toy):
    s = sweepfile.load_sweep(write(tmp_path, """
        claims = ["NET_TOY"]
        base = "first"
        [grid]
        datasets = ["natural", "cifar10-bin:cifar/data_batch_1.bin",
                    { name = "cifar10-bin", path = "b.bin", n = 2, channels = 3 }]
    """))
    a, b, c = (e.config.dataset for e in s.expand())
    assert (a.name, a.path, a.channels) == ("natural", None, 3)
    assert (b.name, b.path, b.channels) == ("cifar10-bin", str((tmp_path / "cifar/data_batch_1.bin").resolve()), 3)
    assert (c.name, c.path, c.n) == ("cifar10-bin", str((tmp_path / "b.bin").resolve()), 2)
    assert cost.dataset_shape(b) == (b.n, b.height, b.width, 3)  # without reading the (absent) file
    base = s.expand()[0].config.replace(dataset=DatasetSpec("grf", n=4, height=8, width=8, channels=5))
    where = tmp_path.resolve()
    np.save(tmp_path / "x.npy", np.ones((3, 5, 5, 2)))  # an array file: its shape is the file's
    for text, absolute in (("natural", "natural"), ("cifar10-bin:cifar", f"cifar10-bin:{where / 'cifar'}"),
                           ("x.npy", str(where / "x.npy"))):  # the command line's --dataset reads a text the same way
        swept = sweepfile.apply_overrides(base, {"datasets": text}, base_dir=tmp_path).dataset
        assert swept == apply_options(base, {"dataset": absolute})[0][0].dataset == base.dataset.with_source(
            text, tmp_path)
        shape = (swept.n, swept.height, swept.width, swept.channels)
        assert shape == ((3, 5, 5, 2) if text == "x.npy" else (4, 8, 8, 3))  # N and the crop kept, RGB: C = 3


@pytest.mark.parametrize("text, message", [
    ("claims = [\"TOY\"\n", "not valid TOML"),
    ("[grid]\nwidths = 3\n", "missing 'claims'"),
    ("claims = [\"T99\"]\n", "unknown claim 'T99' in 'claims'; registered: "),
    ("claims = []\n", "'claims' must be a non-empty list"),
    ("claims = [\"TOY\", \"TOY\"]\n", "lists a claim twice"),
    ("claims = [\"TOY\"]\nwidths = [8]\n", "unknown top-level key(s) ['widths']"),
    ("claims = [\"TOY\"]\nseed = -1\n", "'seed' must be a non-negative integer, got -1"),
    ("claims = [\"TOY\"]\nrealizations = 0\n", "'realizations' must be a positive integer at most 1,000,000, got 0"),
    ("claims = [\"TOY\"]\nmode = \"huge\"\n", "'mode' must be one of quick, full, got 'huge'"),
    ("claims = [\"TOY\"]\nbase = \"some\"\n", "'base' must be \"all\", \"first\" or a list of indices"),
    ("claims = [\"TOY\"]\nname = \"a b\"\n", "'name' must be a word"),
    ("claims = [\"TOY\"]\ngrid = 3\n", "'grid' must be a table"),
    ("claims = [\"TOY\"]\n[grid]\nwidths = []\n", "key 'widths' has an empty list of values"),
    ("claims = [\"TOY\"]\n[grid]\nwidths = [8, -3]\n", "key 'widths': value -3 is not a positive integer width"),
    ("claims = [\"TOY\"]\n[grid]\nwidths = [8, 8]\n", "key 'widths' lists the value 8 twice"),
    ("claims = [\"TOY\"]\n[grid]\nwidth = 8\nwidths = 16\n", "keys 'width' and 'widths' set the same field"),
    ("claims = [\"TOY\"]\n[grid]\ndepths = [2.5]\n", "key 'depths': value 2.5 is not a positive integer"),
    ("claims = [\"TOY\"]\n[grid]\nnorms = [\"ln\", \"xn\"]\n", "key 'norms': value 'xn': unknown normalization 'xn'"),
    ("claims = [\"TOY\"]\n[grid]\nactivations = [\"relu\", \"swish9\"]\n",
     "key 'activations': value 'swish9': unknown activation 'swish9'"),
    ("claims = [\"TOY\"]\n[grid]\nbeta = \"normal(0)\"\n",
     "key 'beta': value 'normal(0)': distribution normal takes 2"),
    ("claims = [\"TOY\"]\n[grid]\ndtypes = \"float16\"\n", "key 'dtypes': value 'float16' is not one of float32"),
    ("claims = [\"TOY\"]\n[grid]\neps = -0.1\n", "key 'eps': value -0.1 is not a finite number >= 0"),
    ("claims = [\"TOY\"]\n[grid]\ndatasets = \"cifar\"\n", "key 'datasets': value 'cifar' is neither a built-in"),
    ("claims = [\"TOY\"]\n[grid]\ndatasets = \"cifar10-bin:\"\n", "name the cifar-10-batches-bin folder"),
    ("claims = [\"TOY\"]\n[grid]\ndatasets = [{ name = \"gaussian\", size = 8 }]\n",
     "unknown dataset field(s) ['size']"),
    ("claims = [\"TOY\"]\n[grid]\ndatasets = [{ path = \"d.npy\", n = 2 }]\n",
     "n apply to built-in datasets and cifar10-bin only; a .npy/.npz file's shape is its own"),
    ("claims = [\"TOY\"]\n[grid.T1]\nwidths = 8\n", "key 'T1' holds a table, not values"),
    ("claims = [\"TOY\"]\n[run]\nbackend = \"mpi\"\n", "[run] backend must be one of serial, joblib, dask"),
    ("claims = [\"TOY\"]\n[run]\njobs = 0\n", "[run] jobs must be a positive integer"),
    ("claims = [\"TOY\"]\n[run]\nworkers = 2\n", "unknown key(s) ['workers'] in [run]"),
])
def test_toml_errors_name_the_key_and_the_problem(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(sweepfile.SweepError) as e:
        sweepfile.load_sweep(path)
    assert message in str(e.value)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("claims = [\"TOY\"]\n[grid]\nnorms = \"ln\"\n",
     "claim TOY: grid key 'norms' does not apply to its configurations (ToyConfig has fields"),
    ("claims = [\"NET_TOY\"]\n[grid]\nnorms = \"gn\"\ngroups = 3\n",
     "claim NET_TOY: grid point (norms='gn', groups=3) gives an invalid configuration: groups=3 does not divide"),
    ("claims = [\"NET_TOY\"]\n[grid]\nwidths = [[4, 4, 4]]\n",
     "grid point (widths=[4, 4, 4]) gives an invalid configuration: got 3 widths for depth 2"),
    ("claims = [\"NET_TOY\"]\nbase = [5]\n", "base indices [5] out of range: claim NET_TOY has 2"),
])
def test_expansion_errors_name_the_claim_and_grid_point(tmp_path, net_toy, text, message):
    s = sweepfile.load_sweep(write(tmp_path, text))
    with pytest.raises(sweepfile.SweepError) as e:
        s.expand()
    assert message in str(e.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(sweepfile.SweepError, match="sweep file not found"):
        sweepfile.load_sweep(tmp_path / "nope.toml")


# -- cost model and dry run -----------------------------------------------------------------------------
def test_layer_work_counts_the_conv_flops_by_hand(tmp_path):
    c = NetConfig(widths=(8, 16), depth=2, kernel_size=3,
                  dataset=DatasetSpec(n=4, height=6, width=6, channels=3))
    assert cost.layer_work(c) == [(4 * 36 * 9 * 3 * 8, 4 * 36 * 8), (4 * 36 * 9 * 8 * 16, 4 * 36 * 16)]
    strided = c.replace(first_stride=2, kernel_size=5)
    assert cost.layer_work(strided) == [(4 * 36 * 25 * 3 * 8, 4 * 36 * 8), (4 * 9 * 25 * 8 * 16, 4 * 9 * 16)]
    np.save(tmp_path / "d.npy", np.ones((2, 3, 5, 4)))
    from_file = c.replace(dataset=DatasetSpec(path=str(tmp_path / "d.npy")))
    assert cost.layer_work(from_file)[0] == (2 * 15 * 9 * 4 * 8, 2 * 15 * 8)


def test_plan_counts_tasks_and_store_hits_and_estimates_cost(tmp_path, net_toy):
    s = sweepfile.load_sweep(write(tmp_path, """
        claims = ["NET_TOY", "TOY"]
        realizations = 3
        base = "first"
        [grid.NET_TOY]
        widths = [4, 8]
    """))
    store = Store(tmp_path / "store")
    p0 = sw.plan(s, store)
    assert p0.tasks == 3 * 3 and p0.to_compute == 9 and p0.stored == (0, 0, 0)
    assert p0.macs[0] == sum(m for m, _ in cost.layer_work(p0.entries[0].config)) and p0.macs[2] is None
    assert p0.seconds[0] > 0 and p0.seconds[1] > p0.seconds[0] and p0.seconds[2] is None
    assert len(p0.models) == 1 and p0.models[0].seconds_per_mac > 0
    total, unknown = p0.estimated_seconds()
    assert unknown == 3 and total == pytest.approx(3 * (p0.seconds[0] + p0.seconds[1]))
    # two realizations of the first entry already stored
    e = p0.entries[0]
    engine.run_claim("NET_TOY", configs=[e.config], realizations=2, seed=s.seed, backend="serial", store=store,
                     progress=False)
    p1 = sw.plan(s, store, calibrate_costs=False)
    assert p1.stored == (2, 0, 0) and p1.to_compute == 7 and p1.seconds == (None, None, None)
    out = io.StringIO()
    sw.print_plan(p0, jobs=2, file=out)
    text = out.getvalue()
    assert "3 configuration(s), 9 task(s)" in text and "to compute: 9" in text
    assert "ns per conv multiply-add" in text and "on 2 single-core workers" in text
    assert "3 realization(s) have no cost model" in text


# -- running: reproducible, resumable ---------------------------------------------------------------------
def _samples(result):
    return {(cr.claim.key, r.digest): r.samples for cr in result.results for r in cr.results}


def _assert_same(a, b):
    sa, sb = _samples(a), _samples(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].keys() == sb[key].keys()
        for q in sa[key]:
            assert sa[key][q].tobytes() == sb[key][q].tobytes(), (key, q)


def _store_files(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*.npz")}


def test_sweep_on_dask_equals_serial_and_a_second_run_computes_nothing(tmp_path, cluster):
    s = sweepfile.load_sweep(write(tmp_path, TOY_SWEEP_FILE))
    serial = sw.run_sweep(s, backend="serial", store=tmp_path / "serial", progress=False)
    assert serial.computed == 6 * 4 and not serial.errors
    store = tmp_path / "dask"
    first = sw.run_sweep(s, backend="dask", scheduler=cluster.scheduler_address, store=store, progress=False)
    assert first.computed == 24 and not first.errors
    _assert_same(first, serial)
    files = _store_files(store)
    assert len(files) == 24
    again = sw.run_sweep(s, backend="dask", scheduler=cluster.scheduler_address, store=store, progress=False)
    assert again.computed == 0
    assert _store_files(store) == files, "a repeated sweep rewrote store entries"
    _assert_same(again, serial)


_REAL_REALIZE = engine._realize


def realize_killing_once(marker, claim_key, config, seed, k):
    """Stands in for the engine's worker task (bound to ``marker`` with functools.partial): the first task
    with ``k = 1`` to run kills its worker process (``marker`` records the pid), then it runs normally."""
    marker = Path(marker)
    if k == 1 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_REALIZE(claim_key, config, seed, k)


def test_worker_killed_mid_sweep_loses_nothing(tmp_path, cluster, monkeypatch):
    s = sweepfile.load_sweep(write(tmp_path, TOY_SWEEP_FILE))
    reference = sw.run_sweep(s, backend="serial", progress=False)
    marker = tmp_path / "killed.pid"
    monkeypatch.setattr(engine, "_realize", functools.partial(realize_killing_once, str(marker)))
    store = tmp_path / "store"
    result = sw.run_sweep(s, backend="dask", scheduler=cluster.scheduler_address, store=store, progress=False)
    assert marker.exists(), "no worker was killed"
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not result.errors and result.computed == 24
    _assert_same(result, reference)
    assert len(_store_files(store)) == 24
    with distributed.Client(cluster, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=WAIT_S)


def realize_failing_at_k3(claim_key, config, seed, k):
    if k == 3:
        raise RuntimeError("interrupted")
    return _REAL_REALIZE(claim_key, config, seed, k)


def test_interrupted_sweep_resumes_and_corrupt_entries_are_recomputed(tmp_path, monkeypatch):
    s = sweepfile.load_sweep(write(tmp_path, TOY_SWEEP_FILE))
    reference = sw.run_sweep(s, backend="serial", progress=False)
    store = tmp_path / "store"
    # 1. the run stops at the first realization k = 3 of each claim (serial: configuration by configuration)
    monkeypatch.setattr(engine, "_realize", realize_failing_at_k3)
    broken = sw.run_sweep(s, backend="serial", store=store, progress=False)
    assert set(broken.errors) == {"TOY", "TOY_SWEEP"} and "interrupted" in broken.errors["TOY"]
    assert len(_store_files(store)) == 2 * 3, "the realizations computed before the interruption were lost"
    monkeypatch.setattr(engine, "_realize", _REAL_REALIZE)
    # 2. resume: only the missing ones are computed
    resumed = sw.run_sweep(s, backend="serial", store=store, progress=False)
    assert not resumed.errors and resumed.computed == 24 - 6
    _assert_same(resumed, reference)
    # 3. a truncated file, a garbage file and a stray temporary file: the two entries are recomputed
    files = sorted(_store_files(store))
    files[0].write_bytes(files[0].read_bytes()[:40])
    files[5].write_bytes(b"not a zip file")
    (files[7].parent / (files[7].name + ".tmp")).write_bytes(b"partial")
    repaired = sw.run_sweep(s, backend="serial", store=store, progress=False)
    assert repaired.computed == 2
    _assert_same(repaired, reference)


def test_joblib_sweep_equals_serial(tmp_path):
    s = sweepfile.load_sweep(write(tmp_path, TOY_SWEEP_FILE))
    _assert_same(sw.run_sweep(s, backend="joblib", jobs=2, progress=False),
                 sw.run_sweep(s, backend="serial", progress=False))


# -- command line -----------------------------------------------------------------------------------------
def _parser():
    parser = argparse.ArgumentParser(prog="randnet-check")
    sw.add_sweep_command(parser.add_subparsers(dest="command"))
    return parser


def test_cli_dry_run_and_run(tmp_path, net_toy, capsys):
    path = write(tmp_path, """
        name = "cli"
        claims = ["NET_TOY", "TOY_SWEEP"]
        realizations = 2
        base = "first"
        [grid.NET_TOY]
        activations = ["relu", "tanh"]
        [grid.TOY_SWEEP]
        widths = [8, 32]
        [run]
        backend = "joblib"
        jobs = 2
    """)
    out = tmp_path / "out"
    args = _parser().parse_args(["sweep", str(path), "--dry-run", "--no-calibrate", "--out", str(out)])
    assert args.func is sw.sweep_command
    buf = io.StringIO()
    assert args.func(args, file=buf) == 0
    assert "4 configuration(s), 8 task(s)" in buf.getvalue() and "to compute: 8" in buf.getvalue()
    assert "no estimate of the seconds (calibration skipped)" in buf.getvalue()  # --no-calibrate: nothing timed
    assert not out.exists(), "a dry run wrote outputs"
    args = _parser().parse_args(["sweep", str(path), "--backend", "serial", "--out", str(out), "--no-progress"])
    buf = io.StringIO()
    assert args.func(args, file=buf) == 0
    text = buf.getvalue()
    assert "on serial" in text and "8 realization(s) computed" in text
    for name in ("REPORT.md", "results.json", "sweep_table.csv", "sweep_table.parquet", "TOY_SWEEP_min_width.csv",
                 "TOY_SWEEP_min_width.png"):
        assert (out / name).is_file(), name
    assert len(_store_files(out / ".store")) == 8
    buf = io.StringIO()
    assert args.func(args, file=buf) == 0
    assert "0 realization(s) computed" in buf.getvalue()


def test_cli_errors(tmp_path, capsys):
    bad = write(tmp_path, "claims = [\"TOY\"]\n[grid]\nwidths = [0]\n")
    args = _parser().parse_args(["sweep", str(bad), "--dry-run"])
    assert args.func(args) == 2
    assert "key 'widths': value 0 is not a positive integer" in capsys.readouterr().err
    good = write(tmp_path, "claims = [\"TOY\"]\n", "good.toml")
    args = _parser().parse_args(["sweep", str(good), "--backend", "joblib", "--scheduler", "tcp://127.0.0.1:1"])
    assert args.func(args) == 2
    assert "needs --backend dask" in capsys.readouterr().err
    args = _parser().parse_args(["sweep", str(good), "--realizations", "0", "--dry-run"])
    assert args.func(args) == 2
    assert "--realizations must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parser().parse_args(["sweep", str(good), "--backend", "mpi"])


def test_example_file_expands(net_toy):
    example = Path(__file__).resolve().parents[2] / "examples" / "sweep_t1.toml"
    if "T1" not in theorems.REGISTRY:
        pytest.skip("claim T1 is not registered yet")
    s = sweepfile.load_sweep(example)
    entries = s.expand()
    assert s.claims == ("T1",) and len(entries) == len({e.digest for e in entries}) >= 4
    widths = sorted({e.config.width for e in entries})
    assert widths == sorted(s.grid["widths"])
    assert all(e.config.norm == "ln" for e in entries)


@dataclasses.dataclass(frozen=True)
class Panel:
    """A configuration that wraps one random net, like the panels of FIG2 / T3-net."""

    net: NetConfig
    norms: tuple = ("ln", "bn")

    def describe(self) -> dict:
        return {"net": self.net.describe(), "norms": list(self.norms)}


def test_keys_go_to_a_wrapped_net(tmp_path, monkeypatch):
    panel = Claim(key="PANEL", title="panel", statement="", configs=lambda mode: [Panel(TINY)],
                  hypotheses=lambda c: [], measure=_net_measure, comparisons=_net_comparisons,
                  negative_controls=_net_negative)
    monkeypatch.setitem(theorems.REGISTRY, "PANEL", panel)
    s = sweepfile.load_sweep(write(tmp_path, """
        claims = ["PANEL"]
        [grid]
        widths = [4, 8]
        activations = "tanh"
        norms = "gn"
    """))
    got = [e.config for e in s.expand()]
    assert [c.net.widths for c in got] == [(4, 4), (8, 8)]
    assert all(c.net.activation == "tanh" for c in got)
    assert all(c.norms == ("gn",) and c.net.norm == "ln" for c in got)  # the panel's own field wins
    s = sweepfile.load_sweep(write(tmp_path, 'claims = ["PANEL"]\n[grid]\nsteps = 3\n'))
    with pytest.raises(sweepfile.SweepError, match=r"claim PANEL \(its field 'net'\): grid key 'steps' does not apply"):
        s.expand()


def test_a_source_change_during_the_sweep_is_reported(tmp_path, monkeypatch):
    s = sweepfile.load_sweep(write(tmp_path, 'claims = ["TOY"]\nrealizations = 2\nbase = "first"\n'))
    quiet = sw.run_sweep(s, backend="serial", progress=False)
    assert not quiet.code_changed
    digests = iter(["before", "after"])
    monkeypatch.setattr(sw, "code_digest", lambda: next(digests))
    with pytest.warns(RuntimeWarning, match="changed on disk during the sweep"):
        changed = sw.run_sweep(s, backend="serial", progress=False)
    assert changed.code_changed
