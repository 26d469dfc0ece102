"""Plots of the Extreme Normalization estimator claims (EN10, EN11; ``theorems.en_estimators``).

Each panel is one configuration; bands and error bars are 95% Student-t intervals of the mean over the network
realizations (pointwise), the same intervals the report prints for the reported quantities.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .intervals import t_interval
from .plots import register_plot, save


def _panels(n: int, width: float = 5.6, height: float = 4.0):
    cols = min(n, 2)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()[:n]


def _mean_band(ax, x, samples: np.ndarray, color: str, label: str, style: str = "o-") -> None:
    """Mean over realizations with its 95% t-interval as a band."""
    mean = samples.mean(axis=0)
    ax.plot(x, mean, style, ms=3, color=color, label=label)
    if len(samples) > 1:
        ci = t_interval(samples, 0.95)
        ax.fill_between(x, ci.low, ci.high, color=color, alpha=0.2, lw=0)


@register_plot("en_bias_vs_batch")
def plot_bias_vs_batch(result, out_dir) -> list[Path]:
    """EN10: ``bias_rel(B)`` of each estimator against the batch size (log₂ axis)."""
    from theorems._extreme import ESTIMATOR_NAMES
    from theorems.en_estimators import TREND

    fig, axes = _panels(len(result.results))
    for ax, r in zip(axes, result.results):
        for i, e in enumerate(TREND):
            sizes = np.asarray(r.config.sizes(e), dtype=float)
            _mean_band(ax, sizes, r.samples[f"bias_{e}"], f"C{i}", f"{e} {ESTIMATOR_NAMES[e]}")
        ax.set_xscale("log", base=2)
        b = np.asarray(r.config.batch_sizes, dtype=float)
        ax.set_xticks(b, [f"{x:g}" for x in b])
        ax.minorticks_off()
        ax.set_xlabel("batch size B")
        ax.set_ylabel("bias_rel(B) = ‖E ĝ − G*‖ / ‖G*‖")
        ax.set_title(textwrap.fill(f"{r.label} — {r.verdict}", 60), fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{result.claim.key}: estimator bias against batch size (mean over realizations, band: 95% "
                 "t-interval)", fontsize=10)
    fig.tight_layout()
    return [save(fig, out_dir, f"{result.claim.key}_bias_vs_batch")]


@register_plot("en_modifiers")
def plot_modifiers(result, out_dir) -> list[Path]:
    """EN11: per-example and two-stage bias per modifier (bars with 95% t-intervals), and the per-example relMSE
    against ``B`` with and without shrinkage."""
    from theorems.en_estimators import VARIANTS

    paths = []
    for k, r in enumerate(result.results):
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
        x = np.arange(len(VARIANTS))
        for j, (q, label) in enumerate((("per_example_bias", "per-example (E4)"),
                                        ("two_stage_bias", "two-stage (E5), B = N"))):
            s = r.samples[q]
            mean, ci = s.mean(axis=0), t_interval(s, 0.95)
            err = np.vstack([mean - ci.low, ci.high - mean]) if len(s) > 1 else None
            left.bar(x + (j - 0.5) * 0.38, mean, 0.38, yerr=err, capsize=3, color=f"C{j}", label=label)
        left.set_xticks(x, VARIANTS, rotation=20)
        left.set_ylabel("bias_rel = ‖E ĝ − G*‖ / ‖G*‖")
        left.set_title("bias per modifier (exact expectations)", fontsize=9)
        left.grid(alpha=0.3, axis="y")
        left.legend(fontsize=8)
        sizes = np.asarray(r.config.curve_sizes, dtype=float)
        shrink = r.config.shrink
        _mean_band(right, sizes, r.samples["rel_mse_curve_base"], "C0", "base (r_m = r_v = 1)")
        _mean_band(right, sizes, r.samples["rel_mse_curve_shrink"], "C3",
                   f"shrinkage (r_m = {shrink[0]:g}, r_v = {shrink[1]:g})")
        right.set_xscale("log", base=2)
        right.set_yscale("log")
        right.set_xticks(sizes, [f"{v:g}" for v in sizes])
        right.minorticks_off()
        right.set_xlabel("batch size B")
        right.set_ylabel("per-example relMSE E‖E4 − G*‖² / ‖G*‖²")
        right.set_title("per-example relMSE against B (exact, EN9 (b))", fontsize=9)
        right.grid(alpha=0.3)
        right.legend(fontsize=8)
        fig.suptitle(textwrap.fill(f"{result.claim.key}: {r.label} — {r.verdict} (mean over {r.realizations} "
                                   "realizations, 95% t-intervals)", 110), fontsize=10)
        fig.tight_layout()
        paths.append(save(fig, out_dir, f"{result.claim.key}_modifiers_{k + 1}"))
    return paths
