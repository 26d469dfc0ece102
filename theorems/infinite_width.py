"""T1 and P6 at infinite width, and the Monte Carlo's convergence to the limit (SPEC §8, §5).

At C = ∞ the layer statistics of the random net of Definition 1 are deterministic functions of the kernel recursion
of SPEC §8 (:func:`randnet.infinite_width_terms`); write ``f_l = 1 − P(μ_c(y^l))`` (``P(y^l) = 1``) and
``ρ = ‖ν_γ‖₂² / (‖ν_γ‖₂² + ‖ν_β‖₂²)``.

- **T1-inf** (deterministic): ``f_l ≤ ρ^{l−1}`` at every depth, and the layer-wise contraction ``f_l / f_{l−1} ≤ ρ``
  (the step of Theorem 1's proof: the affine step multiplies the non-collapsed fraction by ``ρ``, a positive
  homogeneous ``φ`` can only lower it, the periodic conv and LN preserve it). SPEC §8 reports the contraction rising
  from 0.736 (l = 2) to 0.938 (l = 40) on 8 gaussian inputs 8×8. Negative controls: ``γ``, ``β`` swapped in ``ρ``;
  the contraction bound 5 % too tight (``0.95 ρ``), false in the deep layers, where the net acts channel-wise
  linearly and the contraction approaches ``ρ``.
- **P6-inf** (deterministic): identity ``φ``, centered data: ``f_l = ρ^{l−1} f_1`` exactly (the sharp form, residual
  ``f_l / f_1 − ρ^{l−1} = 0``), hence ``|f_l − ρ^{l−1}| ≤ 1 − f_1`` (the form ``≃ ρ^{l−1}`` of Proposition 6, up to
  ``1 − f_1``, which vanishes for inputs of equal norm). Negative controls: ``ρ²`` in the sharp form; the loose
  form without its allowance ``1 − f_1`` (false when the inputs' norms differ).
- **T1-conv** (Monte Carlo over a width sweep, fixed dataset): the excess of the finite-width ``f_l`` over the
  limit, averaged over the layers, ``g = mean_l (f_l(C) − f_l(∞))``, tends to 0: ``|E g| ≤ δ`` at the widest
  width, shrinking with ``C``; the sweep's log-log slope of ``E g`` (with its bootstrap interval) is the measured
  rate of the mean (about ``−1`` is expected for means of power fractions: measured, not assumed), that of
  ``E|g|`` the rate of one realization (about ``−1/2``). Negative control: the same Monte Carlo against the limit
  of the identity net (a wrong reference).

Tolerances: the deterministic claims hold to the round-off of the float64 recursion
(:func:`randnet.roundoff.limit_tolerance`); ``δ`` of T1-conv is fixed, not fitted.
"""
from __future__ import annotations

import numpy as np

from randnet import DatasetSpec, NetConfig, draw_data
from randnet.roundoff import limit_tolerance
from theorems._common import centered_hypothesis, collapse_measure, \
    definition1_hypotheses, eps_hypothesis, layers, limit_terms, norm_hypothesis, periodic_conv_hypothesis, \
    positive_homogeneous_hypothesis, representative_data, require_nonzero_inputs, rho_powers
from theorems.base import Claim, Comparison, Hypothesis, check_run_mode, register

TIGHT = 0.95
"""T1-inf's negative control: the contraction bound ``TIGHT · ρ`` (5 % too tight)."""
DELTA = 0.02
"""δ of T1-conv: the Monte Carlo's mean lies within 2 % of the layer's power of the limit. (One realization's
layer-averaged excess spreads by about 0.016 at C = 256 on the quick 8 inputs 4×4: δ = 0.01 left the widest quick
width undecided at 24 realizations.)"""
CONV_WIDTHS = {"quick": (16, 64, 256), "full": (16, 64, 256, 1024)}


def _noncollapsed(config: NetConfig, data: np.ndarray) -> np.ndarray:
    """``f_l = 1 − P(μ_c(y^l))`` at C = ∞ on ``data``."""
    return 1 - limit_terms(config, data)[:, 0]


def _data(config: NetConfig, ss: np.random.SeedSequence) -> np.ndarray:
    data = draw_data(config, ss)
    require_nonzero_inputs(data)
    return data


def tolerance(config: NetConfig) -> float:
    """:func:`randnet.roundoff.limit_tolerance` for this configuration's positions and depth."""
    n, h, w = representative_data(config.dataset).shape[:3]
    if config.first_stride == 2:  # the first conv subsamples the positions
        h, w = (h + 1) // 2, (w + 1) // 2
    return limit_tolerance(n * h * w, config.depth)


def ln_hypotheses(config: NetConfig) -> list[Hypothesis]:
    """Where the limit is the exact recursion T1 and P6 assume: plain LN, ``ε = 0``, periodic conv, Definition 1."""
    return [norm_hypothesis(config, ("ln",), plain=True), eps_hypothesis(config),
            periodic_conv_hypothesis(config)] + definition1_hypotheses(config)


# -- T1 at C = ∞ --------------------------------------------------------------------------------------------------
def t1_measure(config: NetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """``noncollapsed`` ``f_l`` and ``contraction`` ``f_l / f_{l−1}`` (``l = 2 … L``) at C = ∞, and ``power_terms``."""
    terms = limit_terms(config, _data(config, ss))
    f = 1 - terms[:, 0]
    return {"noncollapsed": f, "contraction": f[1:] / f[:-1], "power_terms": terms}


def t1_comparisons(config: NetConfig) -> list[Comparison]:
    tol, deep = tolerance(config), layers(config)[1:]
    return [Comparison("noncollapsed", "<=", rho_powers(config), tol, "exact", "C = ∞: 1 − P(μ_c(y^l)) ≤ ρ^{l−1}",
                       layers(config)),
            Comparison("contraction", "<=", config.rho, tol, "exact", "C = ∞: f_l / f_{l−1} ≤ ρ", deep)]


def t1_negative_controls(config: NetConfig) -> list[Comparison]:
    tol = tolerance(config)
    return [Comparison("noncollapsed", "<=", rho_powers(config, 1 - config.rho), tol, "exact",
                       "C = ∞: 1 − P(μ_c(y^l)) ≤ (1 − ρ)^{l−1}: γ, β swapped in ρ (false)", layers(config)),
            Comparison("contraction", "<=", TIGHT * config.rho, tol, "exact",
                       f"C = ∞: f_l / f_{{l−1}} ≤ {TIGHT}·ρ: 5 % too tight (false deep)", layers(config)[1:])]


def t1_configs(mode: str) -> list[NetConfig]:
    """Reference distributions, ReLU, LN (widths ignored). quick: SPEC §8's table, 8 gaussian inputs 8×8, 40 layers;
    full: 32 inputs 16×16, 50 layers."""
    check_run_mode(mode)
    if mode == "quick":
        return [NetConfig(widths=1, depth=40, norm="ln", dataset=DatasetSpec(n=8, height=8, width=8))]
    return [NetConfig(widths=1, depth=50, norm="ln", dataset=DatasetSpec(n=32, height=16, width=16))]


register(Claim(
    key="T1-inf", title="Theorem 1 at infinite width: the collapse bound and the layer-wise contraction",
    statement="norm = ln, φ positive homogeneous, C = ∞ (SPEC §8): 1 − P(μ_c(y^l)) ≤ ρ^{l−1} at every depth, and "
              "f_l / f_{l−1} ≤ ρ.",
    configs=t1_configs,
    hypotheses=lambda c: ln_hypotheses(c) + [positive_homogeneous_hypothesis(c)],
    measure=t1_measure, comparisons=t1_comparisons, negative_controls=t1_negative_controls,
    reported=("contraction",), realizations={"quick": 2, "full": 2}, plots=("comparison_log",)))


# -- P6 at C = ∞ --------------------------------------------------------------------------------------------------
def p6_measure(config: NetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """At C = ∞: ``noncollapsed`` ``f_l``, ``sharp_residual = f_l / f_1 − ρ^{l−1}``,
    ``loose_excess = |f_l − ρ^{l−1}| − (1 − f_1)``, ``gap = f_l − ρ^{l−1}``, ``unequal_norms = 1 − f_1`` (one cell)."""
    f, powers = _noncollapsed(config, _data(config, ss)), rho_powers(config)
    return {"noncollapsed": f, "sharp_residual": f / f[0] - powers, "loose_excess": np.abs(f - powers) - (1 - f[0]),
            "gap": f - powers, "unequal_norms": np.array([1 - f[0]])}


def p6_comparisons(config: NetConfig) -> list[Comparison]:
    tol, cells = tolerance(config), layers(config)
    return [Comparison("sharp_residual", "==", 0.0, tol, "exact", "C = ∞: f_l = ρ^{l−1} f_1 (sharp form)", cells),
            Comparison("loose_excess", "<=", 0.0, tol, "exact", "C = ∞: |f_l − ρ^{l−1}| ≤ 1 − f_1 (loose form)",
                       cells)]


def p6_negative_controls(config: NetConfig) -> list[Comparison]:
    tol, cells = tolerance(config), layers(config)
    return [Comparison("noncollapsed", "==", rho_powers(config, config.rho ** 2), tol, "exact",
                       "C = ∞: f_l = ρ^{2(l−1)}: perturbed ρ (false)", cells),
            Comparison("gap", "==", 0.0, tol, "exact",
                       "C = ∞: f_l = ρ^{l−1} without the allowance 1 − f_1 (false: the inputs' norms differ)", cells)]


def p6_configs(mode: str) -> list[NetConfig]:
    """Reference distributions, identity, LN, centered gaussian data (widths ignored). quick: 8 inputs 8×8 (SPEC §4
    P6's example), 50 layers; full: 32 inputs 16×16."""
    check_run_mode(mode)
    n, size = (8, 8) if mode == "quick" else (32, 16)
    return [NetConfig(widths=1, depth=50, norm="ln", activation="identity",
                      dataset=DatasetSpec(name="centered", n=n, height=size, width=size))]


register(Claim(
    key="P6-inf", title="Proposition 6 at infinite width: f_l = ρ^{l−1} f_1 exactly",
    statement="norm = ln, φ = identity, centered data, C = ∞ (SPEC §8): 1 − P(μ_c(y^l)) = ρ^{l−1} (1 − P(μ_c(y^1))), "
              "hence ≃ ρ^{l−1} up to P(μ_c(y^1)).",
    configs=p6_configs,
    hypotheses=lambda c: ln_hypotheses(c) + [
        Hypothesis("φ = identity", c.activation == "identity", f"φ = {c.activation}"), centered_hypothesis(c)],
    measure=p6_measure, comparisons=p6_comparisons, negative_controls=p6_negative_controls,
    reported=("unequal_norms", "noncollapsed"), realizations={"quick": 2, "full": 2}, plots=("comparison",)))


# -- the Monte Carlo converges to the limit -----------------------------------------------------------------------
def conv_measure(config: NetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """One finite-width realization against the limit on the same (fixed) dataset: ``layer_gap`` ``f_l(C) − f_l(∞)``,
    ``limit_gap`` its mean over the layers (one cell), ``wrong_gap`` the same against the identity net's limit."""
    f = collapse_measure(config, ss)["noncollapsed"]
    data = representative_data(config.dataset)
    gap = f - _noncollapsed(config, data)
    wrong = f - _noncollapsed(config.replace(activation="identity"), data)
    return {"limit_gap": np.array([gap.mean()]), "layer_gap": gap, "wrong_gap": np.array([wrong.mean()])}


def conv_comparisons(config: NetConfig) -> list[Comparison]:
    return [Comparison("limit_gap", "==", 0.0, DELTA, "mean", "mean_l (f_l(C) − f_l(∞)) → 0", ["mean over l"]),
            Comparison("limit_gap", "<=", 0.0, DELTA, "mean",
                       "mean_l (f_l(C) − f_l(∞)) ≤ δ: the finite width's excess (its slope: the rate of the mean)",
                       ["mean over l"])]


def conv_negative_controls(config: NetConfig) -> list[Comparison]:
    return [Comparison("wrong_gap", "==", 0.0, DELTA, "mean",
                       "mean_l (f_l(C) − f_l^{identity}(∞)) → 0: the identity net's limit (false)", ["mean over l"])]


def fixed_dataset_hypothesis(config: NetConfig) -> Hypothesis:
    """The Monte Carlo averages over the parameters of one dataset, the one the limit is computed on."""
    fixed = config.dataset.path is not None or not config.dataset.redraw
    return Hypothesis("fixed dataset (the limit's)", fixed,
                      "a file" if config.dataset.path else f"redraw = {config.dataset.redraw}")


def conv_configs(mode: str) -> list[NetConfig]:
    """Reference distributions, ReLU, LN, one fixed dataset; quick: 8 inputs 4×4, 12 layers; full: SPEC §8's table
    (8 inputs 8×8, dataset seed 3), 20 layers."""
    check_run_mode(mode)
    data = DatasetSpec(n=8, height=4, width=4, redraw=False) if mode == "quick" else \
        DatasetSpec(n=8, height=8, width=8, redraw=False, seed=3)
    return [NetConfig(widths=c, depth=12 if mode == "quick" else 20, norm="ln", dataset=data)
            for c in CONV_WIDTHS[mode]]


register(Claim(
    key="T1-conv", title="The Monte Carlo converges to the infinite-width limit",
    statement="norm = ln (SPEC §8): the finite-width 1 − P(μ_c(y^l)) tends to its C = ∞ value; the rate of the "
              "mean excess is measured.",
    configs=conv_configs, hypotheses=lambda c: ln_hypotheses(c) + [fixed_dataset_hypothesis(c)],
    measure=conv_measure, comparisons=conv_comparisons, negative_controls=conv_negative_controls,
    reported=("layer_gap",), sweep="width", realizations={"quick": 24, "full": 32},
    plots=("comparison", "sweep_convergence"),
    limit=lambda c: {"limit_gap": np.zeros(1), "layer_gap": np.zeros(c.depth)}))
