"""BU1 and BU11 — the exact properties of the normalizers of Rao & Sohl-Dickstein's Table 1 (SPEC-companions §7A.2).

**BU1** (deterministic, ``ε = 0``; :mod:`randnet.norms`). On arrays ``h`` of shape ``(N, H, W, C)`` (``H = W = 1``:
fully connected), with the batch axes ``𝔅 = (n, h, w)`` and the layer axes ``𝔏 = (h, w, c)``, ``a > 0``:

- invariances: ``bn`` to ``h_c → a_c h_c + b_c``; ``ln`` to ``h_n → a_n h_n + b_n``; ``bmlv``, ``bmlv_c``, ``lmbv``,
  ``lmbv_c`` to ``h → a h + b``; the variants ``bmlv_c`` to per-channel shifts ``b_c`` and ``lmbv_c`` to per-input
  shifts ``b_n``; ``preln`` (the layer op: centre the input, periodic conv, divide by the layer std) to the input
  map ``x_n → a_n x_n + b_n``; ``regnorm`` (reading A) to ``h_n → a_n h_n``;
- identities: ``bn``: ``mean_𝔅 y = 0, var_𝔅 y = 1``; ``ln``: ``mean_𝔏 y = 0, var_𝔏 y = 1``; ``bmlv``:
  ``mean_𝔅(σ_𝔏 ⊙ y) = 0`` (not ``mean_𝔅 y = 0``: the divisor differs between inputs), the variant also
  ``var_𝔏 y = 1``; ``lmbv``: ``mean_𝔏(σ_𝔅 ⊙ y) = 0``, the variant also ``var_𝔅 y = 1``; ``preln``:
  ``mean_𝔏(x − mean_𝔏 x) = 0`` and ``var_𝔏 y = 1``; ``regnorm``: ``var_𝔏 y = 1``.

Round-off: every quantity is an O(1) difference of normalized values, whose float64 error is at most about
``64 ε₆₄ (1 + κ)`` with ``κ = max|h| / min slice std`` (the bound of the property tests). The data are built with
``κ ≤ KAPPA_BOUND`` (bounded uniform entries, per-channel and per-input offsets and scales; ``κ`` is measured and
checked), so the tolerance is ``64 ε₆₄ (1 + KAPPA_BOUND) ≈ 1.4e-12``.

Negative controls (each must FAIL): BMLV (primary reading) invariant to per-channel shifts; LMBV (primary) invariant
to per-input shifts; BMLV's output with zero batch mean; LMBV's with zero layer mean; PreLN's output with zero
layer mean; BN invariant to a per-input scale.

**BU11** (Monte Carlo over ``W``, exact in expectation). For ``W`` i.i.d. ``N(0, s²/fan_in)`` with ``M`` outputs and a
fixed input ``x``: ``E_W[mean_𝔏(Wx)] = 0``, ``E_W[mean_𝔏(Wx)²] = s²‖x‖²/(fan_in M)``, ``E_W[P_𝔏(Wx)] = s²‖x‖²/fan_in``:
LN's centring after the affine map removes, in expectation, the fraction ``1/M`` of the power. PreLN's centring
before it removes ``mean_𝔏(x)²`` of ``P_𝔏(x)``: for ``x = ReLU(u)``, ``u ~ N(0, I_M)``,
``E[mean_𝔏(x)²] / E[P_𝔏(x)] = 1/π + (1 − 1/π)/M → 1/π`` exactly, and ``mean_𝔏(ReLU(u_n)) → 1/sqrt(2π)`` for every
input with ``M · Var_n(mean_𝔏) = 1/2 − 1/(2π)`` (spread ``O(1/sqrt(M))``): "the mean across units resembles the
mean across the batch", why PreLN falls in BN's class in BU2–BU4.
Negative control: "LN's post-affine centring removes the fraction 1/π".
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from randnet import child, normalize, periodic_conv
from randnet.checks import check_int, check_number
from randnet.norms import BATCH_AXES, LAYER_AXES, centre_input
from randnet.roundoff import machine_epsilon
from theorems import _torchnets as tn
from theorems._common import DETERMINISTIC_REALIZATIONS
from theorems.base import Claim, Comparison, register

KAPPA_BOUND = 100.0
TOL = 64 * machine_epsilon(np.float64) * (1 + KAPPA_BOUND)


# -- BU1 -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IdentityConfig:
    """Random arrays ``h`` of shape ``(n, spatial, spatial, channels)`` (``spatial = 1``: fully connected); PreLN's
    layer op uses a periodic ``kernel_size`` conv to ``channels`` outputs."""

    n: int = 16
    spatial: int = 1
    channels: int = 32
    kernel_size: int = 1

    def __post_init__(self) -> None:
        for name in ("n", "spatial", "channels"):
            check_int(name, getattr(self, name), 2 if name != "spatial" else 1)
        tn.check_odd_kernel(self.kernel_size)

    def label(self) -> str:
        kind = "FC" if self.spatial == 1 else f"{self.spatial}×{self.spatial}, K = {self.kernel_size}"
        return f"N = {self.n}, {kind}, C = {self.channels}"

    def describe(self) -> dict:
        return asdict(self)


def identity_data(config: IdentityConfig, rng: np.random.Generator) -> np.ndarray:
    """``h = o_c + p_n + s_n t_c u``: offsets ``o_c ~ U(−2, 2)``, ``p_n ~ U(−1, 1)``, scales ``s_n, t_c ~ U(0.5, 1.5)``,
    ``u ~ U(−1, 1)`` (bounded, so that ``κ`` stays small)."""
    n, s, c = config.n, config.spatial, config.channels
    o, p = rng.uniform(-2, 2, c), rng.uniform(-1, 1, (n, 1, 1, 1))
    scale = rng.uniform(0.5, 1.5, (n, 1, 1, 1)) * rng.uniform(0.5, 1.5, c)
    return o + p + scale * rng.uniform(-1, 1, (n, s, s, c))


def condition(h: np.ndarray) -> float:
    """``κ = max|h| / min`` std over the batch and the layer slices."""
    return float(np.abs(h).max() / min(h.std(axis=BATCH_AXES).min(), h.std(axis=LAYER_AXES).min()))


def preln_layer(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """PreLN's layer op on the input ``x``: ``normalize(W ∗ (x − mean_𝔏 x), "preln")`` (ε = 0)."""
    return normalize(periodic_conv(centre_input(x), w), "preln")


INVARIANCES = ("bn: h_c → a_c h_c + b_c", "ln: h_n → a_n h_n + b_n", "bmlv: h → a h + b", "bmlv_c: h → a h + b",
               "bmlv_c: h_c → h_c + b_c", "lmbv: h → a h + b", "lmbv_c: h → a h + b", "lmbv_c: h_n → h_n + b_n",
               "preln: input x_n → a_n x_n + b_n", "regnorm: h_n → a_n h_n", "regnorm_ln = ln")
IDENTITIES = ("bn: mean_𝔅 y = 0", "bn: var_𝔅 y = 1", "ln: mean_𝔏 y = 0", "ln: var_𝔏 y = 1",
              "bmlv: mean_𝔅(σ_𝔏 ⊙ y) = 0", "bmlv_c: mean_𝔅(σ ⊙ y) = 0", "bmlv_c: var_𝔏 y = 1",
              "lmbv: mean_𝔏(σ_𝔅 ⊙ y) = 0", "lmbv_c: mean_𝔏(σ ⊙ y) = 0", "lmbv_c: var_𝔅 y = 1",
              "preln: mean_𝔏(x − mean_𝔏 x) = 0", "preln: var_𝔏 y = 1", "regnorm: var_𝔏 y = 1")
NONINVARIANCES = {  # quantity -> the false claim (negative control)
    "bmlv_channel_shift": "BMLV (primary reading) is invariant to per-channel shifts",
    "lmbv_input_shift": "LMBV (primary reading) is invariant to per-input shifts",
    "bmlv_batch_mean": "BMLV's output has zero batch mean",
    "lmbv_layer_mean": "LMBV's output has zero layer mean",
    "preln_layer_mean": "PreLN's output has zero layer mean",
    "bn_input_scale": "BN is invariant to a per-input scale",
}


def _max(a) -> float:
    return float(np.max(np.abs(a)))


def _divisor(h: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return h.std(axis=axes, keepdims=True)


def identity_measure(config: IdentityConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """One random ``h`` and random transforms: the largest change of each invariance, the largest violation of each
    identity, the non-invariances of the negative controls, and ``κ``."""
    rng = np.random.default_rng(child(ss, 0))
    h = identity_data(config, rng)
    n, c = config.n, config.channels
    a, b = rng.uniform(0.5, 2), rng.uniform(-2, 2)
    a_c, b_c = rng.uniform(0.5, 2, c), rng.uniform(-2, 2, c)
    a_n, b_n = rng.uniform(0.5, 2, (n, 1, 1, 1)), rng.uniform(-2, 2, (n, 1, 1, 1))
    k = config.kernel_size
    w = rng.standard_normal((k, k, c, c)) / math.sqrt(k * k * c)
    y = {kind: normalize(h, kind) for kind in ("bn", "ln", "bmlv", "bmlv_c", "lmbv", "lmbv_c", "regnorm")}

    def change(kind, moved):
        return _max(normalize(moved, kind) - y[kind])

    invariances = [change("bn", a_c * h + b_c), change("ln", a_n * h + b_n), change("bmlv", a * h + b),
                   change("bmlv_c", a * h + b), change("bmlv_c", h + b_c), change("lmbv", a * h + b),
                   change("lmbv_c", a * h + b), change("lmbv_c", h + b_n),
                   _max(preln_layer(a_n * h + b_n, w) - preln_layer(h, w)), change("regnorm", a_n * h),
                   _max(normalize(h, "regnorm_ln") - y["ln"])]
    sigma_l, sigma_b = _divisor(h, LAYER_AXES), _divisor(h, BATCH_AXES)
    sigma_lc = _divisor(h - h.mean(axis=BATCH_AXES, keepdims=True), LAYER_AXES)
    sigma_bc = _divisor(h - h.mean(axis=LAYER_AXES, keepdims=True), BATCH_AXES)
    y_pre = preln_layer(h, w)
    identities = [
        _max(y["bn"].mean(axis=BATCH_AXES)), _max(y["bn"].var(axis=BATCH_AXES) - 1),
        _max(y["ln"].mean(axis=LAYER_AXES)), _max(y["ln"].var(axis=LAYER_AXES) - 1),
        _max((sigma_l * y["bmlv"]).mean(axis=BATCH_AXES)) / sigma_l.mean(),
        _max((sigma_lc * y["bmlv_c"]).mean(axis=BATCH_AXES)) / sigma_lc.mean(),
        _max(y["bmlv_c"].var(axis=LAYER_AXES) - 1),
        _max((sigma_b * y["lmbv"]).mean(axis=LAYER_AXES)) / sigma_b.mean(),
        _max((sigma_bc * y["lmbv_c"]).mean(axis=LAYER_AXES)) / sigma_bc.mean(),
        _max(y["lmbv_c"].var(axis=BATCH_AXES) - 1),
        _max(centre_input(h).mean(axis=LAYER_AXES)), _max(y_pre.var(axis=LAYER_AXES) - 1),
        _max(y["regnorm"].var(axis=LAYER_AXES) - 1)]
    non = dict(bmlv_channel_shift=change("bmlv", h + b_c), lmbv_input_shift=change("lmbv", h + b_n),
               bmlv_batch_mean=_max(y["bmlv"].mean(axis=BATCH_AXES)),
               lmbv_layer_mean=_max(y["lmbv"].mean(axis=LAYER_AXES)),
               preln_layer_mean=_max(y_pre.mean(axis=LAYER_AXES)), bn_input_scale=change("bn", a_n * h))
    moved = [a_c * h + b_c, a_n * h + b_n, a * h + b, h + b_c, h + b_n]
    return dict(invariance=np.array(invariances), identity=np.array(identities),
                kappa=np.array([max(condition(m) for m in [h, *moved])]),
                **{q: np.array([v]) for q, v in non.items()})


def identity_comparisons(config: IdentityConfig) -> list[Comparison]:
    return [Comparison("invariance", "<=", 0.0, TOL, "exact",
                       "the invariances of Table 1's normalizers (largest change)", cells=list(INVARIANCES),
                       cell_name="invariance"),
            Comparison("identity", "<=", 0.0, TOL, "exact", "the moment identities (largest violation)",
                       cells=list(IDENTITIES), cell_name="identity"),
            Comparison("kappa", "<=", KAPPA_BOUND, 0.0, "exact", "the data's condition number κ stays within the "
                       "round-off tolerance's premise", cells=["κ"], cell_name="")]


def identity_negative_controls(config: IdentityConfig) -> list[Comparison]:
    return [Comparison(q, "<=", 0.0, TOL, "exact", f"false: {text}", cells=["largest change"], cell_name="")
            for q, text in NONINVARIANCES.items()]


register(Claim(
    key="BU1",
    title="Exact invariants and identities of BN, LN, BMLV, LMBV (both A1 readings), PreLN and RegNorm",
    statement="ε = 0. bn invariant to h_c → a_c h_c + b_c, ln to h_n → a_n h_n + b_n, bmlv/lmbv (both readings) to "
              "h → a h + b, bmlv_c to per-channel and lmbv_c to per-input shifts, preln to x_n → a_n x_n + b_n of its "
              "input, regnorm (A) to h_n → a_n h_n. Identities: mean_𝔅(σ_𝔏 ⊙ y_bmlv) = 0, mean_𝔏(σ_𝔅 ⊙ y_lmbv) = 0 "
              "(not the plain means), var_𝔏 y = 1 for bmlv_c, preln, regnorm; var_𝔅 y = 1 for lmbv_c.",
    configs=lambda mode: [IdentityConfig(16, 1, 32), IdentityConfig(8, 4, 6, 3)] + (
        [IdentityConfig(64, 1, 256), IdentityConfig(16, 8, 16, 3), IdentityConfig(4, 5, 3, 5)] if mode == "full"
        else []),
    hypotheses=lambda config: [], measure=identity_measure, comparisons=identity_comparisons,
    negative_controls=identity_negative_controls, reported=("kappa", *NONINVARIANCES),
    realizations=DETERMINISTIC_REALIZATIONS,
))


# -- BU11 ----------------------------------------------------------------------------------------------------
MC_TOL = 0.02
"""δ of the "exact in expectation" comparisons: 2 % of quantities normalized to O(1) (relative for LN's fraction
``1/M``). The squared quantities are χ²-like (relative spread sqrt(2) per draw), so a realization averages thousands
of small draws: the statements hold at every ``M`` and fan-in."""


@dataclass(frozen=True)
class CentringConfig:
    """``draws`` weight matrices ``W`` ``(units, fan_in)`` with entries ``N(0, scale²/fan_in)`` per realization, on one
    fixed uncentred input ``x = m + ξ``; ``inputs`` ReLU vectors ``ReLU(u_n)``, ``u_n ~ N(0, I_units)``."""

    units: int = 64
    fan_in: int = 16
    scale: float = 1.4142135623730951
    draws: int = 4096
    inputs: int = 4096

    def __post_init__(self) -> None:
        for name in ("units", "fan_in", "draws", "inputs"):
            check_int(name, getattr(self, name), 2)
        check_number("scale", self.scale, strict=True)

    def label(self) -> str:
        return f"M = {self.units}, fan-in {self.fan_in}, s = {self.scale:.4g}, {self.draws} draws of W"

    def describe(self) -> dict:
        return asdict(self)


def centring_measure(config: CentringConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Averages over the draws of ``W`` of ``mean_𝔏(Wx)``, ``mean_𝔏(Wx)²`` and ``P_𝔏(Wx)``, in units of their predicted
    scales ``s‖x‖/sqrt(fan_in M)``, ``s²‖x‖²/(fan_in M)``, ``s²‖x‖²/fan_in``; LN's removed fraction; for ``x = ReLU(u)``
    PreLN's removed fraction ``2 mean_n mean_𝔏(x_n)²`` (``E P = 1/2``), ``mean_n mean_𝔏(x_n)`` and
    ``M Var_n(mean_𝔏 x_n)`` (unbiased)."""
    rng = np.random.default_rng(child(ss, 0))
    m, d, s = config.units, config.fan_in, config.scale
    x = rng.standard_normal(d) + rng.standard_normal(d)
    h = (rng.standard_normal((config.draws, m, d)) * (s / math.sqrt(d))) @ x
    norm2 = float(x @ x)
    mean, power = h.mean(axis=1), (h * h).mean(axis=1)
    relu = np.maximum(rng.standard_normal((config.inputs, m)), 0)
    layer_mean = relu.mean(axis=1)
    one = lambda v: np.array([float(v)])  # noqa: E731
    return dict(ln_mean=one(mean.mean() * math.sqrt(d * m / norm2) / s),
                ln_mean_square=one((mean ** 2).mean() * d * m / (s * s * norm2)),
                ln_power=one(power.mean() * d / (s * s * norm2)),
                ln_fraction=one((mean ** 2).mean() / power.mean()),
                preln_fraction=one(2 * (layer_mean ** 2).mean()),
                relu_layer_mean=one(layer_mean.mean()),
                relu_layer_spread=one(m * layer_mean.var(ddof=1)))


def centring_predictions(config: CentringConfig) -> dict[str, float]:
    m = config.units
    return dict(ln_mean=0.0, ln_mean_square=1.0, ln_power=1.0, ln_fraction=1 / m,
                preln_fraction=1 / math.pi + (1 - 1 / math.pi) / m, relu_layer_mean=1 / math.sqrt(2 * math.pi),
                relu_layer_spread=0.5 - 1 / (2 * math.pi))


CENTRING_LABELS = dict(
    ln_mean="E_W[mean_𝔏(Wx)] = 0 (units s‖x‖/sqrt(fan_in M))",
    ln_mean_square="E_W[mean_𝔏(Wx)²] = s²‖x‖²/(fan_in M)",
    ln_power="E_W[P_𝔏(Wx)] = s²‖x‖²/fan_in",
    ln_fraction="LN's post-affine centring removes the fraction 1/M of the power",
    preln_fraction="PreLN's pre-affine centring of ReLU(u) removes 1/π + (1 − 1/π)/M of the power",
    relu_layer_mean="mean_𝔏(ReLU(u_n)) → 1/sqrt(2π) for every input",
    relu_layer_spread="M·Var_n(mean_𝔏 ReLU(u_n)) = 1/2 − 1/(2π): spread O(1/sqrt(M)) across inputs",
)


def centring_comparisons(config: CentringConfig) -> list[Comparison]:
    pred = centring_predictions(config)
    out = []
    for q, label in CENTRING_LABELS.items():
        tol = MC_TOL / config.units if q == "ln_fraction" else MC_TOL
        out.append(Comparison(q, "==", pred[q], tol, "mean", label, cells=["value"], cell_name=""))
    return out


def centring_negative_controls(config: CentringConfig) -> list[Comparison]:
    return [Comparison("ln_fraction", "==", 1 / math.pi, MC_TOL, "mean",
                       "false: LN's post-affine centring removes the fraction 1/π", cells=["value"], cell_name=""),
            Comparison("preln_fraction", "==", 1 / config.units, MC_TOL / config.units, "mean",
                       "false: PreLN's pre-affine centring removes only 1/M, as LN's", cells=["value"], cell_name="")]


register(Claim(
    key="BU11",
    title="Why pre-affine centring differs from LN's: 1/M of the power after W, 1/π before it",
    statement="W i.i.d. N(0, s²/fan_in), M outputs, fixed x: E_W mean_𝔏(Wx) = 0, E_W mean_𝔏(Wx)² = "
              "s²‖x‖²/(fan_in M), E_W P_𝔏(Wx) = s²‖x‖²/fan_in, so LN's centring removes 1/M of the power; PreLN's "
              "centring of x = ReLU(u) removes E mean_𝔏(x)²/E P_𝔏(x) = 1/π + (1 − 1/π)/M; mean_𝔏(ReLU(u_n)) → "
              "1/sqrt(2π) for every input with M Var_n = 1/2 − 1/(2π).",
    configs=lambda mode: [CentringConfig()] + ([CentringConfig(512, 128, draws=1024, inputs=1024),
                                                 CentringConfig(16, 4, 1.0)] if mode == "full" else []),
    hypotheses=lambda config: [], measure=centring_measure, comparisons=centring_comparisons,
    negative_controls=centring_negative_controls, reported=tuple(CENTRING_LABELS),
    realizations={"quick": 16, "full": 64},
))
