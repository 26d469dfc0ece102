"""Moment statistics of activation tensors ``a`` of shape ``(N, H, W, C)`` (SPEC §1).

All population statistics, accumulated in float64 with two passes (mean, then centered
squares) by numba kernels; every kernel has a plain-numpy reference in ``reference_*``.
"""
from __future__ import annotations

import numba
import numpy as np

NUMBA_OPTS = dict(cache=True)


@numba.njit(parallel=True, **NUMBA_OPTS)
def _instance_moments(a):
    n, h, w, c = a.shape
    mean = np.zeros((n, c))
    var = np.zeros((n, c))
    inv = 1.0 / (h * w)
    for i in numba.prange(n):
        s = np.zeros(c)
        for p in range(h):
            for q in range(w):
                for k in range(c):
                    s[k] += a[i, p, q, k]
        for k in range(c):
            s[k] *= inv
        ss = np.zeros(c)
        for p in range(h):
            for q in range(w):
                for k in range(c):
                    d = a[i, p, q, k] - s[k]
                    ss[k] += d * d
        for k in range(c):
            mean[i, k] = s[k]
            var[i, k] = ss[k] * inv
    return mean, var


def instance_moments(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Instance means ``μ_{x,c}(a)`` and variances ``σ_{x,c}(a)²``, each of shape ``(N, C)``."""
    a = as_nhwc(a)
    return _instance_moments(a)


def power_decomposition(a: np.ndarray) -> np.ndarray:
    """Eq. 5, per channel: rows ``μ_c(a)²``, ``σ_c(μ_{x,c}(a))²``, ``μ_c(σ_{x,c}(a))²``, ``σ_c(σ_{x,c}(a))²``.

    Returns ``(4, C)``; the rows sum to ``P_c(a)``; the layer-level terms are ``.mean(axis=1)``.
    """
    m, v = instance_moments(a)
    return power_terms(m, np.sqrt(v))


def power_terms(inst_mean: np.ndarray, inst_std: np.ndarray) -> np.ndarray:
    """The four terms of Eq. 5 from instance means and stds of shape ``(N, C)``."""
    mu = inst_mean.mean(axis=0)
    s_bar = inst_std.mean(axis=0)
    return np.stack([
        mu ** 2,
        np.mean((inst_mean - mu) ** 2, axis=0),
        s_bar ** 2,
        np.mean((inst_std - s_bar) ** 2, axis=0),
    ])


def channel_moments(inst_mean: np.ndarray, inst_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``μ_c`` and ``σ_c²`` over ``(x, h, w)`` from instance moments (law of total variance)."""
    mu = inst_mean.mean(axis=0)
    return mu, inst_var.mean(axis=0) + np.mean((inst_mean - mu) ** 2, axis=0)


def input_moments(inst_mean: np.ndarray, inst_var: np.ndarray, groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per-input (per group) mean and variance over ``(h, w, c ∈ group)``: ``μ_x``, ``σ_x²`` for ``groups=1``.

    Returns arrays of shape ``(N, groups)``, combined from instance moments exactly.
    """
    n, c = inst_mean.shape
    m = inst_mean.reshape(n, groups, c // groups)
    v = inst_var.reshape(n, groups, c // groups)
    mu = m.mean(axis=2)
    return mu, v.mean(axis=2) + np.mean((m - mu[..., None]) ** 2, axis=2)


@numba.njit(parallel=True, **NUMBA_OPTS)
def _cross_moments(y, z):
    n, h, w, c = y.shape
    part = np.zeros((n, 2, c))
    for i in numba.prange(n):
        for p in range(h):
            for q in range(w):
                for k in range(c):
                    part[i, 0, k] += y[i, p, q, k]
                    part[i, 1, k] += z[i, p, q, k]
    inv = 1.0 / (n * h * w)
    tot = part.sum(axis=0) * inv
    my = tot[0]
    mz = tot[1]
    acc = np.zeros((n, 3, c))
    lo = np.empty((n, c))
    hi = np.empty((n, c))
    for i in numba.prange(n):
        for k in range(c):
            lo[i, k] = np.inf
            hi[i, k] = -np.inf
        for p in range(h):
            for q in range(w):
                for k in range(c):
                    yv = y[i, p, q, k]
                    dy = yv - my[k]
                    dz = z[i, p, q, k] - mz[k]
                    acc[i, 0, k] += dy * dy
                    acc[i, 1, k] += dz * dz
                    acc[i, 2, k] += dy * dz
                    lo[i, k] = min(lo[i, k], yv)
                    hi[i, k] = max(hi[i, k], yv)
    sums = acc.sum(axis=0) * inv
    return my, mz, sums[0], sums[1], sums[2], lo, hi


def cross_moments(y: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """Per channel over ``(x, h, w)``: means, variances and covariance of ``y`` and ``z``; min and max of ``y``."""
    y, z = as_nhwc(y), as_nhwc(z)
    if y.shape != z.shape:
        raise ValueError(f"shapes differ: {y.shape} vs {z.shape}")
    my, mz, vy, vz, cyz, lo, hi = _cross_moments(y, z)
    return dict(mean_y=my, mean_z=mz, var_y=vy, var_z=vz, cov=cyz, min_y=lo.min(axis=0), max_y=hi.max(axis=0))


def linearity_residual(var_y: np.ndarray, var_z: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``P_c(z − z̃)`` for the least-squares affine fit ``z̃_c = a_c y_c + b_c`` (Eqs. 8–9): ``σ_z² − cov²/σ_y²``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        explained = np.where(var_y > 0, cov ** 2 / np.where(var_y > 0, var_y, 1.0), 0.0)
    return np.maximum(var_z - explained, 0.0)


def channel_linearity(y: np.ndarray, z: np.ndarray) -> float:
    """Λ = P(z − z̃) / P(z), with ``z̃`` the channel-wise least-squares affine fit of ``z`` on ``y``."""
    cm = cross_moments(y, z)
    power_z = cm["var_z"] + cm["mean_z"] ** 2
    return float(linearity_residual(cm["var_y"], cm["var_z"], cm["cov"]).sum() / power_z.sum())


def as_nhwc(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 4:
        raise ValueError(f"expected an (N, H, W, C) array, got shape {a.shape}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    return np.ascontiguousarray(a)


# -- slow, obviously-correct references (for the tests) ----------------------------------
def reference_power_decomposition(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    m = a.mean(axis=(1, 2))
    s = a.std(axis=(1, 2))
    return np.stack([m.mean(0) ** 2, m.var(0), s.mean(0) ** 2, s.var(0)])


def reference_linearity(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``P_c(z − z̃)`` per channel by an explicit least-squares fit."""
    y = np.asarray(y, dtype=np.float64).reshape(-1, y.shape[-1])
    z = np.asarray(z, dtype=np.float64).reshape(-1, z.shape[-1])
    out = np.empty(y.shape[1])
    for c in range(y.shape[1]):
        design = np.stack([y[:, c], np.ones(len(y))], axis=1)
        coef, *_ = np.linalg.lstsq(design, z[:, c], rcond=None)
        out[c] = np.mean((z[:, c] - design @ coef) ** 2)
    return out
