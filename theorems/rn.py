"""RN — the RegNorm regularizer's minimum (Rao & Sohl-Dickstein, Eq. 3 and Appendix B; reconstructed, SPEC §4 "RN").

For a batch ``h ∈ R^{B×M}`` (``M = H·W·C`` units) and the batch mean ``m_i = (1/B) Σ_b ĥ_{b,i}``,

    R(h) = (1/M) Σ_i m_i²                                     total loss = task loss + λ Σ_layers R,

with ``ĥ_b = h_b / σ_x(h_b)`` (**reading A**, primary: RegNorm's forward divides by the layer std and the regularizer
replaces the mean subtraction, SPEC-companions §7A.2 A2) or ``ĥ_b = (h_b − μ_x(h_b)) / σ_x(h_b)`` (**reading B**: LN's
forward, SPEC §4's former primary). Writing ``h_b = μ_b 1 + σ_b v_b`` (``v_b ⊥ 1``, ``‖v_b‖² = M``) and
``t_b = μ_b/σ_b``: ``ĥ^A_b = t_b 1 + v_b``, ``ĥ^B_b = v_b``, hence, exactly, ``R_A = R_B + t̄²`` (``t̄ = mean_b t_b``).

(a) ``R ≥ 0``, and ``R = 0`` exactly when every batch mean is zero; reading B: ``R ≤ 1`` (Jensen: ``‖ĥ_b‖² = M``);
    reading A has no such bound (``R_A = R_B + t̄²``).
(b) Reading B: ``∂R/∂h_b = (2 / (M B σ_b)) Π_b m`` with ``Π_b`` the projection orthogonal to ``1`` and ``ĥ_b``: at a
    stationary point with ``R > 0`` every ``ĥ_b = s_b v`` (``s_b = ±1``, all parallel to ``m``), ``R = s̄²``.
    If ``B ≥ 2``, ``M ≥ 3`` it is not a minimum: rotating two majority-sign ``ĥ_b`` by ``±θ`` towards a ``u ⊥ 1, v``
    gives ``R(θ) = (|s̄| − 2(1 − cos θ)/B)² < s̄²``. Reading A: the ``t_b`` are free coordinates (``h ↦ (t, v, σ)`` is a
    submersion for ``σ > 0``) and ``∂R_A/∂t_b = 2 t̄ / B``, so the stationary points of ``R_A`` are those of ``R_B`` with
    ``t̄ = 0`` — the same saddles, the same drop. So gradient descent from random starts reaches ``R ≈ 0`` under both.
(c) ``B = 1``: reading B ``R ≡ 1``; reading A ``R = 1 + μ²/σ² ≥ 1`` — no minimum at zero (degenerate).
(d) A small net with RegNorm layers (the norm ``regnorm``, reading A, or ``regnorm_ln``, reading B, plus ``λR``)
    trained on ``λR`` plus a task loss ends with batch means near zero at every layer.
The batch-variance form ``R_var = (1/M) Σ_i (σ_{B,i}(ĥ)² − 1)²``: ``(1/M) Σ_i (m_i² + σ_{B,i}²) = mean_b ‖ĥ_b‖²/M``
``= 1`` (B) or ``1 + mean_b t_b²`` (A), hence ``R_B ≤ sqrt(R_var)`` — ``R_var = 0`` forces every batch mean to zero
under reading B — and ``R_A ≤ mean_b t_b² + sqrt(R_var)`` under reading A (a common offset ``t`` keeps ``R_A = t²``
whatever ``R_var``); the converse fails under B (``ĥ_2 = −ĥ_1`` has ``R = 0`` and ``R_var = mean(ĥ_1⁴) − 1 > 0``).
Negative control: a double well in the batch mean's power, ``F(R) = R ((R − a)² + κ) / (a² + κ)`` (``F = 0`` iff
``R = 0``, ``F ≈ R`` near 0, but a spurious local minimum ``F > 0`` on the level set ``R ≈ a``), which the same
descent check must catch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from randnet import DatasetSpec, child
from randnet.checks import check_int, check_number
from randnet.roundoff import FLOAT64_EXACT
from theorems import _torchnets as tn
from theorems._bunets import READINGS, RegularizerBatch, affine_per_example, exact_value, layer_standardize, \
    regularizer, regularizer_identities, sphere_frame
from theorems.base import Claim, Comparison, Hypothesis, register

WELL_A, WELL_KAPPA = 0.1, 5e-4   # the double well: local max at R ≈ 0.036, spurious minimum at R ≈ 0.097 (F ≈ 0.005)
START_KINDS = ("random", "near_max", "near_saddle")
ROUNDOFF = FLOAT64_EXACT         # float64 identities on O(1) quantities


# -- the double well (negative control) -----------------------------------------------------------------
def double_well(r: torch.Tensor) -> torch.Tensor:
    """``F(R) = R ((R − a)² + κ) / (a² + κ)``: zero only at ``R = 0``, with a spurious local minimum near ``R = a``."""
    return r * ((r - WELL_A) ** 2 + WELL_KAPPA) / (WELL_A ** 2 + WELL_KAPPA)



# -- constructions --------------------------------------------------------------------------------------
def signs(batch: int, plus: int) -> torch.Tensor:
    """``s_b``: ``plus`` entries ``+1`` then ``B − plus`` entries ``−1``."""
    return torch.tensor([1.0] * plus + [-1.0] * (batch - plus), dtype=tn.DTYPE)


def stationary_point(batch: int, plus: int, units: int, theta: float,
                     gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``ĥ_b = s_b v`` with ``plus`` signs ``+1`` (a stationary point, ``R = s̄²``) and the same point with two
    ``+1`` rows rotated by ``±θ`` towards ``u ⊥ 1, v`` (``R(θ) = (s̄ − 2(1 − cos θ)/B)²``)."""
    v, u = sphere_frame(units, 2, gen)
    point = signs(batch, plus)[:, None] * v
    moved = point.clone()
    moved[0] = np.cos(theta) * v + np.sin(theta) * u
    moved[1] = np.cos(theta) * v - np.sin(theta) * u
    return point, moved


def start(kind: str, batch: int, units: int, perturbation: float, gen: torch.Generator) -> torch.Tensor:
    """A descent start ``(B, M)``: ``random`` Gaussian rows standardized (zero mean, unit std: a uniformly random
    ``v_b``), or near a stationary point with ``R > 0`` — all rows ``+v`` (``near_max``, ``R ≈ 1``) or the fewest ``+v``
    rows that keep ``s̄ > 0`` (``near_saddle``) — plus ``perturbation``-sized noise; every row then gets a random offset
    and a scale in ``[1, 2]``, so ``σ_b ∈ [1, 2]`` as the step size assumes (a raw Gaussian row of M = 3 units can
    have σ ≪ 1, hence a huge ``t_b = μ_b/σ_b`` and an overshooting first step under reading A). The near starts get
    offsets with ``t̄ = 0``: a stationary point of reading A has ``t̄ = 0``, and killing a large ``t̄`` first would grow
    ``‖h_b‖`` (steps orthogonal to ``h_b`` under a scale-invariant ``R``) and slow the escape from the saddle."""
    if kind == "random":
        return affine_per_example(layer_standardize(torch.randn(batch, units, generator=gen, dtype=tn.DTYPE), "B"), gen)
    v = sphere_frame(units, 1, gen)[0]
    plus = batch if kind == "near_max" else batch // 2 + 1
    noise = torch.randn(batch, units, generator=gen, dtype=tn.DTYPE)
    h = affine_per_example(signs(batch, plus)[:, None] * v + perturbation * noise, gen)
    # near a stationary point of reading A too: shift each row by σ_b t̄ so that t̄ = mean_b μ_b/σ_b = 0 (R_B, which
    # ignores the offsets, is unchanged)
    sigma = h.std(-1, unbiased=False, keepdim=True)
    return h - sigma * (h.mean(-1, keepdim=True) / sigma).mean()


# -- RN: descent from many starts, and the stationary points --------------------------------------------
@dataclass(frozen=True)
class RNConfig:
    """Plain gradient descent (float64, ``steps``) on ``R`` of ``reading`` for a batch of ``batch`` × ``units``, from the
    starts of :data:`START_KINDS` (``perturbation`` off the stationary points); success: ``R ≤ threshold``.
    Step ``lr = lr_scale · M · B``: since ``∂R/∂ĥ_b = 2m/(MB)`` and a step on ``h_b`` moves ``ĥ_b`` by ``1/σ_b²``
    of it, the batch mean contracts by about ``1 − 2 lr_scale/σ_b²`` per step (starts have ``σ_b ∈ [1, 2]``; under
    reading A ``t̄`` contracts by the same factor, since ``∂R_A/∂t_b = 2t̄/B`` and ``Δt_b = Δμ_b/σ_b``).
    Stationary points are perturbed by ``theta``."""

    batch: int = 4
    units: int = 16
    reading: str = "A"
    steps: int = 300
    lr_scale: float = 1.0
    threshold: float = 1e-6
    perturbation: float = 1e-3
    theta: float = 0.05
    checkpoints: int = 12

    def __post_init__(self) -> None:
        for name in ("batch", "steps", "checkpoints"):
            check_int(name, getattr(self, name))
        check_int("units", self.units, 2)  # LN over one unit is undefined
        if self.reading not in READINGS:
            raise ValueError(f"reading must be 'A' (h/σ, primary) or 'B' (LN), got {self.reading!r}")
        for name in ("lr_scale", "threshold", "perturbation", "theta"):
            check_number(name, getattr(self, name), strict=True)

    @property
    def majorities(self) -> list[int]:
        """The ``k`` (number of ``+1`` signs) with ``s̄ = (2k − B)/B > 0``: the stationary points with ``R > 0``
        (up to a global sign)."""
        return list(range(self.batch // 2 + 1, self.batch + 1))

    @property
    def checkpoint_steps(self) -> list[int]:
        return tn.checkpoints(self.steps, self.checkpoints)

    def label(self) -> str:
        return f"B = {self.batch}, M = {self.units}, reading {self.reading}, {self.steps} steps"

    def describe(self) -> dict:
        return asdict(self)


def rn_configs(mode: str) -> list[RNConfig]:
    """Several ``B ≥ 2, M ≥ 3`` under reading A; reading B on some of them; ``B = 1`` (degenerate) and ``M = 2``
    (spurious minima: HYPOTHESIS NOT MET)."""
    sizes = [(2, 3), (4, 16), (8, 64)] + ([(3, 8), (5, 3), (16, 256)] if mode == "full" else [])
    reading_b = [(4, 16)] + ([(2, 3), (8, 64), (16, 256)] if mode == "full" else [])
    # B = 1 (R_A ≥ 1, R_B ≡ 1) and M = 2 (v_b = ±(1, −1): R is locally constant in v) are stuck from the first step
    return ([RNConfig(b, m) for b, m in sizes] + [RNConfig(b, m, "B") for b, m in reading_b] +
            [RNConfig(1, 16, steps=30), RNConfig(2, 2, steps=30)])


def rn_hypotheses(config: RNConfig) -> list[Hypothesis]:
    b, m = config.batch, config.units
    one = ": R ≡ 1, degenerate" if config.reading == "B" else ": R = 1 + μ²/σ² ≥ 1, degenerate"
    return [Hypothesis("B ≥ 2", b >= 2, f"B = {b}" + (one if b == 1 else "")),
            Hypothesis("M ≥ 3", m >= 3, f"M = {m}" + (": v_b = ±(1, −1), R is locally constant" if m == 2 else ""))]


def _s_bar(config: RNConfig) -> np.ndarray:
    return np.array([(2 * k - config.batch) / config.batch for k in config.majorities])


def rn_measure(config: RNConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Final ``R`` and the double well's final ``F(R)`` from each start; their curves at the checkpoints; at each
    stationary point: ``R``, ``‖∇R‖∞`` and the drop ``R(0) − R(θ)`` (NaN where undefined: ``B = 1`` or ``M < 3``)."""
    gen = tn.generator(child(ss, 0))
    b, m = config.batch, config.units
    n = len(START_KINDS)
    starts = torch.stack([start(k, b, m, config.perturbation, gen) for k in START_KINDS])
    h = torch.cat([starts, starts]).requires_grad_()  # rows n..2n-1 descend on the double well F(R)
    history = tn.train([h], lambda: _descent_terms(h, n, config.reading), config.steps, config.lr_scale * m * b,
                       optimizer="gd")
    stationary = np.full((3, len(config.majorities)), np.nan)
    if b >= 2 and m >= 3:
        for j, k in enumerate(config.majorities):
            point, moved = stationary_point(b, k, m, config.theta, gen)
            point.requires_grad_()
            r0 = regularizer(point, config.reading)
            (grad,) = torch.autograd.grad(r0, point)
            drop = r0.item() - regularizer(moved, config.reading).item()
            stationary[:, j] = [r0.item(), grad.abs().max().item(), drop]
    ckpt = config.checkpoint_steps
    return dict(final=history[-1, :n], final_double_well=history[-1, n:],
                curve=history[ckpt, :n].T.ravel(), curve_double_well=history[ckpt, n:].T.ravel(),
                stationary_R=stationary[0], stationary_grad=stationary[1], saddle_drop=stationary[2])


def _descent_terms(h: torch.Tensor, n: int, reading: str) -> torch.Tensor:
    """``R`` of the first ``n`` batches and ``F(R)`` of the others (one standardization pass for both)."""
    r = regularizer(h, reading)
    return torch.cat([r[:n], double_well(r[n:])])


def predicted_drop(config: RNConfig) -> np.ndarray:
    """``s̄² − (s̄ − 2(1 − cos θ)/B)²`` for each majority ``k`` (> 0 for small θ: not a minimum)."""
    s = _s_bar(config)
    return s ** 2 - (s - 2 * (1 - np.cos(config.theta)) / config.batch) ** 2


def rn_comparisons(config: RNConfig) -> list[Comparison]:
    k = config.majorities
    return [
        Comparison("final", "<=", config.threshold, 0.0, "probability",
                   f"gradient descent reaches R ≤ {config.threshold:g}", cells=list(START_KINDS), cell_name="start"),
        Comparison("stationary_grad", "<=", 0.0, ROUNDOFF, "exact", "ĥ_b = s_b v is stationary (∇R = 0)",
                   cells=k, cell_name="k (+1 signs)"),
        Comparison("stationary_R", "==", _s_bar(config) ** 2, ROUNDOFF, "exact", "R = s̄² at ĥ_b = s_b v",
                   cells=k, cell_name="k (+1 signs)"),
        Comparison("saddle_drop", "==", predicted_drop(config), ROUNDOFF, "exact",
                   f"the ±θ pair rotation (θ = {config.theta:g}) lowers R by s̄² − (s̄ − 2(1 − cos θ)/B)² > 0",
                   cells=k, cell_name="k (+1 signs)"),
    ]


def rn_negative_controls(config: RNConfig) -> list[Comparison]:
    """The double well's descent; and, where the stationary points exist (``B ≥ 2, M ≥ 3``: elsewhere their drop is
    NaN, which rejects nothing), the false claim that they are minima."""
    controls = [Comparison("final_double_well", "<=", config.threshold, 0.0, "probability",
                           "false: descent on a double-well penalty of the batch mean also reaches 0",
                           cells=list(START_KINDS), cell_name="start")]
    if config.batch >= 2 and config.units >= 3:
        controls.append(Comparison("saddle_drop", "<=", 0.0, ROUNDOFF, "exact",
                                   "false: the stationary points with R > 0 are minima", cells=config.majorities,
                                   cell_name="k (+1 signs)"))
    return controls


register(Claim(
    key="RN",
    title="The RegNorm regularizer has no spurious minima: gradient descent reaches R = 0",
    statement="R(h) = (1/M) Σ_i ((1/B) Σ_b ĥ_{b,i})², ĥ_b = h_b/σ_x(h_b) (reading A, primary) or the LN of h_b "
              "(reading B). For B ≥ 2, M ≥ 3 every stationary point with R > 0 (t̄ = 0 and all centred ĥ_b parallel) "
              "is a saddle or a maximum, so gradient descent from random starts reaches R ≈ 0. B = 1: R ≥ 1 (A), "
              "R ≡ 1 (B) — degenerate.",
    configs=rn_configs, hypotheses=rn_hypotheses, measure=rn_measure, comparisons=rn_comparisons,
    negative_controls=rn_negative_controls, reported=("final", "final_double_well", "curve", "curve_double_well"),
    realizations={"quick": 50, "full": 200}, plots=("rn_descent",),
))


# -- RN-identities: (a), (c) and the readings, exactly ---------------------------------------------------
def rn_identity_measure(config: RegularizerBatch, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """The identities' two sides under both readings (:func:`theorems._bunets.regularizer_identities`)."""
    values = regularizer_identities(config.batch, config.units, tn.generator(child(ss, 0)))
    return {k: np.array([v]) for k, v in values.items()}


def rn_identity_comparisons(config: RegularizerBatch) -> list[Comparison]:
    return [
        exact_value("R_A", ">=", 0.0, "(a) R ≥ 0 (reading A)"),
        exact_value("R_B", ">=", 0.0, "(a) R ≥ 0 (reading B)"),
        exact_value("R_B", "<=", 1.0, "(a) R ≤ 1 (reading B)"),
        exact_value("link", "==", 0.0, "R_A = R_B + t̄², t_b = μ_b/σ_b"),
        exact_value("R_A_zero", "==", 0.0, "(a) R = 0 when every batch mean is zero (reading A)"),
        exact_value("R_B_zero", "==", 0.0, "(a) R = 0 when every batch mean is zero (reading B)"),
        exact_value("R_A_single", "==", 1.0, "(c) B = 1, reading A: R = 1 + μ²/σ²"),
        exact_value("R_B_single", "==", 1.0, "(c) B = 1, reading B: R ≡ 1"),
        exact_value("power_B", "==", 1.0, "reading B: (1/M) Σ_i (μ_{B,i}² + σ_{B,i}²) = 1"),
        exact_value("power_A", "==", 1.0, "reading A: (1/M) Σ_i (μ_{B,i}² + σ_{B,i}²) = 1 + mean_b t_b²"),
        exact_value("bound_B", "<=", 1.0, "reading B: R ≤ sqrt(R_var), so R_var = 0 forces every batch mean to zero"),
        exact_value("bound_A", "<=", 1.0, "reading A: R ≤ mean_b t_b² + sqrt(R_var)"),
    ]


def rn_identity_negative_controls(config: RegularizerBatch) -> list[Comparison]:
    return [exact_value("R_var_B_zero", "==", 0.0,
                        "false converse (reading B): zero batch means (R = 0) force R_var = 0"),
            exact_value("R_A_offset", "<=", 1.0, "false: R ≤ 1 also under reading A (a common offset 3 gives R_A ≈ 9)")]


register(Claim(
    key="RN-identities",
    title="The RegNorm regularizer under readings A and B: exact identities",
    statement="R ≥ 0 and R = 0 iff every batch mean of ĥ is zero; R_A = R_B + t̄² (t_b = μ_b/σ_b); reading B: R ≤ 1, "
              "(1/M) Σ_i (μ_{B,i}² + σ_{B,i}²) = 1, R ≤ sqrt(R_var) (R_var = 0 ⇒ batch means zero; not conversely); "
              "reading A: the same power is 1 + mean_b t_b² and R ≤ mean_b t_b² + sqrt(R_var); B = 1: R_B ≡ 1, "
              "R_A = 1 + μ²/σ².",
    configs=lambda mode: [RegularizerBatch(b, m) for b, m in ((2, 3), (3, 16), (8, 64))] + (
        [RegularizerBatch(7, 5), RegularizerBatch(32, 512)] if mode == "full" else []),
    hypotheses=lambda config: [], measure=rn_identity_measure, comparisons=rn_identity_comparisons,
    negative_controls=rn_identity_negative_controls, reported=("R_A", "R_B", "R_var_B_zero", "R_A_offset"),
    realizations={"quick": 8, "full": 50},
))


# -- RN-net: a small net with RegNorm layers trained on λR + a task loss --------------------------------
@dataclass(frozen=True)
class RNNetConfig:
    """``depth`` RegNorm layers (conv, the RegNorm forward of ``reading`` — A: ``h/σ_x(h)``, the norm ``regnorm``; B: LN,
    ``regnorm_ln`` —, penalty on ``ĥ = y^l``, affine, φ) of ``width`` channels on ``dataset``
    (full batch), trained with Adam (``steps``, ``lr``) on a task loss plus ``lam Σ_l R(y^l)`` — and once more with
    ``λ = 0`` from the same start, the control. Task: regress each input's standardized channel-0 instance mean
    from the spatial mean of the last layer's channel 0. Claim: final ``R ≤ threshold`` at every layer.
    The default is fully connected: ``1 × 1`` maps and kernels, so ``M`` = width units per layer."""

    dataset: DatasetSpec = DatasetSpec(n=32, height=1, width=1, channels=16)
    depth: int = 3
    width: int = 32
    activation: str = "relu"
    kernel_size: int = 1
    lam: float = 1.0
    steps: int = 150
    lr: float = 1e-2
    threshold: float = 1e-3
    reading: str = "A"

    def __post_init__(self) -> None:
        tn.check_training_config(self, ("depth", "width", "steps"))
        if self.reading not in READINGS:
            raise ValueError(f"reading must be 'A' (h/σ, primary) or 'B' (LN), got {self.reading!r}")
        for name in ("lam", "threshold"):
            check_number(name, getattr(self, name), strict=True)

    def label(self) -> str:
        return (f"L = {self.depth}, width {self.width}, K = {self.kernel_size}, {self.activation}, λ = {self.lam:g}, "
                f"reading {self.reading}")

    def describe(self) -> dict:
        return {**asdict(self), "dataset": asdict(self.dataset)}


def rn_net_measure(config: RNNetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Per layer ``R(y^l)`` at initialization, after training with ``λ`` and with ``λ = 0``; the final task losses."""
    x = config.dataset.draw(child(ss, 0))
    xt = tn.to_torch(x)
    m = xt.mean(dim=(2, 3))[:, 0]
    if m.std() == 0:
        raise ValueError("RN-net's task target, the inputs' channel-0 instance means, is constant on this dataset")
    target = (m - m.mean()) / m.std(unbiased=False)

    def initial_net() -> tn.ConvNet:
        norm = "regnorm" if config.reading == "A" else "regnorm_ln"
        return tn.conv_net((config.width,) * config.depth, x.shape[-1], config.kernel_size, norm, config.activation,
                           tn.generator(child(ss, 1)))

    out = {"R_init": _layer_penalties(initial_net(), xt)}
    for name, lam in (("reg", config.lam), ("noreg", 0.0)):
        net = initial_net()

        def terms():
            u, ys = net.forward(xt)
            task = ((u[:, 0].mean(dim=(1, 2)) - target) ** 2).mean()
            return torch.cat([task[None], lam * torch.stack([regularizer(y.flatten(1)) for y in ys])])

        history = tn.train(net.parameters(), terms, config.steps, config.lr)
        out[f"R_{name}"], out[f"task_{name}"] = _layer_penalties(net, xt), history[-1, :1]
    return out


def _layer_penalties(net: tn.ConvNet, xt: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return np.array([regularizer(y.flatten(1)).item() for y in net.forward(xt)[1]])


def rn_net_comparisons(config: RNNetConfig) -> list[Comparison]:
    return [Comparison("R_reg", "<=", config.threshold, 0.0, "mean", f"trained with λR: R ≤ {config.threshold:g} "
                       "(batch means ≈ 0) at every layer", cells=list(range(1, config.depth + 1)))]


def rn_net_negative_controls(config: RNNetConfig) -> list[Comparison]:
    return [Comparison("R_noreg", "<=", config.threshold, 0.0, "mean", "false: without the penalty (λ = 0) the "
                       "batch means also vanish", cells=list(range(1, config.depth + 1)))]


register(Claim(
    key="RN-net",
    title="Training with the RegNorm penalty drives every layer's batch mean to zero",
    statement="A net of RegNorm layers (y = h/σ_x(h), reading A; or LN, reading B; + λR per layer) trained on a task "
              "loss plus λ Σ_l R(y^l) ends with R ≈ 0 — batch means of the normalized activations near zero — at "
              "every layer (BMLV-like).",
    configs=lambda mode: [RNNetConfig(), RNNetConfig(reading="B")] + (
        [RNNetConfig(depth=6, steps=400), RNNetConfig(depth=4, width=64, activation="tanh", steps=400),
         RNNetConfig(depth=6, steps=400, reading="B")] if mode == "full" else []),
    hypotheses=lambda config: [], measure=rn_net_measure, comparisons=rn_net_comparisons,
    negative_controls=rn_net_negative_controls, reported=("R_init", "R_noreg", "task_reg", "task_noreg"),
    realizations={"quick": 4, "full": 12}, plots=("rn_net_batch_means",),
))
