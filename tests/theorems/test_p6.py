"""P6: the equality case, its centered-data hypothesis and the perturbed-ρ negative control."""
import numpy as np
import pytest

import theorems
from randnet import DatasetSpec, NetConfig, realization_seed
from theorems import p6
from theorems._common import centered_hypothesis, rho_powers

CENTERED = DatasetSpec(name="centered", n=8, height=8, width=8)
CLAIM = theorems.REGISTRY["P6"]


def test_close_to_rho_powers_in_the_first_layers_at_moderate_width():
    """C = 64, 4 layers, 4 realizations: |mean − ρ^{l−1}| < 0.03 (layer 1 is not collapsed: f₁ ≈ 1), while the
    perturbed prediction ρ^{2(l−1)} is off by more than δ at layer 4 (the negative control is violated)."""
    config = NetConfig(widths=64, depth=4, norm="ln", activation="identity", dataset=CENTERED)
    runs = [p6.measure(config, realization_seed(3, k)) for k in range(4)]
    assert set(runs[0]) == {"noncollapsed", "ln_scaling_ratio", "linearity", "power_y", "squared_gap"}
    assert all(runs[0][k].shape == (4,) for k in runs[0] if k != "power_y") and runs[0]["power_y"].shape == (4, 4)
    f = np.mean([r["noncollapsed"] for r in runs], axis=0)
    assert np.all(np.abs(f - rho_powers(config)) < 0.03), f - rho_powers(config)
    assert f[0] > 0.99
    (negative,) = p6.negative_controls(config)
    assert abs(f[3] - negative.prediction[3]) > p6.DELTA + 0.03
    assert np.allclose(runs[0]["squared_gap"], (runs[0]["noncollapsed"] - rho_powers(config)) ** 2)
    assert np.allclose(runs[0]["linearity"], 0)                           # φ = identity acts linearly


@pytest.mark.parametrize("changes, broken", [
    ({}, []),
    (dict(dataset=DatasetSpec(name="gaussian", n=8, height=8, width=8)), ["dataset centered: μ_c(x) = 0"]),
    (dict(activation="relu"), ["φ = identity"]),
    (dict(beta="normal(0.5, 0.2)"), ["(iii) ν_beta symmetric"]),
    (dict(norm="ln+ws"), ["norm is 'ln' (no +ws, +pn)"]),
])
def test_hypotheses(changes, broken):
    config = NetConfig(widths=8, depth=2, norm="ln", activation="identity", dataset=CENTERED).replace(**changes)
    assert [h.name for h in CLAIM.unmet(config)] == broken


def test_centered_file_dataset(tmp_path):
    data = np.random.default_rng(1).normal(1.0, 1.0, (5, 4, 4, 2))
    np.save(tmp_path / "raw.npy", data)
    np.save(tmp_path / "centered.npy", data - data.mean(axis=(0, 1, 2)))
    config = NetConfig(widths=8, depth=2, norm="ln", activation="identity")
    met = [centered_hypothesis(config.replace(dataset=DatasetSpec(path=str(tmp_path / name)))).met
           for name in ("centered.npy", "raw.npy")]
    assert met == [True, False]


def test_default_configurations():
    for mode in ("quick", "full"):
        configs = CLAIM.configs(mode)
        assert [c.width for c in configs] == list(p6.WIDTHS[mode]) and all(CLAIM.unmet(c) == [] for c in configs)
    assert CLAIM.sweep == "width" and "squared_gap" in CLAIM.reported
