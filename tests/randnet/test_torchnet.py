"""The torch backend (randnet.torchnet) on the CPU: the same net as the numba path, realization by realization, to
the dtype's round-off, for every norm and activation; clear errors; planted bugs are caught.

Tolerances, on every LayerStats field, as ``|torch − numba| ≤ tol · max(max |numba field|, 1)`` (the floor 1
for fields that are 0 by an identity, e.g. μ_c(y) under bn). Measured at C = 16, N = 8, 8×8, depth 8, 3
realizations of each of the 11 norm variants and 7 activations (tests/randnet/test_torchnet.py's cases, larger):
worst 17 ε in float64 (3.8e-15) and 13 ε in float32 (1.6e-6), both on y_min / y_max (element extremes, not
averages); the seven normalizers of SPEC-companions §7A.2 (bmlv, bmlv_c, lmbv, lmbv_c — the _c ones with
batch_size 4 —, preln, regnorm, regnorm_ln), measured alike: at most 9.2 ε in float64 and 11.5 ε in float32. Hence
1e-12 for float64 and 1e-5 (84 ε) for float32, at the depths used here (≤ 8). The difference grows with depth
where the net amplifies perturbations, at the same rate in both dtypes (bn, C = 16: ~1.2× a layer, 1400 ε by
depth 40; ln: flat, ≤ 30 ε): a property of the net, not of either backend.
"""
import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from randnet import DatasetSpec, LayerStats, NetConfig, forward, layer_stream, realization_seed, \
    reference_config, reference_periodic_conv
from randnet import torchnet
from randnet.activations import ACTIVATIONS as ACTIVATION_TABLE
from tests.helpers import assert_close
from validation.configs import config_digest

TOL = {"float64": 1e-12, "float32": 1e-5}
SMALL = dict(widths=6, depth=3, dtype="float64", dataset=DatasetSpec(n=4, height=6, width=5, channels=3))
NORM_CASES = [dict(norm="bn"), dict(norm="bn", batch_size=3), dict(norm="ln"), dict(norm="in"),
              dict(norm="gn", groups=3), dict(norm="none"), dict(norm="ln+ws"), dict(norm="ln+pn"),
              dict(norm="gn+pn", groups=2), dict(norm="bn+ws+pn"), dict(norm="in", first_stride=2),
              dict(norm="ln", eps=1e-3, kernel_size=5), dict(norm="ln+pn", proxy_method="quantile", pn_eps=0.03),
              # the normalizers of Is Batch Norm unique? (SPEC-companions §7A.2); PreLN centres the conv's input
              dict(norm="bmlv"), dict(norm="bmlv_c", batch_size=3), dict(norm="lmbv", batch_size=3),
              dict(norm="lmbv_c"), dict(norm="preln"), dict(norm="preln+ws+pn", first_stride=2),
              dict(norm="regnorm"), dict(norm="regnorm_ln", eps=1e-3)]
ACTIVATIONS = ["identity", "relu", "leaky_relu", "gelu", "tanh", "silu", "softplus"]
FIELDS = [f.name for f in dataclasses.fields(LayerStats) if f.name != "index"]


def _ids(case):
    return "-".join(f"{k}={v}" for k, v in case.items())


def _config(**changes) -> NetConfig:
    return NetConfig(**{**SMALL, **changes})


def _streams(cfg: NetConfig, k: int = 0):
    ss = realization_seed(11, k)
    return list(layer_stream(cfg, ss)), list(layer_stream(cfg.replace(backend="torch"), ss))


def worst_difference(cfg: NetConfig, k: int = 0) -> float:
    """max over layers and LayerStats fields of |torch − numba| / max(max |numba|, 1)."""
    numba_stats, torch_stats = _streams(cfg, k)
    assert len(numba_stats) == len(torch_stats) == cfg.depth
    worst = 0.0
    for a, b in zip(numba_stats, torch_stats):
        for name in FIELDS:
            e, t = np.asarray(getattr(a, name), float), np.asarray(getattr(b, name), float)
            assert np.array_equal(np.isnan(e), np.isnan(t)), name
            if not np.all(np.isnan(e)):
                worst = max(worst, float(np.nanmax(np.abs(t - e)) / max(np.nanmax(np.abs(e)), 1.0)))
    return worst


def assert_same_net(cfg: NetConfig, k: int = 0) -> None:
    """Every LayerStats field of realization ``k`` on both backends, within the dtype's tolerance."""
    numba_stats, torch_stats = _streams(cfg, k)
    assert len(numba_stats) == len(torch_stats) == cfg.depth
    for a, b in zip(numba_stats, torch_stats):
        assert b.index == a.index
        for name in FIELDS:
            e = np.asarray(getattr(a, name), float)
            scale = max(float(np.nanmax(np.abs(e))), 1.0) if not np.all(np.isnan(e)) else 1.0
            assert_close(getattr(b, name), e, rtol=0, atol=TOL[cfg.dtype] * scale, msg=f"layer {a.index} {name}")


# -- agreement ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", NORM_CASES, ids=_ids)
def test_every_norm_float64_matches_numba(case):
    for k in (0, 1):
        assert_same_net(_config(**case), k)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("norm", ["ln+pn"])
def test_every_activation_float64_matches_numba(norm, activation):
    assert_same_net(_config(norm=norm, activation=activation, beta="normal(0.3, 0.5)"))


@pytest.mark.parametrize("case", [dict(norm="bn"), dict(norm="bn", batch_size=2), dict(norm="gn+pn", groups=3),
                                  dict(norm="ln+ws", activation="gelu"), dict(norm="in", first_stride=2),
                                  dict(norm="none", activation="tanh"), dict(norm="preln"),
                                  dict(norm="lmbv_c", batch_size=2)], ids=_ids)
def test_float32_matches_numba_within_its_tolerance(case):
    assert_same_net(_config(dtype="float32", depth=4, **case))


def test_forward_gives_the_same_tensors_and_parameters():
    """TorchLayer's host copies of x, y, z equal numba's Layer tensors; the parameters are the same draws, bit for
    bit; the moments agree (what claims reading forward(), e.g. P5, see)."""
    cfg = _config(norm="gn+pn", groups=2, first_stride=2)
    ss = realization_seed(2, 5)
    for a, b in zip(forward(cfg, ss), forward(cfg.replace(backend="torch"), ss), strict=True):
        assert isinstance(b, torchnet.TorchLayer) and b.index == a.index
        for name in ("weight", "gamma", "beta"):
            assert np.array_equal(getattr(a.params, name), getattr(b.params, name)), name
        for name in ("x", "y", "z"):
            e = getattr(a, name)
            assert getattr(b, name).shape == e.shape and getattr(b, name).dtype == e.dtype
            assert_close(getattr(b, name), e, rtol=0, atol=TOL["float64"] * max(np.abs(e).max(), 1.0), msg=name)
        for f in dataclasses.fields(a.moments):
            e = getattr(a.moments, f.name)
            assert_close(getattr(b.moments, f.name), e, rtol=0, atol=1e-12 * max(np.abs(e).max(), 1.0), msg=f.name)


def test_forward_moments_are_the_instance_moments_bit_for_bit():
    """theorems._common.layer_moments reads Layer.moments for x^l and y^l instead of recomputing them (so that on the
    torch backend no tensor leaves the device): on the numba path they are randnet.instance_moments, bit for bit."""
    from randnet import instance_moments

    for dtype in ("float32", "float64"):
        for layer in forward(_config(norm="gn+pn", groups=3, dtype=dtype), realization_seed(1, 0)):
            m = layer.moments
            for got, want in zip((m.inst_mean_x, m.inst_var_x, m.inst_mean_y, m.inst_var_y), instance_moments(layer.x) +
                                 instance_moments(layer.y)):
                assert np.array_equal(got, want)


@pytest.mark.usefixtures("clean_plugin_registry")
@pytest.mark.parametrize("norm", ["randnet.examples.rms_norm:rms_norm", "randnet.examples.rms_norm:rms_norm+pn"])
def test_user_normalization_runs_in_numpy_on_a_host_copy(norm):
    assert_same_net(_config(norm=norm))


def _with_torch_form(monkeypatch, name, form):
    """Activation ``name`` with the torch form ``form`` (``(torch, F) -> φ``, or None) for this test."""
    monkeypatch.setitem(ACTIVATION_TABLE, name, dataclasses.replace(ACTIVATION_TABLE[name], torch=form))


def test_activation_without_a_torch_form_runs_in_numpy(monkeypatch):
    _with_torch_form(monkeypatch, "tanh", None)
    assert_same_net(_config(norm="ln+pn", activation="tanh"))


def test_softplus_torch_form_is_the_kernels_formula_with_its_derivative():
    """Activation("softplus").torch (also theorems._torchnets' form): the fused kernel's max(t, 0) + log1p(exp(−|t|))
    to round-off, with no cut-off above 20 (F.softplus returns t there), and autograd's derivative σ(t), also at
    t = 0 (clamp_min would give 1 there)."""
    from scipy.special import expit

    from randnet import get_activation
    from randnet.kernels import _activate

    t = np.array([-40.0, -1.0, -0.0, 0.0, 1e-3, 2.0, 21.0, 40.0])
    kernel = np.empty_like(t)
    _activate(6, 0.0, t, kernel)
    u = torch.tensor(t, requires_grad=True)
    out = get_activation("softplus").torch_form()(u)
    assert_close(out.detach().numpy(), kernel, rtol=1e-15)
    assert out.detach().numpy()[-2] > 21.0  # 21 + 7.6e-10
    out.sum().backward()
    assert_close(u.grad.numpy(), expit(t), rtol=1e-15)


def test_stopping_early_and_prefetching_parameters(monkeypatch):
    """Drawing parameters several layers ahead gives the same layers; a stream dropped early ends cleanly."""
    cfg = _config(norm="bn", depth=5)
    monkeypatch.setitem(torchnet.PREFETCH, "cpu", 3)
    assert_same_net(cfg)
    stream = layer_stream(cfg.replace(backend="torch", depth=40), realization_seed(0, 0))
    assert next(stream).index == 1
    stream.close()


@pytest.mark.parametrize("changes, error, match", [
    (dict(norm="ln+ws", weight="constant(1)"), ZeroDivisionError, "weight standardization denominator is zero"),
    (dict(norm="in", gamma="constant(0)", beta="constant(0)"), ZeroDivisionError, "normalization denominator is zero"),
])
def test_errors_are_the_numba_paths(changes, error, match):
    """A failure while drawing parameters (in a prefetch thread) or normalizing raises as on the numba path."""
    for cfg in (_config(**changes), _config(backend="torch", **changes)):
        with pytest.raises(error, match=match):
            list(layer_stream(cfg, realization_seed(0, 0)))


def test_periodic_conv_against_the_reference():
    """Cross-correlation with circular padding K // 2, any K (also K > H), stride 2 = the stride-1 output at even
    positions; kernel layout w[o, c, i, j] = ω[i, j, c, o]."""
    rng = np.random.default_rng(0)
    for k, (h, w), stride in [(1, (4, 5), 1), (3, (6, 5), 1), (3, (5, 7), 2), (5, (2, 3), 1), (5, (6, 6), 2)]:
        z = rng.standard_normal((2, h, w, 3))
        om = rng.standard_normal((k, k, 3, 4))
        expected = reference_periodic_conv(z, om)[:, ::stride, ::stride]
        got = torchnet.periodic_conv(torchnet.to_device(z, torch.device("cpu")),
                                     torch.from_numpy(om).permute(3, 2, 0, 1).contiguous(), stride)
        assert_close(torchnet.to_host(got), expected, rtol=0, atol=1e-12, msg=f"K={k} {h}x{w} stride {stride}")


# -- planted bugs: each must break the agreement far beyond the tolerance ---------------------------------
def _zero_padding(conv):
    return lambda z, w, stride=1: torch.nn.functional.conv2d(z, w, stride=stride, padding=w.shape[-1] // 2)


def _columns_wrapped_by_height(conv):
    """The padding's column index taken mod H instead of W (H = 6, W = 5 here)."""
    def wrong(z, w, stride=1):
        p, h = w.shape[-1] // 2, z.shape[2]
        idx = torch.arange(-p, z.shape[3] + p) % h
        padded = z.index_select(2, torch.arange(-p, h + p) % h)
        padded = torch.cat([padded, padded], dim=3).index_select(3, idx)
        return torch.nn.functional.conv2d(padded, w, stride=stride)
    return wrong


def _kernel_transposed(conv):
    return lambda z, w, stride=1: conv(z, w.transpose(2, 3), stride)


def _unbiased_variance(moments):
    def wrong(a):
        mean, var = moments(a)
        m = a.shape[2] * a.shape[3]
        return mean, var * m / (m - 1)
    return wrong


@pytest.mark.parametrize("target, plant, case", [
    ("periodic_conv", _zero_padding, dict(norm="bn")),
    ("periodic_conv", _columns_wrapped_by_height, dict(norm="bn")),
    ("periodic_conv", _kernel_transposed, dict(norm="ln")),
    ("instance_moments", _unbiased_variance, dict(norm="in")),
    ("centre_input", lambda centre: lambda z: z, dict(norm="preln")),
], ids=["zero-padding", "columns-wrapped-mod-H", "kernel-i-j-transposed", "unbiased-instance-variance",
        "preln-input-not-centred"])
def test_planted_bug_breaks_agreement(monkeypatch, target, plant, case):
    """(A circular shift of the map, e.g. padding p + 1 before and p − 1 after, or stride 2 at odd positions, is no
    bug here: the periodic conv commutes with it and every LayerStats field averages over positions.)"""
    cfg = _config(**case)
    assert worst_difference(cfg) < TOL["float64"]
    monkeypatch.setattr(torchnet, target, plant(getattr(torchnet, target)))
    assert worst_difference(cfg) > 1e-3


def test_planted_wrong_activation_form_breaks_agreement(monkeypatch):
    _with_torch_form(monkeypatch, "silu", lambda torch, F: F.gelu)
    assert worst_difference(_config(norm="ln", activation="silu")) > 1e-3


# -- configuration and errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(backend="jax"), r"backend must be one of \('numba', 'torch'\), got 'jax'"),
    (dict(backend="torch", device="gpu"), "device must be 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
    (dict(backend="torch", device="cuda:x"), "device must be 'cpu', 'cuda' or 'cuda:N'"),
    (dict(backend="torch", device=0), "device must be 'cpu', 'cuda' or 'cuda:N', got 0"),
    (dict(device="cuda"), "device 'cuda' needs backend='torch'"),
])
def test_backend_and_device_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NetConfig(**kwargs)


def test_describe_and_digest_tell_backends_and_devices_apart():
    """describe() leaves the defaults (numba, cpu) out, so every digest from before the torch backend still holds
    (values computed on main before it); a torch configuration, and each device, has its own digest: realizations
    equal to round-off only never share a store entry."""
    assert config_digest(NetConfig(widths=8, depth=3)) == "992449a55b67b93c"
    assert config_digest(reference_config()) == "875b62009db2a384"
    numba = NetConfig(widths=8, depth=3)
    on_cpu, on_cuda = numba.replace(backend="torch"), numba.replace(backend="torch", device="cuda")
    assert "backend" not in numba.describe() and "device" not in numba.describe()
    assert on_cpu.describe()["backend"] == "torch" and "device" not in on_cpu.describe()
    assert on_cuda.describe()["device"] == "cuda"
    assert len({config_digest(c) for c in (numba, on_cpu, on_cuda, on_cuda.replace(device="cuda:1"))}) == 4
    assert "[torch cuda]" in on_cuda.label() and "torch" not in numba.label()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_where_there_is_none_is_a_one_line_error(device):
    cfg = _config(backend="torch", device=device)  # building the configuration is fine (e.g. for remote workers)
    with pytest.raises(ValueError) as err:
        next(layer_stream(cfg, realization_seed(0, 0)))
    message = str(err.value)
    assert message.startswith(f"device {device!r} requested but torch.cuda.is_available() is False")
    assert "\n" not in message


def test_importing_randnet_does_not_import_torch():
    code = ("import sys, randnet, randnet.net, randnet.kernels, randnet.config; "
            "r = list(randnet.layer_stream(randnet.NetConfig(widths=2, depth=1, dataset=randnet.DatasetSpec(n=2, "
            "height=2, width=2)), randnet.realization_seed(0, 0))); assert 'torch' not in sys.modules, 'torch'")
    subprocess.run([sys.executable, "-c", code], check=True)
