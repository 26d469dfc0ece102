"""Normalization step (SPEC §2, Eq. 3): ``y = (x − μ(x)) / sqrt(Var(x) + ε)``.

What ``μ, Var`` are conditioned on, for ``x`` of shape ``(N, H, W, C)``:

- ``bn``: per channel over ``(x, h, w)`` — the whole dataset (``batch_size`` for mini-batches);
- ``ln``: per input over ``(h, w, c)``;
- ``in``: per input and channel over ``(h, w)``;
- ``gn``: per input and group over ``(h, w, c ∈ group)``, ``G`` groups of ``C/G`` contiguous channels;
- ``none``: identity.

Statistics are population statistics accumulated in float64; the output keeps ``x``'s dtype.
A user adds a normalization with :func:`register_normalization`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .checks import check_int, check_number, is_int
from .roundoff import DENOMINATOR_FLOOR

NormFn = Callable[..., np.ndarray]


def _standardize(x: np.ndarray, axes: tuple[int, ...], eps: float, what: str = "normalization") -> np.ndarray:
    """(x − mean) / sqrt(var + ε) over ``axes``, two-pass in float64.

    A slice whose denominator is zero, or below the float64 round-off of its mean (a constant slice
    whose variance is only summation error), raises ZeroDivisionError rather than returning noise.
    """
    mean = x.mean(axis=axes, dtype=np.float64, keepdims=True)
    centered = x - mean
    var = np.mean(np.square(centered), axis=axes, keepdims=True)
    denom = np.sqrt(var + eps)
    if np.any(denom <= DENOMINATOR_FLOOR * np.abs(mean)):  # also catches denom == 0
        raise ZeroDivisionError(f"{what} denominator is zero or at round-off level (a constant slice with ε = 0)")
    return (centered / denom).astype(x.dtype, copy=False)


def _bn(x, groups=None, eps=0.0, batch_size=None):
    if batch_size is None or batch_size >= x.shape[0]:
        return _standardize(x, (0, 1, 2), eps)
    return np.concatenate([_standardize(x[i:i + batch_size], (0, 1, 2), eps)
                           for i in range(0, x.shape[0], batch_size)])


def _ln(x, groups=None, eps=0.0, batch_size=None):
    return _standardize(x, (1, 2, 3), eps)


def _in(x, groups=None, eps=0.0, batch_size=None):
    return _standardize(x, (1, 2), eps)


def _gn(x, groups=None, eps=0.0, batch_size=None):
    n, h, w, c = x.shape
    if not is_int(groups) or c % groups:
        raise ValueError(f"gn needs a number of groups dividing the width {c}, got {groups!r}")
    return _standardize(x.reshape(n, h, w, groups, c // groups), (1, 2, 4), eps).reshape(x.shape)


def _none(x, groups=None, eps=0.0, batch_size=None):
    return x


NORMALIZATIONS: dict[str, NormFn] = {"bn": _bn, "ln": _ln, "in": _in, "gn": _gn, "none": _none}
BATCH_FREE = ("ln", "in", "gn", "none")  # built-ins whose statistics never mix inputs


def register_normalization(name: str, fn: NormFn) -> None:
    """Add ``fn(x, groups=None, eps=0.0, batch_size=None) -> y`` (``x, y`` of shape (N,H,W,C))."""
    if not name.isidentifier() or name in ("ws", "pn"):
        raise ValueError(f"invalid normalization name {name!r}")
    NORMALIZATIONS[name] = fn


def normalize(x: np.ndarray, kind: str, groups: int | None = None, eps: float = 0.0,
              batch_size: int | None = None) -> np.ndarray:
    """Normalize ``x`` of shape ``(N, H, W, C)`` with the statistics of ``kind`` (see module doc).

    The output keeps a float ``x``'s dtype (integer input gives float64). ``batch_size``: ``bn`` over
    consecutive mini-batches of that many inputs (the last may be smaller).
    """
    if kind not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {kind!r}; choose one of {', '.join(NORMALIZATIONS)}")
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"normalize expects (N, H, W, C), got shape {x.shape}")
    if x.dtype.kind in "iub":
        x = x.astype(np.float64)
    elif x.dtype.kind != "f":
        raise ValueError(f"normalize expects a real array, got dtype {x.dtype}")
    check_number("eps", eps)
    if batch_size is not None:
        check_int("batch_size", batch_size)
        if kind in BATCH_FREE:
            raise ValueError(f"batch_size applies to 'bn' only; {kind!r} uses no batch statistics")
    return NORMALIZATIONS[kind](x, groups=groups, eps=eps, batch_size=batch_size)


def weight_standardize(w: np.ndarray) -> np.ndarray:
    """Make each output filter ``w[..., o]`` zero-mean, unit-std over its ``K·K·C_in`` fan-in."""
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"weight_standardize expects (K, K, C_in, C_out), got shape {w.shape}")
    if w.dtype.kind != "f":
        w = w.astype(np.float64)
    return _standardize(w.reshape(-1, w.shape[-1]), (0,), 0.0, "weight standardization").reshape(w.shape)


def parse_norm(spec: str) -> tuple[str, bool, bool]:
    """``"ln+ws+pn"`` -> ``("ln", ws=True, pn=True)``. Modifiers: ``ws`` (weight standardization), ``pn`` (Proxy Norm)."""
    parts = [p.strip() for p in str(spec).lower().split("+") if p.strip()]
    if not parts:
        raise ValueError("empty normalization name")
    base, mods = parts[0], parts[1:]
    if base in ("ws", "pn"):
        mods, base = parts, "none"
    unknown = [m for m in mods if m not in ("ws", "pn")]
    if unknown or len(set(mods)) != len(mods):
        raise ValueError(f"cannot read normalization {spec!r}: after the base norm only '+ws' and '+pn' are allowed")
    if base not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {base!r} in {spec!r}; choose one of {', '.join(NORMALIZATIONS)}")
    return base, "ws" in mods, "pn" in mods
