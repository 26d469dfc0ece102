"""``suite --baseline``: exit status 6 when a verdict or a negative control's rejection differs from an earlier run's
results.json, 0 when every one equals it (FAIL included), one line per difference."""
from __future__ import annotations

import dataclasses
import json

import pytest

from theorems.base import REGISTRY, Comparison
from validation.baseline import BaselineError, differences, load_baseline
from validation.runner import EXIT_BASELINE, EXIT_ERROR, EXIT_FAIL, EXIT_INPUT, EXIT_OK, exit_status

from .test_runner import _status
from .toy_claims import TOY, ToyConfig

RUN = ["--realizations", "4", "--backend", "serial", "--no-progress"]


def _toy(key: str, prediction: float = 1.0, control: float = 1.1) -> object:
    """A toy claim on one configuration: PASS when ``prediction`` is 1 (cos² + sin² = 1), FAIL otherwise; its
    negative control rejected unless ``control`` is 1 (then the "false" claim is true)."""
    return dataclasses.replace(
        TOY, key=key, configs=lambda mode: [ToyConfig()],
        comparisons=lambda c: [Comparison("one", "==", prediction, 1e-12, "exact", "cos² + sin² = prediction")],
        negative_controls=lambda c: [Comparison("one", "==", control, 1e-12, "exact", "cos² + sin² = control")])


def _suite(only: str, out, capsys, *extra) -> tuple[int, str]:
    return _status(["suite", "--only", only, *RUN, "--out", str(out), *extra], capsys)


@pytest.fixture
def baseline_of(tmp_path, monkeypatch, capsys):
    """``baseline_of(claims...)``: run the suite on those claims and return the path of its results.json."""
    def run(*claims):
        for claim in claims:
            monkeypatch.setitem(REGISTRY, claim.key, claim)
        out = tmp_path / "baseline"
        _suite(",".join(c.key for c in claims), out, capsys)
        return out / "results.json"
    return run


def test_a_verdict_that_changes_differs_and_one_that_stays_does_not(baseline_of, tmp_path, monkeypatch, capsys):
    base = baseline_of(_toy("TOY_FLIP"))
    status, text = _suite("TOY_FLIP", tmp_path / "same", capsys, "--baseline", str(base))
    assert status == EXIT_OK and "every verdict and negative control as in the baseline" in text
    monkeypatch.setitem(REGISTRY, "TOY_FLIP", _toy("TOY_FLIP", prediction=2.0))  # now it FAILs
    status, text = _suite("TOY_FLIP", tmp_path / "changed", capsys, "--baseline", str(base))
    assert status == EXIT_BASELINE
    assert "1 difference(s)" in text and "  DIFFERS TOY_FLIP: verdict FAIL, baseline PASS\n" in text
    assert "exit status 6:" in text
    assert _suite("TOY_FLIP", tmp_path / "plain", capsys)[0] == EXIT_FAIL  # without --baseline: the plain 4
    assert _suite("TOY_FLIP", tmp_path / "quiet", capsys, "--baseline", str(base),
                  "--report-only")[0] == EXIT_OK


def test_an_equal_fail_passes(baseline_of, tmp_path, capsys):
    base = baseline_of(_toy("TOY_FAILS_ALWAYS", prediction=2.0))
    assert json.loads(base.read_text())["claims"][0]["verdict"] == "FAIL"
    status, text = _suite("TOY_FAILS_ALWAYS", tmp_path / "again", capsys, "--baseline", str(base))
    assert status == EXIT_OK and "DIFFERS" not in text


def test_a_negative_control_whose_rejection_changes_differs(baseline_of, tmp_path, monkeypatch, capsys):
    base = baseline_of(_toy("TOY_CONTROL"))
    monkeypatch.setitem(REGISTRY, "TOY_CONTROL", _toy("TOY_CONTROL", control=1.0))  # no longer rejected
    status, text = _suite("TOY_CONTROL", tmp_path / "blind", capsys, "--baseline", str(base))
    assert status == EXIT_BASELINE
    lines = [line for line in text.splitlines() if line.startswith("  DIFFERS")]
    assert len(lines) == 1 and "TOY_CONTROL [" in lines[0]
    assert lines[0].endswith("negative control 'cos² + sin² = control' (one): NOT rejected, baseline rejected")


def test_a_claim_missing_from_the_baseline_differs(baseline_of, tmp_path, monkeypatch, capsys):
    base = baseline_of(_toy("TOY_OLD"))
    monkeypatch.setitem(REGISTRY, "TOY_NEW", _toy("TOY_NEW"))
    status, text = _suite("TOY_OLD,TOY_NEW", tmp_path / "more", capsys, "--baseline", str(base))
    assert status == EXIT_BASELINE and "  DIFFERS TOY_NEW: not in the baseline (verdict PASS)" in text
    assert "TOY_OLD" not in "".join(line for line in text.splitlines() if "DIFFERS" in line)


def test_errors_still_win(baseline_of, tmp_path, monkeypatch, capsys):
    base = baseline_of(_toy("TOY_BREAKS"))

    def broken(config, ss):
        raise RuntimeError("broken measurement")

    monkeypatch.setitem(REGISTRY, "TOY_BREAKS", dataclasses.replace(_toy("TOY_BREAKS"), measure=broken))
    status, text = _suite("TOY_BREAKS", tmp_path / "broken", capsys, "--baseline", str(base))
    assert status == EXIT_ERROR and "DIFFERS TOY_BREAKS: verdict ERROR, baseline PASS" in text


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "not JSON"),
    ('{"claims": [{"key": "T1"}]}', "not the results.json of a run"),
    ("[1, 2]", "not the results.json of a run"),
])
def test_a_bad_baseline_is_one_line_before_anything_runs(tmp_path, capsys, content, message):
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BaselineError, match=message):
        load_baseline(path)
    status, text = _suite("TOY", tmp_path / "out", capsys, "--baseline", str(path))
    assert status == EXIT_INPUT and f"randnet-check: error: --baseline {path}: " in text and message in text
    assert "Traceback" not in text and not (tmp_path / "out" / "results.json").exists()


def test_differences_rules():
    def doc(*claims):
        return {"claims": [{"key": k, "verdict": v, "configs": [
            {"label": "c", "negative_controls": [{"quantity": "q", "label": "false", "rejected": r}
                                                 for r in rejected]}]} for k, v, rejected in claims]}

    base = doc(("A", "FAIL", [True]), ("B", "PASS", [True, True]), ("GONE", "PASS", []))
    assert differences(doc(("A", "FAIL", [True])), base, only={"A"}) == []
    assert differences(doc(("A", "FAIL", [True])), base) == [
        "B: in the baseline (verdict PASS), not reported by this run",
        "GONE: in the baseline (verdict PASS), not reported by this run"]
    assert differences(doc(("B", "PASS", [True, False])), base, only={"B"}) == [
        "B [c]: negative control 'false' (q, #2): NOT rejected, baseline rejected"]
    assert differences(doc(("B", "PASS", [True])), base, only={"B"}) == [
        "B [c]: negative control 'false' (q, #2): in the baseline (rejected), not in this run"]
    assert exit_status([], {}, differences=[]) == EXIT_OK
    assert exit_status([], {}, differences=["x"]) == EXIT_BASELINE
    assert exit_status([], {"A": "boom"}, differences=["x"]) == EXIT_ERROR
    assert exit_status([], {}, report_only=True, differences=["x"]) == EXIT_OK
