"""FIG2 — the power plots of the paper's Fig. 2 (top row: random nets), as a checked claim.

A panel (:mod:`theorems._panels`) runs ``bn, in, ln, gn, ln+pn, ln+ws`` on the same realizations; each norm's
power plot is its four-term profile ``p^l`` and two profiles are ``d(p, q) = (1/L) Σ_l Σ_k |p^l_k − q^l_k|``
apart.

Claim (the paper's reading of Fig. 2, §4–5): "the power plots of networks with LN+PN resemble the power
plots of networks with BN" — LN+PN's profile is closer to BN's than the profiles of LN (channel-wise
collapse) and of GN (collapse to a lesser extent) are: ``d(ln, bn) − d(ln+pn, bn) ≥ 0`` and
``d(gn, bn) − d(ln+pn, bn) ≥ 0``, judged on the mean over realizations (paired differences).
Negative control: the reverse ordering, ``d(ln, bn) − d(ln+pn, bn) ≤ 0``, must be rejected.

The panel's measurement (:func:`theorems._panels.fig2_panel_measure`) also holds Fig. 5's curves of every norm;
FIG5 reads them from the same realizations. The full mode is the paper's own configuration
(:func:`theorems._panels.paper_panel`: natural 32×32 images, stride-2 first conv).
"""
from __future__ import annotations

from theorems._common import distribution_hypotheses
from theorems._panels import CANDIDATE, FIG2_NORMS, REFERENCE_NORM, RIVALS, PanelConfig, fig2_panel_configs, \
    fig2_panel_measure
from theorems.base import Claim, Comparison, Hypothesis, register

def fig2_hypotheses(config: PanelConfig) -> list[Hypothesis]:
    return distribution_hypotheses(config.net)


def fig2_comparisons(config: PanelConfig) -> list[Comparison]:
    return [Comparison("gap", ">=", 0.0, 0.0, "mean", "d(rival, bn) − d(ln+pn, bn) ≥ 0: ln+pn resembles bn more than the rival",
                       cells=RIVALS, cell_name="rival")]


def fig2_negative_controls(config: PanelConfig) -> list[Comparison]:
    return [Comparison("gap", "<=", 0.0, 0.0, "mean", "false: ln+pn is no closer to bn than ln and gn are",
                       cells=RIVALS, cell_name="rival")]


FIG2 = register(Claim(
    key="FIG2",
    title="Fig. 2 power plots: LN+PN resembles BN (random nets)",
    statement="four-term power profiles of y^l against depth for bn, in, ln, gn, ln+pn, ln+ws on the same "
              "random nets; d(p, q) = mean_l Σ_k |p^l_k − q^l_k|; claim: d(ln, bn) ≥ d(ln+pn, bn) and "
              "d(gn, bn) ≥ d(ln+pn, bn)",
    configs=fig2_panel_configs,
    hypotheses=fig2_hypotheses,
    measure=fig2_panel_measure,
    comparisons=fig2_comparisons,
    negative_controls=fig2_negative_controls,
    reported=tuple(f"distance[{n}]" for n in FIG2_NORMS if n != REFERENCE_NORM),
    realizations={"quick": 4, "full": 50},
    plots=("fig2_power_plots", "comparison"),
))
