"""The random net of Definition 1 through randnet.layer_stream: P1 and T2 hold exactly in every layer and
channel, the streamed statistics match slow references, and realizations are reproducible."""
import dataclasses

import numpy as np
import pytest

from randnet import DatasetSpec, NetConfig, draw_data, forward, layer_stream, realization_seed
from randnet.stats import reference_linearity, reference_power_decomposition
from tests.helpers import assert_close

ROUNDOFF = 1e-12  # float64, eps = 0
SMALL = dict(widths=6, depth=4, dtype="float64", dataset=DatasetSpec(n=4, height=6, width=5, channels=3))
P1_CASES = [dict(norm="bn"), dict(norm="ln"), dict(norm="in"), dict(norm="gn", groups=2),
            dict(norm="bn", batch_size=2), dict(norm="ln+ws", activation="tanh"), dict(norm="gn+pn", groups=3),
            dict(norm="in+pn", activation="gelu"), dict(norm="ln", activation="identity", depth=3)]


def _stream(seed=0, k=0, **changes):
    return list(layer_stream(NetConfig(**{**SMALL, **changes}), realization_seed(seed, k)))


@pytest.mark.parametrize("case", P1_CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_p1_layer_power_is_one(case):
    """P(y^l) = 1 in every layer; per channel P_c(y^l) = 1 for BN and IN (Proposition 1)."""
    stats = _stream(**case)
    assert len(stats) == case.get("depth", SMALL["depth"])
    per_channel = np.array([s.power_y.sum(axis=0) for s in stats])  # P_c(y^l), (L, C)
    assert_close(per_channel.mean(axis=1), np.ones(len(stats)), rtol=0, atol=ROUNDOFF)
    assert_close(per_channel, np.array([s.mean_y ** 2 + s.var_y for s in stats]), rtol=ROUNDOFF)
    if case["norm"].split("+")[0] in ("bn", "in"):
        assert_close(per_channel, np.ones_like(per_channel), rtol=0, atol=ROUNDOFF)
    else:  # negative control: LN / GN only fix the average, the channels differ
        assert np.max(np.abs(per_channel - 1)) > 1e-3


def test_p1_with_eps_bn_deviation_is_eps_over_variance():
    """With ε > 0, BN gives P_c(y) = σ_c(x)² / (σ_c(x)² + ε) exactly: 1 − P_c(y) = ε / (σ_c² + ε)."""
    eps = 0.05
    for s in _stream(norm="bn", eps=eps):
        assert_close(s.power_y.sum(axis=0), s.var_x / (s.var_x + eps), rtol=ROUNDOFF)
        assert np.all(1 - s.power_y.sum(axis=0) > 1e-3)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_t2_instance_norm_removes_instance_variability(activation):
    """IN, ε = 0: μ_c(y) = 0, σ_c(y) = 1, σ_c(μ_{x,c}(y)) = 0, σ_c(σ_{x,c}(y)) = 0 in every layer and channel."""
    for s in _stream(norm="in", activation=activation, beta="normal(0.5, 0.5)"):
        c = len(s.mean_y)
        assert_close(s.mean_y, np.zeros(c), atol=ROUNDOFF)
        assert_close(s.var_y, np.ones(c), rtol=ROUNDOFF)
        assert_close(s.power_y, np.stack([np.zeros(c), np.zeros(c), np.ones(c), np.zeros(c)]), rtol=0,
                     atol=ROUNDOFF)


def test_t2_negative_control_bn_keeps_instance_variability():
    """BN fixes μ_c, σ_c but not the instance statistics: terms (2) and (4) stay positive."""
    stats = _stream(norm="bn")
    assert all(np.max(s.power_y[1]) > 1e-3 and np.max(s.power_y[3]) > 1e-4 for s in stats)


@pytest.mark.parametrize("changes", [dict(norm="ln"), dict(norm="gn+pn", groups=2, dtype="float32"),
                                     dict(norm="in", first_stride=2, depth=2)])
def test_streamed_statistics_match_references_on_the_layer_tensors(changes):
    """Each LayerStats field against a slow computation from forward()'s x, y, z of the same realization."""
    cfg = NetConfig(**{**SMALL, **changes})
    ss = realization_seed(3, 1)
    data = draw_data(cfg, ss)
    z_prev = data
    for layer, s in zip(forward(cfg, ss), layer_stream(cfg, ss), strict=True):
        x, y, z = (t.astype(np.float64) for t in (layer.x, layer.y, layer.z))
        assert_close(s.power_in, reference_power_decomposition(z_prev), rtol=1e-10, atol=1e-12, msg="power_in")
        for name, t in (("x", x), ("y", y), ("z", z)):
            assert_close(getattr(s, f"power_{name}"), reference_power_decomposition(t), rtol=1e-10, atol=1e-12, msg=name)
            assert_close(getattr(s, f"mean_{name}"), t.mean(axis=(0, 1, 2)), rtol=1e-10, atol=1e-12, msg=name)
            assert_close(getattr(s, f"var_{name}"), t.var(axis=(0, 1, 2)), rtol=1e-10, atol=1e-12, msg=name)
        assert_close(s.input_mean_x, x.mean(axis=(1, 2, 3)), rtol=1e-10, atol=1e-12)
        assert_close(s.input_var_x, x.var(axis=(1, 2, 3)), rtol=1e-10)
        assert_close(s.residual_z, reference_linearity(y, z), rtol=1e-8, atol=1e-10 * float(np.max(s.var_z)))
        assert_close(s.y_min, y.min(axis=(0, 1, 2)), rtol=0)
        assert_close(s.y_max, y.max(axis=(0, 1, 2)), rtol=0)
        assert_close(s.gamma, layer.params.gamma, rtol=0)
        assert_close(s.beta, layer.params.beta, rtol=0)
        z_prev = z


def _equal(a, b):
    """Bit-identical LayerStats (NaN equal to NaN)."""
    return all(np.array_equal(getattr(a, f.name), getattr(b, f.name), equal_nan=True)
               for f in dataclasses.fields(a))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_realizations_are_bit_reproducible_and_independent(dtype):
    cfg = dict(norm="ln+pn", dtype=dtype, depth=3)
    first = _stream(seed=5, k=2, **cfg)
    assert all(_equal(a, b) for a, b in zip(first, _stream(seed=5, k=2, **cfg), strict=True))
    # realization k does not depend on which other realizations were computed before it
    for k in (0, 1, 3):
        _stream(seed=5, k=k, **cfg)
    assert all(_equal(a, b) for a, b in zip(first, _stream(seed=5, k=2, **cfg), strict=True))
    # another seed or another k is another realization (negative control for the comparison above)
    for other in (_stream(seed=6, k=2, **cfg), _stream(seed=5, k=3, **cfg)):
        assert not any(_equal(a, b) for a, b in zip(first, other))


def test_layers_do_not_depend_on_depth():
    """Layer l's parameters come from their own child seed: a deeper net shares its first layers."""
    short, long = _stream(seed=1, depth=2), _stream(seed=1, depth=4)
    assert all(_equal(a, b) for a, b in zip(short, long[:2]))


@pytest.mark.parametrize("changes, data, cause", [
    (dict(weight="constant(0)"), None, "layer 1: .*ω\\^1 is zero \\(weight ~ constant\\(0\\)\\)"),
    (dict(norm="in"), np.ones((2, 4, 4, 3)), "layer 1: .*the data is constant over \\(h, w\\) in every input and "
                                             "channel.*in's statistics over \\(h, w\\)"),
    (dict(norm="ln"), np.zeros((2, 4, 4, 3)), "layer 1: .*the data is identically zero"),
])
def test_a_zero_denominator_names_its_cause(changes, data, cause):
    config = NetConfig(widths=8, depth=2, dataset=DatasetSpec(n=2, height=4, width=4), **changes)
    with pytest.raises(ZeroDivisionError, match=cause):
        list(forward(config, realization_seed(0, 0), data))


def test_data_the_dtype_cannot_carry_are_refused():
    config = NetConfig(widths=8, depth=2, dataset=DatasetSpec(n=2, height=4, width=4))
    with pytest.raises(ValueError, match="too large for the float32 forward pass"):
        next(forward(config, realization_seed(0, 0), np.full((2, 4, 4, 3), 1e30)))
