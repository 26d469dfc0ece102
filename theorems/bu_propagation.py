"""BU2, BU3, BU3b — information propagation at initialization (SPEC-companions §7A.5), on the nets of
:mod:`theorems._bunets` (torch float64, every norm of a panel on the same realization).

**BU2** (S for BN, BMLV, LMBV; D for PreLN, RegNorm). ReLU, no skips: the representation correlation
``c^l = Pearson(vec u^l(X), vec u^l(X'))`` of two similar minibatches (δ = 0.05) at depth ``l*``:
``c_bn, c_bmlv, c_preln ≤ min(c_ln, c_lmbv) − 0.3``; "BMLV tracks BN" ``|c_bmlv − c_bn| ≤ 0.25 |c_ln − c_bn|``;
"LMBV tracks LN" ``|c_lmbv − c_ln| ≤ 0.25 |c_ln − c_bn|``; LN, RegNorm, none stay ``≥ c^0 − 0.01`` at every layer.
One-sided, Student-t over realizations of the paired differences (Bonferroni over the cells: SPEC-companions asks
for Holm, which is uniformly more powerful; Bonferroni is the engine's, and more conservative). Hypotheses: a non-odd
φ (tanh: HYPOTHESIS NOT MET, see BU3b), width ≥ 256, batch ≥ 32, uncentred inputs. Negative controls: "LN
decorrelates fastest" (``c_ln ≤ min(c_bn, c_bmlv, c_preln, c_lmbv) − 0.3``) and "LMBV tracks BN".

**BU3** (D). The small-perturbation growth ratio ``ρ̂`` (δ = 1e-4, d_max = 1e-3, :func:`theorems._bunets.growth_ratio`)
tends to the slope ``χ`` of the kernel map at ``c = 1`` (§7A.4): ``π/(π−1) = 1.46694`` for BN, BMLV and PreLN (they
remove the common mean of the ReLU outputs), ``1`` for LN, RegNorm and none. Asymptotic (judged over a width sweep,
like T1) with the batch growing with the width, ``B = width/8`` (§7A.4's setting is ``M, B → ∞``): BN's and BMLV's
rates exceed ``χ`` at a fixed ``B`` (Yang et al. 2019; BN at width 2048, B = 128: ≈ 1.477), and ``ρ̂`` averages the
perturbations of the ``B`` inputs (PreLN at width 1024: per-realization spread 0.012, 0.008, 0.005 at B = 32, 128,
512), so at B = 128 a ±0.5 % certificate at width 2048 would need ≥ 10 realizations. Cells: ``|ρ̂ − χ| ≤ 0.5 %·χ``
(centred), ``|ρ̂ − 1| ≤ 0.02`` (uncentred); the trend: the excess shrinks as the width grows. "From below" for the
uncentred norms (SPEC-companions) is not asserted: LN measures 1.02 ± 0.02 at width 512 here (0.978/0.987 there),
1.000 ± 0.01 at 2048. LMBV is reported, not asserted (open item of §7C: it measures slightly above 1,
unexplained). Negative controls: the rates swapped between the classes ("χ = 1 for BN", "χ = π/(π−1) for LN").

**BU3b** (D, mechanism control). With φ = tanh, ``Eφ = 0``: centring changes nothing, and every norm has
``ρ̂ ≈ χ = E[sech⁴u]/E[tanh²u] = 1.17781`` (±1.5 %). LMBV's 1.27 (open item of §7C) is reported, not asserted.
Negative control: "BN decorrelates faster than LN for tanh" (``ρ̂_bn / ρ̂_ln ≥ 1.05``; with ReLU the ratio is 1.47).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from randnet.checks import check_int, check_number
from randnet.roundoff import FLOAT64_EXACT
from theorems import _bunets as bu
from theorems import _torchnets as tn
from theorems.base import Claim, Comparison, Hypothesis, register

# -- BU2 -----------------------------------------------------------------------------------------------------
MARGIN = 0.3
TRACK = 0.25
STAY = 0.01
BU2_NORMS = ("bn", "bmlv", "preln", "ln", "lmbv", "regnorm", "none")
CENTRED_BU2 = ("bn", "bmlv", "preln")
ORDERED_BU2 = ("ln", "regnorm", "none")


@dataclass(frozen=True)
class CorrelationConfig(bu.PanelConfig):
    """A panel of norms and the depth ``l_star`` where the ranking is checked."""

    l_star: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("l_star", self.l_star)
        if self.l_star > self.depth:
            raise ValueError(f"l_star = {self.l_star} is deeper than the net (depth {self.depth})")
        missing = [n for n in BU2_NORMS if n not in self.norms]
        if missing:
            raise ValueError(f"BU2 compares {', '.join(BU2_NORMS)}: the panel lacks {missing}")

    def label(self) -> str:
        return f"{self.net_label()}, l* = {self.l_star}"


def correlation_measure(config: CorrelationConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """``c^l`` per norm (``c[norm]``, ``L`` cells) and ``c^0``; at ``l*`` the paired differences of the ranking; per
    ordered norm the worst ``min_l c^l − c^0``."""
    real = bu.sample(config, ss)
    c = {}
    with tn.single_thread():
        for norm in config.norms:
            d0, d = bu.representation_decorrelation(config, real, norm)
            c[norm] = 1 - d
    c0 = 1 - d0
    at = {n: v[config.l_star - 1] for n, v in c.items()}
    spread = abs(at["ln"] - at["bn"])
    return {**{f"c[{n}]": v for n, v in c.items()}, "c0": np.array([c0]),
            "centred_gap": np.array([min(at["ln"], at["lmbv"]) - at[n] for n in CENTRED_BU2]),
            "bmlv_tracks_bn": np.array([TRACK * spread - abs(at["bmlv"] - at["bn"])]),
            "lmbv_tracks_ln": np.array([TRACK * spread - abs(at["lmbv"] - at["ln"])]),
            "lmbv_tracks_bn": np.array([TRACK * spread - abs(at["lmbv"] - at["bn"])]),
            "ln_fastest": np.array([min(at[n] for n in ("bn", "bmlv", "preln", "lmbv")) - at["ln"]]),
            "stay": np.array([np.min(c[n]) - c0 for n in ORDERED_BU2])}


def relu_like_hypotheses(config: bu.NetSpec) -> list[Hypothesis]:
    """BU2's: a non-odd φ, width ≥ 256, batch ≥ 32, uncentred inputs."""
    odd = config.activation in ("tanh", "identity")
    return [Hypothesis("φ not odd (Eφ(u) ≠ 0: centring matters)", not odd,
                       f"φ = {config.activation}" + (" is odd: see BU3b" if odd else "")),
            Hypothesis("width ≥ 256", config.width >= 256, f"width = {config.width}"),
            Hypothesis("batch ≥ 32", config.batch >= 32, f"B = {config.batch}"),
            Hypothesis("uncentred inputs", True, "X = m + ξ: every input shares the offset m ~ N(0, I)")]


def _single(quantity, relation, prediction, label, tolerance=0.0):
    return Comparison(quantity, relation, prediction, tolerance, "mean", label, cells=["l*"], cell_name="")


def correlation_comparisons(config: CorrelationConfig) -> list[Comparison]:
    return [
        Comparison("centred_gap", ">=", MARGIN, 0.0, "mean", f"c_n(l*) ≤ min(c_ln, c_lmbv)(l*) − {MARGIN} for the "
                   "centred norms", cells=list(CENTRED_BU2), cell_name="norm"),
        _single("bmlv_tracks_bn", ">=", 0.0, f"BMLV tracks BN: |c_bmlv − c_bn| ≤ {TRACK}·|c_ln − c_bn| at l*"),
        _single("lmbv_tracks_ln", ">=", 0.0, f"LMBV tracks LN: |c_lmbv − c_ln| ≤ {TRACK}·|c_ln − c_bn| at l*"),
        Comparison("stay", ">=", -STAY, 0.0, "mean", f"LN, RegNorm, none stay ≥ c^0 − {STAY} at every layer "
                   "(worst layer)", cells=list(ORDERED_BU2), cell_name="norm"),
    ]


def correlation_negative_controls(config: CorrelationConfig) -> list[Comparison]:
    """With an odd φ (HYPOTHESIS NOT MET) every norm decorrelates alike, so "LMBV tracks BN" is no longer false there."""
    out = [_single("ln_fastest", ">=", MARGIN, f"false: LN decorrelates fastest (c_ln ≤ min of the others − {MARGIN})")]
    if all(h.met for h in relu_like_hypotheses(config)[:1]):
        out.append(_single("lmbv_tracks_bn", ">=", 0.0,
                           f"false: LMBV tracks BN (|c_lmbv − c_bn| ≤ {TRACK}·|c_ln − c_bn|)"))
    return out


def correlation_configs(mode: str) -> list[CorrelationConfig]:
    """cheap: FC, input dim 256, width 512, depth 40, B = 128, l* = 20 (and tanh: HYPOTHESIS NOT MET);
    paper-scale: FC on 784-d inputs, width 1024, depth 50; the WRN-26-2-sized conv (no skips) on 32×32×3."""
    base = CorrelationConfig(width=512, depth=40, batch=128, input_dim=256, norms=BU2_NORMS, l_star=20)
    if mode == "quick":
        return [base, base.__class__(**{**base.describe(), "width": 256, "depth": 20, "activation": "tanh"})]
    conv = dict(width=64, depth=24, batch=128, input_dim=3, spatial=32, kernel_size=3, l_star=12)
    return [base.__class__(**{**base.describe(), "width": 1024, "depth": 50, "input_dim": 784, "l_star": 25}),
            base.__class__(**{**base.describe(), **conv}), base]


register(Claim(
    key="BU2",
    title="Correlation ordering at initialization: BN ≈ BMLV ≈ PreLN decorrelate, LN ≈ LMBV ≈ RegNorm ≈ none do not",
    statement="ReLU, no skips, δ = 0.05: at depth l*, c_bn, c_bmlv, c_preln ≤ min(c_ln, c_lmbv) − 0.3; |c_bmlv − c_bn| "
              "≤ 0.25|c_ln − c_bn| (BMLV tracks BN); |c_lmbv − c_ln| ≤ 0.25|c_ln − c_bn| (LMBV tracks LN); LN, RegNorm "
              "and none stay ≥ c^0 − 0.01: batch-mean subtraction drives the decorrelation.",
    configs=correlation_configs, hypotheses=relu_like_hypotheses, measure=correlation_measure,
    comparisons=correlation_comparisons, negative_controls=correlation_negative_controls,
    reported=("c0", *(f"c[{n}]" for n in BU2_NORMS)), realizations={"quick": 4, "full": 10},
))


# -- BU3 and BU3b --------------------------------------------------------------------------------------------
GROWTH_DELTA = 1e-4
CENTRED_TOL = 0.005     # relative, BU3: "within 0.5 % of π/(π−1)"
UNCENTRED_TOL = 0.02    # absolute, BU3: ρ̂ → 1
ODD_TOL = 0.015         # relative, BU3b: ±1.5 %
REPORTED_ONLY = ("lmbv", "lmbv_c")  # not covered by the simple theory (§7C open item): measured, not asserted


@dataclass(frozen=True)
class GrowthConfig(bu.PanelConfig):
    """A panel for ``ρ̂``; ``batch_per_width > 0`` ties the batch to the width (``B = width · batch_per_width``), so
    that a width sweep also grows ``B``. ``ρ̂`` reads only the first 10 layers, which do not depend on the depth
    (weights are drawn layer by layer): a depth of 10 gives the same ``ρ̂`` as the cheap configuration's 14."""

    batch_per_width: float = 0.0

    def __post_init__(self) -> None:
        if self.batch_per_width:
            check_number("batch_per_width", self.batch_per_width, strict=True)
            object.__setattr__(self, "batch", max(2, round(self.width * self.batch_per_width)))
        super().__post_init__()

    def describe(self) -> dict:
        d = super().describe()
        if self.batch_per_width:
            del d["batch"]  # derived from the width
        return d

    def label(self) -> str:
        ratio = f" (B = width/{1 / self.batch_per_width:g})" if self.batch_per_width else ""
        return f"{self.net_label()}{ratio} [{', '.join(self.norms)}]"


def growth_measure(config: GrowthConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """``ρ̂`` per norm (``rho[norm]``, and all of them as ``rho``, one cell per norm of the panel in its order), and
    ``d^l`` per norm."""
    real = bu.sample(config, ss)
    out = {}
    with tn.single_thread():
        for norm in config.norms:
            _, d = bu.representation_decorrelation(config, real, norm)
            out[f"rho[{norm}]"] = np.array([bu.growth_ratio(d, config.d_max)])
            out[f"d[{norm}]"] = d
    out["rho"] = np.concatenate([out[f"rho[{n}]"] for n in config.norms])
    if "bn" in config.norms and "ln" in config.norms:
        out["bn_over_ln"] = out["rho[bn]"] / out["rho[ln]"]
    return out


def growth_hypotheses(config: GrowthConfig) -> list[Hypothesis]:
    return [Hypothesis("small perturbation (δ ≤ 1e-3: the slope at c = 1)", config.delta <= 1e-3,
                       f"δ = {config.delta:g}"),
            Hypothesis("at least 10 layers for ρ̂", config.depth >= bu.GROWTH_LAYERS, f"depth = {config.depth}")]


def _rho(norm: str, relation: str, prediction: float, tol: float, label: str) -> Comparison:
    return Comparison(f"rho[{norm}]", relation, prediction, tol, "mean", label, cells=["ρ̂"], cell_name="")


def growth_comparisons(config: GrowthConfig) -> list[Comparison]:
    out = []
    for norm in config.norms:
        if norm in REPORTED_ONLY:
            continue
        chi = bu.predicted_rate(norm, config.activation)
        if norm in bu.CENTRED:
            out.append(_rho(norm, "==", chi, CENTRED_TOL * chi, f"ρ̂_{norm} → χ_centred = {chi:.5f} (±0.5 %)"))
        else:
            out.append(_rho(norm, "==", chi, UNCENTRED_TOL, f"ρ̂_{norm} → χ_uncentred = {chi:.5f} (±{UNCENTRED_TOL})"))
    return out


def growth_negative_controls(config: GrowthConfig) -> list[Comparison]:
    """The rates swapped between the classes, for the first centred and the first uncentred norm of the panel
    (BN and LN where present: "χ = 1 for BN", "χ = π/(π−1) for LN")."""
    asserted = [n for n in config.norms if n not in REPORTED_ONLY]
    centred = next((n for n in asserted if n in bu.CENTRED), None)
    uncentred = next((n for n in asserted if n not in bu.CENTRED), None)
    out = []
    if centred:
        out.append(_rho(centred, "==", 1.0, UNCENTRED_TOL, f"false: χ = 1 for {centred}"))
    if uncentred:
        out.append(_rho(uncentred, "==", bu.CHI, CENTRED_TOL * bu.CHI, f"false: χ = π/(π−1) for {uncentred}"))
    return out


WIDEST = ("bn", "preln", "ln")                    # the norms BU3's targets name, up to width 2048 in quick mode
OTHERS = ("bmlv", "regnorm", "none", "lmbv")


def growth_configs(mode: str) -> list[GrowthConfig]:
    """B = width/8 throughout. quick: BN, PreLN, LN at widths 512 and 2048, BMLV, RegNorm, none, LMBV at 128 and
    1024 (the quick suite's budget), depth 10 (= the cheap configuration's first 10 layers); full: every norm at
    widths 512, 2048, 8192 (B up to 1024), depth 14."""
    net = dict(input_dim=256, delta=GROWTH_DELTA, batch_per_width=0.125)
    if mode == "quick":
        groups = [(WIDEST, (512, 2048)), (OTHERS, (128, 1024))]
        return [GrowthConfig(width=w, depth=10, norms=norms, **net) for norms, widths in groups for w in widths]
    return [GrowthConfig(width=w, depth=14, norms=WIDEST + OTHERS, **net) for w in (512, 2048, 8192)]


register(Claim(
    key="BU3",
    title="Small-perturbation growth rate π/(π−1) for BN, BMLV, PreLN; 1 for LN, RegNorm, none",
    statement="δ = 1e-4, d_max = 1e-3: ρ̂ → π/(π−1) = 1.46694 for bn, bmlv, preln (centred) and → 1 for ln, regnorm, "
              "none, as width grows (and B for bn, bmlv: B = width/8). LMBV: measured (≈ 1.03–1.06), not asserted — "
              "not covered by the simple theory (open item of SPEC-companions §7C).",
    configs=growth_configs, hypotheses=growth_hypotheses, measure=growth_measure, comparisons=growth_comparisons,
    negative_controls=growth_negative_controls, reported=("rho",), sweep="width",
    realizations={"quick": 12, "full": 20}, undefined=("rho[*", "rho"),  # growth_ratio: NaN if < 2 layers qualify
))


def odd_configs(mode: str) -> list[GrowthConfig]:
    norms = ("bn", "bmlv", "preln", "ln", "regnorm", "lmbv")
    base = GrowthConfig(width=1024, depth=10 if mode == "quick" else 14, batch=128, activation="tanh",
                        delta=GROWTH_DELTA, norms=norms)
    return [base] if mode == "quick" else [base, GrowthConfig(**{**base.describe(), "width": 4096})]


def odd_hypotheses(config: GrowthConfig) -> list[Hypothesis]:
    uncentred, centred = bu.mean_field_rates(config.activation)
    return growth_hypotheses(config) + [Hypothesis("φ odd (Eφ(u) = 0: centring is a no-op)",
                                                   abs(centred - uncentred) < FLOAT64_EXACT * centred,
                                                   f"φ = {config.activation}: χ_centred = {centred:.5f}, "
                                                   f"χ_uncentred = {uncentred:.5f}")]


def odd_comparisons(config: GrowthConfig) -> list[Comparison]:
    chi = bu.mean_field_rates(config.activation)[1]
    return [_rho(n, "==", chi, ODD_TOL * chi, f"ρ̂_{n} ≈ χ = {chi:.5f} (±1.5 %)") for n in config.norms
            if n not in REPORTED_ONLY]


def odd_negative_controls(config: GrowthConfig) -> list[Comparison]:
    return [Comparison("bn_over_ln", ">=", 1.05, 0.0, "mean", "false: BN decorrelates faster than LN for tanh "
                       "(ρ̂_bn / ρ̂_ln ≥ 1.05; 1.47 with ReLU)", cells=["ratio"], cell_name="")]


register(Claim(
    key="BU3b",
    title="Mechanism control: with an odd φ (tanh) centring changes nothing and every norm grows at 1.1778",
    statement="φ = tanh (Eφ = 0): ρ̂ ≈ E[sech⁴u]/E[tanh²u] = 1.17781 (±1.5 %) for bn, bmlv, preln, ln and regnorm "
              "alike: the BN/LN gap closes. LMBV: measured (≈ 1.27–1.30), not asserted — unexplained (open item of "
              "SPEC-companions §7C).",
    configs=odd_configs, hypotheses=odd_hypotheses, measure=growth_measure, comparisons=odd_comparisons,
    negative_controls=odd_negative_controls, reported=("rho",), realizations={"quick": 4, "full": 20},
    undefined=("rho[*", "rho"),  # growth_ratio: NaN if fewer than two layers qualify
))
