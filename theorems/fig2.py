"""FIG2 — the power plots of the paper's Fig. 2 (top row: random nets), as a checked claim.

A panel (:mod:`theorems._panels`) runs ``bn, in, ln, gn, ln+pn, ln+ws`` on the same realizations; each norm's
power plot is its four-term profile ``p^l`` and two profiles are ``d(p, q) = (1/L) Σ_l Σ_k |p^l_k − q^l_k|``
apart.

Claim (the paper's reading of Fig. 2, §4–5): "the power plots of networks with LN+PN resemble the power
plots of networks with BN" — LN+PN's profile is closer to BN's than the profiles of LN (channel-wise
collapse) and of GN (collapse to a lesser extent) are: ``d(ln, bn) − d(ln+pn, bn) ≥ 0`` and
``d(gn, bn) − d(ln+pn, bn) ≥ 0``, judged on the mean over realizations (paired differences).
Negative control: the reverse ordering, ``d(ln, bn) − d(ln+pn, bn) ≤ 0``, must be rejected.
"""
from __future__ import annotations

import numpy as np

from randnet import reference_config
from theorems._common import distribution_hypotheses
from theorems._panels import REFERENCE_NORM, PanelConfig, distance_gap, panel_stats, power_profile, \
    profile_quantities, require_norms
from theorems.base import Claim, Comparison, Hypothesis, register

FIG2_NORMS = ("bn", "in", "ln", "gn", "ln+pn", "ln+ws")
RIVALS = ("ln", "gn")
CANDIDATE = "ln+pn"


def fig2_configs(mode: str) -> list[PanelConfig]:
    """Quick: the reference configuration scaled to a 2-core machine (C = 64, L = 24, N = 16, G = 8).
    Full: the reference configuration (C = 1024, L = 50, N = 128, 16×16, G = 32)."""
    if mode == "full":
        return [PanelConfig(reference_config(), FIG2_NORMS, groups=32)]
    return [PanelConfig(reference_config(width=64, depth=24, n=16), FIG2_NORMS, groups=8)]


def fig2_hypotheses(config: PanelConfig) -> list[Hypothesis]:
    return distribution_hypotheses(config.net)


def fig2_measure(config: PanelConfig, ss) -> dict[str, np.ndarray]:
    """Profiles and distances to BN of every norm, and the gaps ``gap[rival] = d(rival, bn) − d(ln+pn, bn)``."""
    require_norms(config, FIG2_NORMS, "FIG2")
    out = profile_quantities({n: power_profile(s) for n, s in panel_stats(config, ss).items()})
    out["gap"] = np.array([distance_gap(out, r, CANDIDATE)[0] for r in RIVALS])
    return out


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
    configs=fig2_configs,
    hypotheses=fig2_hypotheses,
    measure=fig2_measure,
    comparisons=fig2_comparisons,
    negative_controls=fig2_negative_controls,
    reported=tuple(f"distance[{n}]" for n in FIG2_NORMS if n != REFERENCE_NORM),
    realizations={"quick": 4, "full": 50},
    plots=("fig2_power_plots", "comparison"),
))
