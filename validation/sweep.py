"""Sweeps: planning and running a sweep file (:mod:`validation.sweepfile`) at scale, and its subcommand.

:func:`plan` and :func:`print_plan` (``--dry-run``) give the number of tasks, those already in the store, and an
estimate of their cost (:mod:`validation.cost`: a FLOP model of the periodic convolution plus a per-element term,
both calibrated by timing one small layer on this machine). :func:`run_sweep` runs every claim of the sweep on
its configurations through :func:`validation.runner.run_and_report`, one cluster for all with ``backend="dask"``.
:func:`add_sweep_command` adds ``randnet-check sweep FILE.toml`` to a command line.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

from randnet.checks import is_int
from theorems.base import REGISTRY

from .backends import BACKENDS, code_digest
from .configs import MEASUREMENT_CODE, config_label, result_digest
from .cost import CostModel, estimate
from .realization import MAX_REALIZATIONS
from .runner import Task, announce_status, exit_codes_text, exit_status, run_and_report
from .store import Store
from .sweepfile import Entry, Sweep, SweepError, show_value, load_sweep


@dataclass(frozen=True)
class Plan:
    """What a sweep would do: per entry, the realizations found in the store and the estimated cost.

    stored[i]      realizations of ``entries[i]`` whose store file exists (validated when read)
    seconds[i]     estimated compute seconds of one realization (None: no cost model for this configuration)
    macs[i]        conv multiply-adds of one realization (None when not a NetConfig)
    """

    sweep: Sweep
    entries: tuple[Entry, ...]
    stored: tuple[int, ...]
    seconds: tuple[float | None, ...]
    macs: tuple[float | None, ...]
    models: tuple[CostModel, ...]

    @property
    def tasks(self) -> int:
        return sum(e.realizations for e in self.entries)

    @property
    def to_compute(self) -> int:
        return self.tasks - sum(self.stored)

    def estimated_seconds(self) -> tuple[float, int]:
        """Estimated compute seconds of the realizations still to compute, and how many have no estimate."""
        total, unknown = 0.0, 0
        for e, s, st in zip(self.entries, self.seconds, self.stored):
            if s is None:
                unknown += e.realizations - st
            else:
                total += s * (e.realizations - st)
        return total, unknown


def plan(sweep: Sweep, store: Any = None, registry: Mapping[str, Any] | None = None,
         calibrate_costs: bool = True) -> Plan:
    """Expand ``sweep``, count what ``store`` already holds, and estimate the cost of the rest."""
    entries = sweep.expand(registry)
    if isinstance(store, (str, os.PathLike)):
        store = Store(store)
    stored = []
    code = code_digest(MEASUREMENT_CODE)
    for e in entries:
        key = result_digest(e.config, code)  # the store's key (as the engine computes it)
        stored.append(0 if store is None else
                      sum(store.path(e.claim, key, sweep.seed, k).exists() for k in range(e.realizations)))
    seconds, macs, models = estimate([e.config for e in entries], calibrate_costs)
    return Plan(sweep, tuple(entries), tuple(stored), tuple(seconds), tuple(macs), tuple(models))


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def print_plan(p: Plan, jobs: int = 1, file: TextIO | None = None) -> None:
    """The dry run's report: tasks per configuration, store hits, and the cost estimate."""
    file = file or sys.stdout
    s = p.sweep
    print(f"sweep {s.name!r} ({s.source}): {len(s.claims)} claim(s), {len(p.entries)} configuration(s), "
          f"{p.tasks} task(s) (realizations), seed {s.seed}, mode {s.mode}", file=file)
    print(f"  already in the store: {p.tasks - p.to_compute}; to compute: {p.to_compute}", file=file)
    print(f"  {'claim':<10} {'digest':<16} {'R':>4} {'stored':>6} {'conv MAC/real.':>14} {'est. s/real.':>12}  "
          f"configuration", file=file)
    varying = {c: [k for k, v in s.grid_for(c).items() if len(v) > 1] for c in s.claims}
    for e, st, sec, mac in zip(p.entries, p.stored, p.seconds, p.macs):
        point = ", ".join(f"{k}={show_value(e.point[k])}" for k in varying[e.claim])
        print(f"  {e.claim:<10} {e.digest:<16} {e.realizations:>4} {st:>6} "
              f"{'n/a' if mac is None else f'{mac:.3g}':>14} {'n/a' if sec is None else f'{sec:.3g}':>12}  "
              f"{config_label(e.config)}{f'  [{point}]' if point else ''}", file=file)
    total, unknown = p.estimated_seconds()
    for m in p.models:
        print(f"  cost model: {m.seconds_per_mac * 1e9:.3g} ns per conv multiply-add + "
              f"{m.seconds_per_element * 1e9:.3g} ns per output element, fitted on {m.calibration}", file=file)
    if not p.models:
        why = ("calibration skipped" if any(m is not None for m in p.macs)
               else "no configuration is a NetConfig, the cost model's input")
        print(f"  no estimate of the seconds ({why})", file=file)
        return
    line = (f"  estimated compute: {_duration(total)} of CPU time for the {p.to_compute - unknown} realization(s) "
            f"with a model")
    if jobs > 1:
        line += f", ≈ {_duration(total / jobs)} of wall time on {jobs} single-core workers (perfect scaling)"
    print(line, file=file)
    if unknown:
        print(f"  {unknown} realization(s) have no cost model (configurations that are not NetConfig, or "
              f"measurements beyond the forward pass: training, sampling); time one with --realizations 1",
              file=file)
    print("  (the model covers the forward pass and its statistics only: worker start-up, imports and "
          "claim-specific work come on top)", file=file)


# -- running --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepResult:
    """The claims' results (``ClaimResult``), the claims that failed to run, and where outputs went."""

    sweep: Sweep
    results: tuple
    errors: Mapping[str, str]
    outputs: tuple[Path, ...]
    seconds: float
    code_changed: bool = False
    """The source of randnet/theorems/validation changed on disk while the sweep ran (worker processes
    started after the change may have run the new code)."""
    report: Path | None = None
    """The report's folder: ``out``, or ``out/failed`` when a claim could not run (:mod:`validation.runner`)."""

    @property
    def computed(self) -> int:
        """Realizations computed by this run (the others were read from the store)."""
        return sum(r.computed for cr in self.results for r in cr.results)


def run_sweep(sweep: Sweep, *, backend: str = "joblib", jobs: int = 1, scheduler: Any = None,
              store: Any = None, out: str | os.PathLike | None = None, progress: bool = True,
              registry: Mapping[str, Any] | None = None, command: Sequence[str] = (),
              tables: bool = True, log: TextIO | None = None) -> SweepResult:
    """Run every entry of ``sweep`` (claim by claim, one cluster for all of them with ``backend="dask"``).

    backend, jobs, scheduler   see :func:`validation.backends.execute` and :func:`~validation.backends.dask_client`;
               with Dask, every worker must import the same ``randnet`` and ``numpy`` versions as this process
    store      a :class:`validation.store.Store` or folder: each realization is written there (atomically, by
               this process) as soon as its result arrives, and realizations already there are read, not
               recomputed — so an interrupted sweep resumes and a repeated one computes nothing
    out        folder for the report (``REPORT.md``, ``results.json``, plots) and the tidy tables
    log        where to print one line per claim as it starts (e.g. ``sys.stderr``)
    A claim that fails to run is recorded (report and ``errors``) and the sweep goes on with the next.
    """
    start = time.perf_counter()
    code = code_digest()
    if isinstance(store, (str, os.PathLike)):
        store = Store(Path(store).resolve())
    entries = sweep.expand(registry)
    registry = REGISTRY if registry is None else registry
    tasks = [Task(registry[key], tuple(e.config for e in entries if e.claim == key),
                  next(e.realizations for e in entries if e.claim == key)) for key in sweep.claims]

    def announce(index: int, total: int, task: Task) -> None:
        if log is not None:
            print(f"[{index}/{total}] {task.claim.key}: {len(task.configs)} configuration(s) x {task.realizations} "
                  f"realization(s) on {backend}", file=log, flush=True)

    done = run_and_report(tasks, out, mode=sweep.mode, seed=sweep.seed, backend=backend, jobs=jobs,
                          scheduler=scheduler, store=store, progress=progress, command=command, tables=tables,
                          on_start=announce)
    changed = code_digest() != code
    if changed:
        warnings.warn("the source of randnet/theorems/validation changed on disk during the sweep: worker processes "
                      "started after the change ran the new code, so results may mix two versions; run it again "
                      "with a fresh store on a checkout that nobody edits", RuntimeWarning,
                      stacklevel=2)
    return SweepResult(sweep, done.results, done.errors, done.outputs, time.perf_counter() - start, changed,
                       done.report)


# -- command line -----------------------------------------------------------------------------------------
def add_sweep_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sweep FILE.toml [--dry-run --backend B --jobs N --scheduler ADDRESS --store DIR --out DIR]``.

    The parser's default ``func`` is :func:`sweep_command` (``args.func(args)`` returns the exit status).
    """
    p = subparsers.add_parser(
        "sweep", help="run a grid of configurations described in a TOML file",
        description="Run every (claim, configuration) of a sweep file on a backend, resuming from the results "
                    "store. Flags override the file's [run] table.",
        epilog=exit_codes_text())
    p.add_argument("file", help="the sweep description (.toml); see examples/sweep_t1.toml")
    p.add_argument("--dry-run", action="store_true",
                   help="print the number of tasks and a cost estimate, run nothing")
    p.add_argument("--no-calibrate", action="store_true",
                   help="with --dry-run: count the conv multiply-adds but time nothing (no seconds estimate)")
    p.add_argument("--backend", choices=BACKENDS, default=None, help="where realizations run (default: joblib)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (joblib; dask when it starts its own LocalCluster); default: the file's "
                        "[run] jobs, else min(2, CPUs)")
    p.add_argument("--scheduler", default=None,
                   help="dask: address of a running scheduler, e.g. tcp://10.0.0.5:8786 (default: start a "
                        "LocalCluster of --jobs workers on 127.0.0.1)")
    p.add_argument("--store", default=None, help="results store folder (default: OUT/.store)")
    p.add_argument("--no-store", action="store_true", help="keep no store (the sweep cannot resume)")
    p.add_argument("--out", default=None, help="output folder (default: sweeps/NAME)")
    p.add_argument("--realizations", type=int, default=None, help="override the file's realizations")
    p.add_argument("--seed", type=int, default=None, help="override the file's seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--report-only", action="store_true",
                   help="exit 0 whatever the verdicts (3 still when a claim could not run)")
    p.set_defaults(func=sweep_command)
    return p


def resolve_run_options(args: argparse.Namespace, sweep: Sweep) -> dict[str, Any]:
    """Command-line flags over the file's [run] table over the defaults."""
    run = sweep.run
    backend = args.backend or run.get("backend", "joblib")
    jobs = args.jobs if args.jobs is not None else run.get("jobs", max(1, min(os.cpu_count() or 1, 2)))
    if not is_int(jobs):
        raise SweepError(f"--jobs must be a positive integer, got {jobs!r}")
    scheduler = args.scheduler or run.get("scheduler")
    if scheduler is not None and backend != "dask":
        raise SweepError(f"a scheduler ({scheduler}) needs --backend dask, not {backend!r}")
    out = Path(args.out or run.get("out") or Path("sweeps") / sweep.name)
    store = None if args.no_store else Path(args.store or run.get("store") or out / ".store")
    return {"backend": backend, "jobs": jobs, "scheduler": scheduler, "out": out, "store": store}


def sweep_command(args: argparse.Namespace, file: TextIO | None = None) -> int:
    """The ``sweep`` subcommand (see :func:`add_sweep_command`); returns the exit status."""
    file = file or sys.stdout
    try:
        sweep = load_sweep(args.file)
        if args.realizations is not None or args.seed is not None:
            if args.realizations is not None and not (is_int(args.realizations)
                                                      and args.realizations <= MAX_REALIZATIONS):
                raise SweepError(f"--realizations must be a positive integer at most {MAX_REALIZATIONS:,}, got "
                                 f"{args.realizations}")
            if args.seed is not None and not is_int(args.seed, 0):
                raise SweepError(f"--seed must be a non-negative integer, got {args.seed}")
            sweep = dataclasses.replace(
                sweep, realizations=args.realizations if args.realizations is not None else sweep.realizations,
                seed=args.seed if args.seed is not None else sweep.seed)
        opts = resolve_run_options(args, sweep)
        if args.dry_run:
            print_plan(plan(sweep, opts["store"], calibrate_costs=not args.no_calibrate), jobs=opts["jobs"],
                       file=file)
            return 0
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    where = opts["scheduler"] or (f"{opts['jobs']} worker(s)" if opts["backend"] != "serial" else "this process")
    print(f"sweep {sweep.name!r}: {len(sweep.claims)} claim(s) on {opts['backend']} ({where}); "
          f"store {opts['store'] or 'none (not resumable)'}; output {opts['out']}", file=file)
    command = ["randnet-check", *getattr(args, "argv", ["sweep", args.file])]
    result = run_sweep(sweep, backend=opts["backend"], jobs=opts["jobs"], scheduler=opts["scheduler"],
                       store=opts["store"], out=opts["out"], progress=not args.no_progress, command=command,
                       log=sys.stderr)
    for cr in result.results:
        rejected = cr.negative_controls_rejected
        print(f"  {cr.claim.key:<10} {cr.verdict:<20} negative controls {'rejected' if rejected else 'NOT rejected'}"
              f"  ({len(cr.results)} configuration(s), {sum(r.computed for r in cr.results)} realization(s) "
              f"computed, {cr.seconds:.1f} s)", file=file)
    for key, err in result.errors.items():
        print(f"  {key:<10} ERROR {err}", file=file)
    if result.code_changed:
        print("  WARNING: the source code changed on disk during the sweep; results may mix two versions", file=file)
    print(f"  {result.computed} realization(s) computed in {result.seconds:.1f} s; report: "
          f"{Path(result.report or opts['out']) / 'REPORT.md'}", file=file)
    return announce_status(exit_status(result.results, result.errors, args.report_only))
