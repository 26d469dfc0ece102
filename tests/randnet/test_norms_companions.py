"""The normalizers of SPEC-companions §7A.2 (BMLV, LMBV and their ``_c`` variants, PreLN, RegNorm readings A and
B) in randnet: against written-out formulas, mini-batches, the fused kernel against the unfused numpy path, PreLN's
input centring in the forward pass (against a layer-by-layer reference), registry flags and errors."""
import numpy as np
import pytest

from randnet import DatasetSpec, NetConfig, forward, get_activation, normalize, periodic_conv, realization_seed
from randnet import kernels
from randnet.norms import BATCH_NORMS, CENTRES_INPUT, NORMALIZATIONS, centre_input, centres_input, \
    register_normalization
from randnet.net import draw_data, sample_layer
from tests.helpers import assert_close

NEW = ("bmlv", "bmlv_c", "lmbv", "lmbv_c", "preln", "regnorm", "regnorm_ln")
B, L = (0, 1, 2), (1, 2, 3)


def _data(dtype=np.float64, shape=(6, 3, 4, 5), seed=0):
    rng = np.random.default_rng(seed)
    n, _, _, c = shape
    x = rng.standard_normal(shape) * rng.uniform(0.5, 2, (n, 1, 1, c)) + rng.uniform(-2, 2, (n, 1, 1, c))
    return x.astype(dtype)


def _formula(x, kind, eps):
    """Table 1 written out with numpy's own mean/var (population)."""
    mb, ml = x.mean(axis=B, keepdims=True), x.mean(axis=L, keepdims=True)
    return {
        "bmlv": (x - mb) / np.sqrt(x.var(axis=L, keepdims=True) + eps),
        "bmlv_c": (x - mb) / np.sqrt((x - mb).var(axis=L, keepdims=True) + eps),
        "lmbv": (x - ml) / np.sqrt(x.var(axis=B, keepdims=True) + eps),
        "lmbv_c": (x - ml) / np.sqrt((x - ml).var(axis=B, keepdims=True) + eps),
        "preln": x / np.sqrt(x.var(axis=L, keepdims=True) + eps),
        "regnorm": x / np.sqrt(x.var(axis=L, keepdims=True) + eps),
        "regnorm_ln": (x - ml) / np.sqrt(x.var(axis=L, keepdims=True) + eps),
    }[kind]


@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("kind", NEW)
def test_matches_the_written_out_formula(kind, eps):
    x = _data()
    y = normalize(x, kind, eps=eps)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert_close(y, _formula(x, kind, eps), rtol=1e-12, atol=1e-12)


def test_a1_readings_differ_and_the_mean_axes_matter():
    """The primary and the variant reading give different outputs; BMLV ≠ LN and LMBV ≠ BN (a planted swap of the
    mean axes or of the variance axes fails this test)."""
    x = _data(seed=1)
    y = {k: normalize(x, k) for k in ("bn", "ln", *NEW)}
    for a, b in (("bmlv", "bmlv_c"), ("lmbv", "lmbv_c"), ("bmlv", "ln"), ("bmlv", "bn"), ("lmbv", "bn"),
                 ("lmbv", "ln"), ("regnorm", "regnorm_ln")):
        assert np.max(np.abs(y[a] - y[b])) > 1e-2, (a, b)
    assert_close(y["regnorm_ln"], y["ln"], rtol=0)
    assert_close(y["preln"], y["regnorm"], rtol=0)
    # BMLV removes the batch mean of σ_𝔏 ⊙ y, LMBV the layer mean of σ_𝔅 ⊙ y (exact identities, BU1)
    assert_close((x.std(axis=L, keepdims=True) * y["bmlv"]).mean(axis=B), np.zeros(x.shape[-1]), atol=1e-14)
    assert_close((x.std(axis=B, keepdims=True) * y["lmbv"]).mean(axis=L), np.zeros(x.shape[0]), atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 2, 4])
@pytest.mark.parametrize("kind", BATCH_NORMS)
def test_batch_size_normalizes_each_minibatch_alone(kind, batch_size, dtype):
    x = _data(dtype, shape=(7, 2, 3, 4), seed=2)
    y = normalize(x, kind, eps=1e-3, batch_size=batch_size)
    ref = np.concatenate([normalize(x[i:i + batch_size], kind, eps=1e-3) for i in range(0, len(x), batch_size)])
    assert y.dtype == dtype
    assert_close(y, ref, rtol=0, atol=0)
    assert np.max(np.abs(y.astype(float) - normalize(x, kind, eps=1e-3))) > 1e-3


def test_batch_free_norms_refuse_batch_size_and_config_checks():
    x = _data()
    for kind in ("preln", "regnorm", "regnorm_ln", "ln"):
        with pytest.raises(ValueError, match="batch_size applies to the norms with batch statistics"):
            normalize(x, kind, batch_size=2)
    NetConfig(widths=4, depth=1, norm="lmbv", batch_size=2)
    with pytest.raises(ValueError, match="batch_size applies to the norms with batch statistics"):
        NetConfig(widths=4, depth=1, norm="preln", batch_size=2)


def test_constant_slices_raise():
    x = _data()
    x[2] = 0.7  # input 2 constant: its layer variance is 0 (BMLV, PreLN, RegNorm divide by it)
    for kind in ("bmlv", "preln", "regnorm"):
        with pytest.raises(ZeroDivisionError, match="denominator"):
            normalize(x, kind)
    x = _data()
    x[..., 1] = 0.3  # channel 1 constant: its batch variance is 0 (LMBV divides by it)
    with pytest.raises(ZeroDivisionError, match="denominator"):
        normalize(x, "lmbv")


def test_centring_flag_is_a_registry_property():
    assert CENTRES_INPUT == {"preln"} and centres_input("preln") and not centres_input("regnorm")
    z = _data(seed=3)
    assert_close(centre_input(z).mean(axis=L), np.zeros(len(z)), atol=1e-15)
    register_normalization("centred_test", NORMALIZATIONS["regnorm"], centres_input=True)
    try:
        assert centres_input("centred_test")
        register_normalization("centred_test", NORMALIZATIONS["regnorm"])
        assert not centres_input("centred_test")
    finally:
        del NORMALIZATIONS["centred_test"]
        CENTRES_INPUT.discard("centred_test")


# -- the fused kernel ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("act", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("kind, opts", [(k, {}) for k in NEW] + [(k, dict(batch_size=3)) for k in BATCH_NORMS[1:]])
def test_fused_statistics_equal_the_unfused_reference(kind, opts, act, dtype):
    rng = np.random.default_rng(4)
    x = _data(dtype, shape=(7, 3, 4, 6), seed=4)
    gamma, beta = rng.normal(1, 0.3, 6).astype(dtype), rng.normal(0, 0.5, 6).astype(dtype)
    assert kind in kernels.FUSED_NORMS
    y, z, m = kernels.normalize_activate(x, kind, gamma, beta, act, eps=1e-3, **opts)
    y_ref = normalize(x, kind, eps=1e-3, **opts)
    z_ref = get_activation(act)(gamma * y_ref + beta)
    tol = 8 * np.finfo(dtype).eps
    assert_close(y, y_ref, rtol=tol, atol=tol * np.max(np.abs(y_ref)))
    assert_close(z, z_ref, rtol=tol, atol=tol * np.max(np.abs(z_ref)))
    assert_close(m.inst_mean_y, y.astype(float).mean(axis=(1, 2)), rtol=1e-10, atol=1e-12)


def test_fused_statistics_of_a_planted_bug_differ():
    """BMLV's statistics from the instance moments must not be LN's or BN's (mean over the wrong axes)."""
    x = _data(shape=(5, 2, 2, 4), seed=5)
    m, v = kernels.instance_moments(x)
    shift, denom = kernels.normalization_statistics(m, v, "bmlv")
    for wrong in ("ln", "bn"):
        s2, d2 = kernels.normalization_statistics(m, v, wrong)
        assert np.max(np.abs(shift - s2)) + np.max(np.abs(denom - d2)) > 1e-2


# -- PreLN in the forward pass ------------------------------------------------------------------------------
def _reference_forward(config, ss, centre_before=True):
    """Layer by layer with numpy: x^l = W ∗ (z − mean_𝔏 z) (or W ∗ z, then centred after: a planted bug),
    y = normalize(x, norm), z = φ(γ y + β)."""
    act = get_activation(config.activation)
    z = draw_data(config, ss).astype(np.float64)
    out = []
    for l in range(1, config.depth + 1):
        p = sample_layer(config, ss, l, z.shape[-1])
        x = periodic_conv(centre_input(z), p.weight) if centre_before else centre_input(periodic_conv(z, p.weight))
        y = normalize(x, config.base_norm, eps=config.eps)
        z = act(p.gamma * y + p.beta)
        out.append(y)
    return out


@pytest.mark.parametrize("spatial, k", [(1, 1), (4, 3)])
def test_forward_centres_the_input_before_the_conv_for_preln(spatial, k):
    config = NetConfig(widths=8, depth=3, kernel_size=k, norm="preln", dtype="float64",
                       dataset=DatasetSpec(n=6, height=spatial, width=spatial, channels=5))
    ss = realization_seed(0, 0)
    got = [layer.y for layer in forward(config, ss)]
    for a, b in zip(got, _reference_forward(config, ss)):
        assert_close(a, b, rtol=1e-12, atol=1e-12)
    wrong = _reference_forward(config, ss, centre_before=False)  # centring after the conv is a different net
    assert max(np.max(np.abs(a - b)) for a, b in zip(got, wrong)) > 1e-2
    no_centring = [layer.y for layer in forward(config.replace(norm="regnorm"), ss)]
    assert max(np.max(np.abs(a - b)) for a, b in zip(got, no_centring)) > 1e-2


@pytest.mark.parametrize("norm", ["bmlv", "lmbv_c", "regnorm", "preln+pn", "bmlv+ws"])
def test_new_norms_run_in_layer_stream(norm):
    from randnet import layer_stream
    config = NetConfig(widths=8, depth=2, norm=norm, dataset=DatasetSpec(n=6, height=4, width=4))
    stats = list(layer_stream(config, realization_seed(1, 0)))
    assert len(stats) == 2 and all(np.all(np.isfinite(s.power_y)) for s in stats)
