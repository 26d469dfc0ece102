"""The infinite-width limit (SPEC §8): the fast block recursion against a slow dense reference, the closed-form
kernel maps against quadrature, exact special cases, and the limit against the project's Monte Carlo at C = 1024."""
import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, stats

from randnet import DatasetSpec, Distribution, NetConfig, get_activation, infinite_width_terms, layer_stream, \
    limit_profile, realization_seed
from randnet import limit
from tests.helpers import assert_close

NORMAL_W = Distribution("normal", 0.0, 1.0)


# -- a slow, obviously-correct reference: the dense P × P kernel, np.roll for the conv --------------------------
def _relu_map(qa, qb, k):
    """E[ReLU(u) ReLU(v)] written out again (arc-cosine), independent of randnet."""
    s = np.sqrt(qa * qb)
    c = np.clip(k / s, -1, 1)
    return (s * np.sqrt(1 - c * c) + (np.pi - np.arccos(c)) * k) / (2 * np.pi)


def reference_limit(config, data, shift_both=True, gamma_nodes=limit.GAMMA_NODES):
    """SPEC §8's recursion on the dense kernel ``K[n, h, w, m, h', w']``; ``shift_both=False`` plants an error
    (the conv shift applied to the first position only). ReLU / identity activations, Gaussian β."""
    n, h, w, c = data.shape
    k6 = np.einsum("ahwc,bijc->ahwbij", data, data) / c
    r = config.kernel_size // 2
    t, wt = np.polynomial.hermite_e.hermegauss(gamma_nodes)
    g = config.gamma.a + config.gamma.b * t
    wt = wt / wt.sum()
    s2 = config.beta.b ** 2
    phi = {"relu": _relu_map, "identity": lambda qa, qb, k: k}[config.activation]
    rows = []
    for l in range(1, config.depth + 1):
        axes = (1, 2, 4, 5) if shift_both else (1, 2)
        kx = sum(np.roll(k6, (-i, -j) * (len(axes) // 2), axis=axes)
                 for i in range(-r, r + 1) for j in range(-r, r + 1)) / config.kernel_size ** 2
        kx = kx * config.weight.mean_square
        if l == 1 and config.first_stride == 2:
            kx = kx[:, ::2, ::2, :, ::2, ::2]
        hh, ww = kx.shape[1], kx.shape[2]
        diag = np.einsum("ahwahw->ahw", kx)
        ky = kx
        if config.norm == "ln":
            v = diag.mean(axis=(1, 2))
            ky = kx / np.sqrt(v[:, None, None, None, None, None] * v[None, None, None, :, None, None])
        kd = np.abs(np.einsum("ahwahw->ahw", ky))  # abs: the planted error's kernel need not be PSD
        p2 = (n * hh * ww) ** 2
        t1 = ky.sum() / p2
        t2 = np.mean([ky[i, :, :, i].sum() / (hh * ww) ** 2 for i in range(n)]) - t1
        rows.append([t1, t2, kd.mean() - t1 - t2])
        qa, qb = kd[:, :, :, None, None, None], kd[None, None, None]
        k6 = sum(wg * phi(gg * gg * qa + s2, gg * gg * qb + s2, gg * gg * ky + s2) for gg, wg in zip(g, wt))
    return np.array(rows)


def _data(n=3, h=5, w=4, c=3, seed=0, name="gaussian"):
    return DatasetSpec(name, n=n, height=h, width=w, channels=c, seed=seed).draw()


@pytest.mark.parametrize("norm,activation,stride", [("ln", "relu", 1), ("none", "relu", 1), ("ln", "identity", 1),
                                                    ("ln", "relu", 2)])
def test_blocks_match_dense_reference(norm, activation, stride):
    cfg = NetConfig(widths=8, depth=3, norm=norm, activation=activation, first_stride=stride)
    data = _data(h=6 if stride == 2 else 5)
    assert_close(infinite_width_terms(cfg, data), reference_limit(cfg, data), rtol=1e-10, atol=1e-13)


def test_planted_shift_error_changes_the_recursion():
    cfg = NetConfig(widths=8, depth=3, norm="ln")
    data = _data()
    wrong = reference_limit(cfg, data, shift_both=False)
    assert np.abs(wrong - infinite_width_terms(cfg, data))[0].max() > 1e-3


def test_storage_round_trip_and_subsampling():
    data = _data(n=3, h=5, w=4)
    blocks = limit.empirical_kernel(data)
    full = data.reshape(-1, 3) @ data.reshape(-1, 3).T / 3
    assert_close(limit.dense(blocks, 3), full, rtol=1e-13, atol=1e-15)
    sub = limit.subsample(blocks)  # odd H = 5: rows 0, 2, 4 on a period-3 map
    kept = data[:, ::2, ::2]
    assert_close(limit.dense(sub, 3), kept.reshape(-1, 3) @ kept.reshape(-1, 3).T / 3, rtol=1e-13, atol=1e-15)


# -- the kernel maps -----------------------------------------------------------------------------------------------
def _dblquad_kernel(fn, qa, qb, k, mean=0.0, eps=1e-11):
    cov = np.array([[qa, k], [k, qb]])
    dens = stats.multivariate_normal(np.zeros(2), cov).pdf
    lim = 10 * math.sqrt(max(qa, qb))
    val, _ = integrate.dblquad(lambda v, u: fn(u + mean) * fn(v + mean) * dens([u, v]), -lim, lim, -lim, lim,
                               epsabs=eps, epsrel=10 * eps)
    return val


POINTS = [(1.0, 1.0, 0.3), (0.7, 1.9, -0.8)]


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "identity"])
def test_closed_kernel_maps_against_2d_quadrature(name):
    act = get_activation(name)
    for qa, qb, k in POINTS:
        assert_close(act.gaussian_kernel(qa, qb, k), _dblquad_kernel(act.fn, qa, qb, k), rtol=2e-8, atol=1e-10)


def test_shifted_kernel_against_adaptive_quadrature():
    """The fixed panels split at the kink against scipy's adaptive quad over u (told the kink), with the inner
    E[φ(v + b) | u] from randnet.gaussian_moments' closed form."""
    from randnet import gaussian_moments

    px, pw = np.polynomial.legendre.leggauss(limit.PANEL_NODES)
    for code, name in ((1, "relu"), (2, "leaky_relu")):
        act = get_activation(name)
        for (qa, qb, k), b in zip(POINTS, (0.4, -0.9)):
            slope, cond = k / qa, math.sqrt(qb - k * k / qa)

            def f(u):
                inner = gaussian_moments(act, slope * u + b, cond)[0]  # E[φ(v + b) | u]
                return act.fn(u + b) * inner * stats.norm.pdf(u, 0, math.sqrt(qa))

            lim = 12 * math.sqrt(qa)
            want = integrate.quad(f, -lim, lim, points=[-b], epsabs=1e-13, epsrel=1e-12, limit=200)[0]
            assert_close(limit._shifted_kernel(code, qa, qb, k, b, px, pw), want, rtol=1e-11, atol=1e-13)


def test_smooth_activation_quadrature_against_dblquad():
    act = get_activation("tanh")
    for qa, qb, k in POINTS:
        assert_close(act.gaussian_kernel(qa, qb, k, 0.2), _dblquad_kernel(np.tanh, qa, qb, k, 0.2), rtol=5e-8,
                     atol=1e-10)


def test_gamma_nodes_suffice():
    """GAMMA_NODES = 8 Gauss–Hermite nodes for γ ~ N(1, 0.2²): within 2e-9 of 48 nodes (measured 1.5e-9 at depth 6;
    the arc-cosine map's branch point near c = 1 makes the convergence algebraic: 2.4e-11 at 24 nodes)."""
    cfg = NetConfig(widths=8, depth=4, norm="ln")
    data = _data()
    assert limit.GAMMA_NODES == 8
    assert_close(infinite_width_terms(cfg, data), reference_limit(cfg, data, gamma_nodes=48), rtol=0, atol=2e-9)


# -- exact special cases -----------------------------------------------------------------------------------------
def test_ln_power_is_one_and_terms_sum_to_it():
    prof = limit_profile(NetConfig(widths=8, depth=4, norm="ln", activation="tanh"), _data())
    assert_close(prof.power_y, np.ones(4), rtol=1e-13)
    assert_close(prof.terms_y.sum(axis=1), prof.power_y, rtol=1e-13)


def test_identity_centred_data_contracts_by_rho_exactly():
    """P6 at C = ∞: f_l = ρ^{l−1} f_1, ρ = ‖ν_γ‖² / (‖ν_γ‖² + ‖ν_β‖²)."""
    cfg = NetConfig(widths=8, depth=8, norm="ln", activation="identity")
    prof = limit_profile(cfg, _data(n=4, h=6, w=6, name="centered"))
    f = prof.noncollapsed
    rho = cfg.gamma.mean_square / (cfg.gamma.mean_square + cfg.beta.mean_square)
    assert_close(f, f[0] * rho ** np.arange(8), rtol=1e-12)


def test_float32_storage_suffices():
    cfg = NetConfig(widths=8, depth=10, norm="ln")
    data = _data(n=4, h=6, w=6)
    assert_close(limit_profile(cfg, data, dtype="float32").terms_y, infinite_width_terms(cfg, data), rtol=0,
                 atol=1e-6)


def test_spec_table_regression():
    """SPEC §8's table, C = ∞ column: 8 gaussian inputs 8×8, 3 channels, reference γ, β, ReLU, LN; and its
    layer-wise contraction f_l / f_{l−1}, rising from 0.736 (l = 2) to 0.938 (l = 40), below ρ."""
    ds = DatasetSpec(n=8, height=8, width=8, channels=3, seed=3)
    cfg = NetConfig(widths=8, depth=40, norm="ln", dataset=ds)
    f = limit_profile(cfg, ds.draw()).noncollapsed
    assert np.round(f[[0, 4, 11, 19]], 4).tolist() == [0.5644, 0.2091, 0.0721, 0.0308]
    contraction = f[1:] / f[:-1]
    assert round(contraction[0], 3) == 0.736 and round(contraction[-1], 3) == 0.939  # SPEC: 0.938, truncated
    rho = cfg.gamma.mean_square / (cfg.gamma.mean_square + cfg.beta.mean_square)
    assert np.all(np.diff(contraction) > 0) and np.all(contraction < rho)


# -- memory ----------------------------------------------------------------------------------------------------------
def test_memory_plan_refuses_up_front():
    cfg = NetConfig(widths=8, depth=2, norm="ln")
    need = limit.memory_plan(cfg, (32, 16, 16, 3), available=2 ** 40)
    assert need == 32 * 33 // 2 * 256 ** 2 * 8
    with pytest.raises(MemoryError, match=r"need 0\.26 GiB .* available; the largest N that fits is (\d+)") as e:
        limit.memory_plan(cfg, (32, 16, 16, 3), available=2 ** 28)
    fits = int(str(e.value).rsplit(" ", 1)[1])
    assert limit.kernel_bytes(fits, 16, 16) <= 0.8 * 2 ** 28 < limit.kernel_bytes(fits + 1, 16, 16)
    assert "\n" not in str(e.value)


def test_bad_input_one_line():
    with pytest.raises(ValueError, match="no exact recursion"):
        limit_profile(NetConfig(widths=8, depth=2, norm="bn"), _data(), method="exact")
    with pytest.raises(ValueError, match=r"data must be \(N, H, W, C\)"):
        infinite_width_terms(NetConfig(widths=8, depth=2, norm="ln"), np.ones((3, 4)))


# -- against the project's Monte Carlo at C = 1024 ---------------------------------------------------------------
def monte_carlo_terms(cfg, data, realizations):
    """Mean and standard error over realizations of (term 1, term 2, terms 3 + 4) of y^l."""
    rows = []
    for k in range(realizations):
        rows.append([[p[0], p[1], p[2] + p[3]] for p in (s.power_y.mean(axis=1)
                                                         for s in layer_stream(cfg, realization_seed(0, k), data))])
    a = np.array(rows)
    return a.mean(axis=0), a.std(axis=0, ddof=1) / math.sqrt(realizations)


def agrees_with_monte_carlo(terms, mc_mean, mc_se, width):
    """Within 4 standard errors plus a finite-width allowance 2/C (the bias of power fractions is O(1/C))."""
    return bool(np.all(np.abs(terms - mc_mean) <= 4 * mc_se + 2.0 / width))


@pytest.fixture(scope="module")
def wide_ln():
    ds = DatasetSpec(n=4, height=5, width=5, channels=3, seed=1, redraw=False)
    cfg = NetConfig(widths=1024, depth=4, norm="ln", dataset=ds, weight=NORMAL_W, dtype="float64")
    data = ds.draw()
    return cfg, data, *monte_carlo_terms(cfg, data, 4)


def test_limit_matches_wide_monte_carlo(wide_ln):
    cfg, data, mean, se = wide_ln
    assert agrees_with_monte_carlo(infinite_width_terms(cfg, data), mean, se, 1024)


def test_planted_error_fails_the_monte_carlo_check(wide_ln):
    cfg, data, mean, se = wide_ln
    assert agrees_with_monte_carlo(reference_limit(cfg, data), mean, se, 1024)
    assert not agrees_with_monte_carlo(reference_limit(cfg, data, shift_both=False), mean, se, 1024)


# -- the mean field ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm,groups", [("bn", None), ("gn", 256), ("preln", None), ("bn+pn", None)])
def test_mean_field_is_the_gaussian_weight_net_in_law(norm, groups):
    """With ν_ω normal, sampling S channels from K_x is exactly a width-S layer: at S = C = 1024 the mean field and
    the project's Monte Carlo agree within their intervals, with no finite-width allowance (GN: 4 channels a
    group; PreLN: its input centring)."""
    ds = DatasetSpec(n=4, height=5, width=5, channels=3, seed=1, redraw=False)
    cfg = NetConfig(widths=1024, depth=3, norm=norm, groups=groups, dataset=ds, weight=NORMAL_W, dtype="float64")
    data = ds.draw()
    prof = limit_profile(cfg, data, samples=1024, replicas=8)
    assert prof.method == "mean_field" and prof.terms_se.shape == (3, 3)
    mean, se = monte_carlo_terms(cfg, data, 4)
    assert np.all(np.abs(prof.terms_y - mean) <= 4 * np.hypot(se, prof.terms_se) + 1e-12)
    if norm.startswith("bn"):
        assert_close(prof.terms_y[:, 0], np.zeros(3), atol=1e-12)  # BN centres every channel: term (1) = 0
    if norm == "preln":  # a planted error: PreLN's mean field without its input centring (that is RegNorm's)
        wrong = limit_profile(dataclasses.replace(cfg, norm="regnorm"), data, samples=1024, replicas=8)
        assert not np.all(np.abs(wrong.terms_y - mean) <= 4 * np.hypot(se, wrong.terms_se))


def test_mean_field_approaches_the_exact_limit():
    """LN through the mean field at S = 16384 agrees with the exact recursion within its interval plus 8/S
    (the measured finite-S bias: ~0.004 at S = 4096)."""
    cfg = NetConfig(widths=8, depth=3, norm="ln", weight=NORMAL_W)
    data = _data(n=4, h=5, w=5, seed=1)
    prof = limit_profile(cfg, data, method="mean_field", samples=16384, replicas=4)
    lo, hi = prof.confidence_interval(0.9999)
    exact = infinite_width_terms(cfg, data)
    assert np.all((lo - 8 / 16384 <= exact) & (exact <= hi + 8 / 16384))


def test_mean_field_refuses_a_group_size_it_cannot_form():
    cfg = NetConfig(widths=12, depth=2, norm="gn", groups=4)  # 3 channels a group
    with pytest.raises(ValueError, match="multiple of the group size 3"):
        limit_profile(cfg, _data(), samples=1024)


@pytest.mark.parametrize("norm,changes", [("ln+pn", {}), ("ln+ws", {}), ("ln+pn", {"activation": "leaky_relu"}),
                                          ("ln", {"beta": "rademacher(0.3)", "gamma": "uniform(0.7, 1.3)"}),
                                          ("none", {"activation": "tanh", "depth": 2})])
def test_exact_recursions_match_wide_monte_carlo(norm, changes):
    """At C = 1024: LN + PN (deterministic: PN's correction depends on γ, β only), LN + WS (the patch mean
    removed), a non-Gaussian β and γ (their own quadratures), a smooth activation (2-D Gauss–Hermite), no norm;
    a normal ν_ω, whose layer-1 law is Gaussian."""
    ds = DatasetSpec(n=4, height=5, width=5, channels=3, seed=1, redraw=False)
    cfg = NetConfig(**{"widths": 1024, "depth": 3, "norm": norm, "dataset": ds, "weight": NORMAL_W, "dtype": "float64",
                       **changes})
    data = ds.draw()
    mean, se = monte_carlo_terms(cfg, data, 4)
    assert agrees_with_monte_carlo(infinite_width_terms(cfg, data), mean, se, 1024)


def test_weight_standardization_without_its_mean_removal_is_rejected():
    """The limit with WS's patch-mean term left out (plain LN's recursion) misses the WS Monte Carlo."""
    ds = DatasetSpec(n=4, height=5, width=5, channels=3, seed=1, redraw=False)
    cfg = NetConfig(widths=1024, depth=3, norm="ln+ws", dataset=ds, weight=NORMAL_W, dtype="float64")
    data = ds.draw()
    mean, se = monte_carlo_terms(cfg, data, 4)
    plain = infinite_width_terms(NetConfig(widths=8, depth=3, norm="ln", weight=NORMAL_W), data)
    assert not agrees_with_monte_carlo(plain, mean, se, 1024)


def test_split_of_terms_3_and_4_sums_to_the_exact_total():
    cfg = NetConfig(widths=8, depth=3, norm="ln")
    prof = limit_profile(cfg, _data(n=4, h=5, w=5), split_samples=4096, seed=2)
    assert prof.split_y.shape == prof.split_se.shape == (3, 2)
    assert np.all(np.abs(prof.split_y.sum(axis=1) - prof.terms_y[:, 2]) <= 4 * prof.split_se.sum(axis=1))
    assert np.all(prof.split_y[:, 0] > prof.split_y[:, 1])  # term (3), the mean instance spread, dominates


# -- WS's first layer: the sphere law (SPEC §8's Gaussian is wrong there) -------------------------------------------
def test_sphere_rule_moments():
    """V, the projection on a plane of a uniform unit vector of ℝ^D: E V₁² = 1/D, E V₁⁴ = 3/(D(D+2)), E V₁²V₂² =
    1/(D(D+2)) — not the Gaussian's 3/D²."""
    for dim in (3, 8, 26):
        r, wr, cos, sin = limit.sphere_rule(dim)
        mean = lambda f: float(np.sum(wr[:, None] * f(r[:, None] * cos, r[:, None] * sin)) / len(cos))
        assert_close(mean(lambda a, b: a * a), 1 / dim, rtol=1e-13)
        assert_close(mean(lambda a, b: a ** 4), 3 / (dim * (dim + 2)), rtol=1e-12)
        assert_close(mean(lambda a, b: a * a * b * b), 1 / (dim * (dim + 2)), rtol=1e-12)


def test_weight_standardization_first_layer_is_the_sphere_law():
    """One input channel, K = 3: the standardized first filter is uniform on the unit sphere of the 8-dimensional
    centred patch space. Its law changes the mean function that WS removes at layer 2, where term (1) is a small
    difference: the sphere law matches the C = 1024 Monte Carlo, the Gaussian of SPEC §8 is rejected (measured at
    C = 8192, 8 realizations: term (1) of y² is 0.0478 ± 0.0004; sphere law 0.0476, Gaussian 0.0711)."""
    ds = DatasetSpec(n=4, height=4, width=4, channels=1, seed=1, redraw=False)
    cfg = NetConfig(widths=1024, depth=2, norm="ln+ws", dataset=ds, weight=NORMAL_W, dtype="float64")
    data = ds.draw()
    mean, se = monte_carlo_terms(cfg, data, 4)
    prof = limit_profile(cfg, data)
    assert prof.ws_first_layer == "sphere"  # "auto" within SPHERE_BUDGET
    sphere = prof.terms_y
    gaussian = limit_profile(cfg, data, ws_first_layer="gaussian").terms_y
    assert agrees_with_monte_carlo(sphere, mean, se, 1024)
    assert not agrees_with_monte_carlo(gaussian, mean, se, 1024)
    assert abs(gaussian[1, 0] - sphere[1, 0]) > 0.01


def test_sphere_law_beyond_its_budget_falls_back_to_the_gaussian_and_says_so():
    cfg = NetConfig(widths=8, depth=1, norm="ln+ws")
    assert limit_profile(cfg, _data(n=2, h=16, w=16)).ws_first_layer == "gaussian"
    assert limit_profile(NetConfig(widths=8, depth=1, norm="ln"), _data()).ws_first_layer is None
