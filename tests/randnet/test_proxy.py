"""Proxy Norm (SPEC §3, Eq. 7): the Gaussian moments of φ(a + bZ) and the proxy-normalized activation.

References: closed forms for ReLU / leaky ReLU / identity and adaptive quadrature (scipy.integrate.quad)
for every activation. Exactness: fed with the nodes of the rule the moments were computed with, the
proxy-normalized output has weighted mean 0 and variance 1 to round-off.
"""
import math
import warnings

import numpy as np
import pytest
from scipy import integrate, special

from randnet import ACTIVATIONS, gaussian_moments, proxy_activation
from randnet.proxy import PAPER_QUANTILES, hermite_rule, quantile_rule
from tests.helpers import assert_close

SMOOTH = ("gelu", "tanh", "silu", "softplus")
PIECEWISE_LINEAR = ("relu", "leaky_relu", "identity")
# (a, b) of φ(a + bZ): b up to 5 (a Proxy Norm with γ ~ N(1, 0.2²) sees |b| ≲ 2), both signs, and |a/b| ≫ 1
AFFINE = [(0.0, 1.0), (0.3, 0.8), (-0.7, 1.3), (0.5, -2.0), (1.0, 3.0), (-2.0, 5.0), (0.2, 0.05), (4.0, 0.5)]
QUAD_TOL = dict(rtol=1e-12, atol=1e-13)  # SPEC asks < 1e-10 for the smooth activations


def quad_moments(name, a, b):
    """E and Var of φ(a + bZ) by adaptive quadrature over |Z| ≤ 12 (Gaussian mass beyond: 2e-33),
    with a breakpoint where a + bZ = 0 (the kink, or the steep part, of every activation)."""
    f = ACTIVATIONS[name].fn
    pdf = lambda t: math.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)  # noqa: E731
    kink = -a / b if b != 0 else None
    kw = dict(points=[kink] if kink is not None and abs(kink) < 12 else None, limit=500, epsabs=1e-14, epsrel=1e-13)
    with warnings.catch_warnings():  # quad warns when round-off stops it short of epsabs; its estimate is checked
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        mean, mean_err = integrate.quad(lambda t: float(f(a + b * t)) * pdf(t), -12, 12, **kw)
        var, var_err = integrate.quad(lambda t: (float(f(a + b * t)) - mean) ** 2 * pdf(t), -12, 12, **kw)
    scale = 1 + abs(a) + abs(b)  # |φ(a + bZ)| ≲ scale·(1 + |Z|) for every activation here
    assert mean_err < 1e-13 * scale and var_err < 1e-13 * scale ** 2, (name, a, b, mean_err, var_err)
    return mean, var


@pytest.mark.parametrize("name", SMOOTH + PIECEWISE_LINEAR)
def test_exact_moments_match_adaptive_quadrature(name):
    a, b = np.array(AFFINE).T
    mean, var = gaussian_moments(name, a, b)
    ref = np.array([quad_moments(name, ai, bi) for ai, bi in AFFINE]).T
    assert_close(mean, ref[0], **QUAD_TOL, msg=f"{name} mean")
    assert_close(var, ref[1], **QUAD_TOL, msg=f"{name} var")


@pytest.mark.parametrize("name", SMOOTH)
def test_exact_rule_at_its_coarsest(name):
    """Scales just below each refinement step get the widest panels allowed (PANEL_SCALE / |b|): still < 1e-12.
    The channels of one call span several refinement levels; each must match its own quadrature."""
    bs = [1.4999, 1.5001, 2.9999, 5.999, 11.99, 47.9]
    a = np.resize([0.0, 0.37, -1.3], len(bs))
    mean, var = gaussian_moments(name, a, np.array(bs))
    ref = np.array([quad_moments(name, ai, bi) for ai, bi in zip(a, bs)]).T
    assert_close(mean, ref[0], **QUAD_TOL, msg=f"{name} mean")
    assert_close(var, ref[1], **QUAD_TOL, msg=f"{name} var")


def test_relu_closed_form_values():
    """E[ReLU(bZ)] = |b|/sqrt(2π), Var = b² (1/2 − 1/(2π)); E[ReLU(a + bZ)] = a Φ(a/|b|) + |b| φ(a/|b|)."""
    b = np.array([0.5, -1.0, 2.0])
    mean, var = gaussian_moments("relu", np.zeros(3), b)
    assert_close(mean, np.abs(b) / math.sqrt(2 * math.pi), rtol=1e-15)
    assert_close(var, b ** 2 * (0.5 - 1 / (2 * math.pi)), rtol=1e-14)
    a, s = 0.7, 1.3
    mean, _ = gaussian_moments("relu", a, s)
    assert_close(mean, a * special.ndtr(a / s) + s * math.exp(-0.5 * (a / s) ** 2) / math.sqrt(2 * math.pi), rtol=1e-15)
    mean, var = gaussian_moments("identity", np.array([0.3, -1.0]), np.array([2.0, -0.5]))
    assert_close(mean, [0.3, -1.0], rtol=0)
    assert_close(var, [4.0, 0.25], rtol=0)


def test_leaky_relu_is_relu_minus_slope_times_reflected_relu():
    """leaky(t) = ReLU(t) − s ReLU(−t): its moments by quadrature of the two-term sum."""
    a, b = 0.4, 1.5
    slope = ACTIVATIONS["leaky_relu"].slopes[1]
    t = np.linspace(-8, 8, 400001)
    u = a + b * t
    w = np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi) * (t[1] - t[0])
    f = np.maximum(u, 0) - slope * np.maximum(-u, 0)
    mean, var = gaussian_moments("leaky_relu", a, b)
    assert_close(mean, f @ w, rtol=1e-8)  # trapezoid-free Riemann sum: ~1e-9 accurate here
    assert_close(var, ((f - f @ w) ** 2) @ w, rtol=1e-8)


@pytest.mark.parametrize("a, b", [(1.0, 1e-6), (3.0, 1e-4), (-1.0, 1e-6), (50.0, 1.0)])
def test_relu_variance_has_no_cancellation_far_from_the_kink(a, b):
    """For |a| ≫ |b|, ReLU(a + bZ) is (almost surely) a + bZ or 0: Var = b² or ≈ 0, not E[ReLU²] − E² noise."""
    _, var = gaussian_moments("relu", a, b)
    expected = b * b if a > 0 else 0.0
    assert_close(var, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", SMOOTH + PIECEWISE_LINEAR)
def test_zero_scale_is_a_point_mass(name):
    """b = 0 (γ_c = 0): mean φ(a) and variance exactly 0 for every method — finite, no NaN, no round-off."""
    a = np.array([-1.0, 0.0, 0.5])
    for method in ("exact", "hermite", "quantile"):
        mean, var = gaussian_moments(name, a, np.zeros(3), method=method)
        assert_close(mean, ACTIVATIONS[name](a), rtol=1e-15, atol=1e-300)
        assert np.array_equal(var, np.zeros(3))


@pytest.mark.parametrize("name", ["tanh", "gelu"])
def test_plain_hermite_is_accurate_only_for_small_scales(name):
    """Why "exact" does not use plain Gauss–Hermite: 160 nodes are exact to round-off at |b| ≤ 1 but
    lose digits as |b| grows (tanh's poles at ±iπ/2 come within π/(2|b|) of the real axis)."""
    for b, worst in ((0.5, 1e-13), (1.0, 1e-13), (5.0, None)):
        mean, var = gaussian_moments(name, 0.3, b, method="hermite")
        ref_mean, ref_var = quad_moments(name, 0.3, b)
        err = max(abs(mean - ref_mean), abs(var - ref_var) / ref_var)
        if worst is None:
            assert err > 1e-8, f"{name}: Gauss–Hermite unexpectedly accurate at b={b} ({err:.1e})"
            exact_mean, exact_var = gaussian_moments(name, 0.3, b)
            assert max(abs(exact_mean - ref_mean), abs(exact_var - ref_var) / ref_var) < 1e-12
        else:
            assert err < worst, f"{name}: b={b} error {err:.1e}"


@pytest.mark.parametrize("name", SMOOTH + PIECEWISE_LINEAR)
@pytest.mark.parametrize("method, rule", [("quantile", quantile_rule(PAPER_QUANTILES)),
                                          ("hermite", hermite_rule(40))])
def test_proxy_is_exactly_normalized_on_its_own_rule(name, method, rule):
    """Replacing the draws y ~ N(β̃, (1 + γ̃)²) by the rule's nodes β̃ + (1 + γ̃) t_i gives moments 0 / 1 exactly."""
    t, w = rule
    rng = np.random.default_rng(0)
    c = 5
    gamma, beta = rng.normal(1, 0.4, c), rng.normal(0, 0.5, c)
    for pb, pg in ((np.zeros(c), np.zeros(c)), (rng.normal(0, 0.5, c), rng.normal(0, 0.3, c))):
        y = pb + (1 + pg) * t[:, None]  # (nodes, C)
        z = proxy_activation(y, gamma, beta, name, proxy_beta=pb, proxy_gamma=pg, method=method,
                             n=len(t))
        mean = w @ z
        assert_close(mean, np.zeros(c), atol=1e-13)
        assert_close(w @ (z - mean) ** 2, np.ones(c), rtol=1e-12)
    # negative control: the proxy of Y ~ N(β̃, (1+γ̃)²) evaluated on N(0, 1) nodes is not normalized
    z = proxy_activation(t[:, None] + np.zeros(c), gamma, beta, name, proxy_beta=pb, proxy_gamma=pg,
                         method=method, n=len(t))
    assert np.max(np.abs(w @ z)) > 1e-2 or np.max(np.abs(w @ z ** 2 - 1)) > 1e-2


@pytest.mark.parametrize("name", SMOOTH + PIECEWISE_LINEAR)
def test_proxy_activation_matches_its_formula(name):
    """z = (φ(γ y + β) − E) / sqrt(Var + ε), E and Var of φ(γ Y + β), Y ~ N(β̃, (1 + γ̃)²), from quadrature."""
    rng = np.random.default_rng(1)
    c = 4
    y = rng.standard_normal((3, 2, 5, c))
    gamma, beta = rng.normal(1, 0.3, c), rng.normal(0, 0.3, c)
    pb, pg = rng.normal(0, 0.3, c), rng.normal(0, 0.2, c)
    for eps in (0.0, 0.03):
        z = proxy_activation(y, gamma, beta, name, eps=eps, proxy_beta=pb, proxy_gamma=pg)
        moments = np.array([quad_moments(name, beta[k] + gamma[k] * pb[k], gamma[k] * (1 + pg[k])) for k in range(c)])
        ref = (ACTIVATIONS[name](gamma * y + beta) - moments[:, 0]) / np.sqrt(moments[:, 1] + eps)
        assert_close(z, ref, rtol=1e-11, atol=1e-12, msg=f"eps={eps}")


def _cell_errors(n):
    """δ₁ = E|Z − Q(Z)| and δ₂ = sqrt(E (Z − Q(Z))²), Q mapping Z in quantile cell i to the node t_i.

    Per cell [l, u]: ∫ (z − t)² φ = Φ(u) − Φ(l) + lφ(l) − uφ(u) − 2t(φ(l) − φ(u)) + t²/n, and
    ∫ |z − t| φ = 2φ(t) − φ(l) − φ(u) − t (2Φ(t) − Φ(l) − Φ(u)) (split at t).
    """
    t, _ = quantile_rule(n)
    edges = special.ndtri(np.arange(n + 1) / n)
    lo, hi = edges[:-1], edges[1:]
    fin = lambda x: np.where(np.isfinite(x), x, 0.0)  # noqa: E731  (φ(±∞) = ±∞·φ(±∞) = 0)
    pdf = lambda x: np.where(np.isfinite(x), np.exp(-0.5 * fin(x) ** 2), 0.0) / math.sqrt(2 * math.pi)  # noqa: E731
    xpdf = lambda x: fin(x) * pdf(x)  # noqa: E731
    cdf = special.ndtr
    sq = cdf(hi) - cdf(lo) + xpdf(lo) - xpdf(hi) - 2 * t * (pdf(lo) - pdf(hi)) + t * t / n
    ab = 2 * pdf(t) - pdf(lo) - pdf(hi) - t * (2 * cdf(t) - cdf(lo) - cdf(hi))
    return ab.sum(), math.sqrt(sq.sum())


def test_cell_errors_by_monte_carlo():
    """The closed-form coupling errors δ₁, δ₂ agree with a seeded sample of Z (and are not zero)."""
    n = PAPER_QUANTILES
    d1, d2 = _cell_errors(n)
    z = np.random.default_rng(2).standard_normal(2_000_000)
    q = quantile_rule(n)[0][np.minimum((special.ndtr(z) * n).astype(int), n - 1)]
    err = np.abs(z - q)
    assert abs(err.mean() - d1) < 5 * err.std() / math.sqrt(len(z))
    assert abs(math.sqrt(np.mean(err ** 2)) - d2) < 5 * np.std(err ** 2) / math.sqrt(len(z)) / (2 * d2)
    assert 0 < d1 < d2 < 0.05


@pytest.mark.parametrize("name", SMOOTH + PIECEWISE_LINEAR)
def test_quantile_grid_error_is_small_nonzero_and_within_its_bound(name):
    """The paper's grid (n = 200) vs the exact integrals.

    Bound: the grid is the law of φ(a + b Q(Z)), Q the quantile-cell quantizer (each cell has mass 1/n),
    so with L the Lipschitz constant of φ: |ΔE| ≤ L|b| δ₁ and |Δ sd| ≤ L|b| δ₂ (Minkowski).
    """
    d1, d2 = _cell_errors(PAPER_QUANTILES)
    act = ACTIVATIONS[name]
    lip = float(np.max(np.abs(act.derivative(np.linspace(-20, 20, 400001)))))
    a, b = np.array(AFFINE).T
    mean_e, var_e = gaussian_moments(name, a, b)
    mean_q, var_q = gaussian_moments(name, a, b, method="quantile", n=PAPER_QUANTILES)
    d_mean, d_sd = np.abs(mean_q - mean_e), np.abs(np.sqrt(var_q) - np.sqrt(var_e))
    assert np.all(d_mean <= lip * np.abs(b) * d1 * (1 + 1e-9) + 1e-15), d_mean / (lip * np.abs(b) * d1)
    assert np.all(d_sd <= lip * np.abs(b) * d2 * (1 + 1e-9) + 1e-15), d_sd / (lip * np.abs(b) * d2)
    assert np.max(d_sd) > 1e-6  # nonzero: the grid under-represents the tails
    # through proxy_activation: the outputs differ, by at most what the moment bounds allow
    y = np.random.default_rng(3).standard_normal((50, len(a)))
    z_e = proxy_activation(y, b, a, name)
    z_q = proxy_activation(y, b, a, name, method="quantile", n=PAPER_QUANTILES)
    f = act(b * y + a)
    bound = (np.abs(f - mean_e) * lip * np.abs(b) * d2 / (np.sqrt(var_q) * np.sqrt(var_e))
             + lip * np.abs(b) * d1 / np.sqrt(var_q))
    assert np.all(np.abs(z_q - z_e) <= bound * (1 + 1e-9) + 1e-13)
    assert np.max(np.abs(z_q - z_e)) > 1e-5


@pytest.mark.parametrize("name", ["relu", "tanh"])
def test_dtype_is_kept(name):
    y = np.random.default_rng(4).standard_normal((2, 3, 3, 4))
    z64 = proxy_activation(y, 1.2, 0.1, name)
    z32 = proxy_activation(y.astype(np.float32), np.float32(1.2), np.float32(0.1), name)
    assert z64.dtype == np.float64 and z32.dtype == np.float32
    assert_close(z32, z64, rtol=2e-6, atol=2e-6)
    assert proxy_activation(np.arange(6).reshape(2, 3), 1.0, 0.0, name).dtype == np.float64


@pytest.mark.parametrize("name", ["relu", "tanh"])
def test_zero_proxy_variance(name):
    y = np.ones((4, 2))
    with pytest.raises(ZeroDivisionError, match="proxy variance is zero"):
        proxy_activation(y, [0.0, 1.0], 0.5, name)
    z = proxy_activation(y, [0.0, 1.0], 0.5, name, eps=0.03)  # γ_c = 0: z_c = (φ(β) − φ(β)) / sqrt(ε) = 0
    assert np.all(z[:, 0] == 0) and np.all(np.isfinite(z))


@pytest.mark.parametrize("call, match", [
    (lambda: gaussian_moments("relu", 0.0, 1.0, method="simpson"), "unknown proxy method 'simpson'"),
    (lambda: gaussian_moments("tanh", 0.0, 1.0, method="hermite", n=0), "positive integer"),
    (lambda: gaussian_moments("tanh", 0.0, 1.0, method="quantile", n=2.5), "positive integer"),
    (lambda: gaussian_moments("tanh", np.nan, 1.0), "finite"),
    (lambda: gaussian_moments("swish", 0.0, 1.0), "unknown activation 'swish'"),
    (lambda: proxy_activation(np.zeros((2, 3)), [1.0, 1.0], 0.0, "relu"), "gamma must be a scalar or one value per channel"),
    (lambda: proxy_activation(np.zeros((2, 3)), 1.0, 0.0, "relu", proxy_beta=np.zeros((3, 1))), "proxy_beta"),
    (lambda: proxy_activation(np.zeros((2, 3)), 1.0, 0.0, "relu", eps=-0.1), "eps"),
    (lambda: proxy_activation(np.array(["a"]), 1.0, 0.0, "relu"), "real array"),
])
def test_bad_input_raises_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
