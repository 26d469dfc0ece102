"""EN6, EN8–EN11, EN16 — the gradient estimators of Extreme Normalization against the full-data gradient
``G*`` (SPEC-companions §7B.3), with oracle EMAs (the exact population statistics at the current θ).

- EN6  E2–E6 have, on any minibatch, exactly the population-normalized forward values (per-example losses);
       minibatch BN (E1) does not.
- EN8  at ``B = N`` (``r_m = r_v = 1``, ``f_max ≥ 1``, clip inactive): E1, E2, E3 equal ``G*``; E5 equals it for one
       layer only (every path weight → loss crosses at most one statistic), and is biased for ``L ≥ 2``; E4 is biased.
- EN9  (a) ``E_S E4(S) = ḡ = (1/N) Σ_n g_n`` for every ``B``; (b) ``E‖E4(S) − ḡ‖² = (N − B)/(B (N − 1)) ·
       (1/N) Σ_n ‖g_n − ḡ‖²``; (c) at ``B = 1``, E3 = E5 = E4.
- EN10 ``bias_rel(B) = ‖E ĝ − G*‖/‖G*‖`` decreases with ``B`` for E1–E3 and reaches 0 at ``B = N``; E5 decreases to a
       positive floor (its EN8 value); E4 is flat.
- EN11 the modifiers, measured (exact expectations): ν-scaling, rotation, shrinkage against per-example and
       two-stage bias; shrinkage lowers the per-example bias but raises its relative MSE in this setup.
- EN16 E5' (tower 1 on a smaller minibatch) against E5: the bias gap is reported, not judged (no agreed tolerance).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import stats

from randnet import DatasetSpec, child
from randnet.checks import check_int
from theorems import _extreme as ex
from theorems import _torchnets as tn
from theorems._common import DETERMINISTIC_REALIZATIONS
from theorems.base import Claim, Comparison, Hypothesis, register

BIASED = 1e-3
"""A relative bias at least this large counts as "biased" (the exact claims' biased cells and negative controls)."""


def _net_hypotheses(net: ex.ENNet, mods: ex.Modifiers, circular: bool = True, unit_scales: bool = True
                    ) -> list[Hypothesis]:
    """Oracle EMAs always; the clip inactive; circular padding (EN2) and ``r_m = r_v = 1``, ``f_max ≥ 1`` where the
    exactness at ``B = N`` needs them."""
    out = [Hypothesis("oracle EMAs (the population statistics at the current θ)", True, "built in"),
           Hypothesis("clip inactive (u_max = ∞)", math.isinf(mods.u_max), f"u_max = {mods.u_max:g}")]
    if circular:
        out.append(Hypothesis("circular padding", net.padding == "circular", f"padding = {net.padding}"))
    if unit_scales:
        ok = mods.r_m == 1 and mods.r_v == 1 and (not mods.nu_scaling or mods.f_max >= 1)
        out.append(Hypothesis("r_m = r_v = 1, f_max ≥ 1", ok, f"{mods.label()}"))
    return out


def _config_describe(config) -> dict:
    d = {k: v for k, v in asdict(config).items() if k not in ("net", "mods")}
    return ex.jsonable({"net": config.net.describe(), "mods": config.mods.describe(), **d})


# -- EN6: the forward of the EMA estimators -------------------------------------------------------------------
FORWARD_ESTIMATORS = ("E2", "E3", "E4", "E5", "E5'", "E6")


@dataclass(frozen=True)
class ForwardConfig:
    """``minibatches`` uniform minibatches of each size in ``batch_sizes`` (E5': tower 1 on another minibatch of the
    same size)."""

    net: ex.ENNet = field(default_factory=lambda: ex.ENNet(DatasetSpec(n=16, height=8, width=8, channels=3)))
    mods: ex.Modifiers = ex.Modifiers()
    batch_sizes: tuple[int, ...] = (2, 4, 8)
    minibatches: int = 5

    def __post_init__(self) -> None:
        check_int("minibatches", self.minibatches)
        for b in self.batch_sizes:
            check_int("batch_sizes", b)
            if b > self.net.dataset.n:
                raise ValueError(f"batch size {b} exceeds N = {self.net.dataset.n}")

    def label(self) -> str:
        return f"{self.net.label()}, B ∈ {{{', '.join(map(str, self.batch_sizes))}}}"

    def describe(self) -> dict:
        return _config_describe(self)


def en6_measure(config: ForwardConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per estimator: ``max |ℓ_b − ℓ_b^pop| / max |ℓ^pop|`` over the minibatches and their examples, ``ℓ^pop`` the
    population-normalized per-example losses; ``loss_gap_bn``: the same for minibatch BN (E1)."""
    with tn.single_thread():
        pb = ex.draw_problem(config.net, ss)
        ref = ex.population_forward(pb)[0].detach().numpy()[0]
        ema = ex.oracle_ema(pb)
        rng = np.random.default_rng(child(ss, 7))
        gaps = {e: 0.0 for e in ("E1",) + FORWARD_ESTIMATORS}
        for b in config.batch_sizes:
            idx = np.stack([np.sort(rng.choice(pb.n, b, replace=False)) for _ in range(config.minibatches)])
            idx1 = np.stack([np.sort(rng.choice(pb.n, b, replace=False)) for _ in range(config.minibatches)])
            for e in gaps:
                losses = ex.estimates(pb, e, idx, config.mods, ema, idx1 if e == "E5'" else None,
                                      gradients=False).losses
                gaps[e] = max(gaps[e], float(np.abs(losses - ref[idx]).max() / np.abs(ref).max()))
    return {"loss_gap": np.array([gaps[e] for e in FORWARD_ESTIMATORS]), "loss_gap_bn": np.array([gaps["E1"]])}


register(Claim(
    key="EN6",
    title="With oracle EMAs the estimators E2–E6 have exactly the population-normalized forward values",
    statement="With oracle EMAs and inactive clips, E2 (batch renorm), E3 (‡), E4 (†), E5 and E5' (two towers) and "
              "E6 compute, on any minibatch, exactly the population-normalized forward values of its examples: the "
              "per-example losses are equal. Minibatch BN (E1) normalizes with its own statistics.",
    configs=lambda mode: [ForwardConfig(ex.ENNet(DatasetSpec(n=16, height=8, width=8, channels=3), rotation=r))
                          for r in ("identity", "hadamard")] + (
        [ForwardConfig(ex.ENNet(DatasetSpec(n=64, height=16, width=16, channels=3), depth=6, width=32, padding=p,
                                rotation="haar"), batch_sizes=(2, 8, 32), minibatches=10) for p in ex.PADDINGS]
        if mode == "full" else []),
    hypotheses=lambda c: _net_hypotheses(c.net, c.mods, circular=False, unit_scales=False), measure=en6_measure,
    comparisons=lambda c: [ex.exact("loss_gap", "<=", 0.0, "per-example losses = the population-normalized ones",
                                    FORWARD_ESTIMATORS, "estimator")],
    negative_controls=lambda c: [ex.exact("loss_gap_bn", "<=", 0.0, "false: minibatch BN (E1) has the same forward "
                                          "values", ["E1"], "estimator")],
    reported=("loss_gap_bn",), realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN8: exactness at B = N --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExactnessConfig:
    """Nets of each depth in ``depths`` (one realization draws each from its own seed), every estimator on the whole
    dataset (``B = N``)."""

    net: ex.ENNet = field(default_factory=lambda: ex.ENNet(DatasetSpec(n=32, height=8, width=8, channels=3)))
    mods: ex.Modifiers = ex.Modifiers()
    depths: tuple[int, ...] = (1, 2, 3)

    def __post_init__(self) -> None:
        if not self.depths or any(not isinstance(d, int) or d < 1 for d in self.depths) or \
                list(self.depths) != sorted(set(self.depths)):
            raise ValueError(f"depths must be increasing positive integers, got {self.depths!r}")

    def label(self) -> str:
        return f"{self.net.label().split(', ', 1)[1]}, L ∈ {{{', '.join(map(str, self.depths))}}}, {self.mods.label()}"

    def describe(self) -> dict:
        return _config_describe(self)

    @property
    def single(self) -> list[int]:
        return [d for d in self.depths if d == 1]

    @property
    def deep(self) -> list[int]:
        return [d for d in self.depths if d >= 2]


EXACT_ESTIMATORS = ("E1", "E2", "E3", "E4", "E5", "E6")


def en8_measure(config: ExactnessConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per depth: ``‖ĝ(D) − G*‖/‖G*‖`` of every estimator on the whole dataset, on θ and on the conv weights
    (``_conv``); E5 split into ``L = 1`` (``error_E5_single``) and ``L ≥ 2`` (``error_E5_deep``)."""
    out: dict[str, list] = {f"error_{e}{s}": [] for e in EXACT_ESTIMATORS for s in ("", "_conv")}
    with tn.single_thread():
        for depth in config.depths:
            pb = ex.draw_problem(replace(config.net, depth=depth), child(ss, depth))
            g, ema, c = ex.target_gradient(pb), ex.oracle_ema(pb), pb.conv_size
            for e in EXACT_ESTIMATORS:
                got = ex.estimate(pb, e, None, config.mods, ema)[0]
                out[f"error_{e}"].append(ex.rel_error(got, g))
                out[f"error_{e}_conv"].append(ex.rel_error(got[:c], g[:c]))
    res = {k: np.array(v) for k, v in out.items()}
    single = np.array([d == 1 for d in config.depths])
    res["error_E5_single"], res["error_E5_deep"] = res["error_E5"][single], res["error_E5"][~single]
    return res


def en8_comparisons(config: ExactnessConfig) -> list[Comparison]:
    d = config.depths
    out = [ex.exact(f"error_{e}", "<=", 0.0, f"{e} ({ex.ESTIMATOR_NAMES[e]}) = G* at B = N", d, "L")
           for e in ("E1", "E2", "E3")]
    if config.single:
        out.append(ex.exact("error_E5_single", "<=", 0.0, "E5 (two-stage) = G* at B = N for one layer",
                            config.single, "L"))
    if config.deep:
        out.append(ex.exact("error_E5_deep", ">=", BIASED, f"E5 is biased at B = N for L ≥ 2 (≥ {BIASED:g})",
                            config.deep, "L", tolerance=0.0))
    out.append(ex.exact("error_E4", ">=", BIASED, f"E4 (per-example) is biased at B = N (≥ {BIASED:g})", d, "L",
                        tolerance=0.0))
    return out


def en8_negative_controls(config: ExactnessConfig) -> list[Comparison]:
    out = [ex.exact("error_E4", "<=", 0.0, "false: the per-example estimator is exact at B = N", config.depths, "L")]
    if config.deep:
        out.insert(0, ex.exact("error_E5_deep", "<=", 0.0, f"false: two-stage is exact at B = N for L = "
                               f"{', '.join(map(str, config.deep))}", config.deep, "L"))
    return out


register(Claim(
    key="EN8",
    title="Exactness at B = N: BN, batch renorm and ‡ are exact; two-stage only for one layer; per-example never",
    statement="With oracle EMAs, r_m = r_v = 1, f_max ≥ 1, inactive clips and B = N: E1 (BN), E2 (BRN) and E3 (‡) "
              "equal G* to round-off; E5 (two-stage) equals G* iff every S-graph path from a weight to the loss "
              "crosses at most one statistic node — for Alg. 1 conv nets exactly one layer — and is biased even at "
              "B = N otherwise; E4 (per-example) is biased whenever N > 1.",
    configs=lambda mode: [ExactnessConfig(ex.ENNet(rotation=r)) for r in ("identity", "hadamard")] + (
        [ExactnessConfig(ex.ENNet(DatasetSpec(n=128, height=16, width=16, channels=3), width=64, rotation="haar"),
                         depths=(1, 2, 3, 5, 8))] if mode == "full" else []),
    hypotheses=lambda c: _net_hypotheses(c.net, c.mods), measure=en8_measure, comparisons=en8_comparisons,
    negative_controls=en8_negative_controls,
    reported=("error_E5", "error_E4", "error_E6", "error_E5_conv", "error_E4_conv"),
    realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN9: the per-example estimator's exact moments ----------------------------------------------------------------
@dataclass(frozen=True)
class PerExampleConfig:
    """A small net on a small dataset: every subset of every size is enumerated (``2^N − 1`` minibatches)."""

    net: ex.ENNet = field(default_factory=lambda: ex.ENNet(DatasetSpec(n=8, height=4, width=4, channels=3),
                                                           depth=2, width=4))
    mods: ex.Modifiers = ex.Modifiers()

    def __post_init__(self) -> None:
        if self.net.dataset.n > 14:
            raise ValueError(f"EN9 enumerates all 2^N subsets: N must be at most 14, got {self.net.dataset.n}")
        if self.net.dataset.n < 2:
            raise ValueError("EN9 needs N >= 2 examples")

    def label(self) -> str:
        return f"{self.net.label()}, {self.mods.label()}, all subsets"

    def describe(self) -> dict:
        return _config_describe(self)

    @property
    def sizes(self) -> list[int]:
        return list(range(1, self.net.dataset.n + 1))


def en9_measure(config: PerExampleConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per ``B``, over every ``B``-subset of E4 computed on the minibatch: (a) ``‖E_S E4 − ḡ‖/‖ḡ‖``; (b)
    ``|E‖E4 − ḡ‖² − (N − B)/(B(N − 1))·(1/N)Σ‖g_n − ḡ‖²| / ((1/N)Σ‖g_n − ḡ‖²)``; the bias ``‖E_S E4 − G*‖/‖G*‖``.
    (c) ``max_n ‖E3({n}) − E4({n})‖/‖E4({n})‖`` and the same for E5; bias and relMSE at ``B = 1`` of E3, E4, E5."""
    with tn.single_thread():
        pb = ex.draw_problem(config.net, ss)
        g, ema, n = ex.target_gradient(pb), ex.oracle_ema(pb), pb.n
        per = ex.per_example_gradients(pb, config.mods, ema)
        gbar = per.mean(axis=0)
        spread = float(((per - gbar) ** 2).sum(axis=1).mean())
        mean_error, variance_error, bias = [], [], []
        for b in config.sizes:
            idx, _ = ex.minibatches(n, b, math.comb(n, b), np.random.default_rng(0))
            est = ex.estimates(pb, "E4", idx, config.mods, ema).grads
            m = est.mean(axis=0)
            mean_error.append(ex.rel_error(m, gbar))
            variance = float(((est - gbar) ** 2).sum(axis=1).mean())
            variance_error.append(abs(variance - float(ex.without_replacement_factor(n, b)) * spread) / spread)
            bias.append(ex.rel_error(m, g))
        singles = np.arange(n)[:, None]
        by = {e: ex.estimates(pb, e, singles, config.mods, ema).grads for e in ("E3", "E4", "E5")}
        single = [max(ex.rel_error(a, b) for a, b in zip(by[e], by["E4"])) for e in ("E3", "E5")]
        metrics = [ex.bias_metrics(by[e], g, exact=True) for e in ("E3", "E4", "E5")]
    bias = np.array(bias)
    return {"mean_error": np.array(mean_error), "variance_error": np.array(variance_error),
            "bias": bias, "bias_spread": np.array([bias.max() - bias.min()]),
            "bias_drop": np.array([bias[0] - bias[-1]]),
            "single": np.array(single), "single_bias": np.array([m["bias_rel"] for m in metrics]),
            "single_rel_mse": np.array([m["rel_mse"] for m in metrics])}


register(Claim(
    key="EN9",
    title="The per-example estimator's exact moments: its mean is ḡ for every B, its variance the "
          "without-replacement formula",
    statement="(a) E_S[E4(S)] = ḡ = (1/N) Σ_n g_n for every B, so its bias does not depend on B; (b) E‖E4(S) − ḡ‖² = "
              "(N − B)/(B (N − 1)) · (1/N) Σ_n ‖g_n − ḡ‖²; (c) at B = 1, E5 = E3 = E4 exactly (μ‡ = μ†, ν‡ = ν† for "
              "one example). Every subset enumerated, E4 computed on the whole minibatch.",
    configs=lambda mode: [PerExampleConfig()] + (
        [PerExampleConfig(ex.ENNet(DatasetSpec(n=12, height=8, width=8, channels=3), depth=3, width=16,
                                   rotation="hadamard"))] if mode == "full" else []),
    hypotheses=lambda c: _net_hypotheses(c.net, c.mods, circular=False, unit_scales=False), measure=en9_measure,
    comparisons=lambda c: [
        ex.exact("mean_error", "<=", 0.0, "(a) E_S E4(S) = ḡ for every B", c.sizes, "B"),
        ex.exact("variance_error", "<=", 0.0, "(b) E‖E4 − ḡ‖² = (N − B)/(B(N − 1)) · (1/N) Σ‖g_n − ḡ‖²", c.sizes, "B"),
        ex.exact("bias_spread", "<=", 0.0, "(a) the per-example bias does not depend on B", ["max − min over B"], ""),
        ex.exact("single", "<=", 0.0, "(c) at B = 1: E3 = E4 and E5 = E4", ["E3", "E5"], "estimator")],
    negative_controls=lambda c: [ex.exact("bias_drop", ">=", BIASED, f"false: the per-example bias decreases with B "
                                          f"(by ≥ {BIASED:g} from B = 1 to N)", ["B = 1 → N"], "", tolerance=0.0)],
    reported=("bias", "single_bias", "single_rel_mse"), realizations=DETERMINISTIC_REALIZATIONS,
))


# -- EN10: bias against batch size ----------------------------------------------------------------------------
TREND = ("E1", "E2", "E3", "E5", "E4")
DECREASING = ("E1", "E2", "E3")
SPEARMAN = -0.9


@dataclass(frozen=True)
class BiasTrendConfig:
    """``bias_rel(B)`` of each estimator of :data:`TREND` over ``batch_sizes`` (must include 1 and ``N``; E2 from
    ``B = 2``): exact when there are at most ``draws`` ``B``-subsets, else the debiased Monte Carlo estimate from
    ``draws`` i.i.d. uniform minibatches. ``draws ≥ N``, so the end points ``B = 1, N`` are always exact and the
    claims on them are judged in every realization; the trend (Spearman ρ) on the mean over realizations."""

    net: ex.ENNet = field(default_factory=lambda: ex.ENNet(DatasetSpec(n=8, height=6, width=6, channels=3), width=8))
    mods: ex.Modifiers = ex.Modifiers()
    batch_sizes: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    draws: int = 400

    def __post_init__(self) -> None:
        n = self.net.dataset.n
        b = list(self.batch_sizes)
        if b != sorted(set(b)) or b[0] != 1 or b[-1] != n or len(b) < 4:
            raise ValueError(f"batch_sizes must increase from 1 to N = {n} with at least 4 values, "
                             f"got {self.batch_sizes}")
        check_int("draws", self.draws, 2)
        if self.draws < n:
            raise ValueError(f"draws must be >= N = {n}, so that B = 1 and B = N are enumerated exactly")

    def label(self) -> str:
        exact = all(math.comb(self.net.dataset.n, b) <= self.draws for b in self.batch_sizes)
        how = "exact (all subsets)" if exact else f"debiased, K = {self.draws}"
        return f"{self.net.label()}, {len(self.batch_sizes)} batch sizes, {how}"

    def describe(self) -> dict:
        return _config_describe(self)

    def sizes(self, estimator: str) -> list[int]:
        return [b for b in self.batch_sizes if b >= 2 or estimator != "E2"]


def en10_measure(config: BiasTrendConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per estimator: ``bias_<E>`` (per ``B``), ``bias_conv_<E>`` (conv weights), ``bias2_<E>`` (debiased square),
    ``rel_mse_<E>``, ``cos_mean_<E>``, ``mean_cos_<E>``; ``spearman`` ρ(B, bias) of E1–E3 (and ``spearman_E5``),
    ``endpoint`` (their bias at ``B = N``), ``floor_E5`` and ``drop_E5 = bias(1) − bias(N)``, ``flat_E4 =
    |bias(1) − bias(N)|`` and ``drop_E4 = bias(1) − bias(N)``."""
    out: dict[str, np.ndarray] = {}
    with tn.single_thread():
        pb = ex.draw_problem(config.net, ss)
        g, ema = ex.target_gradient(pb), ex.oracle_ema(pb)
        rng = np.random.default_rng(child(ss, 7))
        for e in TREND:
            rows = [ex.expected_metrics(pb, e, b, g, config.draws, rng, config.mods, ema) for b in config.sizes(e)]
            for key, name in (("bias_rel", "bias"), ("bias_rel_conv", "bias_conv"), ("bias2_rel", "bias2"),
                              ("rel_mse", "rel_mse"), ("cos_mean", "cos_mean"), ("mean_cos", "mean_cos")):
                out[f"{name}_{e}"] = np.array([r[key] for r in rows])
    rho = {e: float(stats.spearmanr(config.sizes(e), out[f"bias_{e}"]).statistic) for e in DECREASING + ("E5",)}
    out["spearman"] = np.array([rho[e] for e in DECREASING])
    out["spearman_E5"] = np.array([rho["E5"]])
    out["endpoint"] = np.array([out[f"bias_{e}"][-1] for e in DECREASING])
    b5, b4 = out["bias_E5"], out["bias_E4"]
    out.update(floor_E5=b5[-1:], drop_E5=b5[:1] - b5[-1:], flat_E4=np.abs(b4[:1] - b4[-1:]), drop_E4=b4[:1] - b4[-1:])
    return out


def en10_comparisons(config: BiasTrendConfig) -> list[Comparison]:
    return [
        ex.exact("endpoint", "<=", 0.0, "E1, E2, E3 reach 0 at B = N", DECREASING, "estimator"),
        Comparison("spearman", "<=", SPEARMAN, 0.0, "mean", f"E1, E2, E3: bias decreases with B (Spearman ρ ≤ "
                   f"{SPEARMAN:g})", cells=list(DECREASING), cell_name="estimator"),
        ex.exact("floor_E5", ">=", BIASED, f"E5 keeps a positive floor at B = N (≥ {BIASED:g}, its EN8 value)",
                 ["B = N"], "", tolerance=0.0),
        ex.exact("drop_E5", ">=", BIASED, "E5's bias decreases from B = 1 to its floor", ["B = 1 → N"], "",
                 tolerance=0.0),
        ex.exact("flat_E4", "<=", 0.0, "E4 is flat: the same bias at B = 1 and B = N", ["B = 1, N"], ""),
    ]


def en10_negative_controls(config: BiasTrendConfig) -> list[Comparison]:
    return [ex.exact("floor_E5", "<=", BIASED, f"false: the two-stage bias → 0 as B → N (≤ {BIASED:g})", ["B = N"], "",
                     tolerance=0.0),
            ex.exact("drop_E4", ">=", BIASED, f"false: the per-example bias decreases with B (by ≥ {BIASED:g})",
                     ["B = 1 → N"], "", tolerance=0.0)]


def en10_configs(mode: str) -> list[BiasTrendConfig]:
    """Quick: N = 8, every subset enumerated. Full: §7B's measured setup (N 32, L 3, C 16, K = 400) and the paper
    scale (L 8, C 64, 16×16, N 512, K = 512 so that B = 1 is enumerated)."""
    if mode == "quick":
        return [BiasTrendConfig()]
    return [BiasTrendConfig(ex.ENNet(), batch_sizes=(1, 2, 4, 8, 16, 24, 32)),
            BiasTrendConfig(ex.ENNet(DatasetSpec(n=512, height=16, width=16, channels=3), depth=8, width=64),
                            batch_sizes=tuple(2 ** k for k in range(10)), draws=512)]


register(Claim(
    key="EN10",
    title="Bias against batch size: E1–E3 decrease to 0 at B = N, two-stage to a positive floor, per-example is flat",
    statement="bias_rel(B) = ‖E_S ĝ(S) − G*‖/‖G*‖ over uniform B-subsets (exact enumeration, or the debiased "
              "‖m − G*‖² − tr Σ̂/K): E1 (BN), E2 (BRN) and E3 (‡) decrease with B and reach 0 at B = N; E5 "
              "(two-stage) decreases to a positive floor, its EN8 value; E4 (per-example) is flat (EN9).",
    configs=en10_configs, hypotheses=lambda c: _net_hypotheses(c.net, c.mods), measure=en10_measure,
    comparisons=en10_comparisons, negative_controls=en10_negative_controls,
    reported=tuple(f"bias_{e}" for e in TREND) + ("spearman_E5", "rel_mse_E4", "rel_mse_E5"),
    realizations={"quick": 4, "full": 10}, plots=("en_bias_vs_batch",),
))


# -- EN11: the bias-reducing modifiers -------------------------------------------------------------------------
VARIANTS = ("base", "no ν-scaling", "Hadamard R", "Haar R", "shrinkage")
ROTATED = ("Hadamard R", "Haar R")


@dataclass(frozen=True)
class ModifierConfig:
    """The base estimator (``mods``: f_max 2, ``R = I``) against ν-scaling off, a Hadamard and a Haar ``R``, and
    shrinkage ``(r_m, r_v) = shrink``; per-example bias (``E_S E4 = ḡ``, EN9), its exact relMSE at ``batch_sizes``
    (EN9 (b)) and the two-stage bias at ``B = N``, all exact. Reported: the shrinkage grid ``grid_r_m × grid_r_v``."""

    net: ex.ENNet = field(default_factory=ex.ENNet)
    mods: ex.Modifiers = ex.Modifiers()
    shrink: tuple[float, float] = (0.0, 0.8)
    batch_sizes: tuple[int, ...] = (1, 8)
    grid_r_m: tuple[float, ...] = (0.0, 0.5, 1.0)
    grid_r_v: tuple[float, ...] = (0.5, 0.8, 0.9, 1.0)

    def __post_init__(self) -> None:
        if self.net.rotation != "identity":
            raise ValueError("EN11's base net has R = identity (the rotations are variants)")
        if self.net.width & (self.net.width - 1):
            raise ValueError(f"EN11 compares a Hadamard R: the width must be a power of 2, got {self.net.width}")
        ex.Modifiers(*self.shrink)
        for b in self.batch_sizes:
            check_int("batch_sizes", b)
            if b > self.net.dataset.n:
                raise ValueError(f"batch size {b} exceeds N = {self.net.dataset.n}")

    def label(self) -> str:
        return f"{self.net.label(rotation=False)}, shrinkage r_m {self.shrink[0]:g}, r_v {self.shrink[1]:g}"

    def describe(self) -> dict:
        return _config_describe(self)

    @property
    def curve_sizes(self) -> list[int]:
        """Powers of 2 up to ``N`` (and ``N``): the relMSE curves of the plot."""
        n = self.net.dataset.n
        return sorted({2 ** k for k in range(int(math.log2(n)) + 1)} | {n})


def _modifier_metrics(pb: ex.Problem, mods: ex.Modifiers, sizes: list[int], reference: tuple,
                      two_stage: bool = True) -> tuple[float, float, np.ndarray]:
    """Per-example bias, two-stage bias at ``B = N`` (NaN unless ``two_stage``) and the per-example relMSE at
    ``sizes``, exactly (``reference``: ``(G*, oracle EMAs)`` of ``pb``)."""
    g, ema = reference
    per = ex.per_example_gradients(pb, mods, ema)
    ts = ex.rel_error(ex.estimate(pb, "E5", None, mods, ema)[0], g) if two_stage else math.nan
    return ex.rel_error(per.mean(axis=0), g), ts, ex.per_example_rel_mse(per, g, sizes)


def en11_measure(config: ModifierConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per variant: ``per_example_bias``, ``two_stage_bias``; the gains (base − variant, or no ν-scaling − base)
    whose sign the claims state; the indicators ``decreased`` (per gain: 1 if the bias or error went down);
    ``rel_mse`` at ``batch_sizes`` and the curves ``rel_mse_curve_base`` / ``_shrink``; the shrinkage grid."""
    with tn.single_thread():
        base = ex.draw_problem(config.net, ss)
        sizes = sorted(set(config.batch_sizes) | set(config.curve_sizes))
        rotated = {"Hadamard R": base.with_rotation("hadamard"),
                   "Haar R": base.with_rotation("haar", tn.generator(child(ss, 5)))}
        refs = {k: (ex.target_gradient(pb), ex.oracle_ema(pb)) for k, pb in (("base", base), *rotated.items())}
        runs = {
            "base": (base, config.mods, refs["base"]),
            "no ν-scaling": (base, replace(config.mods, nu_scaling=False), refs["base"]),
            **{k: (pb, config.mods, refs[k]) for k, pb in rotated.items()},
            "shrinkage": (base, replace(config.mods, r_m=config.shrink[0], r_v=config.shrink[1]), refs["base"]),
        }
        m = {k: _modifier_metrics(pb, mods, sizes, ref) for k, (pb, mods, ref) in runs.items()}
        grid_bias, grid_mse = [], []
        for r_m in config.grid_r_m:
            for r_v in config.grid_r_v:
                pe, _, mse = _modifier_metrics(base, replace(config.mods, r_m=r_m, r_v=r_v),
                                               list(config.batch_sizes), refs["base"], two_stage=False)
                grid_bias.append(pe)
                grid_mse.append(mse)
    pe = {k: v[0] for k, v in m.items()}
    ts = {k: v[1] for k, v in m.items()}
    at = [sizes.index(b) for b in config.batch_sizes]
    curve = [sizes.index(b) for b in config.curve_sizes]
    out = {
        "per_example_bias": np.array([pe[k] for k in VARIANTS]), "two_stage_bias": np.array([ts[k] for k in VARIANTS]),
        "gain_nu_per_example": np.array([pe["no ν-scaling"] - pe["base"]]),
        "gain_nu_two_stage": np.array([ts["no ν-scaling"] - ts["base"]]),
        "gain_rotation_per_example": np.array([pe["base"] - pe[k] for k in ROTATED]),
        "gain_rotation_two_stage": np.array([ts["base"] - ts[k] for k in ROTATED]),
        "gain_shrink_bias": np.array([pe["base"] - pe["shrinkage"]]),
        "gain_shrink_mse": m["base"][2][at] - m["shrinkage"][2][at],
        "rel_mse": np.stack([m[k][2][at] for k in VARIANTS]),
        "rel_mse_curve_base": m["base"][2][curve], "rel_mse_curve_shrink": m["shrinkage"][2][curve],
        "grid_bias": np.array(grid_bias).reshape(len(config.grid_r_m), len(config.grid_r_v)),
        "grid_rel_mse": np.array(grid_mse).reshape(len(config.grid_r_m), len(config.grid_r_v), -1),
    }
    gains = ("gain_nu_per_example", "gain_nu_two_stage", "gain_rotation_per_example", "gain_rotation_two_stage",
             "gain_shrink_bias", "gain_shrink_mse")
    out["decreased"] = np.concatenate([out[k] > 0 for k in gains]).astype(float)
    return out


def _gain(quantity: str, label: str, cells, cell_name: str, reverse: bool = False) -> Comparison:
    """``quantity ≥ 0`` (the modifier helps; ``reverse``: ``≤ 0``, the sign-reversed control), Student-t over the
    network realizations."""
    return Comparison(quantity, "<=" if reverse else ">=", 0.0, 0.0, "mean", label, cells=list(cells),
                      cell_name=cell_name or "case")


def en11_comparisons(config: ModifierConfig) -> list[Comparison]:
    b = [f"B = {x}" for x in config.batch_sizes]
    return [
        _gain("gain_nu_per_example", "ν-scaling reduces the per-example bias", ["no ν-scaling − base"], ""),
        _gain("gain_nu_two_stage", "ν-scaling reduces the two-stage bias at B = N", ["no ν-scaling − base"], ""),
        _gain("gain_rotation_per_example", "the rotation reduces the per-example bias", ROTATED, "R"),
        _gain("gain_rotation_two_stage", "the rotation reduces the two-stage bias at B = N", ROTATED, "R"),
        _gain("gain_shrink_bias", "shrinkage reduces the per-example bias", ["base − shrinkage"], ""),
        _gain("gain_shrink_mse", "shrinkage reduces the per-example estimation error (relMSE)", b, "B"),
    ]


def en11_negative_controls(config: ModifierConfig) -> list[Comparison]:
    """The sign-reversed versions of the effects that are decisive in this setup (a reversed undecided effect is
    undecided too, and would not be a control)."""
    return [
        _gain("gain_nu_per_example", "reversed: ν-scaling raises the per-example bias", ["no ν-scaling − base"], "",
              reverse=True),
        _gain("gain_nu_two_stage", "reversed: ν-scaling raises the two-stage bias", ["no ν-scaling − base"], "",
              reverse=True),
        _gain("gain_shrink_bias", "reversed: shrinkage raises the per-example bias", ["base − shrinkage"], "",
              reverse=True),
    ]


register(Claim(
    key="EN11",
    title="The bias-reducing modifiers, measured: ν-scaling and shrinkage lower the per-example bias, but shrinkage "
          "raises its relative MSE",
    statement="Directional, per network realization, exact expectations (oracle EMAs): the ν-gradient scaling "
              "min(ν̄/ν, f_max) lowers the per-example (E4) and two-stage (E5, B = N) bias; a fixed Hadamard or Haar "
              "rotation R lowers them; shrinkage (r_m, r_v) < 1 lowers the per-example bias and — the paper's "
              "'more favorable bias-variance tradeoff' — its relative MSE E‖E4 − G*‖²/‖G*‖². Measured here, not "
              "guaranteed: each effect is judged on the mean over realizations of its gain (t-interval).",
    configs=lambda mode: [ModifierConfig(grid_r_m=(0.0, 1.0), grid_r_v=(0.5, 0.8, 1.0)) if mode == "quick"
                          else ModifierConfig()] + (
        [ModifierConfig(ex.ENNet(depth=2)),
         ModifierConfig(ex.ENNet(DatasetSpec(n=512, height=16, width=16, channels=3), depth=8, width=64),
                        batch_sizes=(1, 8, 64))] if mode == "full" else []),
    hypotheses=lambda c: _net_hypotheses(c.net, c.mods, unit_scales=False), measure=en11_measure,
    comparisons=en11_comparisons, negative_controls=en11_negative_controls,
    reported=("per_example_bias", "two_stage_bias", "decreased", "rel_mse", "grid_bias"),
    realizations={"quick": 8, "full": 20}, plots=("en_modifiers",),
))


# -- EN16: a smaller tower-1 minibatch (reported, not judged) ----------------------------------------------------
@dataclass(frozen=True)
class SplitConfig:
    """E5' with tower 1 on ``B₁ ∈ tower1`` examples and tower 2 on ``B₂ = tower2`` (independent uniform subsets)
    against E5 with ``B₁ = B₂``: debiased bias from ``draws`` minibatch pairs (E5 exact when its subsets are
    few)."""

    net: ex.ENNet = field(default_factory=lambda: ex.ENNet(DatasetSpec(n=16, height=8, width=8, channels=3),
                                                           width=8))
    mods: ex.Modifiers = ex.Modifiers()
    tower1: tuple[int, ...] = (2, 4)
    tower2: int = 16
    draws: int = 32

    def __post_init__(self) -> None:
        n = self.net.dataset.n
        for b in (*self.tower1, self.tower2):
            check_int("batch size", b)
            if b > n:
                raise ValueError(f"batch size {b} exceeds N = {n}")
        check_int("draws", self.draws, 2)

    def label(self) -> str:
        return f"{self.net.label()}, B₁ ∈ {{{', '.join(map(str, self.tower1))}}}, B₂ {self.tower2}, K {self.draws}"

    def describe(self) -> dict:
        return _config_describe(self)


def en16_measure(config: SplitConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """``bias_same`` = bias_rel(E5(B₂)), ``bias_split`` = bias_rel(E5'(B₁, B₂)) per ``B₁``, their difference
    ``bias_gap``; the construction checks ``reduction`` (E5' with tower 1 on the loss minibatch, in another order,
    is E5: tower 1 enters only through its minibatch averages; relative error) and ``split_difference`` (E5' with
    the smallest ``B₁`` against E5, the control)."""
    with tn.single_thread():
        pb = ex.draw_problem(config.net, ss)
        g, ema = ex.target_gradient(pb), ex.oracle_ema(pb)
        rng = np.random.default_rng(child(ss, 7))
        same = ex.expected_metrics(pb, "E5", config.tower2, g, config.draws, rng, config.mods, ema)
        split = [ex.expected_metrics(pb, "E5'", config.tower2, g, config.draws, rng, config.mods, ema, b1=b1)
                 for b1 in config.tower1]
        idx = np.sort(rng.choice(pb.n, config.tower2, replace=False))
        e5 = ex.estimate(pb, "E5", idx, config.mods, ema)[0]
        reduced = ex.estimate(pb, "E5'", idx, config.mods, ema, idx1=rng.permutation(idx))[0]
        small = np.sort(rng.choice(pb.n, min(config.tower1), replace=False))
        smaller = ex.estimate(pb, "E5'", idx, config.mods, ema, idx1=small)[0]
    bias_split = np.array([s["bias_rel"] for s in split])
    return {"bias_same": np.array([same["bias_rel"]]), "bias_split": bias_split,
            "bias_gap": bias_split - same["bias_rel"], "rel_mse_split": np.array([s["rel_mse"] for s in split]),
            "rel_mse_same": np.array([same["rel_mse"]]), "reduction": np.array([ex.rel_error(reduced, e5)]),
            "split_difference": np.array([ex.rel_error(smaller, e5)])}


register(Claim(
    key="EN16",
    title="Smaller tower-1 batch (E5'): the bias gap against E5 is reported, not judged (no agreed tolerance)",
    statement="§5 (S, not verified): E5' with B₁ = 4 and B₂ = 32 loses little against B₁ = B₂ = 32. The simulator "
              "reports bias_rel(E5'(B₁, B₂)) − bias_rel(E5(B₂)) with its interval and no PASS threshold (the paper "
              "gives accuracy only). The only judged comparison is the construction: E5' with tower 1 on the loss "
              "minibatch (in any order) is E5.",
    configs=lambda mode: [SplitConfig()] + (
        [SplitConfig(ex.ENNet(DatasetSpec(n=64, height=8, width=8, channels=3)), tower1=(2, 4, 8, 16), tower2=32,
                     draws=400)] if mode == "full" else []),
    hypotheses=lambda c: _net_hypotheses(c.net, c.mods, circular=False, unit_scales=False), measure=en16_measure,
    comparisons=lambda c: [ex.exact("reduction", "<=", 0.0, "construction: E5' with tower 1 on the loss minibatch "
                                    "(permuted) = E5 (the bias gap itself is reported, not judged)", ["B₁ = B₂"], "")],
    negative_controls=lambda c: [ex.exact("split_difference", "<=", 0.0, f"false: E5' with B₁ = {min(c.tower1)} gives "
                                          "the same estimate as E5", [f"B₁ = {min(c.tower1)}"], "")],
    reported=("bias_gap", "bias_split", "bias_same", "rel_mse_split", "rel_mse_same"),
    realizations={"quick": 4, "full": 10},
))
