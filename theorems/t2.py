"""T2 — instance-normalized networks lack instance variability (Theorem 2, SPEC §4).

For ``norm = in``, ``ε = 0`` and nonzero denominators (nothing assumed on the parameters), in every
layer ``l`` and channel ``c``:

    μ_c(y) = 0,   σ_c(y) = 1,   σ_c(μ_{x,c}(y)) = 0,   σ_c(σ_{x,c}(y)) = 0

(IN makes every instance mean 0 and every instance std 1), so the power terms (1), (2), (4) of Eq. 5
vanish and (3) equals 1. Deterministic: checked, as the worst channel per layer, to the round-off tolerance
of :func:`theorems._common.roundoff_tolerance`. Negative control: the same identities for the LN twin of the
network (same parameters and data, ``norm = ln``), which must fail.

**T2-eps.** With ``ε > 0``, ``σ_{x,c}(y) = s_{x,c} := sqrt(v_{x,c} / (v_{x,c} + ε))`` with ``v_{x,c} = σ_{x,c}(x)²``,
while every instance mean stays exactly 0. Hence, exactly,

    μ_c(y) = 0,   σ_c(μ_{x,c}(y)) = 0,   σ_c(y) = sqrt(E_x s_{x,c}²),
    σ_c(σ_{x,c}(y)) = σ_x(s_{x,c}) ≈ (ε/2) σ_x(1/v_{x,c}),

so of SPEC's four identities only ``σ_c(y) = 1`` and ``σ_c(σ_{x,c}(y)) = 0`` become approximate (errors of order
ε, reported). Negative control: the ε = 0 statements ``σ_c(y) = 1`` and ``σ_c(σ_{x,c}(y)) = 0``.

**T2-GN** (the empirical trend of the paper's Section 4, not a theorem). GN with group size ``s = C/G`` lies
between IN (``s = 1``) and LN (``s = C``): as ``s`` grows, the collapse ``K = P(μ_c(y))`` (term (1)) grows, and the
inter-instance variability ``V = P(σ_c(μ_{x,c}(y))) + P(σ_c(σ_{x,c}(y)))`` (terms (2)+(4)) grows from 0, both
averaged over the layers; so does the variability's share of the non-collapsed power, ``S = V / (P(y) − K)``.
One realization draws the parameters and data once and normalizes them with every ``s`` of a divisor ladder
(common random numbers), so the successive differences ``X(s_{k+1}) − X(s_k)`` are paired; the claim is that
their means are ``≥ 0`` (Student-t, Bonferroni over the steps). Negative control: the reversed trend.
Why ``S`` too: per layer, ``K`` and ``S`` grow with ``s`` in every layer, but ``V`` itself does not deep in the
network near the LN end, where the collapse takes most of the power (``V ≤ P(y) − K``) — so the layer-averaged
``V`` depends on the depth, while ``S`` separates the two failure modes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from randnet import DatasetSpec, NetConfig, power_terms
from randnet.stats import channel_moments
from theorems._common import DETERMINISTIC_REALIZATIONS, data_hypothesis, definition1_hypotheses, eps_hypothesis, \
    layer_moments, layers, norm_hypothesis, roundoff_tolerance
from theorems.base import Claim, Comparison, Hypothesis, check_run_mode, register

IDENTITIES = {  # quantity -> the identity it measures (worst channel of the layer)
    "channel_mean": "μ_c(y^l) = 0",
    "channel_std_deficit": "σ_c(y^l) = 1",
    "instance_mean_spread": "σ_c(μ_{x,c}(y^l)) = 0",
    "instance_std_spread": "σ_c(σ_{x,c}(y^l)) = 0",
}
EPS = 1e-5
"""ε of the T2-eps configurations (PyTorch's default)."""


def identities(eps: float, inst_mean_x, inst_var_x, inst_mean_y, inst_var_y) -> dict[str, float]:
    """For one layer, from the instance moments ``(N, C)`` of ``x`` and ``y``: the worst channel of

    channel_mean               ``|μ_c(y)|``
    channel_std_deficit        ``|1 − σ_c(y)|``
    instance_mean_spread       ``σ_c(μ_{x,c}(y))``
    instance_std_spread        ``σ_c(σ_{x,c}(y))``
    channel_std_error          ``|σ_c(y) − sqrt(E_x s_{x,c}²)|``,  ``s_{x,c} = sqrt(v/(v + ε))``, ``v = σ_{x,c}(x)²``
    instance_std_spread_error  ``|σ_c(σ_{x,c}(y)) − σ_x(s_{x,c})|``
    """
    terms = power_terms(inst_mean_y, np.sqrt(inst_var_y))
    mu, var = channel_moments(inst_mean_y, inst_var_y)
    s = np.sqrt(inst_var_x / (inst_var_x + eps))
    spread = np.sqrt(terms[3])
    return {"channel_mean": np.abs(mu).max(), "channel_std_deficit": np.abs(1 - np.sqrt(var)).max(),
            "instance_mean_spread": np.sqrt(terms[1]).max(), "instance_std_spread": spread.max(),
            "channel_std_error": np.abs(np.sqrt(var) - np.sqrt(np.mean(s ** 2, axis=0))).max(),
            "instance_std_spread_error": np.abs(spread - s.std(axis=0)).max()}


def measure_identities(config: NetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """One realization: :func:`identities` per layer, and ``power_y`` ``(L, 4)``, the layer-level terms of Eq. 5."""
    rows, power = [], []
    for (inst_mean_x, inst_var_x), (inst_mean_y, inst_var_y) in layer_moments(config, ss):
        rows.append(identities(config.eps, inst_mean_x, inst_var_x, inst_mean_y, inst_var_y))
        power.append(power_terms(inst_mean_y, np.sqrt(inst_var_y)).mean(axis=1))
    out = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    out["power_y"] = np.stack(power)
    return out


def ln_twin(config: NetConfig) -> NetConfig:
    """The same network with LN in place of IN (same parameters and data: same seed), keeping ``+ws`` / ``+pn``."""
    return config.replace(norm="+".join(["ln"] + config.norm.split("+")[1:]), groups=None)


def measure(config: NetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """:func:`measure_identities` of the IN network, and its identities on the LN twin (``ln_*``)."""
    out = measure_identities(config, ss)
    twin = measure_identities(ln_twin(config), ss)
    out.update({f"ln_{k}": twin[k] for k in IDENTITIES})
    return out


def hypotheses(config: NetConfig) -> list[Hypothesis]:
    return [norm_hypothesis(config, ("in",)), eps_hypothesis(config), data_hypothesis(config)]


def comparisons(config: NetConfig) -> list[Comparison]:
    tol, cells = roundoff_tolerance(config), layers(config)
    return [Comparison(q, "<=", 0.0, tol, "exact", text, cells) for q, text in IDENTITIES.items()]


def negative_controls(config: NetConfig) -> list[Comparison]:
    tol, cells = roundoff_tolerance(config), layers(config)
    return [Comparison(f"ln_{q}", "<=", 0.0, tol, "exact", f"{text} with LN in place of IN (false)", cells)
            for q, text in IDENTITIES.items()]


def configs(mode: str, eps: float = 0.0) -> list[NetConfig]:
    """IN at a small width: ReLU in float32 and float64, and tanh with β ~ N(0.5, 0.2²) (nothing is assumed on φ or
    the parameters)."""
    check_run_mode(mode)
    if mode == "quick":
        base = NetConfig(widths=16, depth=8, norm="in", eps=eps, dataset=DatasetSpec(n=8, height=8, width=8))
    else:
        base = NetConfig(widths=128, depth=50, norm="in", eps=eps, dataset=DatasetSpec(n=32, height=16, width=16))
    return [base, base.replace(dtype="float64"), base.replace(activation="tanh", beta="normal(0.5, 0.2)")]


register(Claim(
    key="T2", title="Instance-normalized networks lack instance variability (Theorem 2)",
    statement="norm = in, ε = 0: μ_c(y) = 0, σ_c(y) = 1, σ_c(μ_{x,c}(y)) = 0, σ_c(σ_{x,c}(y)) = 0 in every layer "
              "and channel.",
    configs=configs, hypotheses=hypotheses, measure=measure, comparisons=comparisons,
    negative_controls=negative_controls, realizations=DETERMINISTIC_REALIZATIONS, plots=("comparison", "power")))


# -- T2-eps ------------------------------------------------------------------------------------------------------
def eps_hypotheses(config: NetConfig) -> list[Hypothesis]:
    return [norm_hypothesis(config, ("in",)), eps_hypothesis(config, zero=False)]


def eps_comparisons(config: NetConfig) -> list[Comparison]:
    tol, cells = roundoff_tolerance(config), layers(config)
    return [Comparison("channel_mean", "<=", 0.0, tol, "exact", "μ_c(y^l) = 0", cells),
            Comparison("instance_mean_spread", "<=", 0.0, tol, "exact", "σ_c(μ_{x,c}(y^l)) = 0", cells),
            Comparison("channel_std_error", "<=", 0.0, tol, "exact", "σ_c(y^l) = sqrt(E_x s²)", cells),
            Comparison("instance_std_spread_error", "<=", 0.0, tol, "exact", "σ_c(σ_{x,c}(y^l)) = σ_x(s)", cells)]


def eps_negative_controls(config: NetConfig) -> list[Comparison]:
    tol, cells = roundoff_tolerance(config), layers(config)
    return [Comparison(q, "<=", 0.0, tol, "exact", f"{IDENTITIES[q]} although ε > 0 (false)", cells)
            for q in ("channel_std_deficit", "instance_std_spread")]


register(Claim(
    key="T2-eps", title="Instance variability left by IN with ε > 0 (Theorem 2, ε-version)",
    statement="norm = in, ε > 0: μ_c(y) = 0 and σ_c(μ_{x,c}(y)) = 0 still; σ_c(y) = sqrt(E_x s²) and "
              "σ_c(σ_{x,c}(y)) = σ_x(s) with s = sqrt(v/(v + ε)), v = σ_{x,c}(x)².",
    configs=lambda mode: configs(mode, eps=EPS), hypotheses=eps_hypotheses, measure=measure_identities,
    comparisons=eps_comparisons, negative_controls=eps_negative_controls, realizations=DETERMINISTIC_REALIZATIONS,
    reported=("channel_std_deficit", "instance_std_spread"), plots=("comparison",)))


# -- T2-GN -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupLadder:
    """One random net of Definition 1 (``net``, equal widths ``C``; its ``norm`` and ``groups`` are ignored)
    normalized by GN with each group size ``s = C/G`` in ``sizes`` (ascending divisors of ``C``: 1 = IN, C = LN)."""

    net: NetConfig
    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        sizes = tuple(int(s) for s in self.sizes)
        object.__setattr__(self, "sizes", sizes)
        if len(sizes) < 2 or list(sizes) != sorted(set(sizes)) or sizes[0] < 1:
            raise ValueError(f"group sizes must be >= 2 distinct ascending positive integers, got {sizes}")
        if len(set(self.net.widths)) != 1:
            raise ValueError(f"a group ladder needs equal widths, got {sorted(set(self.net.widths))}")
        bad = [s for s in sizes if self.net.width % s]
        if bad:
            raise ValueError(f"group sizes {bad} do not divide the width {self.net.width}")

    def network(self, size: int) -> NetConfig:
        """The GN network with group size ``size`` (``G = C/size`` groups)."""
        return self.net.replace(norm="gn", groups=self.net.width // size)

    def describe(self) -> dict:
        d = self.net.describe()
        d.update(norm="gn", groups=None, group_sizes=list(self.sizes))
        return d

    def label(self) -> str:
        return f"gn s=C/G in {list(self.sizes)} C={self.net.width} L={self.net.depth} {self.net.activation}"


def ladder(width: int) -> tuple[int, ...]:
    """Powers of two from 1 to ``width`` (``width`` a power of two): IN, …, LN."""
    if width < 2 or width & (width - 1):
        raise ValueError(f"the divisor ladder needs a power-of-two width >= 2, got {width}")
    return tuple(2 ** k for k in range(width.bit_length()))


def measure_ladder(config: GroupLadder, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """One realization (the same parameters and data for every group size):

    collapse, variability, variability_share    per size: ``K``, ``V``, ``S``, each averaged over the layers
    collapse_step, variability_step, variability_share_step    their successive differences over the ladder
    """
    terms = np.array([[power_terms(m, np.sqrt(v)).mean(axis=1) for _, (m, v) in layer_moments(config.network(s), ss)]
                      for s in config.sizes])                                        # (sizes, L, 4)
    collapse, variability = terms[..., 0], terms[..., 1] + terms[..., 3]
    out = {"collapse": collapse.mean(axis=1), "variability": variability.mean(axis=1),
           "variability_share": (variability / (terms.sum(axis=-1) - collapse)).mean(axis=1)}
    out.update({f"{k}_step": np.diff(v) for k, v in list(out.items())})
    return out


def ladder_hypotheses(config: GroupLadder) -> list[Hypothesis]:
    return definition1_hypotheses(config.net) + [eps_hypothesis(config.net)]


def _steps(config: GroupLadder) -> list[str]:
    return [f"{a}→{b}" for a, b in zip(config.sizes, config.sizes[1:])]


def ladder_comparisons(config: GroupLadder, sign: str = ">=") -> list[Comparison]:
    word = "grows" if sign == ">=" else "shrinks (false)"
    return [Comparison(q, sign, 0.0, 0.0, "mean", f"{name} {word} with the group size C/G", _steps(config),
                       cell_name="group size step")
            for q, name in (("collapse_step", "collapse K = P(μ_c(y))"),
                            ("variability_step", "instance variability V = P(σ_c(μ_x,c)) + P(σ_c(σ_x,c))"),
                            ("variability_share_step", "variability share V / (P(y) − K)"))]


def ladder_configs(mode: str) -> list[GroupLadder]:
    """Reference distributions, ReLU. quick: C = 32, 12 layers, 16 inputs 8×8; full: C = 256, 50 layers,
    128 inputs 16×16."""
    check_run_mode(mode)
    if mode == "quick":
        net = NetConfig(widths=32, depth=12, dataset=DatasetSpec(n=16, height=8, width=8))
    else:
        net = NetConfig(widths=256, depth=50, dataset=DatasetSpec(n=128, height=16, width=16))
    return [GroupLadder(net, ladder(net.width))]


register(Claim(
    key="T2-GN", title="GN lies between IN and LN: variability and collapse grow with the group size",
    statement="As the GN group size C/G grows from 1 (IN) to C (LN), the layer-averaged power terms (1) and (2)+(4) "
              "of y, and the share of (2)+(4) in the non-collapsed power, grow (mean successive differences >= 0).",
    configs=ladder_configs, hypotheses=ladder_hypotheses, measure=measure_ladder, comparisons=ladder_comparisons,
    negative_controls=lambda config: ladder_comparisons(config, "<="),
    reported=("collapse", "variability", "variability_share"), realizations={"quick": 16, "full": 50},
    plots=("comparison",)))
