"""tests.helpers.assert_close must pass within tolerance and fail outside it, naming both errors."""
import numpy as np
import pytest

from tests.helpers import assert_close


def test_passes_within_tolerance():
    assert_close(1.0, 1.0 + 1e-13)
    assert_close([1.0, 0.0], [1.0 + 1e-7, 1e-9], rtol=1e-6, atol=1e-8)
    assert_close([np.inf, np.nan], [np.inf, np.nan])


@pytest.mark.parametrize("actual, expected, kw", [
    (1.0, 1.1, dict(rtol=1e-3)),
    ([0.0, 1e-6], [0.0, 0.0], dict(atol=1e-9)),
    (np.ones((2, 3)), np.ones((2, 3)) + 1e-3 * np.eye(2, 3), dict(rtol=1e-6)),
])
def test_fails_outside_tolerance_and_reports_both_errors(actual, expected, kw):
    with pytest.raises(AssertionError, match=r"max abs err .* max rel err .* worst at"):
        assert_close(actual, expected, **kw)


def test_fails_on_shape_or_non_finite_mismatch():
    with pytest.raises(AssertionError, match="shape mismatch"):
        assert_close(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(AssertionError, match="non-finite"):
        assert_close([np.nan, 1.0], [1.0, 1.0], atol=np.inf)
    with pytest.raises(AssertionError, match="non-finite"):
        assert_close([np.inf], [-np.inf])
