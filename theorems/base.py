"""The contract between a claim module and the Monte Carlo engine.

A claim (SPEC §4) is a :class:`Claim`: it names its configurations, says which of its
hypotheses a configuration meets, measures one realization from one ``SeedSequence``
and declares, as :class:`Comparison` objects, what the measurement should satisfy
(and, as negative controls, what it must *not* satisfy). The engine in
``validation`` loops over realizations, builds the intervals of SPEC §5 and gives the
verdicts; nothing here loops over realizations, prints, or touches files.

Measurements are ``dict[str, np.ndarray]``: for one realization, each quantity is an
array whose shape is the claim's *cells* (usually one value per layer). The engine
stacks realizations along a new leading axis.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

RELATIONS = ("<=", ">=", "==")
COMPARISON_MODES = ("exact", "mean", "probability")
"""How a :class:`Comparison` is judged (:attr:`Comparison.mode`)."""
FRACTION = (0.0, 1.0)
"""The bounds of a power fraction (:attr:`Comparison.bounds`)."""
FRACTION_STEP = (-1.0, 1.0)
"""The bounds of a difference of two power fractions (T2-GN's steps, which keep Student-t:
docs/guides/calibration.md)."""
RUN_MODES = ("quick", "full")
"""Which default configurations and realizations a claim runs (``Claim.configs(mode)``, ``Claim.realizations``)."""


def check_run_mode(mode: str) -> None:
    """A clear error unless ``mode`` is one of :data:`RUN_MODES`."""
    if mode not in RUN_MODES:
        raise ValueError(f"mode must be one of {', '.join(RUN_MODES)}, got {mode!r}")


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of a claim and whether a configuration meets it."""

    name: str
    met: bool
    why: str = ""


@dataclass(frozen=True)
class Comparison:
    """``measured[quantity]  relation  prediction`` (up to ``tolerance``), cell by cell.

    mode
        ``"exact"``: a deterministic claim; it holds only if *every* realization satisfies
        it within ``tolerance`` (a round-off tolerance scaled to the dtype).
        ``"mean"``: an interval on the mean over realizations must lie inside the region
        ``{m : m relation prediction ± tolerance}``: the betting confidence sequence when ``bounds``
        are declared, else Student-t.
        ``"probability"``: the event ``measured relation prediction (± tolerance)`` must
        hold with probability at least ``level``; judged with a Clopper–Pearson
        interval on the fraction of realizations where it holds.
    cells
        labels of the cells (e.g. the layer indices), for reports; defaults to 0..n-1.
    bounds
        ``(a, b)``: the range every measured value lies in by construction (a power fraction: ``(0, 1)``; a
        difference of two: ``(−1, 1)``), or None (unbounded). A ``"mean"`` comparison with bounds is judged on
        the betting confidence sequence (``validation.intervals.betting_interval``), whose coverage holds for
        any distribution on the range and at every number of realizations.
    """

    quantity: str
    relation: str
    prediction: np.ndarray
    tolerance: float
    mode: str
    label: str
    cells: Sequence[Any] | None = None
    level: float = 0.9
    cell_name: str = "layer"
    bounds: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {self.relation!r}")
        if self.mode not in COMPARISON_MODES:
            raise ValueError(f"mode must be one of {COMPARISON_MODES}, got {self.mode!r}")
        if not (self.tolerance >= 0 and np.isfinite(self.tolerance)):
            raise ValueError(f"tolerance must be finite and >= 0, got {self.tolerance!r}")
        object.__setattr__(self, "prediction", np.atleast_1d(np.asarray(self.prediction, dtype=float)))
        if self.bounds is not None:
            a, b = (float(v) for v in self.bounds)
            if not (np.isfinite(a) and np.isfinite(b) and a < b):
                raise ValueError(f"bounds must be finite (a, b) with a < b, got {self.bounds!r}")
            object.__setattr__(self, "bounds", (a, b))


@dataclass(frozen=True)
class Claim:
    """A claim of SPEC §4, ready for the engine.

    key, title, statement
        identifier (``"T1"``), one-line title, and the SPEC formula in words.
    configs(mode)
        the default configurations, ``mode`` one of :data:`RUN_MODES` (``"quick"``, ``"full"``). A
        configuration is any frozen object with a ``describe() -> dict`` (JSON-able) method.
    hypotheses(config)
        the list of :class:`Hypothesis`; any unmet one makes the verdict HYPOTHESIS NOT MET.
    measure(config, seed_sequence)
        one realization -> ``dict[str, np.ndarray]``.
    comparisons(config) / negative_controls(config)
        what the measurement must satisfy / the deliberately false versions that the
        checker must reject (their verdict must be FAIL).
    reported
        extra measured quantities reported with intervals (companions such as ``r``, ``Λ``).
    sweep
        for asymptotic claims (T1, P6): the configuration attribute swept (``"width"``);
        the engine then also judges the trend "the excess over the prediction shrinks as
        ``sweep`` grows".
    realizations
        default number of realizations per configuration, per mode.
    plots
        names of the plots (``validation.plots``) the report draws for this claim.
    limit(config)
        for an asymptotic claim: the measured quantities at infinite width (SPEC §8) as ``dict[str, np.ndarray]``
        (same names and cells; a quantity may be absent), or None where no limit is computed for ``config``
        (whose widths it ignores). The overall verdict reads it (:func:`validation.verdicts.judge_asymptotic`);
        the plots draw it beside the finite widths.
    undefined
        measured quantities that are NaN *by design* where they are undefined (a name, or a prefix ending in
        ``*``, e.g. ``"rho[*"``): BU7's values "after minimization" of a run whose regularizer never settled, a
        growth ratio with fewer than two layers below ``d_max``. A NaN there is judged INCONCLUSIVE ("undefined
        (NaN)"), never PASS or FAIL; any other NaN or ±inf a verdict reads is an error of the configuration
        (``validation.realization.check_finite``), and so is ±inf in these.
    shares_realizations
        the key of another claim whose realizations this one reads (None: its own). Both claims measure with
        the same ``measure`` function, so on the same configuration and seed realization ``k`` is one computation:
        the engine stores it once, under that claim's key, and the second claim reads it from the store (Fig. 5 is
        drawn from Fig. 2's panels, which hold LN and GN).
    """

    key: str
    title: str
    statement: str
    configs: Callable[[str], Sequence[Any]]
    hypotheses: Callable[[Any], list[Hypothesis]]
    measure: Callable[[Any, np.random.SeedSequence], Mapping[str, np.ndarray]]
    comparisons: Callable[[Any], list[Comparison]]
    negative_controls: Callable[[Any], list[Comparison]]
    reported: tuple[str, ...] = ()
    sweep: str | None = None
    realizations: Mapping[str, int] = field(default_factory=lambda: {"quick": 8, "full": 50})
    plots: tuple[str, ...] = ()
    undefined: tuple[str, ...] = ()
    limit: Callable[[Any], Mapping[str, np.ndarray] | None] | None = None
    shares_realizations: str | None = None

    @property
    def measured_as(self) -> str:
        """The claim key its realizations are measured and stored under (:attr:`shares_realizations` or its own)."""
        return self.shares_realizations or self.key

    def unmet(self, config: Any) -> list[Hypothesis]:
        return [h for h in self.hypotheses(config) if not h.met]

    def may_be_undefined(self, quantity: str) -> bool:
        """Whether ``quantity`` is declared NaN by design where undefined (:attr:`undefined`)."""
        return any(quantity == u or (u.endswith("*") and quantity.startswith(u[:-1])) for u in self.undefined)


REGISTRY: dict[str, Claim] = {}


@dataclass(frozen=True)
class OutOfScope:
    """A statement of the papers that the simulator does not check, listed (in ``randnet-check list`` and the suite's
    report) so that nobody mistakes it for a checked claim: ``key``, ``title`` and ``reason``."""

    key: str
    title: str
    reason: str


OUT_OF_SCOPE: dict[str, OutOfScope] = {}


def register_out_of_scope(entry: OutOfScope) -> OutOfScope:
    """Add an :class:`OutOfScope` entry (its key must not be a claim's)."""
    if entry.key in REGISTRY or entry.key in OUT_OF_SCOPE:
        raise ValueError(f"key {entry.key!r} is already registered")
    OUT_OF_SCOPE[entry.key] = entry
    return entry


def unknown_claim(key: str) -> str:
    """Why ``key`` names no registered claim, in one line: listed as out of scope (with the reason), or unknown
    (with the registered keys)."""
    if key in OUT_OF_SCOPE:
        return f"{key} is listed as out of scope, not a checked claim: {OUT_OF_SCOPE[key].reason}"
    return f"unknown claim {key!r}; registered claims: {', '.join(sorted(REGISTRY)) or '(none registered)'}"


def register(claim: Claim) -> Claim:
    """Add a claim to the registry (one line at the end of each claim module)."""
    if claim.key in REGISTRY or claim.key in OUT_OF_SCOPE:
        raise ValueError(f"claim {claim.key!r} is already registered")
    REGISTRY[claim.key] = claim
    return claim


def replace(obj: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` re-exported so claim modules can derive configurations."""
    return dataclasses.replace(obj, **changes)
