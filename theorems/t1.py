"""T1 — layer-normalized networks collapse (Theorem 1, SPEC §4).

Hypotheses: Definition 1, ``norm = ln`` (``ε = 0``), periodic conv, ``φ`` positive homogeneous and not
identically zero. With ``ρ = ‖ν_γ‖₂² / (‖ν_γ‖₂² + ‖ν_β‖₂²)`` (:attr:`NetConfig.rho`; ≈ 0.96296 for the
reference distributions), for each fixed depth ``l``, for large enough widths, with probability close to one,

    1 − P(μ_c(y^l))  ≲  ρ^{l−1}                                              (Eq. 6)

(``≲``: up to an arbitrarily small constant). Measured per layer: ``1 − P(μ_c(y^l)) / P(y^l)`` (equal to the
left side since ``P(y^l) = 1``, P1). Companions: the LN-as-scaling ratio ``r^l`` and the channel-wise
linearity ``Λ^l``; and the four power terms of ``y^l`` for the power plot.

Verdict (per width, per layer): the interval of the *mean* over realizations (the betting confidence sequence of
a quantity bounded in ``[0, 1]``, SPEC §5) must lie below
``ρ^{l−1} + δ`` with ``δ = DELTA``. Why the mean: the left side ``f_l`` lies in ``[0, 1]``, so if
``P(f_l > ρ^{l−1} + δ) → 0`` for every ``δ > 0`` (the claim) then ``limsup E f_l ≤ ρ^{l−1}``: the mean bound is a
necessary consequence of the claim, and it is what the quick mode's few realizations can decide — a
Clopper–Pearson certificate that the event holds "with probability ≥ 0.9" needs ≥ 35 realizations per cell even
when every one of them satisfies it (more after Bonferroni over the layers).

The bound holds for fixed ``l`` as the width grows; at a finite width the measured fraction has a floor
(finite-width fluctuations), so deep enough it crosses ``ρ^{l−1}``. The width sweep shows the crossing depth
(the first layer whose verdict is not PASS) moving deeper as the width grows, and the engine judges the trend:
the worst excess over the bound shrinks with the width.

Negative controls (must FAIL): the bound with ``γ`` and ``β`` swapped in ``ρ`` (``ρ̄ = 1 − ρ``, collapsing
almost completely after one layer), and P6's equality claimed in T1's setting (``1 − P(μ_c(y^l)) ≳ ρ^{l−1}``:
false, ReLU and uncentered data collapse faster than the bound). The suggested ``ρ²`` and ``ρ − 0.1`` are *not*
contradicted by ReLU networks at these widths (their curve lies well below ``ρ^{l−1}``): only P6's equality
case resolves perturbations of ``ρ`` of that size.
"""
from __future__ import annotations

from randnet import DatasetSpec, NetConfig, reference_config
from theorems._common import BOUND_DELTA as DELTA, collapse_limit, collapse_measure, definition1_hypotheses, \
    eps_hypothesis, layers, norm_hypothesis, periodic_conv_hypothesis, positive_homogeneous_hypothesis, rho_powers
from theorems.base import FRACTION, Claim, Comparison, Hypothesis, check_run_mode, register

WIDTHS = {"quick": (8, 16, 32, 64, 128), "full": (16, 32, 64, 128, 256, 512, 1024)}


def hypotheses(config: NetConfig) -> list[Hypothesis]:
    return [norm_hypothesis(config, ("ln",), plain=True), eps_hypothesis(config), periodic_conv_hypothesis(config),
            positive_homogeneous_hypothesis(config)] + definition1_hypotheses(config)


def comparisons(config: NetConfig) -> list[Comparison]:
    return [Comparison("noncollapsed", "<=", rho_powers(config), DELTA, "mean", "1 − P(μ_c(y^l)) ≲ ρ^{l−1}",
                       layers(config), bounds=FRACTION)]


def negative_controls(config: NetConfig) -> list[Comparison]:
    return [Comparison("noncollapsed", "<=", rho_powers(config, 1 - config.rho), DELTA, "mean",
                       "1 − P(μ_c(y^l)) ≲ (1 − ρ)^{l−1}: γ, β swapped in ρ (false)", layers(config), bounds=FRACTION),
            Comparison("noncollapsed", ">=", rho_powers(config), DELTA, "mean",
                       "1 − P(μ_c(y^l)) ≳ ρ^{l−1}: P6's equality for ReLU, uncentered data (false)", layers(config),
                       bounds=FRACTION)]


def configs(mode: str) -> list[NetConfig]:
    """Reference distributions, ReLU, LN. quick: 16 inputs 8×8, 50 layers; full: the paper's 128 inputs 16×16."""
    check_run_mode(mode)
    if mode == "quick":
        return [NetConfig(widths=c, depth=50, norm="ln", dataset=DatasetSpec(n=16, height=8, width=8))
                for c in WIDTHS[mode]]
    return [reference_config(width=c, depth=50, norm="ln") for c in WIDTHS[mode]]


register(Claim(
    key="T1", title="Layer-normalized networks collapse (Theorem 1)",
    statement="norm = ln, φ positive homogeneous: for each depth l, for large widths, 1 − P(μ_c(y^l)) ≲ ρ^{l−1}, "
              "ρ = ‖ν_γ‖² / (‖ν_γ‖² + ‖ν_β‖²).",
    configs=configs, hypotheses=hypotheses, measure=collapse_measure, comparisons=comparisons,
    negative_controls=negative_controls, reported=("ln_scaling_ratio", "linearity"), sweep="width",
    realizations={"quick": 16, "full": 50}, plots=("comparison_log", "sweep_convergence", "power"),
    limit=collapse_limit))
