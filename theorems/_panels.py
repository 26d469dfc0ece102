"""Panels of norms on one random net, and their power profiles (shared by FIG2, FIG5, P2, T3-net and the diagnostic;
a leading underscore: not a claim).

A *panel* runs several normalizations on the **same** realization (same dataset, same ``ω, γ, β``: only the
norm step differs, so comparisons between norms are paired). For each norm the power plot of ``y^l`` is its
*four-term profile*: per layer ``l`` the layer-level terms of Eq. 5,

    p^l = ( P(μ_c(y^l)), P(σ_c(μ_{x,c}(y^l))), P(μ_c(σ_{x,c}(y^l))), P(σ_c(σ_{x,c}(y^l))) ),

and the distance between two profiles is the mean over layers of their L1 distance,

    d(p, q) = (1/L) Σ_l Σ_{k=1..4} |p^l_k − q^l_k|.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from randnet import DatasetSpec, LayerStats, NetConfig, layer_stream, parse_norm, reference_config

REFERENCE_NORM = "bn"
FIG2_NORMS = ("bn", "in", "ln", "gn", "ln+pn", "ln+ws")
"""The norms of Fig. 2's top row; its panels also hold Fig. 5's LN and GN (FIG2 and FIG5 share realizations)."""
RIVALS = ("ln", "gn")
CANDIDATE = "ln+pn"
PAPER_GROUPS = 32


@dataclass(frozen=True)
class PanelConfig:
    """Several norms on one random net: ``net`` fixes everything but the norm (its own norm is ignored).

    norms   the normalizations compared (``+ws`` / ``+pn`` variants allowed); ``groups``: G of every ``gn``.
    """

    net: NetConfig
    norms: tuple[str, ...]
    groups: int = 8

    def __post_init__(self) -> None:
        norms = tuple(self.norms)
        object.__setattr__(self, "norms", norms)
        if not norms or len(set(norms)) != len(norms):
            raise ValueError(f"a panel needs distinct norms, got {norms!r}")
        for norm in norms:  # validates every norm name and the groups against the widths
            self.config_for(norm)

    def config_for(self, norm: str) -> NetConfig:
        """The net of the panel with normalization ``norm``."""
        return self.net.replace(norm=norm, groups=self.groups if parse_norm(norm)[0] == "gn" else None)

    def describe(self) -> dict:
        net = {k: v for k, v in self.net.describe().items() if k not in ("norm", "groups")}
        return {"norms": list(self.norms), "groups": self.groups, **net}

    def label(self) -> str:
        return f"C={self.net.width} L={self.net.depth} {self.net.activation} N={self.net.dataset.n}"


def require_norms(config: PanelConfig, norms: Sequence[str], key: str) -> None:
    """A clear error when a panel lacks a norm that claim ``key`` compares."""
    missing = [n for n in norms if n not in config.norms]
    if missing:
        raise ValueError(f"{key} compares {', '.join(norms)}; the panel {config.norms} lacks {', '.join(missing)}")


def panel_stats(config: PanelConfig, ss) -> dict[str, list[LayerStats]]:
    """One realization of every norm of the panel, all from the same ``SeedSequence`` (paired)."""
    return {norm: list(layer_stream(config.config_for(norm), ss)) for norm in config.norms}


def power_profile(stats: Sequence[LayerStats]) -> np.ndarray:
    """The four-term profile ``(L, 4)``: layer-level Eq. 5 terms of ``y^l`` (``power_y.mean(axis=1)``)."""
    return np.array([s.power_y.mean(axis=1) for s in stats])


def profile_distance(p: np.ndarray, q: np.ndarray) -> float:
    """``d(p, q) = (1/L) Σ_l Σ_k |p^l_k − q^l_k|`` for profiles of shape ``(L, 4)``."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape or p.ndim != 2 or p.shape[1] != 4:
        raise ValueError(f"profiles must both have shape (L, 4), got {p.shape} and {q.shape}")
    return float(np.abs(p - q).sum(axis=1).mean())


def profile_quantities(profiles: Mapping[str, np.ndarray], reference: str = REFERENCE_NORM) -> dict[str, np.ndarray]:
    """Per norm: ``power_y[norm]`` (L, 4) and ``distance[norm]`` = d(norm, reference) (one cell)."""
    out = {}
    for norm, p in profiles.items():
        out[f"power_y[{norm}]"] = p
        if norm != reference:
            out[f"distance[{norm}]"] = np.array([profile_distance(p, profiles[reference])])
    return out


def distance_gap(measured: Mapping[str, np.ndarray], rival: str, candidate: str) -> np.ndarray:
    """``d(rival, bn) − d(candidate, bn)``: > 0 when ``candidate``'s profile is the closer to BN's."""
    return measured[f"distance[{rival}]"] - measured[f"distance[{candidate}]"]


def paper_panel(width: int = 1024, depth: int = 50, n: int = 128, crop: int = 32) -> PanelConfig:
    """Fig. 2 (top row) and Fig. 5 as the paper ran them: the reference configuration (ReLU, ``C = 1024``,
    ``K = 3``, ``β ~ N(0, 0.2²)``, ``γ ~ N(1, 0.2²)``, float32, ``L = 50``) on ``n = 128`` natural ``32 × 32`` images
    with a stride-2 first conv (16×16 maps after it), GN with ``G = 32``; smaller ``width, depth, n, crop`` for
    tests (G becomes the largest divisor of the width that is at most 32)."""
    net = reference_config(width=width, depth=depth, n=n).replace(
        dataset=DatasetSpec("natural", n=n, height=crop, width=crop), first_stride=2)
    return PanelConfig(net, FIG2_NORMS, groups=max(g for g in range(1, PAPER_GROUPS + 1) if width % g == 0))


def fig2_panel_configs(mode: str) -> list[PanelConfig]:
    """Quick: the reference configuration scaled to a 2-core machine (C = 64, L = 24, N = 16 synthetic 16×16, G = 8).
    Full: :func:`paper_panel` (C = 1024, L = 50, N = 128 natural 32×32 with a stride-2 first conv, G = 32)."""
    if mode == "full":
        return [paper_panel()]
    return [PanelConfig(reference_config(width=64, depth=24, n=16), FIG2_NORMS, groups=8)]


def deep_layers(depth: int) -> np.ndarray:
    """The *deep* layers of a net of ``depth`` layers: its second half, ``l > L/2`` (0-based indices)."""
    return np.arange(depth // 2, depth)


def collapse_quantities(norm: str, stats: Sequence[LayerStats]) -> dict[str, np.ndarray]:
    """Per layer, for one norm of a panel: ``noncollapsed[norm]`` ``1 − P(μ_c(y^l))/P(y^l)``,
    ``ln_scaling_ratio[norm]`` ``r^l = (E_x σ_x(x^l))² / E_x[σ_x(x^l)²]`` and ``linearity[norm]``
    ``Λ^l = P(z^l − z̃^l)/P(z^l)`` (Fig. 5's three curves); and ``deep_linearity[norm]``, the mean of ``Λ^l`` over
    the :func:`deep_layers` (one cell)."""
    linearity = np.array([s.linearity for s in stats])
    return {f"noncollapsed[{norm}]": np.array([s.noncollapsed_y for s in stats]),
            f"ln_scaling_ratio[{norm}]": np.array([s.ln_scaling_ratio for s in stats]),
            f"linearity[{norm}]": linearity,
            f"deep_linearity[{norm}]": np.array([linearity[deep_layers(len(linearity))].mean()])}


def fig2_panel_measure(config: PanelConfig, ss) -> dict[str, np.ndarray]:
    """One realization of Fig. 2's panel: per norm its profile ``power_y[norm]``, ``distance[norm]`` to BN's and
    the :func:`collapse_quantities`; and ``gap[rival] = d(rival, bn) − d(ln+pn, bn)`` for the :data:`RIVALS`.
    The measurement of both FIG2 and FIG5 (one computation per realization)."""
    require_norms(config, FIG2_NORMS, "FIG2 and FIG5")
    stats = panel_stats(config, ss)
    out = profile_quantities({n: power_profile(s) for n, s in stats.items()})
    for norm, s in stats.items():
        out.update(collapse_quantities(norm, s))
    out["gap"] = np.array([distance_gap(out, r, CANDIDATE)[0] for r in RIVALS])
    return out
