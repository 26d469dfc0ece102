"""Periodic (circular) K×K convolution, stride 1, no bias (SPEC §2, Eq. 2).

Cross-correlation convention, as PyTorch's ``conv2d`` with ``padding_mode='circular'``
and padding ``p = K // 2``:

    x[n, h, w, o] = Σ_{i,j,c} ω[i, j, c, o] · z[n, (h + i − p) mod H, (w + j − p) mod W, c]

with ``z`` of shape ``(N, H, W, C_in)`` and ``ω`` of shape ``(K, K, C_in, C_out)``, ``K`` odd.
"""
from __future__ import annotations

import numpy as np


def _check(z: np.ndarray, w: np.ndarray) -> None:
    if z.ndim != 4:
        raise ValueError(f"periodic_conv: z must be (N, H, W, C_in), got shape {z.shape}")
    if w.ndim != 4 or w.shape[0] != w.shape[1]:
        raise ValueError(f"periodic_conv: w must be (K, K, C_in, C_out), got shape {w.shape}")
    if w.shape[0] % 2 == 0:
        raise ValueError(f"periodic_conv: kernel size must be odd, got {w.shape[0]}")
    if w.shape[2] != z.shape[3]:
        raise ValueError(f"periodic_conv: w has C_in={w.shape[2]} but z has {z.shape[3]} channels")


def periodic_conv_direct(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Direct path: one GEMM ``(N·H·W × C_in)·(C_in × C_out)`` per kernel tap, accumulated."""
    k = w.shape[0]
    p = k // 2
    n, h, wd, cin = z.shape
    dt = np.result_type(z.dtype, w.dtype)
    out = np.zeros((n * h * wd, w.shape[3]), dtype=dt)
    for i in range(k):
        for j in range(k):
            shifted = np.roll(z, shift=(p - i, p - j), axis=(1, 2))
            out += shifted.reshape(-1, cin) @ w[i, j].astype(dt, copy=False)
    return out.reshape(n, h, wd, w.shape[3])


def periodic_conv(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Periodic convolution (see module doc); output dtype is the common dtype of ``z`` and ``w``."""
    z = np.asarray(z)
    w = np.asarray(w)
    _check(z, w)
    return periodic_conv_direct(z, w)


def reference_periodic_conv(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Slow reference: gather every K×K periodic patch and contract, in float64."""
    _check(np.asarray(z), np.asarray(w))
    z = np.asarray(z, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    k = w.shape[0]
    p = k // 2
    _, h, wd, _ = z.shape
    rows = (np.arange(h)[:, None] + np.arange(k)[None, :] - p) % h      # (H, K)
    cols = (np.arange(wd)[:, None] + np.arange(k)[None, :] - p) % wd    # (W, K)
    patches = z[:, rows[:, None, :, None], cols[None, :, None, :], :]   # (N, H, W, K, K, C_in)
    return np.einsum("nhwijc,ijco->nhwo", patches, w)
