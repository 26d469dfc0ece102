"""The run → plot → report loop: claims run one after the other, each drawn and added to one report.

``randnet-check run`` and ``suite`` (:mod:`validation.cli`) and sweeps (:func:`validation.sweep.run_sweep`)
all go through :func:`run_and_report`: for every :class:`Task` (a claim, optionally its configurations and
number of realizations) it runs :func:`validation.engine.run_claim`, reading and writing the results store,
draws the claim's plots and adds its section to ``REPORT.md`` / ``results.json`` (rewritten after every
claim, so an interruption keeps what was done). A claim that raises is recorded in the report and the loop
goes on with the next. With ``backend="dask"`` one Dask client serves every claim, and its workers must
import the same package versions and code as this process.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from theorems.base import Claim, OutOfScope

from .backends import check_worker_versions, dask_client
from .engine import ClaimResult, run_claim
from .plots import draw
from .report import Report
from .store import Store
from .tables import write_sweep_tables


@dataclass(frozen=True)
class Task:
    """One claim to run: on ``configs`` (None: ``claim.configs(mode)``), ``realizations`` each (None: the
    claim's own number for the mode)."""

    claim: Claim
    configs: tuple | None = None
    realizations: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What :func:`run_and_report` did: the results of the claims that ran, ``errors`` (claim key -> one line)
    of those that raised, and the files written (plots, tables, ``REPORT.md``, ``results.json``)."""

    results: tuple[ClaimResult, ...]
    errors: Mapping[str, str]
    outputs: tuple[Path, ...]


OnStart = Callable[[int, int, Task], None]
"""``on_start(index, total, task)`` before each claim (``index`` from 1)."""
OnDone = Callable[[Task, "ClaimResult | Exception", Sequence[str]], None]
"""``on_done(task, result or the exception it raised, plot errors)`` after each claim."""


def run_and_report(tasks: Sequence[Task], out: str | Path | None, *, mode: str = "quick", seed: int = 0,
                   backend: str = "joblib", jobs: int = 1, scheduler: Any = None, store: Store | str | Path | None = None,
                   progress: bool = True, command: Sequence[str] = (), tables: bool = False,
                   not_checked: Sequence[OutOfScope] = (), on_start: OnStart | None = None,
                   on_done: OnDone | None = None) -> Outcome:
    """Run every task, then draw and report it into ``out`` (None: no plots, no report, no tables).

    backend, jobs, scheduler   where realizations run (:func:`validation.backends.execute`,
               :func:`~validation.backends.dask_client`); results never depend on them
    store      a :class:`~validation.store.Store` or folder: realizations there are read, new ones written
    command    the command line recorded in the report; ``tables``: also write the tidy tables
               (:func:`validation.tables.write_sweep_tables`)
    not_checked  statements listed in the report as out of scope (:class:`theorems.base.OutOfScope`), not run
    """
    out = None if out is None else Path(out)
    if isinstance(store, (str, Path)):
        store = Store(store)
    report = None if out is None else Report(out, mode=mode, seed=seed, command=command)
    if report is not None:
        for entry in not_checked:
            report.add_out_of_scope(entry)
    results, errors, outputs = [], {}, []
    session = dask_client(scheduler, jobs) if backend == "dask" else contextlib.nullcontext()
    with session as client:
        if client is not None:
            check_worker_versions(client)
        for index, task in enumerate(tasks, 1):
            claim = task.claim
            if on_start is not None:
                on_start(index, len(tasks), task)
            try:
                result = run_claim(claim, task.configs, task.realizations, seed=seed, mode=mode, backend=backend,
                                   jobs=jobs, store=store, progress=progress)
            except Exception as e:  # recorded; the other claims still run
                errors[claim.key] = f"{type(e).__name__}: {e}"
                if report is not None:
                    report.add_error(claim.key, claim.title, e)
                if on_done is not None:
                    on_done(task, e, ())
                continue
            results.append(result)
            plot_errors: list[str] = []
            if report is not None:
                paths, plot_errors = draw(result, out)
                report.add(result, paths, plot_errors)
                outputs += paths
            if on_done is not None:
                on_done(task, result, plot_errors)
    if out is not None and tables and results:
        outputs += write_sweep_tables(results, out)
    if report is not None:
        outputs += [out / "REPORT.md", out / "results.json"]
    return Outcome(tuple(results), errors, tuple(outputs))
