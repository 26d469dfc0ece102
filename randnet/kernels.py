"""Fused numba kernels for one layer's normalization → affine → activation step and its statistics.

For ``x`` of shape ``(N, H, W, C)``, every built-in normalization (SPEC §2, Eq. 3) is a per-``(n, c)``
affine map ``y = (x − m[n, c]) / s[n, c]``, ``s = sqrt(Var + ε)``, whose ``m, Var`` are exact
combinations of the instance moments ``μ_{x,c}(x), σ_{x,c}(x)²`` (law of total variance):

- ``in``: the instance moments themselves;  ``ln`` / ``gn``: pooled over the channels of the input (group);
- ``bn``: pooled over the inputs (of each mini-batch);  ``none``: ``m = 0, s = 1``;
- ``bmlv`` / ``lmbv``: the mean of one pooling and the variance of the other; their ``_c`` variants the variance of
  the instance moments shifted by that mean (``var(x − m)``: instance means ``μ_{x,c} − m``, variances unchanged);
- ``preln`` / ``regnorm``: ``m = 0``, the input's variance;  ``regnorm_ln``: as ``ln``.

:func:`normalize_activate` therefore reads ``x`` twice: once for its instance moments
(:func:`randnet.stats.instance_moments`), once in :func:`_layer_kernel`, which writes ``y`` and
``z = φ(γ ⊙ y + β)`` (or Proxy Norm's ``(φ(γ ⊙ y + β) − E) / D``, Eq. 7) one input at a time and,
while that input is in cache, its per-``(n, c)`` moments of ``y`` and ``z`` (:func:`_slab_moments`):
means, centered variances, the ``y``–``z`` covariance, min and max of ``y``, in float64. Element
operations follow :func:`randnet.normalize` and :func:`randnet.proxy_activation` (``y`` in float64,
rounded to the dtype; the affine step and ``φ`` in the dtype), so the fused and unfused paths agree
to the dtype's round-off.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from .activations import get_activation
from .checks import check_number, is_int
from .norms import normalize
from .stats import as_nhwc, channel_moments, input_moments, instance_moments

NUMBA_OPTS = dict(cache=True)
FUSED_NORMS = ("bn", "ln", "in", "gn", "none", "bmlv", "bmlv_c", "lmbv", "lmbv_c", "preln", "regnorm", "regnorm_ln")
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class InstanceMoments:
    """Per-``(n, c)`` moments over ``(h, w)`` of one layer, float64 ``(N, C)``: means, centered variances,
    the covariance of ``y`` and ``z``, and the extremes of ``y``.

    The ``inst_`` prefix marks these *instance* statistics ``(N, C)`` (``μ_{x,c}``, ``σ²_{x,c}``, …), against the
    *channel* statistics ``(C,)`` of :class:`randnet.LayerStats` (``mean_x`` is ``μ_c(x)`` there)."""

    inst_mean_x: np.ndarray
    inst_var_x: np.ndarray
    inst_mean_y: np.ndarray
    inst_var_y: np.ndarray
    inst_mean_z: np.ndarray
    inst_var_z: np.ndarray
    inst_cov_yz: np.ndarray
    inst_min_y: np.ndarray
    inst_max_y: np.ndarray

    def channel_covariance(self) -> np.ndarray:
        """``cov_c(y, z)`` over ``(x, h, w)`` by the law of total covariance."""
        dy = self.inst_mean_y - self.inst_mean_y.mean(axis=0)
        dz = self.inst_mean_z - self.inst_mean_z.mean(axis=0)
        return self.inst_cov_yz.mean(axis=0) + np.mean(dy * dz, axis=0)


# -- kernels -----------------------------------------------------------------------------
@numba.njit(**NUMBA_OPTS)
def _slab_moments(y, z, out):
    """Two-pass float64 moments of one input's ``y, z`` (each ``(H, W, C)``) into ``out`` ``(7, C)``: rows
    mean_y, var_y, mean_z, var_z, cov_yz, min_y, max_y."""
    h, w, c = y.shape
    inv = 1.0 / (h * w)
    sy = np.zeros(c)
    sz = np.zeros(c)
    lo = np.full(c, np.inf)
    hi = np.full(c, -np.inf)
    for p in range(h):
        for q in range(w):
            yr = y[p, q]
            zr = z[p, q]
            for k in range(c):
                yv = np.float64(yr[k])
                sy[k] += yv
                sz[k] += zr[k]
                lo[k] = min(lo[k], yv)
                hi[k] = max(hi[k], yv)
    my = sy * inv
    mz = sz * inv
    vy = np.zeros(c)
    vz = np.zeros(c)
    cyz = np.zeros(c)
    for p in range(h):
        for q in range(w):
            yr = y[p, q]
            zr = z[p, q]
            for k in range(c):
                dy = yr[k] - my[k]
                dz = zr[k] - mz[k]
                vy[k] += dy * dy
                vz[k] += dz * dz
                cyz[k] += dy * dz
    out[0] = my
    out[1] = vy * inv
    out[2] = mz
    out[3] = vz * inv
    out[4] = cyz * inv
    out[5] = lo
    out[6] = hi


@numba.njit(**NUMBA_OPTS)
def _activate(code, slope, u, out):
    """``out = φ(u)`` elementwise in ``u``'s dtype, φ selected by its :attr:`randnet.Activation.code`, written as
    in :mod:`randnet.activations`: 0 identity, 1 ReLU, 2 ``u`` or ``slope·u`` (leaky ReLU), 3 GELU, 4 tanh,
    5 SiLU, 6 softplus."""
    one = u.dtype.type(1.0)
    half = u.dtype.type(0.5)
    root2 = u.dtype.type(_SQRT2)
    if code == 0:
        out[:] = u
    elif code == 1:
        for k in range(u.size):
            out[k] = u[k] if u[k] > 0 else 0
    elif code == 2:
        for k in range(u.size):
            out[k] = u[k] if u[k] >= 0 else slope * u[k]
    elif code == 3:
        for k in range(u.size):
            out[k] = half * u[k] * (one + math.erf(u[k] / root2))
    elif code == 4:
        for k in range(u.size):
            out[k] = np.tanh(u[k])
    elif code == 5:
        for k in range(u.size):
            out[k] = u[k] * (one / (one + np.exp(-u[k])))
    else:
        for k in range(u.size):
            out[k] = max(u[k], 0) + np.log1p(np.exp(-abs(u[k])))


@numba.njit(**NUMBA_OPTS)
def _layer_input(x, shift, inv_denom, gamma, beta, code, slope, post_mean, post_denom, y, z):
    """One input (``(H, W, C)`` slabs): ``y = (x − shift) · (1 / denom)`` in float64, rounded (a product: 2× faster
    than dividing, within about one float64 ulp of ``(x − shift) / denom``); ``z = φ(γ y + β)``, then
    ``(z − post_mean) / post_denom`` when ``post_mean`` is not empty."""
    h, w, c = x.shape
    u = np.empty(c, x.dtype)
    for p in range(h):
        for q in range(w):
            xr = x[p, q]
            yr = y[p, q]
            zr = z[p, q]
            for k in range(c):
                yr[k] = (xr[k] - shift[k]) * inv_denom[k]
            for k in range(c):
                u[k] = gamma[k] * yr[k] + beta[k]
            _activate(code, slope, u, zr)
            if post_mean.size:
                for k in range(c):
                    zr[k] = (zr[k] - post_mean[k]) / post_denom[k]


@numba.njit(parallel=True, **NUMBA_OPTS)
def _layer_kernel(x, shift, inv_denom, gamma, beta, code, slope, post_mean, post_denom, y, z, out):
    """:func:`_layer_input` then :func:`_slab_moments` for each input ``n`` (``out`` is ``(N, 7, C)``). The loops
    live in those functions: numba vectorizes them there, not inside a ``prange`` body."""
    for n in numba.prange(x.shape[0]):
        _layer_input(x[n], shift[n], inv_denom[n], gamma, beta, code, slope, post_mean, post_denom, y[n], z[n])
        _slab_moments(y[n], z[n], out[n])


@numba.njit(parallel=True, **NUMBA_OPTS)
def _pair_kernel(y, z, out):
    for n in numba.prange(y.shape[0]):
        _slab_moments(y[n], z[n], out[n])


# -- the layer step ----------------------------------------------------------------------
def _batch_pooled(inst_mean: np.ndarray, inst_var: np.ndarray, batch_size: int | None,
                  fn) -> tuple[np.ndarray, np.ndarray]:
    """``fn(inst_mean, inst_var) -> (mean, var)`` (each broadcastable to ``(b, C)``) on each consecutive mini-batch
    of ``batch_size`` inputs (all of them if None), as ``(N, C)`` arrays."""
    n, c = inst_mean.shape
    b = n if batch_size is None else batch_size
    mean, var = np.empty((n, c)), np.empty((n, c))
    for i in range(0, n, b):  # each mini-batch pools its own inputs
        mean[i:i + b], var[i:i + b] = fn(inst_mean[i:i + b], inst_var[i:i + b])
    return mean, var


def _layer(inst_mean: np.ndarray, inst_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-input mean and variance over ``(h, w, c)``, as ``(N, 1)`` columns."""
    return input_moments(inst_mean, inst_var, 1)


def _bmlv_moments(centred: bool):
    def moments(m, v):
        mu = channel_moments(m, v)[0]
        return mu, _layer(m - mu if centred else m, v)[1]
    return moments


def _lmbv_moments(centred: bool):
    def moments(m, v):
        mu = _layer(m, v)[0]
        return mu, channel_moments(m - mu if centred else m, v)[1]
    return moments


_BATCH_MOMENTS = {"bn": channel_moments, "bmlv": _bmlv_moments(False), "bmlv_c": _bmlv_moments(True),
                  "lmbv": _lmbv_moments(False), "lmbv_c": _lmbv_moments(True)}


def normalization_statistics(inst_mean: np.ndarray, inst_var: np.ndarray, kind: str, groups: int | None = None,
                             eps: float = 0.0, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shift ``m`` and denominator ``s = sqrt(Var + ε)`` of :func:`randnet.normalize`'s ``kind``, each ``(N, C)``
    float64, from the instance moments ``(N, C)`` of ``x`` (module doc)."""
    n, c = inst_mean.shape
    if kind == "none":
        return np.zeros((n, c)), np.ones((n, c))
    if kind == "in":
        mean, var = inst_mean, inst_var
    elif kind in ("ln", "gn", "regnorm_ln"):
        g = groups if kind == "gn" else 1
        if not is_int(g) or c % g:
            raise ValueError(f"gn needs a number of groups dividing the width {c}, got {groups!r}")
        mean, var = (np.repeat(a, c // g, axis=1) for a in input_moments(inst_mean, inst_var, g))
    elif kind in ("preln", "regnorm"):
        mean, var = np.zeros((n, c)), np.repeat(_layer(inst_mean, inst_var)[1], c, axis=1)
    elif kind in _BATCH_MOMENTS:
        mean, var = _batch_pooled(inst_mean, inst_var, batch_size, _BATCH_MOMENTS[kind])
    else:
        raise ValueError(f"no fused statistics for normalization {kind!r}; choose one of {', '.join(FUSED_NORMS)}")
    denom = np.sqrt(var + eps)
    if np.any(denom == 0):
        raise ZeroDivisionError("normalization denominator is zero (a constant slice with ε = 0)")
    return mean, denom


def normalize_activate(x: np.ndarray, kind: str, gamma: np.ndarray, beta: np.ndarray, activation,
                       groups: int | None = None, eps: float = 0.0, batch_size: int | None = None,
                       proxy: tuple[np.ndarray, np.ndarray] | None = None
                       ) -> tuple[np.ndarray, np.ndarray, InstanceMoments]:
    """One layer's Eqs. 3–4: ``y = normalize(x, kind, groups, eps, batch_size)``, ``z = φ(γ ⊙ y + β)``, and their
    :class:`InstanceMoments`; with ``proxy = (E, D)`` (:func:`randnet.proxy.proxy_statistics`),
    ``z = (φ(γ ⊙ y + β) − E) / D`` (Eq. 7).

    ``y, z`` have ``x``'s dtype. A normalization or φ without a kernel is applied by numpy, the rest stays fused.
    """
    x = as_nhwc(x)
    check_number("eps", eps)
    dt = x.dtype
    act = get_activation(activation)
    inst_mean_x, inst_var_x = instance_moments(x)
    if kind in FUSED_NORMS:
        src = x
        shift, denom = normalization_statistics(inst_mean_x, inst_var_x, kind, groups, eps, batch_size)
    else:
        src = as_nhwc(normalize(x, kind, groups, eps, batch_size)).astype(dt, copy=False)
        shift, denom = np.zeros(inst_var_x.shape), np.ones(inst_var_x.shape)
    post = (np.empty(0, dt), np.empty(0, dt)) if proxy is None else tuple(np.asarray(a).astype(dt) for a in proxy)
    y, z = np.empty_like(x), np.empty_like(x)
    out = np.empty((inst_var_x.shape[0], 7, inst_var_x.shape[1]))
    gamma, beta = (np.ascontiguousarray(a, dtype=dt) for a in (gamma, beta))
    slope = dt.type(act.slopes[1] if act.slopes else 0.0)  # code 2's negative slope
    if act.code is not None:
        _layer_kernel(src, shift, 1 / denom, gamma, beta, act.code, slope, post[0], post[1], y, z, out)
    else:  # the kernel gives y and u = γ y + β; φ (and Eq. 7's standardization) in numpy, then the moments
        empty = np.empty(0, dt)
        _layer_kernel(src, shift, 1 / denom, gamma, beta, 0, slope, empty, empty, y, z, out)
        z = np.asarray(act(z)).astype(dt, copy=False)
        if proxy is not None:
            z = ((z - post[0]) / post[1]).astype(dt, copy=False)
        _pair_kernel(y, np.ascontiguousarray(z), out)
    return y, z, InstanceMoments(inst_mean_x, inst_var_x, *out.transpose(1, 0, 2))


def layer_moments(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> InstanceMoments:
    """:class:`InstanceMoments` of given ``x, y, z`` (each ``(N, H, W, C)``; ``y, z`` of the same shape)."""
    x, y, z = as_nhwc(x), as_nhwc(y), as_nhwc(z)
    if y.shape != z.shape:
        raise ValueError(f"shapes differ: {y.shape} vs {z.shape}")
    out = np.empty((y.shape[0], 7, y.shape[3]))
    _pair_kernel(y, z, out)
    return InstanceMoments(*instance_moments(x), *out.transpose(1, 0, 2))
