"""T1-inf, P6-inf and T1-conv: the claims on the infinite-width limit, their negative controls and hypotheses."""
import numpy as np
import pytest

import randnet
import theorems
from randnet import DatasetSpec, NetConfig, realization_seed
from theorems import _common, infinite_width
from theorems._common import rho_powers
from validation.engine import run_claim
from validation.verdicts import FAIL, INCONCLUSIVE, PASS

T1_TINY = NetConfig(widths=1, depth=30, norm="ln", dataset=DatasetSpec(n=4, height=4, width=4))
P6_TINY = NetConfig(widths=1, depth=10, norm="ln", activation="identity",
                    dataset=DatasetSpec(name="centered", n=4, height=4, width=4))


def _run(key, configs, realizations=2):
    return run_claim(key, configs=configs, realizations=realizations, backend="serial", progress=False)


def test_t1_inf_holds_and_its_controls_are_rejected():
    res = _run("T1-inf", [T1_TINY])
    (r,) = res.results
    assert res.verdict == PASS and res.negative_controls_rejected
    c = r.samples["contraction"]
    assert c.shape == (2, 29) and np.all(c <= T1_TINY.rho) and np.all(c[:, -1] > infinite_width.TIGHT * T1_TINY.rho)
    f = r.samples["noncollapsed"]
    assert np.array_equal(c, f[:, 1:] / f[:, :-1])
    assert np.all(r.samples["noncollapsed"] <= rho_powers(T1_TINY))


def test_p6_inf_sharp_form_to_round_off_and_the_loose_form_needs_its_allowance():
    res = _run("P6-inf", [P6_TINY])
    (r,) = res.results
    assert res.verdict == PASS and res.negative_controls_rejected
    assert np.abs(r.samples["sharp_residual"]).max() < 1e-13
    assert np.all(r.samples["unequal_norms"] > 0)  # unequal input norms: f_1 < 1, so f_l = ρ^{l−1} alone is false
    gap, = (j for j in r.negative_controls if j.comparison.quantity == "gap")
    assert gap.rejected


def test_p6_inf_rejects_a_planted_error_in_the_limit(monkeypatch):
    """A wrong limit (term (1) off by 1e-6 at one layer) breaks the sharp form: the check can fail."""
    real = randnet.infinite_width_terms

    def planted(config, data):
        t = real(config, data).copy()
        t[4, 0] += 1e-6
        return t
    monkeypatch.setattr(randnet, "infinite_width_terms", planted)
    (r,) = _run("P6-inf", [P6_TINY.replace(dataset=DatasetSpec(name="centered", n=4, height=4, width=4, seed=9))],
                realizations=1).results
    sharp = r.comparisons[0]
    assert sharp.measured_verdict == FAIL and sharp.cell_verdicts.index(FAIL) == 4


def test_t1_conv_the_gap_shrinks_and_the_wrong_limit_is_rejected():
    configs = [NetConfig(widths=c, depth=6, norm="ln", dataset=DatasetSpec(n=8, height=4, width=4, redraw=False))
               for c in (16, 128)]
    res = _run("T1-conv", configs, realizations=12)
    assert res.negative_controls_rejected and res.verdict in (PASS, INCONCLUSIVE)
    two_sided, one_sided = res.asymptotic
    assert two_sided.limit_cells == (PASS,) and one_sided.trend.verdict == PASS
    assert one_sided.trend.excess[0] > 4 * one_sided.trend.excess[1] > 0  # the mean excess falls faster than C^(−1/2)
    gap = res.results[1].samples["layer_gap"]
    assert np.allclose(res.results[1].samples["limit_gap"][:, 0], gap.mean(axis=1))


@pytest.mark.parametrize("key, config, broken", [
    ("T1-inf", T1_TINY.replace(norm="bn"), ["norm is 'ln' (no +ws, +pn)"]),
    ("T1-inf", T1_TINY.replace(activation="gelu"), ["φ positive homogeneous, not identically zero"]),
    ("P6-inf", P6_TINY.replace(activation="relu"), ["φ = identity"]),
    ("P6-inf", P6_TINY.replace(dataset=DatasetSpec(n=4, height=4, width=4)), ["dataset centered: μ_c(x) = 0"]),
    ("T1-conv", T1_TINY.replace(widths=16), ["fixed dataset (the limit's)"]),
    ("T1-conv", T1_TINY.replace(widths=16, dataset=DatasetSpec(n=4, height=4, width=4, redraw=False)), []),
])
def test_hypotheses(key, config, broken):
    assert [h.name for h in theorems.REGISTRY[key].unmet(config)] == broken


def test_limit_terms_cache_ignores_the_widths_and_redrawn_data_is_its_own():
    a, b = T1_TINY.replace(widths=8), T1_TINY.replace(widths=64)
    _common._representative_limit.cache_clear()
    assert np.array_equal(_common.limit_terms(a), _common.limit_terms(b))
    assert _common._representative_limit.cache_info().misses == 1
    data = randnet.draw_data(a, realization_seed(0, 3))
    assert np.array_equal(_common.limit_terms(a, data), randnet.infinite_width_terms(a, data))
    assert not np.array_equal(_common.limit_terms(a, data), _common.limit_terms(a))
    assert _common.collapse_limit(a.replace(norm="bn")) is None
    lim = _common.collapse_limit(a)
    assert np.array_equal(lim["noncollapsed"], 1 - lim["power_terms"][:, 0])


def test_default_configurations():
    for key in ("T1-inf", "P6-inf", "T1-conv"):
        claim = theorems.REGISTRY[key]
        for mode in ("quick", "full"):
            assert all(claim.unmet(c) == [] for c in claim.configs(mode))
    assert [c.width for c in theorems.REGISTRY["T1-conv"].configs("quick")] == list(infinite_width.CONV_WIDTHS["quick"])


def test_t1_inf_reproduces_the_contraction_of_spec_8():
    """SPEC §8's table is dataset seed 3 (8 gaussian inputs 8×8): f_1 = 0.5644, f_20 = 0.0308, and the contraction
    rises from 0.736 (l = 2) to 0.9386 (l = 40, printed 0.938 there), below ρ = 0.963 throughout."""
    config = NetConfig(widths=1, depth=40, norm="ln", dataset=DatasetSpec(n=8, height=8, width=8, seed=3, redraw=False))
    m = infinite_width.t1_measure(config, realization_seed(0, 0))
    assert np.round(m["noncollapsed"][[0, 4, 11, 19]], 4).tolist() == [0.5644, 0.2091, 0.0721, 0.0308]
    c = m["contraction"]
    assert round(c[0], 3) == 0.736 and abs(c[-1] - 0.9386) < 5e-4 and np.all(np.diff(c[5:]) > 0)
    assert c.max() < config.rho
