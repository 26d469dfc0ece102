"""Reusable hypothesis strategies for (N, H, W, C) activation tensors and the transforms a norm removes.

Arrays combine hypothesis-chosen structure (offsets, spikes, repeated values, zeros) with a seeded
Gaussian jitter of hypothesis-chosen size, so every normalization slice has a nonzero spread (with
probability one) while the structure stays adversarial. Tolerances of the properties scale with the
condition number of the data (:func:`condition`), never with a fixed magic number.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOAT64_EPS = np.finfo(np.float64).eps
NORM_KINDS = ("bn", "ln", "in", "gn")


@st.composite
def shapes(draw, max_n=4, max_side=5, max_c=6, min_side=1):
    """(N, H, W, C) with small sides; H·W ≥ 2 so that every instance slice can vary."""
    n = draw(st.integers(1, max_n))
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(max(min_side, 2 if h == 1 else 1), max_side))
    c = draw(st.integers(1, max_c))
    return n, h, w, c


@st.composite
def nhwc_arrays(draw, shape=None, magnitude=100.0):
    """A float64 (N, H, W, C) array: hypothesis elements in ±magnitude plus a seeded jitter of std in [0.01, 10]."""
    shape = draw(shapes()) if shape is None else shape
    structure = draw(hnp.arrays(np.float64, shape, elements=st.floats(-magnitude, magnitude, width=64)))
    jitter = draw(st.floats(0.01, 10.0))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return structure + jitter * np.random.default_rng(seed).standard_normal(shape)


@st.composite
def divisor(draw, c):
    """A number of groups G dividing C."""
    return draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))


@st.composite
def normalized_case(draw, kinds=NORM_KINDS):
    """(x, kind, groups) with groups dividing C for gn (None otherwise)."""
    x = draw(nhwc_arrays())
    kind = draw(st.sampled_from(kinds))
    groups = draw(divisor(x.shape[-1])) if kind == "gn" else None
    return x, kind, groups


def removed_transform_shape(kind, shape, groups=None):
    """Shape of the scale a and shift b that ``kind`` removes, broadcastable against (N, H, W, C) after
    :func:`expand`: bn per channel, ln per input, in per (input, channel), gn per (input, group)."""
    n, _, _, c = shape
    return {"bn": (1, c), "ln": (n, 1), "in": (n, c), "gn": (n, groups)}[kind]


def expand(v, kind, shape, groups=None):
    """Broadcast a per-slice parameter of :func:`removed_transform_shape` to the full (N, H, W, C) array."""
    n, h, w, c = shape
    if kind == "gn":
        v = np.repeat(v, c // groups, axis=1)
    return np.broadcast_to(v[:, None, None, :], shape)


def slice_axes(kind):
    """The axes a norm's statistics are taken over (gn: over its groups, via a reshape)."""
    return {"bn": (0, 1, 2), "ln": (1, 2, 3), "in": (1, 2)}[kind]


def min_slice_std(x, kind, groups=None):
    """The smallest standard deviation among the slices ``kind`` normalizes."""
    if kind == "gn":
        n, h, w, c = x.shape
        return float(x.reshape(n, h, w, groups, c // groups).std(axis=(1, 2, 4)).min())
    return float(x.std(axis=slice_axes(kind)).min())


def condition(x, kind, groups=None):
    """κ = max|x| / min slice std: normalizing loses about κ·ε₆₄ in absolute accuracy."""
    return float(np.max(np.abs(x))) / min_slice_std(x, kind, groups)


def tolerance(*arrays_kind_groups):
    """Absolute tolerance 64·ε₆₄·(1 + max κ) over the given (x, kind, groups) triples."""
    return 64 * FLOAT64_EPS * (1 + max(condition(*t) for t in arrays_kind_groups))
