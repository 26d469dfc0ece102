"""FIG5 — the paper's Fig. 5 (random nets, Appendix A.2.1): Theorem 1 verified, LN as a scaling, linearity.

Read from the realizations of Fig. 2's panel (:func:`theorems._panels.fig2_panel_measure`; FIG5 shares FIG2's
realizations, so on the same configuration and seed nothing is computed twice). Per layer ``l = 1 … L``:

- left, LN: ``f_l = 1 − P(μ_c(y^l))`` against Theorem 1's bound ``ρ^{l−1}`` — "upper bounded with high probability
  by ρ^{l−1}": the Student-t interval of the mean of ``f_l`` lies below ``ρ^{l−1} + δ`` (``δ = BOUND_DELTA``, as T1);
- centre, LN: the LN-as-scaling ratio ``r^l = (E_x σ_x(x^l))² / E_x[σ_x(x^l)²]`` — "with high probability very close
  to one": the mean of ``r^l`` lies within :data:`VERY_CLOSE` of one (``r^l ≤ 1`` by Jensen);
- right, LN and GN: the linearity ``Λ^l = P(z^l − z̃^l) / P(z^l)`` — "deep in random nets, layers are effectively
  very close to channel-wise linear with LN; close to channel-wise linear with GN": the mean of ``Λ^l`` over the deep
  layers ``l > L/2`` (:func:`theorems._panels.deep_layers`) is at most :data:`VERY_CLOSE` for LN and :data:`CLOSE`
  for GN.

The thresholds are fixed before any run, in units of the post-activation power: a ReLU of a Gaussian pre-activation
``N(0, 1)`` (no collapse, BN's regime) has ``Λ = (1 − 2/π)/2 ≈ 0.18``; "close" is ``Λ ≤ 0.1`` (about half of it),
"very close" ``≤ 0.01`` (a tenth of that), and the same ``0.01`` for ``1 − r^l``.

Negative controls (must FAIL): the bound with ``γ`` and ``β`` swapped in ``ρ`` (``(1 − ρ)^{l−1}``, as T1); ``r^l``
far from one (``r^l ≤ 0.8``); and BN's deep layers as linear as LN's (``Λ ≤ 0.01``: BN avoids collapse, so its
layers stay nonlinear).
"""
from __future__ import annotations

from theorems._common import BOUND_DELTA, definition1_hypotheses, eps_hypothesis, layers, \
    positive_homogeneous_hypothesis, rho_powers
from theorems._panels import PanelConfig, fig2_panel_configs, fig2_panel_measure
from theorems.base import Claim, Comparison, Hypothesis, register

VERY_CLOSE = 0.01
""""very close": ``1 − r^l ≤ 0.01`` (LN-as-scaling), deep ``Λ ≤ 0.01`` (LN)."""
CLOSE = 0.1
""""close": deep ``Λ ≤ 0.1`` (GN)."""
FAR_RATIO = 0.8
"""The negative control's false ``r^l ≤ 0.8``."""


def fig5_hypotheses(config: PanelConfig) -> list[Hypothesis]:
    """Theorem 1's, for the LN net of the panel: ``ε = 0``, φ positive homogeneous, Definition 1."""
    net = config.config_for("ln")
    return [eps_hypothesis(net), positive_homogeneous_hypothesis(net)] + definition1_hypotheses(net)


def fig5_comparisons(config: PanelConfig) -> list[Comparison]:
    net = config.net
    return [
        Comparison("noncollapsed[ln]", "<=", rho_powers(net), BOUND_DELTA, "mean",
                   "left: LN's 1 − P(μ_c(y^l)) ≲ ρ^{l−1} (Theorem 1)", layers(net)),
        Comparison("ln_scaling_ratio[ln]", ">=", 1.0 - VERY_CLOSE, 0.0, "mean",
                   f"centre: LN-as-scaling ratio r^l very close to one (≥ {1 - VERY_CLOSE:g})", layers(net)),
        Comparison("deep_linearity[ln]", "<=", VERY_CLOSE, 0.0, "mean",
                   f"right: deep layers (l > L/2) very close to channel-wise linear with LN (Λ ≤ {VERY_CLOSE:g})",
                   ["l > L/2"]),
        Comparison("deep_linearity[gn]", "<=", CLOSE, 0.0, "mean",
                   f"right: deep layers (l > L/2) close to channel-wise linear with GN (Λ ≤ {CLOSE:g})", ["l > L/2"]),
    ]


def fig5_negative_controls(config: PanelConfig) -> list[Comparison]:
    net = config.net
    return [
        Comparison("noncollapsed[ln]", "<=", rho_powers(net, 1 - net.rho), BOUND_DELTA, "mean",
                   "false: 1 − P(μ_c(y^l)) ≲ (1 − ρ)^{l−1} (γ, β swapped in ρ)", layers(net)),
        Comparison("ln_scaling_ratio[ln]", "<=", FAR_RATIO, 0.0, "mean",
                   f"false: LN-as-scaling ratio far from one (r^l ≤ {FAR_RATIO:g})", layers(net)),
        Comparison("deep_linearity[bn]", "<=", VERY_CLOSE, 0.0, "mean",
                   f"false: deep layers very close to channel-wise linear with BN (Λ ≤ {VERY_CLOSE:g})", ["l > L/2"]),
    ]


FIG5 = register(Claim(
    key="FIG5",
    title="Fig. 5: Theorem 1 verified, LN-as-scaling ratio near one, deep layers channel-wise linear",
    statement="on Fig. 2's panels: LN's 1 − P(μ_c(y^l)) ≲ ρ^{l−1}; LN's r^l = (E_x σ_x(x^l))² / E_x[σ_x(x^l)²] ≥ 0.99; "
              "deep (l > L/2) mean Λ^l ≤ 0.01 with LN, ≤ 0.1 with GN",
    configs=fig2_panel_configs,
    hypotheses=fig5_hypotheses,
    measure=fig2_panel_measure,
    comparisons=fig5_comparisons,
    negative_controls=fig5_negative_controls,
    reported=("linearity[ln]", "linearity[gn]"),
    realizations={"quick": 4, "full": 50},
    plots=("fig5_panels",),
    shares_realizations="FIG2",
))
