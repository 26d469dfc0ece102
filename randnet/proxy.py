"""Proxy-normalized activation (SPEC §3, Eq. 7).

    z_c = (φ(γ_c y_c + β_c) − E_Y[φ(γ_c Y_c + β_c)]) / sqrt(Var_Y[φ(γ_c Y_c + β_c)] + ε),
    Y_c ~ N(β̃_c, (1 + γ̃_c)²)

so ``γ_c Y_c + β_c = a_c + b_c Z`` with ``Z ~ N(0, 1)``, ``a_c = β_c + γ_c β̃_c`` and
``b_c = γ_c (1 + γ̃_c)``. The Gaussian moments of φ are computed in closed form for the
piecewise-linear activations, by Gauss–Hermite quadrature otherwise, or — to reproduce
the paper's implementation — on the equally weighted grid ``Φ⁻¹((i + ½)/n)``.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special

from .activations import LEAKY_SLOPE, Activation, get_activation

METHODS = ("exact", "hermite", "quantile")
HERMITE_NODES = 160
PAPER_QUANTILES = 200
PAPER_EPS = 0.03


@functools.lru_cache(maxsize=None)
def hermite_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ∫ f(t) N(t; 0, 1) dt ≈ Σ w_i f(t_i) (probabilists' Hermite)."""
    t, w = np.polynomial.hermite_e.hermegauss(n)
    return t, w / math.sqrt(2 * math.pi)


@functools.lru_cache(maxsize=None)
def quantile_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's grid: t_i = Φ⁻¹((i + ½)/n), weights 1/n."""
    return special.ndtri((np.arange(n) + 0.5) / n), np.full(n, 1.0 / n)


def _relu_moments(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[ReLU(a + bZ)] = a Φ(a/|b|) + |b| φ(a/|b|);  E[ReLU²] = (a² + b²) Φ(a/|b|) + a|b| φ(a/|b|)."""
    s = np.abs(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(s > 0, a / np.where(s > 0, s, 1.0), np.sign(a) * np.inf)
    cdf = special.ndtr(r)
    pdf = np.where(np.isfinite(r), np.exp(-0.5 * np.where(np.isfinite(r), r, 0.0) ** 2) / math.sqrt(2 * math.pi), 0.0)
    m1 = a * cdf + s * pdf
    m2 = (a * a + s * s) * cdf + a * s * pdf
    return m1, m2


def _closed_form(act: Activation, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """First and second moments of φ(a + bZ) where a closed form exists."""
    if act.name == "identity":
        return a, a * a + b * b
    if act.name == "relu":
        return _relu_moments(a, b)
    if act.name == "leaky_relu":
        p1, p2 = _relu_moments(a, b)
        n1, n2 = _relu_moments(-a, -b)  # ReLU(−t): φ(t) = ReLU(t) − s ReLU(−t), cross term 0
        return p1 - LEAKY_SLOPE * n1, p2 + LEAKY_SLOPE ** 2 * n2
    return None


def gaussian_moments(activation, a, b, method: str = "exact", n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of φ(a + bZ), Z ~ N(0, 1), elementwise in (a, b), in float64.

    method ``"exact"``: closed form if φ has one, else Gauss–Hermite with ``HERMITE_NODES``;
    ``"hermite"``: Gauss–Hermite with ``n`` nodes; ``"quantile"``: the paper's grid of ``n`` points.
    """
    if method not in METHODS:
        raise ValueError(f"unknown proxy method {method!r}; choose one of {', '.join(METHODS)}")
    act = get_activation(activation)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if method == "exact":
        closed = _closed_form(act, a, b)
        if closed is not None:
            m1, m2 = closed
            return m1, np.maximum(m2 - m1 * m1, 0.0)
        t, w = hermite_rule(n or HERMITE_NODES)
    elif method == "hermite":
        t, w = hermite_rule(n or HERMITE_NODES)
    else:
        t, w = quantile_rule(n or PAPER_QUANTILES)
    f = act(a[..., None] + b[..., None] * t)
    mean = f @ w
    var = ((f - mean[..., None]) ** 2) @ w
    return mean, var


def proxy_activation(y, gamma, beta, activation, eps: float = 0.0, proxy_beta=0.0, proxy_gamma=0.0,
                     method: str = "exact", n: int | None = None) -> np.ndarray:
    """Eq. 7 on ``y`` of shape ``(..., C)``; ``gamma, beta, proxy_beta, proxy_gamma`` per channel.

    Returns an array of ``y``'s dtype. ``eps`` is the ε of Eq. 7 (0 in the theorems,
    0.03 in the paper's implementation).
    """
    act = get_activation(activation)
    y = np.asarray(y)
    gamma = np.asarray(gamma, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    a = beta + gamma * np.asarray(proxy_beta, dtype=np.float64)
    b = gamma * (1.0 + np.asarray(proxy_gamma, dtype=np.float64))
    mean, var = gaussian_moments(act, np.broadcast_to(a, y.shape[-1:]), np.broadcast_to(b, y.shape[-1:]), method, n)
    denom = np.sqrt(var + eps)
    if np.any(denom == 0):
        raise ZeroDivisionError("proxy variance is zero for some channel (γ_c = 0 or φ constant) and ε = 0")
    dt = y.dtype if y.dtype.kind == "f" else np.float64
    u = gamma.astype(dt) * y + beta.astype(dt)
    return ((act(u) - mean.astype(dt)) / denom.astype(dt)).astype(dt, copy=False)
