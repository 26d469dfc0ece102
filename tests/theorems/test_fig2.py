"""FIG2: power profiles of several norms on the same realization, their distances, and the claim."""
import json

import numpy as np
import pytest

from randnet import DatasetSpec, NetConfig, realization_seed
from theorems import _panels, fig2
from theorems._panels import PanelConfig
from validation.engine import run_claim
from validation.verdicts import PASS

SMALL_NET = NetConfig(widths=16, depth=8, dataset=DatasetSpec(n=8, height=8, width=8))


def test_profile_distance():
    p = np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    q = np.array([[0.0, 0, 1, 0], [0.5, 0.25, 0.25, 0]])
    assert _panels.profile_distance(p, q) == pytest.approx((2.0 + 0.5) / 2)
    assert _panels.profile_distance(p, p) == 0.0
    with pytest.raises(ValueError, match=r"shape \(L, 4\)"):
        _panels.profile_distance(p, q[:1])


def test_panel_config_validates_and_describes():
    with pytest.raises(ValueError, match="unknown normalization"):
        PanelConfig(SMALL_NET, ("bn", "xx"))
    with pytest.raises(ValueError, match="does not divide"):
        PanelConfig(SMALL_NET, ("gn",), groups=3)
    with pytest.raises(ValueError, match="distinct norms"):
        PanelConfig(SMALL_NET, ("ln", "ln"))
    panel = PanelConfig(SMALL_NET, ("gn", "gn+pn", "ln"), groups=4)
    assert panel.config_for("gn+pn").groups == 4 and panel.config_for("ln").groups is None
    json.dumps(panel.describe())
    assert panel.describe() != PanelConfig(SMALL_NET, ("gn", "gn+pn", "ln"), groups=2).describe()


def test_panel_runs_share_the_realization():
    """Every norm of a panel sees the same data and parameters: only the norm step differs."""
    runs = _panels.panel_stats(PanelConfig(SMALL_NET, ("bn", "ln", "ln+pn")), realization_seed(0, 0))
    for norm in ("ln", "ln+pn"):
        for a, b in zip(runs["bn"], runs[norm]):
            np.testing.assert_array_equal(a.gamma, b.gamma)
            np.testing.assert_array_equal(a.beta, b.beta)
        np.testing.assert_array_equal(runs["bn"][0].power_in, runs[norm][0].power_in)    # same dataset


def test_fig2_measure_profiles():
    out = _panels.fig2_panel_measure(PanelConfig(SMALL_NET, fig2.FIG2_NORMS, groups=4), realization_seed(0, 1))
    for norm in fig2.FIG2_NORMS:
        p = out[f"power_y[{norm}]"]
        assert p.shape == (8, 4)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)     # P(y^l) = 1 (Proposition 1, ε = 0)
    np.testing.assert_allclose(out["power_y[bn]"][:, 0], 0.0, atol=1e-10)   # BN: μ_c(y) = 0
    np.testing.assert_allclose(out["power_y[in]"][:, [0, 1, 3]], 0.0, atol=1e-6)   # IN: only term (3)
    assert out["gap"].shape == (2,)
    assert out["gap"][0] == pytest.approx(out["distance[ln]"][0] - out["distance[ln+pn]"][0])
    with pytest.raises(ValueError, match="lacks in, gn, ln\\+ws"):
        _panels.fig2_panel_measure(PanelConfig(SMALL_NET, ("bn", "ln", "ln+pn")), realization_seed(0, 1))


def test_fig2_claim_seeded():
    config = PanelConfig(SMALL_NET.replace(widths=32), fig2.FIG2_NORMS, groups=4)
    result = run_claim("FIG2", configs=[config], realizations=5, seed=0, backend="serial", progress=False)
    assert result.verdict == PASS and result.negative_controls_rejected


def test_fig2_configs():
    (quick,) = _panels.fig2_panel_configs("quick")
    (full,) = _panels.fig2_panel_configs("full")
    assert quick.norms == full.norms == fig2.FIG2_NORMS
    assert (full.net.width, full.net.depth, full.net.dataset.n, full.groups) == (1024, 50, 128, 32)
    assert (full.net.dataset.name, full.net.dataset.height, full.net.first_stride) == ("natural", 32, 2)
    assert quick.net.width < full.net.width
