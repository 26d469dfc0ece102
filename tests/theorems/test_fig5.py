"""FIG5: Fig. 5's curves from Fig. 2's panel, the realizations it shares with FIG2, the claim and its controls."""
import dataclasses

import numpy as np
import pytest

import theorems
from randnet import realization_seed
from theorems import _panels, fig5
from theorems._panels import paper_panel
from validation.engine import run_claim

SMALL = paper_panel(width=32, depth=8, n=8, crop=8)   # natural 8×8 crops, stride-2 first conv, G = 32 → 32


def test_collapse_quantities_of_the_panel():
    out = _panels.fig2_panel_measure(SMALL, realization_seed(0, 0))
    for norm in SMALL.norms:
        f, r, lam = (out[f"{q}[{norm}]"] for q in ("noncollapsed", "ln_scaling_ratio", "linearity"))
        assert f.shape == r.shape == lam.shape == (8,)
        np.testing.assert_allclose(f, 1 - out[f"power_y[{norm}]"][:, 0], atol=1e-6)   # P(y^l) = 1 (P1)
        assert np.all((r > 0) & (r <= 1 + 1e-12)) and np.all(lam >= 0)                 # Jensen; a power ratio
        assert out[f"deep_linearity[{norm}]"] == pytest.approx(lam[4:].mean())          # l > L/2: layers 5…8
    np.testing.assert_allclose(out["noncollapsed[bn]"], 1.0, atol=1e-6)                 # BN: μ_c(y) = 0


def test_paper_panel_is_the_papers_configuration():
    full = paper_panel()
    net = full.net
    assert (net.width, net.depth, net.kernel_size, net.activation, net.dtype, net.first_stride) == \
        (1024, 50, 3, "relu", "float32", 2)
    assert (net.dataset.name, net.dataset.n, net.dataset.height, full.groups) == ("natural", 128, 32, 32)
    assert (str(net.gamma), str(net.beta)) == ("normal(1, 0.2)", "normal(0, 0.2)")
    assert full.norms == _panels.FIG2_NORMS and theorems.REGISTRY["FIG5"].configs("full") == [full]


def test_fig5_reads_fig2s_realizations(tmp_path):
    """On the same configuration and seed FIG5 computes nothing: it reads FIG2's stored realizations."""
    fig2 = run_claim("FIG2", [SMALL], 2, seed=1, backend="serial", store=tmp_path, progress=False)
    got = run_claim("FIG5", [SMALL], 2, seed=1, backend="serial", store=tmp_path, progress=False)
    assert got.results[0].computed == 0 and fig2.results[0].computed == 2
    np.testing.assert_array_equal(got.results[0].samples["linearity[gn]"], fig2.results[0].samples["linearity[gn]"])


def test_a_claim_sharing_realizations_must_measure_alike():
    other = dataclasses.replace(theorems.REGISTRY["FIG5"], key="FIG5-other", measure=lambda config, ss: {})
    with pytest.raises(ValueError, match="shares the realizations of FIG2, but measures with another function"):
        run_claim(other, [SMALL], 1, backend="serial", progress=False)


def test_claim_and_negative_controls_on_small_nets():
    """C = 32, 8 layers, 3 realizations: each negative control (swapped ρ, r^l ≤ 0.8, BN's deep Λ ≤ 0.01) is
    rejected; Theorem 1's bound is not contradicted."""
    result = run_claim("FIG5", [SMALL], 3, seed=0, backend="serial", progress=False).results[0]
    assert result.negative_controls_rejected, [j.measured_verdict for j in result.negative_controls]
    bound = next(j for j in result.comparisons if j.comparison.quantity == "noncollapsed[ln]")
    assert bound.verdict != "FAIL"
    labels = [c.label for c in fig5.fig5_comparisons(SMALL)]
    assert len(labels) == 4 and all(c.mode == "mean" for c in fig5.fig5_comparisons(SMALL))
