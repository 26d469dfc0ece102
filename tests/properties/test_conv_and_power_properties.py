"""Property tests: periodic convolution commutes with circular shifts (and matches its reference); the four
power terms of Eq. 5 sum to P_c(a) on arbitrary arrays."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from randnet import periodic_conv, power_decomposition, reference_periodic_conv
from randnet.stats import reference_power_decomposition
from tests.helpers import assert_close
from tests.properties.strategies import FLOAT64_EPS, nhwc_arrays, shapes

EXAMPLES = settings(max_examples=30)


@st.composite
def conv_case(draw):
    z = draw(nhwc_arrays(shape=draw(shapes(max_side=6, max_c=4)), magnitude=10.0))
    k = draw(st.sampled_from([1, 3, 5]))
    c_out = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    w = np.random.default_rng(seed).standard_normal((k, k, z.shape[-1], c_out))
    return z, w


def _conv_tol(z, w):
    """Round-off of a sum of K²·C_in products: 8·ε·K²·C_in·max|z|·max|w|."""
    k, _, c_in, _ = w.shape
    return 8 * FLOAT64_EPS * k * k * c_in * float(np.max(np.abs(z)) * np.max(np.abs(w)))


@EXAMPLES
@given(case=conv_case(), dh=st.integers(-7, 7), dw=st.integers(-7, 7))
def test_periodic_conv_commutes_with_circular_shifts(case, dh, dw):
    z, w = case
    shifted_first = periodic_conv(np.roll(z, (dh, dw), axis=(1, 2)), w)
    shifted_after = np.roll(periodic_conv(z, w), (dh, dw), axis=(1, 2))
    assert_close(shifted_first, shifted_after, rtol=0, atol=_conv_tol(z, w))


@settings(max_examples=10)
@given(case=conv_case())
def test_periodic_conv_matches_reference(case):
    z, w = case
    assert_close(periodic_conv(z, w), reference_periodic_conv(z, w), rtol=0, atol=_conv_tol(z, w))


@EXAMPLES
@given(a=nhwc_arrays())
def test_power_terms_sum_to_channel_power(a):
    terms = power_decomposition(a)
    p_c = np.mean(a ** 2, axis=(0, 1, 2))
    tol = 64 * FLOAT64_EPS * float(np.max(a ** 2))
    assert np.all(terms >= 0)
    assert_close(terms.sum(axis=0), p_c, rtol=0, atol=tol)
    assert_close(terms, reference_power_decomposition(a), rtol=0, atol=tol)
    assert_close(terms.mean(axis=1).sum(), np.mean(a ** 2), rtol=0, atol=tol)  # layer level: P(a)
