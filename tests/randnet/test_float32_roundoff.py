"""Reproducible to round-off across machines (docs/guides/guarantees.md, "Reproducibility"): a float32 result lies
within the float32 round-off bound of the float64 recomputation of the *same* net (same seed: the parameters are
drawn in float64 and cast), so two float32 runs whose BLAS picks different kernels (another CPU) agree to twice
that bound. Bit-for-bit equality on one machine is tested in tests/validation/test_backends.py."""
import numpy as np
import pytest

from randnet import DatasetSpec, NetConfig, layer_stream, realization_seed
from randnet.roundoff import normalized_tolerance

DEPTH = 50


@pytest.mark.parametrize("width", [16, 64])
def test_float32_fractions_are_within_round_off_of_float64(width):
    base = NetConfig(widths=width, depth=DEPTH, norm="ln", dataset=DatasetSpec(n=16, height=8, width=8))
    m = 16 * 8 * 8
    bound = DEPTH * normalized_tolerance("float32", m)  # one layer's round-off of a normalized power, per layer
    for k in range(2):
        f32, f64 = ([s.noncollapsed_y for s in layer_stream(base.replace(dtype=dt), realization_seed(0, k))]
                    for dt in ("float32", "float64"))
        gap = np.abs(np.array(f32) - np.array(f64)).max()
        assert 0 < gap <= bound, (gap, bound)  # float32 really differs, and only by round-off
