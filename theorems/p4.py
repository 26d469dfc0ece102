"""P4 — networks without normalization approach the identity (Proposition 4; SPEC §4 "P4 / P5").

Layers of Eqs. 16–17, ``x^l = ω^l ⊛ z^{l−1} + b^l``, ``z^l = φ(x^l)``, ``Φ: z⁰ ↦ x^l``, ``C^l = C⁰``, ``φ``
non-polynomial: ``inf d(Φ) = 0`` over widths and parameters, with ``d`` the distance of :func:`identity_distance`.
Shown by two-layer constructions (identity kernels; ``B ≥ max |x|``; ``a = φ(1)``):

- shift, ``φ`` positive homogeneous with ``a > 0``:  ``(φ(x + B) − a B) / a = x``                — exact;
- odd part, width ``2C⁰``:  ``φ(x) − φ(−x) = x`` exactly iff the odd part of ``φ`` is ``t/2``:
  ReLU ``max(t,0) − max(−t,0)``, GELU ``t Φ(t) + t Φ(−t)``, SiLU ``t σ(t) + t σ(−t)``, softplus
  ``log(1+eᵗ) − log(1+e⁻ᵗ)`` — all ``= t``; not tanh (``2 tanh t``), leaky ReLU (``1.01 t``), identity (``2t``);
- smooth ``φ`` with ``φ′(c) ≠ 0``, width ``2C⁰``:  ``(φ(c + s x) − φ(c − s x)) / (2 s φ′(c)) = x + s² x³ φ‴(c) /
  (6 φ′(c)) + O(s⁴)`` — the RMS error shrinks like ``s²`` (log-log slope 2, read off a fit over ``scales``);

and by training (``P4-train``): the error of trained no-norm nets falls as the hidden width grows and goes
below the floor ``η*`` that no IN net can cross (P5); the report draws both against width.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from randnet import DatasetSpec, child, get_activation, periodic_conv
from randnet.checks import check_int
from randnet.roundoff import FLOAT64_EXACT, inequality_tolerance
from theorems import _torchnets as tn
from theorems._expressivity import RANDOM_DATA, delta_kernel, expressivity_bounds, identity_distance, ratio, \
    train_identity
from theorems.base import Claim, Comparison, Hypothesis, register

EXACT_TOL = FLOAT64_EXACT ** 2  # "exact" in relative power d / P(x): an RMS relative error of 1e-12 (float64)
SMOOTH_RATE = 2.0         # the RMS error of the smooth construction is O(s²)
RATE_TOL = 0.05


def plain_net(x: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]], activation: str) -> np.ndarray:
    """Eqs. 16–17: ``x^l = ω^l ⊛ z^{l−1} + b^l``, ``z^l = φ(x^l)``; returns ``x^L`` for ``layers = [(ω^l, b^l)]``."""
    act = get_activation(activation)
    z = x
    for w, b in layers:
        out = periodic_conv(z, w) + b
        z = act(out)
    return out


def shift_construction(x: np.ndarray, activation: str, kernel_size: int = 1) -> np.ndarray:
    """``(φ(x + B) − a B) / a`` with ``B_c = max |x_c|``, ``a = φ(1) > 0`` (``φ`` positive homogeneous)."""
    a = get_activation(activation).slopes[0]
    eye, big = np.eye(x.shape[-1]), np.abs(x).max(axis=(0, 1, 2))
    return plain_net(x, [(delta_kernel(eye, kernel_size), big), (delta_kernel(eye / a, kernel_size), -big)], activation)


def odd_construction(x: np.ndarray, activation: str, kernel_size: int = 1) -> np.ndarray:
    """``φ(x) − φ(−x)`` through ``2C⁰`` hidden channels."""
    eye = np.eye(x.shape[-1])
    up, down = np.hstack([eye, -eye]), np.vstack([eye, -eye])
    return plain_net(x, [(delta_kernel(up, kernel_size), 0.0), (delta_kernel(down, kernel_size), 0.0)], activation)


def smooth_construction(x: np.ndarray, activation: str, center: float, scale: float,
                        kernel_size: int = 1) -> np.ndarray:
    """``(φ(c + s x) − φ(c − s x)) / (2 s φ′(c))`` through ``2C⁰`` hidden channels."""
    eye = np.eye(x.shape[-1])
    slope = float(get_activation(activation).derivative(np.float64(center)))
    up, down = scale * np.hstack([eye, -eye]), np.vstack([eye, -eye]) / (2 * scale * slope)
    return plain_net(x, [(delta_kernel(up, kernel_size), center), (delta_kernel(down, kernel_size), 0.0)], activation)


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x``."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# -- P4: the constructions (deterministic) --------------------------------------------------------------
@dataclass(frozen=True)
class P4Config:
    """The constructions of the module docstring for each activation on ``dataset``, with identity kernels of
    size ``kernel_size``; the smooth one at ``center`` c for every ``scale`` s (≥ 2, for the slope fit)."""

    dataset: DatasetSpec = RANDOM_DATA
    activations: tuple[str, ...] = ("relu", "leaky_relu", "gelu", "silu", "softplus", "tanh")
    center: float = 0.5
    scales: tuple[float, ...] = (3e-2, 1e-2, 3e-3, 1e-3)
    kernel_size: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, DatasetSpec):
            raise ValueError(f"dataset must be a randnet.DatasetSpec, got {type(self.dataset).__name__}")
        object.__setattr__(self, "activations", tuple(self.activations))
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        if not self.activations or len(set(self.activations)) != len(self.activations):
            raise ValueError(f"activations must be a non-empty tuple of distinct names, got {self.activations!r}")
        if len(set(self.scales)) < 2 or not all(0 < s < np.inf for s in self.scales):
            raise ValueError(f"scales must hold >= 2 distinct finite numbers > 0 (for the rate fit), "
                             f"got {self.scales!r}")
        if not np.isfinite(self.center):
            raise ValueError(f"center must be finite, got {self.center!r}")
        tn.check_odd_kernel(self.kernel_size)
        for name in self.smooth:
            if get_activation(name).derivative(np.float64(self.center)) == 0:
                raise ValueError(f"the smooth construction needs φ′(c) ≠ 0; {name}′({self.center:g}) = 0")

    @property
    def shiftable(self) -> tuple[str, ...]:
        """Positive-homogeneous activations with ``a = φ(1) > 0``."""
        return tuple(a for a in self.activations if get_activation(a).positive_homogeneous
                     and get_activation(a).slopes[0] > 0)

    @property
    def smooth(self) -> tuple[str, ...]:
        return tuple(a for a in self.activations if not get_activation(a).positive_homogeneous)

    @property
    def odd_exact(self) -> tuple[str, ...]:
        """The activations with ``φ(t) − φ(−t) ≡ t`` (:attr:`randnet.Activation.odd_identity_exact`)."""
        return tuple(a for a in self.activations if get_activation(a).odd_identity_exact)

    @property
    def odd_other(self) -> tuple[str, ...]:
        return tuple(a for a in self.activations if not get_activation(a).odd_identity_exact)

    def label(self) -> str:
        d = self.dataset
        return f"{d.name} {d.n}×{d.height}×{d.width}×{d.channels}, c = {self.center:g}, K = {self.kernel_size}"

    def describe(self) -> dict:
        return {**asdict(self), "dataset": asdict(self.dataset)}


def p4_configs(mode: str) -> list[P4Config]:
    if mode == "full":
        return [P4Config(DatasetSpec(n=32, height=16, width=16, channels=3)),
                P4Config(DatasetSpec("grf", n=32, height=16, width=16, channels=8), center=-0.3,
                         scales=(1e-2, 5e-3, 2e-3, 1e-3, 5e-4))]
    return [P4Config()]


def p4_hypotheses(config: P4Config) -> list[Hypothesis]:
    poly = [a for a in config.activations if get_activation(a).polynomial]
    return [Hypothesis("φ non-polynomial", not poly, f"polynomial: {', '.join(poly)}" if poly else
                       f"{', '.join(config.activations)} are not polynomials")]


def p4_measure(config: P4Config, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """``d / P(x)`` of the exact constructions; RMS relative error of the smooth one per ``(φ, s)`` and its slope."""
    x = config.dataset.draw(child(ss, 0))
    power, k = expressivity_bounds(x)["power"], config.kernel_size
    rel = lambda out: identity_distance(out, x) / power  # noqa: E731
    out = dict(shift_rel=np.array([rel(shift_construction(x, a, k)) for a in config.shiftable]),
               odd_rel_exact=np.array([rel(odd_construction(x, a, k)) for a in config.odd_exact]),
               odd_rel_other=np.array([rel(odd_construction(x, a, k)) for a in config.odd_other]))
    rms = np.array([[np.sqrt(rel(smooth_construction(x, a, config.center, s, k))) for s in config.scales]
                    for a in config.smooth]).reshape(len(config.smooth), len(config.scales))
    out.update(smooth_rms=rms.ravel(), smooth_slope=np.array([loglog_slope(config.scales, r) for r in rms]))
    return {q: v for q, v in out.items() if v.size}


def p4_comparisons(config: P4Config) -> list[Comparison]:
    c = []
    if config.shiftable:
        c.append(Comparison("shift_rel", "<=", 0.0, EXACT_TOL, "exact", "(φ(x + B) − aB)/a = x exactly",
                            cells=list(config.shiftable), cell_name="activation"))
    if config.odd_exact:
        c.append(Comparison("odd_rel_exact", "<=", 0.0, EXACT_TOL, "exact", "φ(x) − φ(−x) = x exactly",
                            cells=list(config.odd_exact), cell_name="activation"))
    if config.smooth:
        c.append(Comparison("smooth_slope", "==", SMOOTH_RATE, RATE_TOL, "exact",
                            "smooth construction: RMS error ∝ s² (log-log slope 2)", cells=list(config.smooth),
                            cell_name="activation"))
    return c


def p4_negative_controls(config: P4Config) -> list[Comparison]:
    c = []
    if config.odd_other:
        c.append(Comparison("odd_rel_other", "<=", 0.0, EXACT_TOL, "exact",
                            "false: φ(x) − φ(−x) = x also for these φ", cells=list(config.odd_other),
                            cell_name="activation"))
    if config.smooth:
        c.append(Comparison("smooth_slope", "==", 1.0, RATE_TOL, "exact", "false: the smooth construction's "
                            "error is O(s)", cells=list(config.smooth), cell_name="activation"))
    return c


register(Claim(
    key="P4",
    title="Without normalization, networks express the identity (exactly or in the limit)",
    statement="x^l = ω^l ⊛ z^{l−1} + b^l, z^l = φ(x^l), φ non-polynomial: inf d(z⁰ ↦ x^l) = 0. Exact: "
              "(φ(x + B) − aB)/a for positive-homogeneous φ; φ(x) − φ(−x) for ReLU, GELU, SiLU, softplus. Smooth φ: "
              "(φ(c + s x) − φ(c − s x)) / (2 s φ′(c)) with RMS error O(s²).",
    configs=p4_configs, hypotheses=p4_hypotheses, measure=p4_measure, comparisons=p4_comparisons,
    negative_controls=p4_negative_controls, reported=("smooth_rms", "odd_rel_other"),
    realizations={"quick": 3, "full": 10}, plots=("p4_smooth_rate", "comparison"),
))


# -- P4-train: trained nets, no norm vs IN, over the hidden width ---------------------------------------
@dataclass(frozen=True)
class P4TrainConfig:
    """Nets of ``depth`` layers (hidden width swept over ``widths``, ``C^L = C⁰``) trained with Adam (``steps``,
    ``lr``, float64, full batch) on ``d(Φ)``, once without normalization (Eqs. 16–17) and once with IN (Eqs. 2–4)."""

    dataset: DatasetSpec = RANDOM_DATA
    activation: str = "relu"
    widths: tuple[int, ...] = (1, 2, 4, 8, 16)
    depth: int = 2
    kernel_size: int = 3
    steps: int = 300
    lr: float = 2e-2

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        for w in self.widths:
            check_int("widths", w)
        if len(self.widths) < 2 or any(a >= b for a, b in zip(self.widths, self.widths[1:])):
            raise ValueError(f"widths must be >= 2 strictly increasing widths, got {self.widths!r}")
        check_int("depth", self.depth, 2)  # a hidden layer to sweep
        tn.check_training_config(self, ("steps",))

    def net_widths(self, hidden: int, channels: int) -> tuple[int, ...]:
        return (hidden,) * (self.depth - 1) + (channels,)

    def label(self) -> str:
        return f"{self.activation}, L = {self.depth}, K = {self.kernel_size}, {self.steps} steps, {self.dataset.name}"

    def describe(self) -> dict:
        return {**asdict(self), "dataset": asdict(self.dataset)}


def p4_train_configs(mode: str) -> list[P4TrainConfig]:
    if mode == "full":
        data = DatasetSpec(n=32, height=8, width=8, channels=3)
        return [P4TrainConfig(data, widths=(1, 2, 4, 8, 16, 32), steps=1000),
                P4TrainConfig(data, activation="tanh", widths=(1, 2, 4, 8, 16, 32), steps=1000)]
    return [P4TrainConfig(widths=(1, 2, 4, 8), steps=200)]


def p4_train_hypotheses(config: P4TrainConfig) -> list[Hypothesis]:
    return [Hypothesis("φ non-polynomial", not get_activation(config.activation).polynomial,
                       f"φ = {config.activation}")]


def p4_train_measure(config: P4TrainConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per hidden width: final ``d/η*`` of the no-norm and IN nets, the IN net's minimum over all iterates,
    and the log-log slope of the no-norm ``d`` against width."""
    x = config.dataset.draw(child(ss, 0))
    b = expressivity_bounds(x)
    c = x.shape[-1]
    r = lambda v: ratio(v, b["eta_star"], b["power"])  # noqa: E731
    none, inn = [], []
    for j, w in enumerate(config.widths):
        widths = config.net_widths(w, c)
        none.append(train_identity(x, widths, "none", config, child(child(ss, 1), j)))
        inn.append(train_identity(x, widths, "in", config, child(child(ss, 2), j)))
    d_none = np.array([h[-1] for h in none])
    return dict(none_over_eta_star=np.array([r(v) for v in d_none]),
                in_over_eta_star=np.array([r(h[-1]) for h in inn]),
                in_min_over_eta_star=np.array([r(h.min()) for h in inn]),
                widest_none_over_eta_star=np.array([r(d_none[-1])]),
                width_slope=np.array([loglog_slope(config.widths, d_none)]),
                eta_star_rel=np.array([b["eta_star"] / b["power"]]))


def p4_train_comparisons(config: P4TrainConfig) -> list[Comparison]:
    return [
        Comparison("width_slope", "<=", 0.0, 0.0, "mean", "no norm: d falls as the width grows (log-log slope < 0)",
                   cells=["slope"], cell_name="fit"),
        Comparison("widest_none_over_eta_star", "<=", 1.0, 0.0, "mean",
                   f"no norm at width {config.widths[-1]}: d below the IN floor η*", cells=[config.widths[-1]],
                   cell_name="width"),
        Comparison("in_min_over_eta_star", ">=", 1.0, inequality_tolerance("float64"), "exact",
                   "IN: d ≥ η* at every iterate (P5)", cells=list(config.widths), cell_name="width"),
    ]


def p4_train_negative_controls(config: P4TrainConfig) -> list[Comparison]:
    return [
        Comparison("width_slope", ">=", 0.0, 0.0, "mean", "false: no-norm error does not fall with width",
                   cells=["slope"], cell_name="fit"),
        Comparison("widest_none_over_eta_star", ">=", 1.0, 0.0, "mean",
                   "false: no-norm nets cannot beat the IN floor η*", cells=[config.widths[-1]], cell_name="width"),
    ]


register(Claim(
    key="P4-train",
    title="Trained nets without normalization approach the identity as width grows; IN nets stop at η*",
    statement="Nets of Eqs. 16–17 trained on d(Φ) reach a d that falls with the hidden width and goes below η*, "
              "while IN nets of the same widths stay above η* at every iterate.",
    configs=p4_train_configs, hypotheses=p4_train_hypotheses, measure=p4_train_measure,
    comparisons=p4_train_comparisons, negative_controls=p4_train_negative_controls,
    reported=("none_over_eta_star", "in_over_eta_star", "eta_star_rel"),
    realizations={"quick": 4, "full": 12}, plots=("p4_distance_vs_width",),
))
