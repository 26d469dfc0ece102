"""Plots of the expressivity claims (P4, P5) and of the RegNorm regularizer (RN).

Each function draws a :class:`validation.engine.ClaimResult` into PNG files, one panel per configuration,
reading the samples the claim modules measure (``theorems.p4``, ``theorems.p5``, ``theorems.rn``).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from theorems.rn import START_KINDS

from .plots import register_plot, save, subplots


def _panels(n: int, width: float = 5.0, height: float = 3.8):
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()[:n]


def _band(ax, x, samples: np.ndarray, color: str, label: str) -> None:
    """Mean over realizations and, shaded, their range [min, max] (positive, so log axes stay readable)."""
    ax.plot(x, samples.mean(axis=0), "o-", ms=3, color=color, label=label)
    ax.fill_between(x, samples.min(axis=0), samples.max(axis=0), color=color, alpha=0.2, lw=0)


def _title(result, r) -> str:
    return textwrap.fill(f"{r.label} — {r.verdict}", 48)


@register_plot("p4_distance_vs_width")
def plot_distance_vs_width(result, out_dir) -> list[Path]:
    """Trained nets: final ``d/η*`` against the hidden width, without normalization and with IN; ``η*`` drawn at 1."""
    fig, axes = _panels(len(result.results))
    for ax, r in zip(axes, result.results):
        widths = np.asarray(r.config.widths, dtype=float)
        _band(ax, widths, r.samples["none_over_eta_star"], "C0", "no normalization (Eqs. 16–17)")
        _band(ax, widths, r.samples["in_over_eta_star"], "C3", "instance norm (Eqs. 2–4)")
        ax.axhline(1.0, color="k", ls="--", lw=1.2, label="η* (IN floor, P5)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(widths, [f"{w:g}" for w in widths])
        ax.set_xlabel("hidden width")
        ax.set_ylabel("trained d(Φ) / η*")
        ax.set_title(_title(result, r), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"{result.claim.key}: distance to the identity after training (mean; band: range over "
                 "realizations)", fontsize=10)
    fig.tight_layout()
    return [save(fig, out_dir, f"{result.claim.key}_distance_vs_width")]


@register_plot("p4_smooth_rate")
def plot_smooth_rate(result, out_dir) -> list[Path]:
    """Smooth construction: RMS relative error against the scale ``s`` per activation, with a slope-2 reference."""
    fig, axes = _panels(len(result.results))
    for ax, r in zip(axes, result.results):
        acts, scales = r.config.smooth, np.asarray(r.config.scales)
        if not acts:
            ax.axis("off")
            continue
        rms = r.samples["smooth_rms"].reshape(r.realizations, len(acts), len(scales)).mean(axis=0)
        slopes = r.samples["smooth_slope"].mean(axis=0)
        for i, (a, s) in enumerate(zip(acts, slopes)):
            ax.plot(scales, rms[i], "o-", ms=3, color=f"C{i}", label=f"{a} (slope {s:.3f})")
        ref = rms[:, 0].max() * (scales / scales[0]) ** 2
        ax.plot(scales, ref, "k:", label="∝ s² (Taylor)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("scale s")
        ax.set_ylabel("RMS error / RMS(x)")
        ax.set_title(_title(result, r), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"{result.claim.key}: (φ(c + s x) − φ(c − s x)) / (2 s φ′(c)) − x (mean over realizations)",
                 fontsize=10)
    fig.tight_layout()
    return [save(fig, out_dir, f"{result.claim.key}_smooth_rate")]


@register_plot("p5_training_curves")
def plot_training_curves(result, out_dir) -> list[Path]:
    """IN nets trained toward the identity: ``d/η*`` against the step, with the bound at 1."""
    fig, axes = _panels(len(result.results))
    for ax, r in zip(axes, result.results):
        curve = r.samples["trajectory"]
        if np.isnan(curve).all():
            d = r.samples["d_final_rel"][:, 0]
            ax.text(0.5, 0.5, f"η* = 0 (no inter-instance variability)\nfinal d / P(x) = {d.max():.2e} at most",
                    ha="center", va="center", transform=ax.transAxes, fontsize=8)
            ax.set_axis_off()
            ax.set_title(_title(result, r), fontsize=9)
            continue
        steps = np.asarray(r.config.checkpoint_steps, dtype=float) + 1
        for k, c in enumerate(curve):
            ax.plot(steps, c, color="C0", lw=0.8, alpha=0.6, label="realizations" if k == 0 else None)
        ax.axhline(1.0, color="k", ls="--", lw=1.2, label="η*")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training step + 1")
        ax.set_ylabel("d(Φ) / η*")
        ax.set_title(_title(result, r), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"{result.claim.key}: IN nets trained on d(Φ) approach η* from above", fontsize=10)
    fig.tight_layout()
    return [save(fig, out_dir, f"{result.claim.key}_training_curves")]


@register_plot("rn_descent")
def plot_descent(result, out_dir) -> list[Path]:
    """Gradient descent on R from each kind of start (median and range over realizations), and on the
    double-well control ``F(R)`` (dashed), with the success threshold."""
    fig, axes = _panels(len(result.results))
    for ax, r in zip(axes, result.results):
        steps = np.asarray(r.config.checkpoint_steps, dtype=float) + 1
        shape = (r.realizations, len(START_KINDS), len(steps))
        for quantity, style, suffix in (("curve", "-", "R"), ("curve_double_well", "--", "F(R), double well")):
            curves = np.maximum(r.samples[quantity].reshape(shape), 1e-34)
            for i, kind in enumerate(START_KINDS):
                ax.plot(steps, np.median(curves[:, i], axis=0), style, color=f"C{i}", label=f"{kind}: {suffix}")
                if style == "-":
                    ax.fill_between(steps, curves[:, i].min(axis=0), curves[:, i].max(axis=0), color=f"C{i}",
                                    alpha=0.15, lw=0)
        ax.axhline(r.config.threshold, color="k", ls=":", lw=1, label="threshold")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("gradient-descent step + 1")
        ax.set_ylabel("penalty")
        ax.set_title(_title(result, r), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(f"{result.claim.key}: descent on the RegNorm regularizer (median, band: range over realizations)",
                 fontsize=10)
    fig.tight_layout()
    return [save(fig, out_dir, f"{result.claim.key}_descent")]


@register_plot("rn_net_batch_means")
def plot_net_batch_means(result, out_dir) -> list[Path]:
    """RegNorm nets: ``R(y^l)`` per layer at initialization, after training with ``λR`` and with ``λ = 0``."""
    fig, axes = _panels(len(result.results))
    for ax, r in zip(axes, result.results):
        layers = np.arange(1, r.samples["R_init"].shape[1] + 1, dtype=float)
        for q, color, label in (("R_init", "C7", "initialization"), ("R_noreg", "C3", "trained, λ = 0"),
                                ("R_reg", "C0", f"trained, λ = {r.config.lam:g}")):
            _band(ax, layers, np.maximum(r.samples[q], 1e-34), color, label)
        ax.axhline(r.config.threshold, color="k", ls=":", lw=1, label="threshold")
        ax.set_yscale("log")
        ax.set_xticks(layers)
        ax.set_xlabel("layer l")
        ax.set_ylabel("R(y^l) = mean_i (batch mean of ĥ_i)²")
        ax.set_title(_title(result, r), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"{result.claim.key}: batch means of RegNorm layers (mean; band: range over realizations)",
                 fontsize=10)
    fig.tight_layout()
    return [save(fig, out_dir, f"{result.claim.key}_batch_means")]
