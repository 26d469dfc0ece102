"""Backends (serial, joblib, dask): results in task order, bit-for-bit equal across backends and worker
counts, and nothing lost when a worker process is killed mid-run.

The Dask tests use a real :class:`distributed.LocalCluster` of 2 single-threaded worker processes
listening on 127.0.0.1 only. Task functions live at module level so worker processes import them.
"""
from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

from randnet import DatasetSpec, NetConfig, layer_stream, realization_seed
from validation import backends
from validation.backends import BACKENDS, LOCAL_HOST, WorkerDeathError, check_worker_versions, dask_client, \
    execute

distributed = pytest.importorskip("distributed")

TINY = NetConfig(widths=8, depth=3, norm="ln", dataset=DatasetSpec(n=4, height=6, width=6, channels=3))
SEED = 11
N_TASKS = 6
WAIT_S = 180  # upper bound on any single dask wait in these tests


# -- task functions (module level: workers import them by name) -----------------------------
def noncollapsed(seed: int, k: int) -> np.ndarray:
    """``1 − P(μ_c(y^l))`` per layer of realization ``k`` of TINY (a randnet measurement)."""
    return np.array([s.noncollapsed_y for s in layer_stream(TINY, realization_seed(seed, k))])


def kill_once(marker: str, victim: int, seed: int, k: int) -> tuple[np.ndarray, int]:
    """Task ``victim`` kills its own worker process the first time it runs (``marker`` records the pid)."""
    if k == victim and not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return noncollapsed(seed, k), os.getpid()


def kill_always(k: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return k


def fail_once(marker: str, k: int) -> int:
    """Raises the first time task 1 runs, succeeds afterwards."""
    if k == 1 and not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("transient failure")
    return k * k


def always_fails(k: int) -> int:
    raise ValueError(f"task {k} is broken")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture
def client(cluster):
    with distributed.Client(cluster, set_as_default=False, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def serial_results():
    return execute(noncollapsed, [(SEED, k) for k in range(N_TASKS)], backend="serial", progress=False)


def _assert_bitwise(results, expected):
    assert len(results) == len(expected)
    for k, (a, b) in enumerate(zip(results, expected)):
        assert a.dtype == b.dtype and a.shape == b.shape, k
        assert a.tobytes() == b.tobytes(), f"realization {k} differs: {a} vs {b}"


# -- serial and joblib ----------------------------------------------------------------------
def test_serial_results_are_per_realization(serial_results):
    """Sanity of the reference: each realization is its own draw, and redrawing it gives the same bits."""
    assert len({r.tobytes() for r in serial_results}) == N_TASKS
    _assert_bitwise([noncollapsed(SEED, 3)], [serial_results[3]])
    assert all(np.all((r > 0) & (r < 1)) for r in serial_results)


def test_joblib_two_workers_bitwise_equal_to_serial(serial_results):
    arrived = []
    out = execute(noncollapsed, [(SEED, k) for k in range(N_TASKS)], backend="joblib", jobs=2, progress=False,
                  on_result=lambda i, r: arrived.append((i, r)))
    _assert_bitwise(out, serial_results)
    assert sorted(i for i, _ in arrived) == list(range(N_TASKS))
    for i, r in arrived:
        assert r is out[i]


def test_serial_on_result_in_order():
    seen = []
    out = execute(pow, [(2, 3), (3, 2), (5, 1)], backend="serial", progress=False,
                  on_result=lambda i, r: seen.append((i, r)))
    assert out == [8, 9, 5]
    assert seen == [(0, 8), (1, 9), (2, 5)]


def test_empty_task_list():
    for backend in ("serial", "joblib"):
        assert execute(noncollapsed, [], backend=backend, jobs=2, progress=False) == []


@pytest.mark.parametrize("kwargs, match", [
    (dict(backend="spark"), "unknown backend 'spark'"),
    (dict(backend="joblib", jobs=0), "jobs must be a positive integer"),
    (dict(backend="joblib", jobs=1.5), "jobs must be a positive integer"),
    (dict(backend="serial", scheduler="tcp://127.0.0.1:8786"), "applies to backend 'dask' only"),
    (dict(backend="dask", scheduler="tcp://127.0.0.1:8786", client=object()), "either scheduler= or client="),
    (dict(backend="dask", retries=-1), "retries must be a non-negative integer"),
    (dict(backend="dask", timeout=0), "timeout must be a positive number"),
    (dict(backend="joblib", timeout=5), "timeout applies to backend 'dask' only"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        execute(noncollapsed, [(SEED, 0)], progress=False, **kwargs)


def test_backends_constant():
    assert BACKENDS == ("serial", "joblib", "dask")


# -- dask -----------------------------------------------------------------------------------
def test_dask_bitwise_equal_to_serial_and_in_task_order(client, serial_results):
    arrived = []
    out = execute(noncollapsed, [(SEED, k) for k in range(N_TASKS)], backend="dask", client=client,
                  progress=False, timeout=WAIT_S, on_result=lambda i, r: arrived.append(i))
    _assert_bitwise(out, serial_results)
    assert sorted(arrived) == list(range(N_TASKS))
    # the work really was spread: both worker processes are up and were reachable
    assert len(client.scheduler_info()["workers"]) == 2


def test_dask_by_scheduler_address(cluster, serial_results):
    address = cluster.scheduler_address
    assert address.startswith(f"tcp://{LOCAL_HOST}:")
    out = execute(noncollapsed, [(SEED, k) for k in range(N_TASKS)], backend="dask", scheduler=address,
                  progress=False, timeout=WAIT_S)
    _assert_bitwise(out, serial_results)


def test_dask_uses_the_default_client_of_an_enclosing_block(cluster, serial_results):
    """One ``dask_client`` block serves several ``execute`` calls (a sweep over claims) with one cluster."""
    with dask_client(cluster.scheduler_address) as c:
        first = execute(noncollapsed, [(SEED, k) for k in range(3)], backend="dask", progress=False,
                        timeout=WAIT_S)
        second = execute(noncollapsed, [(SEED, k) for k in range(3, N_TASKS)], backend="dask", progress=False,
                         timeout=WAIT_S)
        assert distributed.default_client() is c
    _assert_bitwise(first + second, serial_results)


def test_dask_worker_killed_mid_run_loses_nothing(client, serial_results, tmp_path):
    """Task 2 SIGKILLs its own worker process: the nanny restarts it, the scheduler reschedules the task
    (and anything else lost with the worker), and every result comes back, bit-for-bit."""
    marker = str(tmp_path / "killed")
    arrived = []
    out = execute(kill_once, [(marker, 2, SEED, k) for k in range(N_TASKS)], backend="dask", client=client,
                  progress=False, timeout=WAIT_S, on_result=lambda i, r: arrived.append(i))
    assert os.path.exists(marker), "the victim task never ran"
    killed_pid = int(open(marker).read())
    assert not _alive(killed_pid), "the worker process was not killed"
    _assert_bitwise([r for r, _ in out], serial_results)
    assert out[2][1] != killed_pid, "the victim's result must come from a live worker"
    assert sorted(arrived) == list(range(N_TASKS)), "a result was lost or delivered twice"
    # the cluster healed: two workers again
    client.wait_for_workers(2, timeout=WAIT_S)


def test_dask_retries_a_task_that_raised(client, tmp_path):
    marker = str(tmp_path / "failed")
    out = execute(fail_once, [(marker, k) for k in range(4)], backend="dask", client=client, retries=1,
                  progress=False, timeout=WAIT_S)
    assert os.path.exists(marker)
    assert out == [0, 1, 4, 9]


def test_dask_error_without_retries_reaches_caller(client, tmp_path):
    marker = str(tmp_path / "failed")
    with pytest.raises(RuntimeError, match="transient failure"):
        execute(fail_once, [(marker, k) for k in range(4)], backend="dask", client=client, retries=0,
                progress=False, timeout=WAIT_S)


def test_dask_persistent_error_reaches_caller_with_its_type(client):
    with pytest.raises(ValueError, match="task 0 is broken"):
        execute(always_fails, [(0,)], backend="dask", client=client, retries=1, progress=False, timeout=WAIT_S)


def test_dask_own_local_cluster_gives_up_on_a_task_that_always_kills_its_worker():
    """With no client anywhere, ``dask_client`` starts (and closes) its own LocalCluster; a task that kills
    every worker it lands on ends in a clear :class:`WorkerDeathError` instead of hanging."""
    assert not _has_default_client()
    with dask_client(jobs=1, allowed_failures=0) as c:
        assert c.scheduler.address.startswith(f"tcp://{LOCAL_HOST}:")
        with pytest.raises(WorkerDeathError, match="allowed-failures"):
            execute(kill_always, [(0,)], backend="dask", progress=False, timeout=WAIT_S)
    assert not _has_default_client()


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with dask_client("tcp://127.0.0.1:9", timeout=2):
            pass


def test_bad_scheduler_objects():
    with pytest.raises(TypeError, match="scheduler must be an address string, a scheduler file"):
        with dask_client(3.14):
            pass
    with pytest.raises(ValueError, match="empty scheduler address"):
        with dask_client("  "):
            pass


def _has_default_client() -> bool:
    try:
        distributed.default_client()
    except ValueError:
        return False
    return True


def test_dask_by_scheduler_file(cluster, serial_results, tmp_path):
    """The file ``dask scheduler --scheduler-file FILE.json`` writes (HPC batch jobs pass it around)."""
    path = tmp_path / "scheduler.json"
    path.write_text(json.dumps({"type": "Scheduler", "address": cluster.scheduler_address}))
    out = execute(noncollapsed, [(SEED, k) for k in range(N_TASKS)], backend="dask", scheduler=str(path),
                  progress=False, timeout=WAIT_S)
    _assert_bitwise(out, serial_results)
    with pytest.raises(FileNotFoundError, match="scheduler file not found"):
        with dask_client(str(tmp_path / "missing.json")):
            pass


def test_worker_versions_are_checked(client, monkeypatch):
    check_worker_versions(client)  # the same checkout everywhere: no error
    real = backends._package_version
    monkeypatch.setattr(backends, "_package_version", lambda p: "9.9.9" if p == "randnet" else real(p))
    with pytest.raises(RuntimeError, match="Dask workers run other package versions or code than this process"):
        check_worker_versions(client)


def test_code_digest_sees_source_changes(tmp_path, monkeypatch):
    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = backends.code_digest(("fakepkg",))
    assert before == backends.code_digest(("fakepkg",)) and len(before) == 16
    (pkg / "__init__.py").write_text("X = 2\n")
    assert backends.code_digest(("fakepkg",)) != before
    assert backends.code_digest() != before  # randnet, theorems, validation


# -- bit for bit at widths where the GEMMs block differently (BLAS threads) ----------------------------
# Realizations of real claims on float32 nets whose convolutions run large GEMMs: widths 32, 64 and 96 (64 is
# where serial differed from joblib and Dask by up to 4e-7 when the serial process ran a 2-thread BLAS), the
# three conv paths (K = 1 direct, K = 3 Winograd, K = 5 Fourier), several norms.
WIDE = [NetConfig(widths=w, depth=2, kernel_size=k, norm=norm, groups=8 if norm == "gn" else None,
                  dataset=DatasetSpec(n=n, height=size, width=size))
        for w, k, norm, n, size in [(64, 3, "ln", 8, 8), (64, 5, "bn", 32, 16), (96, 1, "in", 8, 8),
                                    (32, 3, "gn", 8, 8), (64, 3, "ln+pn", 8, 12)]]
WIDE_TASKS = [(claim, c, SEED, k) for c in WIDE for claim, k in (("T1", 0), ("P1", 1))]


def _realize_all(**kwargs):
    from validation.realization import realize

    return [values for values, _ in execute(realize, WIDE_TASKS, progress=False, **kwargs)]


def _assert_same_bytes(a, b, what):
    for task, x, y in zip(WIDE_TASKS, a, b):
        assert x.keys() == y.keys()
        for q in x:
            assert x[q].tobytes() == y[q].tobytes(), f"{what}: {task[0]} {task[1].label()} {q} differs"


@pytest.fixture(scope="module")
def wide_serial():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):  # the serial process's own BLAS runs 2 threads, as on 2 cores
        return _realize_all(backend="serial")


def test_serial_joblib_and_dask_give_the_same_bytes_at_width_64(wide_serial, client):
    _assert_same_bytes(_realize_all(backend="joblib", jobs=2), wide_serial, "joblib, 2 workers")
    _assert_same_bytes(_realize_all(backend="dask", client=client, timeout=WAIT_S), wide_serial, "dask")


def test_a_realization_does_not_depend_on_the_callers_blas_threads(wide_serial):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        _assert_same_bytes(_realize_all(backend="serial"), wide_serial, "1 vs 2 BLAS threads")


def test_without_the_limit_blas_threads_would_change_the_bits():
    """What the limit guards against (so the tests above can fail): the same measurement with 1 and 2 BLAS
    threads, without :func:`validation.realization.single_threaded_blas`."""
    from threadpoolctl import threadpool_limits

    from validation.realization import get_claim

    def raw(threads):
        with threadpool_limits(threads, user_api="blas"):
            return [get_claim(c).measure(cfg, realization_seed(s, k)) for c, cfg, s, k in WIDE_TASKS]

    one, two = raw(1), raw(2)
    differ = [q for a, b in zip(one, two) for q in a if np.asarray(a[q]).tobytes() != np.asarray(b[q]).tobytes()]
    if not differ:
        pytest.skip("this BLAS gives the same bits with 1 and 2 threads on these shapes")
    assert differ


def test_numba_kernels_do_not_depend_on_their_thread_count():
    """numba's parallel kernels write each output element from one thread: 1 or 2 threads give the same bits."""
    import numba

    from validation.realization import realize

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = [realize(*t)[0] for t in WIDE_TASKS]
        numba.set_num_threads(2)
        two = [realize(*t)[0] for t in WIDE_TASKS]
    finally:
        numba.set_num_threads(before)
    _assert_same_bytes(one, two, "numba 1 vs 2 threads")


# -- joblib workers end with their parent ---------------------------------------------------------------
PARENT = """
import os, sys, time
sys.path.insert(0, {root!r})
from validation.backends import execute
pids = set(execute(os.getpid, [()] * 8, backend="joblib", jobs=2, progress=False))
print(" ".join(map(str, sorted(pids))), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_joblib_workers_do_not_outlive_a_killed_parent(sig, tmp_path):
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    parent = subprocess.Popen([sys.executable, "-c", PARENT.format(root=root)], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert workers and parent.pid not in workers
        assert all(_alive(p) for p in workers)  # idle, kept for reuse
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 5.0
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers), "a joblib worker outlived its parent by more than 5 s"
    finally:
        parent.kill()


def test_shutdown_workers_stops_the_idle_ones():
    pids = set(execute(os.getpid, [()] * 4, backend="joblib", jobs=2, progress=False))
    assert pids and os.getpid() not in pids
    backends.shutdown_workers()
    assert not any(_alive(p) for p in pids)
    backends.shutdown_workers()  # none left: nothing to do


def test_a_scheduler_file_that_is_not_one_is_a_clear_error(tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text("not json")
    with pytest.raises(ValueError, match="is not a Dask scheduler file \\(not JSON"):
        with dask_client(str(bad)):
            pass
    bad.write_text(json.dumps({"type": "Scheduler"}))
    with pytest.raises(ValueError, match="has no \"address\" entry"):
        with dask_client(str(bad)):
            pass


def test_an_unreachable_scheduler_fails_fast():
    import time

    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="Connection refused"):
        with dask_client("tcp://127.0.0.1:9", timeout=30):
            pass
    assert time.perf_counter() - start < 5
