"""Monte Carlo validation of the claims in ``theorems``.

- :mod:`validation.engine`: realizations of a claim, their samples and verdicts (:func:`~validation.engine.run_claim`);
- :mod:`validation.store`: one file per realization, so interrupted runs resume;
- :mod:`validation.intervals`, :mod:`validation.verdicts`: the intervals and verdict rules of SPEC §5;
- :mod:`validation.plots`, :mod:`validation.report`: PNGs, ``REPORT.md`` and ``results.json``;
- :mod:`validation.backends`, :mod:`validation.sweep`, :mod:`validation.tables`: where realizations run,
  TOML sweeps, tidy tables;
- :mod:`validation.cli`: the ``randnet-check`` command.
"""
