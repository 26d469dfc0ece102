"""A diagnostic of a user's own normalization (``"package.module:function"``, see :mod:`randnet.plugins`), or of a
built-in one by its name (e.g. ``bmlv``, ``preln``).

On random nets of Definition 1 (the same realizations for every norm, paired), it measures for the
user's norm, with LN and BN beside it:

- its power profile per layer: the four layer-level terms of Eq. 5 of ``y^l`` (the Fig. 2 power plot);
- its collapse curve, the non-collapsed fraction ``1 − P(μ_c(y^l))/P(y^l)``, against LN's bound ``ρ^{l−1}``
  (Theorem 1) and LN's own curve;
- its instance variability, terms (2) + (4) as a fraction of ``P(y^l)``, against IN's (0 exactly, Theorem 2)
  and BN's;
- the distance of its power profile to BN's, ``d(p, q) = (1/L) Σ_l Σ_k |p^l_k − q^l_k|`` (as in FIG2).

No verdict: the summary states the measurements. Use::

    config = diagnose_config("randnet.examples.rms_norm:rms_norm", mode="quick")
    rows = [measure(config, randnet.realization_seed(seed, k)) for k in range(R)]   # in validation
    diagnosis = summarize(config, {q: np.stack([r[q] for r in rows]) for q in rows[0]})
    print("\\n".join(diagnosis.lines()))
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from randnet import NORMALIZATIONS, NetConfig, reference_config
from randnet.plugins import register_plugin
from theorems._panels import PanelConfig, panel_stats, power_profile, profile_quantities
from theorems.base import check_run_mode

CONTEXT_NORMS = ("ln", "bn")
REALIZATIONS = {"quick": 4, "full": 50}


@dataclass(frozen=True)
class DiagnoseConfig:
    """The user's normalization ``reference`` (registered as ``name``) on the random net ``net`` (its norm ignored)."""

    reference: str
    name: str
    net: NetConfig

    @property
    def panel(self) -> PanelConfig:
        return PanelConfig(self.net, (self.name, *CONTEXT_NORMS))

    def describe(self) -> dict:
        net = {k: v for k, v in self.net.describe().items() if k not in ("norm", "groups")}
        return {"reference": self.reference, "name": self.name, **net}

    def label(self) -> str:
        return f"{self.name} C={self.net.width} L={self.net.depth} {self.net.activation} N={self.net.dataset.n}"


def diagnose_config(reference: str, mode: str = "quick", **net_changes) -> DiagnoseConfig:
    """Register ``reference`` (a built-in name is used as it is) and build its diagnostic configuration.

    quick: the reference configuration scaled down (C = 64, L = 24, N = 16); full: the reference
    configuration (C = 1024, L = 50, N = 128). ``net_changes`` override :class:`~randnet.NetConfig` fields
    (e.g. ``widths=128``, ``depth=30``, ``activation="gelu"``).
    """
    check_run_mode(mode)
    name = _register(reference)
    net = reference_config() if mode == "full" else reference_config(width=64, depth=24, n=16)
    config = DiagnoseConfig(reference, name, net.replace(**net_changes) if net_changes else net)
    config.panel.config_for(name)  # validate the net with the user's norm now, not in a worker
    return config


def measure(config: DiagnoseConfig, ss) -> dict[str, np.ndarray]:
    """One realization: per norm (user's, ln, bn) ``power_y[n]`` (L, 4), ``distance[n]`` to BN, and per layer
    ``noncollapsed[n]``, ``variability[n]`` ((2) + (4) over P(y)) and ``power[n]`` (P(y^l))."""
    _register(config.reference)  # a fresh worker process has not registered it yet
    profiles = {n: power_profile(s) for n, s in panel_stats(config.panel, ss).items()}
    out = profile_quantities(profiles)
    for norm, p in profiles.items():
        total = p.sum(axis=1)
        out[f"power[{norm}]"] = total
        out[f"noncollapsed[{norm}]"] = 1 - p[:, 0] / total
        out[f"variability[{norm}]"] = (p[:, 1] + p[:, 3]) / total
    return out


def _register(reference: str) -> str:
    """The normalization's registered name: a built-in's own, a plugin's after registering it."""
    return reference if ":" not in reference and reference in NORMALIZATIONS else register_plugin(reference)


@dataclass(frozen=True)
class Diagnosis:
    """Means over ``realizations`` (and standard errors ``*_se``) of the diagnostic quantities.

    profile (L, 4); noncollapsed, ln_noncollapsed, ln_bound (ρ^{l−1}), variability, bn_variability, power (L,);
    distance, ln_distance: to BN's profile.
    """

    config: DiagnoseConfig
    realizations: int
    profile: np.ndarray
    power: np.ndarray
    noncollapsed: np.ndarray
    noncollapsed_se: np.ndarray
    ln_noncollapsed: np.ndarray
    ln_bound: np.ndarray
    variability: np.ndarray
    variability_se: np.ndarray
    bn_variability: np.ndarray
    distance: float
    distance_se: float
    ln_distance: float

    @property
    def layers(self) -> np.ndarray:
        return np.arange(1, len(self.profile) + 1)

    def lines(self) -> list[str]:
        """A verdict-free text summary."""
        c, last = self.config, len(self.profile)
        below = self.layers[self.noncollapsed < self.ln_bound]
        p = self.profile[-1] / self.profile[-1].sum()
        return [
            f"normalization {c.name!r} ({c.reference}) on C={c.net.width} L={c.net.depth} {c.net.activation} "
            f"N={c.net.dataset.n}, {self.realizations} realizations",
            f"P(y^l) = {self.power.min():.4g} … {self.power.max():.4g} over layers (1 for LN, BN, IN, GN with ε = 0)",
            f"power profile of y^{last} (fractions of P(y)): (1) {p[0]:.3f}  (2) {p[1]:.3f}  (3) {p[2]:.3f}  "
            f"(4) {p[3]:.3f}",
            f"non-collapsed fraction 1 − P(μ_c(y))/P(y) at layer {last}: {self.noncollapsed[-1]:.4f} "
            f"± {self.noncollapsed_se[-1]:.1g} (LN: {self.ln_noncollapsed[-1]:.4f}; LN's bound ρ^{last - 1} = "
            f"{self.ln_bound[-1]:.4f})",
            "below LN's bound ρ^(l−1) at layers " + (_ranges(below) if below.size else "none"),
            f"instance variability (2)+(4) at layer {last}: {self.variability[-1]:.4f} ± {self.variability_se[-1]:.1g} "
            f"of P(y) (IN: 0 exactly; BN: {self.bn_variability[-1]:.4f})",
            f"distance of the power profile to BN's: {self.distance:.4f} ± {self.distance_se:.1g} "
            f"(LN's: {self.ln_distance:.4f})",
        ]

    def describe(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "config"}
        return {"config": self.config.describe(), "summary": self.lines(),
                **{k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in d.items()}}


def _ranges(layers: np.ndarray) -> str:
    """``[2, 3, 4, 7]`` -> ``"2–4, 7"``."""
    breaks = np.flatnonzero(np.diff(layers) != 1)
    starts, ends = np.r_[layers[0], layers[breaks + 1]], np.r_[layers[breaks], layers[-1]]
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in zip(starts, ends))


def summarize(config: DiagnoseConfig, samples: Mapping[str, np.ndarray]) -> Diagnosis:
    """The :class:`Diagnosis` from the stacked measurements ``quantity -> (R, cells...)`` of :func:`measure`."""
    user = config.name
    need = [f"{q}[{n}]" for n in (user, "ln") for q in ("power_y", "noncollapsed", "distance")] + \
           [f"variability[{n}]" for n in (user, "bn")] + [f"power[{user}]"]
    missing = [q for q in need if q not in samples]
    if missing:
        raise ValueError(f"diagnostic samples lack {missing}; pass the stacked outputs of theorems.diagnose.measure")
    r = len(samples[need[0]])

    def mean(q):
        return np.asarray(samples[q], dtype=float).mean(axis=0)

    def se(q):
        x = np.asarray(samples[q], dtype=float)
        return x.std(axis=0, ddof=1) / np.sqrt(r) if r > 1 else np.full(x.shape[1:], np.nan)

    depth = samples[f"power_y[{user}]"].shape[1]
    return Diagnosis(
        config=config, realizations=r, profile=mean(f"power_y[{user}]"), power=mean(f"power[{user}]"),
        noncollapsed=mean(f"noncollapsed[{user}]"), noncollapsed_se=se(f"noncollapsed[{user}]"),
        ln_noncollapsed=mean("noncollapsed[ln]"), ln_bound=config.net.rho ** np.arange(depth),
        variability=mean(f"variability[{user}]"), variability_se=se(f"variability[{user}]"),
        bn_variability=mean("variability[bn]"), distance=float(mean(f"distance[{user}]")[0]),
        distance_se=float(se(f"distance[{user}]")[0]), ln_distance=float(mean("distance[ln]")[0]),
    )
