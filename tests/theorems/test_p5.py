"""P5 (IN alters expressivity) and the shared torch helpers: the bounds η*, η, η₀ against direct formulas, the
deterministic inequalities on random IN layers, the attaining constructions, the ε > 0 case, the shared_stats
negative control, trained IN nets, and the engine's verdicts (PASS, negative controls rejected)."""
import numpy as np
import pytest
import torch

from randnet import ACTIVATIONS, DatasetSpec, NetConfig, draw_data, forward, get_activation, normalize, \
    periodic_conv, realization_seed
from randnet.roundoff import inequality_tolerance as roundoff
from theorems import _torchnets as tn
from theorems._expressivity import expressivity_bounds, identity_distance
from theorems.p5 import P5TrainConfig, attaining_layer, p5_configs, p5_hypotheses, p5_measure, p5_train_measure
from tests.helpers import assert_close
from validation.engine import run_claim

SMALL = DatasetSpec(n=6, height=4, width=4, channels=3)


def _data(seed=0, shape=(6, 5, 4, 3)):
    """Per-input shifts and contrasts, so that every term of the power decomposition is non-trivial."""
    rng = np.random.default_rng(seed)
    n, _, _, c = shape
    return (rng.uniform(0.5, 1.5, c) + rng.standard_normal((n, 1, 1, c))
            + rng.uniform(0.5, 1.5, (n, 1, 1, c)) * rng.standard_normal(shape))


def test_bounds_match_direct_formulas():
    x = _data()
    m, s = x.mean(axis=(1, 2)), x.std(axis=(1, 2))
    b = expressivity_bounds(x)
    assert_close(b["eta_star"], np.mean(m.var(axis=0) + s.var(axis=0)), rtol=1e-12)
    assert_close(b["eta"], np.mean(m.var(axis=0)), rtol=1e-12)
    assert_close(b["eta0"], np.mean(m ** 2 + (s - 1) ** 2), rtol=1e-12)
    assert_close(b["power"], np.mean(x ** 2), rtol=1e-12)
    assert b["eta_star"] > b["eta"] > 0


def test_attaining_constructions_reach_the_bounds():
    x = _data(1)
    b = expressivity_bounds(x)
    assert_close(identity_distance(attaining_layer(x), x), b["eta_star"], rtol=1e-12)
    assert_close(identity_distance(attaining_layer(x, affine=False), x), b["eta0"], rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_no_in_layer_goes_below_the_bound(seed):
    """Any kernel, γ (either sign) and β: one IN layer has d ≥ η*, d ≥ η, and d(y) ≥ η₀ (deterministic)."""
    x = _data(seed, (5, 4, 4, 4))
    rng = np.random.default_rng(100 + seed)
    y = normalize(periodic_conv(x, rng.standard_normal((3, 3, 4, 4))), "in")
    b = expressivity_bounds(x)
    # parameters near the optimum, where the bound is nearly tight
    m, s = x.mean(axis=(1, 2)).mean(0), x.std(axis=(1, 2)).mean(0)
    for gamma, beta in ((rng.standard_normal(4), rng.standard_normal(4)), (s * rng.choice([-1, 1], 4), m),
                        (s + 1e-3 * rng.standard_normal(4), m + 1e-3 * rng.standard_normal(4))):
        d = identity_distance(gamma * y + beta, x)
        assert d >= b["eta_star"] * (1 - 1e-12) and d >= b["eta"]
    assert identity_distance(y, x) >= b["eta0"] * (1 - 1e-12)


def test_eps_keeps_the_weak_bound_only():
    """With ε > 0 the construction still has d ≥ η, but d < η* is now possible (the sharp bound needs ε = 0)."""
    cfg = next(c for c in p5_configs("quick") if c.eps > 0)
    out = p5_measure(cfg, realization_seed(0, 0))
    assert np.all(out["d_over_eta"] >= 1) and out["construct_over_eta"][0] >= 1
    assert out["construct_over_eta_star"][0] < 1 - 1e-3


def test_random_in_nets_pinned_and_above_the_bound():
    cfg = p5_configs("quick")[0]
    out = p5_measure(cfg, realization_seed(0, 0))
    tol = roundoff(cfg.dtype)
    assert np.all(out["d_over_eta_star"] >= 1 - tol) and np.all(out["d0_over_eta0"] >= 1 - tol)
    assert_close(out["construct_over_eta_star"], [1.0], rtol=1e-12)
    assert_close(out["bare_over_eta0"], [1.0], rtol=1e-12)
    assert_close(out["eta_star"], [0.3253086260900609], rtol=1e-10)
    assert_close(out["d_over_eta_star"][:2], [9.824983908430333, 11.095363867837314], rtol=1e-9)


def test_measured_distance_is_the_distance_of_the_layer_tensors():
    """P5's ``d`` per layer is (1/(NHWC)) Σ ‖u^l − x‖², u^l = γ^l y^l + β^l, from forward()'s own tensors (this
    distance to the input was also computed, read by no claim, as ``LayerStats.distance_to_input``)."""
    cfg = p5_configs("quick")[0]
    ss = realization_seed(3, 1)
    out = p5_measure(cfg, ss)
    layers, x = list(forward(cfg, ss)), draw_data(cfg, ss)
    expected = [np.mean((l.params.gamma * l.y.astype(np.float64) + l.params.beta - x) ** 2) for l in layers]
    assert_close(out["d"], np.array(expected), rtol=1e-10)


def test_shared_stats_has_no_variability_and_is_not_a_pass():
    cfg = next(c for c in p5_configs("quick") if c.dataset.name == "shared_stats")
    assert not all(h.met for h in p5_hypotheses(cfg))
    x = cfg.dataset.draw()
    b = expressivity_bounds(x)
    assert b["eta_star"] < 1e-20 * b["power"]
    assert identity_distance(attaining_layer(x), x) < 1e-20 * b["power"]  # an IN net reaches d ≈ 0 there
    out = p5_measure(cfg, realization_seed(0, 0))
    assert np.isnan(out["d_over_eta_star"]).all()  # the ratio is undefined, not a huge number


def test_hypothesis_norm_in_and_shape_errors():
    ln = NetConfig(widths=3, depth=2, norm="ln", dtype="float64", dataset=SMALL)
    assert not p5_hypotheses(ln)[0].met
    wide = NetConfig(widths=5, depth=2, norm="in", dtype="float64", dataset=SMALL)
    with pytest.raises(ValueError, match="C\\^l = C⁰"):
        p5_measure(wide, realization_seed(0, 0))
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        P5TrainConfig(depth=0)
    with pytest.raises(ValueError, match="approach"):
        P5TrainConfig(approach=-1.0)
    with pytest.raises(ValueError, match="unknown activation"):
        P5TrainConfig(activation="swish")


def test_trained_in_net_approaches_eta_star_from_above():
    cfg = P5TrainConfig(SMALL, depth=1, steps=60, lr=5e-2)
    out = p5_train_measure(cfg, realization_seed(3, 0))
    again = p5_train_measure(cfg, realization_seed(3, 0))
    assert all(np.array_equal(out[k], again[k], equal_nan=True) for k in out)  # bit-for-bit reproducible
    assert out["min_ratio"][0] >= 1 - roundoff("float64")
    assert out["trajectory"][0] > 2 * out["final_ratio"][0]  # training made progress toward η*
    assert out["final_ratio"][0] < 1.2


def test_trained_in_net_on_shared_stats_reaches_zero():
    cfg = P5TrainConfig(DatasetSpec("shared_stats", n=6, height=4, width=4, channels=3), depth=1, steps=300, lr=5e-2)
    out = p5_train_measure(cfg, realization_seed(0, 0))
    assert np.isnan(out["final_ratio"][0]) and out["d_final_rel"][0] < 1e-9


# -- the torch helpers agree with randnet ------------------------------------------------------------------
def test_torch_conv_norm_activations_match_randnet():
    x = _data(2, (3, 5, 6, 4))
    w = np.random.default_rng(0).standard_normal((3, 3, 4, 2))
    got = tn.periodic_conv(tn.to_torch(x), torch.from_numpy(w.transpose(3, 2, 0, 1).copy())).numpy()
    assert_close(got.transpose(0, 2, 3, 1), periodic_conv(x, w), rtol=1e-12, atol=1e-12)
    for kind in ("in", "ln"):
        got = tn.normalize(tn.to_torch(x), kind, eps=1e-3).numpy().transpose(0, 2, 3, 1)
        assert_close(got, normalize(x, kind, eps=1e-3), rtol=1e-12, atol=1e-12)
    t = np.linspace(-30, 30, 601)
    for name in ACTIVATIONS:
        fn = tn.torch_activation(name)
        assert_close(fn(torch.from_numpy(t)).numpy(), get_activation(name)(t), rtol=1e-12, atol=1e-15, msg=name)
    with pytest.raises(ValueError, match="unknown activation"):
        tn.torch_activation("swish")
    with pytest.raises(ValueError, match="unknown normalization"):
        tn.normalize(tn.to_torch(x), "gn")


def test_train_rejects_bad_arguments():
    p = torch.zeros(2, dtype=tn.DTYPE, requires_grad=True)
    with pytest.raises(ValueError, match="optimizer"):
        tn.train([p], lambda: (p ** 2).sum(), 1, 0.1, optimizer="lbfgs")
    with pytest.raises(ValueError, match="lr"):
        tn.train([p], lambda: (p ** 2).sum(), 1, 0.0)


# -- the engine's verdicts ---------------------------------------------------------------------------------
def test_engine_passes_p5_and_rejects_its_negative_controls():
    quick = p5_configs("quick")
    configs = [next(c for c in quick if c.eps == 0 and c.dataset.name == "gaussian" and c.depth <= 4),
               next(c for c in quick if c.eps > 0), next(c for c in quick if c.dataset.name == "shared_stats")]
    res = run_claim("P5", configs=configs, realizations=2, backend="serial", progress=False)
    assert [r.verdict for r in res.results] == ["PASS", "PASS", "HYPOTHESIS NOT MET"]
    assert all(j.rejected for r in res.results[:2] for j in r.negative_controls)
    assert len(res.results[0].negative_controls) == len(res.results[1].negative_controls) == 1
