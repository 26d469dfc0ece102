"""P1 — layer-wise power equals one (Proposition 1, SPEC §4).

For ``norm ∈ {bn, ln, in, gn}`` with ``ε = 0`` and nonzero denominators, in every layer and realization

    P(y^l) = (1/C) Σ_c P_c(y^l) = 1,        and for bn and in even  P_c(y^l) = 1  for every channel c.

(Every normalization unit — a channel for bn, an input for ln, an (input, channel) for in, an (input,
group) for gn — has mean square ``σ_u² / σ_u² = 1``, and ``P(y)`` averages them with equal weights.)
Deterministic: checked to a round-off tolerance scaled to the dtype (:func:`theorems._common.roundoff_tolerance`).
Negative controls: ``P(y^l) = 1 + 3δ`` (an offset the check must resolve: ``δ`` is its tolerance) and, for
norms that mix channels (ln, gn with ``C/G > 1``), ``P_c(y^l) = 1`` per channel.

**P1-eps.** With ``ε > 0`` the same argument gives, exactly,

    1 − P(y^l) = ⟨ ε / (σ_u² + ε) ⟩_u   ( ≈ ⟨ε / σ_u²⟩_u to first order, SPEC's "≈ ε/σ²" ),

the average over the normalization units ``u`` of ``x^l`` (for mini-batch bn each unit weighted by its
batch's share of the inputs). Checked exactly; the deficit and its first-order form are reported.
Negative control: P1 itself, ``P(y^l) = 1``, which the ε-deficit must violate.
"""
from __future__ import annotations

import numpy as np

from randnet import DatasetSpec, NetConfig
from randnet.stats import channel_moments, input_moments
from theorems._common import DETERMINISTIC_REALIZATIONS, data_hypothesis, eps_hypothesis, layer_moments, layers, \
    norm_hypothesis, roundoff_tolerance
from theorems.base import Claim, Comparison, Hypothesis, check_run_mode, register

NORMS = ("bn", "ln", "in", "gn")
OFFSET = 3.0
"""Negative control ``P(y) = 1 + OFFSET·δ``: any offset above ``2δ`` is rejected whenever P1 passes."""
EPS = 1e-5
"""ε of the P1-eps configurations (PyTorch's default): a deficit ``ε/σ² ≈ 1e-5`` is ~30 float32 tolerances."""


def unit_variances(config: NetConfig, inst_mean_x: np.ndarray,
                   inst_var_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The variances ``σ_u²`` the norm divides by, one per normalization unit of ``x``, and the units' weights
    (their share of the elements, summing to 1), from the instance moments ``(N, C)`` of ``x``."""
    kind, n = config.base_norm, len(inst_mean_x)
    if kind == "bn":
        b = n if config.batch_size is None else config.batch_size
        starts = range(0, n, b)
        var = np.stack([channel_moments(inst_mean_x[i:i + b], inst_var_x[i:i + b])[1]
                        for i in starts])                                                   # (batches, C)
        sizes = np.array([min(b, n - i) for i in starts], dtype=float)                      # inputs per batch
        weights = np.repeat(sizes[:, None], var.shape[1], axis=1)
    elif kind in ("ln", "gn"):
        var = input_moments(inst_mean_x, inst_var_x, 1 if kind == "ln" else config.groups)[1]  # (N, G)
        weights = np.ones_like(var)
    elif kind == "in":
        var, weights = inst_var_x, np.ones_like(inst_var_x)                                    # (N, C)
    else:
        raise ValueError(f"P1 is about bn, ln, in, gn; got norm {config.norm!r}")
    return var.ravel(), (weights / weights.sum()).ravel()


def measure(config: NetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """One realization, one value per layer:

    layer_power            ``P(y^l)``
    channel_power_error    ``max_c |P_c(y^l) − 1|``  (``P_c(y) = E_x[μ_{x,c}(y)² + σ_{x,c}(y)²]``)
    power_deficit          ``1 − P(y^l)``
    deficit_error          ``1 − P(y^l) − ⟨ε/(σ_u² + ε)⟩_u``   (0 for every ε, to round-off)
    deficit_first_order    ``⟨ε/σ_u²⟩_u``

    The last two need the normalization units of bn, ln, in or gn: NaN for any other norm (a user's own).
    """
    eps = config.eps
    rows = []
    for (inst_mean_x, inst_var_x), (inst_mean_y, inst_var_y) in layer_moments(config, ss):
        channel_power = np.mean(inst_mean_y ** 2 + inst_var_y, axis=0)
        deficit = 1.0 - channel_power.mean()
        if config.base_norm in NORMS:
            var_u, w = unit_variances(config, inst_mean_x, inst_var_x)
            with np.errstate(divide="ignore"):
                first_order = w @ (eps / var_u) if eps > 0 else 0.0
            deficit_error = deficit - w @ (eps / (var_u + eps))
        else:  # a user's normalization: its units are unknown, so is the ε-deficit (P1 itself is still measured)
            first_order = deficit_error = np.nan
        rows.append((channel_power.mean(), np.abs(channel_power - 1).max(), deficit, deficit_error, first_order))
    keys = ("layer_power", "channel_power_error", "power_deficit", "deficit_error", "deficit_first_order")
    return {k: np.array(v) for k, v in zip(keys, zip(*rows))}


def per_channel(config: NetConfig) -> bool:
    """Whether the norm normalizes each channel separately (bn, in, gn with one channel per group)."""
    kind = config.base_norm
    return kind in ("bn", "in") or (kind == "gn" and all(c == config.groups for c in config.widths))


def hypotheses(config: NetConfig) -> list[Hypothesis]:
    return [norm_hypothesis(config, NORMS), eps_hypothesis(config), data_hypothesis(config)]


def comparisons(config: NetConfig) -> list[Comparison]:
    tol, cells = roundoff_tolerance(config), layers(config)
    out = [Comparison("layer_power", "==", 1.0, tol, "exact", "P(y^l) = 1", cells)]
    if per_channel(config):
        out.append(Comparison("channel_power_error", "<=", 0.0, tol, "exact", "P_c(y^l) = 1 for every channel", cells))
    return out


def negative_controls(config: NetConfig) -> list[Comparison]:
    tol, cells = roundoff_tolerance(config), layers(config)
    out = [Comparison("layer_power", "==", 1.0 + OFFSET * tol, tol, "exact", f"P(y^l) = 1 + {OFFSET:g}δ (false)",
                      cells)]
    if not per_channel(config):
        out.append(Comparison("channel_power_error", "<=", 0.0, tol, "exact",
                              "P_c(y^l) = 1 for every channel (false: the norm mixes channels)", cells))
    return out


def configs(mode: str, eps: float = 0.0) -> list[NetConfig]:
    """The four norms (bn also with mini-batches), float32, and ln in float64 (the tolerance scales with the dtype)."""
    check_run_mode(mode)
    if mode == "quick":
        base = NetConfig(widths=16, depth=8, eps=eps, dataset=DatasetSpec(n=8, height=8, width=8))
    else:
        base = NetConfig(widths=128, depth=50, eps=eps, dataset=DatasetSpec(n=32, height=16, width=16))
    return [base.replace(norm="bn"), base.replace(norm="bn", batch_size=base.dataset.n // 4), base.replace(norm="ln"),
            base.replace(norm="in"), base.replace(norm="gn", groups=4), base.replace(norm="ln", dtype="float64")]


register(Claim(
    key="P1", title="Layer-wise power equals one (Proposition 1)",
    statement="For bn, ln, in, gn with ε = 0: P(y^l) = 1 in every layer; for bn and in P_c(y^l) = 1 per channel.",
    configs=configs, hypotheses=hypotheses, measure=measure, comparisons=comparisons,
    negative_controls=negative_controls, realizations=DETERMINISTIC_REALIZATIONS, plots=("comparison",)))


# -- P1-eps ----------------------------------------------------------------------------------------------
def eps_hypotheses(config: NetConfig) -> list[Hypothesis]:
    return [norm_hypothesis(config, NORMS), eps_hypothesis(config, zero=False)]


def eps_comparisons(config: NetConfig) -> list[Comparison]:
    return [Comparison("deficit_error", "==", 0.0, roundoff_tolerance(config), "exact",
                       "1 − P(y^l) = ⟨ε/(σ_u² + ε)⟩_u", layers(config))]


def eps_negative_controls(config: NetConfig) -> list[Comparison]:
    return [Comparison("layer_power", "==", 1.0, roundoff_tolerance(config), "exact",
                       "P(y^l) = 1 although ε > 0 (false)", layers(config))]


register(Claim(
    key="P1-eps", title="Power deficit of a normalization with ε > 0 (Proposition 1, ε-version)",
    statement="With ε > 0: 1 − P(y^l) = ⟨ε/(σ_u² + ε)⟩ over the normalization units u (≈ ε/σ²).",
    configs=lambda mode: configs(mode, eps=EPS), hypotheses=eps_hypotheses, measure=measure,
    comparisons=eps_comparisons, negative_controls=eps_negative_controls, realizations=DETERMINISTIC_REALIZATIONS,
    reported=("power_deficit", "deficit_first_order"), plots=("comparison",)))
