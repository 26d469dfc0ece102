"""EN1–EN5, EN7, EN12–EN15 (theorems.en_identities): every identity holds to ≤ 1e-12 relative in float64 and every
negative control is rejected, through the engine; EN1 locates the zero-padding error at the border; EN15 in exact
rational arithmetic; planted bugs (the mean after the conv, ScaleGrad without its stop-gradients, a fold with R on
the wrong side, the wrong B in EN15's correction) flip a verdict."""
from fractions import Fraction

import numpy as np
import pytest
import torch

from randnet import DatasetSpec, realization_seed
from theorems import _extreme as ex
from theorems import _torchnets as tn
from theorems import en_identities as en
from tests.helpers import assert_close
from validation.engine import run_claim
from validation.verdicts import FAIL, PASS

KEYS = ("EN1", "EN2", "EN3", "EN4", "EN5", "EN7", "EN12", "EN13", "EN14", "EN15")


@pytest.fixture(autouse=True)
def one_thread():
    with tn.single_thread():
        yield


@pytest.mark.parametrize("key", KEYS)
def test_identity_passes_and_its_controls_are_rejected(key):
    result = run_claim(key, realizations=2, progress=False, backend="serial")
    for r in result.results:
        assert r.verdict == PASS, (key, r.label, [(j.comparison.label, j.measured_verdict) for j in r.comparisons])
        assert r.negative_controls and r.negative_controls_rejected, (key, r.label)
        for j in r.comparisons:
            if j.comparison.tolerance == ex.TOL:  # the round-off identities: ≤ 1e-12 relative
                assert j.comparison.mode == "exact"


def test_en1_locates_the_zero_padding_error_at_the_border():
    cfg = en.ConvIdentityConfig(DatasetSpec(n=4, height=7, width=9, channels=3), c_out=5, kernel_size=3)
    m = en.en1_measure(cfg, realization_seed(1, 0))
    assert m["circular"].max() < 1e-14 and m["zero_interior"].max() < 1e-14
    assert m["zero_border"].min() > 0.05 and m["zero"].min() > 0.05
    assert_close(m["border_share"], [1.0, 1.0], rtol=1e-14)
    # the error, pixel by pixel, is nonzero exactly on the border ring
    x = torch.from_numpy(cfg.dataset.draw(np.random.SeedSequence(3)))
    w = ex.random_kernel(3, 3, 5, torch.Generator().manual_seed(0))
    mu = x.mean(dim=(0, 1, 2))
    err = (ex.conv(x - mu, w, "zero") - (ex.conv(x, w, "zero") - mu @ ex.kernel_sum(w))).abs().amax(dim=(0, 3))
    assert np.array_equal(err.numpy() > 1e-12, ex.border_mask(7, 9, 3))


def test_planted_bug_mean_after_the_conv_flips_en2(monkeypatch):
    """A population layer that subtracts the mean *after* the conv makes p zero-mean under zero padding too: EN2's
    control (zero padding leaves a nonzero mean) is then no longer rejected."""
    cfg = en.conv_identity_configs("quick")[0]
    assert en.en2_measure(cfg, realization_seed(0, 0))["mean_q_zero"][0] > 0.05

    def after_conv(x, w, eps, padding="circular"):
        h = ex.conv_copies(x, w, padding)
        p = h - h.mean(dim=(1, 2, 3), keepdim=True)
        return p, x.mean(dim=(1, 2, 3)), (p ** 2).mean(dim=(1, 2, 3)) + eps

    monkeypatch.setattr(ex, "population_layer", after_conv)
    result = run_claim("EN2", [cfg], realizations=2, progress=False, backend="serial")
    assert not result.results[0].negative_controls_rejected


def _sg_missing_r(s, q, r):
    return r * q + (s - r * q).detach()


def _sg_missing_rest(s, q, r):
    r = r.detach()
    return r * q + (s - r * q)


@pytest.mark.parametrize("bug", [_sg_missing_r, _sg_missing_rest])
def test_planted_bug_scale_grad_without_stop_gradient_fails_en5(monkeypatch, bug):
    monkeypatch.setattr(ex, "scale_grad", bug)
    result = run_claim("EN5", realizations=2, progress=False, backend="serial")
    assert result.verdict == FAIL


def test_planted_bug_rotation_on_the_wrong_side_fails_en4(monkeypatch):
    """Training with R·v (column vectors) against the fold's K = (W ⊙ γ/√ν̄) R: wrong for the (non-symmetric)
    Haar R; the symmetric Hadamard R hides it."""
    def transposed(problem, theta, l, q):
        act = tn.torch_activation(problem.net.activation)
        return act((ex._bcast(theta.gammas[l]) * q) @ problem.rotations[l].T + ex._bcast(theta.betas[l]))

    monkeypatch.setattr(ex, "_activate", transposed)
    m = en.en4_measure(en.fold_configs("quick")[0], realization_seed(0, 0))
    assert m["fold"][1] < 1e-12 and m["fold"][2] > 0.01  # hadamard fine, haar broken


def test_en15_exact_rational_values():
    a, b = [1, 2, 3, 4], [2, 0, 1, 5]
    # B = 1: E[a_n b_n] = (2 + 0 + 3 + 20)/4
    assert en.product_of_means(a, b, 1) == Fraction(25, 4)
    assert en.product_of_means(a, b, 4) == Fraction(10, 4) * Fraction(8, 4)
    mean_a, mean_b = Fraction(10, 4), Fraction(8, 4)
    cov = Fraction(25, 4) - mean_a * mean_b
    for size in range(1, 5):
        assert en.product_of_means(a, b, size) == mean_a * mean_b + cov * ex.without_replacement_factor(4, size)
    m = en.en15_measure(en.ProductBiasConfig(), realization_seed(0, 0))
    assert np.all(m["residual"] == 0) and m["bias"][-1] == 0 and m["bias_minus_cov"][0] == 0 and m["cov"][0] != 0


def test_planted_bug_wrong_batch_size_in_en15_fails(monkeypatch):
    monkeypatch.setattr(ex, "without_replacement_factor", lambda n, b: Fraction(n - b, b * n))
    result = run_claim("EN15", realizations=2, progress=False, backend="serial")
    assert result.verdict == FAIL


def test_en12_clip_and_en13_values():
    m = en.en12_measure(en.ClipConfig(), realization_seed(0, 0))
    assert m["clipped"].max() <= 1 + 1e-12 and m["clipped"].min() > 0.99
    assert m["unclipped"].min() > 1
    r = en.en13_measure(en.RotationConfig((16,)), realization_seed(0, 0))
    assert_close(r["hadamard_max_entry"], [1.0], rtol=1e-14)
    assert r["haar_max_entry"][0] > 1.5 and r["hadamard_orthogonality"][0] < 1e-15


def test_config_errors():
    with pytest.raises(ValueError, match="interior pixels"):
        en.ConvIdentityConfig(DatasetSpec(n=2, height=2, width=8, channels=2))
    with pytest.raises(ValueError, match="power of 2"):
        en.FoldConfig(ex.ENNet(width=12))
    with pytest.raises(ValueError, match="powers of 2"):
        en.RotationConfig((2, 6))
    with pytest.raises(ValueError, match="at most 16"):
        en.ProductBiasConfig(n=20)
