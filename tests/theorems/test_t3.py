"""T3: the joint test of channel-wise normalization (calibration, power, negative controls) and T3-net."""
import math

import numpy as np
import pytest
from scipy import integrate, stats

from randnet import DatasetSpec, NetConfig, gaussian_moments, get_activation, proxy_activation, realization_seed
from randnet.proxy import quantile_rule
from theorems import t3
from theorems.base import Comparison
from theorems._panels import PanelConfig
from validation.engine import run_claim
from validation.verdicts import FAIL, PASS, judge


def quad_moment(name, a, b, k):
    """E z^k of the standardized φ(a + bY) by adaptive quadrature, split at φ's kink."""
    act = get_activation(name)
    mean, var = gaussian_moments(name, a, b)
    f = lambda y: ((act(np.array(a + b * y)) - mean) / math.sqrt(var)) ** k * stats.norm.pdf(y)  # noqa: E731
    pieces = ((-np.inf, -a / b), (-a / b, np.inf))
    return sum(integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-12)[0] for lo, hi in pieces)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "gelu", "tanh"])
@pytest.mark.parametrize("a, b", [(0.3, 0.6), (-0.2, -1.3), (1.5, 0.5)])
def test_null_moments_match_quadrature(name, a, b):
    k3, k4 = t3.null_moments(name, a, b)
    assert abs(k3 - quad_moment(name, a, b, 3)) < 1e-8
    assert abs(k4 - quad_moment(name, a, b, 4)) < 1e-8


def test_null_moments_of_a_gaussian():
    k3, k4 = t3.null_moments("identity", np.array([0.0, 2.0]), np.array([1.0, -0.5]))
    np.testing.assert_allclose(k3, 0.0, atol=1e-13)
    np.testing.assert_allclose(k4, 3.0, rtol=1e-13)


def draw_channels(rng, activation, n, c):
    """``z = PN(y)`` for ``y ~ N(0, 1)`` and reference γ, β; returns z and its null moments."""
    gamma, beta = rng.normal(1, 0.2, c), rng.normal(0, 0.2, c)
    z = proxy_activation(rng.standard_normal((n, c)), gamma, beta, activation)
    return z, t3.null_moments(activation, beta, gamma)


@pytest.mark.parametrize("activation", ["identity", "relu"])
def test_joint_statistic_is_standardized_under_the_claim(activation):
    rng = np.random.default_rng(1)
    z = np.array([t3.joint_statistic(z, *kappa) for z, kappa in (draw_channels(rng, activation, 256, 16)
                                                                  for _ in range(300))])
    assert abs(z.mean()) < 4 / math.sqrt(300)          # E Z = 0 exactly
    assert 0.85 < z.std() < 1.15                        # Var Z ≈ 1


def test_channel_statistics_rejects_degenerate_channels():
    with pytest.raises(ValueError, match="degenerate channel"):
        t3.channel_statistics(np.ones((10, 2)), np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match=r"shape \(n >= 2, C\)"):
        t3.channel_statistics(np.ones(10), 0.0, 3.0)


def verdict(z_values):
    """The engine's verdict on ``E Z = 0 ± δ_Z`` for one cell."""
    c = Comparison("joint_z", "==", 0.0, t3.Z_TOLERANCE, "mean", "E Z = 0")
    return judge(c, np.asarray(z_values)[:, None]).measured_verdict


@pytest.mark.parametrize("direction", ["mean", "std"])
def test_minimal_detectable_deviation_has_the_stated_power(direction):
    """A common deviation of the reported minimal size is rejected (FAIL) in at least ~80% of seeded runs,
    and no deviation is rejected under the claim."""
    rng = np.random.default_rng(2)
    r, n, c, runs = 10, 512, 16, 60
    shift = t3.required_shift(r, 1, c)
    rejected, null_rejected = 0, 0
    for _ in range(runs):
        draws = [draw_channels(rng, "relu", n, c) for _ in range(r)]
        dmu, dsigma = t3.detectable_deviation(n, *draws[0][1], shift)
        moved = [t3.joint_statistic(z + dmu if direction == "mean" else z * (1 + dsigma), *k) for z, k in draws]
        rejected += verdict(moved) == FAIL
        null_rejected += verdict([t3.joint_statistic(z, *k) for z, k in draws]) == FAIL
    assert rejected / runs >= 0.7, rejected          # stated power 80% (conservative), binomial sd ≈ 0.05
    assert null_rejected == 0


def test_required_shift_grows_with_the_tolerance_and_shrinks_with_realizations():
    assert t3.required_shift(10, 1, 64) > t3.Z_TOLERANCE
    assert t3.required_shift(40, 1, 64) < t3.required_shift(10, 1, 64)
    assert t3.required_shift(10, 6, 64) > t3.required_shift(10, 1, 64)     # Bonferroni over 6 cells
    with pytest.raises(ValueError, match="at least 2 realizations"):
        t3.required_shift(1, 1, 64)


def test_uniform_moments_are_those_of_a_unit_variance_uniform():
    a, b = np.array([0.3, -0.4]), np.array([0.7, 1.2])
    mean, var = t3.uniform_moments("identity", a, b)
    np.testing.assert_allclose(mean, a, rtol=1e-13)
    np.testing.assert_allclose(var, b * b, rtol=1e-12)
    lo, hi = a - math.sqrt(3) * b, a + math.sqrt(3) * b       # E ReLU(a + bU) = ∫_{max(lo,0)}^{hi} t dt / (hi − lo)
    relu_mean = (hi ** 2 - np.maximum(lo, 0) ** 2) / 2 / (hi - lo)
    np.testing.assert_allclose(t3.uniform_moments("relu", a, b)[0], relu_mean, atol=1e-5)


def test_quantile_errors_for_the_identity_are_the_grid_variance():
    """φ = identity: the grid's mean is exact and its variance is b² Σ t_i²/n, so the errors are known."""
    gamma, beta = np.array([0.5, 1.5]), np.array([0.1, -0.2])
    t, w = quantile_rule(200)
    grid_var = gamma ** 2 * ((t * t) @ w)
    for eps in (0.0, 0.03):
        mean_err, std_err = t3.quantile_errors("identity", gamma, beta, eps)
        assert mean_err < 1e-14
        assert std_err == pytest.approx(np.max(np.abs(gamma / np.sqrt(grid_var + eps) - 1)), rel=1e-10)


def test_exact_config_validation_and_hypotheses():
    with pytest.raises(ValueError, match="unknown activation"):
        t3.ExactConfig(activations=("nope",))
    with pytest.raises(ValueError, match="channels must be a positive integer"):
        t3.ExactConfig(channels=0)
    with pytest.raises(ValueError, match="samples must be an integer >= 16"):
        t3.ExactConfig(samples=3)
    assert all(h.met for h in t3.exact_hypotheses(t3.ExactConfig()))
    unmet = [h for h in t3.exact_hypotheses(t3.ExactConfig(gamma="constant(0)")) if not h.met]
    assert len(unmet) == 1 and "γ_c ≠ 0" in unmet[0].name


def test_exact_claim_accepts_the_proxy_and_rejects_the_wrong_ones():
    config = t3.ExactConfig(channels=64, samples=2048, realizations=10)
    result = run_claim("T3", configs=[config], realizations=10, seed=3, backend="serial", progress=False)
    (r,) = result.results
    assert r.verdict == PASS
    for control in r.negative_controls:               # every activation detects both wrong proxies
        assert control.cell_verdicts == (FAIL,) * len(config.activations), control.comparison.label
    assert np.all(r.mean("detectable_mean_shift") < 0.05) and np.all(r.mean("detectable_std_shift") < 0.05)
    assert np.all(r.mean("quantile_std_error") > r.mean("quantile_grid_std_error"))   # ε = 0.03 adds error


# -- T3-net ----------------------------------------------------------------------------------------------------
SMALL_NET = NetConfig(widths=16, depth=8, dataset=DatasetSpec(n=8, height=8, width=8))


def test_collapse_fraction_and_imbalance():
    constant = np.zeros((4, 3))
    constant[0] = [1.0, 4.0, 9.0]                       # every channel constant (collapsed), powers 1, 4, 9
    assert t3.collapse_fraction(constant) == 1.0
    assert t3.imbalance(constant) == pytest.approx(np.std([1, 4, 9]) / np.mean([1, 4, 9]))
    balanced = np.full((4, 5), 0.25)
    assert t3.collapse_fraction(balanced) == 0.25 and t3.imbalance(balanced) == 0.0


def test_net_measure_shapes_and_exact_normalization_of_bn_and_in():
    config = PanelConfig(SMALL_NET, t3.T3_NET_NORMS, groups=4)
    out = t3.net_measure(config, realization_seed(0, 0))
    for norm in t3.T3_NET_NORMS:
        for key in ("mean_y_dev", "std_y_dev", "mean_z_dev", "std_z_dev", "collapse_step", "imbalance_step"):
            assert out[f"{key}[{norm}]"].shape == (8,)
        assert out[f"power_y[{norm}]"].shape == (8, 4)
    for norm in ("bn", "in"):                           # y^l normalized per channel exactly (float32 round-off)
        assert out[f"mean_y_dev[{norm}]"].max() < 1e-5 and out[f"std_y_dev[{norm}]"].max() < 1e-5
    assert out["mean_y_dev[ln]"].min() > 0.1            # LN does not normalize channels
    np.testing.assert_allclose(out["gap"], [out["distance[ln]"][0] - out["distance[ln+pn]"][0],
                                            out["distance[gn]"][0] - out["distance[gn+pn]"][0]])
    assert "distance[bn]" not in out


def test_net_measure_needs_the_compared_norms():
    with pytest.raises(ValueError, match="lacks gn, gn\\+pn"):
        t3.net_measure(PanelConfig(SMALL_NET, ("bn", "ln", "ln+pn")), realization_seed(0, 0))


def test_net_hypotheses_flag_eps_and_the_quantile_grid():
    assert all(h.met for h in t3.net_hypotheses(PanelConfig(SMALL_NET, t3.T3_NET_NORMS, groups=4)))
    bad = PanelConfig(SMALL_NET.replace(eps=1e-3, proxy_method="quantile"), t3.T3_NET_NORMS, groups=4)
    assert [h.met for h in t3.net_hypotheses(bad)] == [False, False]


def test_net_claim_seeded():
    config = PanelConfig(SMALL_NET, t3.T3_NET_NORMS, groups=4)
    result = run_claim("T3-net", configs=[config], realizations=6, seed=0, backend="serial", progress=False)
    assert result.verdict == PASS and result.negative_controls_rejected
