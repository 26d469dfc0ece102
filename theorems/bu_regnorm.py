"""BU7 and BU8 — RegNorm (Rao & Sohl-Dickstein §3.2, Appendix B; SPEC-companions §7A.5), reading A primary
(``ĥ = h / σ_𝔏(h)``: the forward divides by the layer std and the regularizer replaces the mean subtraction).

**BU7** (S). "At initialization, this technique mimics the information propagation properties of Layer Norm,
while after minimizing the regularizer it mimics those of BMLV." A fully connected RegNorm net (:mod:`theorems._bunets`,
norm ``regnorm``) is trained by Adam on ``λ Σ_l R(h^l)`` alone (:func:`theorems._bunets.regularizer`), a fresh
Gaussian batch ``m + ξ`` each step (``m``: the realization's shared offset); at checkpoints, on a held-out pair
``(X, X')`` (δ = 0.05): ``mean_l R_l``, ``ρ̂`` (d_max = 0.1) and ``κ̂`` (random labels, the fixed read-out).
Prediction: at initialization ``ρ̂, κ̂ ≤ 1.05`` (LN's ordered values); once ``R`` has dropped below 0.1, both
``≥ 1.15`` (BMLV's range). The values "after minimization" are read at the last checkpoint, and only if ``R`` stayed
below 0.1 from the first checkpoint where it dropped there to the end: an unstable run (SPEC-companions: at lr 3e-3
``R`` fell to 0.08 and rose back to 0.72) or one that never got there gives NaN, which the engine reports as
INCONCLUSIVE, never PASS or FAIL. ``R`` cannot go below the sampling floor of fresh batches, about 0.02–0.05 at
``B = 64``. Negative control: "after minimizing R, ρ̂ and κ̂ stay at LN's values (≤ 1.05)".

**BU8** (R; complements SPEC §4 RN). ``R(h) = (1/M) Σ_i m_i²``, ``m_i = (1/B) Σ_b ĥ_{b,i}``: (a) ``R ≥ 0``, with
equality iff ``m = 0`` (Appendix B's argument, ``∂R/∂m_i = 2 m_i/M``, shows the global minimum — not the absence of
spurious stationary points in the weights, which is RN's separate claim); (b) ``B = 1``, reading A:
``R = 1 + mean_𝔏(h)²/var_𝔏(h) ≥ 1``, minimum 1 at zero layer mean — gradient descent from a random row reaches 1,
not 0; (c) ``B = 1``, reading B: ``R ≡ 1``. Deterministic. Negative control: "R = 0 is reachable with B = 1".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from randnet import child
from randnet.checks import check_number
from theorems import _bunets as bu
from theorems import _torchnets as tn
from theorems.base import Claim, Comparison, Hypothesis, register

# -- BU7 -----------------------------------------------------------------------------------------------------
R_DROPPED = 0.1
LN_LIKE = 1.05
BMLV_LIKE = 1.15


@dataclass(frozen=True)
class RegNormTrainingConfig(bu.NetSpec):
    """Adam (``lr``) on ``lam Σ_l R(h^l)`` for ``checkpoints[-1]`` steps of fresh batches; the net's norm is
    ``regnorm`` (reading A) or ``regnorm_ln`` (B); measured at every step of ``checkpoints``."""

    reading: str = "A"
    lr: float = 1e-3
    lam: float = 1.0
    checkpoints: tuple[int, ...] = (0, 25, 50)

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkpoints", tuple(self.checkpoints))
        super().__post_init__()
        if self.reading not in bu.READINGS:
            raise ValueError(f"reading must be 'A' (h/σ, primary) or 'B' (LN), got {self.reading!r}")
        c = self.checkpoints
        if len(c) < 2 or c[0] != 0 or any(b <= a for a, b in zip(c, c[1:])):
            raise ValueError(f"checkpoints must start at 0 and increase, got {c!r}")
        for name in ("lr", "lam"):
            check_number(name, getattr(self, name), strict=True)

    @property
    def norm(self) -> str:
        return "regnorm" if self.reading == "A" else "regnorm_ln"

    def label(self) -> str:
        return f"{self.net_label()}, reading {self.reading}, Adam lr {self.lr:g}, {self.checkpoints[-1]} steps"


def penalties(spec: bu.NetSpec, weights, x: torch.Tensor, norm: str, reading: str) -> torch.Tensor:
    """``[R(h^1) … R(h^L)]`` on the minibatch ``x`` ``(1, B, …)``; ``R`` on ``ĥ = u^l`` (the net's normalized
    pre-activation, γ = 1, β = 0), i.e. :func:`theorems._bunets.regularizer` of the units ``(B, C·H·W)``."""
    reps, _ = bu.forward(spec, weights, x, norm)
    return torch.stack([bu.regularizer(u[0].flatten(1), reading) for u in reps])


def training_measure(config: RegNormTrainingConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """At each checkpoint: ``R`` (mean over layers, held-out ``X``), ``rho``, ``kappa``; then ``rho_init``,
    ``kappa_init`` and ``rho_after``, ``kappa_after`` (NaN unless ``R`` dropped below 0.1 and stayed there)."""
    real = bu.sample(config, ss)
    weights = [w.clone().requires_grad_() for w in real.weights]
    gen = tn.generator(child(ss, 3))
    rows = []
    with tn.single_thread():
        opt = torch.optim.Adam(weights, lr=config.lr)
        for step in range(config.checkpoints[-1] + 1):
            if step in config.checkpoints:
                rows.append(_evaluate(config, real, [w.detach() for w in weights]))
            if step == config.checkpoints[-1]:
                break
            batch = real.offset + torch.randn((config.batch,) + real.offset.shape, generator=gen, dtype=tn.DTYPE)
            loss = config.lam * penalties(config, weights, batch[None], config.norm, config.reading).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    r, rho, kappa = (np.array(v) for v in zip(*rows))
    below = r < R_DROPPED
    first = int(np.argmax(below)) if below.any() else None
    stable = first is not None and first > 0 and bool(below[first:].all())
    after = (rho[-1], kappa[-1]) if stable else (np.nan, np.nan)
    return dict(R=r, rho=rho, kappa=kappa, rho_init=rho[:1], kappa_init=kappa[:1],
                rho_after=np.array([after[0]]), kappa_after=np.array([after[1]]), R_final=r[-1:])


def _evaluate(config: RegNormTrainingConfig, real: bu.Realization, weights) -> tuple[float, float, float]:
    """``(mean_l R_l on X, ρ̂, κ̂)`` of the net with ``weights``."""
    now = bu.Realization(real.x, real.labels, tuple(weights), real.readout, real.offset)
    with torch.no_grad():
        r = float(penalties(config, weights, real.x[:1], config.norm, config.reading).mean())
    _, d = bu.representation_decorrelation(config, now, config.norm)
    kappa = bu.gradient_factor(bu.weight_gradients(config, now, config.norm)[0][0])
    return r, bu.growth_ratio(d, config.d_max), kappa


def training_comparisons(config: RegNormTrainingConfig) -> list[Comparison]:
    one = dict(cells=["value"], cell_name="")
    return [Comparison("rho_init", "<=", LN_LIKE, 0.0, "mean", f"at initialization ρ̂ ≤ {LN_LIKE} (LN-like)", **one),
            Comparison("kappa_init", "<=", LN_LIKE, 0.0, "mean", f"at initialization κ̂ ≤ {LN_LIKE} (LN-like)", **one),
            Comparison("rho_after", ">=", BMLV_LIKE, 0.0, "mean", f"after R < {R_DROPPED} (stably): ρ̂ ≥ {BMLV_LIKE} "
                       "(BMLV-like)", **one),
            Comparison("kappa_after", ">=", BMLV_LIKE, 0.0, "mean", f"after R < {R_DROPPED} (stably): κ̂ ≥ {BMLV_LIKE} "
                       "(BMLV-like)", **one)]


def training_negative_controls(config: RegNormTrainingConfig) -> list[Comparison]:
    one = dict(cells=["value"], cell_name="")
    return [Comparison("rho_after", "<=", LN_LIKE, 0.0, "mean", f"false: after minimizing R, ρ̂ stays LN-like "
                       f"(≤ {LN_LIKE})", **one),
            Comparison("kappa_after", "<=", LN_LIKE, 0.0, "mean", f"false: after minimizing R, κ̂ stays LN-like "
                       f"(≤ {LN_LIKE})", **one)]


def training_configs(mode: str) -> list[RegNormTrainingConfig]:
    """quick: FC width 256, depth 12, B = 64, lr 1e-3, 50 steps; full: 600 steps, reading B, and lr 3e-3 (reported
    unstable in SPEC-companions: INCONCLUSIVE if it is here too)."""
    base = RegNormTrainingConfig(width=256, depth=12, batch=64, input_dim=256)
    if mode == "quick":
        return [base]
    long = (0, 25, 50, 200, 600)
    return [RegNormTrainingConfig(**{**base.describe(), "checkpoints": long}),
            RegNormTrainingConfig(**{**base.describe(), "checkpoints": long, "reading": "B"}),
            RegNormTrainingConfig(**{**base.describe(), "checkpoints": long, "lr": 3e-3})]


register(Claim(
    key="BU7",
    title="RegNorm moves from LN-like to BMLV-like propagation as its regularizer is minimized",
    statement="Adam on λ Σ_l R(h^l) alone (fresh batches): at initialization ρ̂, κ̂ ≤ 1.05 (LN-like); once R < 0.1 "
              "(and stays there) ρ̂, κ̂ ≥ 1.15 (BMLV-like). An unstable or unfinished minimization is INCONCLUSIVE.",
    configs=training_configs, hypotheses=lambda c: [Hypothesis("φ = ReLU", c.activation == "relu",
                                                               f"φ = {c.activation}")],
    measure=training_measure, comparisons=training_comparisons, negative_controls=training_negative_controls,
    reported=("R", "rho", "kappa"), realizations={"quick": 6, "full": 10},
    undefined=("rho_after", "kappa_after"),  # NaN unless R dropped below 0.1 and stayed there: INCONCLUSIVE
))


# -- BU8 -----------------------------------------------------------------------------------------------------
DESCENT_STEPS = 200


def regularizer_measure(config: bu.RegularizerBatch, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """The identities (:func:`theorems._bunets.regularizer_identities`) and, at ``B = 1``, the final ``R`` of plain
    gradient descent on one random row under each reading (``R_descent_A``, ``R_descent_B``)."""
    gen = tn.generator(child(ss, 0))
    out = {k: np.array([v]) for k, v in bu.regularizer_identities(config.batch, config.units, gen).items()}
    for reading in bu.READINGS:
        raw = torch.randn(1, config.units, generator=gen, dtype=tn.DTYPE)
        row = bu.affine_per_example(bu.layer_standardize(raw, "B"), gen)  # σ ∈ [1, 2], as the step 0.5 M assumes
        row.requires_grad_()
        history = tn.train([row], lambda: bu.regularizer(row, reading), DESCENT_STEPS, 0.5 * config.units, "gd")
        out[f"R_descent_{reading}"] = history[-1]
    return out


def regularizer_comparisons(config: bu.RegularizerBatch) -> list[Comparison]:
    exact = bu.exact_value
    return [exact("R_A", ">=", 0.0, "(a) R ≥ 0 (reading A)"), exact("R_B", ">=", 0.0, "(a) R ≥ 0 (reading B)"),
            exact("R_A_zero", "==", 0.0, "(a) R = 0 when m = 0 (reading A)"),
            exact("R_B_zero", "==", 0.0, "(a) R = 0 when m = 0 (reading B)"),
            exact("R_A_single", "==", 1.0, "(b) B = 1, reading A: R = 1 + mean_𝔏(h)²/var_𝔏(h)"),
            exact("R_descent_A", ">=", 1.0, "(b) B = 1, reading A: R ≥ 1 along gradient descent"),
            exact("R_descent_A", "<=", 1.0, f"(b) B = 1, reading A: descent reaches the minimum 1 ({DESCENT_STEPS} "
                  "steps, to 1e-9)", tol=1e-9),
            exact("R_B_single", "==", 1.0, "(c) B = 1, reading B: R ≡ 1"),
            exact("R_descent_B", "==", 1.0, "(c) B = 1, reading B: R ≡ 1 along gradient descent")]


def regularizer_negative_controls(config: bu.RegularizerBatch) -> list[Comparison]:
    return [bu.exact_value(f"R_descent_{r}", "<=", 0.0, f"false: R = 0 is reachable with B = 1 (reading {r})", tol=1e-6)
            for r in bu.READINGS]


register(Claim(
    key="BU8",
    title="The RegNorm regularizer: R ≥ 0 with equality iff m = 0; B = 1 gives R ≥ 1 (A) and R ≡ 1 (B)",
    statement="R(h) = (1/M) Σ_i m_i², m_i = (1/B) Σ_b ĥ_{b,i}: (a) R ≥ 0, = 0 iff m = 0 (the global minimum; RN checks "
              "the absence of spurious minima); (b) B = 1, reading A (ĥ = h/σ): R = 1 + mean²/var ≥ 1, minimum 1; "
              "(c) B = 1, reading B (LN): R ≡ 1.",
    configs=lambda mode: [bu.RegularizerBatch(b, m) for b, m in ((2, 3), (4, 16), (16, 256))] + (
        [bu.RegularizerBatch(7, 5), bu.RegularizerBatch(64, 1024)] if mode == "full" else []),
    hypotheses=lambda c: [], measure=regularizer_measure, comparisons=regularizer_comparisons,
    negative_controls=regularizer_negative_controls,
    reported=("R_A", "R_B", "R_descent_A"), realizations={"quick": 4, "full": 20},
))
