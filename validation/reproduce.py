"""``randnet-check reproduce paper``: Fig. 2 (top row) and Fig. 5 of the Proxy Norm paper at its own configuration.

One panel of ``bn, in, ln, gn, ln+pn, ln+ws`` (:func:`theorems._panels.paper_panel`: ReLU, ``C = 1024``, ``K = 3``,
``β ~ N(0, 0.2²)``, ``γ ~ N(1, 0.2²)``, float32, ``L = 50``, 128 natural 32×32 images with a stride-2 first conv,
GN with ``G = 32``) is run ``R`` times; FIG2 and FIG5 are judged on the same realizations (FIG5 shares FIG2's:
:attr:`theorems.base.Claim.shares_realizations`), which are kept in the resumable store ``OUT/.store``: an
interrupted run resumes where it stopped, and a finished one re-renders its report from the store in seconds
(``--report-only`` never computes).

``OUT`` receives ``REPORT.md`` (per figure: the PNG and a side-by-side table of the paper's sentences, quoted from
its text, against the measured quantity with its 95% interval and a verdict — :data:`STATEMENTS`), ``results.json``,
the figures, the wall time per figure and per realization beside the cost model's prediction
(:mod:`validation.cost`), the machine, the seed and the commit; ``OUT/claims/`` the engine's own report of FIG2 and
FIG5. The ``C = ∞`` curves of the infinite-width limit (SPEC §8) are drawn on the figures, computed on a documented
subset of the inputs (:func:`infinite_width_curves`).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

import randnet
from theorems import REGISTRY
from theorems._panels import PanelConfig, deep_layers, paper_panel
from theorems.base import Comparison

from .configs import result_digest
from .cost import estimate
from .engine import ClaimResult, ConfigResult
from .plots_proxy import plot_fig2, plot_fig5
from .report import machine, versions, write_atomic
from .runner import Task, run_and_report, writable_folder
from .store import Store
from .verdicts import Judgement, judge, overall

DEFAULT_REALIZATIONS = 16
"""The command's default (≈ an hour per figure on an idle 2-core machine); the paper used 50 (``--realizations 50``)."""
MIN_REALIZATIONS = 8
LIMIT_INPUTS = 8
"""Inputs of realization 0's dataset the infinite-width curves are computed on (its kernel has ``(N·H·W)²``
entries: 8 inputs at 16×16 maps are 4.2 M, the paper's 128 would be 1.07 G)."""
LIMIT_SPLIT_SAMPLES = 512
"""Gaussian channels a layer that split the exact limits' terms (3) and (4) (only their sum is a kernel moment)."""
EARLY, LATE = 5, 10
"""Fig. 5's rate of decay: initially, over layers ``1 … EARLY``; in very deep layers, over the last ``LATE``."""
HALF = 0.5
""""without incurring IN's failure mode": LN+PN keeps at least half of BN's instance variability (deep layers)."""
BN_IN_COLLAPSE = 0.01
"""BN and IN "not subject to channel-wise collapse": their deep term (1) at most 1% of the power."""


# -- the quantities the paper's sentences are about (per realization, from the panel's samples) ----------------
def deep_term(samples: Mapping[str, np.ndarray], norm: str, terms: Sequence[int]) -> np.ndarray:
    """``(R,)``: the sum of the power terms ``terms`` (0-based: 0 is (1) ``P(μ_c(y))``) of ``norm``'s ``y^l``,
    averaged over the deep layers ``l > L/2``."""
    p = samples[f"power_y[{norm}]"]
    return p[:, deep_layers(p.shape[1])][:, :, list(terms)].sum(axis=2).mean(axis=1)


def collapse(samples, norm):
    """Deep channel-wise collapse: term (1) ``P(μ_c(y^l))``."""
    return deep_term(samples, norm, (0,))


def variability(samples, norm):
    """Deep instance variability: terms (2) + (4), ``P(σ_c(μ_{x,c}(y))) + P(σ_c(σ_{x,c}(y)))``."""
    return deep_term(samples, norm, (1, 3))


def decay_rate(samples, first: int, last: int) -> np.ndarray:
    """``(R,)``: LN's mean contraction ``(f_last / f_first)^{1/(last − first)}`` of ``f_l = 1 − P(μ_c(y^l))``
    (1-based layers)."""
    f = samples["noncollapsed[ln]"]
    return (f[:, last - 1] / f[:, first - 1]) ** (1.0 / (last - first))


@dataclass(frozen=True)
class Statement:
    """A sentence of the paper and how it is checked: ``claim``'s comparison labelled ``label`` as it is, or, with
    ``derive``, the :class:`~theorems.base.Comparison` that ``comparison(config)`` builds on ``derive(samples, config)``
    (one value per realization)."""

    figure: str
    quote: str
    measured: str
    claim: str
    label: str | None = None
    derive: Callable[[Mapping[str, np.ndarray], Any], np.ndarray] | None = None
    comparison: Callable[[Any], Comparison] | None = None


def _cmp(relation: str, prediction, text: str) -> Callable[[Any], Comparison]:
    return lambda config: Comparison("derived", relation, prediction(config) if callable(prediction) else prediction,
                                     0.0, "mean", text)


def _early(config: PanelConfig) -> int:
    return min(EARLY, config.net.depth)


def _late(config: PanelConfig) -> int:
    return max(1, config.net.depth - LATE)


STATEMENTS = (
    Statement("Fig. 2", "the power plots of networks with LN+PN resemble the power plots of networks with BN",
              "d(rival, bn) − d(ln+pn, bn), rival = ln, gn (profile distances)", "FIG2",
              label="d(rival, bn) − d(ln+pn, bn) ≥ 0: ln+pn resembles bn more than the rival"),
    Statement("Fig. 2", "PN remedies LN's failure mode without incurring IN's failure mode (so LN+PN is closer to BN "
              "than IN is)", "d(in, bn) − d(ln+pn, bn) ≥ 0", "FIG2",
              derive=lambda s, c: s["distance[in]"][:, 0] - s["distance[ln+pn]"][:, 0],
              comparison=_cmp(">=", 0.0, "d(in, bn) − d(ln+pn, bn) ≥ 0")),
    Statement("Fig. 2", "networks with LN [...] are subject to channel-wise collapse as depth increases",
              "ln: deep term (1) − term (1) at l = 1 ≥ 0", "FIG2",
              derive=lambda s, c: collapse(s, "ln") - s["power_y[ln]"][:, 0, 0],
              comparison=_cmp(">=", 0.0, "collapse grows with depth")),
    Statement("Fig. 2", "networks with LN, and to a lesser extent GN, are subject to channel-wise collapse",
              "deep term (1): ln − gn ≥ 0", "FIG2", derive=lambda s, c: collapse(s, "ln") - collapse(s, "gn"),
              comparison=_cmp(">=", 0.0, "ln collapses more than gn")),
    Statement("Fig. 2", "unlike networks with BN and IN, networks with [...] GN [...] are subject to channel-wise "
              "collapse", "deep term (1): gn − max(bn, in) ≥ 0", "FIG2",
              derive=lambda s, c: collapse(s, "gn") - np.maximum(collapse(s, "bn"), collapse(s, "in")),
              comparison=_cmp(">=", 0.0, "gn collapses more than bn and in")),
    Statement("Fig. 2", "unlike networks with BN and IN [...] subject to channel-wise collapse",
              f"deep term (1): max(bn, in) ≤ {BN_IN_COLLAPSE:g}", "FIG2",
              derive=lambda s, c: np.maximum(collapse(s, "bn"), collapse(s, "in")),
              comparison=_cmp("<=", BN_IN_COLLAPSE, "bn, in: no channel-wise collapse")),
    Statement("Fig. 2", "networks with IN [...] lack variability in instance statistics",
              "deep terms (2)+(4): bn − in ≥ 0", "FIG2", derive=lambda s, c: variability(s, "bn") - variability(s, "in"),
              comparison=_cmp(">=", 0.0, "in lacks instance variability")),
    Statement("Fig. 2", "networks with IN, and to a lesser extent GN, lack variability in instance statistics",
              "deep terms (2)+(4): gn − in ≥ 0 and bn − gn ≥ 0 (the smaller of the two)", "FIG2",
              derive=lambda s, c: np.minimum(variability(s, "gn") - variability(s, "in"),
                                             variability(s, "bn") - variability(s, "gn")),
              comparison=_cmp(">=", 0.0, "gn between in and bn")),
    Statement("Fig. 2", "PN remedies LN's failure mode", "deep term (1): ln − ln+pn ≥ 0", "FIG2",
              derive=lambda s, c: collapse(s, "ln") - collapse(s, "ln+pn"),
              comparison=_cmp(">=", 0.0, "ln+pn collapses less than ln")),
    Statement("Fig. 2", "without incurring IN's failure mode",
              f"deep terms (2)+(4): ln+pn − {HALF:g}·bn ≥ 0 (keeps ≥ ½ of BN's instance variability)", "FIG2",
              derive=lambda s, c: variability(s, "ln+pn") - HALF * variability(s, "bn"),
              comparison=_cmp(">=", 0.0, "ln+pn keeps half of bn's instance variability")),
    Statement("Fig. 5", "We confirm that [1 − P(μ_c(y^l))] is upper bounded with high probability by [ρ^{l−1}] as "
              "predicted by Theorem 1", "ln: mean 1 − P(μ_c(y^l)) ≤ ρ^{l−1} + 0.01, every layer", "FIG5",
              label="left: LN's 1 − P(μ_c(y^l)) ≲ ρ^{l−1} (Theorem 1)"),
    Statement("Fig. 5", "The rate of decay of [1 − P(μ_c(y^l))] is initially above the prediction of Theorem 1",
              f"ln: (f_{EARLY} / f_1)^(1/{EARLY - 1}) ≤ ρ (faster decay than ρ per layer)", "FIG5",
              derive=lambda s, c: decay_rate(s, 1, _early(c)), comparison=_cmp("<=", lambda c: c.net.rho, "early decay")),
    Statement("Fig. 5", "In very deep layers [...], this rate of decay ends up very slightly below the prediction of "
              "Theorem 1", f"ln: (f_L / f_(L−{LATE}))^(1/{LATE}) ≥ ρ (slower decay than ρ per layer)", "FIG5",
              derive=lambda s, c: decay_rate(s, _late(c), c.net.depth),
              comparison=_cmp(">=", lambda c: c.net.rho, "late decay")),
    Statement("Fig. 5", "We confirm that [r^l] is with high probability very close to one",
              "ln: mean r^l ≥ 0.99, every layer", "FIG5",
              label="centre: LN-as-scaling ratio r^l very close to one (≥ 0.99)"),
    Statement("Fig. 5", "deep in random nets, layers are effectively: (i) very close to channel-wise linear with LN",
              "ln: mean Λ^l over l > L/2 ≤ 0.01", "FIG5",
              label="right: deep layers (l > L/2) very close to channel-wise linear with LN (Λ ≤ 0.01)"),
    Statement("Fig. 5", "(ii) close to channel-wise linear with GN", "gn: mean Λ^l over l > L/2 ≤ 0.1", "FIG5",
              label="right: deep layers (l > L/2) close to channel-wise linear with GN (Λ ≤ 0.1)"),
)
"""The paper's sentences on Fig. 2 (§4–5) and Fig. 5 (Appendix A.2.1), quoted from its text (``[...]`` marks words
left out, ``[x]`` a symbol the text lost), each with the measured quantity that decides it. Thresholds are fixed
here, before any run: 0.01 of the power for "not subject to collapse" and "very close", ½ for "without IN's failure
mode"; the others are orderings (paired differences over the same realizations)."""


def judge_statement(statement: Statement, result: ConfigResult) -> Judgement:
    """The verdict on one sentence: the claim's own judgement, or :func:`validation.verdicts.judge` of the derived
    quantity (hypotheses as the claim's)."""
    if statement.label is not None:
        return next(j for j in result.comparisons if j.comparison.label == statement.label)
    values = statement.derive(result.samples, result.config)
    return judge(statement.comparison(result.config), values, result.unmet, result.confidence)


def _interval(j: Judgement) -> tuple[str, str]:
    """The worst cell's estimate with its interval, and the cell."""
    i = j.worst
    cell = "" if len(j.estimate) == 1 else f"{j.comparison.cell_name} {j.cells[i]}: "
    bound = f"{j.comparison.relation} {j.prediction[i] + (j.comparison.tolerance if j.comparison.relation == '<=' else -j.comparison.tolerance):.4g}"
    return f"{cell}{j.estimate[i]:.4g} [{j.low[i]:.4g}, {j.high[i]:.4g}]", bound


def statement_rows(figure: str, results: Mapping[str, ConfigResult]) -> list[dict]:
    rows = []
    for s in STATEMENTS:
        if s.figure != figure:
            continue
        j = judge_statement(s, results[s.claim])
        measured, bound = _interval(j)
        passing = sum(v == "PASS" for v in j.cell_verdicts)
        rows.append({"figure": figure, "paper": s.quote, "quantity": s.measured, "claim": s.claim,
                     "measured": measured, "bound": bound, "verdict": j.verdict,
                     "cells_passing": f"{passing}/{len(j.cell_verdicts)}", "more_realizations": j.more_realizations,
                     "judgement": j.describe()})
    return rows


def statement_table(rows: Sequence[dict]) -> list[str]:
    out = ["| the paper says | measured quantity | measured: mean [95% interval] (worst cell) | required | "
           "cells PASS | verdict |", "|---|---|---|---|---|---|"]
    for r in rows:
        verdict = r["verdict"] + (f" (≈ {r['more_realizations']} realizations would decide)"
                                  if r["more_realizations"] else "")
        out.append(f"| “{r['paper']}” | {r['quantity']} | {r['measured']} | {r['bound']} | {r['cells_passing']} | "
                   f"**{verdict}** |")
    return out


# -- the infinite-width hook ------------------------------------------------------------------------------------
def infinite_width_curves(config: PanelConfig, data: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The ``C = ∞`` curves (SPEC §8, :func:`randnet.limit_profile`) of every norm of the panel on ``data``, under the
    names of the panel's measurement: ``power_y`` ``(L, 4)`` (terms (3) and (4) split by sampling channels; NaN
    where the limit gives only their sum), ``noncollapsed`` ``1 − P(μ_c(y^l))/P(y^l)``
    and ``ln_scaling_ratio`` ``r^l``. Exact for LN and its ``+pn``/``+ws`` forms, the mean field for BN, IN, GN. The
    linearity ``Λ^l`` has no limit here. A norm the limit refuses (e.g. a kernel that does not fit in memory:
    ``ValueError``) is left out. The caller passes a documented subset of the inputs (:data:`LIMIT_INPUTS` of
    realization 0's dataset)."""
    curves = {}
    for norm in config.norms:
        try:
            prof = randnet.limit_profile(config.config_for(norm), data, split_samples=LIMIT_SPLIT_SAMPLES)
        except (NotImplementedError, ValueError):
            continue
        split = np.full((prof.depth, 2), np.nan) if prof.split_y is None else prof.split_y
        curves[norm] = {"power_y": np.column_stack([prof.terms_y[:, :2], split]),
                        "noncollapsed": prof.noncollapsed, "ln_scaling_ratio": prof.ratio}
    return curves


# -- the command ------------------------------------------------------------------------------------------------
def commit() -> str:
    """The git commit of the code that ran (``+dirty`` with uncommitted changes), or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "randnet", "theorems", "validation"],
                               cwd=here.parent, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def missing_realizations(config: PanelConfig, realizations: int, seed: int, store: Store) -> int:
    """How many of the ``realizations`` of ``config`` the store does not hold (FIG2's, which FIG5 shares)."""
    key = result_digest(config)
    return sum(not store.path("FIG2", key, seed, k).exists() for k in range(realizations))


def predicted_seconds(config: PanelConfig) -> dict[str, float]:
    """The cost model's seconds of one realization, per norm of the panel (:func:`validation.cost.estimate`)."""
    seconds, _, _ = estimate([config.config_for(n) for n in config.norms])
    return dict(zip(config.norms, seconds))


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def reproduce_paper(out: str | Path, *, realizations: int = DEFAULT_REALIZATIONS, seed: int = 0,
                    backend: str = "joblib", jobs: int = 1, scheduler: Any = None, config: PanelConfig | None = None,
                    report_only: bool = False, progress: bool = True, command: Sequence[str] = ()) -> dict:
    """Run (or, ``report_only``, re-render from the store) Fig. 2 and Fig. 5 at ``config`` (default
    :func:`~theorems._panels.paper_panel`) with ``realizations`` each, writing ``OUT`` (module docstring).
    Returns the ``results.json`` document."""
    out = writable_folder(out)
    config = paper_panel() if config is None else config
    store = Store(out / ".store")
    missing = missing_realizations(config, realizations, seed, store)
    if report_only and missing:
        raise ValueError(f"--report-only: the store {store.root} lacks {missing} of the {realizations} realizations "
                         "of this configuration and seed; run without --report-only to compute them")
    _log(f"reproduce paper: {config.label()}, {len(config.norms)} norms ({', '.join(config.norms)}), "
         f"{realizations} realizations, seed {seed}; {missing} to compute, store {store.root}")
    predicted = predicted_seconds(config)
    per_realization = sum(predicted.values())
    _log(f"cost model: {per_realization:.3g} s per realization (one worker), "
         f"{per_realization * missing / max(1, min(jobs, missing or 1)) / 60:.1f} min for the {missing} to compute "
         f"on {jobs} worker(s)")
    walls: dict[str, float] = {}
    started: dict[str, float] = {}

    def on_start(index: int, total: int, task: Task) -> None:
        started[task.claim.key] = time.perf_counter()
        _log(f"[{index}/{total}] {task.claim.key}: {task.claim.title}")

    def on_done(task: Task, result, plot_errors) -> None:
        walls[task.claim.key] = time.perf_counter() - started[task.claim.key]
        _log(f"  {task.claim.key}: {getattr(result, 'verdict', result)} in {walls[task.claim.key]:.1f} s wall")

    tasks = [Task(REGISTRY[key], (config,), realizations) for key in ("FIG2", "FIG5")]
    outcome = run_and_report(tasks, out / "claims", mode="full", seed=seed, backend=backend, jobs=jobs,
                             scheduler=scheduler, store=store,
                             progress=progress, command=command, on_start=on_start, on_done=on_done)
    if outcome.errors:
        raise RuntimeError("; ".join(f"{k}: {v}" for k, v in outcome.errors.items()))
    results: dict[str, ClaimResult] = {r.claim.key: r for r in outcome.results}
    per_config = {k: r.results[0] for k, r in results.items()}
    timing = _timing(out, per_config["FIG2"], walls, missing, jobs, predicted)
    data = randnet.draw_data(config.net, randnet.realization_seed(seed, 0))[:LIMIT_INPUTS]
    limit = infinite_width_curves(config, data)
    figures = {"Fig. 2": plot_fig2(results["FIG2"], out, limit)[0], "Fig. 5": plot_fig5(results["FIG5"], out, limit)[0]}
    rows = {fig: statement_rows(fig, per_config) for fig in figures}
    document = {"command": list(command), "seed": seed, "realizations": realizations, "commit": commit(),
                "machine": machine(), "versions": versions(), "config": config.describe(), "timing": timing,
                "infinite_width": {"inputs": len(data), "norms": sorted(limit)},
                "figures": {fig: p.name for fig, p in figures.items()},
                "claims": {k: {"verdict": r.verdict, "negative_controls_rejected": r.negative_controls_rejected}
                           for k, r in results.items()},
                "statements": [row for fig in figures for row in rows[fig]]}
    write_atomic(out / "results.json", json.dumps(document, indent=1, default=str))
    write_atomic(out / "REPORT.md", "\n".join(report_lines(document, rows, results)) + "\n")
    for fig in figures:
        verdicts = [r["verdict"] for r in rows[fig]]
        _log(f"{fig}: {overall(verdicts)} — " + ", ".join(f"{v} {verdicts.count(v)}" for v in sorted(set(verdicts))))
    _log(f"report: {out / 'REPORT.md'}")
    return document


def _timing(out: Path, result: ConfigResult, walls: Mapping[str, float], computed: int, jobs: int,
            predicted: Mapping[str, float]) -> dict:
    """Wall times (measured when realizations were computed, kept in ``OUT/timing.json`` across re-renders),
    compute seconds per realization (from the store) and the cost model's prediction beside them."""
    path = out / "timing.json"
    runs = json.loads(path.read_text(encoding="utf-8"))["runs"] if path.exists() else []
    if computed:
        runs.append({"computed": computed, "jobs": jobs, "wall_s": dict(walls), "commit": commit(),
                     "predicted_realization_s": sum(predicted.values()),
                     "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        write_atomic(path, json.dumps({"runs": runs}, indent=1))
    fig5_norms = ("ln", "gn")
    return {"runs": runs, "realization_s": result.seconds / result.realizations,
            "predicted_realization_s": sum(predicted.values()), "predicted_per_norm_s": dict(predicted),
            "predicted_fig5_alone_s": sum(predicted[n] for n in fig5_norms if n in predicted),
            "fig2_wall_s": sum(r["wall_s"].get("FIG2", 0.0) for r in runs),
            "fig5_wall_s": sum(r["wall_s"].get("FIG5", 0.0) for r in runs)}


def realizations_text(document: dict) -> str:
    """What the intervals say about the number of realizations: how many sentences are decided, and how many
    realizations would likely decide the others (:attr:`validation.verdicts.Judgement.more_realizations`)."""
    rows, r = document["statements"], document["realizations"]
    undecided = [row for row in rows if row["verdict"] == "INCONCLUSIVE"]
    text = (f"{r} realizations (the paper used 50). {len(rows) - len(undecided)} of the {len(rows)} sentences are "
            f"decided (PASS or FAIL) at this number: their 95% intervals lie wholly inside or outside the required "
            "region, so more realizations would narrow the intervals without changing those verdicts (barring a "
            "5% error).")
    if undecided:
        need = [row["more_realizations"] for row in undecided]
        known = [n for n in need if n]
        text += (f" {len(undecided)} {'is' if len(undecided) == 1 else 'are'} INCONCLUSIVE: "
                 f"{'its interval straddles' if len(undecided) == 1 else 'their intervals straddle'} the boundary"
                 + (f"; about {max(known)} realizations would decide "
                    f"{'it' if len(need) == 1 else 'all of them' if len(known) == len(need) else f'{len(known)} of them'}"
                    if known else "")
                 + " (`--realizations N` resumes from the store and computes only the new ones).")
    return text


def report_lines(document: dict, rows: Mapping[str, list[dict]], results: Mapping[str, ClaimResult]) -> list[str]:
    t, cfg = document["timing"], document["config"]
    m = document["machine"]
    lines = [
        "# The Proxy Norm paper reproduced: Fig. 2 (top row) and Fig. 5",
        "",
        f"`{' '.join(document['command']) or 'validation.reproduce.reproduce_paper'}` — seed {document['seed']}, "
        f"{document['realizations']} realizations, commit `{document['commit']}`.",
        "",
        f"Configuration: {', '.join(cfg['norms'])} (G = {cfg['groups']}) on the same realizations; "
        f"C = {cfg['widths']}, L = {cfg['depth']}, K = {cfg['kernel_size']}, {cfg['activation']}, "
        f"{cfg['dtype']}, γ ~ {cfg['gamma']}, β ~ {cfg['beta']}, ω ~ {cfg['weight']}; dataset "
        f"{cfg['dataset']['name']} N = {cfg['dataset']['n']} at {cfg['dataset']['height']}×{cfg['dataset']['width']}, "
        f"first conv stride {cfg['first_stride']}.",
        "",
        f"Machine: {m['platform']}, {m['cpus']} CPUs. Versions: "
        + ", ".join(f"{k} {v}" for k, v in document["versions"].items()) + ".",
        "",
        "## Cost",
        "",
        "| | measured | cost model |",
        "|---|---|---|",
        f"| one realization (6 norms, one worker) | {t['realization_s']:.3g} s | {t['predicted_realization_s']:.3g} s |",
        f"| Fig. 2 (all realizations, wall) | {t['fig2_wall_s'] / 60:.1f} min | "
        f"{t['predicted_realization_s'] * document['realizations'] / 60:.1f} min on one worker |",
        f"| Fig. 5 (wall; its realizations are Fig. 2's) | {t['fig5_wall_s']:.1f} s | alone (ln, gn only): "
        f"{t['predicted_fig5_alone_s'] * document['realizations'] / 60:.1f} min on one worker |",
        "",
        "Wall times of the runs that computed realizations: " + ("; ".join(
            f"{r['computed']} realizations on {r['jobs']} worker(s) in {sum(r['wall_s'].values()) / 60:.1f} min "
            f"(finished {r['finished']}, commit `{r.get('commit', 'unknown')}`"
            + (f"; the cost model printed {r['predicted_realization_s']:.3g} s per realization before it"
               if "predicted_realization_s" in r else "") + ")" for r in t["runs"]) or "none (every realization was read from the store)")
        + ". Measured seconds per realization are the workers' own wall times (read back from the store); the "
          "machine was shared with other work, so they are upper bounds for an idle one. The cost model "
          "(`validation.cost`) is calibrated on one small layer (C = 32) timed in this process's CPU seconds, so its "
          "prediction varies with the load at calibration and does not capture the better GEMM efficiency at "
          "C = 1024; `benchmarks/bench_reproduce.py` times layers at the paper's shape.",
        "",
    ]
    if document["infinite_width"] is not None:  # absent from a report written before the limit existed
        iw = document["infinite_width"]
        lines += [f"Dotted: the C = ∞ limit (`randnet.limit_profile`: exact for LN and its +pn/+ws forms, mean field "
                  f"for BN, IN, GN; no limit for the linearity Λ^l) on the first {iw['inputs']} inputs of "
                  f"realization 0's dataset, for {', '.join(iw['norms'])}.", ""]
    for fig, name in document["figures"].items():
        claim = "FIG2" if fig == "Fig. 2" else "FIG5"
        r = results[claim]
        neg = "every negative control rejected" if r.negative_controls_rejected else \
            "**a negative control was not rejected**"
        lines += [f"## {fig}", "", f"![{fig}]({name})", "",
                  f"Claim {claim}: **{r.verdict}** ({neg}; details in [claims/REPORT.md](claims/REPORT.md)).", "",
                  *statement_table(rows[fig]), ""]
    lines += ["## Why this many realizations", "", realizations_text(document), ""]
    lines += ["Verdicts: PASS — the 95% interval (Bonferroni over the cells) lies in the required region; FAIL — it "
              "lies outside (the measurement disagrees with the sentence); INCONCLUSIVE — it straddles the boundary at "
              "this number of realizations. Deep layers are l > L/2. Terms: (1) P(μ_c(y)) channel-wise collapse, "
              "(2)+(4) P(σ_c(μ_x,c(y))) + P(σ_c(σ_x,c(y))) instance variability."]
    return lines
