"""Monte Carlo validation of the claims in ``theorems``.

- :mod:`validation.engine`: realizations of a claim, their samples and verdicts (:func:`~validation.engine.run_claim`);
- :mod:`validation.store`: one file per realization, so interrupted runs resume;
- :mod:`validation.intervals`, :mod:`validation.verdicts`: the intervals and verdict rules of SPEC §5;
- :mod:`validation.plots`, :mod:`validation.report`: PNGs, ``REPORT.md`` and ``results.json``;
- :mod:`validation.backends`, :mod:`validation.sweep`, :mod:`validation.tables`: where realizations run,
  TOML sweeps, tidy tables;
- :mod:`validation.cli`: the ``randnet-check`` command.
"""
import os

# OpenBLAS's idle threads busy-wait about 0.1 s (2²⁸ cycles) after each GEMM and take the cores from the numba
# kernels that follow; 2⁴ cycles instead (read when numpy loads OpenBLAS, so only if numpy is not loaded yet).
# Measured with 2 threads, N = 32, C = 512: a layer 165 → 111 ms. See README "Performance".
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
