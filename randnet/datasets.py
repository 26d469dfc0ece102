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


def load_array(path: str, key: str | None = None) -> np.ndarray:
    """Load an ``(N, H, W, C)`` float array from ``.npy`` or ``.npz`` (``allow_pickle=False``)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    try:
        obj = np.load(path, allow_pickle=False)
        if isinstance(obj, np.lib.npyio.NpzFile):
            with obj:
                keys = list(obj.keys())
                if key is None:
                    if len(keys) != 1:
                        raise KeyError(f"it holds arrays {keys}; name one with key=")
                    key = keys[0]
                if key not in keys:
                    raise KeyError(f"no array {key!r}; it holds {keys}")
                obj = obj[key]
    except KeyError as e:
        raise ValueError(f"{path}: {e.args[0]}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a plain numeric .npy/.npz file (object arrays are refused) ({e})") from None
    return validate_array(obj, path)
