"""P5 — instance normalization alters expressivity (Proposition 5; sharp form reconstructed, SPEC §4 "P4 / P5").

Distance of a mapping ``Φ`` to the identity on the dataset ``D`` (``C^l = C⁰``):

    d(Φ) = (1 / (N H W C)) Σ_x ‖Φ(x) − x‖².

With ``norm = in``, ``ε = 0`` and ``Φ: x ↦ u^l = γ^l ⊙ y^l + β^l``, IN makes every input's instance mean of
``u_c`` equal to ``β_c`` and its instance std equal to ``|γ_c|``, so for every ``(x, c)``

    mean_hw (u − x)² = (β_c − μ_{x,c}(x))² + σ_{x,c}(u − x)² ≥ (β_c − μ_{x,c}(x))² + (|γ_c| − σ_{x,c}(x))²,

and averaging over ``x`` and minimizing over ``β_c, |γ_c|``:

    d(Φ) ≥ η* = (1/C) Σ_c [σ_c(μ_{x,c}(x))² + σ_c(σ_{x,c}(x))²]      (terms (2) + (4) of the input's Eq. 5),

attained by one IN layer with the identity kernel, ``β_c = E_x μ_{x,c}(x)``, ``γ_c = E_x σ_{x,c}(x)``. The
paper's weaker bound keeps the means only, ``η = (1/C) Σ_c σ_c(μ_{x,c}(x))²``; it still holds exactly with
``ε > 0`` (the instance means of ``u`` are still ``β_c``). Without the affine step (``Φ: x ↦ y^l``) the bound is
``η₀ = (1/C) Σ_c E_x[μ_{x,c}(x)² + (σ_{x,c}(x) − 1)²]``, attained by the bare IN layer.

Two claims: ``P5`` (random IN nets of Definition 1 at every layer, and the attaining constructions —
deterministic) and ``P5-train`` (IN nets trained to approximate the identity approach ``η*`` from above).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from randnet import DatasetSpec, NetConfig, child, draw_data, forward, instance_moments, normalize, periodic_conv
from randnet.checks import check_number
from randnet.roundoff import inequality_tolerance
from theorems import _torchnets as tn
from theorems._expressivity import RANDOM_DATA, VARIABILITY_TOL, delta_kernel, expressivity_bounds, \
    identity_distance, ratio, train_identity
from theorems.base import Claim, Comparison, Hypothesis, register, replace

NEG_DELTA = 1e-3          # the false sharper bounds of the negative controls: d ≥ (1 + δ) η*
FLOOR = 1e-6              # the false floor d ≥ FLOOR · P(x) of the negative control where η* = 0


def attaining_layer(x: np.ndarray, eps: float = 0.0, affine: bool = True, dtype="float64") -> np.ndarray:
    """One IN layer with the identity kernel: ``γ_c y + β_c`` with ``γ_c = E_x σ_{x,c}(x)``, ``β_c = E_x μ_{x,c}(x)``
    (``affine=False``: ``y``)."""
    y = normalize(periodic_conv(x.astype(dtype), delta_kernel(np.eye(x.shape[-1])).astype(dtype)), "in", eps=eps)
    if not affine:
        return y
    m, v = instance_moments(x)
    return np.sqrt(v).mean(axis=0) * y + m.mean(axis=0)


def _variability(x: np.ndarray, weak: bool) -> Hypothesis:
    b = expressivity_bounds(x)
    key, what = ("eta", "instance means") if weak else ("eta_star", "instance means or stds")
    met = b[key] > VARIABILITY_TOL * b["power"]
    return Hypothesis(f"some channel's {what} differ between inputs ({'η' if weak else 'η*'} > 0)", bool(met),
                      f"{'η' if weak else 'η*'} = {b[key]:.3g} (P(x) = {b['power']:.3g})")


# -- P5: random IN nets and the attaining constructions (deterministic) ---------------------------------
def p5_configs(mode: str) -> list[NetConfig]:
    """IN nets with ``C^l = C⁰`` in float64 (several C⁰, depths, activations, datasets), one with ``ε > 0``
    (the weak bound η) and the ``shared_stats`` negative control (η* = 0: HYPOTHESIS NOT MET)."""
    full = mode == "full"
    n = 32 if full else 16

    def net(c, depth, name="gaussian", **kw):
        return NetConfig(widths=c, depth=depth, norm="in", dtype="float64",
                         dataset=DatasetSpec(name, n=n, height=8, width=8, channels=c), **kw)

    configs = [
        net(3, 12 if full else 6),
        net(8, 8 if full else 4, "grf", activation="gelu"),
        net(4, 8 if full else 4, activation="tanh", beta="normal(1, 0.2)"),
        net(3, 8 if full else 4, eps=1e-2),
        net(3, 4, "shared_stats"),
    ]
    if full:
        configs += [net(16, 16), net(3, 30, activation="leaky_relu", kernel_size=5)]
    return configs


def _check_shapes(config: NetConfig, x: np.ndarray) -> None:
    if any(c != x.shape[-1] for c in config.widths) or config.first_stride != 1:
        raise ValueError(f"P5 needs C^l = C⁰ = {x.shape[-1]} at every layer and first_stride 1 (d compares Φ(x) "
                         f"with x), got widths {config.widths} and first_stride {config.first_stride}")


def p5_hypotheses(config: NetConfig) -> list[Hypothesis]:
    base = config.base_norm
    return [Hypothesis("norm = in", base == "in", f"norm is {config.norm!r}"),
            _variability(config.dataset.draw(), weak=config.eps > 0)]


def p5_measure(config: NetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per layer ``d/η*``, ``d/η``, ``d₀/η₀`` of the random net; the constructions' ratios and ``d/P(x)``;
    ``η*``, ``η``."""
    x = draw_data(config, ss)
    _check_shapes(config, x)
    b = expressivity_bounds(x)
    d, d0 = [], []
    for layer in forward(config, ss, x):
        p = layer.params
        d.append(identity_distance(p.gamma.astype(np.float64) * layer.y + p.beta, x))
        d0.append(identity_distance(layer.y, x))
    construct = identity_distance(attaining_layer(x, config.eps, dtype=config.dtype), x)
    bare = identity_distance(attaining_layer(x, config.eps, affine=False, dtype=config.dtype), x)
    r = lambda v, k: np.array([ratio(t, b[k], b["power"]) for t in np.atleast_1d(v)])  # noqa: E731
    return dict(d_over_eta_star=r(d, "eta_star"), d_over_eta=r(d, "eta"), d0_over_eta0=r(d0, "eta0"),
                construct_over_eta_star=r(construct, "eta_star"), construct_over_eta=r(construct, "eta"),
                bare_over_eta0=r(bare, "eta0"), construct_rel=np.array([construct / b["power"]]),
                eta_star=np.array([b["eta_star"]]), eta=np.array([b["eta"]]),
                d=np.array(d, dtype=float))


def _exact(quantity, relation, prediction, tol, label, cells=("construction",), cell_name="net") -> Comparison:
    return Comparison(quantity, relation, prediction, tol, "exact", label, cells=list(cells), cell_name=cell_name)


def p5_comparisons(config: NetConfig) -> list[Comparison]:
    tol, layers = inequality_tolerance(config.dtype), range(1, config.depth + 1)
    weak = _exact("d_over_eta", ">=", 1.0, tol, "d ≥ η (means only) at every layer", layers, "layer")
    if config.eps > 0:
        return [weak, _exact("construct_over_eta", ">=", 1.0, tol, "the construction with ε > 0: d ≥ η")]
    return [
        _exact("d_over_eta_star", ">=", 1.0, tol, "d ≥ η* at every layer", layers, "layer"),
        weak,
        _exact("d0_over_eta0", ">=", 1.0, tol, "without the affine step: d(y) ≥ η₀ at every layer", layers, "layer"),
        _exact("construct_over_eta_star", "==", 1.0, tol,
               "one IN layer, identity kernel, γ = E σ_{x,c}, β = E μ_{x,c} attains η*"),
        _exact("bare_over_eta0", "==", 1.0, tol, "the bare IN layer attains η₀"),
    ]


def _floor_control(quantity: str, cell: str) -> Comparison:
    """Where the inputs share their instance statistics (η* = 0): the false claim that IN still keeps a floor."""
    return Comparison(quantity, ">=", FLOOR, 0.0, "exact", f"false: without inter-instance variability IN nets "
                      f"still keep d ≥ {FLOOR:g} P(x)", cells=[cell], cell_name="net")


def p5_negative_controls(config: NetConfig) -> list[Comparison]:
    tol = inequality_tolerance(config.dtype)
    if not p5_hypotheses(config)[1].met:
        return [_floor_control("construct_rel", "construction")]
    if config.eps > 0:
        return [_exact("construct_over_eta", "<=", 1 + NEG_DELTA, tol,
                       f"false: the weak bound η is attained (d ≤ (1 + {NEG_DELTA:g}) η)")]
    return [_exact("construct_over_eta_star", ">=", 1 + NEG_DELTA, tol,
                   f"false: η* is not sharp (d ≥ (1 + {NEG_DELTA:g}) η* for every IN net)")]


register(Claim(
    key="P5",
    title="IN nets cannot approach the identity closer than the input's inter-instance variability η*",
    statement="norm = in, ε = 0, C^l = C⁰: d(x ↦ γ^l y^l + β^l) ≥ η* = (1/C) Σ_c [σ_c(μ_{x,c}(x))² + "
              "σ_c(σ_{x,c}(x))²] at every layer, for every parameter choice; equality for one IN layer with the "
              "identity kernel, β_c = E μ_{x,c}(x), γ_c = E σ_{x,c}(x). With ε > 0: d ≥ η = (1/C) Σ_c "
              "σ_c(μ_{x,c}(x))². Without the affine step: d(y^l) ≥ η₀ = (1/C) Σ_c E_x[μ_{x,c}² + (σ_{x,c} − 1)²].",
    configs=p5_configs, hypotheses=p5_hypotheses, measure=p5_measure, comparisons=p5_comparisons,
    negative_controls=p5_negative_controls, reported=("d_over_eta_star", "eta_star", "eta", "d"),
    realizations={"quick": 4, "full": 20}, plots=("comparison",),
))


# -- P5-train: IN nets trained toward the identity approach η* from above -------------------------------
@dataclass(frozen=True)
class P5TrainConfig:
    """An IN net (Eqs. 2–4, ``Φ: x ↦ u^L``) of ``depth`` layers, hidden widths ``width`` and ``C^L = C⁰``,
    trained with Adam (``steps``, ``lr``, float64, full batch) on ``d(Φ)``. ``approach``: the claimed final
    ``d ≤ (1 + approach) η*``; ``checkpoints``: iterates recorded for the training curve."""

    dataset: DatasetSpec = RANDOM_DATA
    depth: int = 1
    width: int = 8
    activation: str = "relu"
    kernel_size: int = 3
    steps: int = 300
    lr: float = 2e-2
    approach: float = 0.05
    checkpoints: int = 12

    def __post_init__(self) -> None:
        tn.check_training_config(self, ("depth", "width", "steps", "checkpoints"))
        check_number("approach", self.approach, strict=True)

    @property
    def checkpoint_steps(self) -> list[int]:
        return tn.checkpoints(self.steps, self.checkpoints)

    def widths(self, channels: int) -> tuple[int, ...]:
        return (self.width,) * (self.depth - 1) + (channels,)

    def label(self) -> str:
        hidden = f", width {self.width}" if self.depth > 1 else ""
        return f"IN, L = {self.depth}{hidden}, {self.activation}, {self.steps} steps, {self.dataset.name}"

    def describe(self) -> dict:
        return {**asdict(self), "dataset": asdict(self.dataset)}


def p5_train_configs(mode: str) -> list[P5TrainConfig]:
    full = mode == "full"
    data = DatasetSpec(n=32, height=8, width=8, channels=3) if full else RANDOM_DATA
    steps = 1000 if full else 200
    configs = [P5TrainConfig(data, depth=1, steps=steps),
               P5TrainConfig(data, depth=2, width=8, steps=steps),
               P5TrainConfig(replace(data, name="shared_stats"), depth=1, steps=steps)]
    if full:
        configs += [P5TrainConfig(data, depth=3, width=16, steps=steps),
                    P5TrainConfig(DatasetSpec("grf", n=32, height=8, width=8, channels=8), depth=2, width=16,
                                  activation="gelu", steps=steps)]
    return configs


def p5_train_hypotheses(config: P5TrainConfig) -> list[Hypothesis]:
    return [_variability(config.dataset.draw(), weak=False)]


def p5_train_measure(config: P5TrainConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """``d/η*`` at every iterate (its minimum), at the end and at the checkpoints; the final ``d`` and ``d/P(x)``."""
    x = config.dataset.draw(child(ss, 0))
    b = expressivity_bounds(x)
    d = train_identity(x, config.widths(x.shape[-1]), "in", config, child(ss, 1))
    r = lambda v: ratio(v, b["eta_star"], b["power"])  # noqa: E731
    return dict(min_ratio=np.array([r(d.min())]), final_ratio=np.array([r(d[-1])]),
                trajectory=np.array([r(d[s]) for s in config.checkpoint_steps]),
                d_final=np.array([d[-1]]), d_final_rel=np.array([d[-1] / b["power"]]),
                eta_star=np.array([b["eta_star"]]))


def p5_train_comparisons(config: P5TrainConfig) -> list[Comparison]:
    return [
        Comparison("min_ratio", ">=", 1.0, inequality_tolerance("float64"), "exact",
                   "d ≥ η* at every training iterate", cells=["all iterates"], cell_name="net"),
        Comparison("final_ratio", "<=", 1.0 + config.approach, 0.0, "mean",
                   f"trained nets approach η*: mean final d/η* ≤ {1 + config.approach:g}", cells=["final"],
                   cell_name="net"),
    ]


def p5_train_negative_controls(config: P5TrainConfig) -> list[Comparison]:
    if not p5_train_hypotheses(config)[0].met:
        return [_floor_control("d_final_rel", "final")]
    return [Comparison("final_ratio", ">=", 2.0, 0.0, "mean", "false: trained IN nets stay at d ≥ 2 η*",
                       cells=["final"], cell_name="net")]


register(Claim(
    key="P5-train",
    title="IN nets trained toward the identity approach η* from above and never cross it",
    statement="An IN net (Φ: x ↦ u^L, C^L = C⁰) trained on d(Φ) keeps d ≥ η* at every iterate and ends "
              "close to η* (the bound is the infimum); with no inter-instance variability (η* = 0) it reaches "
              "d ≈ 0.",
    configs=p5_train_configs, hypotheses=p5_train_hypotheses, measure=p5_train_measure,
    comparisons=p5_train_comparisons, negative_controls=p5_train_negative_controls,
    reported=("final_ratio", "trajectory", "d_final_rel", "eta_star"),
    realizations={"quick": 4, "full": 16}, plots=("p5_training_curves",),
))
