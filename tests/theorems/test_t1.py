"""T1: the collapse measurement, a seeded regression, hypotheses, and the claim / negative controls on data."""
import numpy as np
import pytest

import theorems
from randnet import DatasetSpec, NetConfig, realization_seed
from tests.helpers import assert_close
from theorems import t1
from theorems._common import collapse_measure, rho_powers

TINY = NetConfig(widths=8, depth=4, norm="ln", dtype="float64", dataset=DatasetSpec(n=4, height=4, width=4))
CLAIM = theorems.REGISTRY["T1"]


def test_measure_keys_shapes_and_consistency():
    m = collapse_measure(TINY, realization_seed(2024, 1))
    assert set(m) == {"noncollapsed", "ln_scaling_ratio", "linearity", "power_y"}
    assert m["power_y"].shape == (TINY.depth, 4)
    assert all(m[k].shape == (TINY.depth,) for k in ("noncollapsed", "ln_scaling_ratio", "linearity"))
    assert_close(m["power_y"].sum(axis=1), np.ones(TINY.depth), rtol=1e-13)          # P(y) = 1 (P1)
    assert_close(m["noncollapsed"], 1 - m["power_y"][:, 0], rtol=1e-13)
    assert np.all((m["ln_scaling_ratio"] > 0) & (m["ln_scaling_ratio"] <= 1)) and np.all(m["linearity"] >= 0)
    assert set(CLAIM.reported) <= set(m)


def test_seeded_regression_values():
    """Guards against silent changes of the sampling, the network or the statistics (float64, ~1e-10)."""
    m = collapse_measure(TINY, realization_seed(2024, 0))
    assert_close(m["noncollapsed"], [0.47703006895879674, 0.7508464359629334, 0.6242744078718282, 0.5837304393124565],
                 rtol=1e-10)
    assert_close(m["ln_scaling_ratio"][[0, 3]], [0.9821764512876796, 0.9993863661483573], rtol=1e-10)
    assert_close(m["linearity"][[0, 3]], [0.11595154779176124, 0.03316277170288414], rtol=1e-10)
    assert_close(m["power_y"][1], [0.2491535640370665, 0.09453155868989854, 0.6317002458067604, 0.02461463146627435],
                 rtol=1e-10)


def test_claim_holds_and_negative_controls_are_violated_at_moderate_width():
    """C = 32, 6 layers, 3 realizations: the mean lies below ρ^{l−1} + δ in every layer; it lies above the
    swapped bound (1 − ρ)^{l−1} + δ at layer 2 and below ρ^{l−1} − δ from layer 1 (both controls violated)."""
    config = NetConfig(widths=32, depth=6, norm="ln", dataset=DatasetSpec(n=8, height=4, width=4))
    f = np.array([collapse_measure(config, realization_seed(3, k))["noncollapsed"] for k in range(3)]).mean(axis=0)
    assert np.all(f <= rho_powers(config) + t1.DELTA), f - rho_powers(config)
    swapped, reversed_ = t1.negative_controls(config)
    assert f[1] > swapped.prediction[1] + t1.DELTA
    assert np.all(f < reversed_.prediction - t1.DELTA)
    (claim,) = t1.comparisons(config)
    assert claim.relation == "<=" and claim.mode == "mean" and list(claim.cells) == [1, 2, 3, 4, 5, 6]
    assert_close(claim.prediction, config.rho ** np.arange(6))


@pytest.mark.parametrize("changes, broken", [
    ({}, []),
    (dict(activation="leaky_relu"), []),
    (dict(activation="identity"), []),
    (dict(beta="normal(0.5, 0.2)"), ["(iii) ν_beta symmetric"]),
    (dict(beta="constant(0)"), ["(ii) ‖ν_beta‖₂ > 0"]),
    (dict(activation="gelu"), ["φ positive homogeneous, not identically zero"]),
    (dict(eps=1e-5), ["ε = 0"]),
    (dict(norm="ln+pn"), ["norm is 'ln' (no +ws, +pn)"]),
    (dict(norm="bn"), ["norm is 'ln' (no +ws, +pn)"]),
])
def test_hypotheses(changes, broken):
    assert [h.name for h in CLAIM.unmet(TINY.replace(**changes))] == broken


def test_default_configurations_sweep_the_width():
    for mode in ("quick", "full"):
        configs = CLAIM.configs(mode)
        assert [c.width for c in configs] == list(t1.WIDTHS[mode]) and len({c.depth for c in configs}) == 1
        assert all(CLAIM.unmet(c) == [] for c in configs)
    assert CLAIM.sweep == "width" and {"comparison_log", "sweep_convergence", "power"} <= set(CLAIM.plots)
    assert CLAIM.configs("full")[-1].width == 1024 and CLAIM.configs("full")[-1].depth == 50
    with pytest.raises(ValueError, match="mode"):
        CLAIM.configs("medium")
