"""Periodic convolution: every path against the slow reference and against PyTorch's circular conv2d, on
non-square maps, K = 1, 3, 5, float32 and float64; the Fourier path's pieces (ω̂ kernel, Hermitian
frequency set, tiling) and the Winograd path's (Toom–Cook matrices, transforms, input blocks) against direct
computations; bad input raises ValueError."""
from fractions import Fraction

import numpy as np
import pytest
import torch

from randnet import conv, periodic_conv, reference_periodic_conv
from tests.helpers import assert_close

METHODS = ("fourier", "direct", "auto", "winograd")
# (N, H, W, C_in, C_out, K): non-square and odd/even maps, kernels wider than the map, several tiles of C_out
SHAPES = [(2, 6, 5, 3, 4, 3), (3, 4, 7, 5, 2, 5), (1, 8, 8, 4, 6, 1), (2, 3, 2, 2, 3, 5), (2, 5, 6, 6, 130, 3),
          (1, 1, 4, 3, 2, 3)]
# shapes the Winograd path takes (K = 3, H and W multiples of 4; K = 5, H and W even): one tile whose 6×6 patch
# wraps past the map, non-square, many tiles, wide C_out
WINOGRAD_SHAPES = [(1, 4, 4, 3, 2, 3), (2, 8, 12, 5, 7, 3), (3, 12, 4, 2, 3, 3), (1, 8, 8, 6, 130, 3),
                   (2, 6, 4, 3, 4, 5), (1, 2, 2, 2, 3, 5)]
# relative accuracy, max |error| / max |reference|, that each dtype must reach
REL = {np.float32: 1e-5, np.float64: 1e-12}


def _case(shape, dtype, seed=0):
    n, h, w, cin, cout, k = shape
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, h, w, cin)) + 0.5).astype(dtype)
    wt = (rng.standard_normal((k, k, cin, cout)) / np.sqrt(k * k * cin)).astype(dtype)
    return z, wt


def _assert_rel(actual, expected, rel, msg=""):
    assert_close(actual, expected, rtol=0, atol=rel * float(np.max(np.abs(expected))), msg=msg)


def _torch_circular_conv(z, w):
    """PyTorch: circular padding K//2, then conv2d (a cross-correlation), in float64, channels-last in and out."""
    zt = torch.from_numpy(np.asarray(z, np.float64).transpose(0, 3, 1, 2).copy())
    wt = torch.from_numpy(np.asarray(w, np.float64).transpose(3, 2, 0, 1).copy())  # (C_out, C_in, K, K)
    p = w.shape[0] // 2
    padded = torch.nn.functional.pad(zt, (p, p, p, p), mode="circular") if p else zt
    return torch.nn.functional.conv2d(padded, wt).numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("method,shape", [(m, s) for m in METHODS if m != "winograd" for s in SHAPES]
                         + [("winograd", s) for s in WINOGRAD_SHAPES] + [("auto", (2, 8, 8, 96, 96, 3))], ids=str)
def test_paths_match_reference_and_torch(method, shape, dtype):
    z, w = _case(shape, dtype)
    x = periodic_conv(z, w, method=method)
    assert x.dtype == dtype and x.shape == shape[:3] + (shape[4],)
    ref = reference_periodic_conv(z, w)
    _assert_rel(x, ref, REL[dtype], msg="vs reference")
    _assert_rel(x, _torch_circular_conv(z, w), REL[dtype], msg="vs torch")


def test_reference_matches_torch_nn_conv2d_module():
    """The reference itself against torch.nn.Conv2d(padding_mode='circular') on the module's own weights."""
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2, 7, 5, 3))
    module = torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular", bias=False).double()
    w = module.weight.detach().numpy().transpose(2, 3, 1, 0)
    with torch.no_grad():
        expected = module(torch.from_numpy(z.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    _assert_rel(reference_periodic_conv(z, w), expected, 1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_fourier_tiling_does_not_change_the_result(monkeypatch, dtype):
    """One frequency per tile and 4-channel column tiles (C_out = 10: the last tile zero-padded) give the same x."""
    z, w = _case((2, 6, 5, 3, 10, 3), dtype, seed=2)
    whole = conv.periodic_conv_fourier(z, w)
    monkeypatch.setattr(conv, "_tiles", lambda n_freqs, n, cin, cout, itemsize: (1, 4))
    tiled = conv.periodic_conv_fourier(z, w)
    _assert_rel(tiled, whole, 4 * np.finfo(dtype).eps)
    _assert_rel(tiled, reference_periodic_conv(z, w), REL[dtype])


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_fourier_weight_kernel_matches_explicit_dft(k):
    """_fourier_weight against ω̂[f] = Σ_{i,j} ω[i, j] e^{iψ}, ψ = 2π (k_f (i−p)/H + l_f (j−p)/W), all taps explicit."""
    h, wd, cin, cout = 6, 7, 3, 5
    w = np.random.default_rng(k).standard_normal((k, k, cin, cout))
    freqs = conv.independent_frequencies(h, wd)
    cos, sin = conv._phase_tables(h, wd, k, freqs, np.float64)
    out = np.empty((len(freqs), 2, cin * cout))
    conv._fourier_weight(w.reshape(k * k, cin * cout), cos, sin, out)
    fk, fl = np.divmod(freqs, wd // 2 + 1)
    off = np.arange(k) - k // 2
    psi = 2 * np.pi * (fk[:, None, None] * off[None, :, None] / h + fl[:, None, None] * off[None, None, :] / wd)
    expected = np.einsum("fij,ijco->fco", np.exp(1j * psi), w).reshape(len(freqs), -1)
    assert_close(out[:, 0], expected.real, rtol=0, atol=1e-13)
    assert_close(out[:, 1], expected.imag, rtol=0, atol=1e-13)


@pytest.mark.parametrize("h,wd", [(4, 6), (5, 7), (6, 1), (1, 2), (3, 4)])
def test_independent_frequencies_and_their_conjugates_rebuild_rfft2(h, wd):
    """The kept frequencies plus x̂[H−k, l] = conj(x̂[k, l]) in the Hermitian columns give rfft2 of a real map."""
    wh = wd // 2 + 1
    keep = conv.independent_frequencies(h, wd)
    assert len(np.unique(keep)) == len(keep)
    x = np.random.default_rng(0).standard_normal((h, wd))
    full = np.fft.rfft2(x).ravel()
    rebuilt = np.full(h * wh, np.nan, dtype=complex)
    rebuilt[keep] = full[keep]
    rebuilt = rebuilt.reshape(h, wh)
    ks = np.arange(h // 2 + 1, h)
    for col in ({0, wd // 2} if wd % 2 == 0 else {0}):
        rebuilt[ks, col] = np.conj(rebuilt[h - ks, col])
    assert not np.any(np.isnan(rebuilt))
    assert_close(rebuilt.real, full.reshape(h, wh).real, atol=1e-14)
    assert_close(rebuilt.imag, full.reshape(h, wh).imag, atol=1e-14)
    fk, fl = np.divmod(keep, wh)
    self_conjugate = np.sum(((fl == 0) | ((wd % 2 == 0) & (fl == wd // 2))) & (fk == (h - fk) % h))
    assert 2 * len(keep) - self_conjugate == h * wd  # exactly the real degrees of freedom: none missing, none twice


def test_dtype_follows_the_inputs():
    z, w = _case((1, 4, 4, 2, 3, 3), np.float32)
    for method in ("fourier", "direct", "winograd"):
        assert periodic_conv(z, w, method).dtype == np.float32
        assert periodic_conv(z, w.astype(np.float64), method).dtype == np.float64
        assert periodic_conv(z.astype(np.int64), w.astype(np.int64), method).dtype == np.float64


@pytest.mark.parametrize("n,k,side,cin,cout,expected", [
    (2, 3, 4, 4, 4, "direct"),          # tiny layer
    (32, 1, 16, 64, 64, "direct"),      # K = 1: one GEMM
    (32, 3, 16, 64, 64, "fourier"),     # 9·32·256·64·64 ≥ DIRECT_MAX_WORK, 64·64 < 40·128, and 11/32 + 3.3/9 < 1
    (32, 3, 16, 96, 96, "winograd"),    # 96·96 ≥ 40·192
    (32, 3, 16, 64, 256, "winograd"),   # 64·256 ≥ 40·320
    (16, 3, 16, 256, 256, "winograd"),  # N·H·W = 4096
    (16, 3, 18, 256, 256, "direct"),    # 18×18 is not tiled by 4×4, and building ω̂ costs more than it saves
    (2, 3, 16, 512, 512, "direct"),     # N·H·W = 512 < 1024: ω's transform is not amortized
    (32, 5, 16, 256, 256, "fourier"),   # K = 5: 11/32 + 3.3/25 < 0.5, Fourier beats F(2×2, 5×5)
    (16, 5, 16, 256, 256, "winograd"),  # ... not at N = 16
    (16, 5, 15, 256, 256, "fourier"),   # odd map: no 2×2 tiles; 25 taps amortize ω̂
    (16, 7, 16, 256, 256, "fourier"),   # no Winograd path for K = 7
])
def test_auto_rule(monkeypatch, n, k, side, cin, cout, expected):
    calls = []
    for path in ("fourier", "direct", "winograd"):
        monkeypatch.setattr(conv, f"periodic_conv_{path}", lambda z, w, path=path: calls.append(path))
    z = np.broadcast_to(np.float32(0), (n, side, side, cin))
    conv.periodic_conv(z, np.zeros((k, k, cin, cout), np.float32))
    assert calls == [expected]


def _correlate(d, g):
    """y_i = Σ_k d_{i+k} g_k, the 1-D minimal-filtering target, exactly (object arrays of Fractions work too)."""
    m = len(d) - len(g) + 1
    return np.array([sum(d[i + k] * g[k] for k in range(len(g))) for i in range(m)])


@pytest.mark.parametrize("m,r,points", [(4, 3, conv.WINOGRAD_POINTS), (2, 3, (0, 1, -1)), (4, 3, (0, 1, -1, 2, -2)),
                                        (2, 5, (0, 1, -1, 2, Fraction(-1, 2))), (3, 1, (0, 1))])
def test_toom_cook_is_minimal_filtering(m, r, points):
    """Aᵀ[(G g) ⊙ (Bᵀ d)] = correlation of d with g for random d, g (float64, to round-off), with α = m + r − 1
    products; and with Fractions, exactly on an integer case."""
    at, g_mat, bt = conv.toom_cook(m, r, points)
    alpha = m + r - 1
    assert at.shape == (m, alpha) and g_mat.shape == (alpha, r) and bt.shape == (alpha, alpha)
    rng = np.random.default_rng(m * 10 + r)
    for _ in range(5):
        d, g = rng.standard_normal(alpha), rng.standard_normal(r)
        assert_close(at @ ((g_mat @ g) * (bt @ d)), _correlate(d, g), rtol=0, atol=1e-13)
    d, g = rng.integers(-5, 6, alpha), rng.integers(-5, 6, r)
    at_f, g_f, bt_f = (np.array([[Fraction(float(v)).limit_denominator(1 << 20) for v in row] for row in mat],
                                dtype=object) for mat in (at, g_mat, bt))
    exact = at_f.dot(g_f.dot(g.astype(object)) * bt_f.dot(d.astype(object)))
    assert list(exact) == list(_correlate(list(d), list(g)))


@pytest.mark.parametrize("points", [(0, 1, -1), (0, 1, 1, 2, 3), (0, 1, -1, 2)])
def test_toom_cook_rejects_wrong_or_repeated_points(points):
    with pytest.raises(ValueError, match="distinct points"):
        conv.toom_cook(4, 3, points)


def test_winograd_points_are_more_accurate_than_lavin_gray_in_float32():
    """The chosen points 0, 1, −1, 1/2, −2 against Lavin & Gray's 0, ±1, ±2: smaller float32 error (seeded case)."""
    z, w = _case((4, 16, 16, 128, 128, 3), np.float32, seed=3)
    z = np.maximum(z, 0)  # post-ReLU inputs, as in the nets
    ref = reference_periodic_conv(z, w)
    errors = {}
    for name, points in (("ours", conv.WINOGRAD_POINTS), ("lavin", (0, 1, -1, 2, -2))):
        matrices = conv.toom_cook(4, 3, points)
        with pytest.MonkeyPatch.context() as mp:
            mp.setitem(conv.WINOGRAD, 3, matrices)
            errors[name] = float(np.max(np.abs(conv.periodic_conv_winograd(z, w) - ref)) / np.max(np.abs(ref)))
    assert errors["ours"] < 0.6 * errors["lavin"], errors
    assert errors["ours"] < 1e-5


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_winograd_input_blocks_do_not_change_the_result(monkeypatch, dtype):
    """Blocks of one input each (the last block's buffers reused, shorter) give the same x as one block."""
    z, w = _case((3, 8, 4, 3, 5, 3), dtype, seed=4)
    whole = conv.periodic_conv_winograd(z, w)
    monkeypatch.setattr(conv, "WINOGRAD_BLOCK_BYTES", 1)
    _assert_rel(conv.periodic_conv_winograd(z, w), whole, 0)


def test_winograd_weight_transform_matches_einsum():
    """_winograd_weight: U[ξα+ν, c, o] = Σ_{i,j} G[ξ,i] G[ν,j] ω[i, j, c, o]."""
    at, g, bt = conv.WINOGRAD[3]
    w = np.random.default_rng(5).standard_normal((3, 3, 4, 7))
    out = np.empty((36, 4, 7))
    conv._winograd_weight(w, g, out, 2)
    assert_close(out, np.einsum("xi,yj,ijco->xyco", g, g, w).reshape(36, 4, 7), rtol=0, atol=1e-14)


@pytest.mark.parametrize("z_shape,w_shape", [((2, 6, 8, 3), (3, 3, 3, 4)), ((2, 8, 6, 3), (3, 3, 3, 4)),
                                             ((2, 8, 7, 3), (5, 5, 3, 4)), ((2, 8, 8, 3), (1, 1, 3, 4)),
                                             ((2, 8, 8, 3), (7, 7, 3, 4))])
def test_winograd_rejects_what_it_cannot_tile(z_shape, w_shape):
    with pytest.raises(ValueError, match="winograd path needs K = 3 and H, W multiples of 4, or K = 5 and H, W even"):
        periodic_conv(np.zeros(z_shape), np.zeros(w_shape), method="winograd")


@pytest.mark.parametrize("z_shape,w_shape,match", [
    ((2, 4, 4, 3), (2, 2, 3, 4), "odd"),
    ((2, 4, 4, 3), (3, 3, 5, 4), "C_in"),
    ((4, 4, 3), (3, 3, 3, 4), "z must be"),
    ((1, 2, 4, 4, 3), (3, 3, 3, 4), "z must be"),
    ((2, 4, 4, 3), (3, 3, 3), "w must be"),
    ((2, 4, 4, 3), (3, 1, 3, 4), "w must be"),
])
@pytest.mark.parametrize("method", METHODS)
def test_bad_input_raises(z_shape, w_shape, match, method):
    with pytest.raises(ValueError, match=match):
        periodic_conv(np.zeros(z_shape), np.zeros(w_shape), method=method)


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="method"):
        periodic_conv(np.zeros((1, 3, 3, 1)), np.zeros((3, 3, 1, 1)), method="fft")


def test_winograd_work_arrays_are_reused_grown_and_released():
    """Later calls reuse the thread's work arrays (smaller ones as views), a larger or other-dtype call replaces
    them, and every result still matches the reference; release_scratch frees them."""
    conv.release_scratch()
    cases = [((2, 8, 8, 4, 5, 3), np.float32), ((1, 4, 8, 3, 2, 3), np.float32), ((2, 8, 8, 6, 7, 3), np.float64)]
    buffers = []
    for shape, dtype in cases:
        z, w = _case(shape, dtype, seed=6)
        _assert_rel(conv.periodic_conv_winograd(z, w), reference_periodic_conv(z, w), REL[dtype])
        buffers.append(conv._SCRATCH.u)
    assert buffers[1] is buffers[0]  # reused
    assert buffers[2] is not buffers[0] and buffers[2].dtype == np.float64
    conv.release_scratch()
    assert not vars(conv._SCRATCH)
