"""Periodic (circular) K×K convolution, stride 1, no bias (SPEC §2, Eq. 2).

Cross-correlation convention, as PyTorch's ``conv2d`` with ``padding_mode='circular'``
and padding ``p = K // 2``:

    x[n, h, w, o] = Σ_{i,j,c} ω[i, j, c, o] · z[n, (h + i − p) mod H, (w + j − p) mod W, c]

with ``z`` of shape ``(N, H, W, C_in)`` and ``ω`` of shape ``(K, K, C_in, C_out)``, ``K`` odd.

Two paths compute it:

- ``direct``: one GEMM ``(N·H·W × C_in)·(C_in × C_out)`` per kernel tap, ``K²`` in all;
- ``fourier``: periodic boundaries make the convolution diagonal in the 2-D Fourier domain,

      x̂[n, k, l, :] = ẑ[n, k, l, :] · ω̂[k, l],    ω̂[k, l] = Σ_{i,j} ω[i, j] e^{2πi (k (i−p)/H + l (j−p)/W)},

  one ``C_in × C_out`` complex product per frequency. Only the ``H·(W//2+1)`` frequencies of the
  real FFT are formed, and of those only the independent ones (columns ``l = 0`` and ``l = W/2`` are
  Hermitian in ``k``). Each complex product is one real GEMM on split real/imaginary parts,

      [x̂_r; x̂_i] = [[ẑ_r, −ẑ_i], [ẑ_i, ẑ_r]] · [ω̂_r; ω̂_i]      ((2N × 2C_in)·(2C_in × C_out)),

  and ``ω̂`` is built tile by tile (a few frequencies × ``TILE_COLUMNS`` output channels, by
  :func:`_fourier_weight`) right before its GEMM, so that it stays in cache and memory does not
  grow with ``F·C_in·C_out``.
"""
from __future__ import annotations

import numba
import numpy as np
import scipy.fft

NUMBA_OPTS = dict(cache=True)
METHODS = ("auto", "fourier", "direct")
# A tile of ω̂ covers at most TILE_COLUMNS output channels and about TILE_BYTES (its frequencies).
TILE_COLUMNS = 128
TILE_BYTES = 4 << 20
# Elements of ω per block of the parallel ω̂ kernel.
WEIGHT_BLOCK = 2048
# ``auto`` picks the direct path for K = 1 and below this many multiply-adds K²·N·H·W·C_in·C_out (see periodic_conv).
DIRECT_MAX_WORK = 1 << 27


def _check(z: np.ndarray, w: np.ndarray) -> None:
    if z.ndim != 4:
        raise ValueError(f"periodic_conv: z must be (N, H, W, C_in), got shape {z.shape}")
    if w.ndim != 4 or w.shape[0] != w.shape[1]:
        raise ValueError(f"periodic_conv: w must be (K, K, C_in, C_out), got shape {w.shape}")
    if w.shape[0] % 2 == 0:
        raise ValueError(f"periodic_conv: kernel size must be odd, got {w.shape[0]}")
    if w.shape[2] != z.shape[3]:
        raise ValueError(f"periodic_conv: w has C_in={w.shape[2]} but z has {z.shape[3]} channels")


def _work_dtype(z: np.ndarray, w: np.ndarray) -> np.dtype:
    dt = np.result_type(z.dtype, w.dtype)
    return dt if dt in (np.float32, np.float64) else np.dtype(np.float64)


def periodic_conv_direct(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Direct path: one GEMM ``(N·H·W × C_in)·(C_in × C_out)`` per kernel tap, accumulated."""
    k = w.shape[0]
    p = k // 2
    n, h, wd, cin = z.shape
    dt = _work_dtype(z, w)
    z = z.astype(dt, copy=False)
    out = np.zeros((n * h * wd, w.shape[3]), dtype=dt)
    for i in range(k):
        for j in range(k):
            shifted = np.roll(z, shift=(p - i, p - j), axis=(1, 2))
            out += shifted.reshape(-1, cin) @ w[i, j].astype(dt, copy=False)
    return out.reshape(n, h, wd, w.shape[3])


def independent_frequencies(h: int, wd: int) -> np.ndarray:
    """Flat indices ``k·(W//2+1) + l`` of the independent frequencies of a real ``H × W`` map's ``rfft2``.

    In the columns ``l = 0`` and (``W`` even) ``l = W/2``, ``x̂[H−k, l] = conj(x̂[k, l])``: only ``k ≤ H/2`` is kept.
    """
    wh = wd // 2 + 1
    hermitian = {0, wd // 2} if wd % 2 == 0 else {0}
    return np.array([k * wh + l for k in range(h) for l in range(wh) if l not in hermitian or k <= (h - k) % h],
                    dtype=np.intp)


def _phase_tables(h: int, wd: int, k: int, freqs: np.ndarray, dt) -> tuple[np.ndarray, np.ndarray]:
    """``cos ψ``, ``sin ψ`` of shape ``(F, K²//2)``, ``ψ = 2π (k (i−p)/H + l (j−p)/W)`` for taps ``t = iK + j < K²//2``."""
    p = k // 2
    wh = wd // 2 + 1
    fk, fl = np.divmod(freqs, wh)
    i, j = np.divmod(np.arange(k * k // 2), k)
    psi = 2 * np.pi * (fk[:, None] * (i - p) / h + fl[:, None] * (j - p) / wd)
    return np.cos(psi).astype(dt), np.sin(psi).astype(dt)


@numba.njit(**NUMBA_OPTS)
def _pair(a, b, s, d):
    for e in range(s.size):
        s[e] = a[e] + b[e]
        d[e] = a[e] - b[e]


@numba.njit(**NUMBA_OPTS)
def _combine(center, s, d, cos, sin, re, im):
    """``re = center + Σ_t cos_t s_t``, ``im = Σ_t sin_t d_t`` (contiguous 1-D rows: the loops vectorize)."""
    for e in range(re.size):
        re[e] = center[e]
        im[e] = 0
    for t in range(cos.size):
        a = cos[t]
        b = sin[t]
        st = s[t]
        dt = d[t]
        for e in range(re.size):
            re[e] += a * st[e]
            im[e] += b * dt[e]


@numba.njit(parallel=True, **NUMBA_OPTS)
def _fourier_weight(w, cos, sin, out):
    """``out[f, 0] + i out[f, 1] = ω̂`` at the tile's frequencies, pairing each tap ``t`` with its mirror ``T−1−t``
    (the offsets negated): ``ω̂ = ω_center + Σ_{t < T/2} cos ψ_t (ω_t + ω_{T−1−t}) + i sin ψ_t (ω_t − ω_{T−1−t})``.

    ``w`` is the tile of ω flattened to ``(T, C_in·C_tile)``, ``out`` is ``(F_tile, 2, C_in·C_tile)``.
    """
    taps, size = w.shape
    half = taps // 2
    for b in numba.prange((size + WEIGHT_BLOCK - 1) // WEIGHT_BLOCK):
        lo = b * WEIGHT_BLOCK
        hi = min(size, lo + WEIGHT_BLOCK)
        s = np.empty((half, hi - lo), w.dtype)
        d = np.empty((half, hi - lo), w.dtype)
        for t in range(half):
            _pair(w[t, lo:hi], w[taps - 1 - t, lo:hi], s[t], d[t])
        for f in range(out.shape[0]):
            _combine(w[half, lo:hi], s, d, cos[f], sin[f], out[f, 0, lo:hi], out[f, 1, lo:hi])


def periodic_conv_fourier(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Fourier path (module doc): ``irfft2(rfft2(z) · ω̂)``, one real GEMM per frequency and tile of output channels."""
    n, h, wd, cin = z.shape
    k, cout = w.shape[0], w.shape[3]
    dt = _work_dtype(z, w)
    workers = numba.get_num_threads()
    wh = wd // 2 + 1
    zf = scipy.fft.rfft2(z.astype(dt, copy=False), axes=(1, 2), workers=workers).reshape(n, h * wh, cin)
    xf = np.empty((n, h * wh, cout), dtype=zf.dtype)
    freqs = independent_frequencies(h, wd)
    cos, sin = _phase_tables(h, wd, k, freqs, dt)
    co = min(cout, TILE_COLUMNS)
    tiles = -(-cout // co)
    # ω as (tile, T, C_in·C_tile), zero-padded to whole tiles
    taps = np.zeros((k * k, cin, tiles * co), dtype=dt)
    taps[..., :cout] = w.reshape(k * k, cin, cout)
    taps = np.ascontiguousarray(taps.reshape(k * k, cin, tiles, co).transpose(2, 0, 1, 3)).reshape(tiles, k * k, -1)
    fb = int(max(1, min(len(freqs), TILE_BYTES // (2 * cin * co * dt.itemsize))))
    lhs = np.empty((fb, 2 * n, 2 * cin), dtype=dt)
    wf = np.empty((fb, 2, cin * co), dtype=dt)
    prod = np.empty((fb, 2 * n, co), dtype=dt)
    for s in range(0, len(freqs), fb):
        idx = freqs[s:s + fb]
        m = len(idx)
        zc = zf[:, idx].transpose(1, 0, 2)
        a = lhs[:m]
        a[:, :n, :cin] = a[:, n:, cin:] = zc.real
        a[:, n:, :cin] = zc.imag
        np.negative(zc.imag, out=a[:, :n, cin:])
        for t in range(tiles):
            _fourier_weight(taps[t], cos[s:s + fb], sin[s:s + fb], wf[:m])
            p = np.matmul(a, wf[:m].reshape(m, 2 * cin, co), out=prod[:m])
            o0, o1 = t * co, min(cout, (t + 1) * co)
            xf.real[:, idx, o0:o1] = p[:, :n, :o1 - o0].transpose(1, 0, 2)
            xf.imag[:, idx, o0:o1] = p[:, n:, :o1 - o0].transpose(1, 0, 2)
    xf = xf.reshape(n, h, wh, cout)
    ks = np.arange(h // 2 + 1, h)
    for l in ({0, wd // 2} if wd % 2 == 0 else {0}):
        xf[:, ks, l] = np.conj(xf[:, h - ks, l])
    return scipy.fft.irfft2(xf, s=(h, wd), axes=(1, 2), workers=workers)


def periodic_conv(z: np.ndarray, w: np.ndarray, method: str = "auto") -> np.ndarray:
    """Periodic convolution (module doc); output dtype is the common float dtype of ``z`` and ``w``.

    ``method``: ``"fourier"``, ``"direct"``, or ``"auto"``: the direct path for ``K = 1`` (one GEMM) and
    for small layers, ``K²·N·H·W·C_in·C_out < DIRECT_MAX_WORK`` (2²⁷; there the FFTs and the Python loop
    over tiles of ω̂ cost more than the ``K²`` GEMMs), the Fourier path otherwise. Rule measured on the
    2-core development machine (one thread, float32): with K = 3 the paths break even near
    ``N·H·W·C_in·C_out ≈ 2²⁵`` (e.g. N = 32, 16×16, 64 → 64 channels); with K = 5 already near 2²².
    """
    if method not in METHODS:
        raise ValueError(f"periodic_conv: method must be one of {METHODS}, got {method!r}")
    z = np.asarray(z)
    w = np.asarray(w)
    _check(z, w)
    if method == "auto":
        k = w.shape[0]
        small = k * k * z.shape[0] * z.shape[1] * z.shape[2] * w.shape[2] * w.shape[3] < DIRECT_MAX_WORK
        method = "direct" if k == 1 or small else "fourier"
    return periodic_conv_direct(z, w) if method == "direct" else periodic_conv_fourier(z, w)


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
