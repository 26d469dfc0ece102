"""Bad input, as a hostile user gives it, through the command line: one table of cases.

Each case is a command, the exit status it must end with, a fragment its one-line message must contain (on
stderr, or stdout for verdict lines), and — where a run into an existing output folder fails — that nothing is
lost: the previous good report is byte-for-byte the same and every stored realization still reads back. No case
may print a traceback. Exit statuses: ``validation.runner.EXIT_CODES``.
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from validation import store as store_module
from validation.cli import main
from validation.store import Store

ROOT = Path(__file__).resolve().parents[2]
NET = ["--widths", "8", "--depth", "3", "--realizations", "2", "--backend", "serial", "--no-progress"]
S = [*NET, "--n-inputs", "4", "--size", "6"]
"""The issue's reproducer options: a tiny T1 / T2 run (``NET``: without the dataset's size)."""
TOY = ["--realizations", "2", "--backend", "serial", "--no-progress"]
GOOD = ["run", "TOY", *TOY, "--report-only"]
"""A run that completes (its verdicts do not matter here)."""
_names = itertools.count()


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    status: int
    fragment: str
    stream: str = "err"
    keeps: bool = False
    """Run a good ``run TOY`` into ``{out}`` first; afterwards its REPORT.md and its store must be intact."""
    fault: str | None = None
    """``"ENOSPC"`` / ``"EROFS"``: the results store fails with that error after 2 realizations are written."""
    fast: float | None = None
    """The command must end within this many seconds (e.g. an unreachable scheduler)."""


CASES = [
    # --out that is a file, or cannot be written: refused before anything runs (run, suite, sweep, diagnose)
    Case("out is a file: run", ("run", "TOY", *TOY, "--out", "{file}"), 1, "exists and is not a folder"),
    Case("out is a file: suite", ("suite", "--only", "TOY", *TOY, "--out", "{file}"), 1, "exists and is not a folder"),
    Case("out is a file: sweep", ("sweep", "{toy_sweep}", "--backend", "serial", "--no-progress", "--out", "{file}"), 1,
         "exists and is not a folder"),
    Case("out is a file: diagnose", ("diagnose", "randnet.examples.rms_norm:rms_norm", "--width", "8", "--depth", "2",
                                     "--realizations", "1", "--backend", "serial", "--no-progress", "--out", "{file}"),
         1, "exists and is not a folder"),
    Case("out cannot be created", ("run", "TOY", *TOY, "--out", "/proc/randnet-no-such/out"), 1,
         "--out /proc/randnet-no-such/out: cannot write there"),
    # schedulers: fail fast, one line
    Case("unreachable scheduler", ("sweep", "{toy_sweep}", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9",
                                   "--no-progress", "--out", "{out}"), 1,
         "cannot reach the Dask scheduler at tcp://127.0.0.1:9", fast=8.0),
    Case("scheduler file not JSON", ("sweep", "{toy_sweep}", "--backend", "dask", "--scheduler", "{not_json}",
                                     "--no-progress", "--out", "{out}"), 1, "is not a Dask scheduler file (not JSON"),
    # sizes beyond reason
    Case("depth 1e20 as an integer", ("run", "T1", *S, "--depth", "100000000000000000000"), 1,
         "depth must be at most 100,000, got 100,000,000,000,000,000,000"),
    Case("depth 1e20 as written", ("run", "T1", *S, "--depth", "1e20"), 2, "expected a positive integer, got '1e20'"),
    Case("realizations 1e11", ("run", "TOY", "--realizations", "100000000000"), 2,
         "expected a positive integer at most 1,000,000"),
    Case("realizations 1e11 in a sweep", ("sweep", "{toy_sweep}", "--realizations", "100000000000", "--dry-run"), 2,
         "--realizations must be a positive integer at most 1,000,000"),
    Case("max-realizations without until-decided", ("run", "TOY", *TOY, "--max-realizations", "64"), 1,
         "--max-realizations applies only with --until-decided"),
    Case("max-realizations below realizations", ("run", "TOY", *TOY, "--until-decided", "--max-realizations", "1"), 1,
         "--max-realizations 1 is below --realizations 2"),
    Case("max-realizations 0", ("suite", "--only", "TOY", *TOY, "--until-decided", "--max-realizations", "0"), 2,
         "expected a positive integer at most 1,000,000"),
    # sweeps
    Case("dry run, missing .npz key", ("sweep", "{sweep_key}", "--dry-run", "--no-calibrate"), 2,
         "no array 'zz'; it holds ['a', 'b']"),
    Case("plugin norm in a sweep", ("sweep", "{sweep_plugin}", "--dry-run", "--no-calibrate"), 0, "halfnorm C=8 L=3",
         stream="out"),
    # the store fails mid-run: one line, the entries already stored and the last good report kept
    Case("disk full mid-run", ("run", "TOY", *TOY, "--out", "{out}"), 3, "No space left on device", keeps=True,
         fault="ENOSPC"),
    Case("read-only store mid-run", ("run", "TOY", *TOY, "--out", "{out}"), 3, "Read-only file system", keeps=True,
         fault="EROFS"),
    # data and parameters that make a normalization divide by zero: the option or data named
    Case("zero weights: Definition 1 (ii)", ("run", "T1", *S, "--weight", "constant(0)", "--out", "{out}"), 0,
         "HYPOTHESIS NOT MET (nothing computable): (ii) ‖ν_weight‖₂ > 0: weight ~ constant(0) has RMS 0",
         stream="out"),
    Case("1x1 maps under IN", ("run", "T2", *NET, "--n-inputs", "4", "--size", "1"), 1,
         "norm 'in' takes each statistic over one channel of one input's 1×1 map: a single value"),
    Case("constant images under IN", ("run", "T2", *NET, "--dataset", "{const}", "--out", "{out}"), 3,
         "the data is constant over (h, w) in every input and channel", keeps=True),
    Case("data of 1e300", ("run", "T1", *NET, "--dataset", "{big}", "--out", "{out}"), 1,
         "are too large for the float32 forward pass (at most sqrt(3.4e+38) = 1.84e+19): rescale the data"),
    Case("data of 1e300 in float64", ("run", "T1", *NET, "--dataset", "{big}", "--dtype", "float64"), 1,
         "too large for the float64 forward pass"),
    Case("data of 1e-300", ("run", "T1", *NET, "--dataset", "{tiny}"), 1,
         "are too small for the float32 forward pass"),
    # non-finite measurements: an error of the configuration, never a verdict
    Case("float32 overflow", ("run", "T1", *S, "--gamma", "constant(1e38)", "--activation", "identity", "--out",
                              "{out}"), 3, "likely cause: an overflow of the float32 forward pass", keeps=True),
    # a file dataset with the options of a built-in one
    Case("dataset file and --n-inputs/--size", ("run", "T1", *S, "--dataset", "{good}", "--report-only", "--out",
                                                "{out}"), 0,
         "--n-inputs, --size apply to built-in datasets and cifar10-bin only; {good} is used as it is, of shape (N, H, W, C) = "
         "(8, 8, 8, 3) (ignored)"),
    # plugins that end the program or raise KeyboardInterrupt themselves
    Case("plugin calls sys.exit(0)", ("run", "T1", *S, "--norm", "{exit_plugin}", "--out", "{out}"), 3,
         "called sys.exit(0)", keeps=True),
    Case("plugin raises KeyboardInterrupt", ("run", "T1", *S, "--norm", "{interrupt_plugin}", "--out", "{out}"), 3,
         "raised KeyboardInterrupt (not a Ctrl-C)", keeps=True),
    # ... but a real signal during the plugin's call still stops the run (SIGTERM here; SIGINT: test_plugins.py)
    Case("SIGTERM during a plugin", ("run", "T1", *S, "--norm", "{term_plugin}", "--out", "{out}"), 143,
         "interrupted; what was computed is in the results store", keeps=True),
]


@pytest.fixture
def files(tmp_path, monkeypatch, clean_plugin_registry):
    """The inputs the cases name: data files, sweep files, plugin modules (fresh names, on sys.path)."""
    rng = np.random.default_rng(0)
    n = next(_names)
    f = {"file": tmp_path / "a_file", "out": tmp_path / "out", "not_json": tmp_path / "scheduler.json",
         "good": tmp_path / "good.npy", "const": tmp_path / "const.npy", "big": tmp_path / "big.npy",
         "tiny": tmp_path / "tiny.npy", "two": tmp_path / "two.npz"}
    f["file"].write_text("not a folder")
    f["not_json"].write_text("not json")
    np.save(f["good"], rng.standard_normal((8, 8, 8, 3)))
    np.save(f["const"], np.ones((4, 6, 6, 3)))
    np.save(f["big"], 1e300 * rng.standard_normal((4, 6, 6, 3)))
    np.save(f["tiny"], 1e-300 * rng.standard_normal((4, 6, 6, 3)))
    np.savez(f["two"], a=np.ones((4, 6, 6, 3)), b=np.ones((4, 6, 6, 3)))
    monkeypatch.syspath_prepend(str(tmp_path))
    for key, body in (("exit_plugin", "import sys\ndef f(x, config):\n    sys.exit(0)\n"),
                      ("interrupt_plugin", "def f(x, config):\n    raise KeyboardInterrupt\n"),
                      ("term_plugin", "import os, signal, time\ndef f(x, config):\n"
                                      "    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(5)\n    return x\n"),
                      ("half_plugin", "def halfnorm(x, config):\n    return 0.5 * x / x.std()\n")):
        (tmp_path / f"{key}_{n}.py").write_text(body)
        f[key] = f"{key}_{n}:{'halfnorm' if key == 'half_plugin' else 'f'}"
    sweeps = {"toy_sweep": 'claims = ["TOY"]\nrealizations = 2\nbase = "first"\n',
              "sweep_key": 'claims = ["T1"]\nbase = "first"\n[grid]\nwidths = 8\ndepth = 3\n'
                           'datasets = [{ path = "two.npz", key = "zz" }]\n',
              "sweep_plugin": f'claims = ["T1"]\nbase = "first"\nrealizations = 2\n[grid]\nwidths = 8\ndepth = 3\n'
                              f'norms = ["{f["half_plugin"]}"]\n'}
    for key, text in sweeps.items():
        f[key] = tmp_path / f"{key}.toml"
        f[key].write_text(text)
    return {k: str(v) for k, v in f.items()}


def _call(argv, capsys) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as e:
        status = e.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _stored(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*.npz"))}


def _reads_back(root: Path) -> bool:
    """Every entry under ``root`` is read by the store (its name parsed back into its key)."""
    store = Store(root)
    for p in sorted(root.rglob("*.npz")):
        m = re.fullmatch(r"(?P<digest>[0-9a-f]+)-s(?P<seed>\d+)-k(?P<k>\d+)-v.*\.npz", p.name)
        if store.load(p.parent.name, m["digest"], int(m["seed"]), int(m["k"])) is None:
            return False
    return True


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, files, capsys, monkeypatch):
    argv = [a.format(**files) for a in case.argv]
    out = Path(files["out"])
    if case.keeps:  # a good run first: its report and store must survive the bad one
        assert _call([*GOOD, "--out", str(out)], capsys)[0] == 0
        report, stored = (out / "REPORT.md").read_bytes(), _stored(out / ".store")
        assert stored
    if case.fault is not None:
        real, calls = store_module.replace_atomically, itertools.count()

        def failing(path, write):
            if next(calls) >= 2:
                raise OSError(getattr(errno, case.fault), os.strerror(getattr(errno, case.fault)), str(path))
            real(path, write)

        monkeypatch.setattr(store_module, "replace_atomically", failing)
        argv += ["--seed", "1"]  # realizations not in the store yet
    start = time.perf_counter()
    status, stdout, stderr = _call(argv, capsys)
    elapsed = time.perf_counter() - start
    text = stdout if case.stream == "out" else stderr
    assert status == case.status, f"exit {status}\nstdout: {stdout}\nstderr: {stderr}"
    assert case.fragment.format(**files) in text, text
    assert "Traceback" not in stdout + stderr
    if case.stream == "err" and case.status in (1, 2):
        assert len([ln for ln in stderr.splitlines() if ln.startswith("randnet-check")]) <= 1 or "usage" in stderr
    if case.fast is not None:
        assert elapsed < case.fast, f"took {elapsed:.1f} s"
    if case.keeps:
        assert (out / "REPORT.md").read_bytes() == report, "the last good report was replaced"
        now = _stored(out / ".store")
        assert all(now.get(p) == b for p, b in stored.items()), "a stored realization was lost or changed"
        assert _reads_back(out / ".store") and not list(out.rglob("*.tmp"))
        if case.status in (3, 143):
            assert (out / "failed" / "REPORT.md").exists()


def test_the_file_dataset_records_what_was_used(files, capsys):
    out = Path(files["out"])
    status, _, err = _call(["run", "T1", *S, "--dataset", files["good"], "--report-only", "--out", str(out)], capsys)
    assert status == 0, err
    (claim,) = json.loads((out / "results.json").read_text())["claims"]
    dataset = claim["configs"][0]["config"]["dataset"]
    assert (dataset["n"], dataset["height"], dataset["width"], dataset["channels"]) == (8, 8, 8, 3)


def test_a_store_entry_replaced_by_a_folder_is_recomputed(files, capsys):
    out = Path(files["out"])
    assert _call([*GOOD, "--out", str(out)], capsys)[0] == 0
    entry = sorted((out / ".store").rglob("*.npz"))[0]
    entry.unlink()
    (entry / "junk").mkdir(parents=True)
    status, _, err = _call([*GOOD, "--out", str(out)], capsys)
    assert status == 0 and "Traceback" not in err
    computed = [c["computed"] for c in json.loads((out / "results.json").read_text())["claims"][0]["configs"]]
    assert sorted(computed) == [0, 1] and entry.is_file()


def test_a_closed_output_pipe_ends_quietly(tmp_path):
    """``randnet-check sweep FILE --dry-run | head``: no BrokenPipeError traceback, exit 141 (as a killed pipe)."""
    sweep = tmp_path / "s.toml"
    sweep.write_text('claims = ["T1"]\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "validation.cli", "sweep", str(sweep), "--dry-run", "--no-calibrate"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    p.stdout.close()  # the reader is gone before the first line is written
    _, err = p.communicate(timeout=300)
    assert p.returncode == 141 and b"Traceback" not in err and not err.strip(), err.decode()


def test_a_real_read_only_file_system(tmp_path, capsys):
    """The same on a real read-only mount (needs root and mount permission; skipped elsewhere)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True).returncode:
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        status, _, err = _call(["run", "TOY", *TOY, "--out", str(ro / "out")], capsys)
        assert status == 1 and "cannot write there (Read-only file system)" in err, err
    finally:
        subprocess.run(["umount", str(ro)], check=False)


def test_a_real_full_disk(tmp_path, capsys):
    """A store on a tiny real file system that fills up mid-run (root and mount permission; skipped elsewhere)."""
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        status, _, err = _call(["run", "TOY", "--realizations", "200", "--backend", "serial", "--no-progress",
                                "--out", str(small / "out")], capsys)
        assert status == 3 and "No space left on device" in err and "Traceback" not in err, err
        assert _reads_back(small / "out" / ".store") and not list((small / "out").rglob("*.tmp"))
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_the_table_covers_the_issue():
    """Every bad input the issue lists has its case (a guard against dropping one); the closed pipe, the folder in
    place of a store entry and the real read-only / full file systems are the tests below the table."""
    names = " ".join(c.name for c in CASES)
    for words in ("out is a file: run", "suite", "sweep", "diagnose", "unreachable scheduler", "not JSON", "depth 1e20",
                  "realizations 1e11", "missing .npz key", "disk full", "read-only store", "zero weights", "1x1 maps",
                  "constant images", "1e300", "1e-300", "plugin norm in a sweep", "KeyboardInterrupt", "sys.exit"):
        assert words in names, words
