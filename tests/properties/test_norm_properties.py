"""Property tests of the normalizations on arbitrary arrays (ε = 0, float64).

- invariance: each norm removes exactly its shift/scale (bn: a_c x + b_c; ln: a_n x + b_n;
  in: a_{n,c} x + b_{n,c}; gn: a_{n,g} x + b_{n,g}; every a > 0), and not a finer one (negative control);
- P1: P(y) = 1 for bn, ln, in, gn; P_c(y) = 1 per channel for bn and in;
- T2 for in: μ_c(y) = 0, σ_c(y) = 1, σ_c(μ_{x,c}(y)) = 0, σ_c(σ_{x,c}(y)) = 0.
"""
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from randnet import instance_moments, normalize, power_decomposition
from tests.helpers import assert_close
from tests.properties.strategies import expand, normalized_case, removed_transform_shape, tolerance

EXAMPLES = settings(max_examples=30)


@EXAMPLES
@given(case=normalized_case(), seed=st.integers(0, 2 ** 32 - 1))
def test_each_norm_removes_its_shift_and_scale(case, seed):
    x, kind, groups = case
    rng = np.random.default_rng(seed)
    shape = removed_transform_shape(kind, x.shape, groups)
    a = expand(rng.uniform(0.1, 10, shape), kind, x.shape, groups)
    b = expand(rng.uniform(-10, 10, shape), kind, x.shape, groups)
    moved = a * x + b
    y = normalize(x, kind, groups)
    tol = tolerance((x, kind, groups), (moved, kind, groups))
    assert_close(normalize(moved, kind, groups), y, rtol=0, atol=tol)
    # a negative scale flips the sign: the invariance is to positive scales only
    assert_close(normalize(-a * x + b, kind, groups), -y, rtol=0, atol=tol)


FINER = {  # a shift each norm does NOT remove, and the dimension it needs
    "bn": (lambda n, h, w, c: (n, 1, 1, 1), 0),      # per input
    "ln": (lambda n, h, w, c: (1, 1, 1, c), 3),      # per channel
    "in": (lambda n, h, w, c: (1, h, 1, 1), 1),      # per row
    "gn": (lambda n, h, w, c: (1, 1, 1, c), 3),      # per channel inside a group
}


@EXAMPLES
@given(case=normalized_case(), seed=st.integers(0, 2 ** 32 - 1))
def test_negative_control_finer_shifts_are_not_removed(case, seed):
    x, kind, groups = case
    make_shape, axis = FINER[kind]
    assume(x.shape[axis] >= 2 and (kind != "gn" or x.shape[-1] // groups >= 2))
    n, h, w, c = x.shape  # a slice of two values normalizes to ±1 whatever the shift: it needs three
    assume({"bn": n * h * w, "ln": h * w * c, "in": h * w, "gn": h * w * c // (groups or 1)}[kind] >= 3)
    shift = np.random.default_rng(seed).uniform(-1, 1, make_shape(*x.shape))
    shift = shift - shift.mean() + np.sign(shift - shift.mean()) * 0.5  # nonconstant: min gap ≥ 1
    diff = normalize(x + shift * x.std(), kind, groups) - normalize(x, kind, groups)
    assert np.max(np.abs(diff)) > 1e-3


@EXAMPLES
@given(case=normalized_case())
def test_p1_power_of_normalized_tensor_is_one(case):
    x, kind, groups = case
    y = normalize(x, kind, groups)
    per_channel = power_decomposition(y).sum(axis=0)  # P_c(y)
    tol = tolerance((x, kind, groups))
    assert_close(per_channel.mean(), 1.0, rtol=0, atol=tol)
    assert_close(per_channel, np.mean(y ** 2, axis=(0, 1, 2)), rtol=0, atol=tol)
    if kind in ("bn", "in"):
        assert_close(per_channel, np.ones_like(per_channel), rtol=0, atol=tol)


@EXAMPLES
@given(case=normalized_case(kinds=("in",)))
def test_t2_instance_norm_identities(case):
    x, kind, _ = case
    y = normalize(x, "in")
    c = x.shape[-1]
    tol = tolerance((x, "in", None))
    m, v = instance_moments(y)
    assert_close(y.mean(axis=(0, 1, 2)), np.zeros(c), atol=tol)            # μ_c(y) = 0
    assert_close(y.std(axis=(0, 1, 2)), np.ones(c), atol=tol)              # σ_c(y) = 1
    assert_close(m.std(axis=0), np.zeros(c), atol=tol)                     # σ_c(μ_{x,c}(y)) = 0
    assert_close(np.sqrt(v).std(axis=0), np.zeros(c), atol=tol)            # σ_c(σ_{x,c}(y)) = 0
    assert_close(power_decomposition(y), np.stack([np.zeros(c), np.zeros(c), np.ones(c), np.zeros(c)]),
                 atol=tol)
