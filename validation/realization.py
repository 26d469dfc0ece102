"""One realization: what a worker computes, and what makes its values usable.

- :func:`measure_realization` (the engine's measure wrapper): realization ``k`` of a claim on a configuration,
  ``claim.measure(config, realization_seed(seed, k))`` as float64 arrays (numpy's floating-point warnings off:
  :func:`check_finite` reports a NaN or inf once, with its cause), computed under a **single-threaded
  BLAS** (:func:`single_threaded_blas`) whatever the backend: a GEMM's blocking, hence its float32 round-off,
  depends on the number of BLAS threads, so this is what makes realization ``k`` bit-for-bit the same on the
  serial, joblib and Dask backends and with any number of workers. numba's parallel kernels need no such limit:
  each output element is written by one thread, whatever their number (``tests/validation/test_backends.py``).
  This module's source is part of the results store's key (:data:`validation.configs.MEASUREMENT_CODE`): a
  change here changes what a stored realization holds.
- :func:`check_finite`: a NaN or ±inf among the measured quantities a configuration's verdicts read is an error of
  that configuration (:class:`NonFiniteMeasurement`: the quantity, the cells, the realizations and the likely
  cause), never a verdict — unless the configuration breaks a hypothesis of the claim, where quantities may be
  undefined (e.g. a ratio to a bound that is zero) and the verdict is HYPOTHESIS NOT MET anyway.
- :class:`HypothesisNotMetError`: a realization that cannot be computed at all (a normalization's denominator
  is zero) on a configuration that breaks a hypothesis of the claim — the verdict is HYPOTHESIS NOT MET, with
  the broken hypothesis and the arithmetic failure it causes.
- :data:`MAX_REALIZATIONS`: the most realizations one configuration may ask for.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import numpy as np

import randnet
from randnet.checks import check_int
from theorems.base import REGISTRY, Claim, unknown_claim

from .configs import nets

MAX_REALIZATIONS = 1_000_000
"""Realizations per configuration: more is refused before anything runs (the engine lists every task up front,
and a million realizations of the smallest net already take hours)."""

_CONTROLLER = None


class NonFiniteMeasurement(ValueError):
    """A measured quantity holds NaN or ±inf on a configuration that meets the claim's hypotheses."""


class HypothesisNotMetError(ValueError):
    """A realization failed (zero normalization denominator) on a configuration that breaks a hypothesis."""


def get_claim(claim_key: str) -> Claim:
    """The registered claim ``claim_key`` (importing ``theorems`` registers every claim module)."""
    try:
        return REGISTRY[claim_key]
    except KeyError:
        raise KeyError(unknown_claim(claim_key)) from None


def check_realizations(n: Any) -> None:
    """A clear error unless ``n`` is an integer in ``[1, MAX_REALIZATIONS]``."""
    check_int("realizations", n)
    if n > MAX_REALIZATIONS:
        raise ValueError(f"realizations must be at most {MAX_REALIZATIONS:,} per configuration, got {n:,}")


def single_threaded_blas():
    """A context in which every BLAS library loaded in this process runs one thread (threadpoolctl)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController
        _CONTROLLER = ThreadpoolController()  # the libraries loaded by now: numpy's and scipy's OpenBLAS
    return _CONTROLLER.limit(limits=1, user_api="blas")


def single_threaded(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` under :func:`single_threaded_blas` (a picklable task for any backend)."""
    with single_threaded_blas():
        return fn(*args)


def measure_realization(claim_key: str, config: Any, seed: int, k: int) -> dict[str, np.ndarray]:
    """Realization ``k``: ``claim.measure(config, realization_seed(seed, k))`` as float64 arrays, under a
    single-threaded BLAS. A zero normalization denominator on a configuration that breaks a hypothesis of the
    claim raises :class:`HypothesisNotMetError` naming the hypothesis."""
    claim = get_claim(claim_key)
    try:  # no floating-point warnings: a NaN or inf is reported once, with its cause (check_finite)
        with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            values = claim.measure(config, randnet.realization_seed(seed, k))
    except ZeroDivisionError as e:
        unmet = claim.unmet(config)
        if not unmet:
            raise
        broken = "; ".join(f"{h.name}: {h.why}" if h.why else h.name for h in unmet)
        raise HypothesisNotMetError(f"{broken} — so realization {k} cannot be computed: {e}") from None
    return {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}


def realize(claim_key: str, config: Any, seed: int, k: int) -> tuple[dict[str, np.ndarray], float]:
    """One worker task: realization ``k`` and the seconds it took."""
    start = time.perf_counter()
    values = measure_realization(claim_key, config, seed, k)
    return values, time.perf_counter() - start


# -- non-finite measurements ------------------------------------------------------------------------------
def likely_cause(config: Any) -> str:
    """Why a configuration's measurements may be NaN or infinite, from its dtype and scales."""
    found = nets(config)
    if not found:
        return ("an overflow or 0/0 in the claim's computation (very large or very small parameters, or a "
                "diverging optimization)")
    net = found[0]
    info = np.finfo(net.np_dtype)
    limit = float(np.sqrt(info.max))
    large = [f"{name} ~ {getattr(net, name)}" for name in ("weight", "gamma", "beta")
             if getattr(net, name).rms > limit]
    cause = f"an overflow of the {net.dtype} forward pass (its largest value is {float(info.max):.3g})"
    if large:
        cause += f": {', '.join(large)} has a scale beyond sqrt({float(info.max):.3g}) = {limit:.3g}"
    else:
        cause += " or a 0/0 (very large or very small scales of the parameters or the data)"
    if net.dtype == "float32":
        cause += "; run with --dtype float64 or smaller scales"
    return cause


def _where(claim: Claim, config: Any, quantity: str, cells: np.ndarray, shape: tuple[int, ...]) -> str:
    """The cells ``cells`` (flat indices) of ``quantity``, named by a comparison's cell labels when it has them."""
    labelled = next((c for c in (*claim.comparisons(config), *claim.negative_controls(config))
                     if c.quantity == quantity and c.cells is not None and len(c.cells) == int(np.prod(shape))),
                    None)
    shown = [str(labelled.cells[i]) if labelled is not None else
             str(tuple(int(j) for j in np.unravel_index(i, shape)) if len(shape) > 1 else int(i))
             for i in cells[:5]]
    more = f" and {len(cells) - 5} more" if len(cells) > 5 else ""
    name = labelled.cell_name if labelled is not None else "cell"
    return f"{name}{'s' if len(cells) > 1 else ''} {', '.join(shown)}{more}"


def check_finite(claim: Claim, config: Any, label: str, samples: Mapping[str, np.ndarray]) -> None:
    """Raise :class:`NonFiniteMeasurement` naming the first quantity of ``samples`` (``(R, cells...)``) that a
    comparison or negative control of ``config`` reads and that holds NaN or ±inf: which values, where (cells and
    realizations) and the likely cause. A quantity no verdict reads may be undefined (e.g. P1's ε-deficit of a
    user's normalization, whose units are unknown), and so may, as NaN only, a quantity the claim declares undefined
    by design (:attr:`theorems.base.Claim.undefined`: judged INCONCLUSIVE)."""
    read = {c.quantity for c in (*claim.comparisons(config), *claim.negative_controls(config))}
    for quantity, x in samples.items():
        if quantity not in read:
            continue
        bad = np.isinf(x) if claim.may_be_undefined(quantity) else ~np.isfinite(x)
        if not bad.any():
            continue
        kinds = [w for w, m in (("NaN", np.isnan(x)), ("+inf", x == np.inf), ("-inf", x == -np.inf)) if m.any()]
        flat = bad.reshape(len(x), -1)
        cells = np.flatnonzero(flat.any(axis=0))
        ks = np.flatnonzero(flat.any(axis=1))
        runs = ", ".join(str(k) for k in ks[:5]) + (f" and {len(ks) - 5} more" if len(ks) > 5 else "")
        raise NonFiniteMeasurement(
            f"claim {claim.key}, configuration {label}: measured {quantity!r} is {' and '.join(kinds)} at "
            f"{_where(claim, config, quantity, cells, x.shape[1:])} in realization{'s' if len(ks) > 1 else ''} "
            f"{runs}; likely cause: {likely_cause(config)}. A non-finite measurement is an error of the "
            "configuration, not a verdict")
