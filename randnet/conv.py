"""Periodic (circular) K×K convolution, stride 1, no bias (SPEC §2, Eq. 2).

Cross-correlation convention, as PyTorch's ``conv2d`` with ``padding_mode='circular'``
and padding ``p = K // 2``:

    x[n, h, w, o] = Σ_{i,j,c} ω[i, j, c, o] · z[n, (h + i − p) mod H, (w + j − p) mod W, c]

with ``z`` of shape ``(N, H, W, C_in)`` and ``ω`` of shape ``(K, K, C_in, C_out)``, ``K`` odd.

Three paths compute it:

- ``direct``: one GEMM ``(N·H·W × C_in)·(C_in × C_out)`` per kernel tap, ``K²`` in all;
- ``fourier``: periodic boundaries make the convolution diagonal in the 2-D Fourier domain,

      x̂[n, k, l, :] = ẑ[n, k, l, :] · ω̂[k, l],    ω̂[k, l] = Σ_{i,j} ω[i, j] e^{2πi (k (i−p)/H + l (j−p)/W)},

  one ``C_in × C_out`` complex product per frequency. Only the ``H·(W//2+1)`` frequencies of the
  real FFT are formed, and of those only the independent ones (columns ``l = 0`` and ``l = W/2`` are
  Hermitian in ``k``). Each complex product is one real GEMM on split real/imaginary parts,

      [x̂_r; x̂_i] = [[ẑ_r, −ẑ_i], [ẑ_i, ẑ_r]] · [ω̂_r; ω̂_i]      ((2N × 2C_in)·(2C_in × C_out)),

  and ``ω̂`` is built tile by tile (a block of frequencies × a block of output channels, by
  :func:`_fourier_weight`, sized by :func:`_tiles`) right before its GEMM, so that it stays in cache
  and memory does not grow with ``F·C_in·C_out``;
- ``winograd`` (K = 3 with H and W multiples of 4; K = 5 with H and W even): Winograd's minimal filtering
  F(4×4, 3×3) on the periodic map's 4×4 output tiles (Lavin & Gray 2016) — F(2×2, 5×5) on 2×2 tiles for K = 5,
  the same 6×6 transforms — from the Toom–Cook construction (:func:`toom_cook`)
  with points ``0, 1, −1, 1/2, −2, ∞`` (in float32, max error 3.5e-6 of max |x| at C = 256, against 1.1e-5
  with Lavin & Gray's ``0, ±1, ±2``; the most accurate of eight sets we measured):

      x[tile] = Aᵀ [ Σ_c (G ω_c Gᵀ) ⊙ (Bᵀ d_c B) ] A,    d_c the 6×6 periodic input patch of the tile,

  one GEMM ``(N·T × C_in)·(C_in × C_out)`` per point ``(ξ, ν)`` of the 6×6 grid, ``T = HW/m²`` tiles per
  input: for K = 3, 4 times fewer multiplications than the direct path, in GEMMs as tall as ``16·N`` rows,
  where the Fourier path's per-frequency GEMMs have ``2N`` rows and run at half BLAS's speed (K = 5: 0.36 times,
  ``64·N`` rows; F(4×4, 5×5) would need 8×8 transforms, 1.1e-5 float32 error at best).
"""
from __future__ import annotations

import threading
from fractions import Fraction

import numba
import numpy as np
import scipy.fft

NUMBA_OPTS = dict(cache=True)
METHODS = ("auto", "winograd", "fourier", "direct")
# Bytes of one tile of ω̂ (its frequencies × C_in × its output channels; see _tiles).
TILE_BYTES = 8 << 20
# Elements of ω per block of the ω̂ kernel (its scratch rows stay in L1/L2 across the tile's frequencies).
WEIGHT_BLOCK = 2048
# ``auto`` (see periodic_conv): the direct path below this many multiply-adds K²·N·H·W·C_in·C_out, and where
# the measured time ratio fourier / direct ≈ FOURIER_PER_INPUT / N + FOURIER_PER_TAP / K² is not below 1.
DIRECT_MAX_WORK = 1 << 27
FOURIER_PER_INPUT = 11.0
FOURIER_PER_TAP = 3.3
# Winograd F(m×m, r×r): output tile m, kernel r, interpolation points (and ∞); rows of a block of its GEMMs.
# K → output tile m of F(m×m, K×K); both have α = m + K − 1 = 6, the kernels' transform size.
WINOGRAD_TILES = {3: 4, 5: 2}
WINOGRAD_POINTS = (0, 1, -1, Fraction(1, 2), -2)
WINOGRAD_BLOCK_BYTES = 64 << 20
WINOGRAD_MIN_PIXELS = 1024
WINOGRAD_MIN_WIDTH = 40
WINOGRAD_VS_FOURIER = 0.5


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
    """``cos ψ``, ``sin ψ`` of shape ``(F, K²//2)`` for the taps ``t = iK + j < K²//2``:
    ``ψ = 2π (k (i−p)/H + l (j−p)/W)``."""
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


@numba.njit(**NUMBA_OPTS)
def _fourier_weight(w, cos, sin, out):
    """``out[f, 0] + i out[f, 1] = ω̂`` at the tile's frequencies, pairing each tap ``t`` with its mirror ``T−1−t``
    (the offsets negated):

        ω̂ = ω_center + Σ_{t < T/2} cos ψ_t (ω_t + ω_{T−1−t}) + i sin ψ_t (ω_t − ω_{T−1−t}).


    ``w`` is the tile of ω flattened to ``(T, C_in·C_tile)``, ``out`` is ``(F_tile, 2, C_in·C_tile)``. Serial on
    purpose: it alternates with multi-threaded GEMMs, and numba's OpenMP threads spinning after a parallel
    region slow the BLAS threads that follow (measured: 1.5× slower layers on 2 cores).
    """
    taps, size = w.shape
    half = taps // 2
    for b in range((size + WEIGHT_BLOCK - 1) // WEIGHT_BLOCK):
        lo = b * WEIGHT_BLOCK
        hi = min(size, lo + WEIGHT_BLOCK)
        s = np.empty((half, hi - lo), w.dtype)
        d = np.empty((half, hi - lo), w.dtype)
        for t in range(half):
            _pair(w[t, lo:hi], w[taps - 1 - t, lo:hi], s[t], d[t])
        for f in range(out.shape[0]):
            _combine(w[half, lo:hi], s, d, cos[f], sin[f], out[f, 0, lo:hi], out[f, 1, lo:hi])


def _tiles(n_freqs: int, n: int, cin: int, cout: int, itemsize: int) -> tuple[int, int]:
    """Frequencies ``f_b`` and output channels ``c_b`` of a tile of ω̂, ``f_b·2·C_in·c_b·itemsize ≤ TILE_BYTES``.

    Building the tiles reads ω once per block of frequencies (``36·C_in·C_out·F/f_b`` bytes for K = 3) and
    the GEMMs read the left-hand sides once per block of columns (``16·F·N·C_in·C_out/c_b``): their sum
    is least at ``f_b ≈ 1.5·sqrt(P/N)``, ``c_b = P/f_b``, with ``P = f_b·c_b`` the tile's budget.
    """
    budget = max(1, TILE_BYTES // (2 * cin * itemsize))
    fb = int(np.clip(round(1.5 * np.sqrt(budget / n)), 1, n_freqs))
    blocks = -(-cout // max(16, budget // fb))
    per_block = -(-cout // blocks)
    cb = cout if blocks == 1 else (per_block + 15) // 16 * 16  # equal blocks of a multiple of 16 channels
    return fb, cb


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
    fb, co = _tiles(len(freqs), n, cin, cout, dt.itemsize)
    tiles = -(-cout // co)
    # ω as (tile, T, C_in·C_tile), zero-padded to whole tiles
    taps = np.zeros((k * k, cin, tiles * co), dtype=dt)
    taps[..., :cout] = w.reshape(k * k, cin, cout)
    taps = np.ascontiguousarray(taps.reshape(k * k, cin, tiles, co).transpose(2, 0, 1, 3)).reshape(tiles, k * k, -1)
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


def toom_cook(m: int, r: int, points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Winograd F(m, r) matrices ``(Aᵀ, G, Bᵀ)`` by Toom–Cook at ``points`` (``m + r − 2`` distinct) and ∞, exact:

        y = Aᵀ [(G g) ⊙ (Bᵀ d)],    y_i = Σ_k d_{i+k} g_k  (i < m, k < r, d of length α = m + r − 1).

    Linear convolution ``s = g * h`` evaluates ``g`` and ``h`` at the points (``V_r``, ``V_m``: rows ``p^k``; ∞ takes
    the leading coefficient), multiplies, and interpolates, ``s = C [(V_r g) ⊙ (V_m h)]`` with ``C``'s columns the
    Lagrange basis of the points and ``M(x) = Π (x − p)`` for ∞. Correlation is its transpose: ``Aᵀ = V_mᵀ``,
    ``G = V_r``, ``Bᵀ = Cᵀ``; each Lagrange denominator is moved from ``Bᵀ`` to ``G``.
    """
    pts = [Fraction(p) for p in points]
    if len(pts) != m + r - 2 or len(set(pts)) != len(pts):
        raise ValueError(f"toom_cook: F({m}, {r}) needs {m + r - 2} distinct points, got {points}")

    def times(poly, root):  # poly · (x − root), coefficients in increasing degree
        return [-root * poly[0]] + [poly[i - 1] - root * poly[i] for i in range(1, len(poly))] + [poly[-1]]

    at = [[p ** i for p in pts] + [Fraction(i == m - 1)] for i in range(m)]
    g = [[p ** k for k in range(r)] for p in pts] + [[Fraction(k == r - 1) for k in range(r)]]
    bt = []
    for j, pj in enumerate(pts):
        poly, den = [Fraction(1)], Fraction(1)
        for pl in pts[:j] + pts[j + 1:]:
            poly, den = times(poly, pl), den * (pj - pl)
        bt.append(poly + [Fraction(0)])
        g[j] = [v / den for v in g[j]]
    monic = [Fraction(1)]
    for p in pts:
        monic = times(monic, p)
    bt.append(monic)
    return tuple(np.array(mat, dtype=np.float64) for mat in (at, g, bt))


@numba.njit(**NUMBA_OPTS)
def _chunk(k, chunks, size):
    """Bounds of the ``k``-th of ``chunks`` near-equal chunks of ``range(size)`` (one per thread: a kernel's
    ``chunks`` is ``numba.get_num_threads()``, passed in, as a call inside would keep numba from caching it)."""
    return k * size // chunks, (k + 1) * size // chunks


@numba.njit(**NUMBA_OPTS)
def _combine6(coef, rows, dst):
    """``dst = Σ_{s<6} coef[s] · rows[s]``, each element written once (α = 6: the second stage of the tile
    transforms; writing once, not accumulating, is what keeps them off memory's critical path)."""
    a0, a1, a2, a3, a4, a5 = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    t0, t1, t2, t3, t4, t5 = rows[0], rows[1], rows[2], rows[3], rows[4], rows[5]
    for e in range(dst.size):
        dst[e] = a0 * t0[e] + a1 * t1[e] + a2 * t2[e] + a3 * t3[e] + a4 * t4[e] + a5 * t5[e]


@numba.njit(**NUMBA_OPTS)
def _winograd_input_rows(z, bt, m, first, lo, hi, out):
    """:func:`_winograd_input` for the rows ``lo ≤ row < hi``; each output row is written once (:func:`_combine6`)."""
    _, h, wd, c = z.shape
    alpha = bt.shape[0]
    p = (alpha - m) // 2
    ta, tb = h // m, wd // m
    t = np.empty((alpha, alpha, c), out.dtype)  # t[ξ, s] = Σ_r Bᵀ[ξ, r] d[r, s]
    for row in range(lo, hi):
        n, ab = divmod(row, ta * tb)
        a, b = divmod(ab, tb)
        t[:] = 0
        for r in range(alpha):
            hh = (m * a - p + r) % h
            for s in range(alpha):
                src = z[first + n, hh, (m * b - p + s) % wd]
                for xi in range(alpha):
                    coef = bt[xi, r]
                    if coef != 0:
                        dst = t[xi, s]
                        for e in range(c):
                            dst[e] += coef * src[e]
        for xi in range(alpha):
            for nu in range(alpha):
                _combine6(bt[nu], t[xi], out[xi * alpha + nu, row])


@numba.njit(parallel=True, **NUMBA_OPTS)
def _winograd_input(z, bt, m, first, out, chunks):
    """``out[ξα+ν, (n−first)·T + a·(W/m) + b] = Σ_{r,s} Bᵀ[ξ,r] Bᵀ[ν,s] z[n, (ma − p + r) mod H, (mb − p + s) mod W]``
    for the inputs ``n = first, first + 1, …``, ``p = (α − m)/2``; ``out`` is ``(α², rows, C)``."""
    for k in numba.prange(chunks):
        lo, hi = _chunk(k, chunks, out.shape[1])
        _winograd_input_rows(z, bt, m, first, lo, hi, out)


@numba.njit(**NUMBA_OPTS)
def _winograd_weight_rows(w, g, lo, hi, out):
    """:func:`_winograd_weight` for the input channels ``lo ≤ c < hi`` (K = 3), one ``ξ`` at a time: only its ``α``
    output rows are written meanwhile, each once, as a 3-term sum (1.7× faster than writing all ``α²`` rows by
    accumulation; fresh output memory is the bottleneck)."""
    cout = w.shape[3]
    alpha = g.shape[0]
    t = np.empty((3, cout), out.dtype)  # t[j] = Σ_i G[ξ, i] ω[i, j, c]
    t0, t1, t2 = t[0], t[1], t[2]
    for xi in range(alpha):
        a0, a1, a2 = g[xi, 0], g[xi, 1], g[xi, 2]
        for c in range(lo, hi):
            for j in range(3):
                w0, w1, w2, dst = w[0, j, c], w[1, j, c], w[2, j, c], t[j]
                for e in range(cout):
                    dst[e] = a0 * w0[e] + a1 * w1[e] + a2 * w2[e]
            for nu in range(alpha):
                b0, b1, b2 = g[nu, 0], g[nu, 1], g[nu, 2]
                dst = out[xi * alpha + nu, c]
                for e in range(cout):
                    dst[e] = b0 * t0[e] + b1 * t1[e] + b2 * t2[e]


@numba.njit(parallel=True, **NUMBA_OPTS)
def _winograd_weight(w, g, out, chunks):
    """``out[ξα+ν, c] = Σ_{i,j} G[ξ,i] G[ν,j] ω[i, j, c]`` (rows of ``C_out``); ``out`` is ``(α², C_in, C_out)``."""
    for k in numba.prange(chunks):
        lo, hi = _chunk(k, chunks, w.shape[2])
        _winograd_weight_rows(w, g, lo, hi, out)


@numba.njit(**NUMBA_OPTS)
def _winograd_output_rows(prod, at, first, lo, hi, out):
    """:func:`_winograd_output` for the rows ``lo ≤ row < hi``; each output pixel is written once (:func:`_combine6`)."""
    _, h, wd, c = out.shape
    m, alpha = at.shape
    ta, tb = h // m, wd // m
    t = np.empty((m, alpha, c), out.dtype)  # t[i, ν] = Σ_ξ Aᵀ[i, ξ] prod[ξα+ν]
    for row in range(lo, hi):
        n, ab = divmod(row, ta * tb)
        a, b = divmod(ab, tb)
        t[:] = 0
        for xi in range(alpha):
            for nu in range(alpha):
                src = prod[xi * alpha + nu, row]
                for i in range(m):
                    coef = at[i, xi]
                    if coef != 0:
                        dst = t[i, nu]
                        for e in range(c):
                            dst[e] += coef * src[e]
        for i in range(m):
            for j in range(m):
                _combine6(at[j], t[i], out[first + n, m * a + i, m * b + j])


@numba.njit(parallel=True, **NUMBA_OPTS)
def _winograd_output(prod, at, first, out, chunks):
    """``out[n, ma + i, mb + j] = Σ_{ξ,ν} Aᵀ[i,ξ] Aᵀ[j,ν] prod[ξα+ν, (n−first)·T + a·(W/m) + b]``, ``prod`` ``(α², rows, C)``."""
    for k in numba.prange(chunks):
        lo, hi = _chunk(k, chunks, prod.shape[1])
        _winograd_output_rows(prod, at, first, lo, hi, out)


WINOGRAD = {k: toom_cook(m, k, WINOGRAD_POINTS) for k, m in WINOGRAD_TILES.items()}


_SCRATCH = threading.local()


def _scratch(name: str, size: int, dt: np.dtype) -> np.ndarray:
    """A flat work array of ``size`` elements, reused by the calling thread's later calls (content undefined).

    Fresh memory costs a page fault per page: for C = 1024, N = 16 the Winograd path's 226 MB of work arrays took
    ~35 ms of a 340 ms conv to map. The thread keeps the largest it has needed (:func:`release_scratch` frees them).
    """
    buf = getattr(_SCRATCH, name, None)
    if buf is None or buf.dtype != dt or buf.size < size:
        del buf
        _SCRATCH.__dict__.pop(name, None)  # free the old array before allocating the new one
        buf = np.empty(size, dt)
        setattr(_SCRATCH, name, buf)
    return buf[:size]


def release_scratch() -> None:
    """Free the calling thread's work arrays of the Winograd path."""
    _SCRATCH.__dict__.clear()


def winograd_applies(z_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> bool:
    """The Winograd path needs K = 3 (maps tiled by 4×4) or K = 5 (by 2×2)."""
    m = WINOGRAD_TILES.get(w_shape[0])
    return m is not None and z_shape[1] % m == 0 and z_shape[2] % m == 0


def periodic_conv_winograd(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Winograd path (module doc): per block of inputs, transform the tiles, one GEMM per point, transform back."""
    if not winograd_applies(z.shape, w.shape):
        raise ValueError("periodic_conv: the winograd path needs K = 3 and H, W multiples of 4, or K = 5 and H, W even; "
                         f"got K = {w.shape[0]} and a {z.shape[1]}×{z.shape[2]} map")
    n, h, wd, cin = z.shape
    cout = w.shape[3]
    dt = _work_dtype(z, w)
    z = np.ascontiguousarray(z, dtype=dt)
    k = w.shape[0]
    m = WINOGRAD_TILES[k]
    at, g, bt = (mat.astype(dt) for mat in WINOGRAD[k])
    points = g.shape[0] ** 2
    tiles = h * wd // m ** 2
    u = _scratch("u", points * cin * cout, dt).reshape(points, cin, cout)
    chunks = numba.get_num_threads()
    if k == 3:
        _winograd_weight(np.ascontiguousarray(w, dtype=dt), g, u, chunks)
    else:  # U = (G ⊗ G) ω as one GEMM (K = 5: the transform is a small share of the GEMMs' time)
        np.matmul(np.kron(g, g), w.reshape(k * k, cin * cout).astype(dt, copy=False), out=u.reshape(points, -1))
    block = int(np.clip(WINOGRAD_BLOCK_BYTES // (points * tiles * max(cin, cout) * dt.itemsize), 1, n))
    v_buf = _scratch("v", points * block * tiles * cin, dt)
    prod_buf = _scratch("prod", points * block * tiles * cout, dt)
    out = np.empty((n, h, wd, cout), dt)
    for first in range(0, n, block):
        rows = min(block, n - first) * tiles
        v = v_buf[:points * rows * cin].reshape(points, rows, cin)  # contiguous, for BLAS
        prod = prod_buf[:points * rows * cout].reshape(points, rows, cout)
        _winograd_input(z, bt, m, first, v, chunks)
        np.matmul(v, u, out=prod)
        _winograd_output(prod, at, first, out, chunks)
    return out


def auto_method(z_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> str:
    """The path ``periodic_conv(z, w, "auto")`` takes: the one expected to be fastest.

    - ``"direct"`` for small layers (``K²·N·H·W·C_in·C_out < 2²⁷``: FFTs, transforms and per-call overheads dominate);
    - ``"winograd"`` where it applies (K = 3 on maps tiled by 4×4, K = 5 by 2×2) with at least
      ``WINOGRAD_MIN_PIXELS = 1024`` output pixels ``N·H·W`` (transforming ω into its 36 points must be amortized)
      and channels wide enough, ``C_in·C_out/(C_in + C_out) ≥ WINOGRAD_MIN_WIDTH = 40`` (the tile transforms cost
      ``∝ C_in + C_out`` per pixel, the GEMMs they save ``∝ C_in·C_out``): about 2× faster than the direct path
      from C = 128, N·H·W = 4096 with K = 3. With K = 5 only where the Fourier path is not expected below half the
      direct time (``11/N + 3.3/K² ≥ WINOGRAD_VS_FOURIER = 0.5``, i.e. N ≤ 29): F(2×2, 5×5) saves less (0.36 of the
      direct multiplications) and wins at small N, where building ω̂ dominates the Fourier path (N = 16, C = 1024:
      1.1 s against 1.2 s with one thread, 0.6 s against 1.4 s with two), not at N = 32 with one thread (0.53 s
      against 0.41 s);
    - otherwise ``"fourier"`` where its time relative to the direct path, about ``11/N + 3.3/K²``, is below 1:
      building ω̂ (independent of N) takes as long as the direct path on about 11 inputs, and the Fourier GEMMs
      do ``4·F ≈ 2·H·W`` real products per entry of ω against the direct path's ``K²·H·W``, at a lower rate
      (N-row GEMMs); ``"direct"`` else (K = 1, few inputs).

    Constants measured on the 2-core development machine with one thread (as in the Monte Carlo workers),
    float32, maps 8×8 to 32×32, C = 8…1024, N = 1…128 (``benchmarks/bench_layer.py`` for the layer figures).
    """
    n, h, wd, _ = z_shape
    k, _, cin, cout = w_shape
    if k * k * n * h * wd * cin * cout < DIRECT_MAX_WORK:
        return "direct"
    fourier_vs_direct = FOURIER_PER_INPUT / n + FOURIER_PER_TAP / (k * k)
    if (winograd_applies(z_shape, w_shape) and n * h * wd >= WINOGRAD_MIN_PIXELS
            and cin * cout >= WINOGRAD_MIN_WIDTH * (cin + cout) and (k == 3 or fourier_vs_direct >= WINOGRAD_VS_FOURIER)):
        return "winograd"
    return "fourier" if fourier_vs_direct < 1 else "direct"


def periodic_conv(z: np.ndarray, w: np.ndarray, method: str = "auto") -> np.ndarray:
    """Periodic convolution (module doc); output dtype is the common float dtype of ``z`` and ``w``.

    ``method``: ``"winograd"`` (K = 3 with H and W multiples of 4, or K = 5 with H and W even), ``"fourier"``,
    ``"direct"``, or ``"auto"`` (:func:`auto_method`).
    """
    if method not in METHODS:
        raise ValueError(f"periodic_conv: method must be one of {METHODS}, got {method!r}")
    z = np.asarray(z)
    w = np.asarray(w)
    _check(z, w)
    if method == "auto":
        method = auto_method(z.shape, w.shape)
    paths = {"direct": periodic_conv_direct, "fourier": periodic_conv_fourier, "winograd": periodic_conv_winograd}
    return paths[method](z, w)


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
