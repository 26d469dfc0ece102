"""P2: the collapse ⇒ linearity bound holds channel by channel; its false tighter version is violated."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from randnet import DatasetSpec, Layer, LayerParams, NetConfig, forward, get_activation, layer_statistics, \
    power_decomposition, realization_seed
from randnet.stats import reference_linearity
from randnet.roundoff import linearity_tolerance
from theorems import p2
from theorems._panels import PanelConfig
from validation.engine import run_claim
from validation.verdicts import FAIL, PASS, UNMET

SMALL_NET = NetConfig(widths=16, depth=8, dataset=DatasetSpec(n=8, height=8, width=8))


def stats_of(u: np.ndarray, activation: str, gamma=None, beta=None):
    """LayerStats of a layer whose normalized output is ``y`` with ``u = γ y + β`` (float64, shape (N,H,W,C))."""
    c = u.shape[-1]
    gamma = np.ones(c) if gamma is None else gamma
    beta = np.zeros(c) if beta is None else beta
    y = (u - beta) / gamma
    z = get_activation(activation)(u)
    layer = Layer(1, y, y, z, LayerParams(np.zeros((1, 1, c, c)), gamma, beta))
    return layer_statistics(layer, power_decomposition(y))


@pytest.mark.filterwarnings("ignore:invalid value encountered in scalar divide")   # Λ^l = 0/0 when z ≡ 0
@settings(max_examples=40)
@given(seed=st.integers(0, 2 ** 32 - 1), activation=st.sampled_from(["relu", "leaky_relu", "identity"]),
       shape=st.sampled_from(["normal", "skewed", "discrete"]), shift=st.floats(-3, 3), scale=st.floats(0.05, 3))
def test_bound_holds_per_channel_on_arbitrary_data(seed, activation, shape, shift, scale):
    """Λ_c ≤ B_c (and the sharp Λ_c ≤ B_c/4 under (b)) for channels of any distribution, in float64."""
    rng = np.random.default_rng(seed)
    size = (4, 5, 5, 6)
    e = {"normal": rng.standard_normal(size), "skewed": rng.exponential(1.0, size) - 1.0,
         "discrete": rng.integers(-2, 3, size).astype(float)}[shape]
    u = shift * rng.uniform(0, 1, 6) + scale * rng.uniform(0.1, 1, 6) * e
    gamma, beta = rng.uniform(0.2, 2, 6) * rng.choice([-1, 1], 6), rng.normal(0, 1, 6)
    stats = stats_of(u, activation, gamma, beta)
    net = NetConfig(activation=activation, dtype="float64")
    out = p2.layer_measure(stats, net)
    tol = linearity_tolerance("float64", u[..., 0].size)
    assert out["excess"] <= tol
    assert out["tightness"] <= 0.25 + tol


def test_one_sign_channels_are_exactly_linear():
    rng = np.random.default_rng(0)
    u = 2.0 + 0.5 * rng.standard_normal((4, 6, 6, 3))
    u[..., 1] *= -1                                        # one channel all negative
    stats = stats_of(u, "relu")
    bounds = p2.channel_bounds(stats, (1.0, 0.0))
    assert bounds["a"].tolist() == [True, True, True]
    np.testing.assert_array_equal(bounds["bound"], 0.0)
    lam = p2.normalized_residual(*p2.activation_power(stats, NetConfig(dtype="float64")))
    assert np.all(lam < 1e-14)                             # 0 up to round-off (channel 1: z ≡ 0, 0/0 := 0)


# A three-point distribution (1024 points) near the supremum Λ_c/B_c = 1/4: bound (b)/4 is sharp up to a
# factor 1.37, so "bound (b)/8" is false — and "bound (b)/64", the negative control, all the more.
NEAR_TIGHT = np.repeat([-4.59640524, 0.12162487, 0.52247942], [1, 157, 866]).reshape(4, 16, 16, 1)


def test_the_constant_of_bound_b_is_at_most_four_times_too_large():
    stats = stats_of(NEAR_TIGHT, "relu")
    out = p2.layer_measure(stats, NetConfig(dtype="float64"))
    assert 0.18 < out["tightness"] <= 0.25
    assert out["excess"] < 0 < out["excess_false"]
    # the measured Λ agrees with an explicit least-squares fit
    lam = p2.normalized_residual(*p2.activation_power(stats, NetConfig(dtype="float64")))
    z = np.maximum(NEAR_TIGHT, 0)
    np.testing.assert_allclose(lam, reference_linearity(NEAR_TIGHT, z) / np.mean(z ** 2), rtol=1e-9)


def test_proxy_norm_layers_are_judged_on_phi_of_u():
    """For ``+pn`` the P2 quantities are those of φ(u) itself, recovered from PN's output exactly."""
    net = SMALL_NET.replace(norm="ln+pn", dtype="float64", depth=2)
    ss = realization_seed(0, 0)
    for layer in forward(net, ss):
        stats = layer_statistics(layer, np.zeros((4, 16)))
        residual, power = p2.activation_power(stats, net)
        phi = np.maximum(layer.params.gamma * layer.y + layer.params.beta, 0)
        np.testing.assert_allclose(power, np.mean(phi ** 2, axis=(0, 1, 2)), rtol=1e-10)
        np.testing.assert_allclose(residual, reference_linearity(layer.y, phi), rtol=1e-7, atol=1e-13)


def test_negative_control_is_violated_in_random_nets_and_the_claim_is_not():
    config = PanelConfig(SMALL_NET, p2.P2_NORMS, groups=4)
    out = p2.p2_measure(config, realization_seed(0, 0))
    tol = linearity_tolerance("float32", 8 * 8 * 8)
    for norm in p2.P2_NORMS:
        assert out[f"excess[{norm}]"].shape == (8,) and np.all(out[f"excess[{norm}]"] <= tol)
    assert np.max(out["excess_false"]) > 10 * tol          # violated by far more than round-off
    assert np.all(out["tightness"] < 0.25)
    assert np.all(out["linearity[bn]"] > out["linearity[ln]"][-1])   # LN's deep layers are the most linear


def test_hypotheses_and_roundoff():
    assert [h.met for h in p2.p2_hypotheses(PanelConfig(SMALL_NET, ("ln",)))] == [True]
    assert [h.met for h in p2.p2_hypotheses(PanelConfig(SMALL_NET.replace(activation="tanh"), ("ln",)))] == [False]
    assert linearity_tolerance("float32", 100) > linearity_tolerance("float64", 100) > 0
    assert p2.slopes("leaky_relu") == (1.0, 0.01) and p2.slopes("identity") == (1.0, 1.0)
    assert p2.slopes("tanh") == pytest.approx((np.tanh(1.0), np.tanh(1.0)))


def test_a_non_homogeneous_activation_is_measured_and_flagged():
    """tanh breaks the hypothesis: P2 is still measured (its secant slopes give the bound 0, which tanh's
    nonlinearity violates) and the verdict is HYPOTHESIS NOT MET, never PASS."""
    config = PanelConfig(SMALL_NET.replace(activation="tanh", depth=3), ("ln",))
    result = run_claim("P2", configs=[config], realizations=1, seed=0, backend="serial", progress=False)
    (judgement,) = result.results[0].comparisons
    assert judgement.verdict == UNMET and judgement.measured_verdict == FAIL


def test_p2_claim_seeded():
    config = PanelConfig(SMALL_NET, ("ln", "bn"))
    result = run_claim("P2", configs=[config], realizations=2, seed=0, backend="serial", progress=False)
    assert result.verdict == PASS and result.negative_controls_rejected
