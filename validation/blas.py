"""Environment variables that the BLAS library reads when numpy loads it: set here, on purpose, in the open.

- :func:`stop_idle_spinning`, called when the ``validation`` package is imported (so by the ``randnet-check``
  command, and by ``benchmarks/``): OpenBLAS's idle threads busy-wait about 0.1 s (2²⁸ cycles) after each GEMM
  and take the cores from the numba kernels that follow; ``OPENBLAS_THREAD_TIMEOUT=4`` makes them wait 2⁴
  cycles instead. Measured with 2 threads, N = 32, C = 512: a layer 165 → 111 ms (README "Performance").
  OpenBLAS reads it once, when numpy loads it: after ``import numpy`` it has no effect, and a value the user
  set is kept.
- :func:`single_threaded_children`: a context in which the processes this one *starts* get a single-threaded
  BLAS (a fresh process imports numpy anew and reads the variables then), as Dask's nanny gives its workers;
  the parent's own environment is restored on exit.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

THREAD_TIMEOUT = {"OPENBLAS_THREAD_TIMEOUT": "4"}
SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""What Dask's nanny (``distributed.nanny.pre-spawn-environ``) sets for its workers."""


def stop_idle_spinning() -> None:
    """Set ``OPENBLAS_THREAD_TIMEOUT`` unless the user did (module doc); effective only before numpy loads."""
    for name, value in THREAD_TIMEOUT.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Within the block, child processes started from here inherit :data:`SINGLE_THREAD_ENV`."""
    saved = {k: os.environ.get(k) for k in SINGLE_THREAD_ENV}
    os.environ.update(SINGLE_THREAD_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
