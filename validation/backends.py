"""Where realizations run: serially, on local processes (joblib), or on a Dask cluster.

:func:`execute` maps a picklable module-level function over a list of argument tuples and
returns the results *in task order*, whatever the backend or the number of workers, so a
result never depends on scheduling (SPEC §5: realization ``k`` is a function of
``(config, seed, k)`` only).

Backends
--------
``serial``
    a plain loop in this process.
``joblib``
    ``jobs`` local worker processes (loky), which end with this process (:func:`exit_with_parent`: within
    about a second even when it is killed); :func:`shutdown_workers` stops the idle ones kept for reuse.
``dask``
    a ``distributed`` cluster. :func:`dask_client` picks it, in this order: the ``client`` or
    ``scheduler`` given to :func:`execute` (a :class:`distributed.Client`, a cluster object such as
    ``dask_jobqueue.SLURMCluster``, a scheduler address ``"tcp://host:port"`` or a scheduler file
    ``FILE.json``); else the
    *default client* of the calling code (the innermost ``with dask_client(...)`` block, or any
    ``distributed.Client`` made by the caller); else a fresh :class:`distributed.LocalCluster` of
    ``jobs`` single-threaded worker processes on ``127.0.0.1``, closed when :func:`execute` returns.
    Opening one :func:`dask_client` block around several :func:`execute` calls (a sweep over many
    claims) keeps one cluster for all of them.

Failures
--------
A task that raises is retried ``retries`` times (``Client.submit(retries=...)``) before the error
reaches the caller. A worker process that dies mid-task (killed, out of memory) is different: the
scheduler reschedules its tasks on the surviving or restarted workers (the nanny restarts a dead
worker), and gives up on a task only after it has been running on
``distributed.scheduler.allowed-failures`` (+1) workers that died — then :func:`execute` raises a
:class:`WorkerDeathError` that says so. Results that completed are handed to ``on_result`` as
soon as they reach this process, so a caller that stores each one at once (the results store)
loses nothing even if *this* process is interrupted: the next run resumes from the store.

Before a Dask sweep, :func:`check_worker_versions` verifies that the workers run the same package
versions and source code as this process. See ``docs/CLUSTERS.md`` for clusters (SLURM, PBS, by hand).

``joblib`` and ``distributed`` are imported inside the functions that use them, on purpose: importing them takes
0.2 s and 0.4 s here, which every command that runs nothing in parallel (``list``, ``--dry-run``) would pay.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import uuid
from importlib import metadata
from typing import Any, Callable, Iterator, Sequence

from tqdm.auto import tqdm

from randnet.checks import check_int

from .configs import CODE_PACKAGES, code_digest  # noqa: F401 (code_digest: also this module's API)

BACKENDS = ("serial", "joblib", "dask")

DEFAULT_RETRIES = 2
"""How many times the dask backend resubmits a task that raised an exception."""

PROBE_TIMEOUT = 10.0
"""Seconds a TCP connection to a scheduler address may take before it is reported unreachable."""

DEFAULT_ALLOWED_FAILURES = 3
"""Worker deaths a task may cause before a LocalCluster's scheduler gives up on it (Dask's default)."""

LOCAL_HOST = "127.0.0.1"
"""The only interface a LocalCluster started here listens on."""

OnResult = Callable[[int, Any], None]


class WorkerDeathError(RuntimeError):
    """A task kept killing the workers that ran it (``distributed.KilledWorker``)."""


def execute(fn: Callable[..., Any], tasks: Sequence[tuple], *, backend: str = "joblib", jobs: int = 1,
            progress: bool = True, desc: str = "", scheduler: Any = None, client: Any = None,
            retries: int = DEFAULT_RETRIES, on_result: OnResult | None = None,
            timeout: float | None = None) -> list[Any]:
    """``[fn(*t) for t in tasks]`` on ``backend`` with ``jobs`` workers, with a progress bar.

    fn
        a picklable function (module-level, so that worker processes import it by name).
    tasks
        one argument tuple per call.
    backend, jobs
        ``"serial"``, ``"joblib"`` (``jobs`` processes; ``jobs=1`` runs serially) or ``"dask"``
        (``jobs`` worker processes when a LocalCluster has to be started; ignored when connecting
        to an existing scheduler or client).
    scheduler, client
        dask only: where to run (see the module doc); at most one of them.
    retries
        dask only: resubmissions of a task that raised.
    on_result
        ``on_result(i, result)`` is called in this process as soon as task ``i``'s result arrives
        (arrival order, which depends on scheduling); the returned list is in task order anyway.
    timeout
        dask only: seconds to wait for all results before raising :class:`TimeoutError` (None: no
        limit); unfinished tasks are cancelled.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    check_int("jobs", jobs)
    check_int("retries", retries, 0)
    if backend != "dask" and (scheduler is not None or client is not None):
        raise ValueError(f"a scheduler or client applies to backend 'dask' only, not {backend!r}")
    if scheduler is not None and client is not None:
        raise ValueError("give either scheduler= or client=, not both")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    if backend != "dask" and timeout is not None:
        raise ValueError(f"timeout applies to backend 'dask' only, not {backend!r}")
    tasks = [tuple(t) for t in tasks]
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress, leave=False)

    def deliver(i: int, result: Any) -> None:
        if on_result is not None:
            on_result(i, result)
        bar.update()

    try:
        if not tasks:
            return []
        if backend == "dask":
            return _execute_dask(fn, tasks, jobs, client if client is not None else scheduler, retries, desc,
                                 deliver, timeout)
        if backend == "serial" or jobs == 1:
            return _execute_serial(fn, tasks, deliver)
        return _execute_joblib(fn, tasks, jobs, deliver)
    finally:
        bar.close()


# -- serial and joblib ---------------------------------------------------------------------
def _execute_serial(fn, tasks, deliver) -> list[Any]:
    out = []
    for i, t in enumerate(tasks):
        out.append(fn(*t))
        deliver(i, out[-1])
    return out


def _call_indexed(fn: Callable[..., Any], i: int, args: tuple) -> tuple[int, Any]:
    """``(i, fn(*args))``: lets results arriving out of order be put back in place."""
    return i, fn(*args)


PARENT_POLL_S = 0.5
"""How often a joblib worker checks that the process that started it is still alive."""


def exit_with_parent(interval: float = PARENT_POLL_S) -> None:
    """Worker initializer: a daemon thread ends this process (``os._exit``) as soon as its parent is gone.

    loky keeps idle workers (~390 MiB each here) for reuse, and a parent killed by SIGKILL or SIGTERM cannot
    shut them down: without this they outlived it by a minute or more. Polling the parent's pid (the process is
    re-parented when its parent dies) is portable and costs nothing measurable.
    """
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def shutdown_workers() -> None:
    """Stop the idle joblib (loky) workers this process keeps for reuse, if any (none are started here)."""
    try:
        from joblib.externals.loky import reusable_executor
    except ImportError:
        return
    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def _execute_joblib(fn, tasks, jobs, deliver) -> list[Any]:
    import warnings

    from joblib import Parallel, delayed

    out: list[Any] = [None] * len(tasks)
    gen = Parallel(n_jobs=jobs, return_as="generator_unordered", initializer=exit_with_parent)(
        delayed(_call_indexed)(fn, i, t) for i, t in enumerate(tasks))
    with warnings.catch_warnings():  # stopping early (an error, Ctrl-C) cancels the rest: said once, by the caller
        warnings.filterwarnings("ignore", message=".*tasks which were still being processed by the workers have "
                                                  "been cancelled", category=UserWarning)
        try:
            for i, r in gen:
                out[i] = r
                deliver(i, r)
        finally:
            gen.close()
    return out


# -- dask ----------------------------------------------------------------------------------
def _default_client():
    """The caller's current ``distributed`` client, or None."""
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


@contextlib.contextmanager
def dask_client(scheduler: Any = None, jobs: int = 1, *,
                allowed_failures: int = DEFAULT_ALLOWED_FAILURES, timeout: float = 30.0) -> Iterator[Any]:
    """A :class:`distributed.Client` for the ``with`` block.

    A client made here (for a new LocalCluster, an address or a cluster object) is the default
    client inside the block, so :func:`execute` calls with ``backend="dask"`` and no scheduler use it.

    scheduler
        ``None``: use the current default client if there is one (``jobs`` is then ignored), else start a
        LocalCluster of ``jobs`` single-threaded worker processes listening on ``127.0.0.1`` only (its
        HTTP status page on a free loopback port), whose scheduler allows ``allowed_failures`` worker
        deaths per task; it is shut down at the end of the block.
        A :class:`distributed.Client`: used as is, left open.
        A scheduler address (``"tcp://host:port"``), the path of a scheduler file written by
        ``dask scheduler --scheduler-file FILE.json``, or a cluster object (anything with a
        ``scheduler_address``, e.g. ``dask_jobqueue.SLURMCluster``): connect a client (closed at the
        end of the block; the cluster itself is left running). Its scheduler's own configuration
        sets ``allowed-failures``.
    timeout
        seconds to wait for the connection. Nothing listening at a ``tcp://`` address is reported at once, an
        unreachable host after at most :data:`PROBE_TIMEOUT` seconds, a scheduler file that is not JSON or has no
        address at once.
    """
    from distributed import Client, LocalCluster

    check_int("jobs", jobs)
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is None:
        current = _default_client()
        if current is not None:
            yield current
            return
        import dask

        with dask.config.set({"distributed.scheduler.allowed-failures": int(allowed_failures)}):
            cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host=LOCAL_HOST,
                                   scheduler_port=0, dashboard_address=f"{LOCAL_HOST}:0")
        try:
            with Client(cluster, timeout=timeout) as c:
                yield c
        finally:
            cluster.close()
        return
    kwargs: dict[str, Any] = {}
    if isinstance(scheduler, (str, os.PathLike)):
        address = os.fspath(scheduler).strip()
        if not address:
            raise ValueError("empty scheduler address; write e.g. tcp://127.0.0.1:8786")
        if address.endswith(".json"):
            kwargs["scheduler_file"] = address
            address = _scheduler_file_address(address)
        else:
            kwargs["address"] = address
        _probe(address, min(timeout, PROBE_TIMEOUT))
    elif hasattr(scheduler, "scheduler_address"):
        kwargs["address"], address = scheduler, scheduler.scheduler_address
    else:
        raise TypeError(f"scheduler must be an address string, a scheduler file, a distributed.Client or a "
                        f"cluster object, got {type(scheduler).__name__}")
    try:
        c = Client(timeout=timeout, **kwargs)
    except (OSError, TimeoutError) as e:
        raise ConnectionError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({e}); "
                              f"is `dask scheduler` running there?") from e
    with c:
        yield c


def _scheduler_file_address(path: str) -> str:
    """The scheduler address in a file written by ``dask scheduler --scheduler-file FILE.json``, with a clear error
    when the file is missing or is not such a file."""
    import json

    if not os.path.isfile(path):
        raise FileNotFoundError(f"scheduler file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"scheduler file {path} is not a Dask scheduler file (not JSON: {e})") from None
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str) or not address:
        raise ValueError(f"scheduler file {path} is not a Dask scheduler file: it has no \"address\" entry "
                         "(write it with `dask scheduler --scheduler-file FILE.json`)")
    return address


def _probe(address: str, timeout: float) -> None:
    """Fail fast when nothing listens at a ``tcp://host:port`` address: a refused connection is reported at once
    (Dask's client would retry it until its timeout), an unreachable host after ``timeout`` seconds. Other
    protocols are left to Dask."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp":
        return
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"malformed scheduler address {address!r}; write e.g. tcp://127.0.0.1:8786") from None
    if not host or port is None:
        raise ValueError(f"malformed scheduler address {address!r}: it needs a host and a port, e.g. "
                         "tcp://127.0.0.1:8786")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else e.strerror or str(e)
        raise ConnectionError(f"cannot reach the Dask scheduler at {address} ({why} within {timeout:g} s); is "
                              "`dask scheduler` running there?") from None


def _execute_dask(fn, tasks, jobs, where, retries, desc, deliver, timeout) -> list[Any]:
    from distributed import as_completed
    from distributed.client import FutureCancelledError

    try:
        from distributed import KilledWorker
    except ImportError:  # older distributed
        from distributed.scheduler import KilledWorker

    name = (desc or getattr(fn, "__name__", "task")).replace(" ", "_")
    run_id = uuid.uuid4().hex[:10]
    with dask_client(where, jobs) as c:
        keys = [f"{name}-{run_id}-{i}" for i in range(len(tasks))]
        futures = c.map(fn, *zip(*tasks), key=keys, pure=False, retries=retries)
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(tasks)
        done = 0
        try:
            for fut, result in as_completed(futures, loop=c.loop, with_results=True, timeout=timeout):
                i = index[fut.key]
                out[i] = result
                fut.release()
                done += 1
                deliver(i, result)
        except TimeoutError as e:
            if timeout is None:  # raised by a task, not by the wait
                raise
            raise TimeoutError(f"only {done} of {len(tasks)} tasks of {name!r} finished within {timeout:g} s "
                               f"(are there workers? {len(c.scheduler_info().get('workers', {}))} connected)") from e
        except KilledWorker as e:
            raise WorkerDeathError(
                f"a task of {name!r} was running on a worker each time one died, more often than the scheduler's "
                f"distributed.scheduler.allowed-failures allows ({e}). It may exhaust the workers' memory or crash "
                f"them; results already delivered were passed to on_result (a store resumes from them).") from e
        except FutureCancelledError as e:
            raise RuntimeError(f"dask tasks of {name!r} were cancelled (the cluster shut down or the client "
                               f"lost its scheduler): {e}") from e
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:
                c.cancel(pending)
        return out



def _package_version(package: str) -> str:
    """``package.__version__`` (what the results store keys on), else the installed distribution's version."""
    try:
        version = getattr(importlib.import_module(package), "__version__", None)
    except ImportError:
        return "not importable"
    if version is None:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "unknown"
    return str(version)


def check_worker_versions(client: Any, packages: Sequence[str] = ("randnet", "numpy")) -> None:
    """Raise if a worker of ``client`` imports other versions of ``packages`` than this process, or sees other
    source code for ``randnet``, ``theorems`` and ``validation`` (:func:`code_digest`).

    Results are stored under this process's package version, so a worker running other code would file
    its realizations under the wrong key. (Dask's own ``client.get_versions(check=True)`` covers Python,
    dask and distributed.)
    """
    for _ in range(3):  # the checkout may be edited while we look: compare only against a stable reading
        mine = _environment(list(packages))
        theirs = client.run(_environment, list(packages))
        if _environment(list(packages)) == mine:
            break
    bad = {w: v for w, v in theirs.items() if v != mine}
    if bad:
        shown = "; ".join(f"{w}: {v}" for w, v in list(bad.items())[:4])
        raise RuntimeError(f"Dask workers run other package versions or code than this process ({mine}): {shown}. "
                           f"Install the same checkout on every node.")


def _environment(packages: list[str]) -> dict[str, str]:
    """Package versions and the code digest, as one worker sees them."""
    return {**{p: _package_version(p) for p in packages}, "code": code_digest()}
