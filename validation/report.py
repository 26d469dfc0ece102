"""Report writers: ``REPORT.md``, ``results.json`` and the plots' PNGs in one folder.

:class:`Report` is written incrementally: every :meth:`Report.add` (a claim's results) or
:meth:`Report.add_error` (a claim that failed to run) rewrites both files atomically (temporary
file, then ``os.replace``), so a failure in a later claim keeps everything already computed, and
the failure itself is recorded (:mod:`validation.runner` writes it in a staging folder and publishes it only when
every claim ran: the last good report is kept). ``results.json`` holds everything needed to redraw the plots:
per-cell means, interval bounds, ranges, the raw samples when small, configurations, seed, package
versions, timings and machine information.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .engine import ClaimResult, ConfigResult
from .store import replace_atomically
from .power import POWER, poor_power
from .verdicts import FAIL, INCONCLUSIVE, PASS, UNMET, Asymptotic, Judgement, Trend, combine, interval_kind

PACKAGES = ("numpy", "numba", "scipy", "torch", "randnet", "matplotlib", "joblib")
MAX_SAMPLE_VALUES = 2_000  # raw samples of a quantity are kept in results.json up to this many values
MAX_TABLE_ROWS = 10


def versions() -> dict[str, str]:
    """Installed versions of the packages the results depend on (and Python's)."""
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
            "cpus": os.cpu_count()}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _arr(a: np.ndarray) -> Any:
    """Nested lists (or a number) with None for NaN and ±inf."""
    a = np.asarray(a, dtype=float)
    return np.where(np.isfinite(a), a, None).tolist()


def quantity_summary(r: ConfigResult, name: str) -> dict:
    """Per-cell mean, pointwise 95% t-interval, std, range, and the raw samples when small."""
    x = r.samples[name]
    ci = r.confidence_interval(name, 0.95)
    out = {"shape": list(x.shape), "mean": _arr(x.mean(axis=0)), "low": _arr(ci.low), "high": _arr(ci.high),
           "std": _arr(x.std(axis=0, ddof=1)) if len(x) > 1 else None, "min": _arr(x.min(axis=0)),
           "max": _arr(x.max(axis=0)), "interval": "pointwise 95% Student-t"}
    out["samples"] = _arr(x) if x.size <= MAX_SAMPLE_VALUES else f"omitted ({x.size} values)"
    return out


def config_entry(r: ConfigResult) -> dict:
    return {
        "label": r.label, "config": json.loads(json.dumps(r.config.describe(), default=str)), "digest": r.digest,
        "seed": r.seed, "realizations": r.realizations, "computed": r.computed, "seconds": r.seconds,
        "hypotheses": [{"name": h.name, "met": h.met, "why": h.why} for h in r.hypotheses], "verdict": r.verdict,
        "negative_controls_rejected": r.negative_controls_rejected if r.negative_controls else None,
        "quantities": {q: quantity_summary(r, q) for q in r.samples},
        "comparisons": [j.describe() for j in r.comparisons],
        "negative_controls": [j.describe() for j in r.negative_controls],
    }


# -- Markdown ------------------------------------------------------------------------------------------
def fmt(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.4g}"


def _bound(j: Judgement, i: int) -> str:
    c = j.comparison
    p = j.prediction[i]
    tol = f" ± {fmt(c.tolerance)}" if c.tolerance else ""
    if c.mode == "probability":
        return f"P[{c.quantity} {c.relation} {fmt(p)}{tol}] ≥ {fmt(c.level)}"
    return f"{c.relation} {fmt(p)}{tol}"


def _measured(j: Judgement, i: int) -> str:
    c = j.comparison
    if c.mode == "mean":
        return f"{fmt(j.estimate[i])} [{fmt(j.low[i])}, {fmt(j.high[i])}]"
    if c.mode == "exact":
        worst = f"max \\|x − pred\\| {fmt(j.margin[i] + c.tolerance)}, " if c.relation == "==" else ""
        return f"{worst}range [{fmt(j.low[i])}, {fmt(j.high[i])}]"
    return f"{round(j.estimate[i] * j.realizations)}/{j.realizations} [{fmt(j.low[i])}, {fmt(j.high[i])}]"


def verdict_text(verdict: str, measured: str | None = None, more: int | None = None) -> str:
    """The verdict in bold, with the data's own verdict under HYPOTHESIS NOT MET and, when undecided,
    the number of realizations that would likely decide it."""
    v = f"**{verdict}**"
    if verdict == UNMET and measured:
        v += f" (data alone: {measured})"
    if (measured or verdict) == INCONCLUSIVE:
        v += f" (≈{more} realizations would decide)" if more else ""
    return v


def _verdict(j: Judgement | Trend) -> str:
    if isinstance(j, Judgement) and j.measured_verdict == INCONCLUSIVE and j.more_realizations is None:
        return verdict_text(j.verdict, j.measured_verdict) + " (how many realizations would decide: not estimable)"
    return verdict_text(j.verdict, j.measured_verdict, getattr(j, "more_realizations", None)) + \
        (power_text(j) if isinstance(j, Judgement) and j.verdict == PASS else "")


def power_text(j: Judgement) -> str:
    """What a PASS could have detected (:mod:`validation.power`): "cannot detect a violation smaller than …" when
    its power is poor, else the smallest violation it detects; nothing for exact comparisons."""
    if j.detectable is None:
        return ""
    what = "a shortfall of the probability" if j.comparison.mode == "probability" else "a violation"
    if poor_power(j.detectable, j.prediction, j.comparison.tolerance):
        return f" — cannot detect {what} smaller than {fmt(j.detectable)}"
    return f" (detects {what} ≥ {fmt(j.detectable)} with probability {POWER:g})"


def until_decided_text(result: ClaimResult) -> str:
    """How many realizations ``--until-decided`` ran, batch after batch, and what it left undecided."""
    text = f"{' → '.join(map(str, result.batches))} realizations per configuration"
    left = len(result.undecided)
    text += (f": {left} confidence-sequence verdict(s) still INCONCLUSIVE at the cap of {result.max_realizations}"
             if left else ": every confidence-sequence verdict decided")
    other = sum(j.measured_verdict == INCONCLUSIVE and interval_kind(j.comparison) != "betting"
                for r in result.results if not r.unmet for j in (*r.comparisons, *r.negative_controls))
    if other:
        text += (f"; {other} INCONCLUSIVE verdict(s) of Student-t or Clopper–Pearson intervals, which are not "
                 "confidence sequences, did not make it add realizations")
    return text


def negative_text(r: ConfigResult) -> str:
    if not r.negative_controls:
        return "none declared"
    bad = [j.comparison.label for j in r.negative_controls if not j.rejected]
    n = len(r.negative_controls)
    return f"rejected ({n}/{n})" if not bad else f"**NOT rejected**: {'; '.join(bad)} ({n - len(bad)}/{n} rejected)"


def _cell(j: Judgement, i: int) -> str:
    return f"{j.comparison.cell_name} {j.cells[i]}" if len(j.cells) > 1 else ""


def _esc(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def short_rows(j: Judgement) -> list[int]:
    """At most about :data:`MAX_TABLE_ROWS` cells: the first and last, the worst, the first failing, evenly spaced."""
    n = len(j.cells)
    if n <= MAX_TABLE_ROWS:
        return list(range(n))
    keep = set(np.linspace(0, n - 1, MAX_TABLE_ROWS - 2).round().astype(int).tolist()) | {j.worst}
    if FAIL in j.cell_verdicts:
        keep.add(j.cell_verdicts.index(FAIL))
    return sorted(keep)


def cell_table(j: Judgement) -> list[str]:
    c = j.comparison
    lines = [f"| {c.cell_name} | prediction | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {j.cells[i]} | {_esc(_bound(j, i))} | {_measured(j, i)} | {j.cell_verdicts[i]} |"
              for i in short_rows(j)]
    if len(short_rows(j)) < len(j.cells):
        lines.append(f"\n({len(short_rows(j))} of {len(j.cells)} cells shown; all are in results.json)")
    return lines


def judgement_lines(j: Judgement) -> list[str]:
    c = j.comparison
    kind = {"betting": f", betting interval on [{fmt(c.bounds[0])}, {fmt(c.bounds[1])}]" if c.bounds else "",
            "t": ", Student-t"}.get(j.interval, "")
    head = (f"- **{_esc(c.label)}** (`{c.quantity}`, {c.mode}{kind}, δ = {fmt(c.tolerance)}): {_verdict(j)}"
            if not j.negative_control else
            f"- **{_esc(c.label)}** (`{c.quantity}`, {c.mode}): {'rejected' if j.rejected else '**NOT rejected**'} "
            f"(verdict {j.measured_verdict}; worst {c.cell_name} {j.cells[j.worst]}: {_measured(j, j.worst)} vs "
            f"{_esc(_bound(j, j.worst))})")
    lines = [head]
    if j.note:
        lines.append(f"  - note: {j.note}")
    if j.negative_control:
        return lines
    if c.mode == "exact" and j.measured_verdict == PASS:  # every realization in every cell: the worst says it all
        return lines + [f"  - every {c.cell_name} and realization within the region; worst {c.cell_name} "
                        f"{j.cells[j.worst]}: {_measured(j, j.worst)} vs {_esc(_bound(j, j.worst))}", ""]
    return lines + ["", *cell_table(j), ""]


def trend_lines(t: Trend) -> list[str]:
    group = f", {_esc(t.fixed)}" if t.fixed else ""
    lines = [f"- **{_esc(t.label)}**{group}: {_verdict(t)} — mean worst-cell excess over the prediction "
             f"({round(100 * t.confidence)}% t-intervals) against {t.sweep}; "
             f"excess({t.values[0]}) − excess({t.values[-1]}) = {fmt(t.difference)} "
             f"[{fmt(t.difference_low)}, {fmt(t.difference_high)}]; slope {fmt(t.slope)} "
             f"[{fmt(t.slope_low)}, {fmt(t.slope_high)}] ({t.slope_method}, bootstrap)", "",
             f"| {t.sweep} | excess | interval | first {t.cell_name} not PASS (crossing) | first {t.cell_name} FAIL |",
             "|---|---|---|---|---|"]
    lines += [f"| {v} | {fmt(e)} | [{fmt(lo)}, {fmt(hi)}] | {'none' if c is None else c} | {'none' if f is None else f} |"
              for v, e, lo, hi, c, f in zip(t.values, t.excess, t.low, t.high, t.first_not_passing, t.first_failing)]
    return lines + [""]


def limit_text(a: Asymptotic) -> str:
    """The verdict of the infinite-width limit on the claim's region (deterministic), in words."""
    if a.limit_cells is None:
        return "not computed (no exact limit for this configuration, or over its memory budget)"
    bad = [c for c, v in zip(a.cells, a.limit_cells) if v != PASS]
    name = a.trend.cell_name
    more = " …" if len(bad) > 8 else ""
    return f"PASS (every {name})" if not bad else f"FAIL ({name} {', '.join(map(str, bad[:8]))}{more})"


def widest_text(a: Asymptotic) -> str:
    """The widest configuration's verdict, and how far it certifies the claim."""
    v, name = combine(a.widest_cells), a.trend.cell_name
    upto = "no " + name if a.certified is None else f"every {name} up to {a.certified}"
    return f"{a.sweep} = {a.widest}: {v} (PASSes {upto})"


def crossing_text(a: Asymptotic) -> str:
    return ", ".join(f"{v}: {'none' if c is None else c}" for v, c in zip(a.trend.values, a.crossing))


def asymptotic_lines(a: Asymptotic) -> list[str]:
    """The overall verdict of one comparison of an asymptotic claim (SPEC §5) and what it rests on."""
    group = f", {_esc(a.fixed)}" if a.fixed else ""
    decide = f"; {a.decide}" if a.decide else ""
    return [f"- **{_esc(a.label)}**{group}: {verdict_text(a.verdict, a.measured_verdict)} — {_esc(a.reason)}{decide}",
            f"  - widest finite width: {widest_text(a)}",
            f"  - at C = ∞ (SPEC §8): {limit_text(a)}",
            f"  - trend of the excess over {a.sweep}: {a.trend.measured_verdict}",
            f"  - crossing {a.trend.cell_name} (first not PASS) per {a.sweep}: {crossing_text(a)}", ""]


class Report:
    """An incrementally written report folder (see the module docstring)."""

    def __init__(self, out_dir: str | os.PathLike, *, mode: str, seed: int, command: Sequence[str] = (),
                 confidence: float = 0.95) -> None:
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.header = {"generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "command": " ".join(command), "mode": mode, "seed": seed, "confidence": confidence,
                       "correction": "bonferroni over the cells of each comparison", "versions": versions(),
                       "machine": machine()}
        self.claims: list[dict] = []
        self.sections: list[list[str]] = []
        self.summary: list[str] = []
        self.needed: list[str] = []

    # -- adding ----------------------------------------------------------------------------------------
    def add(self, result: ClaimResult, plots: Sequence[Path] = (), plot_errors: Sequence[str] = ()) -> None:
        """Record one claim's results (and its plots) and rewrite the files."""
        claim = result.claim
        rel = [os.path.relpath(p, self.out) for p in plots]
        self.claims.append({
            "key": claim.key, "title": claim.title, "statement": claim.statement, "verdict": result.verdict,
            "negative_controls_rejected": result.negative_controls_rejected, "sweep": claim.sweep,
            "mode": result.mode, "seed": result.seed, "seconds": result.seconds,
            "compute_seconds": sum(r.seconds for r in result.results), "plots": rel, "plot_errors": list(plot_errors),
            "error": None, "configs": [config_entry(r) for r in result.results],
            "trends": [t.describe() for t in result.trends],
            "asymptotic": [a.describe() for a in result.asymptotic],
            "until_decided": None if not result.batches else {
                "batches": list(result.batches), "max_realizations": result.max_realizations,
                "undecided": len(result.undecided), "text": until_decided_text(result)},
        })
        self.summary += self._summary_rows(result)
        if result.batches:
            self.needed.append(f"- {claim.key}: {until_decided_text(result)}")
        self.sections.append(self._section(result, rel, plot_errors))
        self.write()

    def add_out_of_scope(self, entry) -> None:
        """List a statement that is not checked (:class:`theorems.base.OutOfScope`) and rewrite the files."""
        self.claims.append({"key": entry.key, "title": entry.title, "verdict": "OUT OF SCOPE", "reason": entry.reason,
                            "configs": [], "trends": []})
        self.summary.append(f"| {entry.key} | — | — | — | **OUT OF SCOPE (not checked)** | — |")
        self.sections.append([f"## {entry.key} — {_esc(entry.title)}", "",
                              f"**OUT OF SCOPE — not a checked claim.** {_esc(entry.reason)}", ""])
        self.write()

    def add_error(self, key: str, title: str, error: BaseException | str, verdict: str = "ERROR") -> None:
        """Record that claim ``key`` failed to run, with the error (or a text saying what happened), and rewrite the
        files. ``verdict`` :data:`~validation.verdicts.UNMET`: it could not be computed because its configuration
        breaks a hypothesis (the error says which)."""
        text = str(error) if verdict == UNMET or isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.claims.append({"key": key, "title": title, "verdict": verdict, "error": text, "configs": [],
                            "trends": []})
        self.summary.append(f"| {key} | — | — | — | **{verdict}** | — |")
        what = "while running" if verdict != UNMET else "— nothing could be computed"
        self.sections.append([f"## {key} — {_esc(title)}", "", f"**{verdict}** {what}: `{_esc(text)}`", ""])
        self.write()

    # -- rendering -------------------------------------------------------------------------------------
    def _summary_rows(self, result: ClaimResult) -> list[str]:
        rows = []
        for r in result.results:
            neg = negative_text(r)
            for j in r.comparisons:
                w = j.worst
                q = f"`{j.comparison.quantity}` {_cell(j, w)}".strip()
                rows.append(f"| {result.claim.key} | {_esc(r.label)} | {q}: {_measured(j, w)} | "
                            f"{_esc(_bound(j, w))} | {_verdict(j)} | {neg} |")
                neg = "″"
        for t in result.trends:
            group = f": {_esc(t.fixed)}" if t.fixed else ""
            rows.append(f"| {result.claim.key} | trend over {t.sweep}{group}: {_esc(t.label)} | excess {fmt(t.excess[0])} → "
                        f"{fmt(t.excess[-1])} (slope {fmt(t.slope)}) | shrinks as {t.sweep} grows | {_verdict(t)} | |")
        for a in result.asymptotic:
            group = f": {_esc(a.fixed)}" if a.fixed else ""
            rows.append(f"| {result.claim.key} | overall over {a.sweep}{group} (SPEC §5): {_esc(a.label)} | "
                        f"{_esc(widest_text(a))}; "
                        f"C = ∞: {_esc(limit_text(a))} | crossing per {a.sweep}: {_esc(crossing_text(a))} | "
                        f"{verdict_text(a.verdict, a.measured_verdict)} | |")
        return rows

    def _section(self, result: ClaimResult, plots: Sequence[str], plot_errors: Sequence[str]) -> list[str]:
        c = result.claim
        n = sum(r.realizations for r in result.results)
        lines = [f"## {c.key} — {_esc(c.title)}", "", c.statement, "",
                 f"Verdict: {verdict_text(result.verdict)}; negative controls "
                 f"{'all rejected' if result.negative_controls_rejected else '**NOT all rejected**'}. "
                 f"{len(result.results)} configuration(s), {n} realizations, {result.seconds:.1f} s wall "
                 f"({sum(r.seconds for r in result.results):.1f} s compute).", ""]
        if result.batches:
            lines += [f"Until decided: {until_decided_text(result)}.", ""]
        if c.sweep:
            if result.asymptotic:
                lines += [f"### Overall verdict over {c.sweep} (SPEC §5)", "",
                          *[ln for a in result.asymptotic for ln in asymptotic_lines(a)]]
            lines += [f"### Trend over {c.sweep}", "", *[ln for t in result.trends for ln in trend_lines(t)]]
            if not result.trends:
                lines += [f"(no group of configurations differing only in {c.sweep}: no trend judged)", ""]
        for r in result.results:
            lines += [f"### {_esc(r.label)}", "",
                      f"Verdict {verdict_text(r.verdict)}; {r.realizations} realizations (seed {r.seed}), "
                      f"{r.seconds:.1f} s compute, digest `{r.digest}`.", "", "Hypotheses:"]
            lines += [f"- {'✓' if h.met else '✗ NOT MET'} {_esc(h.name)}{': ' + _esc(h.why) if h.why else ''}"
                      for h in r.hypotheses] or ["- (none stated)"]
            lines += ["", "Comparisons:", ""]
            lines += [ln for j in r.comparisons for ln in judgement_lines(j)]
            lines += ["Negative controls (must be rejected):", ""]
            lines += [ln for j in r.negative_controls for ln in judgement_lines(j)] or ["- none declared"]
            for q in r.reported:
                ci = r.confidence_interval(q)
                mean = r.mean(q).ravel()
                lo, hi = ci.low.ravel(), ci.high.ravel()
                idx = np.unique(np.linspace(0, mean.size - 1, min(mean.size, MAX_TABLE_ROWS)).round().astype(int))
                lines += ["", f"Reported `{q}` (mean, pointwise 95% t-interval): " +
                          ", ".join(f"[{i}] {fmt(mean[i])} [{fmt(lo[i])}, {fmt(hi[i])}]" for i in idx)]
            lines.append("")
        for e in plot_errors:
            lines += [f"Plot error: `{_esc(e)}`", ""]
        lines += [f"![{Path(p).stem}]({p})" for p in plots] + [""]
        return lines

    def markdown(self) -> str:
        h = self.header
        v = ", ".join(f"{k} {val}" for k, val in h["versions"].items())
        lines = [
            "# Verification report", "",
            f"Generated {h['generated']} by `{h['command'] or 'validation.report'}` — mode **{h['mode']}**, seed "
            f"{h['seed']}. Versions: {v}. Machine: {h['machine']['platform']}, {h['machine']['cpus']} CPUs.", "",
            f"How to read: intervals are {round(100 * h['confidence'])}% and simultaneous over the cells (layers) of "
            f"each comparison (Bonferroni: each cell at level 1 − {1 - h['confidence']:.3g}/m). Means of quantities "
            "with declared bounds (power fractions in [0, 1]) get the betting confidence sequence of Waudby-Smith & Ramdas "
            "(2020), whose coverage holds for any distribution on the range and at every number of realizations; "
            "other means Student-t; Clopper–Pearson for probabilities, range over realizations for deterministic "
            f"(exact) claims. Beside a PASS: the smallest violation of the bound the check would FAIL with "
            f"probability {POWER:g} at its number of realizations. "
            "Asymptotic claims (a sweep) get an overall verdict that combines the widest configuration's cells, the "
            "infinite-width limit where it is computed, and the trend of the worst-cell excess over the prediction "
            "(per realization: max over cells of measured − prediction, or of |measured − prediction| for '=='), which "
            "must shrink from the smallest to the largest swept value (paired t-interval on the difference; the "
            "log-log slope comes with a percentile-bootstrap interval): FAIL if the excess grows or if the widest "
            "configuration FAILs a cell where the limit (if any) violates the bound too; PASS only if the excess "
            "shrinks and the widest configuration PASSes every cell up to the depth named; else INCONCLUSIVE, with "
            "the run that would decide. The trend alone never makes a PASS. "
            "PASS: the interval lies inside the claim's region "
            "(prediction ± δ); FAIL: outside; INCONCLUSIVE: it straddles the boundary; HYPOTHESIS NOT MET: the "
            "configuration breaks a hypothesis (never PASS). A negative control is a deliberately false claim: "
            "it must be *rejected*. Measured values in the summary are at the worst cell.", "",
            "## Summary", "",
            "| claim | configuration | measured (worst cell) | prediction / bound | verdict | negative controls |",
            "|---|---|---|---|---|---|", *self.summary, "",
        ]
        if self.needed:
            lines += ["Realizations needed (`--until-decided`):", "", *self.needed, ""]
        for s in self.sections:
            lines += s
        return "\n".join(lines)

    def write(self) -> None:
        """Rewrite ``REPORT.md`` and ``results.json`` atomically."""
        data = {**self.header, "claims": self.claims}
        write_atomic(self.out / "results.json", json.dumps(data, separators=(",", ":"), allow_nan=False, default=str))
        write_atomic(self.out / "REPORT.md", self.markdown())
