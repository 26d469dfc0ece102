"""Tiny claims with known answers, for the validation tests only (not registered in ``theorems``).

``install()`` adds them to ``theorems.REGISTRY`` and ``uninstall()`` removes them, so the default
suite and other tests never see them. A joblib worker imports this module when it unpickles a
:class:`ToyConfig`; the import registers the toys in that worker's registry.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from theorems.base import FRACTION, REGISTRY, Claim, Comparison, Hypothesis


@dataclass(frozen=True)
class ToyConfig:
    """``q ~ N(mean, std²)`` i.i.d. in ``cells`` cells; ``tail = (1 + noise·ξ)/sqrt(width)`` shrinks with width."""

    width: int = 16
    mean: float = 0.0
    std: float = 1.0
    cells: int = 4
    noise: float = 0.1
    symmetric: bool = True

    def describe(self) -> dict:
        return dataclasses.asdict(self)


def measure(config: ToyConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(ss)
    q = config.mean + config.std * rng.standard_normal(config.cells)
    tail = (1 + config.noise * rng.standard_normal(config.cells)) / np.sqrt(config.width)
    terms = rng.uniform(0.1, 1.0, (config.cells, 4))
    return {"q": q, "one": np.cos(q) ** 2 + np.sin(q) ** 2, "tail": tail,
            "power_y": terms / terms.sum(axis=1, keepdims=True)}


def hypotheses(config: ToyConfig) -> list[Hypothesis]:
    return [Hypothesis("symmetric", config.symmetric, "toy hypothesis flag")]


def comparisons(config: ToyConfig) -> list[Comparison]:
    cells = list(range(1, config.cells + 1))
    return [
        Comparison("q", "==", config.mean, 0.5 * config.std, "mean", "E q = mean", cells=cells),
        Comparison("one", "==", 1.0, 1e-12, "exact", "cos² + sin² = 1", cells=cells),
        Comparison("q", "<=", config.mean + 3 * config.std, 0.0, "probability", "P[q <= mean + 3 std] >= 0.5",
                   cells=cells, level=0.5),
    ]


def negative_controls(config: ToyConfig) -> list[Comparison]:
    cells = list(range(1, config.cells + 1))
    return [
        Comparison("q", "==", config.mean + 5 * config.std, 0.5 * config.std, "mean", "E q = mean + 5 std",
                   cells=cells),
        Comparison("one", "==", 1.1, 1e-12, "exact", "cos² + sin² = 1.1", cells=cells),
    ]


def sweep_comparisons(config: ToyConfig) -> list[Comparison]:
    return [Comparison("tail", "<=", 0.0, 0.0, "mean", "tail <= 0", cells=list(range(1, config.cells + 1)))]


def sweep_negative_controls(config: ToyConfig) -> list[Comparison]:
    return [Comparison("tail", ">=", 1.0, 0.0, "mean", "tail >= 1", cells=list(range(1, config.cells + 1)))]


TOY = Claim(
    key="TOY", title="Toy claim with known answers", statement="q ~ N(mean, std²); cos² + sin² = 1.",
    configs=lambda mode: [ToyConfig(), ToyConfig(width=32, symmetric=False)],
    hypotheses=hypotheses, measure=measure, comparisons=comparisons, negative_controls=negative_controls,
    reported=("tail",), realizations={"quick": 8, "full": 16}, plots=("comparison", "power"))

TOY_SWEEP = Claim(
    key="TOY_SWEEP", title="Toy asymptotic claim", statement="tail = O(1/sqrt(width)) -> 0 as width grows.",
    configs=lambda mode: [ToyConfig(width=w) for w in (16, 64, 256)],
    hypotheses=hypotheses, measure=measure, comparisons=sweep_comparisons,
    negative_controls=sweep_negative_controls, sweep="width", realizations={"quick": 8, "full": 16},
    plots=("comparison", "sweep_convergence"))

def measure_fraction(config: ToyConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """A fraction in [0, 1] with mean ``0.35 + config.mean`` (uniform ± 0.3) in each cell."""
    rng = np.random.default_rng(ss)
    return {"f": 0.35 + config.mean + rng.uniform(-0.3, 0.3, config.cells)}


TOY_BOUNDED = Claim(
    key="TOY_BOUNDED", title="Toy claim on a bounded quantity", statement="E f ≤ 0.5 for f in [0, 1]",
    configs=lambda mode: [ToyConfig()], hypotheses=hypotheses, measure=measure_fraction,
    comparisons=lambda c: [Comparison("f", "<=", 0.5, 0.0, "mean", "E f ≤ 0.5", bounds=FRACTION)],
    negative_controls=lambda c: [Comparison("f", ">=", 0.7, 0.0, "mean", "E f ≥ 0.7 (false)", bounds=FRACTION)],
    realizations={"quick": 8, "full": 8})

TOYS = (TOY, TOY_SWEEP, TOY_BOUNDED)


def install() -> None:
    for c in TOYS:
        REGISTRY[c.key] = c


def uninstall() -> None:
    for c in TOYS:
        if REGISTRY.get(c.key) is c:
            del REGISTRY[c.key]


install()
