"""Activation functions φ, each flagged positive homogeneous (``φ(λt) = λφ(t)``, λ ≥ 0) or not.

A positive-homogeneous φ is ``φ(t) = a t`` for ``t ≥ 0`` and ``b t`` for ``t < 0`` with
``a = φ(1)``, ``b = −φ(−1)`` (SPEC P2); its ``slopes`` are ``(a, b)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

LEAKY_SLOPE = 0.01
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    positive_homogeneous: bool
    slopes: tuple[float, float] | None = None  # (a, b) when positive homogeneous

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return self.fn(t)


def _relu(t):
    return np.maximum(t, 0)


def _leaky(t):
    return np.where(t >= 0, t, LEAKY_SLOPE * t).astype(np.result_type(t), copy=False)


def _gelu(t):
    return 0.5 * t * (1 + special.erf(t / _SQRT2))


def _silu(t):
    return t * special.expit(t)


def _softplus(t):
    return np.logaddexp(0, t)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", _relu, lambda t: (t > 0).astype(float), True, (1.0, 0.0)),
    "leaky_relu": Activation("leaky_relu", _leaky, lambda t: np.where(t > 0, 1.0, LEAKY_SLOPE), True, (1.0, LEAKY_SLOPE)),
    "identity": Activation("identity", lambda t: t, lambda t: np.ones_like(t), True, (1.0, 1.0)),
    "gelu": Activation("gelu", _gelu, lambda t: special.ndtr(t) + t * np.exp(-t * t / 2) / _SQRT2PI, False),
    "tanh": Activation("tanh", np.tanh, lambda t: 1 - np.tanh(t) ** 2, False),
    "silu": Activation("silu", _silu, lambda t: special.expit(t) * (1 + t * (1 - special.expit(t))), False),
    "softplus": Activation("softplus", _softplus, lambda t: special.expit(t), False),
}


def get_activation(name: str | Activation) -> Activation:
    """Look up an activation by name, with a clear error for an unknown one."""
    if isinstance(name, Activation):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None
