"""Normalization step (SPEC §2, Eq. 3): ``y = (x − μ(x)) / sqrt(Var(x) + ε)``.

What ``μ, Var`` are conditioned on, for ``x`` of shape ``(N, H, W, C)``:

- ``bn``: per channel over ``(x, h, w)`` — the whole dataset (``batch_size`` for mini-batches);
- ``ln``: per input over ``(h, w, c)``;
- ``in``: per input and channel over ``(h, w)``;
- ``gn``: per input and group over ``(h, w, c ∈ group)``, ``G`` groups of ``C/G`` contiguous channels;
- ``none``: identity.

The normalizers of Rao & Sohl-Dickstein (SPEC-companions §7A.2, Table 1), with the batch axes
``𝔅 = (n, h, w)`` (one statistic per channel) and the layer axes ``𝔏 = (h, w, c)`` (one per input):

- ``bmlv``: ``(x − mean_𝔅 x) / sqrt(var_𝔏 x + ε)``; ``bmlv_c`` (reading A1-variant): ``var_𝔏(x − mean_𝔅 x)``;
- ``lmbv``: ``(x − mean_𝔏 x) / sqrt(var_𝔅 x + ε)``; ``lmbv_c``: ``var_𝔅(x − mean_𝔏 x)``;
- ``regnorm`` (reading A2-A, primary): ``x / sqrt(var_𝔏 x + ε)``, no mean subtraction (the regularizer of
  SPEC §4 RN replaces it); ``regnorm_ln`` (reading B): LN's forward;
- ``preln``: the layer op centres its *input* over the layer axes before the conv (:data:`CENTRES_INPUT`,
  applied by :func:`randnet.net.forward`); on the conv output alone it is what is left, the division by
  the layer std, ``x / sqrt(var_𝔏 x + ε)`` (the same map as ``regnorm``).

Statistics are population statistics accumulated in float64; the output keeps ``x``'s dtype.
``batch_size`` applies to the norms with batch statistics (:data:`BATCH_NORMS`): each consecutive
mini-batch is normalized on its own. A user adds a normalization with :func:`register_normalization`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .checks import check_int, check_number, is_int
from .roundoff import DENOMINATOR_FLOOR

NormFn = Callable[..., np.ndarray]


BATCH_AXES, LAYER_AXES = (0, 1, 2), (1, 2, 3)


def _moments(x: np.ndarray, axes: tuple[int, ...], eps: float, what: str = "normalization"
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, ``x − mean`` and ``sqrt(var + ε)`` over ``axes`` (keepdims), two-pass in float64.

    A slice whose denominator is zero, or below the float64 round-off of its mean (a constant slice
    whose variance is only summation error), raises ZeroDivisionError rather than returning noise.
    """
    mean = x.mean(axis=axes, dtype=np.float64, keepdims=True)
    centered = x - mean
    denom = np.sqrt(np.mean(np.square(centered), axis=axes, keepdims=True) + eps)
    if np.any(denom <= DENOMINATOR_FLOOR * np.abs(mean)):  # also catches denom == 0
        raise ZeroDivisionError(f"{what} denominator is zero or at round-off level (a constant slice with ε = 0)")
    return mean, centered, denom


def _standardize(x: np.ndarray, axes: tuple[int, ...], eps: float, what: str = "normalization") -> np.ndarray:
    """(x − mean) / sqrt(var + ε) over ``axes``, two-pass in float64 (:func:`_moments`)."""
    _, centered, denom = _moments(x, axes, eps, what)
    return (centered / denom).astype(x.dtype, copy=False)


def _minibatches(fn):
    """Apply ``fn(x, eps)`` to each consecutive mini-batch of ``batch_size`` inputs (all of ``x`` if None)."""
    def norm(x, groups=None, eps=0.0, batch_size=None):
        if batch_size is None or batch_size >= x.shape[0]:
            return fn(x, eps)
        return np.concatenate([fn(x[i:i + batch_size], eps) for i in range(0, x.shape[0], batch_size)])
    norm.__name__ = norm.__qualname__ = fn.__name__
    norm.__doc__ = fn.__doc__
    return norm


@_minibatches
def _bn(x, eps):
    return _standardize(x, BATCH_AXES, eps)


def _mixed(x, eps, mean_axes, var_axes, centred):
    """``(x − mean_{mean_axes} x) / sqrt(var_{var_axes}(v) + ε)`` with ``v = x − mean`` (``centred``) or ``v = x``."""
    mean = x.mean(axis=mean_axes, dtype=np.float64, keepdims=True)
    shifted = x - mean
    denom = _moments(shifted if centred else x, var_axes, eps)[2]
    return (shifted / denom).astype(x.dtype, copy=False)


def _mixed_norm(name: str, mean_axes: tuple[int, ...], var_axes: tuple[int, ...], centred: bool, doc: str) -> NormFn:
    """The registry function of one of the mixed norms (:func:`_mixed` over mini-batches)."""
    def fn(x, eps):
        return _mixed(x, eps, mean_axes, var_axes, centred)
    fn.__name__, fn.__doc__ = name, doc
    return _minibatches(fn)


_bmlv = _mixed_norm("_bmlv", BATCH_AXES, LAYER_AXES, False, "Batch mean, layer variance (A1 primary: the spread of x).")
_bmlv_c = _mixed_norm("_bmlv_c", BATCH_AXES, LAYER_AXES, True,
                      "Batch mean, layer variance of the centred x − mean_𝔅 x (A1 variant).")
_lmbv = _mixed_norm("_lmbv", LAYER_AXES, BATCH_AXES, False, "Layer mean, batch variance (A1 primary: the spread of x).")
_lmbv_c = _mixed_norm("_lmbv_c", LAYER_AXES, BATCH_AXES, True,
                      "Layer mean, batch variance of the centred x − mean_𝔏 x (A1 variant).")


def _layer_scale(x, groups=None, eps=0.0, batch_size=None):
    """``x / sqrt(var_𝔏 x + ε)``: RegNorm (reading A), and PreLN after its centred-input conv."""
    return (x / _moments(x, LAYER_AXES, eps)[2]).astype(x.dtype, copy=False)


def _ln(x, groups=None, eps=0.0, batch_size=None):
    return _standardize(x, LAYER_AXES, eps)


def _in(x, groups=None, eps=0.0, batch_size=None):
    return _standardize(x, (1, 2), eps)


def _gn(x, groups=None, eps=0.0, batch_size=None):
    n, h, w, c = x.shape
    if not is_int(groups) or c % groups:
        raise ValueError(f"gn needs a number of groups dividing the width {c}, got {groups!r}")
    return _standardize(x.reshape(n, h, w, groups, c // groups), (1, 2, 4), eps).reshape(x.shape)


def _none(x, groups=None, eps=0.0, batch_size=None):
    return x


NORMALIZATIONS: dict[str, NormFn] = {
    "bn": _bn, "ln": _ln, "in": _in, "gn": _gn, "none": _none,
    "bmlv": _bmlv, "bmlv_c": _bmlv_c, "lmbv": _lmbv, "lmbv_c": _lmbv_c,
    "preln": _layer_scale, "regnorm": _layer_scale, "regnorm_ln": _ln,
}
BATCH_NORMS = ("bn", "bmlv", "bmlv_c", "lmbv", "lmbv_c")  # built-ins with batch statistics (take batch_size)
BATCH_FREE = ("ln", "in", "gn", "none", "preln", "regnorm", "regnorm_ln")  # built-ins that never mix inputs
CENTRES_INPUT: set[str] = {"preln"}
"""Norms whose layer op centres its input ``z^{l−1}`` over the layer axes ``(h, w, c)`` per input before the
conv (PreLN: ``h = W ∗ (z − mean_𝔏 z)``); :func:`randnet.net.forward` reads this flag."""


def register_normalization(name: str, fn: NormFn, centres_input: bool = False) -> None:
    """Add ``fn(x, groups=None, eps=0.0, batch_size=None) -> y`` (``x, y`` of shape (N,H,W,C)); ``centres_input``:
    the layer op centres its input over ``(h, w, c)`` per input before the conv (as PreLN's)."""
    if not name.isidentifier() or name in ("ws", "pn"):
        raise ValueError(f"invalid normalization name {name!r}")
    NORMALIZATIONS[name] = fn
    (CENTRES_INPUT.add if centres_input else CENTRES_INPUT.discard)(name)


def centres_input(kind: str) -> bool:
    """Whether normalization ``kind``'s layer op centres its input before the conv (:data:`CENTRES_INPUT`)."""
    return kind in CENTRES_INPUT


def centre_input(z: np.ndarray) -> np.ndarray:
    """``z − mean_𝔏(z)`` per input over ``(h, w, c)`` (float64 mean; ``z``'s dtype kept): PreLN's input step."""
    return (z - z.mean(axis=LAYER_AXES, dtype=np.float64, keepdims=True)).astype(z.dtype, copy=False)


def normalize(x: np.ndarray, kind: str, groups: int | None = None, eps: float = 0.0,
              batch_size: int | None = None) -> np.ndarray:
    """Normalize ``x`` of shape ``(N, H, W, C)`` with the statistics of ``kind`` (see module doc).

    The output keeps a float ``x``'s dtype (integer input gives float64). ``batch_size``: ``bn`` over
    consecutive mini-batches of that many inputs (the last may be smaller); the other :data:`BATCH_NORMS` alike.
    ``preln`` here is only its step after the conv (division by the layer std); its input centring is part of
    the layer op (:func:`centre_input`, applied by :func:`randnet.net.forward`).
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
            raise ValueError(f"batch_size applies to the norms with batch statistics ({', '.join(BATCH_NORMS)}) "
                             f"only; {kind!r} uses no batch statistics")
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
