"""Monte Carlo validation of the claims in ``theorems``.

- :mod:`validation.engine`: realizations of a claim, their samples and verdicts (:func:`~validation.engine.run_claim`);
- :mod:`validation.realization`: one realization as a worker computes it (single-threaded BLAS), non-finite checks;
- :mod:`validation.configs`: configuration labels, flattening, digests, overrides, grouping by a swept attribute;
- :mod:`validation.store`: one file per realization, so interrupted runs resume;
- :mod:`validation.intervals`, :mod:`validation.verdicts`: the intervals and verdict rules of SPEC §5;
- :mod:`validation.plots`, :mod:`validation.report`, :mod:`validation.tables`: PNGs, ``REPORT.md``,
  ``results.json``, tidy tables;
- :mod:`validation.runner`: the run → plot → report loop over claims (``run``, ``suite``, sweeps), exit statuses;
  :mod:`validation.baseline`: a run's verdicts against an earlier ``results.json`` (``suite --baseline``);
- :mod:`validation.backends`: where realizations run (processes, Dask); :mod:`validation.blas`: BLAS threads;
- :mod:`validation.sweepfile` (the TOML format), :mod:`validation.cost` (the cost model), :mod:`validation.sweep`
  (planning and running a sweep, its subcommand);
- :mod:`validation.cli`: the ``randnet-check`` command;
- :mod:`validation.testing` (``assert_claim``) and :mod:`validation.pytest_plugin`: claims in a user's own test suite.
"""
from .blas import stop_idle_spinning

stop_idle_spinning()  # before any validation module imports numpy: see validation/blas.py
