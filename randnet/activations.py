"""Activation functions φ: one :class:`Activation` object per activation carries everything known about it.

- its numpy function and derivative;
- whether it is positive homogeneous (``φ(λt) = λφ(t)``, λ ≥ 0): then ``φ(t) = a t`` for ``t ≥ 0`` and
  ``b t`` for ``t < 0`` with ``a = φ(1)``, ``b = −φ(−1)`` (SPEC P2), its ``slopes`` ``(a, b)``;
- ``code``: its formula's number in the fused numba kernels (:func:`randnet.kernels._activate` dispatches on
  it; None: no fused kernel, the numpy function is used);
- ``torch``: its torch form, built on first use by :meth:`Activation.torch_form` (``import randnet`` never
  imports torch);
- ``moments``: the closed-form mean and variance of ``φ(a + bZ)``, ``Z ~ N(0, 1)`` (Proxy Norm's Eq. 7,
  :func:`randnet.gaussian_moments`), where one exists;
- ``polynomial`` (P4's hypothesis "φ non-polynomial") and ``odd_identity_exact``: ``φ(t) − φ(−t) ≡ t``
  exactly, i.e. the odd part of φ is ``t/2`` (P4's odd construction);
- ``kernel``: its closed-form Gaussian kernel map ``E[φ(u) φ(v)]``, ``(u, v) ~ N(0, [[q_a, k], [k, q_b]])``,
  a numba scalar function ``(q_a, q_b, k) -> float`` (the infinite-width limit, SPEC §8), where one exists;
  :meth:`Activation.gaussian_kernel` evaluates the map on arrays, by 2-D Gauss–Hermite quadrature when there
  is no closed form.

New properties are new keyword fields with a default (the dataclass is frozen; construct with keywords).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numba
import numpy as np
from scipy import special

LEAKY_SLOPE = 0.01
KERNEL_NODES = 48
"""Gauss–Hermite nodes per dimension of :meth:`Activation.gaussian_kernel`'s 2-D rule."""
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)

GaussianMoments = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
TorchForm = Callable[[Any, Any], Callable]
"""``(torch, torch.nn.functional) -> φ on tensors``: the modules are passed in, so defining it imports nothing."""


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    positive_homogeneous: bool
    slopes: tuple[float, float] | None = None  # (a, b) when positive homogeneous
    code: int | None = None
    torch: TorchForm | None = None
    moments: GaussianMoments | None = None
    polynomial: bool = False
    odd_identity_exact: bool = False
    kernel: Callable[[float, float, float], float] | None = None

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return self.fn(t)

    def torch_form(self) -> Callable:
        """φ on torch tensors (the same formula); imports torch."""
        if self.torch is None:
            raise ValueError(f"activation {self.name!r} has no torch form")
        import torch  # only here: randnet itself does not depend on torch

        return self.torch(torch, torch.nn.functional)

    def gaussian_kernel(self, qa, qb, k, mean=0.0, nodes: int = KERNEL_NODES) -> np.ndarray:
        """``E[φ(u + mean) φ(v + mean)]``, ``(u, v) ~ N(0, [[q_a, k], [k, q_b]])``, elementwise (float64).

        The closed form :attr:`kernel` when ``mean == 0`` and φ has one; else the 2-D Gauss–Hermite rule with
        ``nodes²`` points on ``u = √q_a t₁``, ``v = (k/√q_a) t₁ + √(q_b − k²/q_a) t₂`` (geometric convergence
        for the smooth activations; slow, ~``nodes^{-3/2}``, across a kink)."""
        qa, qb, k, mean = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (qa, qb, k, mean)))
        if self.kernel is not None and not np.any(mean):
            return np.vectorize(self.kernel, otypes=[np.float64])(qa, qb, k)
        t, w = np.polynomial.hermite_e.hermegauss(nodes)
        w = w / math.sqrt(2.0 * math.pi)
        sa = np.sqrt(qa)
        slope = np.divide(k, sa, out=np.zeros_like(k), where=sa > 0)
        cond = np.sqrt(np.maximum(qb - slope * slope, 0.0))
        outer = self.fn(sa[..., None] * t + mean[..., None])                     # φ(u + mean) at t₁
        inner = self.fn((slope[..., None] * t + mean[..., None])[..., None] + cond[..., None, None] * t)
        return np.einsum("...i,...ij,i,j->...", outer, inner, w, w)


# -- numpy forms ---------------------------------------------------------------------------------------------
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


# -- torch forms beyond one line ---------------------------------------------------------------------------
def _torch_softplus(torch, F):
    """Softplus on tensors as the fused kernel writes it, ``max(t, 0) + log1p(exp(−|t|))`` (so the torch backend
    agrees with the numba path most closely); not ``F.softplus``, which returns ``t`` above 20 (up to 2e-9 off).
    ``torch.maximum`` splits the gradient at ``t = 0``, so autograd's derivative is σ(t) there too."""
    return lambda t: torch.maximum(t, torch.zeros_like(t)) + torch.log1p(torch.exp(-t.abs()))


# -- closed-form Gaussian moments: mean and variance of φ(a + bZ), b ≠ 0 (b = 0 is the caller's point mass) --
def _identity_moments(a, b):
    return a, b * b


def _relu_moments(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of ReLU(a + bZ) for b ≠ 0, with s = |b|, r = a/s, Φ̄ = 1 − Φ:

    E = a Φ(r) + s φ(r);  Var = s² [r² Φ(r) Φ̄(r) + Φ(r) + r φ(r) (Φ̄(r) − Φ(r)) − φ(r)²]
    (the centered form of E[ReLU²] − E² = (a² + s²) Φ + a s φ − E², free of its cancellation for r ≫ 1).
    """
    s = np.abs(b)
    r = a / np.where(s > 0, s, 1.0)
    cdf, sf = special.ndtr(r), special.ndtr(-r)
    pdf = np.exp(-0.5 * r * r) / _SQRT2PI
    var = s * s * (r * r * cdf * sf + cdf + r * pdf * (sf - cdf) - pdf * pdf)
    return a * cdf + s * pdf, np.maximum(var, 0.0)


def _leaky_moments(a, b):
    """φ(t) = ReLU(t) − s ReLU(−t); ReLU(t) ReLU(−t) = 0, so Cov(ReLU(t), ReLU(−t)) = −E⁺ E⁻."""
    p_mean, p_var = _relu_moments(a, b)
    n_mean, n_var = _relu_moments(-a, -b)
    return (p_mean - LEAKY_SLOPE * n_mean,
            p_var + LEAKY_SLOPE ** 2 * n_var + 2 * LEAKY_SLOPE * p_mean * n_mean)


# -- closed-form Gaussian kernel maps E[φ(u) φ(v)], (u, v) ~ N(0, [[qa, k], [k, qb]]) (numba scalars) ----------
@numba.njit(cache=True, inline="always")
def arccos(x):
    """``arccos x`` on [−1, 1] by fdlibm's rational approximation of ``asin`` (``asin t = t + t R(t²)`` for
    ``|t| < ½``, ``arccos x = 2 asin sqrt((1 − |x|)/2)`` reflected otherwise): within 4.5e-16 of ``math.acos``
    (tests/randnet/test_activations.py) and a quarter faster in the limit's kernel map, where ``math.acos`` is half
    the time."""
    a = abs(x)
    small = a < 0.5
    t = x * x if small else 0.5 * (1.0 - a)
    s = x if small else math.sqrt(t)
    r = t * (1.66666666666666657415e-01 + t * (-3.25565818622400915405e-01 + t * (2.01212532134862925881e-01 + t * (
        -4.00555345006794114027e-02 + t * (7.91534994289814532176e-04 + t * 3.47933107596021167570e-05))))) / (
        1.0 + t * (-2.40339491173441421878e+00 + t * (2.02094576023350569471e+00 + t * (
            -6.88283971605453293030e-01 + t * 7.70381505559019352791e-02))))
    p = s + s * r
    if small:
        return 0.5 * math.pi - p
    return 2.0 * p if x > 0 else math.pi - 2.0 * p


@numba.njit(cache=True)
def relu_kernel(qa, qb, k):
    """The arc-cosine map ``(sqrt(q_a q_b − k²) + (π − θ) k) / (2π)``, ``θ = arccos(k / sqrt(q_a q_b))``."""
    s = math.sqrt(qa * qb)
    if s == 0.0:
        return 0.0
    c = min(1.0, max(-1.0, k / s))
    return (s * math.sqrt(max(0.0, 1.0 - c * c)) + (math.pi - arccos(c)) * k) / (2.0 * math.pi)


@numba.njit(cache=True)
def leaky_kernel(qa, qb, k):
    """φ(t) = ReLU(t) − s ReLU(−t) and (−u, −v) ~ (u, v): ``(1 + s²) F(k) − 2 s F(−k)``, F the arc-cosine map."""
    return (1.0 + LEAKY_SLOPE ** 2) * relu_kernel(qa, qb, k) - 2.0 * LEAKY_SLOPE * relu_kernel(qa, qb, -k)


@numba.njit(cache=True)
def identity_kernel(qa, qb, k):
    return k


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", _relu, lambda t: (t > 0).astype(float), True, (1.0, 0.0), code=1,
               torch=lambda torch, F: F.relu, moments=_relu_moments, odd_identity_exact=True,
               kernel=relu_kernel),
    Activation("leaky_relu", _leaky, lambda t: np.where(t > 0, 1.0, LEAKY_SLOPE), True, (1.0, LEAKY_SLOPE), code=2,
               torch=lambda torch, F: lambda t: F.leaky_relu(t, LEAKY_SLOPE), moments=_leaky_moments,
               kernel=leaky_kernel),
    Activation("identity", lambda t: t, lambda t: np.ones_like(t), True, (1.0, 1.0), code=0,
               torch=lambda torch, F: lambda t: t, moments=_identity_moments, polynomial=True,
               kernel=identity_kernel),
    Activation("gelu", _gelu, lambda t: special.ndtr(t) + t * np.exp(-t * t / 2) / _SQRT2PI, False, code=3,
               torch=lambda torch, F: F.gelu, odd_identity_exact=True),  # F.gelu: the exact erf form, as ours
    Activation("tanh", np.tanh, lambda t: 1 - np.tanh(t) ** 2, False, code=4, torch=lambda torch, F: torch.tanh),
    Activation("silu", _silu, lambda t: special.expit(t) * (1 + t * (1 - special.expit(t))), False, code=5,
               torch=lambda torch, F: F.silu, odd_identity_exact=True),
    Activation("softplus", _softplus, lambda t: special.expit(t), False, code=6, odd_identity_exact=True,
               torch=_torch_softplus),
)}


def get_activation(name: str | Activation) -> Activation:
    """Look up an activation by name, with a clear error for an unknown one."""
    if isinstance(name, Activation):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None
