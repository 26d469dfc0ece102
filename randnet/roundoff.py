"""Round-off: the one home of every tolerance that separates "exact" from "not exact".

A deterministic claim (SPEC §5) passes only if every realization satisfies it to round-off. How large that
is depends on what is computed, so each rule below says what it bounds; all derive from the dtype's unit
round-off ``u = ε/2`` (``ε`` the machine epsilon) and from ``γ_m = m u₆₄ / (1 − m u₆₄)``, the classical
bound on the relative error of a recursive float64 sum of ``m`` terms (Higham, *Accuracy and Stability of
Numerical Algorithms*, Lemma 3.1):

=============================== ======================================================================
:data:`DENOMINATOR_FLOOR`       a normalization denominator below this fraction of its slice's mean is
                                a constant slice (its variance is summation error): ``16 ε₆₄``
:func:`normalized_tolerance`    P1, T2: identities of the normalized ``y`` (``P = 1``), run in a dtype
:func:`linearity_tolerance`     P2: ``Λ_c − B_c``, a ratio of powers in ``[0, 1]``, run in a dtype
:func:`inequality_tolerance`    P4-train, P5: inequalities ``d ≥ η`` between float64 distances
:data:`FLOAT64_EXACT`           a float64 computation deemed exact: RN's identities on O(1) quantities
                                (absolute), P5's "the bound is zero" (relative to ``P(x)``), and — as
                                its square — P4's constructions (relative power ``d / P(x)``)
:func:`summation_error`         ``γ_m`` itself (P6: "the data are centered", relative to ``max |x|``)
:func:`limit_tolerance`         T1-inf, P6-inf: power fractions of the float64 infinite-width recursion
=============================== ======================================================================
"""
from __future__ import annotations

import math

import numpy as np

U64 = float(np.finfo(np.float64).eps) / 2
"""Unit round-off of float64."""
DENOMINATOR_FLOOR = 16 * float(np.finfo(np.float64).eps)
ROUNDINGS = 3
"""Roundings in the network's dtype that one element of ``y`` may carry: centering, scaling, output cast
(randnet's float64-statistics path has one; three also covers a kernel doing its arithmetic in the dtype)."""
FLOAT64_EXACT = 1e-12


def machine_epsilon(dtype) -> float:
    """``ε`` of ``dtype`` (``2u``)."""
    return float(np.finfo(np.dtype(dtype)).eps)


def unit_roundoff(dtype) -> float:
    """``u = ε/2`` of ``dtype``."""
    return machine_epsilon(dtype) / 2


def summation_error(m: int) -> float:
    """``γ_m = m u₆₄ / (1 − m u₆₄)``: relative error bound of a float64 sum of ``m`` terms."""
    return m * U64 / (1 - m * U64)


def normalized_tolerance(dtype, m: int) -> float:
    """Round-off bound of the exact identities of P1 and T2, in units of the normalized signal (``P = 1``).

    Each element of ``y`` has a relative error ``≤ k·u`` (``k`` = :data:`ROUNDINGS`), so a mean square moves by
    at most ``(1 + k u)² − 1`` and a mean or a std by at most ``k u``; the float64 statistics add at most
    ``γ_m`` for sums of ``m = N·H·W`` terms (every sum in a statistic has fewer). Float32: ``3.6e-7``; float64:
    ``≈ m·1.1e-16``.
    """
    return float((1 + ROUNDINGS * unit_roundoff(dtype)) ** 2 - 1 + summation_error(m))


def linearity_tolerance(dtype, count: int) -> float:
    """Round-off bound of ``Λ_c − B_c`` (P2) for a net run in ``dtype``.

    Storing ``z`` in ``dtype`` perturbs ``Λ_c ∈ [0, 1]`` by at most about ``ε·sqrt(Λ_c) + ε²``; the float64
    sums over ``count`` elements add at most ``count · ε₆₄`` relative error to each moment:
    ``4 ε + count · ε₆₄``.
    """
    return 4 * machine_epsilon(dtype) + count * machine_epsilon(np.float64)


def inequality_tolerance(dtype) -> float:
    """The tolerance of a deterministic inequality between distances computed in ``dtype`` (P4-train, P5):
    ``sqrt(ε)``, far above the round-off of a mean of squares and far below any violation of the bounds."""
    return math.sqrt(machine_epsilon(dtype))


def limit_tolerance(positions: int, depth: int) -> float:
    """Round-off bound of a power fraction (in ``[0, 1]``) of the float64 infinite-width kernel recursion (SPEC §8)
    after ``depth`` layers on ``positions`` = ``N·H·W`` positions: each layer's kernel map (its γ quadrature
    included) adds at most :data:`FLOAT64_EXACT` and its means over ``positions²`` entries ``γ_{positions²}``,
    accumulated over the layers (the normalized map does not amplify them): ``depth · (FLOAT64_EXACT + γ_{P²})``."""
    return depth * (FLOAT64_EXACT + summation_error(positions ** 2))
