"""Report writers and plots: files written incrementally, results.json complete enough to redraw."""
import dataclasses
import json

import numpy as np
import pytest

from validation.engine import run_claim
from validation.plots import PLOTS, draw, register_plot, wants_log
from validation.report import Report

from .toy_claims import TOY, TOY_SWEEP

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results():
    return [run_claim(c, backend="serial", progress=False) for c in (TOY, TOY_SWEEP)]


def test_plots_are_drawn_as_png(results, tmp_path):
    for res in results:
        paths, errors = draw(res, tmp_path)
        assert errors == []
        assert len(paths) == {"TOY": 3 + 1, "TOY_SWEEP": 1 + 1}[res.claim.key]  # comparisons (+ power | sweep)
        for p in paths:
            assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000


def test_plot_registry():
    assert {"comparison", "sweep_convergence", "power"} <= set(PLOTS)
    with pytest.raises(ValueError, match="already registered"):
        register_plot("comparison")(lambda result, out: [])
    assert wants_log(np.array([1e-4, 1.0])) and not wants_log(np.array([-1.0, 1.0])) \
        and not wants_log(np.array([0.5, 1.0]))


def test_a_broken_or_unknown_plot_is_reported_not_raised(results, tmp_path, monkeypatch):
    def explodes(result, out_dir):
        raise ZeroDivisionError("no data")

    monkeypatch.setitem(PLOTS, "explodes", explodes)
    res = results[1]
    broken = dataclasses.replace(res, claim=dataclasses.replace(res.claim, plots=("explodes", "no_such_plot", "power")))
    paths, errors = draw(broken, tmp_path)
    assert [p.name for p in paths] == ["TOY_SWEEP_power.png"]
    assert errors == ["plot 'explodes': ZeroDivisionError: no data",
                      f"plot 'no_such_plot': no such plot (registered: {', '.join(sorted(PLOTS))})"]


def test_power_plot_needs_power_y(results, tmp_path):
    res = results[0]
    stripped = dataclasses.replace(res, results=tuple(
        dataclasses.replace(r, samples={k: v for k, v in r.samples.items() if k != "power_y"}) for r in res.results))
    with pytest.raises(ValueError, match="needs a quantity 'power_y' of shape"):
        PLOTS["power"](stripped, tmp_path)


def test_report_files(results, tmp_path):
    report = Report(tmp_path, mode="quick", seed=0, command=["randnet-check", "suite"])
    res = results[0]
    report.add(res, *draw(res, tmp_path))
    md = (tmp_path / "REPORT.md").read_text()
    assert "## TOY — Toy claim with known answers" in md and "rejected (2/2)" in md
    assert "HYPOTHESIS NOT MET" in md and "✗ NOT MET symmetric" in md and "![TOY_power](TOY_power.png)" in md
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["seed"] == 0 and data["mode"] == "quick"
    assert {"numpy", "numba", "scipy", "torch", "randnet"} <= set(data["versions"]) and data["machine"]["cpus"]
    (claim,) = data["claims"]
    config = claim["configs"][0]
    r = res.results[0]
    assert config["config"] == r.config.describe() and config["realizations"] == 8
    q = config["quantities"]["q"]
    assert np.allclose(q["samples"], r.samples["q"]) and np.allclose(q["mean"], r.mean("q"))
    assert np.allclose(q["low"], r.confidence_interval("q").low)
    comparison = config["comparisons"][0]
    assert comparison["verdict"] == r.comparisons[0].verdict
    assert np.allclose(comparison["high"], r.comparisons[0].high) and comparison["correction"] == "bonferroni"
    assert all(n["rejected"] for n in config["negative_controls"])


def test_report_is_incremental_and_records_errors(results, tmp_path):
    report = Report(tmp_path, mode="quick", seed=0)
    report.add(results[0])
    report.add_error("BROKEN", "a claim that raised", RuntimeError("division by zero in layer 3"))
    report.add(results[1])
    data = json.loads((tmp_path / "results.json").read_text())
    assert [c["key"] for c in data["claims"]] == ["TOY", "BROKEN", "TOY_SWEEP"]
    assert data["claims"][1]["error"] == "RuntimeError: division by zero in layer 3"
    md = (tmp_path / "REPORT.md").read_text()
    assert "**ERROR** while running: `RuntimeError: division by zero in layer 3`" in md
    assert "### Trend over width" in md and "trend over width" in md
    trend = data["claims"][2]["trends"][0]
    assert trend["values"] == [16, 64, 256] and trend["verdict"] == "PASS"
    (overall,) = data["claims"][2]["asymptotic"]  # every width FAILs `tail <= 0`: the trend alone is no PASS
    assert overall["verdict"] == data["claims"][2]["verdict"] == "FAIL" and overall["widest"] == 256
    assert overall["crossing"] == {"16": 1, "64": 1, "256": 1} and overall["limit"] is None
    assert "### Overall verdict over width (SPEC §5)" in md and "at C = ∞ (SPEC §8): not computed (" in md
    assert "| TOY_SWEEP | overall over width (SPEC §5): tail <= 0 | width = 256: FAIL (PASSes no layer)" in md
    assert not list(tmp_path.glob("*.tmp"))


def test_out_of_scope_entries_are_listed_not_checked(tmp_path):
    import theorems
    entry = theorems.OUT_OF_SCOPE["BU10"]
    report = Report(tmp_path, mode="quick", seed=0)
    report.add_out_of_scope(entry)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["claims"][0]["verdict"] == "OUT OF SCOPE" and data["claims"][0]["reason"] == entry.reason
    md = (tmp_path / "REPORT.md").read_text()
    assert "| BU10 | — | — | — | **OUT OF SCOPE (not checked)** | — |" in md and "not a checked claim" in md


def test_the_infinite_width_limit_is_drawn_beside_the_finite_widths(tmp_path, monkeypatch):
    """A claim with ``Claim.limit``: the comparison plot has the C = ∞ curve (once per group), the power plot one more
    panel, stacked from the limit's ``power_terms``."""
    import validation.plots as plots
    terms = np.tile([0.5, 0.2, 0.3], (4, 1))
    claim = dataclasses.replace(TOY_SWEEP, plots=("comparison", "power"),
                                limit=lambda c: {"tail": np.zeros(c.cells), "power_terms": terms})
    res = run_claim(claim, realizations=3, backend="serial", progress=False)
    figures, real_save = [], plots.save
    monkeypatch.setattr(plots, "save", lambda fig, out, name: figures.append(fig) or real_save(fig, out, name))
    paths, errors = draw(res, tmp_path)
    assert errors == [] and len(paths) == 2
    comparison, power = figures
    limit_lines = [ln for ln in comparison.axes[0].get_lines() if ln.get_label().startswith("C = ∞")]
    assert len(limit_lines) == 1 and np.array_equal(limit_lines[0].get_ydata(), np.zeros(4))
    visible = [ax for ax in power.axes if ax.axison]
    assert len(visible) == len(res.results) + 1 and visible[-1].get_title().startswith("C = ∞")
