"""Helpers shared by the expressivity claims P4 and P5 (SPEC §4 "P4 / P5"; a leading underscore: not a claim).

The distance of a mapping ``Φ`` to the identity on the dataset ``D`` (``C^l = C⁰``),

    d(Φ) = (1 / (N H W C)) Σ_x ‖Φ(x) − x‖²,

P5's lower bounds on it for IN nets (``η*``, ``η``, ``η₀``), the identity kernel the constructions use, and the
training of small torch nets toward the identity.
"""
from __future__ import annotations

import numpy as np

from randnet import DatasetSpec, instance_moments, power_decomposition
from randnet.roundoff import FLOAT64_EXACT
from theorems import _torchnets as tn

RANDOM_DATA = DatasetSpec(n=16, height=8, width=8, channels=3)
VARIABILITY_TOL = FLOAT64_EXACT
"""A bound below this fraction of ``P(x)`` counts as zero (round-off): no inter-instance variability."""


def identity_distance(phi_x, x):
    """``d(Φ) = mean((Φ(x) − x)²)`` over ``(x, h, w, c)`` — numpy arrays or torch tensors of the same layout."""
    return ((phi_x - x) ** 2).mean()


def expressivity_bounds(x: np.ndarray) -> dict[str, float]:
    """The bounds of P5 for the dataset ``x`` ``(N, H, W, C)``: ``eta_star`` (η*), ``eta`` (η), ``eta0`` (η₀),
    and the input power ``power`` = P(x)."""
    terms = power_decomposition(x).mean(axis=1)
    m, v = instance_moments(x)
    return dict(eta_star=float(terms[1] + terms[3]), eta=float(terms[1]),
                eta0=float(np.mean(m ** 2 + (np.sqrt(v) - 1) ** 2)), power=float(terms.sum()))


def ratio(d, bound: float, power: float) -> float:
    """``d / bound``, NaN when the bound is zero to round-off (no inter-instance variability)."""
    return float(d) / bound if bound > VARIABILITY_TOL * power else float("nan")


def delta_kernel(matrix: np.ndarray, kernel_size: int = 1) -> np.ndarray:
    """The ``(K, K, C_in, C_out)`` kernel whose only non-zero tap, the centre, is ``matrix``."""
    w = np.zeros((kernel_size, kernel_size) + matrix.shape)
    w[kernel_size // 2, kernel_size // 2] = matrix
    return w


def train_identity(x: np.ndarray, widths: tuple[int, ...], norm: str, config, ss: np.random.SeedSequence) -> np.ndarray:
    """Train a :class:`~theorems._torchnets.ConvNet` of ``widths`` on ``d(Φ)`` (``config`` gives ``kernel_size``,
    ``activation``, ``steps``, ``lr``); returns ``d`` at every iterate."""
    xt = tn.to_torch(x)
    net = tn.conv_net(widths, x.shape[-1], config.kernel_size, norm, config.activation, tn.generator(ss))
    return tn.train(net.parameters(), lambda: identity_distance(net(xt), xt), config.steps, config.lr)
