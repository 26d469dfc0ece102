"""The fused normalization → affine → activation kernel against the unfused numpy path (randnet.normalize,
φ, randnet.proxy_activation) for every norm, with and without Proxy Norm, several activations, both dtypes;
its moments against the slow references of randnet.stats; fallbacks and bad input."""
import dataclasses

import numpy as np
import pytest

from randnet import Activation, DatasetSpec, NetConfig, forward, get_activation, layer_statistics, normalize, \
    proxy_activation, realization_seed
from randnet import kernels
from randnet.proxy import proxy_statistics
from randnet.norms import NORMALIZATIONS
from randnet.stats import channel_moments, linearity_residual, power_terms, reference_linearity, \
    reference_power_decomposition
from tests.helpers import assert_close

NORMS = [("bn", {}), ("bn", dict(batch_size=3)), ("ln", {}), ("in", {}), ("gn", dict(groups=3)), ("none", {})]
ACTS = ["relu", "leaky_relu", "identity", "gelu", "tanh", "silu", "softplus"]
# y, z of the fused path vs numpy: bit-equal up to a few ulps (libm's tanh/erf/exp may differ by an ulp)
ULPS = 8


def _data(dtype, seed=0, shape=(5, 4, 3, 6)):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 2.0, shape[-1]) + rng.normal(0, 1, shape[-1])).astype(dtype)
    gamma = rng.normal(1.0, 0.3, shape[-1]).astype(dtype)
    beta = rng.normal(0.0, 0.5, shape[-1]).astype(dtype)
    return x, gamma, beta


def _unfused(x, kind, gamma, beta, act, opts, eps, pn):
    y = normalize(x, kind, opts.get("groups"), eps, opts.get("batch_size"))
    z = proxy_activation(y, gamma, beta, act, eps=eps) if pn else get_activation(act)(gamma * y + beta)
    return y, z


def _close_ulps(actual, expected):
    eps = np.finfo(expected.dtype).eps
    assert_close(actual, expected, rtol=ULPS * eps, atol=ULPS * eps * float(np.max(np.abs(expected))))


def _check_moments(m, x, y, z):
    """Each InstanceMoments field against numpy float64 over (h, w); power terms and linearity vs stats' references."""
    x, y, z = (np.asarray(a, np.float64) for a in (x, y, z))
    tol = dict(rtol=1e-10, atol=1e-12)
    for name, a in (("x", x), ("y", y), ("z", z)):
        assert_close(getattr(m, f"inst_mean_{name}"), a.mean(axis=(1, 2)), **tol, msg=f"mean_{name}")
        assert_close(getattr(m, f"inst_var_{name}"), a.var(axis=(1, 2)), **tol, msg=f"var_{name}")
    dy, dz = y - y.mean(axis=(1, 2), keepdims=True), z - z.mean(axis=(1, 2), keepdims=True)
    assert_close(m.inst_cov_yz, (dy * dz).mean(axis=(1, 2)), **tol, msg="cov_yz")
    assert_close(m.inst_min_y, y.min(axis=(1, 2)), rtol=0)
    assert_close(m.inst_max_y, y.max(axis=(1, 2)), rtol=0)
    dyc, dzc = y - y.mean(axis=(0, 1, 2)), z - z.mean(axis=(0, 1, 2))
    assert_close(m.channel_covariance(), (dyc * dzc).mean(axis=(0, 1, 2)), **tol, msg="channel cov")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("pn", [False, True], ids=["", "+pn"])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("kind,opts", NORMS, ids=lambda v: str(v) if isinstance(v, str) else "-".join(map(str, v.values())))
def test_fused_equals_unfused(kind, opts, act, pn, dtype):
    x, gamma, beta = _data(dtype)
    eps = 0.01 if pn else 0.0
    proxy = proxy_statistics(gamma, beta, act, eps) if pn else None
    y, z, m = kernels.normalize_activate(x, kind, gamma, beta, act, eps=eps, proxy=proxy, **opts)
    y_ref, z_ref = _unfused(x, kind, gamma, beta, act, opts, eps, pn)
    assert y.dtype == z.dtype == dtype
    _close_ulps(y, y_ref)
    _close_ulps(z, z_ref)
    _check_moments(m, x, y, z)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_moments_give_the_reference_power_terms_and_linearity(dtype):
    x, gamma, beta = _data(dtype, seed=3, shape=(6, 5, 4, 7))
    y, z, m = kernels.normalize_activate(x, "ln", gamma, beta, "relu")
    for name, a in (("y", y), ("z", z)):
        mean, var = getattr(m, f"inst_mean_{name}"), getattr(m, f"inst_var_{name}")
        terms = power_terms(mean, np.sqrt(var))
        assert_close(terms, reference_power_decomposition(a), rtol=1e-10, atol=1e-12, msg=name)
    (_, var_y), (_, var_z) = channel_moments(m.inst_mean_y, m.inst_var_y), channel_moments(m.inst_mean_z, m.inst_var_z)
    residual = linearity_residual(var_y, var_z, m.channel_covariance())
    assert_close(residual, reference_linearity(y, z), rtol=1e-8, atol=1e-12)


def test_eps_enters_the_denominator():
    x, gamma, beta = _data(np.float64, seed=4)
    y, _, m = kernels.normalize_activate(x, "in", gamma, beta, "identity", eps=0.5)
    assert_close(m.inst_var_y, m.inst_var_x / (m.inst_var_x + 0.5), rtol=1e-12)
    _close_ulps(y, normalize(x, "in", eps=0.5))


def test_unregistered_activation_and_custom_norm_take_the_numpy_path(monkeypatch):
    """A φ or a normalization without a kernel still gives the unfused result and exact moments."""
    cube = Activation("cube", lambda t: t ** 3, lambda t: 3 * t ** 2, False)
    monkeypatch.setitem(NORMALIZATIONS, "rms", lambda x, groups=None, eps=0.0, batch_size=None:
                        x / np.sqrt(np.mean(x ** 2, axis=(1, 2, 3), keepdims=True) + eps))
    x, gamma, beta = _data(np.float64, seed=5)
    for kind, act in (("ln", cube), ("rms", "tanh"), ("rms", cube)):
        y, z, m = kernels.normalize_activate(x, kind, gamma, beta, act)
        y_ref = normalize(x, kind)
        _close_ulps(y, y_ref)
        _close_ulps(z, get_activation(act)(gamma * y_ref + beta))
        _check_moments(m, x, y, z)
    proxy = proxy_statistics(gamma, beta, cube, 0.0, "hermite", 40)
    _, z, _ = kernels.normalize_activate(x, "bn", gamma, beta, cube, proxy=proxy)
    _close_ulps(z, proxy_activation(normalize(x, "bn"), gamma, beta, cube, method="hermite", n=40))


def test_layer_moments_equal_the_fused_moments():
    x, gamma, beta = _data(np.float32, seed=6)
    y, z, fused = kernels.normalize_activate(x, "gn", gamma, beta, "silu", groups=2)
    recomputed = kernels.layer_moments(x, y, z)
    for f in dataclasses.fields(fused):
        assert_close(getattr(recomputed, f.name), getattr(fused, f.name), rtol=0, atol=0, msg=f.name)


def test_layer_statistics_is_the_same_with_or_without_forwards_moments():
    """A Layer built without moments (as a caller might) gives the same LayerStats as forward()'s fused one."""
    cfg = NetConfig(widths=6, depth=2, norm="ln+pn", dtype="float32", dataset=DatasetSpec(n=3, height=5, width=4))
    power_in = np.zeros((4, 6))
    for layer in forward(cfg, realization_seed(0, 0)):
        bare = dataclasses.replace(layer, moments=None)
        a, b = layer_statistics(layer, power_in), layer_statistics(bare, power_in)
        for f in dataclasses.fields(a):
            assert_close(getattr(a, f.name), getattr(b, f.name), rtol=0, atol=0, msg=f.name)


def test_zero_denominator_and_bad_input_raise():
    x, gamma, beta = _data(np.float64, seed=7)
    flat = x.copy()
    flat[1, :, :, 2] = 3.0  # one constant instance channel: its IN denominator is 0 with ε = 0
    with pytest.raises(ZeroDivisionError):
        kernels.normalize_activate(flat, "in", gamma, beta, "relu")
    with pytest.raises(ZeroDivisionError):
        proxy_statistics(np.zeros(3), np.zeros(3), "relu")
    with pytest.raises(ValueError, match="groups"):
        kernels.normalize_activate(x, "gn", gamma, beta, "relu", groups=4)
    with pytest.raises(ValueError, match="eps"):
        kernels.normalize_activate(x, "bn", gamma, beta, "relu", eps=-1.0)
    with pytest.raises(ValueError, match="unknown normalization"):
        kernels.normalize_activate(x, "xn", gamma, beta, "relu")
    with pytest.raises(ValueError, match="unknown activation"):
        kernels.normalize_activate(x, "bn", gamma, beta, "swish")
    with pytest.raises(ValueError, match="expected an"):
        kernels.normalize_activate(x[0], "bn", gamma, beta, "relu")
