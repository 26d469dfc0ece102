"""P1 / P1-eps: the layer-power identities, their tolerance, hypotheses and negative controls."""
import numpy as np
import pytest

import theorems
from randnet import DatasetSpec, NetConfig, forward, instance_moments, normalize, realization_seed
from tests.helpers import assert_close
from theorems import p1
from theorems._common import roundoff_tolerance

TINY = NetConfig(widths=8, depth=3, dataset=DatasetSpec(n=4, height=4, width=4))
NORMS = [dict(norm="bn"), dict(norm="bn", batch_size=3), dict(norm="ln"), dict(norm="in"), dict(norm="gn", groups=2),
         dict(norm="gn", groups=8), dict(norm="ln+pn"), dict(norm="ln", dtype="float64")]
KEYS = ("layer_power", "channel_power_error", "power_deficit", "deficit_error", "deficit_first_order")
SEEDS = (0, 1)


def _measure(config, k):
    return p1.measure(config, realization_seed(11, k))


@pytest.mark.parametrize("changes", NORMS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_p1_identity_holds_in_every_layer_and_negative_controls_are_violated(changes):
    config = TINY.replace(**changes)
    tol = roundoff_tolerance(config)
    for k in SEEDS:
        m = _measure(config, k)
        assert set(m) == set(KEYS) and all(v.shape == (config.depth,) for v in m.values())
        assert np.all(np.abs(m["layer_power"] - 1) <= tol), m["layer_power"] - 1
        assert np.all(np.abs(m["layer_power"] - (1 + p1.OFFSET * tol)) > tol)       # negative control rejected
        if p1.per_channel(config):
            assert np.all(m["channel_power_error"] <= tol)
        else:                                                                      # ln, gn with C/G > 1
            assert np.any(m["channel_power_error"] > 100 * tol)
    assert len(p1.comparisons(config)) == 1 + p1.per_channel(config)
    assert len(p1.negative_controls(config)) == 2 - p1.per_channel(config)


@pytest.mark.usefixtures("clean_plugin_registry")
def test_a_users_norm_is_measured_its_eps_deficit_undefined():
    """P1 measures P(y^l) of any norm (RMS norm: 1 exactly); the ε-deficit needs a built-in norm's units (NaN)."""
    config = TINY.replace(norm="randnet.examples.rms_norm:rms_norm")
    m = _measure(config, 0)
    assert np.all(np.abs(m["layer_power"] - 1) <= roundoff_tolerance(config))
    assert np.isnan(m["deficit_error"]).all() and np.isnan(m["deficit_first_order"]).all()
    assert not p1.hypotheses(config)[0].met


@pytest.mark.parametrize("norm", ["bmlv", "bmlv_c", "lmbv", "lmbv_c", "preln", "regnorm", "regnorm_ln"])
def test_the_companions_norms_are_measured_like_a_users_norm(norm):
    """The normalizers of SPEC-companions §7A.2 are outside Proposition 1 (hypothesis not met): P1 measures their
    P(y^l) as for a user's norm, their ε-deficit NaN (P1's units are bn's, ln's, in's, gn's). RegNorm's reading B
    is LN's forward, so its power is 1; RegNorm and PreLN divide by the layer std without centring: above 1."""
    config = TINY.replace(norm=norm)
    ss = realization_seed(11, 0)
    m = p1.measure(config, ss)
    direct = [np.mean(layer.y.astype(np.float64) ** 2) for layer in forward(config, ss)]
    assert_close(m["layer_power"], direct, rtol=1e-12)
    assert np.isnan(m["deficit_error"]).all() and np.isnan(m["deficit_first_order"]).all()
    assert not p1.hypotheses(config)[0].met
    if norm == "regnorm_ln":
        assert np.all(np.abs(m["layer_power"] - 1) <= roundoff_tolerance(config))
    elif norm in ("regnorm", "preln"):
        assert np.all(m["layer_power"] > 1)


def test_measure_agrees_with_a_direct_computation_of_the_layer_power():
    config = TINY.replace(norm="gn", groups=4, eps=1e-3)
    ss = realization_seed(11, 0)
    direct = [np.mean(layer.y.astype(np.float64) ** 2) for layer in forward(config, ss)]
    assert_close(p1.measure(config, ss)["layer_power"], direct, rtol=1e-12)


@pytest.mark.parametrize("changes", [dict(norm="bn"), dict(norm="bn", batch_size=3), dict(norm="ln"), dict(norm="in"),
                                     dict(norm="gn", groups=4)], ids=lambda c: "-".join(str(v) for v in c.values()))
def test_unit_variances_are_what_the_norm_divides_by(changes):
    """y = (x − μ_u)/sqrt(σ_u² + ε): recover σ_u² from a normalized array and compare."""
    config = TINY.replace(**changes)
    x = np.random.default_rng(3).normal(1.0, 2.0, (7, 4, 4, 8))
    var, w = p1.unit_variances(config, *instance_moments(x))
    assert_close(w.sum(), 1.0)
    eps = 0.5                                       # 1 − P(y) = Σ_u w_u ε/(σ_u² + ε) exactly
    y = normalize(x, config.base_norm, config.groups, eps, config.batch_size)
    assert_close(1 - np.mean(y ** 2), w @ (eps / (var + eps)), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_eps_deficit_identity_and_its_first_order_form(dtype):
    config = TINY.replace(norm="ln", eps=p1.EPS, dtype=dtype)
    tol = roundoff_tolerance(config)
    m = _measure(config, 0)
    assert np.all(np.abs(m["deficit_error"]) <= tol)
    assert np.all(m["power_deficit"] > 10 * tol)                      # so P1's ε = 0 statement is rejected
    if dtype == "float64":      # ε/(σ² + ε) = ε/σ² − (ε/σ²)² + …: first order is exact to O(ε/σ²) relative
        assert_close(m["deficit_first_order"], m["power_deficit"], rtol=1e-4)


def test_roundoff_tolerance_scales_with_the_dtype_and_resolves_eps():
    t32, t64 = roundoff_tolerance(TINY), roundoff_tolerance(TINY.replace(dtype="float64"))
    u32 = np.finfo(np.float32).eps / 2
    assert 6 * u32 < t32 < 7 * u32 and t64 < 1e-13
    assert t32 < p1.EPS / 20          # a deficit ε/σ² with σ² ~ 1 is resolved


def test_hypotheses():
    unmet = lambda c: [h.name for h in p1.hypotheses(c) if not h.met]   # noqa: E731
    assert unmet(TINY) == []
    assert unmet(TINY.replace(beta="normal(0.5, 0.2)")) == []           # nothing is assumed on the parameters
    assert unmet(TINY.replace(eps=1e-5)) == ["ε = 0"]
    assert [h.name for h in theorems.REGISTRY["P1-eps"].unmet(TINY)] == ["ε > 0"]
    assert len(unmet(TINY.replace(norm="none"))) == 1


def test_an_identically_zero_input_breaks_the_hypothesis_and_the_measurement(tmp_path):
    data = np.random.default_rng(0).normal(size=(3, 4, 4, 2))
    data[1] = 0.0
    np.save(tmp_path / "d.npy", data)
    config = TINY.replace(dataset=DatasetSpec(path=str(tmp_path / "d.npy")))
    assert [h.name for h in p1.hypotheses(config) if not h.met] == ["(i) no input identically zero"]
    with pytest.raises(ValueError, match="identically zero"):
        _measure(config, 0)


def test_bad_input():
    with pytest.raises(ValueError, match="mode"):
        p1.configs("slow")
    with pytest.raises(ValueError, match="P1 is about"):
        p1.unit_variances(TINY.replace(norm="none"), np.ones((2, 8)), np.ones((2, 8)))


def test_registered_with_default_configurations():
    for key in ("P1", "P1-eps"):
        claim = theorems.REGISTRY[key]
        for mode in ("quick", "full"):
            configs = claim.configs(mode)
            assert {c.base_norm for c in configs} == set(p1.NORMS)
            assert all(claim.unmet(c) == [] for c in configs)
