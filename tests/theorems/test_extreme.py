"""theorems._extreme (Extreme Normalization, SPEC-companions §7B): the conv conventions, ScaleGrad, the rotations,
the population layer against finite differences, the estimators (θ copies against single estimates, two towers
against the explicit two-stage backprop of §3.2, exactness at B = N against §7B's EN8 table), the debiased
Monte Carlo estimator and the metrics."""
import itertools
import math

import numpy as np
import pytest
import torch

from randnet import DatasetSpec, periodic_conv
from theorems import _extreme as ex
from theorems import _torchnets as tn
from tests.helpers import assert_close

@pytest.fixture(autouse=True)
def one_thread():
    """As in every realization: torch on one thread (the machine is shared)."""
    with tn.single_thread():
        yield


TINY = ex.ENNet(DatasetSpec(n=6, height=4, width=4, channels=2), depth=2, width=4, classes=3)


def _problem(net=TINY, seed=0):
    return ex.draw_problem(net, np.random.SeedSequence(seed))


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# -- conventions --------------------------------------------------------------------------------------------
def _zero_padded_reference(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cross-correlation with zero padding, written out tap by tap."""
    k = w.shape[0]
    p = k // 2
    n, h, wd, _ = x.shape
    xp = np.zeros((n, h + 2 * p, wd + 2 * p, x.shape[-1]))
    xp[:, p:p + h, p:p + wd] = x
    out = np.zeros((n, h, wd, w.shape[-1]))
    for i, j in itertools.product(range(k), range(k)):
        out += xp[:, i:i + h, j:j + wd] @ w[i, j]
    return out


@pytest.mark.parametrize("k,h,w", [(1, 3, 4), (3, 5, 6), (5, 7, 5)])
def test_conv_matches_randnet_and_the_zero_padded_reference(k, h, w):
    rng = np.random.default_rng(k)
    x, kernel = rng.standard_normal((3, h, w, 2)), rng.standard_normal((k, k, 2, 5))
    xt, kt = torch.from_numpy(x), torch.from_numpy(kernel)
    assert_close(ex.conv(xt, kt).numpy(), periodic_conv(x, kernel), rtol=1e-12, atol=1e-12)
    assert_close(ex.conv(xt, kt, "zero").numpy(), _zero_padded_reference(x, kernel), rtol=1e-12, atol=1e-12)
    # M copies at once (batched GEMM path) = each copy alone
    xs = torch.from_numpy(rng.standard_normal((4, 3, h, w, 2)))
    ks = torch.from_numpy(rng.standard_normal((4, k, k, 2, 5)))
    for padding in ex.PADDINGS:
        got = ex.conv_copies(xs, ks, padding)
        for m in range(4):
            assert_close(got[m].numpy(), ex.conv(xs[m], ks[m], padding).numpy(), rtol=1e-12, atol=1e-12)


def test_conventions_and_errors():
    w = torch.arange(2 * 3 * 3 * 4, dtype=ex.DTYPE).reshape(3, 3, 2, 4)
    assert_close(ex.kernel_sum(w).numpy(), w.numpy().sum(axis=(0, 1)))
    mask = ex.border_mask(5, 6, 3)
    assert mask.sum() == 5 * 6 - 3 * 4 and not mask[1:-1, 1:-1].any()
    assert ex.border_mask(5, 6, 1).sum() == 0
    with pytest.raises(ValueError, match="unknown padding"):
        ex.conv(torch.zeros(1, 3, 3, 2, dtype=ex.DTYPE), w, "reflect")
    with pytest.raises(ValueError, match="power of 2"):
        ex.hadamard(12)
    with pytest.raises(ValueError, match="power of 2"):
        ex.ENNet(width=12, rotation="hadamard")
    with pytest.raises(ValueError, match="unknown rotation"):
        ex.ENNet(rotation="random")
    with pytest.raises(ValueError, match="r_v must be"):
        ex.Modifiers(r_v=-1)
    with pytest.raises(ValueError, match="u_max must be"):
        ex.Modifiers(u_max=0)


def test_scale_grad_forward_and_backward():
    g = _gen(1)
    s = (1 + torch.rand(5, generator=g, dtype=ex.DTYPE)).requires_grad_()
    q = (1 + torch.rand(3, 5, generator=g, dtype=ex.DTYPE)).requires_grad_()
    u = torch.randn(3, 5, generator=g, dtype=ex.DTYPE)
    r = torch.clamp(s / q, max=1.5)  # depends on S and Q: a missing sg() would leak gradient through it
    out = ex.scale_grad(s, q, r)
    assert_close(out.detach().numpy(), np.broadcast_to(s.detach().numpy(), (3, 5)), rtol=2 ** -52)
    ds, dq = torch.autograd.grad((u * out).sum(), [s, q], allow_unused=True)
    assert ds is None
    assert_close(dq.numpy(), (r * u).detach().numpy(), rtol=0)
    assert ex.scale_grad(2.0, q, 0.0).detach().eq(2.0).all()  # r = 0: stop-gradient, forward S


def test_modifiers_factors():
    nu_bar, nu = torch.tensor([1.0, 4.0, 1.0]), torch.tensor([1.0, 1.0, 4.0])
    assert_close(ex.Modifiers().nu_factor(nu_bar, nu).numpy(), [1.0, 2.0, 0.25])  # capped at f_max = 2
    assert_close(ex.Modifiers(r_v=0.5, nu_scaling=False).nu_factor(nu_bar, nu).numpy(), [0.5, 0.5, 0.5])
    assert_close(ex.Modifiers(u_max=1.0).clip(nu_bar, nu).numpy(), [1.0, 1.0, 0.5])
    assert ex.Modifiers().clip(nu_bar, nu).eq(1).all()
    assert ex.Modifiers().describe()["u_max"] == "inf" and ex.Modifiers(r_m=0, r_v=0.8).label() == "r_m 0, r_v 0.8"


def test_rotations():
    for c in (1, 2, 8, 32):
        h = ex.hadamard(c)
        assert_close((h @ h.T).numpy(), np.eye(c), atol=1e-15)
        assert_close(np.abs(h.numpy()), np.full((c, c), 1 / math.sqrt(c)), rtol=1e-15)
        assert torch.equal(h, h.T)
    q1, q2 = ex.haar(16, _gen(3)), ex.haar(16, _gen(3))
    assert torch.equal(q1, q2)
    assert_close((q1 @ q1.T).numpy(), np.eye(16), atol=1e-14)
    # Haar: E[R_ij²] = 1/C for every entry (a coarse check of the sign correction's uniformity)
    draws = torch.stack([ex.haar(4, _gen(s)) for s in range(2000)])
    assert_close((draws ** 2).mean(0).numpy(), np.full((4, 4), 0.25), atol=0.03)
    assert abs(draws[:, 0, 0].mean().item()) < 0.05  # no sign bias on the diagonal (QR without the fix has one)


# -- the population layer: autograd against finite differences --------------------------------------------------
def test_population_gradient_matches_finite_differences():
    """G* = ∇ E_n ℓ_n through μ and ν of all N examples (slow reference: central differences, every parameter)."""
    net = ex.ENNet(DatasetSpec(n=3, height=3, width=3, channels=2), depth=2, width=2, classes=3, rotation="haar")
    pb = _problem(net, 4)
    g = ex.target_gradient(pb)
    flat = torch.cat([t.detach().reshape(-1) for t in pb.theta.tensors()])
    sizes = [t.numel() for t in pb.theta.tensors()]

    def loss(v):
        parts = torch.split(v, sizes)
        th = ex.Theta(*[[p.reshape(t.shape) for p, t in zip(parts[a:b], pb.theta.tensors()[a:b])]
                        for a, b in ((0, 2), (2, 4), (4, 6))],
                      parts[6].reshape(pb.theta.readout.shape), parts[7].reshape(pb.theta.bias.shape))
        return ex.population_forward(pb, th)[0].mean().item()

    h = 1e-6
    fd = np.array([(loss(flat + h * e) - loss(flat - h * e)) / (2 * h) for e in torch.eye(len(flat), dtype=ex.DTYPE)])
    assert len(g) == len(flat) == pb.conv_size + 2 * 2 * 2 + 2 * 3 + 3
    assert_close(g, fd, rtol=1e-6, atol=1e-8)


def test_population_statistics_are_the_mean_before_the_conv():
    pb = _problem()
    x = pb.x
    (mu, nu), _ = ex.oracle_ema(pb)
    w = pb.theta.weights[0][0]
    assert_close(mu.numpy(), x.mean(dim=(0, 1, 2)).numpy(), rtol=1e-14)
    p = ex.conv(x, w) - mu @ ex.kernel_sum(w)
    assert_close(nu.numpy(), ((p ** 2).mean(dim=(0, 1, 2)) + TINY.eps).numpy(), rtol=1e-14)


# -- the estimators -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", ["E1", "E2", "E3", "E4", "E5", "E5'", "E6"])
def test_many_minibatches_at_once_equal_one_at_a_time(estimator):
    pb = _problem(replace_rotation("haar"))
    ema = ex.oracle_ema(pb)
    idx = np.array([[0, 2, 5], [1, 2, 3], [4, 0, 1]])
    idx1 = np.array([[1, 3], [0, 5], [2, 4]])
    many = ex.estimates(pb, estimator, idx, ema=ema, idx1=idx1 if estimator == "E5'" else None)
    for m in range(3):
        one = ex.estimate(pb, estimator, idx[m], ema=ema, idx1=idx1[m] if estimator == "E5'" else None)
        assert_close(many.grads[m], one[0], rtol=1e-12, atol=1e-15)
        assert_close(many.losses[m], one[1], rtol=1e-13)


def replace_rotation(kind):
    return ex.ENNet(TINY.dataset, depth=TINY.depth, width=TINY.width, classes=TINY.classes, rotation=kind)


def _two_stage_reference(pb: ex.Problem, idx, mods: ex.Modifiers) -> np.ndarray:
    """§3.2's procedure written out: (a) backprop the loss to W and to the ‡ nodes treated as leaves (g^W, g^μ,
    g^ν); (b) h^W = ∇_W Σ_l (g^μ_l·μ‡_l + g^ν_l·ν‡_l) through tower 1; (c) g^W + h^W."""
    ema = ex.oracle_ema(pb)
    t = torch.as_tensor(np.asarray(idx))[None]
    theta = pb.theta.copies(1)
    # tower 1 (†) and its ‡ statistics, attached to the graph of θ
    x1, stats = pb.x[t], []
    for l in range(pb.net.depth):
        x1, mu_b, nu_b, _ = ex._dagger(pb, theta, l, x1, ema, mods)
        nu_mean = nu_b.mean(dim=1)
        stats.append((ex.scale_grad(ema[l][0], mu_b.mean(dim=1), mods.r_m),
                      ex.scale_grad(ema[l][1], nu_mean, mods.nu_factor(ema[l][1], nu_mean))))
    # (a) tower 2 with the ‡ values as leaves
    leaves = [(m.detach().clone().requires_grad_(), v.detach().clone().requires_grad_()) for m, v in stats]
    x = pb.x[t]
    for l, (mu_dd, nu_dd) in enumerate(leaves):
        p, nu_own = ex._centered(pb, theta, l, x, mu_dd)
        q = p / torch.sqrt(nu_dd[:, None, None, None, :]) * mods.clip(ema[l][1], nu_own.detach())[:, :, None, None, :]
        x = ex._activate(pb, theta, l, q)
    loss = ex._losses(pb, theta, x, t).mean()
    params = theta.tensors()
    got = torch.autograd.grad(loss, params + [v for pair in leaves for v in pair], allow_unused=True)
    g_w, g_stats = got[:len(params)], got[len(params):]
    # (b) through tower 1
    feed = sum((g * s).sum() for g, s in zip(g_stats, [v for pair in stats for v in pair]))
    h_w = torch.autograd.grad(feed, params, allow_unused=True)
    # (c)
    return torch.cat([sum(v for v in (a, b) if v is not None).reshape(-1) for a, b in zip(g_w, h_w)]).numpy()


@pytest.mark.parametrize("mods", [ex.Modifiers(), ex.Modifiers(r_m=0.3, r_v=0.7, f_max=1.2)])
def test_two_towers_equal_the_explicit_two_stage_backprop(mods):
    pb = _problem(replace_rotation("hadamard"), 2)
    for idx in ([0, 1, 4], list(range(TINY.dataset.n))):
        assert_close(ex.estimate(pb, "E5", idx, mods)[0], _two_stage_reference(pb, idx, mods), rtol=1e-12, atol=1e-15)


def test_stop_gradient_is_the_same_from_every_estimator():
    """E6: r_m = r_v = 0 in E3, E4 or E5 gives one estimator (no gradient through any statistic)."""
    pb = _problem()
    zero = ex.Modifiers(r_m=0.0, r_v=0.0)
    idx = [1, 3, 4]
    e6 = ex.estimate(pb, "E6", idx)[0]
    for e in ("E3", "E4", "E5"):
        assert_close(ex.estimate(pb, e, idx, zero)[0], e6, rtol=1e-12, atol=1e-15)


def test_estimator_input_errors():
    pb = _problem()
    with pytest.raises(ValueError, match="unknown estimator"):
        ex.estimates(pb, "E7")
    with pytest.raises(ValueError, match="must not repeat"):
        ex.estimate(pb, "E4", [1, 1])
    with pytest.raises(ValueError, match="lie in 0..5"):
        ex.estimate(pb, "E4", [0, 6])
    with pytest.raises(ValueError, match="needs tower 1"):
        ex.estimate(pb, "E5'", [0, 1])
    with pytest.raises(ValueError, match="exceeds N"):
        ex.minibatches(4, 5, 10, np.random.default_rng(0))


# §7B's EN8 table (N 32, 8×8×3, C 16, K 3, circular, ReLU, ε 1e-5, f_max 2), rel. error against G*:
SPEC_EN8 = {"identity": {"E5": (2.4e-15, 0.067, 0.154), "E4": (0.188, 0.394, 0.669)},
            "hadamard": {"E5": (None, 0.093, 0.145)}}


@pytest.mark.parametrize("rotation", ["identity", "hadamard"])
def test_exactness_at_full_batch_reproduces_the_table(rotation):
    """E1, E2, E3 = G* at B = N; E5 = G* for L = 1 only; E4 biased (and its bias grows with L, as in §7B)."""
    errors = {e: [] for e in ("E1", "E2", "E3", "E4", "E5")}
    for depth in (1, 2, 3):
        pb = ex.draw_problem(ex.ENNet(depth=depth, rotation=rotation), np.random.SeedSequence(depth))
        g = ex.target_gradient(pb)
        for e in errors:
            errors[e].append(ex.rel_error(ex.estimate(pb, e)[0], g))
    for e in ("E1", "E2", "E3"):
        assert max(errors[e]) < 1e-13, (e, errors[e])
    e5, e4 = errors["E5"], errors["E4"]
    assert e5[0] < 1e-13
    # the same order of magnitude as §7B's measured 0.067–0.154 (other seeds): clearly biased, well below 1
    assert all(0.02 < v < 0.4 for v in e5[1:]), e5
    assert all(0.05 < v < 1.0 for v in e4) and e4[0] < e4[2], e4


# -- expectations and metrics ------------------------------------------------------------------------------
def test_minibatches_enumerate_or_sample():
    rng = np.random.default_rng(0)
    idx, exact = ex.minibatches(6, 3, 20, rng)
    assert exact and len(idx) == 20 and len({tuple(r) for r in idx}) == 20
    idx, exact = ex.minibatches(6, 3, 19, rng)
    assert not exact and idx.shape == (19, 3)
    assert all(len(set(r)) == 3 and list(r) == sorted(r) for r in idx)


def test_bias_metrics_exact_values():
    target = np.array([1.0, 0.0])
    g = np.array([[2.0, 0.0], [0.0, 2.0]])  # mean (1, 1): bias (0, 1)
    m = ex.bias_metrics(g, target, exact=True)
    assert_close([m["bias_rel"], m["bias2_rel"], m["rel_mse"], m["mean_cos"]], [1.0, 1.0, 3.0, 0.5])
    assert_close(m["cos_mean"], 1 / math.sqrt(2))


def test_debiased_bias_is_unbiased_and_the_naive_one_is_not():
    """``‖m − G*‖² − tr Σ̂/K`` averages to the exact bias² over uniform draws; ``‖m − G*‖²`` exceeds it by tr Σ/K."""
    rng = np.random.default_rng(5)
    population = rng.standard_normal((70, 12)) + 0.3          # the 70 subsets' estimates
    target = rng.standard_normal(12)
    tt = target @ target
    exact = ex.bias_metrics(population, target, exact=True)["bias2_rel"]
    k, reps = 8, 4000
    debiased, naive = [], []
    for _ in range(reps):
        draw = population[rng.integers(0, 70, k)]
        debiased.append(ex.bias_metrics(draw, target, exact=False)["bias2_rel"])
        naive.append(ex.bias_metrics(draw, target, exact=True)["bias2_rel"])
    se = np.std(debiased) / math.sqrt(reps)
    assert abs(np.mean(debiased) - exact) < 4 * se
    excess = ((population - population.mean(0)) ** 2).sum(1).mean() / k / tt   # tr Σ / K, relative
    assert abs(np.mean(naive) - exact - excess) < 4 * np.std(naive) / math.sqrt(reps)
    assert excess > 20 * se  # the correction matters at this K


def test_expected_metrics_is_exact_where_it_enumerates():
    pb = _problem()
    g, ema = ex.target_gradient(pb), ex.oracle_ema(pb)
    rng = np.random.default_rng(0)
    got = ex.expected_metrics(pb, "E1", 2, g, 15, rng, ema=ema)
    assert got["exact"] == 1.0
    all_pairs = np.array(list(itertools.combinations(range(6), 2)))
    mean = ex.estimates(pb, "E1", all_pairs, ema=ema).grads.mean(0)
    assert_close(got["bias_rel"], ex.rel_error(mean, g), rtol=1e-12)
    c = pb.conv_size
    assert_close(got["bias_rel_conv"], ex.rel_error(mean[:c], g[:c]), rtol=1e-12)
    assert ex.expected_metrics(pb, "E1", 2, g, 14, rng, ema=ema)["exact"] == 0.0


def test_without_replacement_factor():
    assert ex.without_replacement_factor(10, 1) == 1 and ex.without_replacement_factor(10, 10) == 0
    assert ex.without_replacement_factor(10, 4) == ex.Fraction(6, 36)
    assert_close(ex.without_replacement_factor(10, np.array([1.0, 4.0])), [1.0, 1 / 6])


def test_realizations_are_reproducible_and_thread_independent():
    pb1, pb2 = _problem(seed=9), _problem(seed=9)
    with tn.single_thread():
        a = ex.estimate(pb1, "E5", [0, 2, 3])[0]
    b = ex.estimate(pb2, "E5", [0, 2, 3])[0]
    assert np.array_equal(a, b)
