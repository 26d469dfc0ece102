"""P4 (no normalization expresses the identity): the exact constructions and for which φ they are exact, the
smooth construction's Taylor error and O(s²) rate, trained nets against width, and the engine's verdicts."""
import numpy as np
import pytest

from randnet import DatasetSpec, get_activation, realization_seed
from randnet.roundoff import inequality_tolerance as roundoff
from theorems._expressivity import identity_distance
from theorems.p4 import (P4Config, P4TrainConfig, loglog_slope, odd_construction, p4_hypotheses, p4_measure,
                         p4_train_measure, shift_construction, smooth_construction)
from tests.helpers import assert_close
from validation.engine import run_claim

ACTIVATIONS = ("relu", "leaky_relu", "identity", "gelu", "silu", "softplus", "tanh")


def _data(seed=0, shape=(4, 5, 5, 3)):
    rng = np.random.default_rng(seed)
    return 3.0 * rng.standard_normal(shape) + rng.uniform(-2, 2, shape[-1])


def _rel(out, x):
    return identity_distance(out, x) / np.mean(x ** 2)


@pytest.mark.parametrize("kernel_size", [1, 3])
def test_shift_construction_is_exact_for_positive_homogeneous(kernel_size):
    x = _data()
    for a in ("relu", "leaky_relu", "identity"):
        assert _rel(shift_construction(x, a, kernel_size), x) < 1e-28, a


def test_odd_construction_is_exact_exactly_for_the_predicted_activations():
    """φ(x) − φ(−x) = x for ReLU, GELU, SiLU, softplus; 2 tanh x, 1.01 x and 2x otherwise."""
    x = _data(1)
    assert {a for a in ACTIVATIONS if get_activation(a).odd_identity_exact} == {"relu", "gelu", "silu", "softplus"}
    for a in ACTIVATIONS:
        out = odd_construction(x, a, 3)
        if get_activation(a).odd_identity_exact:
            assert _rel(out, x) < 1e-28, a
        else:
            assert _rel(out, x) > 1e-6, a
    assert_close(odd_construction(x, "tanh"), 2 * np.tanh(x), rtol=1e-14, atol=1e-15)
    assert_close(odd_construction(x, "leaky_relu"), 1.01 * x, rtol=1e-14, atol=1e-15)


def test_smooth_construction_error_is_the_taylor_term():
    """(φ(c + s x) − φ(c − s x)) / (2 s φ′(c)) − x = s² x³ φ‴(c) / (6 φ′(c)) + O(s⁴), for tanh:
    φ′ = sech², φ‴ = 2 sech²(c) (3 tanh²(c) − 1)."""
    x, c, s = _data(2), 0.5, 1e-3
    sech2 = 1 / np.cosh(c) ** 2
    leading = s ** 2 * x ** 3 * 2 * sech2 * (3 * np.tanh(c) ** 2 - 1) / (6 * sech2)
    err = smooth_construction(x, "tanh", c, s) - x
    assert_close(err, leading, rtol=1e-4, atol=1e-12)


@pytest.mark.parametrize("activation", ["gelu", "silu", "softplus", "tanh"])
def test_smooth_construction_rate_is_s_squared(activation):
    x, scales = _data(3), np.array([3e-2, 1e-2, 3e-3, 1e-3])
    rms = [np.sqrt(_rel(smooth_construction(x, activation, 0.5, s, 3), x)) for s in scales]
    assert abs(loglog_slope(scales, rms) - 2.0) < 0.01


def test_measure_pinned_and_consistent():
    cfg = P4Config()
    out = p4_measure(cfg, realization_seed(0, 0))
    assert set(out) == {"shift_rel", "odd_rel_exact", "odd_rel_other", "smooth_rms", "smooth_slope"}
    assert out["shift_rel"].shape == (2,) and out["odd_rel_exact"].shape == (4,) and out["odd_rel_other"].shape == (2,)
    assert out["smooth_rms"].shape == (len(cfg.smooth) * len(cfg.scales),)
    assert np.all(out["shift_rel"] < 1e-28) and np.all(out["odd_rel_exact"] < 1e-28)
    assert_close(out["odd_rel_other"][0], 1e-4, rtol=1e-12)  # leaky ReLU: (1.01 − 1)² exactly
    pinned = [1.9991846945863199, 1.9994650734011237, 1.9996364479982758, 2.001132176130779]
    assert_close(out["smooth_slope"], pinned, rtol=1e-9)


def test_config_errors_and_polynomial_hypothesis():
    with pytest.raises(ValueError, match="scales"):
        P4Config(scales=(1e-2,))
    with pytest.raises(ValueError, match="unknown activation"):
        P4Config(activations=("swish",))
    with pytest.raises(ValueError, match="widths"):
        P4TrainConfig(widths=(8, 4))
    with pytest.raises(ValueError, match="depth"):
        P4TrainConfig(depth=1)
    assert not p4_hypotheses(P4Config(activations=("identity", "tanh")))[0].met
    assert p4_hypotheses(P4Config())[0].met
    assert get_activation("identity").positive_homogeneous  # so it lands in the shift construction


def test_trained_no_norm_error_falls_with_width_and_in_stays_above():
    cfg = P4TrainConfig(DatasetSpec(n=4, height=4, width=4, channels=3), widths=(1, 8), steps=80, lr=5e-2)
    out = p4_train_measure(cfg, realization_seed(0, 0))
    assert out["width_slope"][0] < 0 and out["none_over_eta_star"][1] < out["none_over_eta_star"][0]
    assert out["widest_none_over_eta_star"][0] < 1  # the no-norm net beats the IN floor
    assert np.all(out["in_min_over_eta_star"] >= 1 - roundoff("float64"))


def test_engine_passes_p4_and_rejects_its_negative_controls():
    res = run_claim("P4", realizations=2, backend="serial", progress=False)
    assert res.verdict == "PASS"
    assert res.negative_controls_rejected and all(r.negative_controls for r in res.results)
