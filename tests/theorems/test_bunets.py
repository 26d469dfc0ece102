"""theorems._bunets: the torch normalizers against randnet's, the BU nets against randnet's forward pass (same
weights), the measured quantities of §7A.3 against plain formulas, the mean-field rates as exact constants, the
gradients against autograd on separate copies, and the RegNorm regularizer."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate

from randnet import DatasetSpec, NetConfig, forward, normalize, realization_seed
from randnet.net import sample_layer
from tests.helpers import assert_close
from theorems import _bunets as bu
from theorems import _torchnets as tn

TORCH_NORMS = [k for k in tn.NORMS if k not in ("none",)]


def _x(shape=(6, 3, 4, 5), seed=0):
    rng = np.random.default_rng(seed)
    n, _, _, c = shape
    return rng.standard_normal(shape) * rng.uniform(0.5, 2, (n, 1, 1, c)) + rng.uniform(-2, 2, (n, 1, 1, c))


@pytest.mark.parametrize("eps", [0.0, 1e-8, 0.2])
@pytest.mark.parametrize("kind", TORCH_NORMS)
def test_torch_normalizers_equal_numpy(kind, eps):
    x = _x()
    want = normalize(x, kind, eps=eps)
    got = tn.normalize(tn.to_torch(x), kind, eps).numpy().transpose(0, 2, 3, 1)
    assert_close(got, want, rtol=1e-12, atol=1e-12)
    if kind == "in":
        return  # IN on 1×1 maps divides by a zero variance
    flat = x[:, :1, :1, :]  # fully connected: (N, C) tensors are the H = W = 1 case
    assert_close(tn.normalize(torch.from_numpy(flat[:, 0, 0, :].copy()), kind, eps).numpy(),
                 normalize(flat, kind, eps=eps)[:, 0, 0, :], rtol=1e-12, atol=1e-12)


def test_torch_centring_equals_numpy():
    from randnet.norms import centre_input
    x = _x(seed=1)
    assert_close(tn.centre_input(tn.to_torch(x)).numpy().transpose(0, 2, 3, 1), centre_input(x), rtol=1e-14,
                 atol=1e-14)


@pytest.mark.parametrize("norm", ["preln", "bmlv", "lmbv_c", "regnorm", "bn", "ln"])
@pytest.mark.parametrize("spatial, k", [(1, 1), (4, 3)])
def test_bu_forward_equals_randnet_forward_on_the_same_weights(norm, spatial, k):
    """randnet's streamed forward pass (numba kernels, preln's centring in net.py) and the torch BU net, with the
    parameters of randnet's realization (γ = 1, β = 0, ε = 1e-8): the same pre-activations u^l = y^l."""
    config = NetConfig(widths=8, depth=3, kernel_size=k, norm=norm, dtype="float64", eps=bu.EPS,
                       gamma="constant(1)", beta="constant(0)", weight="normal(0, 1.4142135623730951)",
                       dataset=DatasetSpec(n=6, height=spatial, width=spatial, channels=5))
    ss = realization_seed(3, 0)
    layers = list(forward(config, ss))
    spec = bu.NetSpec(width=8, depth=3, batch=6, input_dim=5, spatial=spatial, kernel_size=k)
    weights, c_in = [], 5
    for l in range(1, 4):
        w = torch.from_numpy(sample_layer(config, ss, l, c_in).weight)   # (K, K, C_in, C_out)
        weights.append(w.permute(3, 2, 0, 1)[..., 0, 0] if spatial == 1 else w.permute(3, 2, 0, 1))
        c_in = 8
    data = randnet_data(config, ss)
    reps, _ = bu.forward(spec, [w.contiguous() for w in weights], data[None], norm)
    for layer, u in zip(layers, reps):
        got = u[0].numpy() if spatial == 1 else u[0].numpy().transpose(0, 2, 3, 1)
        want = layer.y[:, 0, 0, :] if spatial == 1 else layer.y
        assert_close(got, want, rtol=1e-10, atol=1e-10)


def randnet_data(config, ss):
    from randnet import draw_data
    x = draw_data(config, ss)
    return torch.from_numpy(x[:, 0, 0, :].copy()) if x.shape[1] == 1 else tn.to_torch(x)


def test_mean_field_rates_are_the_exact_constants():
    assert_close(bu.mean_field_rates("relu"), (1.0, math.pi / (math.pi - 1)), rtol=1e-12)
    assert_close(bu.CHI, 1.4669422069242598, rtol=1e-15)
    gauss = lambda f: integrate.quad(lambda u: f(u) * math.exp(-u * u / 2) / math.sqrt(2 * math.pi), -40, 40,
                                     epsabs=1e-14, epsrel=1e-13, limit=200)[0]  # noqa: E731
    sech4, tanh2 = gauss(lambda u: 1 / math.cosh(u) ** 4), gauss(lambda u: math.tanh(u) ** 2)
    assert_close([sech4, tanh2], [0.46440, 0.39429], atol=5e-6)  # SPEC-companions' printed values
    uncentred, centred = bu.mean_field_rates("tanh")
    assert_close([uncentred, centred], [sech4 / tanh2] * 2, rtol=1e-11)
    assert_close(centred, 1.17781, atol=5e-6)
    # a non-odd smooth φ: centring raises the rate (Var φ < E φ²)
    u, c = bu.mean_field_rates("gelu")
    assert c > u * 1.1
    assert_close([bu.predicted_rate("preln", "relu"), bu.predicted_rate("lmbv", "relu")], [bu.CHI, 1.0], rtol=1e-12)


def test_decorrelation_is_one_minus_pearson_without_cancellation():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 5)) + 3
    b = a + 0.3 * rng.standard_normal((7, 5))
    d = bu.decorrelation(torch.from_numpy(np.stack([a, b])))
    assert_close(d, 1 - np.corrcoef(a.ravel(), b.ravel())[0, 1], rtol=1e-12)
    tiny = a + 1e-9 * rng.standard_normal((7, 5))
    assert bu.decorrelation(torch.from_numpy(np.stack([a, tiny]))) > 0  # 1 − corrcoef would round to 0 or below


def test_growth_ratio_and_gradient_factor_formulas():
    d = 1e-6 * 1.4 ** np.arange(14)
    assert_close(bu.growth_ratio(d, 1e-3), 1.4, rtol=1e-12)
    # layers at or above d_max end the run: d^1 … d^5 qualify
    d2 = np.r_[1e-6 * 2.0 ** np.arange(5), 1e-3, 1e-2]
    assert_close(bu.growth_ratio(d2, 1e-3), 2.0, rtol=1e-12)
    assert np.isnan(bu.growth_ratio(np.array([1e-6, 1e-2]), 1e-3))
    g = 5 * 1.3 ** -np.arange(1, 21)   # G_l shrinking by 1/1.3 per layer: κ̂ = 1.3
    g[[0, 1, -1, -2]] *= [10, 0.1, 7, 0.2]  # the end layers are not fitted
    assert_close(bu.gradient_factor(g), 1.3, rtol=1e-12)
    with pytest.raises(ValueError, match="depth L >= 7"):
        bu.gradient_factor(np.ones(6))


@pytest.mark.parametrize("residual, spatial", [(False, 1), (True, 1), (False, 4)])
def test_pair_gradients_equal_separate_autograd_runs(residual, spatial):
    spec = bu.NetSpec(width=12, depth=7, batch=8, input_dim=3 if spatial > 1 else 6, spatial=spatial,
                      kernel_size=3 if spatial > 1 else 1, residual=residual)
    real = bu.sample(spec, realization_seed(5, 1))
    for norm in ("bn", "preln", "lmbv"):
        profile, r = bu.weight_gradients(spec, real, norm, pair=True)
        grads = []
        for g in range(2):
            leaves = [w.clone().requires_grad_() for w in real.weights]
            _, f = bu.forward(spec, leaves, real.x[g:g + 1], norm)
            out = torch.autograd.grad(bu.loss(f, real.readout, real.labels), leaves)
            grads.append([t.numpy().ravel() for t in (out[1:] if residual else out)])
        assert_close(profile, [[np.sum(t ** 2) for t in gs] for gs in grads], rtol=1e-11)
        assert_close(r, [np.corrcoef(a, b)[0, 1] for a, b in zip(*grads)], rtol=1e-10, atol=1e-12)
        single, none = bu.weight_gradients(spec, real, norm)
        assert none is None
        assert_close(single[0], profile[0], rtol=1e-12)


def test_sampling_is_reproducible_and_the_perturbation_has_size_delta():
    spec = bu.NetSpec(width=16, depth=3, batch=32, input_dim=8, delta=0.05)
    a, b = bu.sample(spec, realization_seed(0, 2)), bu.sample(spec, realization_seed(0, 2))
    assert all(torch.equal(u, v) for u, v in zip(a.weights, b.weights)) and torch.equal(a.x, b.x)
    x, xp = a.x
    assert_close(float((xp - x).std() / x.std()), 0.05, rtol=0.15)
    assert_close(float(x.mean(0).sub(a.offset).abs().mean()), 0.0, atol=0.3)  # X = m + ξ around the shared m
    w = a.weights[1]
    assert_close(float(w.var() * 16), 2.0, rtol=0.2)  # He: variance 2/fan_in
    with pytest.raises(ValueError, match="kernel_size 1"):
        bu.NetSpec(kernel_size=3)
    with pytest.raises(ValueError, match="unknown normalization"):
        bu.PanelConfig(norms=("bn", "foo"))


def test_regularizer_readings_and_identities():
    g = torch.Generator().manual_seed(0)
    h = 2 + torch.randn(5, 9, generator=g, dtype=tn.DTYPE)
    x = h.numpy()
    mu, sd = x.mean(1, keepdims=True), x.std(1, keepdims=True)
    assert_close(bu.regularizer(h, "A").item(), np.mean((x / sd).mean(0) ** 2), rtol=1e-13)
    assert_close(bu.regularizer(h, "B").item(), np.mean(((x - mu) / sd).mean(0) ** 2), rtol=1e-13)
    ids = bu.regularizer_identities(4, 16, g)
    for k in ("link", "R_A_zero", "R_B_zero"):
        assert abs(ids[k]) < 1e-12, k
    for k in ("R_B_single", "R_A_single", "power_B", "power_A"):
        assert_close(ids[k], 1.0, rtol=1e-12)
    assert ids["bound_B"] <= 1 and ids["bound_A"] <= 1 and ids["R_A_offset"] > 4 and ids["R_var_B_zero"] > 1e-3
    with pytest.raises(ValueError, match="reading"):
        bu.layer_standardize(h, "C")


def test_lanczos_extremes_match_the_exact_hessian():
    """A net of ~150 parameters: the Ritz values' extremes are the exact Hessian's (torch.autograd.functional)."""
    from theorems.bu_gradients import HessianConfig, _hessian_loss
    spec = HessianConfig(width=6, depth=3, batch=16, input_dim=4, norms=("bn", "ln"))
    real = bu.sample(spec, realization_seed(0, 0))
    labels = real.labels
    params = [p.clone().requires_grad_() for p in (*real.weights, real.readout)]
    shapes = [p.shape for p in params]

    def flat_loss(theta):
        parts, i = [], 0
        for s in shapes:
            parts.append(theta[i:i + int(np.prod(s))].reshape(s))
            i += int(np.prod(s))
        return _hessian_loss(spec, parts, real.x[:1], labels, "bn")

    theta = torch.cat([p.detach().reshape(-1) for p in params])
    exact = np.linalg.eigvalsh(torch.autograd.functional.hessian(flat_loss, theta).numpy())
    ritz = bu.lanczos_extremes(_hessian_loss(spec, params, real.x[:1], labels, "bn"), params, 60,
                               torch.Generator().manual_seed(1))
    assert_close([ritz[-1], ritz[-2], ritz[0]], [exact[-1], exact[-2], exact[0]], rtol=1e-8, atol=1e-10)
