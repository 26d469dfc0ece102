"""Helpers shared by the claim modules on random nets (a leading underscore: not a claim, not auto-imported).

- hypotheses: Definition 1 (SPEC §2) — :func:`definition1_hypotheses`, all of it: (i) from the data
  (:func:`data_hypothesis`), (ii)–(iii) from :meth:`NetConfig.assumptions` (:func:`distribution_hypotheses`);
  the normalization, ``ε`` and activation hypotheses the claims add;
- :func:`roundoff_tolerance`: the round-off bound of the exact (deterministic) identities of P1 and T2
  (:func:`randnet.roundoff.normalized_tolerance` for this configuration's dtype and data);
- streams of one realization: :func:`layer_moments` (instance moments of ``x^l`` and ``y^l``, for the exact
  identities of P1 and T2) and :func:`collapse_measure` (the layer statistics of T1 and P6);
- the infinite-width limit (SPEC §8): :func:`limit_terms` (cached whatever the widths) and :func:`collapse_limit`
  (``Claim.limit`` of T1 and P6).
"""
from __future__ import annotations

import functools
from typing import Iterator

import numpy as np

import randnet
from randnet import NetConfig, data_assumption, draw_data, forward, get_activation, layer_stream
from randnet.limit import memory_need
from randnet.roundoff import normalized_tolerance, summation_error
from theorems.base import Hypothesis

BOUND_DELTA = 0.01
"""δ of Eq. 6's "≲" (T1, FIG5): 1% of the layer's power ``P(y^l) = 1``; fixed, not fitted to the data."""
DETERMINISTIC_REALIZATIONS = {"quick": 4, "full": 20}
"""Realizations of the exact claims: each must hold in every realization, so a few suffice to catch a failure."""


# -- data: Definition 1 (i) --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def representative_data(spec) -> np.ndarray:
    """The dataset drawn from the spec's own seed: *the* dataset when it is fixed (a file, ``redraw=False``),
    else one representative draw of a random built-in (each realization draws its own)."""
    data = spec.draw(None)
    data.flags.writeable = False
    return data


def data_hypothesis(config: NetConfig) -> Hypothesis:
    """Definition 1 (i): no input identically zero (part of "nonzero normalization denominators")."""
    ok, why = data_assumption(representative_data(config.dataset))
    if config.dataset.path is None and config.dataset.redraw:
        why += " (a representative draw; every realization's own draw is checked when it is measured)"
    return Hypothesis("(i) no input identically zero", ok, why)


def require_nonzero_inputs(data: np.ndarray) -> None:
    """Refuse a realization whose data break Definition 1 (i) (its normalization would divide by zero)."""
    ok, why = data_assumption(data)
    if not ok:
        raise ValueError(f"Definition 1 (i) fails for this realization's data: {why}")


def distribution_hypotheses(config: NetConfig) -> list[Hypothesis]:
    """Definition 1's assumptions (ii)–(iii) on the parameter distributions ``ν_ω, ν_γ, ν_β``."""
    return [Hypothesis(name, ok, why) for name, (ok, why) in config.assumptions().items()]


def definition1_hypotheses(config: NetConfig) -> list[Hypothesis]:
    """All of Definition 1's assumptions: (i) on the data, (ii)–(iii) on ``ν_ω, ν_γ, ν_β``."""
    return [data_hypothesis(config)] + distribution_hypotheses(config)


# -- hypotheses the claims add ---------------------------------------------------------------------------------
def centered_hypothesis(config: NetConfig) -> Hypothesis:
    """``μ_c(x) = 0`` for every input channel, to the float64 round-off of a mean of ``m = N·H·W`` terms."""
    data = representative_data(config.dataset)
    m = int(np.prod(data.shape[:3]))
    worst = float(np.abs(data.mean(axis=(0, 1, 2))).max())
    tol = summation_error(m) * float(np.abs(data).max())
    why = f"max_c |μ_c(x)| = {worst:.3g} (round-off bound {tol:.2g}) on {config.dataset.name!r}"
    if config.dataset.path is None and config.dataset.redraw:
        why += " (a representative draw)"
    return Hypothesis("dataset centered: μ_c(x) = 0", worst <= tol, why)


def norm_hypothesis(config: NetConfig, kinds: tuple[str, ...], plain: bool = False) -> Hypothesis:
    """The normalization is one of ``kinds``; ``plain``: without the ``+ws`` / ``+pn`` modifiers."""
    ok = config.base_norm in kinds and not (plain and config.norm != config.base_norm)
    want = " or ".join(repr(k) for k in kinds) + (" (no +ws, +pn)" if plain else "")
    return Hypothesis(f"norm is {want}", ok, f"norm = {config.norm!r}")


def eps_hypothesis(config: NetConfig, zero: bool = True) -> Hypothesis:
    """``ε = 0`` (the exact claims and the theorems) or, with ``zero=False``, ``ε > 0`` (their ε-versions)."""
    ok = (config.eps == 0) if zero else (config.eps > 0)
    return Hypothesis("ε = 0" if zero else "ε > 0", ok, f"eps = {config.eps:g}")


def positive_homogeneous_hypothesis(config: NetConfig) -> Hypothesis:
    """φ positive homogeneous (``φ(λt) = λφ(t)``, ``λ ≥ 0``) and not identically zero (slopes ``(a, b) ≠ 0``)."""
    act = get_activation(config.activation)
    ok = act.positive_homogeneous and act.slopes is not None and any(s != 0 for s in act.slopes)
    why = (f"φ = {act.name} with slopes (a, b) = {act.slopes}" if act.positive_homogeneous
           else f"φ = {act.name} is not positive homogeneous")
    return Hypothesis("φ positive homogeneous, not identically zero", ok, why)


def periodic_conv_hypothesis(config: NetConfig) -> Hypothesis:
    """The theorems need a periodic conv (a channel-constant map stays channel-constant); randnet's always is."""
    why = f"randnet.periodic_conv is circular (K = {config.kernel_size}, first stride {config.first_stride})"
    return Hypothesis("periodic convolution", True, why)


# -- round-off ---------------------------------------------------------------------------------------------
def roundoff_tolerance(config: NetConfig) -> float:
    """Round-off bound of the exact identities of P1 and T2, in units of the normalized signal (``P = 1``):
    :func:`randnet.roundoff.normalized_tolerance` of the net's dtype, for sums of ``m = N·H·W`` terms."""
    return normalized_tolerance(config.dtype, int(np.prod(representative_data(config.dataset).shape[:3])))


# -- one realization ---------------------------------------------------------------------------------------
def layer_moments(config: NetConfig, ss: np.random.SeedSequence) -> Iterator[tuple[tuple, tuple]]:
    """Per layer ``l = 1 … L``: the instance moments ``(μ_{x,c}, σ²_{x,c})``, each ``(N, C)`` float64, of the
    conv output ``x^l`` and of the normalized ``y^l`` (one realization, one layer in memory at a time), as the
    forward pass computed them (bit for bit :func:`randnet.instance_moments` of ``x^l``, ``y^l``; on the torch
    backend no tensor leaves the device)."""
    data = draw_data(config, ss)
    require_nonzero_inputs(data)
    for layer in forward(config, ss, data):
        m = layer.moments
        yield (m.inst_mean_x, m.inst_var_x), (m.inst_mean_y, m.inst_var_y)


def collapse_measure(config: NetConfig, ss: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """T1 / P6 quantities of one realization, one value per layer ``l = 1 … L``.

    noncollapsed       ``1 − P(μ_c(y^l)) / P(y^l)`` (``= 1 − P(μ_c(y^l))`` since ``P(y^l) = 1``, P1)
    ln_scaling_ratio   ``r^l = (E_x σ_x(x^l))² / E_x[σ_x(x^l)²]``
    linearity          ``Λ^l = P(z^l − z̃^l) / P(z^l)``
    power_y            ``(L, 4)``: the layer-level terms (1)–(4) of Eq. 5 for ``y^l``
    """
    data = draw_data(config, ss)
    require_nonzero_inputs(data)
    rows = [(s.noncollapsed_y, s.ln_scaling_ratio, s.linearity, s.power_y.mean(axis=1))
            for s in layer_stream(config, ss, data)]
    noncollapsed, ratio, linearity, power = zip(*rows)
    return {"noncollapsed": np.array(noncollapsed), "ln_scaling_ratio": np.array(ratio),
            "linearity": np.array(linearity), "power_y": np.stack(power)}


# -- the infinite-width limit (SPEC §8) ------------------------------------------------------------------------
EXACT_LIMIT_NORMS = ("ln",)
"""The plain normalizations whose limit is the deterministic kernel recursion and that T1 / P6 assume."""
VERDICT_LIMIT_BYTES = 2 ** 29
"""The largest limit (:func:`randnet.limit.memory_need`) that T1 and P6 compute for their overall verdict: 512 MiB,
e.g. 32 inputs 16×16 (338–374 s for 50 layers on the loaded 2-core machine, ``benchmarks/bench_limit.py``); the
paper's 128 inputs 16×16 (4.3 GB, 16 times as many kernel blocks) are not computed there — run T1-inf on a subset
of the inputs."""


def limit_terms(config: NetConfig, data: np.ndarray | None = None) -> np.ndarray:
    """The layer-level power terms of ``y^l`` at C = ∞, ``(L, 3)``: (1) ``P(μ_c(y^l))``, (2)
    ``P(σ_c(μ_{x,c}(y^l)))``, (3)+(4) (:func:`randnet.infinite_width_terms`; ``config``'s widths are ignored), on
    ``data`` (one realization's dataset). Without ``data``, or when the dataset is fixed (a file, ``redraw=False``),
    on :func:`representative_data`, cached per configuration whatever its widths."""
    if data is not None and config.dataset.path is None and config.dataset.redraw:
        return randnet.infinite_width_terms(config, data)
    return _representative_limit(config.replace(widths=config.groups or 1)).copy()


@functools.lru_cache(maxsize=16)
def _representative_limit(config: NetConfig) -> np.ndarray:
    """:func:`limit_terms` on the representative dataset (``config`` with canonical widths: the cache's key)."""
    return randnet.infinite_width_terms(config, representative_data(config.dataset))


def collapse_limit(config: NetConfig) -> dict[str, np.ndarray] | None:
    """``Claim.limit`` of T1 and P6: ``noncollapsed = 1 − P(μ_c(y^l))`` and ``power_terms`` (:func:`limit_terms`) at
    C = ∞ on the representative dataset; None unless the norm is plain LN (the claims' hypothesis) and the limit
    needs at most :data:`VERDICT_LIMIT_BYTES`."""
    if config.norm not in EXACT_LIMIT_NORMS or \
            memory_need(config, representative_data(config.dataset).shape) > VERDICT_LIMIT_BYTES:
        return None
    terms = limit_terms(config)
    return {"noncollapsed": 1 - terms[:, 0], "power_terms": terms}


def rho_powers(config: NetConfig, rho: float | None = None) -> np.ndarray:
    """``ρ^{l−1}`` for ``l = 1 … L`` (T1's bound, P6's prediction; ``rho`` defaults to :attr:`NetConfig.rho`)."""
    return (config.rho if rho is None else rho) ** np.arange(config.depth)


def layers(config: NetConfig) -> list[int]:
    """Cell labels ``1 … L``."""
    return list(range(1, config.depth + 1))
