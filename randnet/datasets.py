"""Datasets ``D``: ``N`` images ``(H, W, C⁰)`` as one ``(N, H, W, C⁰)`` array (SPEC §6).

Built in, seeded, no download:

- ``gaussian``: uncentered, ``x = o_c + τ ξ_{x,c} + κ_x ε``, offsets ``o_c ~ U(0.5, 1.5)``, per-input
  channel shifts ``ξ ~ N(0, 1)`` (τ = 0.5), contrasts ``κ_x ~ U(0.5, 1.5)`` and white noise ``ε ~ N(0, 1)``;
- ``centered``: the same with each channel's dataset mean removed (``μ_c(x) = 0``);
- ``grf``: smooth periodic Gaussian random fields (Gaussian spectrum, correlation length 2 px) with
  the offsets, shifts and contrasts of ``gaussian``;
- ``shared_stats``: every input has the same instance mean ``o_c`` and std ``s_c`` in each channel
  (no inter-instance variability: the negative control of P5).

Any ``(N, H, W, C)`` float array in a ``.npy`` / ``.npz`` file can be used instead (:func:`load_array`).
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from .checks import check_int

BUILTIN = ("gaussian", "centered", "grf", "shared_stats")
SHIFT_SCALE = 0.5
CORRELATION_LENGTH = 2.0


def _offsets(rng, n, c):
    offsets = rng.uniform(0.5, 1.5, c)
    shifts = SHIFT_SCALE * rng.standard_normal((n, 1, 1, c))
    contrast = rng.uniform(0.5, 1.5, (n, 1, 1, 1))
    return offsets, shifts, contrast


def _smooth_field(rng, n, h, w, c):
    """Periodic Gaussian random field with unit variance and a Gaussian power spectrum."""
    noise = rng.standard_normal((n, h, w, c))
    fh = np.fft.fftfreq(h)[:, None]
    fw = np.fft.fftfreq(w)[None, :]
    spectrum = np.exp(-2 * (np.pi * CORRELATION_LENGTH) ** 2 * (fh ** 2 + fw ** 2))
    field = np.fft.ifft2(np.fft.fft2(noise, axes=(1, 2)) * spectrum[None, :, :, None], axes=(1, 2)).real
    return field / field.std(axis=(1, 2), keepdims=True)


def make_dataset(name: str, n: int, h: int, w: int, c: int, rng: np.random.Generator) -> np.ndarray:
    """One draw of a built-in dataset, float64, shape ``(n, h, w, c)``."""
    if name not in BUILTIN:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(BUILTIN)} or give a .npy/.npz file")
    for label, v in (("N", n), ("H", h), ("W", w), ("C", c)):
        check_int(f"dataset {label}", v)
    if name in ("grf", "shared_stats") and h * w < 2:
        raise ValueError(f"dataset {name!r} standardizes each image over (h, w): it needs H·W >= 2, got {h}x{w}")
    if name == "shared_stats":
        e = rng.standard_normal((n, h, w, c))
        e = (e - e.mean(axis=(1, 2), keepdims=True)) / e.std(axis=(1, 2), keepdims=True)
        return rng.uniform(0.5, 1.5, c) + rng.uniform(0.5, 1.5, c) * e
    offsets, shifts, contrast = _offsets(rng, n, c)
    noise = _smooth_field(rng, n, h, w, c) if name == "grf" else rng.standard_normal((n, h, w, c))
    x = offsets + shifts + contrast * noise
    if name == "centered":
        x = x - x.mean(axis=(0, 1, 2))
    return x


def validate_array(x: np.ndarray, source: str = "array") -> np.ndarray:
    """Check that ``x`` is a finite real ``(N, H, W, C)`` array; return it as float64.

    An input that is identically zero is allowed here (it breaks Definition 1 (i), which the checks
    report: :func:`randnet.net.data_assumption`).
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
        raise ValueError(f"{source}: expected a numeric array, got {getattr(x, 'dtype', type(x))}")
    if x.ndim != 4:
        raise ValueError(f"{source}: expected shape (N, H, W, C), got {x.shape}")
    if min(x.shape) < 1:
        raise ValueError(f"{source}: empty dimension in shape {x.shape}")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{source}: contains NaN or infinite values")
    return x


def _npz_key(path: str, keys: list[str], key: str | None) -> str:
    """The array of an ``.npz`` file to use: ``key``, or its only array; a clear error otherwise."""
    if key is None:
        if len(keys) != 1:
            raise ValueError(f"{path}: it holds arrays {keys}; name one with key=")
        return keys[0]
    if key not in keys:
        raise ValueError(f"{path}: no array {key!r}; it holds {keys}")
    return key


def file_shape(path: str, key: str | None = None) -> tuple[int, int, int, int]:
    """``(N, H, W, C)`` of the array in a ``.npy`` / ``.npz`` file, read from its header (the data stay on disk);
    the errors of :func:`load_array` for a missing file, a missing key, an object array or a wrong shape."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                keys = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
                with z.open(_npz_key(path, keys, key) + ".npy") as f:
                    shape, dtype = _header(f)
        else:
            with open(path, "rb") as f:
                shape, dtype = _header(f)
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a plain numeric .npy/.npz file ({e})") from None
    if dtype.kind not in "fiu":
        raise ValueError(f"{path}: expected a numeric array, got {dtype}")
    if len(shape) != 4:
        raise ValueError(f"{path}: expected shape (N, H, W, C), got {shape}")
    if min(shape) < 1:
        raise ValueError(f"{path}: empty dimension in shape {shape}")
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


def _header(f) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read(f)
    except ValueError as e:
        raise OSError(str(e)) from None
    return shape, dtype


def check_scale(x: np.ndarray, dtype, source: str = "the data") -> None:
    """Refuse data whose scale the forward pass in ``dtype`` cannot carry: a largest ``|x|`` above ``sqrt(max)`` of
    the dtype (the conv's sums and the statistics' squares overflow) or, for data not identically zero, below
    ``sqrt(tiny)`` (the squares underflow, and a normalization's denominator becomes zero)."""
    info = np.finfo(np.dtype(dtype))
    top = float(np.max(np.abs(x))) if x.size else 0.0
    high, low = float(np.sqrt(info.max)), float(np.sqrt(info.tiny))
    if top > high:
        raise ValueError(f"{source}: values up to |x| = {top:.3g} are too large for the {np.dtype(dtype)} forward pass "
                         f"(at most sqrt({float(info.max):.3g}) = {high:.3g}): rescale the data"
                         + (" or use --dtype float64" if np.dtype(dtype) == np.float32 else ""))
    if 0 < top < low:
        raise ValueError(f"{source}: values of at most |x| = {top:.3g} are too small for the {np.dtype(dtype)} forward "
                         f"pass (at least sqrt({float(info.tiny):.3g}) = {low:.3g}: their squares underflow and the "
                         "normalization's denominator is zero): rescale the data")


def load_array(path: str, key: str | None = None) -> np.ndarray:
    """Load an ``(N, H, W, C)`` float array from ``.npy`` or ``.npz`` (``allow_pickle=False``)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    refused = (ValueError, OSError, EOFError, zipfile.BadZipFile)
    why = "not a plain numeric .npy/.npz file (object arrays are refused)"
    try:
        obj = np.load(path, allow_pickle=False)
    except refused as e:
        raise ValueError(f"{path}: {why} ({e})") from None
    if isinstance(obj, np.lib.npyio.NpzFile):
        with obj:
            name = _npz_key(path, list(obj.keys()), key)
            try:
                obj = obj[name]
            except refused as e:
                raise ValueError(f"{path}: {why} ({e})") from None
    return validate_array(obj, path)
