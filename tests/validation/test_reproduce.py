"""``randnet-check reproduce paper`` end to end at a tiny size (seconds), its store, its report and its hooks."""
import json

import numpy as np
import pytest

import randnet
from validation import reproduce
from validation.cli import main

TINY = ["--width", "8", "--depth", "6", "--n-inputs", "4", "--size", "8", "--realizations", "2",
        "--backend", "serial", "--no-progress"]


def fake_limit(net, data):
    """A stand-in for ``randnet.infinite_width_terms`` (SPEC §8's contract: ``(L, 3)``, terms (1), (2), (3)+(4)),
    refusing ln+pn as a kernel that does not fit would be."""
    if net.norm == "ln+pn":
        raise ValueError("does not fit")
    return np.tile([0.5, 0.25, 0.25], (net.depth, 1)) * 2.0    # P(y) = 2: the non-collapsed fraction is 1 − 1/2


def test_reproduce_paper_end_to_end_then_from_the_store(tmp_path, capsys, monkeypatch):
    out = tmp_path / "paper"
    assert main(["reproduce", "paper", "--out", str(out), *TINY]) == 0
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(doc["statements"]) == len(reproduce.STATEMENTS)
    assert {s["verdict"] for s in doc["statements"]} <= {"PASS", "FAIL", "INCONCLUSIVE"}
    assert doc["config"]["dataset"]["name"] == "natural" and doc["config"]["first_stride"] == 2
    assert doc["timing"]["runs"][0]["computed"] == 2 and doc["timing"]["predicted_realization_s"] > 0
    assert doc["infinite_width"] is None and set(doc["claims"]) == {"FIG2", "FIG5"}
    report = (out / "REPORT.md").read_text(encoding="utf-8")
    for s in reproduce.STATEMENTS:
        assert f"“{s.quote}”" in report
    for name in doc["figures"].values():
        assert (out / name).stat().st_size > 0 and f"]({name})" in report
    assert (out / "claims" / "REPORT.md").exists()
    err = capsys.readouterr().err
    assert "cost model:" in err and "2 to compute" in err and "FIG5: " in err
    # the second run (re-render) computes nothing, keeps the timing of the first, and draws the C = ∞ curves
    monkeypatch.setattr(randnet, "infinite_width_terms", fake_limit, raising=False)
    assert main(["reproduce", "paper", "--out", str(out), *TINY, "--report-only"]) == 0
    again = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(again["timing"]["runs"]) == 1 and "0 to compute" in capsys.readouterr().err
    assert [s["verdict"] for s in again["statements"]] == [s["verdict"] for s in doc["statements"]]
    assert again["infinite_width"] == {"inputs": 4, "norms": ["ln"]}
    assert "Dotted: the C = ∞ limit" in (out / "REPORT.md").read_text(encoding="utf-8")


def test_report_only_refuses_a_store_without_the_realizations(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "paper", "--out", str(tmp_path), *TINY, "--report-only"])
    err = capsys.readouterr().err
    assert e.value.code == 1 and "lacks 2 of the 2 realizations" in err and "Traceback" not in err


def test_infinite_width_curves_hook(monkeypatch):
    from theorems._panels import paper_panel

    config = paper_panel(8, 6, 4, 8)
    data = np.ones((2, 8, 8, 3))
    monkeypatch.delattr(randnet, "infinite_width_terms", raising=False)
    assert reproduce.infinite_width_curves(config, data) is None

    monkeypatch.setattr(randnet, "infinite_width_terms", fake_limit, raising=False)
    curves = reproduce.infinite_width_curves(config, data)
    assert set(curves) == {"ln"} and curves["ln"]["terms"].shape == (6, 3)
    np.testing.assert_allclose(curves["ln"]["noncollapsed"], 0.5)


@pytest.mark.parametrize("extra, phrase", [
    (["--device", "cuda"], "needs backend='torch'"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "needs --backend dask, not 'serial'"),
    (["--realizations", "0"], "expected a positive integer"),
])
def test_bad_options_are_one_line(tmp_path, capsys, extra, phrase):
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "paper", "--out", str(tmp_path), *TINY, *extra])
    err = capsys.readouterr().err
    assert e.value.code in (1, 2) and phrase in err and "Traceback" not in err and not (tmp_path / ".store").exists()


def test_the_quantities_the_sentences_are_about():
    """Deep layers are l > L/2; collapse is term (1), variability terms (2)+(4); the decay rate a geometric mean."""
    depth = 6
    power = np.zeros((2, depth, 4))
    power[:, :, 0] = np.arange(depth) / 10          # term (1): 0, .1, …, .5
    power[:, :, 1], power[:, :, 3] = 0.2, 0.05
    f = np.array([0.9 ** np.arange(depth), 0.8 ** np.arange(depth)])
    samples = {"power_y[ln]": power, "noncollapsed[ln]": f}
    np.testing.assert_allclose(reproduce.collapse(samples, "ln"), [0.4, 0.4])      # mean of .3, .4, .5
    np.testing.assert_allclose(reproduce.variability(samples, "ln"), [0.25, 0.25])
    np.testing.assert_allclose(reproduce.decay_rate(samples, 1, 5), [0.9, 0.8])
    np.testing.assert_allclose(reproduce.decay_rate(samples, 3, 6), [0.9, 0.8])
