"""Property tests of the normalizers of SPEC-companions §7A.2 on arbitrary arrays (BU1; ε = 0, float64).

- invariances: BMLV, LMBV (both A1 readings) to a global ``a h + b``; ``bmlv_c`` to per-channel shifts, ``lmbv_c``
  to per-input shifts; PreLN's layer op to ``x_n → a_n x_n + b_n`` of its input; RegNorm (A) to ``h_n → a_n h_n``;
- identities: ``mean_𝔅(σ_𝔏 ⊙ y_bmlv) = 0``, ``mean_𝔏(σ_𝔅 ⊙ y_lmbv) = 0``, ``var_𝔏 y = 1`` (bmlv_c, preln, regnorm),
  ``var_𝔅 y = 1`` (lmbv_c);
- negative controls (non-invariances): BMLV (primary) to per-channel shifts, LMBV (primary) to per-input shifts,
  BN to a per-input scale, RegNorm (A) to per-input shifts; BMLV's plain batch mean and PreLN's output layer mean
  are not zero.
"""
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from randnet import normalize, periodic_conv
from randnet.norms import BATCH_AXES, LAYER_AXES, centre_input
from tests.helpers import assert_close
from tests.properties.strategies import FLOAT64_EPS, nhwc_arrays

EXAMPLES = settings(max_examples=30)
SEEDS = st.integers(0, 2 ** 32 - 1)


def _kappa(*arrays):
    """max|x| / min std over the batch and the layer slices, over all arrays."""
    return max(float(np.abs(x).max() / min(x.std(axis=BATCH_AXES).min(), x.std(axis=LAYER_AXES).min()))
               for x in arrays)


def _divisor(x, kind):
    """The smallest denominator ``kind`` divides by (the ``_c`` variants: the spread of the centred array)."""
    if kind == "bmlv_c":
        x, axes = x - x.mean(axis=BATCH_AXES, keepdims=True), LAYER_AXES
    elif kind == "lmbv_c":
        x, axes = x - x.mean(axis=LAYER_AXES, keepdims=True), BATCH_AXES
    else:
        axes = LAYER_AXES if kind in ("bmlv", "preln", "regnorm") else BATCH_AXES
    return float(x.std(axis=axes).min())


def _tol_for(kind, *arrays):
    """64 ε (1 + κ)(1 + max|y|), κ = max|x| / smallest denominator over the arrays: the centred values carry an
    absolute error ~κε in units of the denominator, and the denominator a relative error ~κε, which the output
    ``y`` multiplies."""
    kappa = max(float(np.abs(x).max()) / _divisor(x, kind) for x in arrays)
    size = max(float(np.abs(normalize(x, kind)).max()) for x in arrays)
    return 64 * FLOAT64_EPS * (1 + kappa) * (1 + size)


def _well_spread(x):
    """Every batch and layer slice varies (≥ 3 values): the norms' denominators are far from round-off."""
    n, h, w, c = x.shape
    return n * h * w >= 3 and h * w * c >= 3 and _kappa(x) < 1e6


@EXAMPLES
@given(x=nhwc_arrays(), seed=SEEDS)
def test_global_affine_invariance_of_bmlv_and_lmbv(x, seed):
    assume(_well_spread(x))
    rng = np.random.default_rng(seed)
    moved = rng.uniform(0.1, 10) * x + rng.uniform(-10, 10)
    for kind in ("bmlv", "bmlv_c", "lmbv", "lmbv_c"):
        assert_close(normalize(moved, kind), normalize(x, kind), rtol=0, atol=_tol_for(kind, x, moved))


@EXAMPLES
@given(x=nhwc_arrays(), seed=SEEDS)
def test_variants_remove_their_finer_shifts(x, seed):
    assume(_well_spread(x))
    rng = np.random.default_rng(seed)
    n, _, _, c = x.shape
    per_channel = x + rng.uniform(-10, 10, c) * x.std()
    per_input = x + rng.uniform(-10, 10, (n, 1, 1, 1)) * x.std()
    assert_close(normalize(per_channel, "bmlv_c"), normalize(x, "bmlv_c"), rtol=0,
                 atol=_tol_for("bmlv_c", x, per_channel))
    assert_close(normalize(per_input, "lmbv_c"), normalize(x, "lmbv_c"), rtol=0, atol=_tol_for("lmbv_c", x, per_input))


@EXAMPLES
@given(x=nhwc_arrays(), seed=SEEDS, k=st.sampled_from([1, 3]))
def test_preln_layer_op_is_invariant_to_per_input_affine_maps_of_its_input(x, seed, k):
    assume(_well_spread(x))
    rng = np.random.default_rng(seed)
    n, _, _, c = x.shape
    w = rng.standard_normal((k, k, c, 4))

    def layer(z):
        return normalize(periodic_conv(centre_input(z), w), "preln")

    h = periodic_conv(centre_input(x), w)
    assume(h.std(axis=LAYER_AXES).min() > 1e-6 * np.abs(h).max())  # W ∗ (x − mean) not (nearly) constant
    moved = rng.uniform(0.1, 10, (n, 1, 1, 1)) * x + rng.uniform(-10, 10, (n, 1, 1, 1))
    y = layer(x)
    assert_close(layer(moved), y, rtol=0, atol=_tol_for("preln", h) * (1 + _kappa(x, moved)))
    assert_close(y.var(axis=LAYER_AXES), np.ones(n), rtol=0, atol=_tol_for("preln", h))          # var_𝔏 y = 1


@EXAMPLES
@given(x=nhwc_arrays(), seed=SEEDS)
def test_regnorm_is_invariant_to_per_input_scales_only(x, seed):
    assume(_well_spread(x))
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    scaled = rng.uniform(0.1, 10, (n, 1, 1, 1)) * x
    y = normalize(x, "regnorm")
    assert_close(normalize(scaled, "regnorm"), y, rtol=0, atol=_tol_for("regnorm", x, scaled))
    assert_close(y.var(axis=LAYER_AXES), np.ones(n), rtol=0, atol=_tol_for("regnorm", x))
    # negative control: a shift is not removed (no mean subtraction under reading A)
    assert np.max(np.abs(normalize(x + 3 * x.std(), "regnorm") - y)) > 1e-3


@EXAMPLES
@given(x=nhwc_arrays())
def test_weighted_mean_identities_and_variant_variances(x):
    assume(_well_spread(x))
    n, _, _, c = x.shape
    s_l, s_b = x.std(axis=LAYER_AXES, keepdims=True), x.std(axis=BATCH_AXES, keepdims=True)
    assert_close((s_l * normalize(x, "bmlv")).mean(axis=BATCH_AXES) / s_l.mean(), np.zeros(c), rtol=0,
                 atol=_tol_for("bmlv", x))
    assert_close((s_b * normalize(x, "lmbv")).mean(axis=LAYER_AXES) / s_b.mean(), np.zeros(n), rtol=0,
                 atol=_tol_for("lmbv", x))
    assert_close(normalize(x, "bmlv_c").var(axis=LAYER_AXES), np.ones(n), rtol=0, atol=_tol_for("bmlv_c", x))
    assert_close(normalize(x, "lmbv_c").var(axis=BATCH_AXES), np.ones(c), rtol=0, atol=_tol_for("lmbv_c", x))


@EXAMPLES
@given(x=nhwc_arrays(), seed=SEEDS)
def test_negative_controls_the_listed_non_invariances(x, seed):
    n, h, w, c = x.shape
    assume(_well_spread(x) and n >= 2 and c >= 2)
    rng = np.random.default_rng(seed)
    sd = x.std()
    gap = lambda v: (v - v.mean()) + np.sign(v - v.mean()) * 0.5  # noqa: E731 — nonconstant, min gap ≥ 1
    b_c = gap(rng.uniform(-1, 1, c)) * 3 * sd
    b_n = gap(rng.uniform(-1, 1, (n, 1, 1, 1))) * 3 * sd
    a_n = np.exp(gap(rng.uniform(-1, 1, (n, 1, 1, 1))))
    changes = {
        "bmlv: per-channel shift": normalize(x + b_c, "bmlv") - normalize(x, "bmlv"),
        "lmbv: per-input shift": normalize(x + b_n, "lmbv") - normalize(x, "lmbv"),
        "bn: per-input scale": normalize(a_n * x, "bn") - normalize(x, "bn"),
    }
    for name, change in changes.items():
        assert np.max(np.abs(change)) > 1e-3, name
    shifted = x + 3 * sd + b_c  # a common offset: BMLV's divisor differs between inputs, so its batch mean is not 0
    assume(np.ptp(shifted.std(axis=LAYER_AXES)) > 1e-2 * shifted.std(axis=LAYER_AXES).mean())
    assert np.max(np.abs(normalize(shifted, "bmlv").mean(axis=BATCH_AXES))) > 1e-6
    assert np.max(np.abs(normalize(shifted, "preln").mean(axis=LAYER_AXES))) > 1e-3
