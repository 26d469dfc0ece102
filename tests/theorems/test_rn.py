"""RN (the RegNorm regularizer, reading A primary, reading B carried): its exact identities and variants, the
stationary points and the saddle perturbation, the M = 2 spurious minima, descent from random and near-parallel
starts, the double-well control, RegNorm nets, and the engine's verdicts."""
import numpy as np
import pytest
import torch

from randnet import realization_seed
from theorems import _torchnets as tn
from theorems._bunets import RegularizerBatch, layer_standardize, zero_mean_batch
from theorems.rn import (RNConfig, RNNetConfig, WELL_A, double_well, predicted_drop, regularizer,
                         rn_identity_measure, rn_measure, rn_net_measure, stationary_point)
from tests.helpers import assert_close
from validation.engine import run_claim
from validation.verdicts import judge

SIZES = [(2, 3), (3, 3), (4, 5), (5, 8), (7, 16)]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _h(b, m, seed=0):
    g = _gen(seed)
    return 2 * torch.randn(b, 1, generator=g, dtype=tn.DTYPE) + torch.randn(b, m, generator=g, dtype=tn.DTYPE)


def test_regularizer_matches_the_formula():
    h = _h(4, 10)
    x = h.numpy()
    hat = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    hat_a = x / x.std(1, keepdims=True)
    assert_close(regularizer(h).item(), np.mean(hat_a.mean(0) ** 2), rtol=1e-13)  # reading A is the default
    assert_close(regularizer(h, "B").item(), np.mean(hat.mean(0) ** 2), rtol=1e-13)
    assert_close(regularizer(h, "B", batch_var=True).item(), np.mean((hat.var(0) - 1) ** 2), rtol=1e-13)
    assert_close(regularizer(h, "A", batch_var=True).item(), np.mean((hat_a.var(0) - 1) ** 2), rtol=1e-13)
    # leading axes are independent batches
    stacked = torch.stack([_h(4, 10, s) for s in range(3)])
    assert_close(regularizer(stacked).numpy(), [regularizer(_h(4, 10, s)).item() for s in range(3)], rtol=1e-14)


@pytest.mark.parametrize("b,m", SIZES)
def test_zero_batch_mean_gives_zero_and_identities_hold(b, m):
    z = zero_mean_batch(b, m, _gen(b * m))
    for reading in ("A", "B"):  # zero layer means: both readings leave z unchanged
        assert_close(layer_standardize(z, reading).numpy(), z.numpy(), rtol=1e-12, atol=1e-12)
        assert regularizer(z, reading).item() < 1e-28
    assert_close(z.mean(0).numpy(), np.zeros(m), atol=1e-14)
    if b == 2:  # (a, −a): R_var = mean(a⁴) − 1 > 0, so R = 0 does not force R_var = 0
        assert_close(regularizer(z, "B", batch_var=True).item(), (z[0] ** 4).mean().item() - 1, rtol=1e-12)
        assert regularizer(z, "B", batch_var=True).item() > 1e-3
    h = _h(b, m, b + m)
    r, r_var = regularizer(h, "B").item(), regularizer(h, "B", batch_var=True).item()
    assert 0 <= r <= 1 and r <= np.sqrt(r_var) * (1 + 1e-12)
    hat = layer_standardize(h, "B")
    assert_close((hat.mean(0) ** 2 + hat.var(0, unbiased=False)).mean().item(), 1.0, rtol=1e-13)
    t = h.mean(1) / h.std(1, unbiased=False)  # reading A: R_A = R_B + t̄², and the power is 1 + mean t²
    assert_close(regularizer(h, "A").item(), r + t.mean().item() ** 2, rtol=1e-12)
    hat_a = layer_standardize(h, "A")
    assert_close((hat_a.mean(0) ** 2 + hat_a.var(0, unbiased=False)).mean().item(), 1 + (t ** 2).mean().item(),
                 rtol=1e-12)


def test_single_example_is_degenerate():
    h = _h(1, 12)
    assert_close(regularizer(h, "B").item(), 1.0, rtol=1e-14)
    mu, sigma = h.mean().item(), h.std(unbiased=False).item()
    assert_close(regularizer(h, "A").item(), 1 + mu ** 2 / sigma ** 2, rtol=1e-13)


@pytest.mark.parametrize("b", [2, 3, 4, 7])
def test_stationary_points_are_saddles_with_the_predicted_drop(b):
    cfg = RNConfig(b, 6, theta=0.05)
    for reading in ("A", "B"):
        for j, k in enumerate(cfg.majorities):
            point, moved = stationary_point(b, k, 6, cfg.theta, _gen(k))
            point.requires_grad_()
            r0 = regularizer(point, reading)
            (grad,) = torch.autograd.grad(r0, point)
            s_bar = (2 * k - b) / b
            assert_close(r0.item(), s_bar ** 2, rtol=1e-13)
            assert grad.abs().max().item() < 1e-14
            drop = r0.item() - regularizer(moved, reading).item()
            assert_close(drop, predicted_drop(cfg)[j], rtol=1e-9)
            assert drop > 0


def test_two_units_have_spurious_minima():
    """M = 2: v_b ∈ {±(1, −1)}, so R_B is locally constant — v_1 = v_2 (R = 1) is a local minimum (why M ≥ 3);
    under reading A, R_A = R_B + t̄² ≥ 1 nearby: a local minimum too."""
    point = torch.tensor([[1.0, -1.0], [1.0, -1.0]], dtype=tn.DTYPE)
    g = _gen(1)
    for _ in range(20):
        near = point + 1e-3 * torch.randn(2, 2, generator=g, dtype=tn.DTYPE)
        assert_close(regularizer(near, "B").item(), 1.0, rtol=1e-13)
        assert regularizer(near, "A").item() >= 1 - 1e-13


def test_double_well_has_a_spurious_minimum():
    r = torch.linspace(0, 1, 100001, dtype=tn.DTYPE)
    f = double_well(r).numpy()
    assert f[0] == 0 and np.all(f[1:] > 0)
    interior = np.flatnonzero((f[1:-1] < f[:-2]) & (f[1:-1] < f[2:])) + 1
    assert len(interior) == 1
    assert abs(r[interior[0]].item() - WELL_A) < 0.01 and f[interior[0]] > 1e-3


@pytest.mark.parametrize("reading", ["A", "B"])
def test_descent_reaches_zero_and_the_double_well_does_not(reading):
    cfg = RNConfig(3, 8, reading, steps=300)
    out = [rn_measure(cfg, realization_seed(0, k)) for k in range(3)]
    again = rn_measure(cfg, realization_seed(0, 0))
    assert all(np.array_equal(out[0][q], again[q], equal_nan=True) for q in again)
    assert all(np.all(o["final"] <= cfg.threshold) for o in out)
    assert sum(np.sum(o["final_double_well"] > cfg.threshold) for o in out) >= 6
    assert all(np.all(o["saddle_drop"] > 0) for o in out)


def test_degenerate_configs_are_hypothesis_not_met_and_stuck():
    out = rn_measure(RNConfig(1, 8, "B", steps=20), realization_seed(0, 0))
    assert_close(out["final"], np.ones(3), rtol=1e-13) and np.isnan(out["saddle_drop"]).all()
    assert np.all(rn_measure(RNConfig(1, 8, steps=20), realization_seed(0, 0))["final"] >= 1 - 1e-13)  # A: 1 + t²
    res = run_claim("RN", configs=[RNConfig(1, 8, steps=20), RNConfig(2, 2, steps=20)], realizations=3,
                    backend="serial", progress=False)
    assert [r.verdict for r in res.results] == ["HYPOTHESIS NOT MET"] * 2
    assert [h.name for r in res.results for h in r.unmet] == ["B ≥ 2", "M ≥ 3"]


def test_checker_rejects_the_double_well_and_the_minimum_claim():
    """Few realizations cannot PASS a probability ≥ 0.9, but they already reject the false claims."""
    cfg = RNConfig(2, 3, steps=200)
    res = run_claim("RN", configs=[cfg], realizations=8, backend="serial", progress=False)
    r = res.results[0]
    assert all(j.measured_verdict == "FAIL" for j in r.negative_controls)
    assert {j.comparison.quantity: j.measured_verdict for j in r.comparisons}["stationary_grad"] == "PASS"


def test_probability_judgement_needs_enough_successes():
    """The descent comparison at the claim's size: 50 successes of 50 PASS, one failure is not enough to PASS."""
    from theorems.rn import rn_comparisons
    comp = next(c for c in rn_comparisons(RNConfig()) if c.quantity == "final")
    ok = np.zeros((50, 3))
    assert judge(comp, ok).verdict == "PASS"
    ok[0, 1] = 1.0
    assert judge(comp, ok).verdict != "PASS"


def test_identities_measure():
    out = rn_identity_measure(RegularizerBatch(3, 16), realization_seed(0, 0))
    assert out["R_A_zero"][0] < 1e-28 and out["R_B_zero"][0] < 1e-28 and abs(out["link"][0]) < 1e-14
    assert_close([out[k][0] for k in ("R_B_single", "R_A_single", "power_B", "power_A")], [1.0] * 4, rtol=1e-13)
    assert out["bound_B"][0] <= 1 and out["bound_A"][0] <= 1 and out["R_var_B_zero"][0] > 0.01
    assert out["R_A_offset"][0] > 1
    with pytest.raises(ValueError, match="batch"):
        RegularizerBatch(1, 16)


def test_config_and_input_errors():
    with pytest.raises(ValueError, match="reading"):
        RNConfig(reading="batch_var")
    with pytest.raises(ValueError, match="batch"):
        RNConfig(batch=0)
    with pytest.raises(ValueError, match="unknown RegNorm reading"):
        regularizer(_h(2, 4), "l2")
    with pytest.raises(ValueError, match="reading"):
        RNNetConfig(reading="C")
    with pytest.raises(ValueError, match="M >= 2"):
        regularizer(_h(2, 1))
    with pytest.raises(ValueError, match="lam"):
        RNNetConfig(lam=0.0)


@pytest.mark.parametrize("reading", ["A", "B"])
def test_regnorm_net_drives_batch_means_to_zero(reading):
    cfg = RNNetConfig(depth=2, width=16, steps=100, reading=reading)
    out = rn_net_measure(cfg, realization_seed(0, 0))
    assert np.all(out["R_init"] > 0.1)
    assert np.all(out["R_reg"] < cfg.threshold)
    assert np.all(out["R_noreg"] > 100 * cfg.threshold)  # the control: without λR the batch means stay
