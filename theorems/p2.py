"""P2 — channel-wise collapse implies channel-wise linearity (Propositions 2–3, reconstructed; SPEC §4).

Let ``φ`` be positive homogeneous: ``φ(t) = a t`` for ``t ≥ 0`` and ``b t`` for ``t < 0`` (``a = φ(1)``,
``b = −φ(−1)``). In channel ``c`` of layer ``l``, ``u_c = γ_c y_c + β_c``, ``m_c = μ_c(u)``, ``s_c = σ_c(u)``,
``z_c = φ(u_c)`` and ``z̃_c`` is the least-squares affine fit of ``z_c`` on ``y_c``; ``Λ_c = P_c(z − z̃) / P_c(z)``.

(a) ``u_c`` of one sign over all ``(x, h, w)``  ⇒  ``P_c(z − z̃) = 0``;
(b) ``m_c > 0``, ``a > 0``  ⇒  ``Λ_c ≤ ((a − b)/a)² s_c²/m_c²``;
    ``m_c < 0``, ``b ≠ 0``  ⇒  ``Λ_c ≤ ((a − b)/b)² s_c²/m_c²``.

So every channel has a bound ``B_c``: 0 under (a), the bound of (b) under (b) (the smaller one when
both apply), and otherwise the trivial ``Λ_c ≤ 1`` (``P_c(z − z̃) ≤ σ_c(z)² ≤ P_c(z)``). The claim is
deterministic: per layer, ``max_c (Λ_c − B_c) ≤ 0`` in every realization, up to the round-off of the
``dtype`` the net runs in.

The constant of (b) is not sharp: writing ``φ(u) = ((a + b)/2) u + ((a − b)/2) |u|``, the residual of the
affine fit is ``((a − b)/2)²`` times that of ``|u|``, at most ``((a − b)/2)² Var(|u|) ≤ ((a − b)/2)² s²``, while
``P_c(z) ≥ a² E[u⁺²] ≥ a² m²`` (``m > 0``), so ``Λ_c ≤ B_c/4``; three-point distributions approach
``Λ_c/B_c = 1/4`` (the reported ``tightness`` is ``max_c Λ_c/B_c``). A false "tighter bound (b)/4" would
therefore be true. Gaussian-like channels of random nets stay far below it (``Λ_c/B_c`` of a few
percent), so the negative control is the bound (b) divided by ``1/FALSE_FACTOR = 64`` (the (a) and
trivial bounds kept): false (the supremum is 1/4) and violated in these nets.

With ``+pn`` the layer outputs ``z = (φ(u) − M_c)/S_c`` (PN's Gaussian moments): P2 is about ``φ(u)``,
recovered exactly as ``S_c z + M_c`` (an affine map per channel, so ``P_c(φ(u) − fit) = S_c² P_c(z − z̃)``).

Reported with the claim, per layer: ``Λ^l = P(z − z̃)/P(z)`` of the net's ``z`` (Eqs. 8–9) against the
non-collapsed fraction ``1 − P(μ_c(y^l))/P(y^l)``, and the share of channels covered by (a) and (b).
"""
from __future__ import annotations

import numpy as np

from randnet import LayerStats, NetConfig, gaussian_moments, get_activation, reference_config
from randnet.roundoff import linearity_tolerance
from theorems._panels import PanelConfig, panel_stats
from theorems.base import Claim, Comparison, Hypothesis, register

P2_NORMS = ("ln", "gn", "ln+pn", "bn")
FALSE_FACTOR = 1 / 64      # negative control: bound (b) divided by 64 (see the module docstring)


def slopes(activation) -> tuple[float, float]:
    """``(a, b) = (φ(1), −φ(−1))``: the slopes of a positive-homogeneous ``φ`` (for another ``φ``, the
    same secant slopes, so that a configuration that breaks the hypothesis is still measured)."""
    act = get_activation(activation)
    return act.slopes or (float(act(np.array(1.0))), -float(act(np.array(-1.0))))


def activation_power(stats: LayerStats, config: NetConfig) -> tuple[np.ndarray, np.ndarray]:
    """``P_c(φ(u) − fit)`` and ``P_c(φ(u))`` per channel (undoing PN's standardization for ``+pn``)."""
    residual, power = stats.residual_z, stats.var_z + stats.mean_z ** 2
    if not config.proxy_norm:
        return residual, power
    mean, var = gaussian_moments(config.activation, stats.beta, stats.gamma, config.proxy_method, config.proxy_nodes)
    scale = np.sqrt(var + config.proxy_eps)
    return scale ** 2 * residual, scale ** 2 * stats.var_z + (scale * stats.mean_z + mean) ** 2


def channel_bounds(stats: LayerStats, slopes: tuple[float, float], false_factor: float = 1.0) -> dict[str, np.ndarray]:
    """Per channel: the bound ``B_c`` of P2 (``false_factor`` multiplies bound (b)) and the masks of (a), (b)."""
    a, b = slopes
    g, beta = stats.gamma, stats.beta
    m = g * stats.mean_y + beta
    s2 = g ** 2 * stats.var_y
    ends = np.stack([g * stats.y_min + beta, g * stats.y_max + beta])
    one_sign = (ends.min(axis=0) >= 0) | (ends.max(axis=0) <= 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = (m > 0) & (a > 0)
        neg = (m < 0) & (b != 0)
        slope = np.where(pos, a, b)
        bound_b = np.where(pos | neg, ((a - b) / slope) ** 2 * s2 / m ** 2, np.inf)
    bound = np.minimum(np.where(one_sign, 0.0, 1.0), false_factor * bound_b)
    return {"bound": bound, "bound_b": bound_b, "a": one_sign, "b": pos | neg}


def normalized_residual(residual: np.ndarray, power: np.ndarray) -> np.ndarray:
    """``Λ_c = P_c(z − z̃)/P_c(z)``, with ``0/0 = 0`` (a channel with ``z ≡ 0`` is exactly linear)."""
    return np.divide(residual, power, out=np.zeros_like(residual), where=power > 0)


def layer_measure(stats: LayerStats, config: NetConfig) -> dict[str, float]:
    """One layer: the worst ``Λ_c − B_c`` for the true and the false bound, and the reported quantities."""
    ab = slopes(config.activation)
    lam = normalized_residual(*activation_power(stats, config))
    true, false = channel_bounds(stats, ab), channel_bounds(stats, ab, FALSE_FACTOR)
    covered_b = true["b"] & ~true["a"]
    tightness = np.divide(lam, true["bound_b"], out=np.zeros_like(lam), where=covered_b & (true["bound_b"] > 0))
    return {"excess": float(np.max(lam - true["bound"])), "excess_false": float(np.max(lam - false["bound"])),
            "tightness": float(tightness.max()), "share_a": float(true["a"].mean()),
            "share_b": float(true["b"].mean()), "linearity": stats.linearity, "noncollapsed": stats.noncollapsed_y}


def p2_configs(mode: str) -> list[PanelConfig]:
    """Quick: C = 64, L = 24, N = 16 with ReLU (ln, gn, ln+pn, bn) and leaky ReLU (ln, gn); full: the reference
    configuration (C = 1024, L = 50) with ReLU and leaky ReLU."""
    if mode == "full":
        net = reference_config()
        return [PanelConfig(net, P2_NORMS, groups=32),
                PanelConfig(net.replace(activation="leaky_relu"), ("ln", "gn"), groups=32)]
    net = reference_config(width=64, depth=24, n=16)
    return [PanelConfig(net, P2_NORMS, groups=8),
            PanelConfig(net.replace(activation="leaky_relu"), ("ln", "gn"), groups=8)]


def p2_hypotheses(config: PanelConfig) -> list[Hypothesis]:
    act = get_activation(config.net.activation)
    return [Hypothesis("φ positive homogeneous", act.positive_homogeneous, f"φ = {act.name}")]


def p2_measure(config: PanelConfig, ss) -> dict[str, np.ndarray]:
    """Per norm of the panel and per layer: ``excess``, ``excess_false``, ``tightness`` (max_c Λ_c/B_c over
    the (b)-channels not under (a)), ``share_a``, ``share_b``, ``linearity`` (Λ^l), ``noncollapsed``;
    and, per layer, worst over the norms, ``excess_false`` (the negative control is about the whole panel)
    and ``tightness``."""
    out: dict[str, np.ndarray] = {}
    for norm, stats in panel_stats(config, ss).items():
        net = config.config_for(norm)
        rows = [layer_measure(s, net) for s in stats]
        out.update({f"{k}[{norm}]": np.array([r[k] for r in rows]) for k in rows[0]})
    for k in ("excess_false", "tightness"):
        out[k] = np.max([out[f"{k}[{n}]"] for n in config.norms], axis=0)
    return out


def _tolerance(config: PanelConfig) -> float:
    data = config.net.dataset
    return linearity_tolerance(config.net.dtype, data.n * data.height * data.width)


def p2_comparisons(config: PanelConfig) -> list[Comparison]:
    layers = list(range(1, config.net.depth + 1))
    return [Comparison(f"excess[{norm}]", "<=", 0.0, _tolerance(config), "exact",
                       f"{norm}: max_c (Λ_c − B_c) ≤ 0 in every realization", cells=layers) for norm in config.norms]


def p2_negative_controls(config: PanelConfig) -> list[Comparison]:
    return [Comparison("excess_false", "<=", 0.0, _tolerance(config), "exact",
                       f"false: Λ_c ≤ (bound (b))/{1 / FALSE_FACTOR:g} in every channel, for every norm of the panel",
                       cells=list(range(1, config.net.depth + 1)))]


P2 = register(Claim(
    key="P2",
    title="Channel-wise collapse implies channel-wise linearity (positive-homogeneous φ)",
    statement="u_c = γ_c y_c + β_c of one sign ⇒ P_c(z − z̃) = 0; m_c > 0, a > 0 ⇒ P_c(z − z̃)/P_c(z) ≤ "
              "((a − b)/a)² s_c²/m_c² (mirror for m_c < 0, b ≠ 0); deterministic, per channel",
    configs=p2_configs,
    hypotheses=p2_hypotheses,
    measure=p2_measure,
    comparisons=p2_comparisons,
    negative_controls=p2_negative_controls,
    reported=("tightness",),
    realizations={"quick": 3, "full": 50},
    plots=("p2_linearity_collapse", "comparison"),
))
