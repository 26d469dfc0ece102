"""Claims as assertions in your own test suite: :func:`assert_claim`.

::

    from validation.testing import assert_claim

    def test_my_norm_keeps_unit_power():
        assert_claim("P1", norm="mypkg.norms:my_norm", require_hypotheses=False, realizations=4, seed=0)

:func:`assert_claim` runs a claim's default configurations (``quick`` mode by default) with your normalization
(and any other override) through the same engine as ``randnet-check run``, and raises ``AssertionError`` —
its message holds the verdict table of the report — unless the claim's verdict is ``expect`` and, for an
expected PASS, every negative control was rejected. The pytest plugin :mod:`validation.pytest_plugin` wraps it
in a fixture and a marker.

Why here and not in ``randnet``: imports run one way, ``randnet`` → ``theorems`` → ``validation``, and this
runs the engine of ``validation`` on the claims of ``theorems``; ``randnet`` (the mathematics) imports neither.
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from theorems.base import REGISTRY, Claim, Hypothesis, unknown_claim

from .configs import config_label, override, unique
from .engine import ClaimResult, run_claim
from .report import Report
from .verdicts import FAIL, INCONCLUSIVE, PASS, UNMET

VERDICTS = (PASS, FAIL, INCONCLUSIVE, UNMET)


def claim_configs(claim: Claim, mode: str = "quick", norm: str | None = None, configs: Iterable[Any] | None = None,
                  **overrides: Any) -> list[Any]:
    """The configurations :func:`assert_claim` runs: ``configs`` (default ``claim.configs(mode)``) with
    ``norm`` and ``overrides`` set by :func:`validation.configs.override` (the rule of the command line's
    options), repeats dropped.

    ``norm`` applies to configurations that have a ``norm`` of their own (a :class:`randnet.NetConfig`); for
    others (a panel of norms, a claim's own dataclass) it is an error that names their fields. An override that
    applies to no field of a configuration is an error too: nothing is silently ignored.
    """
    configs = list(claim.configs(mode) if configs is None else configs)
    if not configs:
        raise ValueError(f"claim {claim.key}: no configuration to run")
    changes = dict(overrides)
    if norm is not None:
        for c in configs:
            fields = [f.name for f in dataclasses.fields(c)] if dataclasses.is_dataclass(c) else []
            if "norm" not in fields:
                raise ValueError(f"claim {claim.key}: configuration {config_label(c)!r} ({type(c).__name__}) has no "
                                 f"norm of its own; set one of its fields instead ({', '.join(fields) or 'none'})")
        changes["norm"] = norm
    out = []
    for c in configs:
        new, unused = override(c, changes)
        if unused:
            names = ", ".join(sorted({u.name for u in unused}))
            raise ValueError(f"claim {claim.key}: {names} do(es) not apply to configuration {config_label(c)!r} "
                             f"({type(c).__name__})")
        out.append(new)
    return unique(out)


def _judged_anyway(hypotheses: Callable[[Any], list[Hypothesis]]) -> Callable[[Any], list[Hypothesis]]:
    """The claim's hypotheses with the unmet ones marked met (and said so): the verdict is then the data's own."""
    def wrapped(config: Any) -> list[Hypothesis]:
        return [h if h.met else Hypothesis(h.name, True, f"NOT MET, judged anyway (require_hypotheses=False): {h.why}")
                for h in hypotheses(config)]
    return wrapped


def verdict_table(result: ClaimResult) -> str:
    """The report's summary table and the claim's section (``REPORT.md`` of :class:`validation.report.Report`)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Report(tmp, mode=result.mode, seed=result.seed, confidence=result.confidence)
        report.add(result)
        text = (Path(tmp) / "REPORT.md").read_text(encoding="utf-8")
    return text[text.index("## Summary"):].strip() if "## Summary" in text else text


def problems(result: ClaimResult, expect: str = PASS) -> list[str]:
    """Why ``result`` does not meet the expectation (empty: it does).

    The claim's verdict must be ``expect``; for ``expect="PASS"`` every negative control must also have been
    rejected (a PASS means something only if the deliberately false claims FAIL on the same data).
    """
    out = []
    if result.verdict != expect:
        out.append(f"verdict {result.verdict}, expected {expect}")
        for r in result.results:
            if r.unmet:
                out.append(f"hypotheses not met by {r.label}: " + "; ".join(f"{h.name} ({h.why})" for h in r.unmet))
        if result.verdict == UNMET:
            out.append("to judge the measurement anyway pass require_hypotheses=False; to assert that the "
                       f"configuration breaks a hypothesis pass expect={UNMET!r}")
    if expect == PASS:
        for r in result.results:
            bad = [j.comparison.label for j in r.negative_controls if not j.rejected]
            if bad:
                out.append(f"negative control(s) not rejected on {r.label}: {'; '.join(bad)}")
    return out


def assert_claim(claim: str | Claim, norm: str | None = None, *, expect: str = PASS, require_hypotheses: bool = True,
                 realizations: int | None = None, seed: int = 0, mode: str = "quick",
                 configs: Iterable[Any] | None = None, backend: str = "serial", jobs: int = 1, store: Any = None,
                 **overrides: Any) -> ClaimResult:
    """Run ``claim`` and raise ``AssertionError`` with its verdict table unless its verdict is ``expect``.

    claim               a registered claim: its key (``"P1"``; see ``randnet-check list``) or the
                        :class:`theorems.base.Claim`
    norm                your normalization, ``"package.module:function"`` (importable, optionally ``+pn`` /
                        ``+ws``; see :mod:`randnet.plugins`), or a built-in one (``"gn"``, ``"ln+pn"``)
    expect              ``"PASS"`` (default), ``"FAIL"``, ``"INCONCLUSIVE"`` or ``"HYPOTHESIS NOT MET"``
    require_hypotheses  True: a configuration that breaks one of the claim's hypotheses (e.g. P1 is stated for
                        bn, ln, in, gn — your norm is none of them) gives HYPOTHESIS NOT MET, which fails an
                        expected PASS with a message saying which; False: judge the measurement anyway (the
                        verdict is the one the data alone give; the table marks the hypotheses it ignored)
    realizations, seed, mode   as for ``randnet-check run`` (default: the claim's quick realizations, seed 0)
    configs, overrides  the configurations (default ``claim.configs(mode)``) and attributes set on each by the
                        command line's rule, e.g. ``widths=16, depth=4`` (:func:`claim_configs`)
    backend, jobs, store   where realizations run and a results store folder (default: serial, none)

    Returns the :class:`validation.engine.ClaimResult` (samples, judgements) for further checks.
    """
    if expect not in VERDICTS:
        raise ValueError(f"expect must be one of {', '.join(map(repr, VERDICTS))}, got {expect!r}")
    if expect == UNMET and not require_hypotheses:
        raise ValueError(f"expect={UNMET!r} needs require_hypotheses=True (with False, hypotheses are not judged)")
    key = claim.key if isinstance(claim, Claim) else claim
    if key not in REGISTRY:  # the engine's workers find a claim's measurement in the registry
        raise ValueError(unknown_claim(key))
    claim = REGISTRY[key]
    runs = claim_configs(claim, mode, norm, configs, **overrides)
    judged = claim if require_hypotheses else dataclasses.replace(claim, hypotheses=_judged_anyway(claim.hypotheses))
    result = run_claim(judged, runs, realizations, seed=seed, mode=mode, backend=backend, jobs=jobs, store=store,
                       progress=False)
    wrong = problems(result, expect)
    if wrong:
        what = f"claim {claim.key}" + (f" with norm {norm!r}" if norm is not None else "")
        raise AssertionError(f"{what}: " + "; ".join(wrong) + "\n\n" + verdict_table(result))
    return result
