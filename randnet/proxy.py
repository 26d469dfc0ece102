"""Proxy-normalized activation (SPEC §3, Eq. 7).

    z_c = (φ(γ_c y_c + β_c) − E_Y[φ(γ_c Y_c + β_c)]) / sqrt(Var_Y[φ(γ_c Y_c + β_c)] + ε),
    Y_c ~ N(β̃_c, (1 + γ̃_c)²)

so ``γ_c Y_c + β_c = a_c + b_c Z`` with ``Z ~ N(0, 1)``, ``a_c = β_c + γ_c β̃_c`` and
``b_c = γ_c (1 + γ̃_c)``. The Gaussian moments of φ are computed in closed form for the
piecewise-linear activations, otherwise by a Gaussian quadrature accurate to < 1e-12 for every
``b`` (Gauss–Legendre panels sized to ``|b|``; plain Gauss–Hermite is offered too), or — to reproduce
the paper's implementation — on the equally weighted grid ``Φ⁻¹((i + ½)/n)``.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special

from .activations import Activation, get_activation
from .checks import check_int, check_number

METHODS = ("exact", "hermite", "quantile")
HERMITE_NODES = 160
PAPER_QUANTILES = 200
PAPER_EPS = 0.03
PANEL_NODES = 16           # Gauss–Legendre nodes per panel of the "exact" rule
BASE_PANELS = 20           # panels of width 1 on [−TAIL, TAIL]; refinement level k uses BASE_PANELS · 2^k
PANEL_SCALE = 1.5          # panels are at most PANEL_SCALE / |b| wide: φ's complex singularities sit ≥ π/2 from ℝ
TAIL = 10.0                # the rule covers |Z| ≤ TAIL; the Gaussian mass beyond is 1.5e-23


@functools.lru_cache(maxsize=None)
def hermite_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ∫ f(t) N(t; 0, 1) dt ≈ Σ w_i f(t_i) (probabilists' Hermite)."""
    t, w = np.polynomial.hermite_e.hermegauss(n)
    return t, w / math.sqrt(2 * math.pi)


@functools.lru_cache(maxsize=None)
def quantile_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's grid: t_i = Φ⁻¹((i + ½)/n), weights 1/n."""
    return special.ndtri((np.arange(n) + 0.5) / n), np.full(n, 1.0 / n)


@functools.lru_cache(maxsize=None)
def panel_rule(panels: int) -> tuple[np.ndarray, np.ndarray]:
    """∫ f(t) N(t; 0, 1) dt ≈ Σ w_i f(t_i): ``panels`` equal Gauss–Legendre panels on [−TAIL, TAIL].

    Gauss–Hermite converges only like exp(−2 d sqrt(n)) when the integrand f(a + b t) has a complex
    singularity at distance d = δ/|b| from the real axis (tanh: δ = π/2), so it needs ~65 b² nodes
    for 1e-11; equal panels no wider than δ/|b| converge geometrically in the nodes per panel.
    """
    x, w = np.polynomial.legendre.leggauss(PANEL_NODES)
    edges = np.linspace(-TAIL, TAIL, panels + 1)
    half = (edges[1] - edges[0]) / 2
    t = ((edges[:-1] + edges[1:]) / 2)[:, None] + half * x
    return t.ravel(), (half * w * np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)).ravel()


def _refinement(b: np.ndarray) -> np.ndarray:
    """Level k ≥ 0 of the panel rule for each |b|: panels 2·TAIL / (BASE_PANELS · 2^k) ≤ PANEL_SCALE / |b| wide."""
    need = np.abs(b) * (2 * TAIL / BASE_PANELS) / PANEL_SCALE
    return np.ceil(np.log2(np.maximum(need, 1.0))).astype(int)


def _rule_moments(act: Activation, a: np.ndarray, b: np.ndarray, t: np.ndarray, w: np.ndarray):
    """Σ w_i φ(a + b t_i) and the centered Σ w_i (φ(a + b t_i) − mean)², elementwise in (a, b)."""
    f = act(a[..., None] + b[..., None] * t)
    mean = f @ w
    return mean, ((f - mean[..., None]) ** 2) @ w


def gaussian_moments(activation, a, b, method: str = "exact", n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of φ(a + bZ), Z ~ N(0, 1), elementwise in (a, b), in float64.

    method ``"exact"``: φ's closed form (:attr:`randnet.Activation.moments`) if it has one, else equal
    Gauss–Legendre panels no wider than ``PANEL_SCALE / |b|`` (:func:`panel_rule`, error < 1e-12; ``n`` is not
    used); ``"hermite"``:
    Gauss–Hermite with ``n`` nodes (default ``HERMITE_NODES``; accurate to round-off only for |b| ≲ 1);
    ``"quantile"``: the paper's grid of ``n`` points (default ``PAPER_QUANTILES``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown proxy method {method!r}; choose one of {', '.join(METHODS)}")
    if n is not None:
        check_int("number of proxy nodes", n)
    act = get_activation(activation)
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("proxy moments: the affine parameters (γ, β, β̃, γ̃) must be finite")
    if method == "hermite":
        mean, var = _rule_moments(act, a, b, *hermite_rule(n or HERMITE_NODES))
    elif method == "quantile":
        mean, var = _rule_moments(act, a, b, *quantile_rule(n or PAPER_QUANTILES))
    elif act.moments is not None:
        mean, var = act.moments(a, b)
    else:
        mean, var = np.empty(a.shape), np.empty(a.shape)
        level = _refinement(b)
        for k in np.unique(level):  # each |b| gets the coarsest rule fine enough for it
            sel = level == k
            mean[sel], var[sel] = _rule_moments(act, a[sel], b[sel], *panel_rule(BASE_PANELS << int(k)))
    point = b == 0  # γ_c = 0: the point mass φ(a), whose variance is exactly 0 (not quadrature round-off)
    return np.where(point, act(a), mean), np.where(point, 0.0, var)


def _per_channel(name: str, v, c: int) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim > 1 or v.size not in (1, c):
        raise ValueError(f"proxy_activation: {name} must be a scalar or one value per channel ({c}), got shape {v.shape}")
    return np.broadcast_to(v.reshape(-1), (c,))


def proxy_statistics(gamma: np.ndarray, beta: np.ndarray, activation, eps: float = 0.0, method: str = "exact",
                     n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 7's ``E_Y[φ(γ Y + β)]`` and ``sqrt(Var_Y[φ(γ Y + β)] + ε)``, ``Y ~ N(0, 1)``, per channel (float64)."""
    mean, var = gaussian_moments(activation, np.asarray(beta, np.float64), np.asarray(gamma, np.float64), method, n)
    denom = np.sqrt(var + eps)
    if np.any(denom == 0):
        raise ZeroDivisionError("proxy variance is zero for some channel (γ_c = 0 or φ constant) and ε = 0")
    return mean, denom


def proxy_activation(y, gamma, beta, activation, eps: float = 0.0, proxy_beta=0.0, proxy_gamma=0.0,
                     method: str = "exact", n: int | None = None) -> np.ndarray:
    """Eq. 7 on ``y`` of shape ``(..., C)``; ``gamma, beta, proxy_beta, proxy_gamma`` scalars or per channel.

    Returns an array of ``y``'s dtype (float64 for integer ``y``). ``eps`` is the ε of Eq. 7 (0 in the
    theorems, ``PAPER_EPS`` in the paper's implementation).
    """
    act = get_activation(activation)
    y = np.asarray(y)
    if y.ndim == 0 or y.dtype.kind not in "fiu":
        raise ValueError(f"proxy_activation: y must be a real array (..., C), got {y.dtype} of shape {y.shape}")
    check_number("proxy_activation: eps", eps)
    c = y.shape[-1]
    gamma, beta = _per_channel("gamma", gamma, c), _per_channel("beta", beta, c)
    a = beta + gamma * _per_channel("proxy_beta", proxy_beta, c)
    b = gamma * (1.0 + _per_channel("proxy_gamma", proxy_gamma, c))
    mean, denom = proxy_statistics(b, a, act, eps, method, n)
    dt = y.dtype if y.dtype.kind == "f" else np.float64
    u = gamma.astype(dt) * y + beta.astype(dt)
    return ((act(u) - mean.astype(dt)) / denom.astype(dt)).astype(dt, copy=False)
