"""The run → plot → report loop: claims run one after the other, each drawn and added to one report.

``randnet-check run`` and ``suite`` (:mod:`validation.cli`) and sweeps (:func:`validation.sweep.run_sweep`)
all go through :func:`run_and_report`: for every :class:`Task` (a claim, optionally its configurations and
number of realizations) it runs :func:`validation.engine.run_claim`, reading and writing the results store,
draws the claim's plots and adds its section to ``REPORT.md`` / ``results.json``. A claim that raises is
recorded in the report and the loop goes on with the next; a claim that cannot be computed because its
configuration breaks a hypothesis is recorded as HYPOTHESIS NOT MET. With ``backend="dask"`` one Dask client
serves every claim, and its workers must import the same package versions and code as this process.

**The last good report is kept.** The report is written (after every claim, so it can be watched) into a
staging folder ``OUT/.partial-<pid>-…``; when every claim ran, its files replace those in ``OUT`` (each file
atomically) and ``OUT/failed/`` is removed; when a claim raised, or the run was interrupted or could not write
its store, the staging folder becomes ``OUT/failed/`` (its report and plots) and ``OUT``'s own report is left
as it was. A staging folder whose process died (SIGKILL) is removed by the next run into ``OUT``.

Output folders are checked before anything runs (:func:`writable_folder`): an ``--out`` that is a file or
cannot be written is one line, not a traceback after the computation. :func:`exit_status` maps an outcome to the
command line's exit status (:data:`EXIT_CODES`).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from theorems.base import Claim, OutOfScope

from .backends import check_worker_versions, dask_client, shutdown_workers
from .engine import DEFAULT_MAX_REALIZATIONS, ClaimResult, run_claim, run_until_decided
from .plots import draw
from .realization import HypothesisNotMetError
from .report import Report
from .store import Store, StoreError
from .tables import write_sweep_tables
from .verdicts import FAIL, UNMET

FAILED = "failed"
"""The folder of ``OUT`` that holds the report of the last run that did not finish cleanly."""
STAGING = ".partial-"

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_ERROR, EXIT_FAIL, EXIT_NOT_REJECTED, EXIT_BASELINE = 0, 1, 2, 3, 4, 5, 6
EXIT_INTERRUPTED, EXIT_PIPE, EXIT_TERMINATED = 130, 141, 143
EXIT_CODES = (
    (EXIT_OK, "every claim ran; each verdict is PASS, INCONCLUSIVE (undecided at this number of realizations: "
              "the report says how many would decide) or HYPOTHESIS NOT MET; every negative control rejected"),
    (EXIT_INPUT, "bad argument or input (one line on stderr; nothing ran)"),
    (EXIT_USAGE, "malformed command line or sweep file"),
    (EXIT_ERROR, "a claim could not run, or the run could not finish (store or report not writable); the "
                 "report of what ran is in OUT/failed/"),
    (EXIT_FAIL, "some claim FAILs (on configurations that meet its hypotheses)"),
    (EXIT_NOT_REJECTED, "some negative control was not rejected (the check cannot tell a false claim)"),
    (EXIT_BASELINE, "with --baseline FILE.json: a claim's verdict or a negative control's rejection differs from "
                    "the baseline's (each difference one line on stdout); with --baseline, 0 means that every "
                    "verdict and rejection equals the baseline's, FAIL included, and 4 and 5 are not used"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C): what was computed is in the store, the report of what ran in "
                       "OUT/failed/"),
    (EXIT_PIPE, "the output pipe was closed (e.g. `| head`): stopped quietly"),
    (EXIT_TERMINATED, "terminated (SIGTERM), as for Ctrl-C"),
)
"""The exit statuses of ``randnet-check run / suite / sweep``; 3 wins over 5, and 5 over 4 (and 3 over 6, which only
``suite --baseline`` gives: :mod:`validation.baseline`). ``--report-only``: 0 whatever the verdicts (3 still when a
claim could not run)."""


def exit_codes_text() -> str:
    """:data:`EXIT_CODES` as the ``--help`` epilog."""
    return "exit status: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES) + \
        ". With --report-only: 0 whatever the verdicts (3 still when a claim could not run)."


def announce_status(status: int) -> int:
    """Say on stderr what a non-zero exit status means (:data:`EXIT_CODES`); returns it."""
    if status:
        print(f"exit status {status}: {dict(EXIT_CODES)[status]}", file=sys.stderr)
    return status


class OutputError(ValueError):
    """An output folder that is a file or cannot be created or written."""


class RunError(RuntimeError):
    """The run could not finish (its store or report could not be written); the message says where the report
    of what ran is."""


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
    of those that raised, ``unmet`` (claim key -> why) of those that could not be computed because a hypothesis
    is broken, the files written (plots, tables, ``REPORT.md``, ``results.json``) and the report's folder
    (``OUT``, or ``OUT/failed`` when a claim raised; None without ``out``)."""

    results: tuple[ClaimResult, ...]
    errors: Mapping[str, str]
    outputs: tuple[Path, ...]
    unmet: Mapping[str, str] = field(default_factory=dict)
    report: Path | None = None


def exit_status(results: Sequence[ClaimResult], errors: Mapping[str, str], report_only: bool = False,
                differences: Sequence[str] | None = None) -> int:
    """The exit status of a run (:data:`EXIT_CODES`); ``differences``: from a baseline
    (:func:`validation.baseline.differences`; None: no baseline), which then decide instead of the verdicts."""
    if errors:
        return EXIT_ERROR
    if report_only:
        return EXIT_OK
    if differences is not None:
        return EXIT_BASELINE if differences else EXIT_OK
    if not all(r.negative_controls_rejected for r in results):
        return EXIT_NOT_REJECTED
    return EXIT_FAIL if any(r.verdict == FAIL for r in results) else EXIT_OK


def writable_folder(path: str | os.PathLike, what: str = "--out") -> Path:
    """``path`` as a folder this process can write in (created if missing), else :class:`OutputError`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{what} {path}: cannot write there ({e.strerror or e})") from None
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class _Staging:
    """The report's staging folder in ``out``, published at the end (module doc)."""

    def __init__(self, out: Path) -> None:
        self.out = writable_folder(out)
        for old in self.out.glob(f"{STAGING}*"):  # left by a run that was killed
            pid = old.name[len(STAGING):].split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
        self.dir = Path(tempfile.mkdtemp(dir=self.out, prefix=f"{STAGING}{os.getpid()}-"))

    def publish(self, complete: bool) -> Path:
        """Move the staged report into ``out`` (``complete``) or make it ``out/failed``; returns where it went."""
        if complete:
            for item in sorted(self.dir.iterdir()):
                target = self.out / item.name
                if item.is_dir() and target.is_dir():
                    shutil.rmtree(target)
                os.replace(item, target)
            self.dir.rmdir()
            shutil.rmtree(self.out / FAILED, ignore_errors=True)  # no longer the last run
            return self.out
        failed = self.out / FAILED
        if failed.exists():
            aside = Path(tempfile.mkdtemp(dir=self.out, prefix=f"{STAGING}{os.getpid()}-old-"))
            os.replace(failed, aside / FAILED)
            shutil.rmtree(aside, ignore_errors=True)
        os.replace(self.dir, failed)
        return failed


OnStart = Callable[[int, int, Task], None]
"""``on_start(index, total, task)`` before each claim (``index`` from 1)."""
OnDone = Callable[[Task, "ClaimResult | Exception", Sequence[str]], None]
"""``on_done(task, result or the exception it raised, plot errors)`` after each claim."""


def run_and_report(tasks: Sequence[Task], out: str | Path | None, *, mode: str = "quick", seed: int = 0,
                   backend: str = "joblib", jobs: int = 1, scheduler: Any = None, store: Store | str | Path | None = None,
                   progress: bool = True, command: Sequence[str] = (), tables: bool = False,
                   not_checked: Sequence[OutOfScope] = (), on_start: OnStart | None = None,
                   on_done: OnDone | None = None, until_decided: bool = False,
                   max_realizations: int = DEFAULT_MAX_REALIZATIONS) -> Outcome:
    """Run every task, then draw and report it into ``out`` (None: no plots, no report, no tables).

    backend, jobs, scheduler   where realizations run (:func:`validation.backends.execute`,
               :func:`~validation.backends.dask_client`); results never depend on them
    store      a :class:`~validation.store.Store` or folder: realizations there are read, new ones written
    command    the command line recorded in the report; ``tables``: also write the tidy tables
               (:func:`validation.tables.write_sweep_tables`)
    not_checked  statements listed in the report as out of scope (:class:`theorems.base.OutOfScope`), not run
    until_decided  run each claim by :func:`validation.engine.run_until_decided` (batches until no confidence-sequence
               verdict is INCONCLUSIVE, at most ``max_realizations``); needs a ``store``

    ``out`` and the store's folder are checked first (:class:`OutputError`). A store that cannot be written
    mid-run stops the run: :class:`RunError`, with the report of what ran in ``out/failed``.
    """
    if isinstance(store, (str, Path)):
        store = Store(store)
    if out is not None:
        writable_folder(out)
    if store is not None:
        writable_folder(store.root, "the results store")
    elif until_decided:
        raise ValueError("running until decided needs a results store (each batch reads the earlier ones)")
    results, errors, unmet, outputs = [], {}, {}, []
    stage = report = None
    session = dask_client(scheduler, jobs) if backend == "dask" else contextlib.nullcontext()
    try:
        with session as client:  # an unreachable scheduler is reported here, before anything is staged
            if client is not None:
                check_worker_versions(client)
            stage = None if out is None else _Staging(Path(out))
            report = None if stage is None else Report(stage.dir, mode=mode, seed=seed, command=command)
            for entry in not_checked if report is not None else ():
                report.add_out_of_scope(entry)
            for index, task in enumerate(tasks, 1):
                claim = task.claim
                if on_start is not None:
                    on_start(index, len(tasks), task)
                try:
                    options = dict(seed=seed, mode=mode, backend=backend, jobs=jobs, store=store, progress=progress)
                    result = run_until_decided(claim, task.configs, task.realizations,
                                               max_realizations=max_realizations, **options) if until_decided else \
                        run_claim(claim, task.configs, task.realizations, **options)
                except StoreError as e:  # every later claim would fail the same way: stop here
                    errors[claim.key] = f"{type(e).__name__}: {e}"
                    if report is not None:
                        with contextlib.suppress(OSError):  # the same full disk may refuse the report too
                            report.add_error(claim.key, claim.title, e)
                    raise
                except HypothesisNotMetError as e:  # nothing computable: the verdict is the broken hypothesis
                    unmet[claim.key] = str(e)
                    if report is not None:
                        report.add_error(claim.key, claim.title, e, verdict=UNMET)
                    if on_done is not None:
                        on_done(task, e, ())
                    continue
                except Exception as e:  # recorded; the other claims still run
                    errors[claim.key] = f"{type(e).__name__}: {e}"
                    if report is not None:
                        report.add_error(claim.key, claim.title, e)
                    if on_done is not None:
                        on_done(task, e, ())
                    continue
                except BaseException:  # Ctrl-C, SIGTERM: recorded, then the run stops
                    if report is not None:
                        with contextlib.suppress(OSError):
                            report.add_error(claim.key, claim.title, "interrupted while running (Ctrl-C or "
                                                                     "SIGTERM); what was computed is in the store")
                    raise
                results.append(result)
                plot_errors: list[str] = []
                if report is not None:
                    paths, plot_errors = draw(result, stage.dir)
                    report.add(result, paths, plot_errors)
                    outputs += paths
                if on_done is not None:
                    on_done(task, result, plot_errors)
            if stage is not None and tables and results:
                outputs += write_sweep_tables(results, stage.dir)
    except BaseException as e:
        if stage is None:  # nothing ran (e.g. the scheduler cannot be reached)
            raise
        where = None
        with contextlib.suppress(OSError):
            where = stage.publish(complete=False)
        if isinstance(e, OSError):
            what = str(e) if isinstance(e, StoreError) else \
                f"cannot write {e.filename or out} ({e.strerror or e})"
            shown = (f"; the report of what ran is in {where / 'REPORT.md'}"
                     if where is not None and (where / "REPORT.md").exists() else "")
            raise RunError(f"{what}{shown}") from e
        raise
    finally:
        if backend == "joblib":
            shutdown_workers()
    if stage is None:
        return Outcome(tuple(results), errors, tuple(outputs), unmet)
    staged = [*outputs, stage.dir / "REPORT.md", stage.dir / "results.json"]
    where = stage.publish(complete=not errors)
    return Outcome(tuple(results), errors, tuple(where / p.relative_to(stage.dir) for p in staged), unmet, where)
