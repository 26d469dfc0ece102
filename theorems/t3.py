"""T3 — Proxy Norm guarantees channel-wise normalization (Theorem 3, SPEC §3–4).

Proxy-normalized activation (Eq. 7, ``β̃ = γ̃ = 0``, ``ε = 0``):

    z_c = (φ(γ_c y_c + β_c) − E_Y[φ(γ_c Y + β_c)]) / sqrt(Var_Y[φ(γ_c Y + β_c)]),   Y ~ N(0, 1).

Theorem 3: if ``y^l`` is normalized and Gaussian in each channel (hypotheses (i)–(iii)), then
``μ_c(z^l) = 0`` and ``σ_c(z^l) = 1`` for every ``c`` (Eq. 94), whatever ``φ`` and the parameters.

**T3** (exact-hypothesis check). Draw ``y_c ~ N(0, 1)`` directly: ``C`` channels of ``n`` samples,
``γ_c ~ ν_γ``, ``β_c ~ ν_β``, for several activations. Per channel, ``g = (z, z² − 1)`` has mean 0 under
the claim (``E z = 0`` and ``E z² = 1`` ⇔ ``μ_c = 0``, ``σ_c = 1``) and the known covariance

    Σ_c = [[1, κ₃], [κ₃, κ₄ − 1]],   κ₃ = E z³, κ₄ = E z⁴ of z = (φ(γ_c Y + β_c) − E)/sd, Y ~ N(0, 1),

computed exactly (truncated-normal moments for positive-homogeneous ``φ``, Gauss–Hermite otherwise).
The score statistic ``Q_c = n ḡ_cᵀ Σ_c⁻¹ ḡ_c`` (≈ χ²₂, with ``E Q_c = 2`` exactly for every ``n``) accounts
for the correlation of the mean and the second moment (the skewness of ``z``). Channels are independent,
so the joint statistic of one realization is

    Z = (Σ_c Q_c − 2C) / (2 sqrt(C))        (E Z = 0 and Var Z ≈ 1 under the claim).

A deviation ``δ`` of ``E g`` adds ``n δᵀ Σ_c⁻¹ δ`` to ``E Q_c``: a common shift ``Δμ`` of the channel means
adds ``n Δμ² Σ_c [Σ_c⁻¹]₁₁ / (2√C)`` to ``E Z``, a common change ``Δσ`` of the stds ``4 n Δσ² Σ_c [Σ_c⁻¹]₂₂ / (2√C)``.
(The null covariance is the same for the negative controls: a proxy-normalized output that had mean 0
and std 1 would be ``z`` itself, since wrong proxy moments only change ``z`` by an affine map per channel.)

Verdict: the mean of ``Z`` over realizations is 0 within ``δ_Z = 2`` (Student-t interval, one cell per
activation, Bonferroni). Negative controls (must FAIL): the same statistic when PN's moments come from a
wrong proxy — ``Y ~ N(0, 1.1²)`` (``γ̃ = 0.1``), or ``Y`` uniform with variance 1 instead of Gaussian (on the
channels where that proxy's variance is not 0).
Power: the reported minimal detectable ``|Δμ|`` and ``|Δσ|`` are the common deviations that make the
verdict FAIL with probability 80% at the configured number of realizations. Also reported: the error of
the paper's quantile-grid moments (``n = 200``, ``ε = 0.03``, and ``ε = 0`` for the grid alone) against the
exact integrals, as the exact ``|μ_c(z)|`` and ``|σ_c(z) − 1|`` it causes (worst channel).

**T3-net** (in-network check). Panels of random nets (same realization for every norm) with ``ln+pn``,
``gn+pn`` against ``ln``, ``gn``, ``bn``, ``ln+ws``, ``in``. Reported per layer: the RMS over channels of
``μ_c(y)``, ``σ_c(y) − 1``, ``μ_c(z)``, ``σ_c(z) − 1``; how much the conv+norm step aggravates collapse,
``P(μ_c(y^l))/P(y^l) − P(μ_c(z^{l−1}))/P(z^{l−1})``, and channel imbalance,
``CV_c(P_c(y^l)) − CV_c(P_c(z^{l−1}))`` (hypothesis (ii)); the distance of each four-term power profile
to BN's (see :mod:`theorems._panels`). Verdict: ``d(ln, bn) − d(ln+pn, bn) ≥ 0`` and
``d(gn, bn) − d(gn+pn, bn) ≥ 0`` at every width tested; negative control: the reverse ordering.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from randnet import ACTIVATIONS, Distribution, LayerStats, gaussian_moments, get_activation, parse_distribution, \
    proxy_activation, reference_config
from randnet.checks import check_int
from randnet.proxy import HERMITE_NODES, PAPER_EPS, PAPER_QUANTILES, hermite_rule
from theorems._panels import PanelConfig, distance_gap, panel_stats, power_profile, profile_quantities, require_norms
from theorems.base import Claim, Comparison, Hypothesis, register

T3_ACTIVATIONS = tuple(name for name, act in ACTIVATIONS.items() if not act.polynomial)  # every non-linear φ
Z_TOLERANCE = 2.0          # δ_Z: tolerated mean of the joint statistic Z (units of its null std)
CONFIDENCE = 0.95          # the engine's default confidence, assumed by the reported power
POWER = 0.8
WRONG_PROXY_GAMMA = 0.1    # negative control: Y ~ N(0, (1 + γ̃)²) = N(0, 1.1²)
UNIFORM_NODES = 400        # Gauss–Legendre nodes for the uniform-proxy negative control


# -- the joint test of (μ_c, σ_c) = (0, 1) ------------------------------------------------------------------
def _upper_moments(t: np.ndarray, kmax: int) -> list[np.ndarray]:
    """``M_j(t) = E[Y^j 1(Y > t)]``, ``Y ~ N(0, 1)``, ``j = 0..kmax``: ``M_j = t^{j−1} φ(t) + (j − 1) M_{j−2}``."""
    pdf = stats.norm.pdf(t)
    finite = np.where(np.isfinite(t), t, 0.0)       # t = ±∞: t^{j−1} φ(t) = 0
    m = [stats.norm.sf(t), pdf]
    for j in range(2, kmax + 1):
        m.append(finite ** (j - 1) * pdf + (j - 1) * m[j - 2])
    return m


def _positive_part_moments(a: np.ndarray, b: np.ndarray, kmax: int) -> list[np.ndarray]:
    """``E[u^k 1(u > 0)]`` for ``u = a + bY``, ``k = 0..kmax`` (binomial expansion in truncated moments)."""
    s = np.abs(b)
    t = np.divide(-a, s, out=np.where(a > 0, -np.inf, np.inf), where=s > 0)   # s = 0: u = a is constant
    m = _upper_moments(t, kmax)
    return [sum(math.comb(k, j) * a ** (k - j) * s ** j * m[j] for j in range(k + 1)) for k in range(kmax + 1)]


def null_moments(activation, a, b) -> tuple[np.ndarray, np.ndarray]:
    """``κ₃ = E z³`` and ``κ₄ = E z⁴`` of the standardized ``z = (φ(a + bY) − E)/sd``, ``Y ~ N(0, 1)``.

    Positive-homogeneous ``φ`` (slopes ``(p, q)``): ``E φ(u)^k = p^k E[u^k 1(u>0)] + q^k (−1)^k E[(−u)^k 1(−u>0)]``
    in closed form; otherwise Gauss–Hermite quadrature (``randnet.proxy.hermite_rule``).
    """
    act = get_activation(activation)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if act.positive_homogeneous:
        p, q = act.slopes
        up, down = _positive_part_moments(a, b, 4), _positive_part_moments(-a, b, 4)
        raw = [p ** k * up[k] + (-q) ** k * down[k] for k in range(1, 5)]
    else:
        t, w = hermite_rule(HERMITE_NODES)
        f = act(a[..., None] + b[..., None] * t)
        raw = [(f ** k) @ w for k in range(1, 5)]
    m1, m2, m3, m4 = raw
    var = m2 - m1 ** 2
    c3 = m3 - 3 * m1 * m2 + 2 * m1 ** 3
    c4 = m4 - 4 * m1 * m3 + 6 * m1 ** 2 * m2 - 3 * m1 ** 4
    return c3 / var ** 1.5, c4 / var ** 2


def channel_statistics(z: np.ndarray, kappa3: np.ndarray, kappa4: np.ndarray) -> np.ndarray:
    """Score statistics ``Q_c = n ḡ_cᵀ Σ_c⁻¹ ḡ_c`` for ``z`` of shape ``(n, C)`` (≈ χ²₂ under the claim)."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"expected z of shape (n >= 2, C), got {z.shape}")
    det = kappa4 - 1 - kappa3 ** 2
    if np.any(det <= 0):
        raise ValueError("degenerate channel: z and z² are affinely dependent (is φ(γY + β) two-valued?)")
    g1, g2 = z.mean(axis=0), (z * z).mean(axis=0) - 1
    return z.shape[0] * ((kappa4 - 1) * g1 ** 2 - 2 * kappa3 * g1 * g2 + g2 ** 2) / det


def joint_statistic(z: np.ndarray, kappa3: np.ndarray, kappa4: np.ndarray) -> float:
    """``Z = (Σ_c Q_c − 2C) / (2 sqrt(C))``: mean 0, std ≈ 1 when every channel has mean 0 and std 1."""
    q = channel_statistics(z, kappa3, kappa4)
    return float((q.sum() - 2 * q.size) / (2 * math.sqrt(q.size)))


def required_shift(realizations: int, cells: int, channels: int, confidence: float = CONFIDENCE,
                   power: float = POWER, tolerance: float = Z_TOLERANCE) -> float:
    """The mean ``μ`` of Z at which the verdict (Bonferroni t-interval of the mean entirely above ``tolerance``)
    is FAIL with probability ``power``.

    Under a deviation the spread of Z grows to ``sqrt(1 + 2μ/√C)`` (``Var χ²_k(λ) = 2k + 4λ``), so ``μ`` solves
    ``μ − tolerance = k sqrt(1 + 2μ/√C)`` with ``k = (t_{level} + t_{power}) / sqrt(R)``.
    """
    if realizations < 2:
        raise ValueError(f"a t-interval needs at least 2 realizations, got {realizations}")
    level = 1 - (1 - confidence) / cells
    df = realizations - 1
    k = (stats.t.ppf(0.5 + level / 2, df) + stats.t.ppf(power, df)) / math.sqrt(realizations)
    h = tolerance + k * k / math.sqrt(channels)
    return h + math.sqrt(h * h - tolerance ** 2 + k * k)


def detectable_deviation(samples: int, kappa3: np.ndarray, kappa4: np.ndarray, shift: float) -> tuple[float, float]:
    """The smallest ``|Δμ|`` and ``|Δσ|``, common to all channels, that raise ``E Z`` by ``shift``."""
    det = kappa4 - 1 - kappa3 ** 2
    scale = shift * 2 * math.sqrt(np.size(det)) / samples
    return math.sqrt(scale / np.sum((kappa4 - 1) / det)), math.sqrt(scale / (4 * np.sum(1 / det)))


# -- proxies: the correct one and the deliberately wrong ones ------------------------------------------------
@functools.lru_cache(maxsize=None)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(n)
    return math.sqrt(3.0) * t, w / 2.0       # U ~ U(−√3, √3): variance 1


def uniform_moments(activation, a: np.ndarray, b: np.ndarray, nodes: int = UNIFORM_NODES):
    """Mean and variance of ``φ(a + bU)``, ``U ~ U(−√3, √3)`` (variance 1), by Gauss–Legendre quadrature."""
    act = get_activation(activation)
    t, w = _legendre(nodes)
    f = act(np.asarray(a, float)[..., None] + np.asarray(b, float)[..., None] * t)
    mean = f @ w
    return mean, ((f - mean[..., None]) ** 2) @ w


def standardize(y: np.ndarray, gamma: np.ndarray, beta: np.ndarray, activation, mean: np.ndarray,
                var: np.ndarray) -> np.ndarray:
    """``(φ(γ y + β) − mean) / sqrt(var)``: Eq. 7 with the moments of some proxy distribution."""
    return (get_activation(activation)(gamma * y + beta) - mean) / np.sqrt(var)


def quantile_errors(activation, gamma: np.ndarray, beta: np.ndarray, eps: float) -> tuple[float, float]:
    """Worst-channel ``|μ_c(z)|`` and ``|σ_c(z) − 1|`` under ``Y ~ N(0, 1)`` exactly, when PN's moments come
    from the paper's grid (``PAPER_QUANTILES`` quantiles) with ``ε = eps``."""
    m, v = gaussian_moments(activation, beta, gamma)
    mq, vq = gaussian_moments(activation, beta, gamma, "quantile", PAPER_QUANTILES)
    return float(np.max(np.abs(m - mq) / np.sqrt(vq + eps))), float(np.max(np.abs(np.sqrt(v / (vq + eps)) - 1)))


# -- T3: the exact-hypothesis check ----------------------------------------------------------------------
@dataclass(frozen=True)
class ExactConfig:
    """``channels`` channels of ``samples`` draws ``y_c ~ N(0, 1)``; ``γ_c ~ gamma``, ``β_c ~ beta``.

    realizations   the number of realizations the reported minimal detectable deviations assume.
    """

    activations: tuple[str, ...] = T3_ACTIVATIONS
    channels: int = 128
    samples: int = 2048
    gamma: Distribution = field(default_factory=lambda: Distribution("normal", 1.0, 0.2))
    beta: Distribution = field(default_factory=lambda: Distribution("normal", 0.0, 0.2))
    realizations: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "activations", tuple(self.activations))
        if not self.activations:
            raise ValueError("T3 needs at least one activation")
        for a in self.activations:
            get_activation(a)
        for name, low in (("channels", 1), ("samples", 16), ("realizations", 2)):
            check_int(name, getattr(self, name), low)
        for name in ("gamma", "beta"):
            object.__setattr__(self, name, parse_distribution(getattr(self, name)))

    def describe(self) -> dict:
        return {"activations": list(self.activations), "channels": self.channels, "samples": self.samples,
                "gamma": str(self.gamma), "beta": str(self.beta), "realizations": self.realizations}

    def label(self) -> str:
        return f"C={self.channels} n={self.samples} γ~{self.gamma} β~{self.beta}"


def exact_configs(mode: str) -> list[ExactConfig]:
    """The reference ``ν_γ, ν_β``, and asymmetric ones (Theorem 3 assumes nothing on them).

    Quick: C = 128 channels of n = 2048 samples; full: C = 1024, n = 8192.
    """
    size = dict(channels=1024, samples=8192, realizations=50) if mode == "full" else {}
    return [ExactConfig(**size), ExactConfig(gamma="uniform(0.5, 1.5)", beta="normal(0.5, 0.5)", **size)]


def exact_hypotheses(config: ExactConfig) -> list[Hypothesis]:
    g = config.gamma
    atom_at_zero = g.kind in ("constant", "rademacher") and g.a == 0 or g.kind == "normal" and g.a == g.b == 0
    return [Hypothesis("(iii) y_c ~ N(0, 1) in every channel, β̃ = γ̃ = 0, ε = 0", True, "drawn directly"),
            Hypothesis("γ_c ≠ 0 almost surely (nonzero denominator in Eq. 7)", not atom_at_zero, f"γ ~ {g}")]


def exact_measure(config: ExactConfig, ss) -> dict[str, np.ndarray]:
    """One realization: per activation, Z for the correct and the two wrong proxies, the RMS deviations of
    ``μ_c(z)``, ``σ_c(z)`` from 0, 1, the minimal detectable deviations and the quantile-grid errors."""
    rng = np.random.default_rng(ss)
    c = config.channels
    gamma, beta = config.gamma.sample(rng, (c,)), config.beta.sample(rng, (c,))
    y = rng.standard_normal((config.samples, c))
    shift = required_shift(config.realizations, len(config.activations), c)
    rows = []
    for act in config.activations:
        kappa = null_moments(act, beta, gamma)
        z = proxy_activation(y, gamma, beta, act)
        wrong = proxy_activation(y, gamma, beta, act, proxy_gamma=WRONG_PROXY_GAMMA)
        mean_u, var_u = uniform_moments(act, beta, gamma)
        ok = var_u > 0      # where φ(γU + β) is constant on U's bounded support the uniform proxy is undefined
        uniform = standardize(y[:, ok], gamma[ok], beta[ok], act, mean_u[ok], var_u[ok])
        s = z.std(axis=0)
        rows.append([joint_statistic(z, *kappa), joint_statistic(wrong, *kappa),
                     joint_statistic(uniform, kappa[0][ok], kappa[1][ok]),
                     math.sqrt(np.mean(z.mean(axis=0) ** 2)), math.sqrt(np.mean((s - 1) ** 2)),
                     *detectable_deviation(config.samples, *kappa, shift),
                     *quantile_errors(act, gamma, beta, PAPER_EPS), *quantile_errors(act, gamma, beta, 0.0)])
    names = ("joint_z", "joint_z_wrong_scale", "joint_z_uniform", "mean_rms", "std_rms", "detectable_mean_shift",
             "detectable_std_shift", "quantile_mean_error", "quantile_std_error", "quantile_grid_mean_error",
             "quantile_grid_std_error")
    return dict(zip(names, np.array(rows).T))


def _z_comparison(quantity: str, label: str, config: ExactConfig) -> Comparison:
    return Comparison(quantity, "==", 0.0, Z_TOLERANCE, "mean", label, cells=config.activations,
                      cell_name="activation")


def exact_comparisons(config: ExactConfig) -> list[Comparison]:
    return [_z_comparison("joint_z", "E Z = 0: μ_c(z) = 0 and σ_c(z) = 1 in every channel (joint χ²)", config)]


def exact_negative_controls(config: ExactConfig) -> list[Comparison]:
    return [_z_comparison("joint_z_wrong_scale", f"false: PN with proxy Y ~ N(0, {1 + WRONG_PROXY_GAMMA:g}²) "
                                                 "normalizes", config),
            _z_comparison("joint_z_uniform", "false: PN with a uniform proxy of variance 1 normalizes", config)]


T3 = register(Claim(
    key="T3",
    title="Theorem 3 under its exact hypotheses: proxy-normalized Gaussian channels are normalized",
    statement="y_c ~ N(0,1): z_c = PN(y_c) has μ_c(z) = 0 and σ_c(z) = 1 for every c and any φ, γ, β; "
              "joint test Z = (Σ_c Q_c − 2C)/(2√C), Q_c the score statistic of (z, z² − 1) with its exact null "
              "covariance; E Z = 0 within δ_Z = 2",
    configs=exact_configs,
    hypotheses=exact_hypotheses,
    measure=exact_measure,
    comparisons=exact_comparisons,
    negative_controls=exact_negative_controls,
    reported=("mean_rms", "std_rms", "detectable_mean_shift", "detectable_std_shift", "quantile_mean_error",
              "quantile_std_error", "quantile_grid_mean_error", "quantile_grid_std_error"),
    realizations={"quick": 20, "full": 50},
    plots=("comparison", "t3_exact_power"),
))


# -- T3-net: random nets --------------------------------------------------------------------------------------
T3_NET_NORMS = ("ln+pn", "gn+pn", "ln", "gn", "bn", "ln+ws", "in")
PAIRS = (("ln", "ln+pn"), ("gn", "gn+pn"))     # (plain norm, its proxy-normalized version)


def collapse_fraction(terms: np.ndarray) -> float:
    """``P(μ_c(a)) / P(a)`` from the Eq. 5 terms ``(4, C)`` of a tensor ``a``."""
    return float(terms[0].sum() / terms.sum())


def imbalance(terms: np.ndarray) -> float:
    """Coefficient of variation over channels of ``P_c(a)``."""
    p = terms.sum(axis=0)
    return float(p.std() / p.mean())


def normalization_deviations(stats: list[LayerStats]) -> dict[str, np.ndarray]:
    """Per layer: RMS_c μ_c(y), RMS_c (σ_c(y) − 1), the same for z, and the conv+norm step's aggravation
    of collapse and of channel imbalance from ``z^{l−1}`` to ``y^l``."""
    def rms(v):
        return np.sqrt(np.mean(np.square(v)))

    rows = [(rms(s.mean_y), rms(np.sqrt(s.var_y) - 1), rms(s.mean_z), rms(np.sqrt(s.var_z) - 1),
             collapse_fraction(s.power_y) - collapse_fraction(s.power_in),
             imbalance(s.power_y) - imbalance(s.power_in)) for s in stats]
    names = ("mean_y_dev", "std_y_dev", "mean_z_dev", "std_z_dev", "collapse_step", "imbalance_step")
    return dict(zip(names, np.array(rows).T))


def net_configs(mode: str) -> list[PanelConfig]:
    """Quick: C ∈ {32, 64}, L = 16, N = 16 (16×16), G = 8.
    Full: the reference configuration at C ∈ {256, 1024}, G = 32."""
    if mode == "full":
        return [PanelConfig(reference_config(width=c), T3_NET_NORMS, groups=32) for c in (256, 1024)]
    return [PanelConfig(reference_config(width=c, depth=16, n=16), T3_NET_NORMS, groups=8) for c in (32, 64)]


def net_hypotheses(config: PanelConfig) -> list[Hypothesis]:
    net = config.net
    return [Hypothesis("ε = 0 in Eqs. 3 and 7", net.eps == 0 and net.proxy_eps == 0,
                       f"eps = {net.eps}, pn_eps = {net.proxy_eps}"),
            Hypothesis("PN's moments are the exact Gaussian integrals", net.proxy_method != "quantile",
                       f"proxy_method = {net.proxy_method}")]


def net_measure(config: PanelConfig, ss) -> dict[str, np.ndarray]:
    """Per norm: the deviations and aggravation steps per layer, the profile and its distance to BN;
    ``gap`` = ``d(plain, bn) − d(plain+pn, bn)`` for plain ∈ {ln, gn}."""
    require_norms(config, ("bn",) + tuple(n for pair in PAIRS for n in pair), "T3-net")
    runs = panel_stats(config, ss)
    out = profile_quantities({n: power_profile(s) for n, s in runs.items()})
    for norm, s in runs.items():
        out.update({f"{k}[{norm}]": v for k, v in normalization_deviations(s).items()})
    out["gap"] = np.array([distance_gap(out, plain, pn)[0] for plain, pn in PAIRS])
    return out


def net_comparisons(config: PanelConfig) -> list[Comparison]:
    return [Comparison("gap", ">=", 0.0, 0.0, "mean", "d(norm, bn) − d(norm+pn, bn) ≥ 0: PN moves the power plot "
                                                      "towards BN's", cells=[p for p, _ in PAIRS], cell_name="norm")]


def net_negative_controls(config: PanelConfig) -> list[Comparison]:
    return [Comparison("gap", "<=", 0.0, 0.0, "mean", "false: PN does not move the power plot towards BN's",
                       cells=[p for p, _ in PAIRS], cell_name="norm")]


T3_NET = register(Claim(
    key="T3-net",
    title="Theorem 3 in random nets: LN+PN and GN+PN keep channels normalized and resemble BN",
    statement="per layer: RMS_c of μ_c(y), σ_c(y) − 1, μ_c(z), σ_c(z) − 1 and the aggravation of collapse and "
              "imbalance by conv+norm; claim: d(ln, bn) ≥ d(ln+pn, bn) and d(gn, bn) ≥ d(gn+pn, bn) at every width",
    configs=net_configs,
    hypotheses=net_hypotheses,
    measure=net_measure,
    comparisons=net_comparisons,
    negative_controls=net_negative_controls,
    reported=tuple(f"{k}[{n}]" for n in T3_NET_NORMS
                   for k in ("mean_y_dev", "std_y_dev", "mean_z_dev", "std_z_dev", "collapse_step", "imbalance_step"))
    + tuple(f"distance[{n}]" for n in T3_NET_NORMS if n != "bn"),
    realizations={"quick": 4, "full": 50},
    plots=("t3_net_deviations", "comparison"),
))

