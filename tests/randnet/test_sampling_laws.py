"""The sampling laws of Definition 1 tested directly (SPEC §2): ω's fan-in scaling and RMS, γ's and β's laws, and the
variance propagation of the unnormalized net. Normalized nets are scale-invariant, so a wrong weight scale passes every
normalized claim: only these tests (and the unnormalized claims) can see it. Seeded; bounds of 6 standard errors."""
import numpy as np
import pytest
from scipy import stats

from randnet import DatasetSpec, NetConfig, layer_stream, realization_seed
from randnet.net import sample_layer

K, C_IN, C_OUT, LAYERS = 3, 48, 64, 40
REFERENCE = NetConfig(widths=C_OUT, depth=LAYERS, norm="ln", dataset=DatasetSpec(n=4, height=6, width=6))


def pooled(config: NetConfig, field: str) -> np.ndarray:
    """``field`` of layers 2..LAYERS (fan-in C_OUT) of one realization, pooled, in float64."""
    ss = realization_seed(11, 0)
    return np.concatenate([getattr(sample_layer(config, ss, l, C_OUT), field).astype(np.float64).ravel()
                           for l in range(2, LAYERS + 1)])


def assert_mean(values: np.ndarray, expected: float) -> None:
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert abs(values.mean() - expected) <= 6 * se + 1e-12, (values.mean(), expected, se)


def test_weights_have_unit_rms_after_fan_in_scaling():
    """``E[ω²] · K² C^{l−1} = ‖ν_ω‖₂² = 1`` (the truncated normal is rescaled to unit RMS before the fan-in factor)."""
    w = pooled(REFERENCE, "weight")
    assert_mean(w ** 2 * K * K * C_OUT, 1.0)
    assert_mean(w, 0.0)


def test_weights_are_truncated_at_two_standard_deviations():
    """``ν_ω`` = N(0, 1) truncated to ±2 std, rescaled to unit RMS: ``|ω| sqrt(K² C) ≤ 2 / sd`` and the extremes
    reach close to it; the fraction beyond ±1 std (rescaled) is the truncated normal's."""
    scaled = pooled(REFERENCE, "weight") * np.sqrt(K * K * C_OUT)
    sd = np.sqrt(stats.truncnorm(-2, 2).var())
    assert np.abs(scaled).max() <= 2 / sd * (1 + 1e-6)
    assert np.abs(scaled).max() >= 0.99 * 2 / sd
    beyond = np.abs(scaled * sd) > 1
    p = 2 * stats.truncnorm(-2, 2).sf(1)
    assert abs(beyond.mean() - p) <= 6 * np.sqrt(p * (1 - p) / beyond.size)


def test_first_layer_fan_in_is_its_input_channels():
    """Layer 1's fan-in is ``K² C⁰`` with the dataset's channels."""
    w = sample_layer(REFERENCE, realization_seed(3, 0), 1, 3).weight.astype(np.float64)
    assert w.shape == (K, K, 3, C_OUT)
    assert_mean(w.ravel() ** 2 * K * K * 3, 1.0)


@pytest.mark.parametrize("field, mean, std", [("gamma", 1.0, 0.2), ("beta", 0.0, 0.2)])
def test_gamma_and_beta_follow_the_reference_laws(field, mean, std):
    """``ν_γ = N(1, 0.2²)``, ``ν_β = N(0, 0.2²)`` (SPEC §2): mean and variance of the pooled draws."""
    v = pooled(REFERENCE, field)
    assert_mean(v, mean)
    assert_mean((v - mean) ** 2, std ** 2)


def test_unnormalized_linear_net_preserves_the_power_in_expectation():
    """With no norm, ``φ = identity``, ``γ = 1``, ``β = 0``: the periodic conv with i.i.d. zero-mean unit-RMS
    fan-in-scaled weights gives ``E_ω P(x^l) = ‖ν_ω‖₂² P(z^{l−1}) = P(z^{l−1})``: the per-layer gains have mean 1."""
    config = NetConfig(widths=32, depth=6, norm="none", activation="identity", gamma="constant(1)",
                       beta="constant(0)", dataset=DatasetSpec(n=4, height=6, width=6))
    gains = np.array([s.power_x.sum(axis=0).mean() / s.power_in.sum(axis=0).mean()
                      for k in range(8) for s in layer_stream(config, realization_seed(5, k))])
    assert_mean(gains, 1.0)
    assert 0.85 < gains.mean() < 1.15
