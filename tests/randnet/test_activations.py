"""Activations: values, derivatives, the positive-homogeneity flag and its slopes (SPEC P2)."""
import math

import numpy as np
import pytest
from scipy import special

from randnet import ACTIVATIONS, get_activation
from randnet.activations import LEAKY_SLOPE
from tests.helpers import assert_close

T = np.linspace(-6, 6, 241)
EXPECTED = {
    "relu": np.maximum(T, 0),
    "leaky_relu": np.where(T >= 0, T, LEAKY_SLOPE * T),
    "identity": T,
    "gelu": T * special.ndtr(T),
    "tanh": np.tanh(T),
    "silu": T / (1 + np.exp(-T)),
    "softplus": np.log1p(np.exp(T)),
}


def test_every_activation_is_tested():
    assert set(ACTIVATIONS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_values(name):
    assert_close(ACTIVATIONS[name](T), EXPECTED[name], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_derivative_matches_central_differences(name):
    act = ACTIVATIONS[name]
    t = T[np.abs(T) > 0.02]  # away from the kink of the piecewise-linear ones
    h = 1e-5
    assert_close(act.derivative(t), (act(t + h) - act(t - h)) / (2 * h), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_positive_homogeneity_flag(name):
    """φ(λt) = λφ(t) for λ ≥ 0 exactly when flagged; slopes (a, b) = (φ(1), −φ(−1)) then reproduce φ."""
    act = ACTIVATIONS[name]
    gaps = [np.max(np.abs(act(lam * T) - lam * act(T))) for lam in (0.0, 0.3, 2.5)]
    if act.positive_homogeneous:
        assert max(gaps) < 1e-14
        a, b = act.slopes
        assert (a, b) == (float(act(np.array(1.0))), -float(act(np.array(-1.0))))
        assert_close(act(T), np.where(T >= 0, a * T, b * T), rtol=0, atol=1e-15)
    else:
        assert max(gaps) > 1e-2 and act.slopes is None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_float32_is_kept(name):
    t = T.astype(np.float32)
    out = ACTIVATIONS[name](t)
    assert out.dtype == np.float32
    assert_close(out, EXPECTED[name], rtol=1e-6, atol=1e-6)


def test_softplus_is_stable_for_large_arguments():
    big = np.array([-800.0, 800.0])
    out = ACTIVATIONS["softplus"](big)
    assert np.all(np.isfinite(out)) and out[1] == 800.0 and 0 <= out[0] < 1e-300


def test_lookup():
    assert get_activation("tanh") is ACTIVATIONS["tanh"]
    assert get_activation(ACTIVATIONS["relu"]) is ACTIVATIONS["relu"]
    with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of"):
        get_activation("swish")
    assert math.isclose(LEAKY_SLOPE, ACTIVATIONS["leaky_relu"].slopes[1])


def test_every_activation_has_a_fused_kernel_code_and_a_torch_form():
    """Distinct kernel codes (a missing one would silently take the slow numpy path); torch is not imported
    by randnet, only by torch_form()."""
    codes = [a.code for a in ACTIVATIONS.values()]
    assert None not in codes and len(set(codes)) == len(codes)
    assert all(a.torch is not None for a in ACTIVATIONS.values())


def test_closed_form_moments_and_flags():
    """Closed-form Gaussian moments exactly for the piecewise-linear φ; φ(t) − φ(−t) ≡ t (the odd part of φ is
    t/2) exactly for ReLU, GELU, SiLU, softplus; identity is the only polynomial."""
    assert {n for n, a in ACTIVATIONS.items() if a.moments is not None} == {"relu", "leaky_relu", "identity"}
    assert {n for n, a in ACTIVATIONS.items() if a.odd_identity_exact} == {"relu", "gelu", "silu", "softplus"}
    assert {n for n, a in ACTIVATIONS.items() if a.polynomial} == {"identity"}
    for name, act in ACTIVATIONS.items():
        gap = np.max(np.abs(act(T) - act(-T) - T))
        assert (gap < 1e-13) == act.odd_identity_exact, name


def test_import_randnet_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, randnet; randnet.get_activation('relu'); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_arccos_matches_math_acos():
    """randnet.activations.arccos (fdlibm's rational form, used by the arc-cosine kernel map) against math.acos."""
    from randnet.activations import arccos

    grid = np.concatenate([np.linspace(-1, 1, 200_001), 1 - np.logspace(-17, 0, 2000), -1 + np.logspace(-17, 0, 2000),
                           [0.5, -0.5, np.nextafter(0.5, 0), np.nextafter(-0.5, 0)]])
    err = max(abs(arccos(x) - math.acos(x)) for x in grid)
    assert err <= 4.5e-16
