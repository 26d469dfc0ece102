"""The numba moment kernels of randnet.stats against their slow, obviously-correct references."""
import numpy as np
import pytest

from randnet import channel_linearity, cross_moments, instance_moments, power_decomposition
from randnet.stats import (channel_moments, input_moments, linearity_residual, power_terms,
                           reference_linearity, reference_power_decomposition)
from tests.helpers import assert_close

# dtype -> (rtol, atol) of a float64 statistic of data stored in that dtype, against a float64 reference
# computed from the same stored values (the kernels accumulate in float64, so both dtypes are ~1e-12).
TOL = {np.float64: (1e-12, 1e-14), np.float32: (1e-5, 1e-7)}
SHAPES = [(5, 4, 6, 3), (1, 1, 1, 2), (7, 3, 2, 1)]


def _tensor(shape, dtype, seed=0, offset=True):
    """Per-channel offsets and per-input scales, so that all four power terms are non-trivial."""
    rng = np.random.default_rng(seed)
    n, _, _, c = shape
    a = rng.standard_normal(shape) * rng.uniform(0.5, 2.0, (n, 1, 1, 1)) + rng.standard_normal((n, 1, 1, c))
    if offset:
        a += rng.uniform(-3, 3, c)
    return a.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_instance_moments_match_numpy(shape, dtype):
    a = _tensor(shape, dtype)
    mean, var = instance_moments(a)
    ref = a.astype(np.float64)
    assert mean.dtype == var.dtype == np.float64
    assert_close(mean, ref.mean(axis=(1, 2)), rtol=1e-12, atol=1e-14)
    assert_close(var, ref.var(axis=(1, 2)), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_power_decomposition_matches_reference(shape, dtype):
    a = _tensor(shape, dtype)
    terms = power_decomposition(a)
    assert terms.shape == (4, shape[-1])
    rtol, atol = TOL[dtype]
    assert_close(terms, reference_power_decomposition(a), rtol=rtol, atol=atol)
    # the same data in float64: the float32 kernel loses nothing beyond the storage rounding
    assert_close(terms, reference_power_decomposition(a.astype(np.float64)), rtol=1e-12, atol=1e-14)


def test_power_terms_sum_to_channel_power():
    """Eq. 5: the four rows sum to P_c(a) = mean of a² over (x, h, w), and the layer level to P(a)."""
    a = _tensor((6, 5, 4, 4), np.float64, seed=3)
    terms = power_decomposition(a)
    assert_close(terms.sum(axis=0), np.mean(a ** 2, axis=(0, 1, 2)), rtol=1e-13)
    assert_close(terms.mean(axis=1).sum(), np.mean(a ** 2), rtol=1e-13)
    assert np.all(terms >= 0)


def test_power_terms_single_out_each_kind_of_variability():
    """Data built with only one kind of variability puts all its power in that term."""
    rng = np.random.default_rng(1)
    n, h, w, c = 6, 4, 4, 3
    e = rng.standard_normal((n, h, w, c))
    e = (e - e.mean(axis=(1, 2), keepdims=True)) / e.std(axis=(1, 2), keepdims=True)  # instance mean 0, std 1
    const = np.broadcast_to(rng.uniform(1, 2, c), (n, h, w, c))
    means = np.broadcast_to(rng.standard_normal((n, 1, 1, c)), (n, h, w, c))
    means = means - means.mean(axis=0)
    scales = rng.uniform(0.5, 2, (n, 1, 1, c))
    cases = {0: const, 1: means, 2: e, 3: None}
    for row, a in cases.items():
        if a is None:  # instance stds vary: the std term (3) and its variation (4) are both present
            a = scales * e
            expected = np.stack([np.zeros(c), np.zeros(c), scales.mean(axis=0).ravel() ** 2,
                                 scales.reshape(n, c).var(axis=0)])
        else:
            expected = np.zeros((4, c))
            expected[row] = np.mean(a ** 2, axis=(0, 1, 2))
        assert_close(power_decomposition(a), expected, rtol=1e-12, atol=1e-14, msg=f"row {row}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_moments_match_numpy(dtype):
    y = _tensor((5, 4, 3, 4), dtype, seed=1)
    z = (np.maximum(y, 0) + 0.1 * _tensor(y.shape, dtype, seed=2)).astype(dtype)
    cm = cross_moments(y, z)
    y64, z64 = (v.astype(np.float64).reshape(-1, y.shape[-1]) for v in (y, z))
    expected = dict(mean_y=y64.mean(0), mean_z=z64.mean(0), var_y=y64.var(0), var_z=z64.var(0),
                    cov=np.mean((y64 - y64.mean(0)) * (z64 - z64.mean(0)), axis=0),
                    min_y=y64.min(0), max_y=y64.max(0))
    assert set(cm) == set(expected)
    for key, ref in expected.items():
        assert_close(cm[key], ref, rtol=1e-12, atol=1e-14, msg=key)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linearity_residual_matches_least_squares(dtype):
    y = _tensor((6, 4, 4, 5), dtype, seed=4)
    z = np.tanh(y) + 0.5 * y ** 2
    cm = cross_moments(y, z)
    res = linearity_residual(cm["var_y"], cm["var_z"], cm["cov"])
    ref = reference_linearity(y, z)
    assert np.all(ref > 1e-3)  # a nonlinear map: the residual is far from zero
    assert_close(res, ref, rtol=1e-10, atol=1e-13 * float(np.max(cm["var_z"])))


def test_linearity_residual_vanishes_for_affine_maps_and_constant_channels():
    y = _tensor((4, 3, 3, 3), np.float64, seed=5)
    z = np.array([2.0, -0.5, 0.0]) * y + np.array([1.0, 3.0, -2.0])  # exactly affine (last: constant)
    cm = cross_moments(y, z)
    res = linearity_residual(cm["var_y"], cm["var_z"], cm["cov"])
    assert_close(res, np.zeros(3), atol=1e-13)
    # a constant y: nothing is explained, the residual is the whole variance of z
    y0 = np.ones_like(y)
    cm0 = cross_moments(y0, y)
    assert_close(linearity_residual(cm0["var_y"], cm0["var_z"], cm0["cov"]), cm0["var_z"], rtol=1e-15)


def test_channel_linearity_is_the_power_ratio():
    """Λ = P(z − z̃) / P(z) (Eqs. 8–9) from the reference fit."""
    y = _tensor((5, 3, 4, 4), np.float64, seed=6)
    z = np.maximum(y, 0)
    expected = reference_linearity(y, z).sum() / np.mean(z ** 2, axis=(0, 1, 2)).sum()
    assert_close(channel_linearity(y, z), expected, rtol=1e-11)
    assert 0 < channel_linearity(y, z) < 1
    assert channel_linearity(y, 3 * y + 1) < 1e-14


def test_channel_and_input_moments_from_instance_moments():
    """Law of total variance: channel and per-input (per-group) moments combine instance moments exactly."""
    a = _tensor((5, 3, 4, 6), np.float64, seed=7)
    m, v = instance_moments(a)
    mu, var = channel_moments(m, v)
    assert_close(mu, a.mean(axis=(0, 1, 2)), rtol=1e-13, atol=1e-15)
    assert_close(var, a.var(axis=(0, 1, 2)), rtol=1e-12)
    for groups in (1, 2, 3, 6):
        g = a.reshape(5, 3, 4, groups, 6 // groups)
        mu_x, var_x = input_moments(m, v, groups)
        assert_close(mu_x, g.mean(axis=(1, 2, 4)), rtol=1e-13, atol=1e-15, msg=f"G={groups}")
        assert_close(var_x, g.var(axis=(1, 2, 4)), rtol=1e-12, msg=f"G={groups}")


def test_power_terms_from_instance_statistics():
    m = np.array([[1.0, -2.0], [3.0, 0.0]])
    s = np.array([[1.0, 2.0], [3.0, 2.0]])
    expected = np.array([[4.0, 1.0], [1.0, 1.0], [4.0, 4.0], [1.0, 0.0]])
    assert_close(power_terms(m, s), expected, rtol=1e-15)


def test_integer_input_is_promoted():
    a = np.arange(2 * 2 * 3 * 2).reshape(2, 2, 3, 2)
    assert_close(power_decomposition(a), reference_power_decomposition(a), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("fn", [instance_moments, power_decomposition])
def test_rejects_non_nhwc(fn):
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        fn(np.zeros((3, 4, 5)))


def test_cross_moments_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        cross_moments(np.zeros((2, 2, 2, 3)), np.zeros((2, 2, 2, 2)))
