"""Plots of claim results (matplotlib, Agg backend).

``PLOTS`` maps the names a :class:`theorems.base.Claim` lists in ``Claim.plots`` to functions
``plot(result, out_dir) -> list[pathlib.Path]`` that draw a :class:`validation.engine.ClaimResult`
into PNG files under ``out_dir`` and return their paths. Other modules add plots with::

    from validation.plots import register_plot

    @register_plot("my_plot")
    def my_plot(result, out_dir): ...

Every ``validation/plots_*.py`` module is imported at the end of this module, so its plots are
registered as soon as ``validation.plots`` is imported.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")

PlotFn = Callable[..., list]
PLOTS: dict[str, PlotFn] = {}


def register_plot(name: str) -> Callable[[PlotFn], PlotFn]:
    """Decorator: register ``fn(result, out_dir) -> list[Path]`` under ``name`` in :data:`PLOTS`."""
    def deco(fn: PlotFn) -> PlotFn:
        if name in PLOTS:
            raise ValueError(f"plot {name!r} is already registered")
        PLOTS[name] = fn
        return fn
    return deco


def _import_plot_modules() -> None:
    """Import every ``validation.plots_*`` module so that its plots register themselves."""
    package = Path(__file__).parent
    for m in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if m.name.startswith("plots_"):
            importlib.import_module(f"validation.{m.name}")


_import_plot_modules()
