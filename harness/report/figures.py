"""Figures for the HTML report, and the drawing helpers experiments share.

Every function returns a matplotlib Figure (or None when there is nothing to draw); the report
encodes it as a base64 PNG, so each page is one self-contained file, and closes it. The
helpers draw what several experiments draw: a score against a penalty strength with the
unpenalized score as a reference line (`against_strength`), per-epoch curves of many splits
with their mean (`curves`), panels for small multiples (`panels`), weight histograms.
"""
from __future__ import annotations

import base64
import io
import math
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

MAX_CURVE_PANELS = 24


def to_base64(fig: plt.Figure) -> str:
    """The figure as a base64 PNG (the figure is closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def panels(n: int, cols: int = 3, width: float = 4.0, height: float = 2.8, **kwargs) -> tuple[plt.Figure, list]:
    """A figure with `n` panels, `cols` to a row (unused places hidden); kwargs go to
    `plt.subplots` (e.g. sharey=True)."""
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, **kwargs)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def curves(ax: plt.Axes, table: np.ndarray, label: str, color: str | None = None, linestyle: str = "-",
           faint: bool = True) -> None:
    """Per-epoch values of several splits (a splits × epochs array, NaN after a split stopped):
    each split faint, their mean bold (an epoch's mean covers the splits still running)."""
    table = np.atleast_2d(np.asarray(table, dtype=float))
    if not table.size:
        return
    epochs = np.arange(1, table.shape[1] + 1)
    if faint:
        for row in table:
            ax.plot(epochs, row, color=color, linestyle=linestyle, linewidth=0.6, alpha=0.25)
    with np.errstate(all="ignore"):
        mean = np.nanmean(table, axis=0)
    ax.plot(epochs, mean, color=color, linestyle=linestyle, linewidth=1.6, label=label)


def against_strength(table: pd.DataFrame, x: str, y: str, hue: str, *, yerr: str | None = None,
                     reference: float | None = None, reference_label: str = "none", floor: float | None = None,
                     floor_label: str = "", dashed: str | None = None, xlabel: str = "", ylabel: str = "",
                     logy: bool = False, ax: plt.Axes | None = None) -> plt.Figure:
    """`y` against a penalty strength `x` (or any quantity on a log scale, such as the
    training-set size), one line per `hue` (± `yerr`), the unpenalized value as a dashed
    `reference` line and an optional dotted `floor`; with `dashed`, a second column drawn
    dashed in each line's colour (e.g. training beside test)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4))
    for name, rows in table.groupby(hue, sort=False):
        rows = rows.sort_values(x)
        drawn = ax.errorbar(rows[x], rows[y], yerr=None if yerr is None else rows[yerr], marker="o", capsize=3,
                            label=f"{name}" + (f": {y}" if dashed else ""))
        if dashed:
            ax.plot(rows[x], rows[dashed], linestyle="--", color=drawn[0].get_color(), label=f"{name}: {dashed}")
    if reference is not None and np.isfinite(reference):
        ax.axhline(reference, color="grey", linestyle="--", label=f"{reference_label} ({reference:.4g})")
    if floor is not None:
        ax.axhline(floor, color="black", linestyle=":", label=floor_label)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.grid(alpha=0.3, which="both" if logy else "major")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def score_distribution(splits: pd.DataFrame, order: Sequence[str], score_name: str) -> plt.Figure | None:
    """Box-and-strip plot of the split scores of every variant (best first)."""
    ok = splits[splits["status"] == "ok"]
    if ok.empty:
        return None
    order = [name for name in order if name in set(ok["variant"])]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(order) + 1.4))
    sns.boxplot(data=ok, x="score", y="variant", order=order, ax=ax, color="#dbe9f6", fliersize=0, width=0.6)
    sns.stripplot(data=ok, x="score", y="variant", order=order, ax=ax, color="#1f4e79", size=4, jitter=0.15)
    ax.set_xlabel(f"{score_name} per split")
    ax.set_ylabel("")
    ax.grid(axis="x", alpha=0.3)
    return fig


def loss_curves(by_variant: dict[str, tuple[np.ndarray, np.ndarray]], val_label: str = "validation") -> plt.Figure | None:
    """Training and validation loss per epoch (splits × epochs arrays), one panel per variant."""
    if not by_variant:
        return None
    fig, axes = panels(len(by_variant), sharey=True)
    for ax, (name, (train, val)) in zip(axes, by_variant.items()):
        curves(ax, train, "training", "#1f77b4", "--")
        curves(ax, val, val_label, "#d62728", "-")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_ylabel("loss (mean over splits)")
    fig.tight_layout()
    return fig


def weight_bars(weights: pd.DataFrame) -> plt.Figure | None:
    """Mean L2 norm and max |w| of the kernels, per variant."""
    if weights.empty:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.4 * len(weights) + 1.4), sharey=True)
    sns.barplot(data=weights, x="l2_norm", y="variant", ax=axes[0], color="#4c72b0")
    axes[0].set_xlabel("L2 norm of kernels (mean over splits)")
    sns.barplot(data=weights, x="max_abs", y="variant", ax=axes[1], color="#dd8452")
    axes[1].set_xlabel("max |w| (mean over splits)")
    for ax in axes:
        ax.set_ylabel("")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def weight_histograms(values: dict[str, np.ndarray]) -> plt.Figure | None:
    """Histograms of |w| per variant (one panel each, shared axes)."""
    values = {name: np.abs(np.asarray(v, dtype=float)) for name, v in values.items() if len(v)}
    if not values:
        return None
    frame = pd.concat([pd.DataFrame({"|w|": v, "variant": name}) for name, v in values.items()], ignore_index=True)
    grid = sns.displot(frame, x="|w|", col="variant", col_wrap=min(len(values), 4), bins=40,
                       height=2.6, aspect=1.3, color="#4c72b0", facet_kws={"sharey": False})
    grid.set_titles("{col_name}")
    return grid.figure


def critical_difference_diagram(mean_ranks: pd.Series, p_values: pd.DataFrame, cd: float, alpha: float) -> plt.Figure:
    """Demšar's critical-difference diagram (scikit-posthocs): mean ranks on one axis, best on the
    left; a bar joins variants the Nemenyi test cannot tell apart at `alpha`; the critical
    difference drawn above the axis."""
    import scikit_posthocs

    fig, ax = plt.subplots(figsize=(8.5, 1.2 + 0.28 * len(mean_ranks)))
    scikit_posthocs.critical_difference_diagram(
        mean_ranks, p_values, cd=cd if math.isfinite(cd) else None, alpha=alpha, ax=ax,
        label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
        label_props={"fontsize": 9})
    ax.set_title(f"mean rank (1 = best); bars join variants not different at α = {alpha:g} (Nemenyi)", fontsize=9)
    return fig


def difference_heatmap(relative: pd.DataFrame, marks: pd.DataFrame) -> plt.Figure | None:
    """Data sets × variants: each variant's change from the baseline in % of the baseline's
    score, signed so that positive = better (green), annotated, with the page's Holm verdict
    as a mark (▲ better, ▼ worse)."""
    if relative.empty:
        return None
    annotations = relative.map(lambda v: "–" if not np.isfinite(v) else f"{v:+.1f}") + marks
    limit = float(np.nanmax(np.abs(relative.to_numpy()))) if np.isfinite(relative.to_numpy()).any() else 1.0
    fig, ax = plt.subplots(figsize=(1.0 + 0.95 * relative.shape[1], 1.2 + 0.45 * relative.shape[0]))
    sns.heatmap(relative.astype(float), annot=annotations.to_numpy(), fmt="", cmap="RdYlGn", center=0,
                vmin=-max(limit, 1e-9), vmax=max(limit, 1e-9), linewidths=0.5, ax=ax,
                cbar_kws={"label": "% change vs baseline (+ = better)"}, annot_kws={"fontsize": 8})
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", labelrotation=35)
    plt.setp(ax.get_xticklabels(), ha="right")
    return fig
