"""P6 — the equality case of Theorem 1 (Proposition 6, SPEC §4, reconstructed).

Same setting as T1 (Definition 1, ``norm = ln``, ``ε = 0``, periodic conv) with ``φ = identity`` and a
*centered* dataset (``μ_c(x) = 0`` for every input channel ``c``). For each fixed depth ``l``, as the width grows,

    1 − P(μ_c(y^l))  ≃  ρ^{l−1},        ρ = ‖ν_γ‖₂² / (‖ν_γ‖₂² + ‖ν_β‖₂²)

(equality up to an arbitrarily small constant): layer 1 is not collapsed at all (centered data, linear conv),
and each later layer's shift ``β`` adds channel-constant power ``‖ν_β‖₂²`` to the ``‖ν_γ‖₂²`` that the affine
step keeps, while the identity, the periodic conv and (at large width) LN preserve the fraction.

Verdict per width and layer: the interval of the mean over realizations (the betting confidence sequence of a
quantity bounded in ``[0, 1]``) lies within ``±DELTA`` of
``ρ^{l−1}``; the engine judges the trend (the worst gap shrinks as the width grows). The gap has a bias of
order ``l/C`` (the fraction is a convex function of the per-layer gains) and a spread of order
``f(1 − f) sqrt(2l/C)`` (per layer, the gain of the channel-constant direction, ``χ²_C / C``, and the realized
``β`` power fluctuate by ``sqrt(2/C)``): the reported ``squared_gap`` (its mean is the mean squared gap)
shows the ``1/C`` rate of the squared gap, i.e. about ``1/sqrt(C)`` for the gap itself.
Negative control (must FAIL): the prediction with a perturbed ``ρ`` (``ρ²``: two shifts' worth of power per layer).
"""
from __future__ import annotations

import numpy as np

from randnet import DatasetSpec, NetConfig, reference_config
from theorems._common import centered_hypothesis, collapse_limit, collapse_measure, definition1_hypotheses, \
    eps_hypothesis, layers, norm_hypothesis, periodic_conv_hypothesis, rho_powers
from theorems.base import FRACTION, Claim, Comparison, Hypothesis, check_run_mode, register

DELTA = 0.05
"""δ of the equality "≃": 5% of the layer's power ``P(y^l) = 1``; fixed, not fitted to the data."""
WIDTHS = {"quick": (32, 64, 128), "full": (32, 64, 128, 256, 512, 1024)}
DEPTH = {"quick": 8, "full": 50}


def measure(config: NetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """:func:`theorems._common.collapse_measure`, plus ``squared_gap = (1 − P(μ_c(y^l)) − ρ^{l−1})²`` per layer."""
    out = collapse_measure(config, ss)
    out["squared_gap"] = (out["noncollapsed"] - rho_powers(config)) ** 2
    return out


def hypotheses(config: NetConfig) -> list[Hypothesis]:
    return [norm_hypothesis(config, ("ln",), plain=True), eps_hypothesis(config), periodic_conv_hypothesis(config),
            Hypothesis("φ = identity", config.activation == "identity", f"φ = {config.activation}"),
            centered_hypothesis(config)] + definition1_hypotheses(config)


def comparisons(config: NetConfig) -> list[Comparison]:
    return [Comparison("noncollapsed", "==", rho_powers(config), DELTA, "mean", "1 − P(μ_c(y^l)) ≃ ρ^{l−1}",
                       layers(config), bounds=FRACTION)]


def negative_controls(config: NetConfig) -> list[Comparison]:
    return [Comparison("noncollapsed", "==", rho_powers(config, config.rho ** 2), DELTA, "mean",
                       "1 − P(μ_c(y^l)) ≃ ρ^{2(l−1)}: perturbed ρ (false)", layers(config), bounds=FRACTION)]


def configs(mode: str) -> list[NetConfig]:
    """Reference distributions, identity, LN, centered Gaussian data. quick: 16 inputs 8×8; full: 128 inputs 16×16."""
    check_run_mode(mode)
    if mode == "quick":
        return [NetConfig(widths=c, depth=DEPTH[mode], norm="ln", activation="identity",
                          dataset=DatasetSpec(name="centered", n=16, height=8, width=8)) for c in WIDTHS[mode]]
    return [reference_config(width=c, depth=DEPTH[mode], norm="ln", activation="identity")
            .replace(dataset=DatasetSpec(name="centered", n=128, height=16, width=16)) for c in WIDTHS[mode]]


register(Claim(
    key="P6", title="The equality case: identity activation, centered data (Proposition 6)",
    statement="norm = ln, φ = identity, centered data: for each depth l, for large widths, 1 − P(μ_c(y^l)) ≃ ρ^{l−1}.",
    configs=configs, hypotheses=hypotheses, measure=measure, comparisons=comparisons,
    negative_controls=negative_controls, reported=("squared_gap", "ln_scaling_ratio"), sweep="width",
    realizations={"quick": 48, "full": 50},
    plots=("comparison", "sweep_convergence", "power"), limit=collapse_limit))
