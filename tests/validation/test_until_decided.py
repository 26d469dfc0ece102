"""--until-decided: batches of realizations until no confidence-sequence verdict is INCONCLUSIVE (or the cap)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from theorems.base import REGISTRY, Comparison
from validation.cli import main
from validation.engine import run_claim, run_until_decided
from validation.runner import Task, run_and_report
from validation.verdicts import INCONCLUSIVE, PASS

from .toy_claims import TOY_BOUNDED, ToyConfig


BOUNDED = TOY_BOUNDED


def unbounded(config: ToyConfig) -> list[Comparison]:
    return [Comparison("f", "<=", 0.36, 0.0, "mean", "E f ≤ 0.36 (Student-t)")]


UNBOUNDED = dataclasses.replace(BOUNDED, key="TOY_UNBOUNDED", comparisons=unbounded, negative_controls=lambda c: [
    Comparison("f", ">=", 0.7, 0.0, "mean", "E f ≥ 0.7 (false, Student-t)")])


@pytest.fixture(autouse=True)
def unbounded_toy(monkeypatch):
    """TOY_BOUNDED is a toy claim (conftest); its Student-t twin is registered here, for serial runs only."""
    monkeypatch.setitem(REGISTRY, UNBOUNDED.key, UNBOUNDED)


def test_batches_double_until_decided_and_keep_each_realization(tmp_path):
    first = run_claim(BOUNDED, realizations=8, backend="serial", progress=False, store=tmp_path)
    assert first.undecided, "8 realizations do not decide the bounded toy"
    result = run_until_decided(BOUNDED, max_realizations=512, store=tmp_path, backend="serial", progress=False)
    assert result.batches[0] == 8 and all(b == 2 * a for a, b in zip(result.batches, result.batches[1:]))
    assert not result.undecided and result.verdict == PASS and result.negative_controls_rejected
    r = result.results[0]
    assert r.realizations == result.batches[-1] and r.computed == result.batches[-1] - result.batches[-2]
    np.testing.assert_array_equal(r.samples["f"][:8], first.results[0].samples["f"])  # realization k unchanged


def test_any_backend_gives_the_same_batches_and_samples(tmp_path):
    """joblib workers (2) and the serial backend: the same batches, the same realizations (the store keeps them)."""
    serial = run_until_decided(BOUNDED, max_realizations=64, store=tmp_path / "a", backend="serial", progress=False)
    pool = run_until_decided(BOUNDED, max_realizations=64, store=tmp_path / "b", backend="joblib", jobs=2,
                             progress=False)
    assert serial.batches == pool.batches
    np.testing.assert_array_equal(serial.results[0].samples["f"], pool.results[0].samples["f"])


def test_the_cap_stops_an_undecided_run(tmp_path):
    result = run_until_decided(BOUNDED, max_realizations=12, store=tmp_path, backend="serial", progress=False)
    assert result.batches == (8, 12) and result.undecided and result.verdict == INCONCLUSIVE


def test_student_t_verdicts_never_make_it_add_realizations(tmp_path):
    result = run_until_decided(UNBOUNDED, max_realizations=512, store=tmp_path, backend="serial", progress=False)
    assert result.batches == (8,) and result.verdict == INCONCLUSIVE and not result.undecided


def test_it_needs_a_store_and_a_cap_above_the_first_batch(tmp_path):
    with pytest.raises(ValueError, match="needs a results store"):
        run_until_decided(BOUNDED, store=None, backend="serial", progress=False)
    with pytest.raises(ValueError, match="needs a results store"):
        run_and_report([Task(BOUNDED)], None, until_decided=True, backend="serial", progress=False)
    with pytest.raises(ValueError, match="below the first batch"):
        run_until_decided(BOUNDED, max_realizations=4, store=tmp_path, backend="serial", progress=False)


def test_cli_reports_how_many_realizations_each_claim_needed(tmp_path):
    out = tmp_path / "out"
    status = main(["suite", "--only", "TOY_BOUNDED,TOY_UNBOUNDED", "--until-decided", "--max-realizations", "256",
                   "--backend", "serial", "--no-progress", "--out", str(out)])
    assert status == 0
    report = (out / "REPORT.md").read_text()
    assert "Realizations needed (`--until-decided`)" in report
    assert "- TOY_BOUNDED: 8 → 16" in report and "every confidence-sequence verdict decided" in report
    assert "- TOY_UNBOUNDED: 8 realizations per configuration" in report and "not confidence sequences" in report


def test_max_realizations_without_until_decided_is_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "T1", "--max-realizations", "64"])
    assert e.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["randnet-check: error: --max-realizations applies only with --until-decided"]
