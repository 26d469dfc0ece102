"""The run → report loop: exit statuses, the last good report kept, non-finite measurements as errors."""
from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import pytest

from theorems.base import REGISTRY, Comparison
from validation import realization
from validation.cli import main
from validation.engine import run_claim
from validation.realization import NonFiniteMeasurement
from validation.runner import EXIT_CODES, EXIT_ERROR, EXIT_FAIL, EXIT_NOT_REJECTED, EXIT_OK, OutputError, \
    exit_status, run_and_report, Task, writable_folder
from validation.verdicts import FAIL, judge

from .toy_claims import TOY, ToyConfig, measure

RUN = ["--realizations", "8", "--backend", "serial", "--no-progress"]

FAILING = dataclasses.replace(
    TOY, key="TOY_FAILS", comparisons=lambda c: [Comparison("one", "==", 2.0, 1e-12, "exact", "cos² + sin² = 2")],
    configs=lambda mode: [ToyConfig()])
BLIND = dataclasses.replace(
    TOY, key="TOY_BLIND", configs=lambda mode: [ToyConfig()],
    negative_controls=lambda c: [Comparison("one", "==", 1.0, 1e-12, "exact", "a 'false' claim that is true")])


@pytest.fixture
def extra_claims(monkeypatch):
    for claim in (FAILING, BLIND):
        monkeypatch.setitem(REGISTRY, claim.key, claim)


def _status(argv, capsys) -> tuple[int, str]:
    try:
        status = main(list(argv))
    except SystemExit as e:
        status = e.code
    captured = capsys.readouterr()
    return status, captured.out + captured.err


@pytest.mark.parametrize("claims, status", [
    ("TOY", EXIT_OK),                       # PASS and HYPOTHESIS NOT MET, negative controls rejected
    ("TOY_FAILS", EXIT_FAIL),
    ("TOY_BLIND", EXIT_NOT_REJECTED),
    ("TOY,TOY_FAILS,TOY_BLIND", EXIT_NOT_REJECTED),   # 5 wins over 4
])
def test_suite_exit_status_follows_the_verdicts(claims, status, extra_claims, tmp_path, capsys):
    assert _status(["suite", "--only", claims, *RUN, "--out", str(tmp_path)], capsys)[0] == status
    assert _status(["suite", "--only", claims, *RUN, "--out", str(tmp_path), "--report-only"], capsys)[0] == EXIT_OK


def test_run_exit_status_and_help_document_the_codes(extra_claims, tmp_path, capsys):
    assert _status(["run", "TOY_FAILS", *RUN, "--out", str(tmp_path)], capsys)[0] == EXIT_FAIL
    for command in ("run", "suite", "sweep"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for code, _ in EXIT_CODES:
            assert f"{code} " in text
        assert "--report-only" in text and "exit status:" in text


def test_errors_win_and_report_only_keeps_them(monkeypatch, tmp_path, capsys):
    def broken(config, ss):
        raise RuntimeError("broken measurement")

    monkeypatch.setitem(REGISTRY, "TOY_BROKEN", dataclasses.replace(TOY, key="TOY_BROKEN", measure=broken))
    assert _status(["suite", "--only", "TOY,TOY_BROKEN", *RUN, "--out", str(tmp_path)], capsys)[0] == EXIT_ERROR
    assert _status(["suite", "--only", "TOY_BROKEN", *RUN, "--out", str(tmp_path), "--report-only"],
                   capsys)[0] == EXIT_ERROR


def test_exit_status_order():
    fails = type("R", (), {"negative_controls_rejected": True, "verdict": FAIL})()
    blind = type("R", (), {"negative_controls_rejected": False, "verdict": "PASS"})()
    assert exit_status([fails], {}) == EXIT_FAIL and exit_status([fails, blind], {}) == EXIT_NOT_REJECTED
    assert exit_status([fails, blind], {"X": "err"}) == EXIT_ERROR and exit_status([fails], {}, True) == EXIT_OK


# -- the last good report is kept ------------------------------------------------------------------------
def test_a_failed_run_keeps_the_last_good_report(monkeypatch, tmp_path, capsys):
    out = tmp_path / "out"
    assert _status(["run", "TOY", *RUN, "--out", str(out)], capsys)[0] == EXIT_OK
    good = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert "REPORT.md" in good and "results.json" in good and any(n.endswith(".png") for n in good)
    real = realization.measure_realization

    def failing(claim_key, config, seed, k):
        raise RuntimeError("a claim that raised")

    monkeypatch.setattr(realization, "measure_realization", failing)
    status, text = _status(["run", "TOY", *RUN, "--seed", "3", "--out", str(out)], capsys)
    assert status == EXIT_ERROR and f"{out / 'failed' / 'REPORT.md'}" in text and "last good report" in text
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == good  # REPORT, results, plots
    assert "a claim that raised" in (out / "failed" / "REPORT.md").read_text()
    assert json.loads((out / "failed" / "results.json").read_text())["claims"][0]["verdict"] == "ERROR"
    # an interrupted run (Ctrl-C) keeps it too, and shows what ran in failed/
    monkeypatch.setattr(realization, "measure_realization", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    assert _status(["run", "TOY", *RUN, "--seed", "4", "--out", str(out)], capsys)[0] == 130
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == good
    assert not list(out.glob(".partial-*"))
    # the next good run replaces the report and removes failed/
    monkeypatch.setattr(realization, "measure_realization", real)
    assert _status(["run", "TOY", *RUN, "--seed", "5", "--out", str(out)], capsys)[0] == EXIT_OK
    assert (out / "REPORT.md").read_bytes() != good["REPORT.md"] and not (out / "failed").exists()
    assert json.loads((out / "results.json").read_text())["seed"] == 5


def test_a_staging_folder_left_by_a_killed_run_is_removed(tmp_path):
    out = tmp_path / "out"
    dead = out / ".partial-999999999-abc"
    dead.mkdir(parents=True)
    (dead / "REPORT.md").write_text("half a report")
    outcome = run_and_report([Task(TOY, (ToyConfig(),), 2)], out, backend="serial", progress=False)
    assert not dead.exists() and outcome.report == out and (out / "REPORT.md").exists()
    assert all(p.exists() and p.parent == out for p in outcome.outputs)


def test_writable_folder(tmp_path):
    assert writable_folder(tmp_path / "new" / "dir").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a folder"):
        writable_folder(tmp_path / "f")
    with pytest.raises(OutputError, match="cannot write there"):
        writable_folder(tmp_path / "f" / "below")


# -- non-finite measurements --------------------------------------------------------------------------
def _infinite_q(config, ss):
    return {**measure(config, ss), "q": np.full(config.cells, np.inf)}


def test_a_non_finite_measurement_is_an_error_of_the_configuration(monkeypatch):
    claim = dataclasses.replace(TOY, key="TOY_INF", measure=_infinite_q)
    monkeypatch.setitem(REGISTRY, claim.key, claim)
    with pytest.raises(NonFiniteMeasurement, match=r"claim TOY_INF, configuration .*: measured 'q' is \+inf at layers "
                                                    r"1, 2, 3, 4 in realizations 0, 1, 2; likely cause: an overflow "
                                                    r"or 0/0"):
        run_claim(claim, configs=[ToyConfig()], realizations=3, backend="serial", progress=False)
    # where a hypothesis is broken, values may be undefined: judged (HYPOTHESIS NOT MET), never an error
    result = run_claim(claim, configs=[ToyConfig(symmetric=False)], realizations=3, backend="serial", progress=False)
    assert result.results[0].verdict == "HYPOTHESIS NOT MET"


def _undefined_q(config, ss):
    """``q`` NaN in the first cell (undefined there), ``tail`` NaN everywhere (read by no verdict)."""
    values = measure(config, ss)
    values["q"][0] = np.nan
    return {**values, "tail": np.full(config.cells, np.nan)}


def test_nan_by_design_is_judged_inconclusive_where_declared(monkeypatch):
    """A NaN in a quantity no verdict reads is no error; one in a quantity the claim declares undefined by design
    (Claim.undefined) is INCONCLUSIVE in that cell; undeclared, or ±inf even where declared, it is an error."""
    undefined = dataclasses.replace(TOY, key="TOY_UNDEFINED", measure=_undefined_q, undefined=("q",))
    undeclared = dataclasses.replace(undefined, key="TOY_UNDECLARED", undefined=())
    infinite = dataclasses.replace(undefined, key="TOY_UNDEFINED_INF", measure=_infinite_q)
    for claim in (undefined, undeclared, infinite):
        monkeypatch.setitem(REGISTRY, claim.key, claim)
    assert undefined.may_be_undefined("q") and not undefined.may_be_undefined("qq")
    assert dataclasses.replace(TOY, undefined=("rho[*",)).may_be_undefined("rho[bn]")
    run = functools.partial(run_claim, configs=[ToyConfig()], realizations=3, backend="serial", progress=False)
    mean = next(j for j in run(undefined).results[0].comparisons if j.comparison.label == "E q = mean")
    assert mean.verdict == "INCONCLUSIVE" and mean.cell_verdicts[0] == "INCONCLUSIVE"
    assert "undefined (NaN) in 1 cell(s)" in mean.note
    with pytest.raises(NonFiniteMeasurement, match="measured 'q' is NaN at layer 1 in realizations 0, 1, 2"):
        run(undeclared)
    with pytest.raises(NonFiniteMeasurement, match=r"measured 'q' is \+inf"):
        run(infinite)


def test_a_negative_control_is_never_rejected_on_non_finite_values():
    control = Comparison("q", ">=", 5.0, 0.0, "exact", "false")
    nan = np.full((4, 3), np.nan)
    assert judge(control, nan, negative_control=True).measured_verdict == FAIL  # NaN cells fail ...
    assert not judge(control, nan, negative_control=True).rejected             # ... but reject nothing
    mixed = np.array([[np.nan, 1.0, 1.0]] * 4)
    assert judge(control, mixed, negative_control=True).rejected  # a finite cell fails: rejected
    inf = np.array([[np.inf, 1.0, 1.0]] * 4)  # only the infinite cell fails
    assert not judge(Comparison("q", "<=", 5.0, 0.0, "exact", "false"), inf, negative_control=True).rejected
