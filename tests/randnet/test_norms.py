"""randnet.normalize against PyTorch's normalizations, weight standardization, and the norm registry.

Our layout is (N, H, W, C), PyTorch's (N, C, H, W). PyTorch normalizes with the biased (population)
variance, as SPEC §1 asks, so the two must agree to round-off.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from randnet import NORMALIZATIONS, normalize, parse_norm, register_normalization, weight_standardize
from tests.helpers import assert_close

# (rtol, atol) against torch run in float64; our statistics are float64 in both dtypes, so float32 output
# carries only its own rounding, plus torch's float32 arithmetic when torch runs in float32.
TOL = {np.float64: (1e-12, 1e-12), np.float32: (2e-6, 2e-6)}
EPSILONS = (0.0, 1e-3, 0.5)
GROUPS = (1, 2, 3, 6)


def _data(dtype, shape=(4, 5, 3, 6), seed=0):
    rng = np.random.default_rng(seed)
    n, _, _, c = shape
    x = rng.standard_normal(shape) * rng.uniform(0.5, 2, (n, 1, 1, c)) + rng.uniform(-2, 2, (n, 1, 1, c))
    return x.astype(dtype)


def _torch(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _numpy(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def _torch_reference(x, kind, groups=None, eps=0.0):
    """PyTorch's normalization of the same values, computed in float64."""
    t = _torch(x.astype(np.float64))
    if kind == "bn":  # torch refuses eps = 0 in training; 1e-300 is below the last bit of any variance here
        bn = torch.nn.BatchNorm2d(t.shape[1], eps=max(eps, 1e-300), affine=False, momentum=0.5,
                                  dtype=torch.float64).train()
        return _numpy(bn(t))
    if kind == "ln":
        return _numpy(F.layer_norm(t, t.shape[1:], eps=eps))
    if kind == "gn":
        return _numpy(F.group_norm(t, groups, eps=eps))
    if kind == "in":
        return _numpy(F.instance_norm(t, eps=eps))
    raise AssertionError(kind)


CASES = [("bn", None), ("ln", None), ("in", None)] + [("gn", g) for g in GROUPS]


@pytest.mark.parametrize("eps", EPSILONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind, groups", CASES)
def test_matches_pytorch(kind, groups, dtype, eps):
    x = _data(dtype)
    y = normalize(x, kind, groups=groups, eps=eps)
    assert y.dtype == dtype and y.shape == x.shape
    rtol, atol = TOL[dtype]
    assert_close(y, _torch_reference(x, kind, groups, eps), rtol=rtol, atol=atol)


@pytest.mark.parametrize("kind, groups", CASES)
def test_float32_matches_pytorch_float32(kind, groups):
    """Against PyTorch's own float32 computation (its float32 statistics set the tolerance)."""
    x = _data(np.float32, seed=1)
    t = _torch(x)
    ref = {"bn": lambda: torch.nn.BatchNorm2d(6, eps=1e-5, affine=False).train()(t),
           "ln": lambda: F.layer_norm(t, t.shape[1:], eps=1e-5),
           "in": lambda: F.instance_norm(t, eps=1e-5),
           "gn": lambda: F.group_norm(t, groups, eps=1e-5)}[kind]()
    assert_close(normalize(x, kind, groups=groups, eps=1e-5), _numpy(ref), rtol=1e-5, atol=1e-5)


def test_gn_with_one_group_is_ln_and_with_c_groups_is_in():
    x = _data(np.float64, seed=2)
    assert_close(normalize(x, "gn", groups=1), normalize(x, "ln"), rtol=1e-13, atol=1e-14)
    assert_close(normalize(x, "gn", groups=x.shape[-1]), normalize(x, "in"), rtol=1e-13, atol=1e-14)


def test_gn_groups_are_contiguous_channels():
    """Group g holds channels g·C/G … (g+1)·C/G − 1: normalizing each block alone with LN gives the same."""
    x = _data(np.float64, seed=3)
    blocks = [normalize(x[..., 3 * g:3 * g + 3], "ln") for g in range(2)]
    assert_close(normalize(x, "gn", groups=2), np.concatenate(blocks, axis=-1), rtol=1e-13, atol=1e-14)


def test_none_is_identity():
    x = _data(np.float32)
    assert np.array_equal(normalize(x, "none"), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 10])
def test_bn_batch_size_is_per_batch_batchnorm(batch_size, dtype):
    """Mini-batch BN = BatchNorm2d (training mode) on each consecutive batch; the last may be smaller."""
    x = _data(dtype, shape=(7, 3, 4, 5), seed=4)
    y = normalize(x, "bn", eps=1e-3, batch_size=batch_size)
    ref = np.concatenate([_torch_reference(x[i:i + batch_size], "bn", eps=1e-3)
                          for i in range(0, len(x), batch_size)])
    rtol, atol = TOL[dtype]
    assert_close(y, ref, rtol=rtol, atol=atol)
    if batch_size < len(x):  # negative control: mini-batch statistics differ from full-batch ones
        assert np.max(np.abs(y - normalize(x, "bn", eps=1e-3))) > 1e-2


def test_integer_input_gives_float64():
    x = np.arange(2 * 3 * 3 * 2).reshape(2, 3, 3, 2) % 5
    y = normalize(x, "in")
    assert y.dtype == np.float64
    assert_close(y, normalize(x.astype(np.float64), "in"), rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weight_standardize(dtype):
    """Each output filter w[..., o] has zero mean and unit std over its K·K·C_in fan-in."""
    rng = np.random.default_rng(5)
    w = (rng.standard_normal((3, 3, 4, 5)) * rng.uniform(0.1, 3, 5) + rng.uniform(-1, 1, 5)).astype(dtype)
    ws = weight_standardize(w)
    assert ws.dtype == dtype and ws.shape == w.shape
    flat = ws.astype(np.float64).reshape(-1, 5)
    tol = 1e-14 if dtype == np.float64 else 1e-6
    assert_close(flat.mean(axis=0), np.zeros(5), atol=tol)
    assert_close(flat.std(axis=0), np.ones(5), rtol=tol)
    # it is an affine map of each filter: standardizing again changes nothing, and the shape is kept
    assert_close(weight_standardize(ws), ws, rtol=10 * tol, atol=10 * tol)
    w64 = w.astype(np.float64).reshape(-1, 5)
    assert_close(flat, (w64 - w64.mean(0)) / w64.std(0), rtol=10 * tol, atol=10 * tol)


def test_weight_standardize_errors():
    with pytest.raises(ValueError, match=r"\(K, K, C_in, C_out\)"):
        weight_standardize(np.ones((3, 3, 4)))
    w = np.random.default_rng(0).standard_normal((3, 3, 2, 2))
    w[..., 1] = 0.7
    with pytest.raises(ZeroDivisionError, match="weight standardization denominator is zero"):
        weight_standardize(w)


@pytest.mark.parametrize("kind, groups", CASES)
def test_constant_slice_with_zero_eps_raises(kind, groups):
    x = _data(np.float64)
    x[0] = 0.1  # input 0 constant: a zero (or round-off) denominator for ln, in, gn; bn's channels stay varied
    x[:, :, :, 0] = 0.3 if kind == "bn" else x[:, :, :, 0]
    with pytest.raises(ZeroDivisionError, match="denominator"):
        normalize(x, kind, groups=groups)
    normalize(x, kind, groups=groups, eps=1e-5)  # ε > 0 is well defined


@pytest.mark.parametrize("call, match", [
    (lambda x: normalize(x, "batch"), "unknown normalization 'batch'"),
    (lambda x: normalize(x[0], "ln"), r"\(N, H, W, C\)"),
    (lambda x: normalize(x, "ln", eps=-1e-3), "eps"),
    (lambda x: normalize(x, "ln", eps=float("nan")), "eps"),
    (lambda x: normalize(x.astype(complex), "ln"), "real"),
    (lambda x: normalize(x, "gn", groups=4), "groups dividing the width 6"),
    (lambda x: normalize(x, "gn"), "groups"),
    (lambda x: normalize(x, "gn", groups=0), "groups"),
    (lambda x: normalize(x, "gn", groups=2.0), "groups"),
    (lambda x: normalize(x, "ln", batch_size=2), "batch_size applies to the norms with batch statistics"),
    (lambda x: normalize(x, "bn", batch_size=0), "batch_size must be a positive integer"),
    (lambda x: normalize(x, "bn", batch_size=1.5), "batch_size must be a positive integer"),
])
def test_bad_input_raises_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(_data(np.float64))


def test_parse_norm():
    assert parse_norm("ln") == ("ln", False, False)
    assert parse_norm("LN+WS") == ("ln", True, False)
    assert parse_norm("gn+pn") == ("gn", False, True)
    assert parse_norm("bn+ws+pn") == ("bn", True, True)
    assert parse_norm("pn") == ("none", False, True)
    for bad, match in [("", "empty"), ("ln+xx", "only '\\+ws' and '\\+pn'"), ("ln+pn+pn", "only"),
                       ("foo+pn", "unknown normalization 'foo'")]:
        with pytest.raises(ValueError, match=match):
            parse_norm(bad)


def test_register_normalization():
    def center(x, groups=None, eps=0.0, batch_size=None):
        return x - x.mean(axis=(1, 2), keepdims=True)

    register_normalization("center_test", center)
    try:
        x = _data(np.float64)
        assert_close(normalize(x, "center_test"), center(x), rtol=0)
        assert parse_norm("center_test+pn") == ("center_test", False, True)
    finally:
        del NORMALIZATIONS["center_test"]
    for bad in ("ws", "pn", "a+b", "1x"):
        with pytest.raises(ValueError, match="invalid normalization name"):
            register_normalization(bad, center)
