"""Plots of claim results (matplotlib's object-oriented API: :func:`subplots` makes a ``Figure`` that no pyplot
state knows of, saved as PNG by the Agg canvas; importing this module changes no global matplotlib setting).

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
import re
import textwrap
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

from .verdicts import interval_kind

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


# -- helpers -------------------------------------------------------------------------------------------
def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:60] or "plot"


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kwargs):
    """A new ``Figure`` and its axes (``Figure.subplots(nrows, ncols, **kwargs)``), outside pyplot: nothing to
    close, no backend to select."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save(fig, out_dir, name: str) -> Path:
    """Save ``fig`` as ``out_dir/name.png`` (creating the folder), return the path."""
    path = Path(out_dir) / f"{slug(name)}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def cell_axis(labels: Sequence[Any]) -> tuple[np.ndarray, list[str] | None]:
    """x positions for cell labels: the labels themselves when numeric, else 0..n−1 with tick labels."""
    try:
        return np.asarray(labels, dtype=float), None
    except (TypeError, ValueError):
        return np.arange(len(labels), dtype=float), [str(c) for c in labels]


def wants_log(*arrays: np.ndarray, decades: float = 2.0) -> bool:
    """Log scale when every finite value is positive and they span more than ``decades`` decades."""
    v = np.concatenate([np.ravel(a) for a in arrays])
    v = v[np.isfinite(v)]
    return v.size > 0 and bool(np.all(v > 0)) and np.log10(v.max() / v.min()) > decades


def limit_curves(result, judgements, label: str, quantity) -> list[np.ndarray]:
    """The distinct C = ∞ values (``result.limits``, SPEC §8) of the quantity that comparison ``label`` reads
    (``judgements(config_result)`` lists the judgements, ``quantity(judgement)`` names it); one per group of
    configurations that differ only in their widths."""
    curves: list[np.ndarray] = []
    for r in result.results:
        j = next((j for j in judgements(r) if j.comparison.label == label), None)
        lim = getattr(result, "limits", {}).get(r.label, {}).get(quantity(j)) if j is not None else None
        if lim is not None and not any(np.array_equal(lim.ravel(), c) for c in curves):
            curves.append(np.asarray(lim, float).ravel())
    return curves


BANDS = {"betting": "simultaneous betting confidence sequence", "t": "simultaneous t-interval"}
"""The band of a ``"mean"`` comparison, by :func:`validation.verdicts.interval_kind`."""


# -- generic plots -------------------------------------------------------------------------------------
@register_plot("comparison")
def plot_comparison(result, out_dir, log: bool | None = None) -> list[Path]:
    """Per comparison: the measured value per cell with its band, against the prediction, one line per config.

    Band: ``"mean"``: the simultaneous (Bonferroni) interval the verdict reads (:data:`BANDS`); ``"exact"`` and
    ``"probability"``: the range [min, max] over realizations. ``log``: None chooses from the data.
    """
    paths = []
    labels = list(dict.fromkeys(j.comparison.label for r in result.results for j in r.comparisons))
    for i, label in enumerate(labels):
        fig, ax = subplots(figsize=(7.5, 4.5))
        drawn = []
        for k, r in enumerate(result.results):
            j = next((j for j in r.comparisons if j.comparison.label == label), None)
            if j is None:
                continue
            c = j.comparison
            x, ticks = cell_axis(j.cells)
            samples = r.samples[c.quantity].reshape(r.realizations, -1)
            mean = samples.mean(axis=0)
            low, high = (j.low, j.high) if c.mode == "mean" else (samples.min(axis=0), samples.max(axis=0))
            color = f"C{k % 10}"
            ax.plot(x, mean, "o-", ms=3, color=color, label=f"{r.label}: {j.verdict} (δ = {c.tolerance:.3g})")
            ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
            ax.plot(x, j.prediction, "--", color=color, lw=1.2)
            drawn += [mean, j.prediction]
            if ticks:
                ax.set_xticks(x, ticks, rotation=45, ha="right")
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for lim in limit_curves(result, lambda r: r.comparisons, label, lambda j: j.comparison.quantity):
            x, _ = cell_axis(j.cells)
            ax.plot(x, lim, "k-", lw=2, alpha=0.7, label="C = ∞ (infinite-width limit, SPEC §8)")
            drawn.append(lim)
        if log if log is not None else wants_log(*drawn):
            ax.set_yscale("log")
        band = BANDS.get(interval_kind(c), "range over realizations")
        ax.plot([], [], "k--", lw=1.2, label=f"prediction ({c.relation} up to δ)")
        ax.set_title(f"{result.claim.key}: {label}\nmean over realizations, band: {band}", fontsize=10)
        ax.set_xlabel(c.cell_name)
        ax.set_ylabel(c.quantity)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        paths.append(save(fig, out_dir, f"{result.claim.key}_comparison_{i + 1}_{label}"))
    return paths


@register_plot("comparison_log")
def plot_comparison_log(result, out_dir) -> list[Path]:
    """:func:`plot_comparison` on a log scale (e.g. T1's ``ρ^{l−1}`` bound, a straight line)."""
    return plot_comparison(result, out_dir, log=True)


@register_plot("sweep_convergence")
def plot_sweep_convergence(result, out_dir) -> list[Path]:
    """Per trend: the mean worst-cell excess over the prediction against the swept attribute, with its
    t-interval, on log-log axes (when positive) with a reference slope ``value^(−1/2)``."""
    paths = []
    for i, t in enumerate(result.trends):
        fig, ax = subplots(figsize=(6.5, 4.5))
        v = np.asarray(t.values, dtype=float)
        err = np.vstack([t.excess - t.low, t.high - t.excess])
        ax.errorbar(v, t.excess, yerr=np.clip(err, 0, None), fmt="o-", capsize=4,
                    label=f"measured (slope {t.slope:.2f} [{t.slope_low:.2f}, {t.slope_high:.2f}])"
                    if np.isfinite(t.slope) else "measured")
        if np.all(t.low > 0):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.plot(v, t.excess[0] * np.sqrt(v[0] / v), "k:", label=f"reference ∝ {t.sweep}^(−1/2)")
        else:
            ax.set_xscale("log")
            ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(v, [f"{x:g}" for x in v])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(textwrap.fill(f"{result.claim.key}: {t.label} — trend {t.verdict}"
                                   + (f" ({t.fixed})" if t.fixed else ""), 70), fontsize=9)
        ax.set_xlabel(t.sweep)
        ax.set_ylabel("worst-cell excess over the prediction")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        paths.append(save(fig, out_dir, f"{result.claim.key}_sweep_{i + 1}_{t.label}"))
    return paths


POWER_TERMS = ("(1) μ_c(y)²: dataset scale", "(2) σ_c(μ_x,c(y))²: instance means vary",
               "(3) μ_c(σ_x,c(y))²: mean instance spread", "(4) σ_c(σ_x,c(y))²: instance spreads vary")


def stacked_power(ax, terms: np.ndarray, title: str) -> None:
    """The four layer-level power terms ``(L, 4)`` of Eq. 5 stacked against depth (a "power plot")."""
    depth = np.arange(1, len(terms) + 1)
    ax.stackplot(depth, terms.T, labels=POWER_TERMS, alpha=0.85)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("layer l")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(1, max(len(terms), 2))
    ax.grid(alpha=0.3)


@register_plot("power")
def plot_power(result, out_dir) -> list[Path]:
    """The four layer-level power terms of ``y^l`` (Eq. 5), mean over realizations, stacked against depth;
    one panel per configuration (the claim measures ``power_y`` of shape (L, 4))."""
    rs = result.results
    for r in rs:
        if "power_y" not in r.samples or r.samples["power_y"].shape[1:][-1:] != (4,):
            raise ValueError(f"plot 'power' needs a quantity 'power_y' of shape (L, 4) per realization; claim "
                             f"{result.claim.key} ({r.label}) measured {sorted(r.samples)}")
    panels = [(r.samples["power_y"].mean(axis=0), textwrap.fill(r.label, 45)) for r in rs]
    limits = getattr(result, "limits", {})
    seen: list[np.ndarray] = []
    for r in rs:  # the C = ∞ profile of each group (SPEC §8): terms (1), (2), and (3)+(4) in the third band
        t = limits.get(r.label, {}).get("power_terms")
        if t is not None and not any(np.array_equal(t, u) for u in seen):
            seen.append(t)
            panels.append((np.column_stack([t, np.zeros(len(t))]),
                           f"C = ∞ (SPEC §8), group {len(seen)}\nband (3) holds (3)+(4)"))
    cols = 2 if len(panels) == 4 else min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig, axes = subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False, sharey=True)
    for ax, (terms, title) in zip(axes.ravel(), panels):
        stacked_power(ax, terms, title)
    for ax in axes[:, 0]:
        ax.set_ylabel("power of y^l")
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=8, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(f"{result.claim.key}: power decomposition of y^l (mean over {rs[0].realizations} realizations)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.45 / (3.6 * rows), 1, 1))
    return [save(fig, out_dir, f"{result.claim.key}_power")]


def draw(result, out_dir) -> tuple[list[Path], list[str]]:
    """Draw every plot ``result.claim.plots`` names; returns the paths and the errors (one line each)."""
    paths, errors = [], []
    for name in result.claim.plots:
        if name not in PLOTS:
            errors.append(f"plot {name!r}: no such plot (registered: {', '.join(sorted(PLOTS))})")
            continue
        try:
            paths += PLOTS[name](result, out_dir)
        except Exception as e:  # a broken plot must not lose the claim's results
            errors.append(f"plot {name!r}: {type(e).__name__}: {e}")
    return paths, errors


def _import_plot_modules() -> None:
    """Import every ``validation.plots_*`` module so that its plots register themselves."""
    package = Path(__file__).parent
    for m in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if m.name.startswith("plots_"):
            importlib.import_module(f"validation.{m.name}")


_import_plot_modules()
