"""Plots of the Proxy Norm claims: Fig. 2 power plots (FIG2), Fig. 5's three panels (FIG5), Theorem 3 in nets (T3-net) and under its
exact hypotheses (T3), linearity against collapse (P2), and the user-norm diagnostic (not a claim).

Registered plots take ``(result, out_dir)`` with ``result`` a :class:`validation.engine.ClaimResult`;
:func:`draw_diagnosis` takes a :class:`theorems.diagnose.Diagnosis`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .plots import register_plot, save, stacked_power, subplots

LIMIT_STYLE = dict(color="k", ls=":", lw=1.4, label="C = ∞ (infinite-width limit)")
"""How an infinite-width curve (:func:`validation.reproduce.infinite_width_curves`) is drawn over a finite-width one."""

T3_NET_PANELS = (("mean_y_dev", "RMS_c μ_c(y)"), ("std_y_dev", "RMS_c (σ_c(y) − 1)"),
                 ("collapse_step", "collapse step: Δ P(μ_c)/P, z^{l−1} → y^l"),
                 ("mean_z_dev", "RMS_c μ_c(z)"), ("std_z_dev", "RMS_c (σ_c(z) − 1)"),
                 ("imbalance_step", "imbalance step: Δ CV_c(P_c), z^{l−1} → y^l"))


def _norms(samples, prefix: str) -> list[str]:
    """The norms ``n`` of the quantities ``prefix[n]``, in measurement order."""
    return [k[len(prefix) + 1:-1] for k in samples if k.startswith(prefix + "[")]


def _legend_below(fig, ax, rows: int = 1) -> None:
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0.12 / rows, 1, 1))


@register_plot("fig2_power_plots")
def plot_fig2(result, out_dir, limit=None) -> list[Path]:
    """Fig. 2: per configuration, one power plot of ``y^l`` per norm side by side (mean over realizations),
    titled with the profile's distance to BN's. ``limit``: per norm, the infinite-width curves
    (``{"power_y": (L, 4)}``, :func:`validation.reproduce.infinite_width_curves`), whose terms' boundaries are drawn
    as dotted lines over the stacked terms."""
    paths = []
    for i, r in enumerate(result.results):
        norms = _norms(r.samples, "power_y")
        fig, axes = subplots(1, len(norms), figsize=(3.2 * len(norms), 3.6), sharey=True, squeeze=False)
        for ax, norm in zip(axes[0], norms):
            d = r.samples.get(f"distance[{norm}]")
            title = norm if d is None else f"{norm}\nd to bn = {d.mean():.3f}"
            stacked_power(ax, r.mean(f"power_y[{norm}]"), title)
            terms = (limit or {}).get(norm, {}).get("power_y")
            if terms is not None:
                cumulative = np.cumsum(terms, axis=1)[:, :3]
                ax.plot(np.arange(1, len(terms) + 1), cumulative, **{**LIMIT_STYLE, "label": None})
        axes[0, 0].set_ylabel("power of y^l")
        fig.suptitle(f"{result.claim.key}: power plots, {r.label} ({r.realizations} realizations)"
                     + (" — dotted: C = ∞" if limit else ""), fontsize=10)
        _legend_below(fig, axes[0, 0])
        paths.append(save(fig, out_dir, f"{result.claim.key}_power_plots_{i + 1}"))
    return paths


def _mean_band(ax, r, quantity: str, color: str, label: str) -> None:
    """The mean of ``quantity`` per layer and its pointwise 95% t-interval."""
    mean, (low, high) = r.mean(quantity), r.confidence_interval(quantity)
    depth = np.arange(1, len(mean) + 1)
    ax.plot(depth, mean, marker="o", ms=2.5, color=color, label=label)
    ax.fill_between(depth, low, high, color=color, alpha=0.2, lw=0)


@register_plot("fig5_panels")
def plot_fig5(result, out_dir, limit=None) -> list[Path]:
    """Fig. 5: left, LN's ``1 − P(μ_c(y^l))`` and Theorem 1's bound ``ρ^{l−1}``; centre, LN's LN-as-scaling ratio
    ``r^l``; right, the linearity ``Λ^l`` of LN and GN (means and pointwise 95% t-intervals). ``limit``: per norm,
    infinite-width curves (``noncollapsed``, ``ln_scaling_ratio``, ``linearity``), drawn dotted where given."""
    paths = []
    for i, r in enumerate(result.results):
        net = r.config.net
        depth = np.arange(1, net.depth + 1)
        fig, (left, centre, right) = subplots(1, 3, figsize=(14, 4))
        _mean_band(left, r, "noncollapsed[ln]", "C0", "ln: 1 − P(μ_c(y^l))")
        left.plot(depth, net.rho ** (depth - 1.0), "k--", lw=1, label=f"ρ^(l−1), ρ = {net.rho:.4f}")
        left.set_yscale("log")
        _mean_band(centre, r, "ln_scaling_ratio[ln]", "C0", "ln: r^l")
        for k, norm in enumerate(("ln", "gn")):
            _mean_band(right, r, f"linearity[{norm}]", f"C{k}", f"{norm}: Λ^l")
        right.set_yscale("log")
        for ax, quantity, norms in ((left, "noncollapsed", ("ln",)), (centre, "ln_scaling_ratio", ("ln",)),
                                    (right, "linearity", ("ln", "gn"))):
            for norm in norms:
                curve = (limit or {}).get(norm, {}).get(quantity)
                if curve is not None:
                    ax.plot(np.arange(1, len(curve) + 1), curve, **{**LIMIT_STYLE, "label": f"{norm}, C = ∞"})
        for ax, title in ((left, "non-collapsed fraction (LN) vs Theorem 1"), (centre, "LN-as-scaling ratio r^l"),
                          (right, "channel-wise linearity Λ^l")):
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("layer l")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"{result.claim.key}: {r.label} ({r.realizations} realizations, 95% pointwise t-intervals)",
                     fontsize=10)
        fig.tight_layout()
        paths.append(save(fig, out_dir, f"{result.claim.key}_panels_{i + 1}"))
    return paths


@register_plot("t3_net_deviations")
def plot_t3_net(result, out_dir) -> list[Path]:
    """T3-net: per configuration, the per-layer deviations of ``y^l, z^l`` from channel-wise normalization and
    the aggravation steps, one line per norm with its pointwise t-interval."""
    paths = []
    for i, r in enumerate(result.results):
        norms = _norms(r.samples, "mean_z_dev")
        fig, axes = subplots(2, 3, figsize=(14, 7.5))
        for ax, (key, title) in zip(axes.ravel(), T3_NET_PANELS):
            for k, norm in enumerate(norms):
                q = f"{key}[{norm}]"
                mean, (low, high) = r.mean(q), r.confidence_interval(q)
                depth = np.arange(1, len(mean) + 1)
                style = "-" if "+pn" in norm else "--"
                ax.plot(depth, mean, style, marker="o", ms=2.5, color=f"C{k}", label=norm)
                ax.fill_between(depth, low, high, color=f"C{k}", alpha=0.15, lw=0)
            if key.endswith("_step"):
                ax.axhline(0, color="k", lw=0.8)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("layer l")
            ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize=8)
        fig.suptitle(f"{result.claim.key}: channel-wise normalization per layer, {r.label} "
                     f"({r.realizations} realizations, 95% pointwise t-intervals)", fontsize=10)
        fig.tight_layout()
        paths.append(save(fig, out_dir, f"{result.claim.key}_deviations_{i + 1}"))
    return paths


@register_plot("p2_linearity_collapse")
def plot_p2(result, out_dir) -> list[Path]:
    """P2: channel-wise linearity ``Λ^l`` against the non-collapsed fraction ``1 − P(μ_c(y^l))/P(y^l)`` across
    depth, one curve per norm (mean over realizations; the first layer is circled)."""
    rs = result.results
    fig, axes = subplots(1, len(rs), figsize=(5.5 * len(rs), 4.5), squeeze=False)
    for ax, r in zip(axes[0], rs):
        for k, norm in enumerate(_norms(r.samples, "linearity")):
            x, y = r.mean(f"noncollapsed[{norm}]"), r.mean(f"linearity[{norm}]")
            ax.plot(x, y, "o-", ms=3, color=f"C{k}", label=norm)
            ax.plot(x[:1], y[:1], "o", ms=9, mfc="none", color=f"C{k}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("non-collapsed fraction 1 − P(μ_c(y))/P(y)")
        ax.set_ylabel("Λ = P(z − z̃)/P(z)")
        ax.set_title(r.label, fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"{result.claim.key}: collapse implies linearity (layer 1 circled; depth runs along each curve)",
                 fontsize=10)
    fig.tight_layout()
    return [save(fig, out_dir, f"{result.claim.key}_linearity_collapse")]


@register_plot("t3_exact_power")
def plot_t3_exact(result, out_dir) -> list[Path]:
    """T3: per activation, the measured RMS deviations of ``μ_c(z)``, ``σ_c(z)`` from 0, 1, the smallest
    deviations the check detects (80% power), and the error of the paper's quantile-grid moments."""
    series = (("mean_rms", "RMS_c μ_c(z) (measured)", "o"), ("std_rms", "RMS_c (σ_c(z) − 1) (measured)", "s"),
              ("detectable_mean_shift", "detectable |Δμ| (80% power)", "^"),
              ("detectable_std_shift", "detectable |Δσ| (80% power)", "v"),
              ("quantile_grid_mean_error", "quantile grid, ε = 0: max_c |μ_c(z)|", "x"),
              ("quantile_grid_std_error", "quantile grid, ε = 0: max_c |σ_c(z) − 1|", "+"),
              ("quantile_std_error", "quantile grid, ε = 0.03: max_c |σ_c(z) − 1|", "*"))
    paths = []
    for i, r in enumerate(result.results):
        cells = list(r.comparisons[0].cells)
        x = np.arange(len(cells))
        fig, ax = subplots(figsize=(8, 4.8))
        for k, (q, label, marker) in enumerate(series):
            ax.plot(x, r.mean(q), marker, ms=7, color=f"C{k}", label=label, ls="none")
        ax.set_xticks(x, cells)
        ax.set_yscale("log")
        ax.set_ylabel("deviation")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.set_title(f"{result.claim.key}: {r.label}, {r.realizations} realizations", fontsize=9)
        fig.tight_layout()
        paths.append(save(fig, out_dir, f"{result.claim.key}_power_{i + 1}"))
    return paths


def draw_diagnosis(diagnosis, out_dir) -> list[Path]:
    """The user-norm diagnostic: power plot, collapse curve against LN's and ρ^{l−1}, instance variability
    against BN's and IN's (0)."""
    d = diagnosis
    layers = d.layers
    fig, axes = subplots(1, 3, figsize=(15, 4.3))
    stacked_power(axes[0], d.profile, f"power plot of y^l: {d.config.name}\nd to bn = {d.distance:.3f} "
                                 f"(ln: {d.ln_distance:.3f})")
    ax = axes[1]
    ax.plot(layers, d.noncollapsed, "o-", ms=3, label=d.config.name)
    spread = np.exp(2 * d.noncollapsed_se / d.noncollapsed)       # ± 2 s.e. of the log (delta method)
    ax.fill_between(layers, d.noncollapsed / spread, d.noncollapsed * spread, alpha=0.2)
    ax.plot(layers, d.ln_noncollapsed, "s--", ms=3, label="ln")
    ax.plot(layers, d.ln_bound, "k:", label="LN's bound ρ^(l−1)")
    ax.set_yscale("log")
    ax.set_title("non-collapsed fraction 1 − P(μ_c(y))/P(y)", fontsize=9)
    ax = axes[2]
    ax.plot(layers, d.variability, "o-", ms=3, label=d.config.name)
    ax.fill_between(layers, d.variability - 2 * d.variability_se, d.variability + 2 * d.variability_se, alpha=0.2)
    ax.plot(layers, d.bn_variability, "s--", ms=3, label="bn")
    ax.axhline(0, color="k", lw=1, label="in (0, Theorem 2)")
    ax.set_title("instance variability ((2) + (4)) / P(y)", fontsize=9)
    for ax in axes[1:]:
        ax.set_xlabel("layer l")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"diagnostic of {d.config.reference} ({d.realizations} realizations, bands ± 2 s.e.; "
                 "log scale: of the log)", fontsize=10)
    _legend_below(fig, axes[0])
    return [save(fig, out_dir, f"diagnosis_{d.config.name}")]
