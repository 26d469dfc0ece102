"""The infinite-width limit of the random net of Definition 1 (SPEC §8).

All widths ``C^l → ∞``: the channels of ``x^l`` become i.i.d. centred Gaussian processes over the positions
``a = (x, h, w)`` (``P = N·H·W`` of them) with covariance kernel ``K_x^l``, and every layer-level average of second
moments becomes a deterministic function of the kernels.

**Exact recursion** (``ln``, ``none``, ``ln+pn``, ``ln+ws``; :func:`limit_profile` with ``method="exact"``)::

    K_z^0(a, b) = (1/C⁰) Σ_c x_c(a) x_c(b)                          the data's empirical kernel
    K_x^l(a, b) = ‖ν_ω‖₂² (1/K²) Σ_δ K_z^{l−1}(a + δ, b + δ)         periodic conv: the same shift on both positions
    v^l(x)      = mean_{h,w} K_x^l((x,h,w), (x,h,w))                 LN: K_y = K_x/sqrt(v(x_a) v(x_b)); none: K_y = K_x
    K_z^l(a, b) = E_{γ,β} E[φ(γ u_a + β) φ(γ u_b + β)],  (u_a, u_b) ~ N(0, K_y^l on {a, b})

γ by Gauss–Hermite (:data:`GAMMA_NODES`); a Gaussian β is folded into the covariance (``γ² K_y + s_β²``), any
other β is a quadrature over its law; the bivariate expectation is the activation's closed form
(:attr:`randnet.Activation.kernel`) or a 1-D conditional quadrature (:func:`_shifted_kernel`), or for the smooth
activations 2-D Gauss–Hermite (:meth:`randnet.Activation.gaussian_kernel`).

- ``+pn`` (Eq. 7, PN's parameters 0): ``z = (φ(γy + β) − m(γ, β)) / D(γ, β)`` with ``m, D`` the moments of
  ``φ(γY + β)``, ``Y ~ N(0, 1)``, so ``K_z = E_{γ,β}[(E[φφ] − m (M_φ(a) + M_φ(b)) + m²) / D²]``,
  ``M_φ(a) = E[φ(γ u_a + β)]`` (β is then a quadrature, never folded: ``D`` depends on it).
- ``+ws`` (deep layers): the standardized filter ``(w − w̄)/s_w`` over its fan-in ``K²C`` removes the patch mean
  ``z̄(a) = (1/K²C) Σ_{δ,c} z_c(a + δ) → M̄(a) = (1/K²) Σ_δ M(a + δ)``, ``M(a) = E_c[z_c(a)]`` the mean function, so
  ``K_x = (1/K²) Σ_δ K_z(a + δ, b + δ) − M̄(a) M̄(b)`` (``s_w → ‖ν_ω − E ν_ω‖₂``: no ``‖ν_ω‖₂²`` factor).
  The first layer (fan-in ``d = K²C⁰`` finite) has ``K_x^1 = (d/(d − 1)) [(1/d) Z(a)·Z(b) − z̄(a) z̄(b)]``,
  ``Z(a)`` the patch, exactly; but ``x^1`` is not Gaussian there: the standardized filter is uniform on the unit
  sphere of the centred patch space (normal ν_ω), so layer 1's activation step integrates over that sphere law
  (:func:`sphere_rule`; SPEC §8's Gaussian misses the Monte Carlo, tests/randnet/test_limit.py). Without WS,
  ``x^1`` is Gaussian for a normal ν_ω; for another law (the reference truncated normal) layer 1's activation
  step uses the Gaussian with the exact kernel (an approximation, see the docs page).

**Mean field** (``bn``, ``in``, ``gn`` with ``C/G`` channels a group as ``G → ∞``, their ``+pn``, and any fused norm;
``method="mean_field"``): sample ``S`` channels ``x_c ~ N(0, K_x^l)`` (eigh with the negative round-off eigenvalues
clipped), normalize / activate them as the finite net does, ``K_z^l = (1/S) Σ_c z_c z_cᵀ``; the terms of ``y`` are
averages over the sampled channels, with an interval from independent replicas of the whole chain.

Storage: the kernel is kept as the ``N(N+1)/2`` blocks ``n ≤ m`` (symmetry), each in *relative* layout
``B[p, dh, dw, h, w] = K((n, h, w), (m, h + dh, w + dw))`` (indices mod H, W), in which the conv's joint shift is a
periodic box filter on the last two axes (:func:`shift_average`). :func:`memory_plan` refuses up front what will
not fit. Pure numpy + numba, no I/O.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numba
import numpy as np
from scipy import special, stats as _stats

from .activations import LEAKY_SLOPE, get_activation, identity_kernel, leaky_kernel, relu_kernel
from .config import NetConfig
from .distributions import Distribution
from .kernels import FUSED_NORMS, normalize_activate
from .norms import centre_input, centres_input
from .proxy import gaussian_moments, hermite_rule, proxy_statistics
from .stats import power_decomposition

NUMBA_OPTS = dict(cache=True)
GAMMA_NODES = 8
"""Gauss–Hermite nodes of the γ (and non-folded β) integral: for γ ~ N(1, 0.2²) the terms are within 2e-9 of 48 nodes
(measured: 1.5e-9 at 8 nodes, 2.4e-11 at 24; tests/randnet/test_limit.py)."""
LAW_NODES = 32
"""Gauss–Legendre nodes for the bounded laws (uniform, truncated normal) of γ, β."""
PANEL_NODES = 48
"""Gauss–Legendre nodes on each side of the kink of the 1-D conditional quadrature (:func:`_shifted_kernel`)."""
TAIL = 12.0
"""The conditional quadrature covers ``|t| ≤ TAIL`` standard deviations (Gaussian mass beyond: 3.6e-33)."""
EXACT_NORMS = ("ln", "none")
CLOSED_CODES = (0, 1, 2)  # identity, ReLU, leaky ReLU: the numba kernel map applies
MEMORY_FRACTION = 0.8
""":func:`memory_plan` lets the limit use at most this fraction of the memory available."""
DTYPES = ("float64", "float32")
SPHERE_RADII = 16
"""Gauss–Jacobi nodes of the radial part of WS's first-layer law (:func:`sphere_rule`)."""
SPHERE_ANGLES = 64
"""Angles of its periodic trapezoid rule."""
SPHERE_BUDGET = 10 ** 8
"""``ws_first_layer="auto"`` takes the sphere law up to this many integrand evaluations (entries × radii × angles ×
(γ, β) nodes; ~16 s in numpy here: 2.1e7 took 3.4 s), the Gaussian beyond."""


# -- quadrature rules for the laws of γ and β -----------------------------------------------------------------
def law_rule(dist: Distribution, n: int = GAMMA_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``E f(v) ≈ Σ w_i f(v_i)``, ``v ~ dist``: Gauss–Hermite for a normal law, the atoms of
    a constant or Rademacher law, Gauss–Legendre (:data:`LAW_NODES`) with the density for the bounded laws."""
    if dist.kind == "normal":
        if dist.b == 0:
            return np.array([dist.a]), np.ones(1)
        t, w = hermite_rule(n)
        return dist.a + dist.b * t, w
    if dist.kind == "constant":
        return np.array([dist.a]), np.ones(1)
    if dist.kind == "rademacher":
        return np.array([-dist.a, dist.a]), np.array([0.5, 0.5])
    x, w = np.polynomial.legendre.leggauss(LAW_NODES)
    if dist.kind == "uniform":
        return dist.a + (dist.b - dist.a) * (x + 1) / 2, w / 2
    law = _stats.truncnorm(-dist.a, dist.a)  # truncated_normal(bound), rescaled to unit RMS
    t = dist.a * x
    dens = w * dist.a * law.pdf(t)
    return t / math.sqrt(law.var()), dens / dens.sum()


@dataclass(frozen=True)
class AffineRule:
    """The (γ, β) integral of one layer's activation step: nodes ``gamma[j], shift[j]`` with weights
    ``weight[j]``, plus ``folded`` = ``s_β²`` when a centred Gaussian β is folded into the covariance."""

    gamma: np.ndarray
    shift: np.ndarray
    weight: np.ndarray
    folded: float


def affine_rule(config: NetConfig, n: int | None = None) -> AffineRule:
    """The (γ, β) rule of ``config``: β folded when it is a centred normal and the step has no Proxy Norm."""
    n = n or GAMMA_NODES
    g, wg = law_rule(config.gamma, n)
    beta = config.beta
    if beta.kind == "normal" and beta.a == 0 and not config.proxy_norm:
        return AffineRule(g, np.zeros_like(g), wg, beta.b ** 2)
    b, wb = law_rule(beta, n)
    return AffineRule(np.repeat(g, len(b)), np.tile(b, len(g)), np.outer(wg, wb).ravel(), 0.0)


# -- the kernel in block form ---------------------------------------------------------------------------------
def block_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``(n, m)``, ``n ≤ m``, of the stored blocks, in row order."""
    first, second = np.triu_indices(n)
    return first.astype(np.int64), second.astype(np.int64)


def _diagonal_block(n: int) -> np.ndarray:
    """Index of block ``(i, i)`` for each input ``i``."""
    i = np.arange(n)
    return i * n - i * (i - 1) // 2


@numba.njit(parallel=True, **NUMBA_OPTS)
def _empirical_blocks(z, first, second, out):
    """``out[p, dh, dw, h, w] = (1/C) Σ_c z[n, h, w, c] z[m, h + dh, w + dw, c]`` for ``(n, m)`` the pair ``p``."""
    _, hh, ww, c = z.shape
    inv = 1.0 / c
    for p in numba.prange(first.size):
        n, m = first[p], second[p]
        for dh in range(hh):
            for dw in range(ww):
                for h in range(hh):
                    h2 = (h + dh) % hh
                    for w in range(ww):
                        w2 = (w + dw) % ww
                        acc = 0.0
                        for k in range(c):
                            acc += z[n, h, w, k] * z[m, h2, w2, k]
                        out[p, dh, dw, h, w] = acc * inv


def empirical_kernel(z: np.ndarray, dtype=np.float64) -> np.ndarray:
    """The blocks of ``(1/C) Σ_c z_c(a) z_c(b)`` for ``z`` of shape ``(N, H, W, C)`` (float64 sums)."""
    z = np.ascontiguousarray(z, dtype=np.float64)
    n, h, w, _ = z.shape
    first, second = block_pairs(n)
    out = np.empty((first.size, h, w, h, w), dtype=dtype)
    _empirical_blocks(z, first, second, out)
    return out


@numba.njit(parallel=True, **NUMBA_OPTS)
def _shift_average(blocks, k, scale):
    """In place: ``B[p, dh, dw] ← scale · (1/K²) Σ_{i,j} B[p, dh, dw](h + i − K//2, w + j − K//2)`` (periodic box
    filter, separable: rows, then columns), accumulated in float64."""
    npairs, hh, ww = blocks.shape[0], blocks.shape[3], blocks.shape[4]
    r = k // 2
    for p in numba.prange(npairs):
        tmp = np.empty((hh, ww))
        for dh in range(hh):
            for dw in range(ww):
                s = blocks[p, dh, dw]
                for h in range(hh):
                    for w in range(ww):
                        acc = 0.0
                        for i in range(-r, r + 1):
                            acc += s[(h + i) % hh, w]
                        tmp[h, w] = acc
                for h in range(hh):
                    for w in range(ww):
                        acc = 0.0
                        for j in range(-r, r + 1):
                            acc += tmp[h, (w + j) % ww]
                        s[h, w] = acc * scale / (k * k)


def shift_average(blocks: np.ndarray, kernel_size: int, scale: float = 1.0) -> np.ndarray:
    """The periodic conv's map on kernels, in place: ``K(a, b) ← scale (1/K²) Σ_δ K(a + δ, b + δ)``."""
    _shift_average(blocks, kernel_size, float(scale))
    return blocks


def subsample(blocks: np.ndarray) -> np.ndarray:
    """The blocks of the kernel at the positions ``(h, w) ∈ (2ℤ)²`` that a stride-2 conv keeps (``x[:, ::2, ::2]``),
    laid out for the ``⌈H/2⌉ × ⌈W/2⌉`` periodic map that follows."""
    h, w = blocks.shape[3], blocks.shape[4]
    h2, w2 = -(-h // 2), -(-w // 2)

    def offsets(size, half):  # original offset of (i + d) mod half from i, both on the even grid
        i, d = np.arange(half)[None, :], np.arange(half)[:, None]
        return (2 * ((i + d) % half) - 2 * i) % size  # [d, i]

    dh, dw = offsets(h, h2), offsets(w, w2)
    ih, iw = 2 * np.arange(h2), 2 * np.arange(w2)
    return np.ascontiguousarray(blocks[:, dh[:, None, :, None], dw[None, :, None, :],
                                       ih[None, None, :, None], iw[None, None, None, :]])


def diagonal(blocks: np.ndarray, n: int) -> np.ndarray:
    """``K(a, a)`` as an ``(N, H, W)`` float64 array."""
    return blocks[_diagonal_block(n), 0, 0].astype(np.float64)


@numba.njit(parallel=True, **NUMBA_OPTS)
def _add_symmetric(blocks, first, second, u, v, const):
    """In place: ``K(a, b) += u(a) v(b) + v(a) u(b) + const`` (``u, v`` of shape ``(N, H, W)``)."""
    hh, ww = blocks.shape[3], blocks.shape[4]
    for p in numba.prange(first.size):
        n, m = first[p], second[p]
        for dh in range(hh):
            for dw in range(ww):
                for h in range(hh):
                    h2 = (h + dh) % hh
                    for w in range(ww):
                        w2 = (w + dw) % ww
                        blocks[p, dh, dw, h, w] += u[n, h, w] * v[m, h2, w2] + v[n, h, w] * u[m, h2, w2] + const


def add_symmetric(blocks: np.ndarray, u: np.ndarray, v: np.ndarray, const: float = 0.0) -> np.ndarray:
    first, second = block_pairs(u.shape[0])
    _add_symmetric(blocks, first, second, np.ascontiguousarray(u, np.float64), np.ascontiguousarray(v, np.float64),
                   float(const))
    return blocks


@numba.njit(parallel=True, **NUMBA_OPTS)
def _scale_pairs(blocks, first, second, s):
    """In place: ``K(a, b) *= s[x_a] s[x_b]`` (LN's per-input scale)."""
    for p in numba.prange(first.size):
        blocks[p] *= s[first[p]] * s[second[p]]


def dense(blocks: np.ndarray, n: int) -> np.ndarray:
    """The full ``P × P`` float64 kernel, positions ordered ``(x, h, w)`` like ``a.reshape(P)``."""
    h, w = blocks.shape[3], blocks.shape[4]
    hw = h * w
    out = np.empty((n, hw, n, hw))
    hi, wi = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    for p, (i, j) in enumerate(zip(*block_pairs(n))):
        b = blocks[p]
        for dh in range(h):
            for dw in range(w):
                a = (hi * w + wi).ravel()
                c = (((hi + dh) % h) * w + (wi + dw) % w).ravel()
                out[i, a, j, c] = b[dh, dw].ravel()
        if i != j:
            out[j, :, i, :] = out[i, :, j, :].T
    return out.reshape(n * hw, n * hw)


# -- the activation step's kernel map ----------------------------------------------------------------------------
@numba.njit(**NUMBA_OPTS)
def _relu_mean(mu, s):
    """``E[ReLU(μ + sZ)] = μ Φ(μ/s) + s φ(μ/s)``."""
    if s <= 0.0:
        return max(mu, 0.0)
    r = mu / s
    return mu * 0.5 * math.erfc(-r / math.sqrt(2.0)) + s * math.exp(-0.5 * r * r) / math.sqrt(2.0 * math.pi)


@numba.njit(**NUMBA_OPTS)
def _closed_mean(code, mu, s):
    """``E[φ(μ + sZ)]`` for codes 0 (identity), 1 (ReLU), 2 (leaky ReLU: ``R(μ) − slope · R(−μ)``)."""
    if code == 0:
        return mu
    if code == 1:
        return _relu_mean(mu, s)
    return _relu_mean(mu, s) - LEAKY_SLOPE * _relu_mean(-mu, s)


@numba.njit(**NUMBA_OPTS)
def _closed_phi(code, t):
    if code == 0:
        return t
    if code == 1:
        return max(t, 0.0)
    return t if t >= 0 else LEAKY_SLOPE * t


@numba.njit(**NUMBA_OPTS)
def _closed_kernel(code, qa, qb, k):
    """:attr:`randnet.Activation.kernel` of codes 0, 1, 2 (the activations' own numba functions)."""
    if code == 0:
        return identity_kernel(qa, qb, k)
    if code == 1:
        return relu_kernel(qa, qb, k)
    return leaky_kernel(qa, qb, k)


@numba.njit(**NUMBA_OPTS)
def _shifted_kernel(code, qa, qb, k, b, px, pw):
    """``E[φ(u + b) φ(v + b)]`` for codes 1, 2, ``b ≠ 0``: the outer integral over ``u = √q_a t`` on Gauss–Legendre
    panels ``[−TAIL, t₀]``, ``[t₀, TAIL]`` split at the kink ``t₀ = −b/√q_a`` (``px, pw``: the rule on [−1, 1]), the
    inner ``E[φ(v + b) | u]`` in closed form (``v | u ~ N((k/q_a) u, q_b − k²/q_a)``)."""
    if qa <= 0.0:
        return _closed_phi(code, b) * _closed_mean(code, b, math.sqrt(max(qb, 0.0)))
    sa = math.sqrt(qa)
    slope = k / sa
    cond = math.sqrt(max(qb - slope * slope, 0.0))
    t0 = min(max(-b / sa, -TAIL), TAIL)
    acc = 0.0
    for lo, hi in ((-TAIL, t0), (t0, TAIL)):
        half = 0.5 * (hi - lo)
        if half <= 0.0:
            continue
        mid = 0.5 * (hi + lo)
        for i in range(px.size):
            t = mid + half * px[i]
            f = _closed_phi(code, sa * t + b)
            if f != 0.0:
                acc += pw[i] * half * math.exp(-0.5 * t * t) * f * _closed_mean(code, slope * t + b, cond)
    return acc / math.sqrt(2.0 * math.pi)


@numba.njit(parallel=True, **NUMBA_OPTS)
def _kernel_map(blocks, diag, first, second, code, gam, shift, weight, folded, px, pw):
    """In place: ``K(a, b) ← Σ_j w_j E[φ(u_a + β_j) φ(u_b + β_j)]``, ``(u_a, u_b)`` centred Gaussian with covariance
    ``γ_j² K + folded`` (``diag``: ``K(a, a)``)."""
    hh, ww = blocks.shape[3], blocks.shape[4]
    for p in numba.prange(first.size):
        n, m = first[p], second[p]
        qb_row = np.empty(ww)
        for dh in range(hh):
            for dw in range(ww):
                for h in range(hh):
                    h2 = (h + dh) % hh
                    for w in range(ww):  # the second positions' diagonal, gathered once a row
                        qb_row[w] = diag[m, h2, (w + dw) % ww]
                    row, qa_row = blocks[p, dh, dw, h], diag[n, h]
                    for w in range(ww):
                        qa, qb, kab = qa_row[w], qb_row[w], row[w]
                        acc = 0.0
                        for j in range(gam.size):
                            g2 = gam[j] * gam[j]
                            a, bb, c = g2 * qa + folded, g2 * qb + folded, g2 * kab + folded
                            if shift[j] == 0.0:
                                acc += weight[j] * _closed_kernel(code, a, bb, c)
                            elif code == 0:
                                acc += weight[j] * (c + shift[j] * shift[j])
                            else:
                                acc += weight[j] * _shifted_kernel(code, a, bb, c, shift[j], px, pw)
                        row[w] = acc


def _quadrature_map(blocks: np.ndarray, diag: np.ndarray, act, rule: AffineRule, chunk: int = 4096) -> None:
    """The same map by 2-D Gauss–Hermite (:meth:`randnet.Activation.gaussian_kernel`) for the smooth activations;
    numpy, in chunks of ``chunk`` entries per block."""
    h, w = blocks.shape[3], blocks.shape[4]
    hi, wi, dh, dw = np.meshgrid(np.arange(h), np.arange(w), np.arange(h), np.arange(w), indexing="ij")
    second_pos = ((hi + dh) % h, (wi + dw) % w)  # [h, w, dh, dw] -> the second position
    for p, (i, j) in enumerate(zip(*block_pairs(diag.shape[0]))):
        k = blocks[p].transpose(2, 3, 0, 1).ravel().astype(np.float64)  # [h, w, dh, dw]
        qa = np.broadcast_to(diag[i][:, :, None, None], hi.shape).ravel()
        qb = diag[j][second_pos].ravel()
        out = np.zeros_like(k)
        for s in range(0, k.size, chunk):
            sl = slice(s, s + chunk)
            for g, b, wt in zip(rule.gamma, rule.shift, rule.weight):
                out[sl] += wt * act.gaussian_kernel(g * g * qa[sl] + rule.folded, g * g * qb[sl] + rule.folded,
                                                    g * g * k[sl] + rule.folded, b)
        blocks[p] = out.reshape(h, w, h, w).transpose(2, 3, 0, 1)


def mean_function(diag: np.ndarray, act, rule: AffineRule) -> np.ndarray:
    """``M_j(a) = E[φ(γ_j u_a + β_j)]`` per node ``j``, ``u_a ~ N(0, K(a, a))`` (with the folded β variance):
    ``(J, N, H, W)``."""
    sd = np.sqrt(rule.gamma[:, None, None, None] ** 2 * diag[None] + rule.folded)
    return gaussian_moments(act, np.broadcast_to(rule.shift[:, None, None, None], sd.shape), sd)[0]


# -- the first layer of WS: the sphere law ------------------------------------------------------------------------
def sphere_rule(dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(r, w_r, cos θ, sin θ)``: ``E f(V) ≈ Σ w_r mean_θ f(r cos θ, r sin θ)`` for ``V`` the projection on a plane of
    a uniform unit vector of ``ℝ^dim``: ``V = √T (cos θ, sin θ)``, ``T ~ Beta(1, (dim − 2)/2)`` (Gauss–Jacobi,
    :data:`SPHERE_RADII` nodes; the θ-average is even in ``r``, so smooth in ``T``), θ uniform
    (:data:`SPHERE_ANGLES` equal steps, the periodic trapezoid rule)."""
    if dim == 2:
        t, wt = np.ones(1), np.ones(1)
    else:
        x, wt = special.roots_jacobi(SPHERE_RADII, (dim - 4) / 2, 0.0)
        t, wt = (x + 1) / 2, wt / wt.sum()
    theta = 2 * np.pi * (np.arange(SPHERE_ANGLES) + 0.5) / SPHERE_ANGLES
    return np.sqrt(t), wt, np.cos(theta), np.sin(theta)


def _smoothed_pair(act, a: np.ndarray, b: np.ndarray, folded: float) -> np.ndarray:
    """``E_β[φ(a + β) φ(b + β)]``, ``β ~ N(0, folded)``: for ReLU ``(ab + s²) Φ(m/s) + s max(a, b) φ_N(m/s)``,
    ``m = min(a, b)``; the identity ``ab + s²``; otherwise Gauss–Hermite over β."""
    if folded == 0:
        return act(a) * act(b)
    s = math.sqrt(folded)
    if act.code == 0:
        return a * b + folded
    if act.code == 1:
        m = np.minimum(a, b) / s
        return (a * b + folded) * special.ndtr(m) + s * np.maximum(a, b) * np.exp(-0.5 * m * m) / math.sqrt(2 * np.pi)
    t, w = hermite_rule(PANEL_NODES)
    return sum(wi * act(a + s * ti) * act(b + s * ti) for ti, wi in zip(t, w))


def _sphere_map(blocks: np.ndarray, diag: np.ndarray, act, rule: AffineRule, dim: int, chunk: int = 128) -> None:
    """In place: ``K(a, b) ← Σ_j w_j E[φ(γ_j y_a + β_j) φ(γ_j y_b + β_j)]`` with ``(y_a, y_b) = (u·p_a, u·p_b)``, ``u``
    uniform on the unit sphere of ``ℝ^dim`` and ``p_a·p_b = dim K(a, b)`` (numpy, in chunks of entries)."""
    r, wr, cos, sin = sphere_rule(dim)
    h, w = blocks.shape[3], blocks.shape[4]
    hi, wi, dh, dw = np.meshgrid(np.arange(h), np.arange(w), np.arange(h), np.arange(w), indexing="ij")
    second_pos = ((hi + dh) % h, (wi + dw) % w)
    weights = (wr[:, None] * np.full(len(cos), 1.0 / len(cos)))  # (R, Θ)
    for p, (i, j) in enumerate(zip(*block_pairs(diag.shape[0]))):
        k = blocks[p].transpose(2, 3, 0, 1).ravel().astype(np.float64)
        qa = np.broadcast_to(diag[i][:, :, None, None], hi.shape).ravel()
        qb = diag[j][second_pos].ravel()
        out = np.zeros_like(k)
        for s0 in range(0, k.size, chunk):
            sl = slice(s0, s0 + chunk)
            c = np.clip(k[sl] / np.sqrt(qa[sl] * qb[sl]), -1.0, 1.0)[:, None, None]
            ya = np.sqrt(dim * qa[sl])[:, None, None] * r[:, None] * cos
            yb = np.sqrt(dim * qb[sl])[:, None, None] * r[:, None] * (c * cos + np.sqrt(1 - c * c) * sin)
            for g, b, wt in zip(rule.gamma, rule.shift, rule.weight):
                pair = _smoothed_pair(act, g * ya + b, g * yb + b, rule.folded)
                out[sl] += wt * np.einsum("ert,rt->e", pair, weights)
        blocks[p] = out.reshape(h, w, h, w).transpose(2, 3, 0, 1)


def sphere_mean_function(diag: np.ndarray, act, rule: AffineRule, dim: int) -> np.ndarray:
    """``M_j(a) = E[φ(γ_j y_a + β_j)]``, ``y_a = u·p_a`` (the sphere law of :func:`_sphere_map`): ``(J, N, H, W)``."""
    r, wr, cos, _ = sphere_rule(dim)
    y = np.sqrt(dim * diag)[..., None, None] * r[:, None] * cos  # (N, H, W, R, Θ)
    weights = wr[:, None] * np.full(len(cos), 1.0 / len(cos))
    sd = math.sqrt(rule.folded)
    return np.array([np.einsum("nhwrt,rt->nhw", gaussian_moments(act, g * y + b, np.full(y.shape, sd))[0]
                               if sd > 0 else act(g * y + b), weights) for g, b in zip(rule.gamma, rule.shift)])


def activation_step(blocks: np.ndarray, diag: np.ndarray, config: NetConfig, rule: AffineRule,
                    sphere_dim: int | None = None) -> np.ndarray:
    """``K_y → K_z`` in place, and the mean function ``M(a) = E_c z_c(a)`` ``(N, H, W)``: the activation of Eq. 4,
    or Proxy Norm's Eq. 7 (``z = (φ − m)/D``, see the module doc). ``sphere_dim``: ``y`` has the sphere law of WS's
    first layer in that dimension (:func:`_sphere_map`), not the Gaussian."""
    act = get_activation(config.activation)
    weight = rule.weight
    m = None
    if config.proxy_norm:
        m, d = proxy_statistics(rule.gamma, rule.shift, act, config.proxy_eps, config.proxy_method,
                                config.proxy_nodes)
        weight = rule.weight / (d * d)
    weighted = AffineRule(rule.gamma, rule.shift, weight, rule.folded)
    if sphere_dim is not None:
        means = sphere_mean_function(diag, act, rule, sphere_dim)
        _sphere_map(blocks, diag, act, weighted, sphere_dim)
    else:
        means = mean_function(diag, act, rule)
        if act.code in CLOSED_CODES:
            px, pw = np.polynomial.legendre.leggauss(PANEL_NODES)
            _kernel_map(blocks, diag, *block_pairs(diag.shape[0]), act.code, rule.gamma, rule.shift, weight,
                        rule.folded, px, pw)
        else:
            _quadrature_map(blocks, diag, act, weighted)
    if m is None:
        return np.tensordot(rule.weight, means, axes=1)
    # E[(φ_a − m)(φ_b − m)]/D² = E[φ_a φ_b]/D² − (m/D²)(M_a + M_b) + m²/D²
    add_symmetric(blocks, -np.tensordot(weight * m, means, axes=1), np.ones(diag.shape), float(np.sum(weight * m * m)))
    return np.tensordot(rule.weight / d, means, axes=1) - float(np.sum(rule.weight * m / d))


# -- layer-level statistics --------------------------------------------------------------------------------------
def kernel_terms(blocks: np.ndarray, n: int) -> np.ndarray:
    """``(P, term (1), term (2))`` of a tensor with second-moment kernel ``K`` (SPEC §8):
    ``P = mean_a K(a, a)``, ``(1) = mean_{a,b} K``, ``(2) = (1/N) Σ_x mean_{a,b ∈ x} K − (1)``."""
    hw = blocks.shape[3] * blocks.shape[4]
    first, second = block_pairs(n)
    sums = blocks.reshape(len(first), -1).sum(axis=1, dtype=np.float64)
    term1 = (2 * sums.sum() - sums[first == second].sum()) / (n * hw) ** 2
    term2 = sums[first == second].mean() / hw ** 2 - term1
    return np.array([diagonal(blocks, n).mean(), term1, term2])


def _terms(t: np.ndarray) -> np.ndarray:
    """``(P, (1), (2))`` → the contract's ``((1), (2), (3) + (4))``."""
    return np.array([t[1], t[2], t[0] - t[1] - t[2]])


@dataclass(frozen=True)
class LimitProfile:
    """The infinite-width limit of one configuration, rows ``l = 1 … L`` (float64).

    terms_y        ``(L, 3)``: ``P(μ_c(y^l))``, ``P(σ_c(μ_{x,c}(y^l)))``, terms (3) + (4) — the API contract's array
    power_y        ``P(y^l) = mean_a K_y(a, a)`` (1 with LN: P1)
    terms_z, power_z   the same for ``z^l`` (second-moment kernel ``K_z``)
    mean_var_x     ``mean_a K_x^l(a, a)``, the diagonal mean of the conv output's kernel
    ratio          ``r^l = (mean_x sqrt v(x))² / mean_x v(x)``, ``v(x) = mean_{h,w} K_x(a, a)``
    split_y        ``(L, 2)`` terms (3) and (4) of ``y`` estimated from ``split_samples`` channels ``y ~ N(0, K_y)``
                   (exact method), or None; ``split_se`` their standard errors
    terms_se       ``(L, 3)`` standard errors of ``terms_y`` (mean field: over replicas; exact: None)
    method         ``"exact"`` or ``"mean_field"``; ``samples``, ``replicas`` of the mean field
    ws_first_layer ``+ws``: the law layer 1 was integrated over, ``"sphere"`` (exact) or ``"gaussian"``
    """

    method: str
    terms_y: np.ndarray
    power_y: np.ndarray
    terms_z: np.ndarray
    power_z: np.ndarray
    mean_var_x: np.ndarray
    ratio: np.ndarray
    split_y: np.ndarray | None = None
    split_se: np.ndarray | None = None
    terms_se: np.ndarray | None = None
    samples: int | None = None
    replicas: int | None = None
    ws_first_layer: str | None = None

    @property
    def depth(self) -> int:
        return len(self.terms_y)

    @property
    def noncollapsed(self) -> np.ndarray:
        """``1 − P(μ_c(y^l)) / P(y^l)`` (T1's ``f_l``)."""
        return 1.0 - self.terms_y[:, 0] / self.power_y

    def confidence_interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Normal interval of ``terms_y`` (mean field); the exact method's is the point itself."""
        se = np.zeros_like(self.terms_y) if self.terms_se is None else self.terms_se
        z = _stats.norm.ppf(0.5 + level / 2)
        return self.terms_y - z * se, self.terms_y + z * se


# -- memory ------------------------------------------------------------------------------------------------------
def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo; physical pages where that is missing)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def kernel_bytes(n: int, h: int, w: int, dtype="float64", method: str = "exact") -> int:
    """Peak bytes of the limit: the ``N(N+1)/2`` blocks of ``(HW)²`` entries (exact), plus for the mean field the
    dense ``P × P`` float64 kernel, its eigenvectors and the samples' work (three dense copies)."""
    itemsize = np.dtype(dtype).itemsize
    blocks = n * (n + 1) // 2 * (h * w) ** 2 * itemsize
    return blocks + (3 * (n * h * w) ** 2 * 8 if method == "mean_field" else 0)


def memory_need(config: NetConfig, data_shape: tuple[int, ...], dtype="float64", method: str = "exact") -> int:
    """Peak bytes of :func:`limit_profile` on data of shape ``(N, H, W, …)``: :func:`kernel_bytes`, and with a
    stride-2 first conv the full-resolution blocks of ``K_x^1`` beside their subsampling."""
    n, h, w = (int(v) for v in data_shape[:3])
    if config.first_stride == 2:
        return kernel_bytes(n, h, w, dtype) + kernel_bytes(n, -(-h // 2), -(-w // 2), dtype, method)
    return kernel_bytes(n, h, w, dtype, method)


def memory_plan(config: NetConfig, data_shape: tuple[int, ...], dtype="float64", method: str = "exact",
                available: int | None = None) -> int:
    """Bytes the limit of ``config`` on data of shape ``(N, H, W, C⁰)`` needs (:func:`memory_need`); a one-line
    ``MemoryError`` (bytes needed, available, the largest N that fits) when over :data:`MEMORY_FRACTION` of
    ``available`` (default: :func:`available_memory`)."""
    n, h, w = (int(v) for v in data_shape[:3])
    need = memory_need(config, data_shape, dtype, method)
    avail = available_memory() if available is None else int(available)
    budget = MEMORY_FRACTION * avail
    if need > budget:
        fits = 0
        while memory_need(config, (fits + 1, h, w), dtype, method) <= budget:
            fits += 1
        raise MemoryError(f"infinite-width limit: {n} inputs of {h}×{w} need {need / 2**30:.2f} GiB ({method}, "
                          f"{np.dtype(dtype).name}), {avail / 2**30:.2f} GiB available; the largest N that fits is "
                          f"{fits}")
    return need


# -- the recursion ------------------------------------------------------------------------------------------------
def _check(config: NetConfig, data: np.ndarray, method: str) -> np.ndarray:
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 4:
        raise ValueError(f"infinite-width limit: data must be (N, H, W, C), got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError("infinite-width limit: data must be finite")
    if method == "exact" and config.base_norm not in EXACT_NORMS:
        raise ValueError(f"infinite-width limit: norm {config.norm!r} has no exact recursion (only "
                         f"{', '.join(EXACT_NORMS)}, with +pn / +ws); use method='mean_field'")
    if method == "mean_field" and config.base_norm not in FUSED_NORMS:
        raise ValueError(f"infinite-width limit: norm {config.norm!r} is not a built-in normalization")
    if method not in ("exact", "mean_field"):
        raise ValueError(f"infinite-width limit: method must be 'exact' or 'mean_field', got {method!r}")
    return data


def first_kernel(config: NetConfig, data: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``K_x^1`` in blocks: the shift-average of the data's empirical kernel (with WS: the patch mean removed),
    subsampled for a stride-2 first conv."""
    if centres_input(config.base_norm):  # PreLN convolves z − μ_x(z)
        data = centre_input(data)
    blocks = empirical_kernel(data, dtype)
    k2, c0 = config.kernel_size ** 2, data.shape[-1]
    if config.weight_standardized:
        d = k2 * c0
        shift_average(blocks, config.kernel_size, d / (d - 1))
        patch_mean = _box_mean(data.mean(axis=-1), config.kernel_size)
        add_symmetric(blocks, patch_mean, -0.5 * d / (d - 1) * patch_mean)
    else:
        shift_average(blocks, config.kernel_size, config.weight.mean_square)
    return subsample(blocks) if config.first_stride == 2 else blocks


def _box_mean(m: np.ndarray, k: int) -> np.ndarray:
    """``(1/K²) Σ_δ m(x, h + δ_h, w + δ_w)`` periodic, for ``m`` of shape ``(N, H, W)``."""
    r = k // 2
    out = np.zeros_like(m, dtype=np.float64)
    for i in range(-r, r + 1):
        for j in range(-r, r + 1):
            out += np.roll(m, (-i, -j), axis=(1, 2))
    return out / (k * k)


def _split(blocks: np.ndarray, n: int, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Terms (3), (4) of ``y ~ N(0, K_y)`` from ``samples`` channels, and their standard errors."""
    h, w = blocks.shape[3], blocks.shape[4]
    y = sample_channels(dense(blocks, n), samples, rng).reshape(n, h, w, samples)
    per = power_decomposition(y)[2:]  # (2, S)
    return per.mean(axis=1), per.std(axis=1, ddof=1) / math.sqrt(samples)


def sample_channels(k: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``samples`` columns ``~ N(0, k)`` (``P × S``): ``k = V Λ Vᵀ`` with the negative round-off eigenvalues
    clipped to 0, so a rank-deficient kernel is sampled exactly on its range."""
    lam, vec = np.linalg.eigh(k)
    return (vec * np.sqrt(np.clip(lam, 0.0, None))) @ rng.standard_normal((k.shape[0], samples))


def _exact(config: NetConfig, data: np.ndarray, dtype, split_samples: int, seed: int,
           ws_first_layer: str) -> LimitProfile:
    n = data.shape[0]
    rule = affine_rule(config)
    rng = np.random.default_rng(seed)
    rows = {key: [] for key in ("y", "z", "x", "r", "split", "split_se")}
    blocks = first_kernel(config, data, dtype)
    for l in range(1, config.depth + 1):
        if l > 1:
            if config.weight_standardized:
                shift_average(blocks, config.kernel_size)
                bar = _box_mean(mean_z, config.kernel_size)
                add_symmetric(blocks, bar, -0.5 * bar)
            else:
                shift_average(blocks, config.kernel_size, config.weight.mean_square)
        v = diagonal(blocks, n).mean(axis=(1, 2))
        rows["x"].append(v.mean())
        rows["r"].append(np.sqrt(v).mean() ** 2 / v.mean())
        if config.base_norm == "ln":
            if np.any(v <= 0):
                raise ZeroDivisionError(f"infinite-width limit, layer {l}: LN's variance v(x) is zero for inputs "
                                        f"{np.flatnonzero(v <= 0)[:5].tolist()}")
            _scale_pairs(blocks, *block_pairs(n), 1.0 / np.sqrt(v + config.eps))
        rows["y"].append(kernel_terms(blocks, n))
        if split_samples:
            s, se = _split(blocks, n, split_samples, rng)
            rows["split"].append(s)
            rows["split_se"].append(se)
        sphere = (config.kernel_size ** 2 * data.shape[-1] - 1
                  if l == 1 and config.weight_standardized and ws_first_layer == "sphere" else None)
        mean_z = activation_step(blocks, diagonal(blocks, n), config, rule, sphere)
        rows["z"].append(kernel_terms(blocks, n))
    y, z = np.array(rows["y"]), np.array(rows["z"])
    return LimitProfile("exact", np.array([_terms(t) for t in y]), y[:, 0], np.array([_terms(t) for t in z]), z[:, 0],
                        np.array(rows["x"]), np.array(rows["r"]),
                        np.array(rows["split"]) if split_samples else None,
                        np.array(rows["split_se"]) if split_samples else None,
                        ws_first_layer=ws_first_layer if config.weight_standardized else None)


def _mean_field_chain(config: NetConfig, data: np.ndarray, samples: int, rng: np.random.Generator):
    """One replica of the mean-field chain: per layer the power decomposition ``(4,)`` of ``y`` and of ``z`` (means
    over the sampled channels), ``mean_a K_x(a, a)`` and ``r``."""
    n, h, w = data.shape[0], data.shape[1], data.shape[2]
    blocks = first_kernel(config, data)
    if config.first_stride == 2:
        h, w = blocks.shape[3], blocks.shape[4]
    act = get_activation(config.activation)
    groups = None if config.groups is None else samples // (config.widths[0] // config.groups)
    out = []
    for l in range(1, config.depth + 1):
        if l > 1:
            blocks = empirical_kernel(centre_input(z) if centres_input(config.base_norm) else z)
            shift_average(blocks, config.kernel_size, config.weight.mean_square)
        v = diagonal(blocks, n).mean(axis=(1, 2))
        x = sample_channels(dense(blocks, n), samples, rng).reshape(n, h, w, samples)
        gamma, beta = config.gamma.sample(rng, (samples,)), config.beta.sample(rng, (samples,))
        proxy = (proxy_statistics(gamma, beta, act, config.proxy_eps, config.proxy_method, config.proxy_nodes)
                 if config.proxy_norm else None)
        y, z, _ = normalize_activate(x, config.base_norm, gamma, beta, act, groups, config.eps, config.batch_size,
                                     proxy)
        out.append((power_decomposition(y).mean(axis=1), power_decomposition(z).mean(axis=1), v.mean(),
                    np.sqrt(v).mean() ** 2 / v.mean()))
    return out


def _mean_field(config: NetConfig, data: np.ndarray, samples: int, replicas: int, seed: int) -> LimitProfile:
    if config.weight_standardized:
        raise ValueError("infinite-width limit: the mean field does not implement +ws (use norm 'ln+ws', exact)")
    if config.base_norm == "gn":
        size = config.widths[0] // config.groups
        if samples % size:
            raise ValueError(f"infinite-width limit: samples ({samples}) must be a multiple of the group size {size}")
    chains = [_mean_field_chain(config, data, samples, np.random.default_rng([seed, r])) for r in range(replicas)]
    py = np.array([[row[0] for row in c] for c in chains])  # (R, L, 4)
    pz = np.array([[row[1] for row in c] for c in chains])
    x = np.array([[row[2] for row in c] for c in chains]).mean(axis=0)
    r = np.array([[row[3] for row in c] for c in chains]).mean(axis=0)
    ty = np.concatenate([py[..., :2], py[..., 2:].sum(axis=-1, keepdims=True)], axis=-1)  # (R, L, 3)
    tz = np.concatenate([pz[..., :2], pz[..., 2:].sum(axis=-1, keepdims=True)], axis=-1)
    se = ty.std(axis=0, ddof=1) / math.sqrt(replicas) if replicas > 1 else None
    return LimitProfile("mean_field", ty.mean(axis=0), py.sum(axis=-1).mean(axis=0), tz.mean(axis=0),
                        pz.sum(axis=-1).mean(axis=0), x, r, py[..., 2:].mean(axis=0),
                        py[..., 2:].std(axis=0, ddof=1) / math.sqrt(replicas) if replicas > 1 else None, se,
                        samples, replicas)


def limit_profile(config: NetConfig, data: np.ndarray, method: str | None = None, dtype="float64",
                  split_samples: int = 0, samples: int = 4096, replicas: int = 4, seed: int = 0,
                  ws_first_layer: str = "auto") -> LimitProfile:
    """The infinite-width limit of ``config`` (widths ignored) on ``data`` ``(N, H, W, C⁰)``: :class:`LimitProfile`.

    ``method``: ``"exact"`` (default for ``ln``, ``none`` and their ``+pn``, ``+ws``) or ``"mean_field"`` (default
    otherwise; ``samples`` channels a layer, ``replicas`` independent chains for the interval). ``dtype``: the
    blocks' storage (float64, or float32 to halve the memory; sums in float64 either way). ``split_samples`` > 0:
    also estimate terms (3) and (4) of ``y`` from that many Gaussian channels a layer (exact method).
    ``seed``: the random parts (split, mean field). ``ws_first_layer`` (``+ws``): ``"sphere"``, the exact law of
    ``x^1`` (the standardized filter is uniform on the unit sphere of the centred patch space, for a normal ν_ω;
    numpy, ``O(P² · 16 · 64 · J)``: small inputs only), ``"gaussian"``, the Gaussian with the same kernel (an
    approximation, fast), or ``"auto"``: the sphere within :data:`SPHERE_BUDGET`, else the Gaussian (the profile's
    ``ws_first_layer`` says which). Refuses up front what will not fit (:func:`memory_plan`)."""
    if ws_first_layer not in ("auto", "sphere", "gaussian"):
        raise ValueError("infinite-width limit: ws_first_layer must be 'auto', 'sphere' or 'gaussian', got "
                         f"{ws_first_layer!r}")
    if method is None:
        method = "exact" if config.base_norm in EXACT_NORMS else "mean_field"
    data = _check(config, data, method)
    if ws_first_layer == "auto":
        n, h, w = data.shape[:3]
        if config.first_stride == 2:
            h, w = -(-h // 2), -(-w // 2)
        work = n * (n + 1) // 2 * (h * w) ** 2 * SPHERE_RADII * SPHERE_ANGLES * len(affine_rule(config).weight)
        ws_first_layer = "sphere" if work <= SPHERE_BUDGET else "gaussian"
    if str(np.dtype(dtype)) not in DTYPES:
        raise ValueError(f"infinite-width limit: dtype must be one of {DTYPES}, got {dtype!r}")
    memory_plan(config, data.shape, dtype, "mean_field" if (method == "mean_field" or split_samples) else "exact")
    if method == "exact":
        return _exact(config, data, np.dtype(dtype), split_samples, seed, ws_first_layer)
    return _mean_field(config, data, samples, replicas, seed)


def infinite_width_terms(config: NetConfig, data: np.ndarray) -> np.ndarray:
    """API contract (SPEC §8): ``(depth, 3)`` float64, rows ``l = 1 … L``: ``P(μ_c(y^l))``,
    ``P(σ_c(μ_{x,c}(y^l)))``, terms (3) + (4), of the C → ∞ limit of ``config`` (widths ignored) on ``data``
    ``(N, H, W, C⁰)``: exact for ``ln``/``none`` (and ``+pn``, ``+ws``), the mean field otherwise
    (:func:`limit_profile` for the rest)."""
    return limit_profile(config, data).terms_y
