"""EN6, EN8–EN11, EN16 (theorems.en_estimators) through the engine: the exact claims pass with every control
rejected; EN10's bias trends have §7B's pattern; EN11's finding — shrinkage lowers the per-example bias but raises
its relative MSE — is measured, with both verdicts; EN16's gap is reported, not judged."""
import math

import numpy as np
import pytest

from randnet import DatasetSpec, realization_seed
from theorems import REGISTRY
from theorems import _extreme as ex
from theorems import _torchnets as tn
from theorems import en_estimators as est
from validation.engine import run_claim
from validation.plots import PLOTS
from validation.verdicts import FAIL, PASS


@pytest.fixture(autouse=True)
def one_thread():
    with tn.single_thread():
        yield


def _verdicts(result):
    return {j.comparison.label: j.measured_verdict for r in result.results for j in r.comparisons}


@pytest.mark.parametrize("key", ["EN6", "EN8", "EN9", "EN16"])
def test_exact_estimator_claims_pass_and_controls_are_rejected(key):
    result = run_claim(key, realizations=2, progress=False, backend="serial")
    assert result.verdict == PASS, _verdicts(result)
    assert result.negative_controls_rejected


def test_en9_moments_and_a_planted_wrong_batch_size(monkeypatch):
    cfg = est.PerExampleConfig()
    m = est.en9_measure(cfg, realization_seed(0, 0))
    assert m["mean_error"].max() < 1e-13 and m["variance_error"].max() < 1e-13 and m["single"].max() < 1e-13
    assert m["bias_spread"][0] < 1e-14 and m["bias"][0] > 0.05
    assert np.ptp(m["single_bias"]) < 1e-14 and np.ptp(m["single_rel_mse"]) < 1e-12 * m["single_rel_mse"][0]
    monkeypatch.setattr(ex, "without_replacement_factor", lambda n, b: (n - b) / (b * n))
    assert est.en9_measure(cfg, realization_seed(0, 0))["variance_error"][1:-1].min() > 1e-3


def test_en10_trends_have_the_pattern_of_7b(tmp_path):
    """E1–E3 decrease strictly to 0 at B = N; E2 and E3 below E1 at every B < N (§7B's observation); E5 drops to a
    positive floor; E4 flat; the B = N end points are the EN8 values."""
    result = run_claim("EN10", realizations=2, progress=False, backend="serial")
    assert result.verdict == PASS and result.negative_controls_rejected, _verdicts(result)
    r = result.results[0]
    s = r.samples
    for e in est.DECREASING:
        assert np.all(np.diff(s[f"bias_{e}"], axis=1) < 0), e
        assert np.all(s[f"bias_{e}"][:, -1] < 1e-13)
    assert np.all(s["bias_E2"][:, :-1] < s["bias_E1"][:, 1:-1])
    assert np.all(s["bias_E3"][:, 1:-1] < s["bias_E1"][:, 1:-1])
    assert np.all(s["floor_E5"] > 0.05) and np.all(s["bias_E5"][:, 0] > s["floor_E5"][:, 0])
    assert np.all(np.abs(s["bias_E4"] - s["bias_E4"][:, :1]) < 1e-14)
    assert np.all(np.abs(s["bias_E3"][:, 0] - s["bias_E4"][:, 0]) < 1e-14)   # E3(1) = E4 (EN9 (c))
    # the B = N end point of E5 is its EN8 value (the same computation)
    pb = ex.draw_problem(r.config.net, realization_seed(0, 0))
    g = ex.target_gradient(pb)
    assert abs(ex.rel_error(ex.estimate(pb, "E5")[0], g) - s["floor_E5"][0, 0]) < 1e-12
    assert [p.name for p in PLOTS["en_bias_vs_batch"](result, tmp_path)] == ["EN10_bias_vs_batch.png"]


def test_en10_monte_carlo_configuration():
    cfg = est.BiasTrendConfig(ex.ENNet(DatasetSpec(n=8, height=4, width=4, channels=2), depth=2, width=4),
                              batch_sizes=(1, 2, 4, 8), draws=12)
    assert "debiased, K = 12" in cfg.label()
    m = est.en10_measure(cfg, realization_seed(0, 0))
    assert np.all(np.isfinite(m["bias_E1"])) and m["endpoint"].max() < 1e-13 and m["flat_E4"][0] < 1e-14
    with pytest.raises(ValueError, match="from 1 to N"):
        est.BiasTrendConfig(batch_sizes=(2, 4, 6, 8))
    with pytest.raises(ValueError, match="draws must be >= N"):
        est.BiasTrendConfig(draws=4)


def test_en11_shrinkage_lowers_the_bias_but_raises_the_error(tmp_path):
    """Per realization, as §7B measured: ν-scaling and shrinkage lower the per-example bias; shrinkage raises the
    per-example relMSE at B = 1 and 8 (N = 32) — and the engine gives the two verdicts side by side."""
    cfg = est.ModifierConfig(grid_r_m=(0.0, 1.0), grid_r_v=(0.5, 1.0))
    result = run_claim("EN11", [cfg], progress=False, backend="serial")
    s = result.results[0].samples
    assert np.all(s["gain_nu_per_example"] > 0) and np.all(s["gain_shrink_bias"] > 0)
    assert np.all(s["gain_shrink_mse"] < 0)
    assert np.all(s["grid_bias"][:, 0, 0] < s["grid_bias"][:, -1, -1])  # (r_m, r_v) = (0, 0.5) vs (1, 1)
    v = _verdicts(result)
    assert v["shrinkage reduces the per-example bias"] == PASS
    assert v["shrinkage reduces the per-example estimation error (relMSE)"] == FAIL
    assert v["ν-scaling reduces the per-example bias"] == PASS
    assert result.verdict == FAIL and result.negative_controls_rejected
    assert [p.name for p in PLOTS["en_modifiers"](result, tmp_path)] == ["EN11_modifiers_1.png"]


def test_en16_reports_the_gap_and_judges_only_the_construction():
    claim = REGISTRY["EN16"]
    cfg = claim.configs("quick")[0]
    assert [c.quantity for c in claim.comparisons(cfg)] == ["reduction"]
    assert "bias_gap" in claim.reported
    m = est.en16_measure(cfg, realization_seed(0, 0))
    assert m["reduction"][0] < 1e-14 and m["split_difference"][0] > 1e-3
    assert np.all(np.isfinite(m["bias_gap"])) and len(m["bias_gap"]) == len(cfg.tower1)


def test_config_errors():
    with pytest.raises(ValueError, match="exceeds N"):
        est.ForwardConfig(batch_sizes=(2, 64))
    with pytest.raises(ValueError, match="increasing positive"):
        est.ExactnessConfig(depths=(2, 1))
    with pytest.raises(ValueError, match="at most 14"):
        est.PerExampleConfig(ex.ENNet(DatasetSpec(n=20, height=4, width=4, channels=2)))
    with pytest.raises(ValueError, match="R = identity"):
        est.ModifierConfig(ex.ENNet(rotation="hadamard"))
    with pytest.raises(ValueError, match="exceeds N"):
        est.SplitConfig(tower2=64)
    assert math.isclose(est.SPEARMAN, -0.9)
