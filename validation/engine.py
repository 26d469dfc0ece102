"""The Monte Carlo engine: realizations of a claim's measurement, their samples and verdicts.

Realization ``k`` of a run seeded with ``seed`` is measured from ``randnet.realization_seed(seed, k)``
alone, so it is the same whatever the backend or the number of workers: every figure is
bit-for-bit reproducible from ``(config, seed)`` (each realization runs under a single-threaded BLAS:
:mod:`validation.realization`). Samples are stacked per quantity into arrays of
shape ``(R, cells...)`` and kept in frozen result objects (in the style of ``scipy.stats`` results)
that compute intervals on demand. With a :class:`~validation.store.Store`, each realization is saved
as soon as its result arrives, so an interrupted run loses nothing and resumes where it stopped; it is
keyed by :func:`validation.configs.result_digest` (the configuration, the measurement code, a plugin's source,
a dataset file's bytes), so nothing stale is ever read. A NaN or ±inf measurement on a configuration that meets
the claim's hypotheses is an error of that configuration (:func:`validation.realization.check_finite`).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from randnet.checks import check_int
from theorems.base import Claim, Hypothesis, check_run_mode

from .backends import execute
from .configs import config_digest, distinct_labels, group_by, result_digest
from .intervals import ConfidenceInterval, t_interval
from .realization import check_finite, check_realizations, get_claim, measure_realization  # noqa: F401 (API)
from .realization import realize as _realize
from .store import Store
from .verdicts import INCONCLUSIVE, Asymptotic, Judgement, Trend, interval_kind, judge, judge_asymptotic, judge_trend, \
    overall

DEFAULT_MAX_REALIZATIONS = 1024
"""The cap of :func:`run_until_decided` when none is given (``--max-realizations``)."""


@dataclass(frozen=True)
class ConfigResult:
    """The realizations of one claim on one configuration, and their verdicts.

    label          :func:`validation.configs.config_label`, made distinct among the claim's configurations
    samples        quantity -> read-only array ``(R, cells...)``, realization ``k`` in row ``k``
    comparisons, negative_controls   the :class:`~validation.verdicts.Judgement` of each at ``confidence``
    seconds        compute time summed over the realizations (also for realizations read from a store)
    computed       how many realizations this run computed (the others came from the store)
    """

    claim_key: str
    config: Any
    label: str
    digest: str
    seed: int
    samples: Mapping[str, np.ndarray]
    hypotheses: tuple[Hypothesis, ...]
    comparisons: tuple[Judgement, ...]
    negative_controls: tuple[Judgement, ...]
    reported: tuple[str, ...]
    confidence: float
    seconds: float
    computed: int

    @property
    def realizations(self) -> int:
        return len(next(iter(self.samples.values())))

    @property
    def unmet(self) -> tuple[Hypothesis, ...]:
        return tuple(h for h in self.hypotheses if not h.met)

    @property
    def verdict(self) -> str:
        return overall([j.verdict for j in self.comparisons])

    @property
    def negative_controls_rejected(self) -> bool:
        return all(j.rejected for j in self.negative_controls)

    def mean(self, quantity: str) -> np.ndarray:
        """Mean over realizations, per cell."""
        return self.samples[quantity].mean(axis=0)

    def confidence_interval(self, quantity: str, level: float = 0.95) -> ConfidenceInterval:
        """Pointwise Student-t interval for the mean of ``quantity``, per cell."""
        return t_interval(self.samples[quantity], level)


@dataclass(frozen=True)
class ClaimResult:
    """A claim run on all its configurations (and, for a claim with a sweep, the trends and their overall verdicts).

    asymptotic     per trend, the overall verdict of SPEC §5 (:func:`validation.verdicts.judge_asymptotic`)
    limits         configuration label -> the claim's quantities at infinite width (``Claim.limit``), where computed
    """

    claim: Claim
    results: tuple[ConfigResult, ...]
    trends: tuple[Trend, ...]
    mode: str
    seed: int
    confidence: float
    seconds: float
    asymptotic: tuple[Asymptotic, ...] = ()
    limits: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=lambda: MappingProxyType({}))
    batches: tuple[int, ...] = ()
    """With :func:`run_until_decided`: the numbers of realizations run, batch after batch (the last is this
    result's)."""
    max_realizations: int | None = None

    @property
    def undecided(self) -> tuple[Judgement, ...]:
        """The INCONCLUSIVE judgements that more realizations may decide without inflating the error: those read
        from a betting confidence sequence, on configurations that meet the hypotheses (comparisons and negative
        controls)."""
        return tuple(j for r in self.results if not r.unmet for j in (*r.comparisons, *r.negative_controls)
                     if j.measured_verdict == INCONCLUSIVE and interval_kind(j.comparison) == "betting")

    @property
    def verdict(self) -> str:
        """The asymptotic verdicts for a claim with a sweep (SPEC §5), else those of the configurations."""
        if self.claim.sweep and self.asymptotic:
            return overall([a.verdict for a in self.asymptotic])
        return overall([r.verdict for r in self.results])

    @property
    def negative_controls_rejected(self) -> bool:
        return all(r.negative_controls_rejected for r in self.results)


def _stack(claim_key: str, label: str, rows: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stack realizations per quantity into read-only ``(R, cells...)`` arrays, checking names and shapes agree."""
    names = list(rows[0])
    out = {}
    for name in names:
        shapes = {np.shape(r.get(name)) if name in r else None for r in rows}
        if len(shapes) != 1 or None in shapes:
            raise ValueError(f"claim {claim_key} ({label}): quantity {name!r} has shapes {sorted(map(str, shapes))} "
                             "across realizations; every realization must measure the same cells")
        a = np.stack([r[name] for r in rows])
        a.flags.writeable = False
        out[name] = a
    extra = set().union(*rows) - set(names)
    if extra:
        raise ValueError(f"claim {claim_key} ({label}): quantities {sorted(extra)} missing from some realizations")
    return out


def _judge_config(claim: Claim, config: Any, label: str, digest: str, seed: int, rows, seconds: float,
                  computed: int, confidence: float) -> ConfigResult:
    samples = _stack(claim.key, label, rows)
    hypotheses = tuple(claim.hypotheses(config))
    unmet = tuple(h for h in hypotheses if not h.met)
    if not unmet:  # where a hypothesis is broken, quantities may be undefined (NaN): the verdict is UNMET anyway
        check_finite(claim, config, label, samples)

    def judged(comparisons, negative):
        out = []
        for c in comparisons:
            if c.quantity not in samples:
                raise ValueError(f"claim {claim.key} ({label}): comparison {c.label!r} needs quantity {c.quantity!r}, "
                                 f"but measure() returned only {sorted(samples)}")
            out.append(judge(c, samples[c.quantity], unmet, confidence, negative_control=negative))
        return tuple(out)

    comparisons = judged(claim.comparisons(config), False)
    if not comparisons:
        raise ValueError(f"claim {claim.key} ({label}) declares no comparison: nothing to judge")
    missing = [q for q in claim.reported if q not in samples]
    if missing:
        raise ValueError(f"claim {claim.key} ({label}): reported quantities {missing} were not measured")
    return ConfigResult(claim_key=claim.key, config=config, label=label, digest=digest, seed=seed,
                        samples=MappingProxyType(samples), hypotheses=hypotheses, comparisons=comparisons,
                        negative_controls=judged(claim.negative_controls(config), True),
                        reported=tuple(claim.reported), confidence=confidence, seconds=seconds, computed=computed)


def _limits(claim: Claim, results: Sequence[ConfigResult]) -> Mapping[str, Mapping[str, np.ndarray]]:
    """Configuration label -> ``claim.limit(config)`` (read-only arrays), for the configurations that have one."""
    if claim.limit is None:
        return MappingProxyType({})
    out = {}
    for r in results:
        lim = claim.limit(r.config)
        if lim is not None:
            out[r.label] = MappingProxyType({q: np.asarray(v, dtype=float) for q, v in lim.items()})
    return MappingProxyType(out)


def _trends(claim: Claim, results: Sequence[ConfigResult], confidence: float, seed: int,
            limits: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[tuple[Trend, ...], tuple[Asymptotic, ...]]:
    """Per group of configurations that differ only in ``claim.sweep`` and per comparison: the trend, and the
    overall verdict that combines it with the widest configuration's cells and the limit."""
    if not claim.sweep:
        return (), ()
    for r in results:
        if not hasattr(r.config, claim.sweep):
            raise ValueError(f"claim {r.claim_key} sweeps {claim.sweep!r}, but configuration {r.label} has no such "
                             "attribute")
    trends, asymptotic = [], []
    for fixed, rs in group_by(results, claim.sweep, lambda r: r.config):
        if len({getattr(r.config, claim.sweep) for r in rs}) < 2:
            continue  # nothing swept in this group
        labels = [j.comparison.label for j in rs[0].comparisons]
        for label in labels:
            picked = [(r, next((j for j in r.comparisons if j.comparison.label == label), None)) for r in rs]
            if any(j is None for _, j in picked):
                continue
            t = judge_trend(claim.sweep, [getattr(r.config, claim.sweep) for r, _ in picked], [j for _, j in picked],
                            [r.samples[j.comparison.quantity] for r, j in picked], confidence, fixed=fixed, seed=seed)
            widest, j = max(picked, key=lambda p: float(getattr(p[0].config, claim.sweep)))
            trends.append(t)
            asymptotic.append(judge_asymptotic(t, j, limits.get(widest.label, {}).get(j.comparison.quantity)))
    return tuple(trends), tuple(asymptotic)


def run_claim(claim: Claim | str, configs: Iterable[Any] | None = None, realizations: int | None = None, seed: int = 0,
              mode: str = "quick", backend: str = "joblib", jobs: int = 1, store: Store | str | None = None,
              progress: bool = True, confidence: float = 0.95) -> ClaimResult:
    """Run ``realizations`` realizations of ``claim`` on each configuration and judge them.

    configs        default ``claim.configs(mode)``; realizations default ``claim.realizations[mode]``
    backend, jobs  where realizations run (:func:`validation.backends.execute`); results never depend on them
    store          a :class:`Store` or folder: realizations found there are read, new ones written there

    A claim that shares another's realizations (:attr:`theorems.base.Claim.shares_realizations`, e.g. FIG5 those of
    FIG2) measures and stores under that claim's key, so with a store the second of the two computes nothing.
    """
    if isinstance(claim, str):
        claim = get_claim(claim)
    check_run_mode(mode)
    configs = tuple(claim.configs(mode) if configs is None else configs)
    if not configs:
        raise ValueError(f"claim {claim.key}: no configuration to run")
    n = claim.realizations[mode] if realizations is None else realizations
    check_realizations(n)
    check_int("seed", seed, 0)
    if isinstance(store, (str, bytes)) or hasattr(store, "__fspath__"):
        store = Store(store)
    measured_as = claim.measured_as  # a claim that shares another's realizations measures and stores as that one
    if get_claim(measured_as).measure is not claim.measure:
        raise ValueError(f"claim {claim.key} shares the realizations of {measured_as}, but measures with another "
                         "function")
    start = time.perf_counter()
    digests = [config_digest(c) for c in configs]
    keys = [result_digest(c) for c in configs]  # the store's key: the configuration and what determines its result
    rows: dict[tuple[int, int], tuple[dict, float]] = {}
    tasks, where = [], []
    for i, (config, digest) in enumerate(zip(configs, digests)):
        for k in range(n):
            hit = store.load(measured_as, keys[i], seed, k) if store is not None else None
            if hit is not None:
                rows[i, k] = hit
            else:
                tasks.append((measured_as, config, seed, k))
                where.append((i, k))

    def keep(t: int, out: tuple[dict[str, np.ndarray], float]) -> None:
        """Store each realization as soon as it arrives, so an interruption loses nothing computed."""
        i, k = where[t]
        rows[i, k] = out
        if store is not None:
            store.save(measured_as, keys[i], seed, k, *out)

    execute(_realize, tasks, backend=backend, jobs=jobs, progress=progress, desc=claim.key, on_result=keep)
    results = []
    for i, (config, label, digest) in enumerate(zip(configs, distinct_labels(configs), digests)):
        got = [rows[i, k] for k in range(n)]
        results.append(_judge_config(claim, config, label, digest, seed, [v for v, _ in got],
                                     sum(s for _, s in got), sum(1 for j, _ in where if j == i), confidence))
    results = tuple(results)
    limits = _limits(claim, results)
    trends, asymptotic = _trends(claim, results, confidence, seed, limits)
    return ClaimResult(claim=claim, results=results, trends=trends, mode=mode, seed=seed, confidence=confidence,
                       seconds=time.perf_counter() - start, asymptotic=asymptotic, limits=limits)


def run_until_decided(claim: Claim | str, configs: Iterable[Any] | None = None, realizations: int | None = None, *,
                      max_realizations: int = DEFAULT_MAX_REALIZATIONS, store: Store | str, mode: str = "quick",
                      **options: Any) -> ClaimResult:
    """:func:`run_claim` in batches until no judgement is :attr:`ClaimResult.undecided` or ``max_realizations``.

    The first batch has ``realizations`` (default the claim's), each next one doubles the total (capped); every
    batch reads the earlier realizations from ``store`` (realization ``k`` keeps its seed) and computes only the
    new ones. Valid because the judgements it waits for are read from confidence sequences (valid at every number
    of realizations, hence at this data-dependent one); INCONCLUSIVE verdicts of Student-t or Clopper–Pearson
    intervals do not make it add realizations (they are not confidence sequences) and are reported as they are.
    ``options``: those of :func:`run_claim`. The result records the ``batches``.
    """
    if isinstance(claim, str):
        claim = get_claim(claim)
    check_run_mode(mode)
    n = claim.realizations[mode] if realizations is None else realizations
    check_realizations(n)
    check_realizations(max_realizations)
    if max_realizations < n:
        raise ValueError(f"the cap of {max_realizations} realizations is below the first batch's {n}")
    if store is None:
        raise ValueError("running until decided needs a results store (each batch reads the earlier ones)")
    configs = None if configs is None else tuple(configs)
    batches, start = [], time.perf_counter()
    while True:
        result = run_claim(claim, configs, n, mode=mode, store=store, **options)
        batches.append(n)
        if not result.undecided or n >= max_realizations:
            break
        n = min(2 * n, max_realizations)
    return dataclasses.replace(result, batches=tuple(batches), max_realizations=max_realizations,
                               seconds=time.perf_counter() - start)
