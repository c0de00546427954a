"""Figures for the HTML report, and the drawing helpers experiments share.

Every function returns a matplotlib Figure (or None when there is nothing to draw); the report
saves it beside the page as PNG and SVG (`save`) and closes it. The
helpers draw what several experiments draw: a score against a penalty strength with the
unpenalized score as a reference line (`against_strength`), per-epoch curves of many splits
with their mean (`curves`), panels for small multiples (`panels`), weight histograms.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "path"  # text as outlines: an SVG export carries no markup
matplotlib.rcParams["text.parse_math"] = False  # a name with two '$' is drawn as written, not as TeX
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from . import atomic  # noqa: E402

MAX_CURVE_PANELS = 24


class _PlainLogFormatter(matplotlib.ticker.Formatter):
    """A log formatter's labels as plain numbers (0.01, 1e-05) instead of TeX: the wrapped
    formatter still decides which ticks get a label, so it is told the axis and the tick
    locations as matplotlib tells a formatter (without them it labels every minor tick)."""

    def __init__(self, original: matplotlib.ticker.Formatter) -> None:
        self.original = original

    def set_axis(self, axis: Any) -> None:
        super().set_axis(axis)
        self.original.set_axis(axis)

    def set_locs(self, locs: Sequence[float]) -> None:
        super().set_locs(locs)
        self.original.set_locs(locs)

    def __call__(self, value: float, pos: int | None = None) -> str:
        return f"{value:g}" if self.original(value, pos) else ""


def plain_log_ticks(fig: plt.Figure) -> None:
    """Log-scale tick labels as plain numbers: matplotlib writes them as TeX ($10^{-2}$), which
    is not parsed here (`text.parse_math` is off so that a name with two '$' draws as written)."""
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log":
                continue
            for get, put in ((axis.get_major_formatter, axis.set_major_formatter),
                             (axis.get_minor_formatter, axis.set_minor_formatter)):
                if not isinstance(get(), _PlainLogFormatter):
                    put(_PlainLogFormatter(get()))


#: the PNGs' resolution (and that of the parts of an SVG drawn as pixels)
DPI = 100

#: points per curve above which its line and band are drawn as pixels in the SVG as well
#: (`rasterized`): toy-1d's 2000-epoch loss curves made SVGs of 3.4 and 4.9 MB as vectors
DENSE_POINTS = 500

#: inches of blank canvas drawn around a figure before it is cropped (`save`), so that a label
#: reaching past the figure's edge is drawn, not clipped
MARGIN_IN = 1.0

#: inches kept around what a figure draws, as `bbox_inches="tight"` keeps (its pad_inches)
PAD_IN = 0.1


def save(fig: plt.Figure, png: Path, svg: Path | None = None) -> None:
    """Save the figure as PNG (and SVG, its text drawn as paths), cropped to what it draws with
    PAD_IN around it, as `bbox_inches="tight"` crops, and close it. The crop is found in the
    PNG's own pixels (`_drawn_png`); matplotlib would measure it with a layout pass of its own
    for each file, a third of a figure's cost. Each file is replaced whole (`atomic.replacing`):
    written to a temporary file beside it, then renamed onto it."""
    try:
        plain_log_ticks(fig)
        with atomic.replacing(png) as temporary:
            crop = _drawn_png(fig, temporary)
            if crop is None:  # measured as matplotlib measures it
                crop = fig.get_tightbbox(fig.canvas.get_renderer()).padded(PAD_IN)
                fig.savefig(temporary, format="png", dpi=DPI, bbox_inches=crop)
        if svg is not None:
            with atomic.replacing(svg) as temporary:
                fig.savefig(temporary, format="svg", bbox_inches=crop, dpi=DPI)
    finally:
        plt.close(fig)


def _drawn_png(fig: plt.Figure, png: Path) -> Any:
    """Draw the figure once on a canvas MARGIN_IN larger on every side (its axes where they
    were), write the part of it that holds ink, with PAD_IN around it, as the PNG, and return
    that part in inches for the SVG. None, with the figure as it was and nothing written, where
    the figure holds artists that would not move with its axes (its own texts or legends, a
    layout engine at work, an axes locator other than a colour bar's) or where ink reaches the
    canvas' edge."""
    from matplotlib.image import imsave
    from matplotlib.transforms import Bbox

    from matplotlib.colorbar import _ColorbarAxesLocator
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    engine = fig.get_layout_engine()
    if (fig.texts or fig.legends or fig.lines or fig.patches or fig.images
            or not (engine is None or isinstance(engine, PlaceHolderLayoutEngine))  # left by tight_layout: inert
            or any(not (ax.get_axes_locator() is None or isinstance(ax.get_axes_locator(), _ColorbarAxesLocator))
                   for ax in fig.axes)):  # a colour bar's places it from its own position
        return None
    size = fig.get_size_inches().copy()
    places = [(ax, ax.get_position(original=True), ax.get_in_layout()) for ax in fig.axes]
    padded = size + 2 * MARGIN_IN
    for ax, place, _ in places:
        x0, y0 = (place.x0 * size[0] + MARGIN_IN) / padded[0], (place.y0 * size[1] + MARGIN_IN) / padded[1]
        ax.set_position([x0, y0, place.width * size[0] / padded[0], place.height * size[1] / padded[1]], which="both")
    fig.set_size_inches(padded, forward=False)
    fig.set_dpi(DPI)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())
    ink = (pixels != pixels[0, 0]).any(axis=2)  # the corner is blank margin
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    tall, wide = ink.shape
    if not len(rows) or rows[0] == 0 or cols[0] == 0 or rows[-1] == tall - 1 or cols[-1] == wide - 1:
        fig.set_size_inches(size, forward=False)
        for ax, place, in_layout in places:
            ax.set_position(place, which="both")
            ax.set_in_layout(in_layout)
        return None
    pad = round(PAD_IN * DPI)
    top, bottom = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, tall)
    left, right = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, wide)
    imsave(png, pixels[top:bottom, left:right], format="png", dpi=DPI)
    return Bbox([[left / DPI, (tall - bottom) / DPI], [right / DPI, (tall - top) / DPI]])


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


def spaced(fig: plt.Figure, hspace: float = 0.0, wspace: float = 0.0) -> None:
    """Space a grid of panels by fixed fractions of a panel (`subplots_adjust`) instead of
    `tight_layout`, which lays every tick label out once more (0.5 s for a page's nine loss
    panels, a third of the figure's cost); the margins outside the grid need no care, as
    `save` crops the figure to what it draws."""
    fig.subplots_adjust(left=0.1, right=0.95, bottom=0.1, top=0.9, hspace=hspace, wspace=wspace)


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


def band(ax: plt.Axes, table: np.ndarray, label: str | None, color: Any = None, linestyle: str = "-") -> None:
    """The mean over splits of per-epoch values (a splits × epochs array, NaN after a split
    stopped) with a ± one standard deviation band; an epoch's mean and band cover the splits
    still training then."""
    table = np.atleast_2d(np.asarray(table, dtype=float))
    if not table.size:
        return
    epochs = np.arange(1, table.shape[1] + 1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, std = np.nanmean(table, axis=0), np.nanstd(table, axis=0)
    dense = len(epochs) > DENSE_POINTS  # drawn as pixels in the SVG too; axes and text stay vector
    ax.plot(epochs, mean, color=color, linestyle=linestyle, linewidth=1.5, label=label, rasterized=dense)
    ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.15, linewidth=0, rasterized=dense)


def _stops(ax: plt.Axes, val: np.ndarray, stops: Sequence[int], color: Any) -> None:
    """Mark each split's early-stopping epoch (1-based) on its own validation curve."""
    points = [(e, val[i, e - 1]) for i, e in enumerate(stops) if e and 0 < e <= val.shape[1]]
    if points:
        x, y = zip(*points)
        ax.scatter(x, y, marker="v", s=22, color=color, edgecolor="black", linewidth=0.4, zorder=3)


def loss_curves(by_variant: dict[str, tuple[np.ndarray, np.ndarray, Sequence[int]]],
                val_label: str = "validation") -> plt.Figure | None:
    """Small multiples, one panel per variant: training (dashed) and validation (solid) loss per
    epoch, mean over splits ± one std, each split's early-stopping epoch marked (▼); shared y."""
    if not by_variant:
        return None
    fig, axes = panels(len(by_variant), sharey=True)
    for ax, (name, (train, val, stops)) in zip(axes, by_variant.items()):
        band(ax, train, "training", "#1f77b4", "--")
        band(ax, val, val_label, "#d62728", "-")
        _stops(ax, np.atleast_2d(val), stops, "#d62728")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        _log_if_positive(ax, train, val)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[0].set_ylabel("loss (mean ± std over splits)")
    spaced(fig, hspace=0.5, wspace=0.06)  # shared y: inner panels have no tick labels
    return fig


def loss_overview(by_variant: dict[str, tuple[np.ndarray, np.ndarray, Sequence[int]]],
                  val_label: str = "validation") -> plt.Figure | None:
    """Every variant on shared axes: training loss, validation loss (early stops marked ▼) and
    the generalization gap (validation − training) per epoch, mean over splits ± one std."""
    if not by_variant:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = sns.color_palette("tab10", len(by_variant)) if len(by_variant) <= 10 else sns.color_palette("husl", len(by_variant))
    for (name, (train, val, stops)), color in zip(by_variant.items(), colors):
        train, val = np.atleast_2d(train), np.atleast_2d(val)
        band(axes[0], train, name, color)
        band(axes[1], val, name, color)
        _stops(axes[1], val, stops, color)
        if train.shape == val.shape and train.size:
            band(axes[2], val - train, name, color)
    titles = ["training loss", f"{val_label} loss (▼ early stop)", f"gap: {val_label} − training"]
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in axes[:2]:
        _log_if_positive(ax, *[pair[i] for pair in by_variant.values() for i in (0, 1)])
    axes[2].axhline(0, color="black", linewidth=0.6)
    axes[0].legend(fontsize=7, ncol=2 if len(by_variant) > 5 else 1)
    spaced(fig, wspace=0.22)
    return fig


def _log_if_positive(ax: plt.Axes, *tables: np.ndarray) -> None:
    values = np.concatenate([np.ravel(t) for t in tables if np.size(t)] or [np.zeros(0)])
    values = values[np.isfinite(values)]
    if values.size and values.min() > 0:
        ax.set_yscale("log")


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
    # scikit-posthocs draws the critical difference at y = 0.5 (its label at 0.65), on top of the
    # rank axis' tick labels: lifted above them
    for line in ax.lines:
        if np.allclose(line.get_ydata(), 0.5):
            line.set_ydata([1.2, 1.2])
    for text in ax.texts:
        if text.get_text().startswith("CD ="):
            text.set_y(1.45)
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, max(top, 1.7))
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


def magnitude_histograms(values: dict[str, np.ndarray], floor: float = 1e-8) -> plt.Figure | None:
    """Overlaid histograms of log10 |w| per variant (density, step outlines, shared bins):
    an L1 penalty shows as a spike of tiny weights, an L2 penalty as a narrower bulk."""
    values = {name: np.log10(np.maximum(np.abs(np.asarray(v, dtype=float)), floor)) for name, v in values.items() if len(v)}
    if not values:
        return None
    pooled = np.concatenate(list(values.values()))
    bins = np.linspace(pooled.min(), pooled.max() + 1e-9, 60)
    fig, ax = plt.subplots(figsize=(9, 4))
    colors = sns.color_palette("tab10", len(values)) if len(values) <= 10 else sns.color_palette("husl", len(values))
    for (name, logs), color in zip(values.items(), colors):
        ax.hist(logs, bins=bins, density=True, histtype="step", linewidth=1.4, color=color, label=name)
    ax.set_xlabel("log10 |w| (Dense kernels, every split)")
    ax.set_ylabel("density")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2 if len(values) > 5 else 1)
    return fig


def input_heatmap(inputs: pd.DataFrame, max_labels: int = 60) -> plt.Figure | None:
    """Variants × inputs: the first layer's mean |w| per input, on a log colour scale (dark =
    driven to zero); input names shown up to `max_labels` inputs."""
    if inputs.empty:
        return None
    from matplotlib.colors import LogNorm

    values = inputs.to_numpy(dtype=float)
    positive = values[values > 0]
    low, high = (positive.min(), positive.max()) if positive.size else (1e-6, 1.0)
    n_inputs = inputs.shape[1]
    fig, ax = plt.subplots(figsize=(min(3 + 0.22 * n_inputs, 16), 1.4 + 0.35 * len(inputs)))
    sns.heatmap(inputs.clip(lower=low), norm=LogNorm(vmin=low, vmax=max(high, low * 1.0001)), cmap="magma", ax=ax,
                xticklabels=n_inputs <= max_labels, yticklabels=True,
                cbar_kws={"label": "mean |w| over units and splits"})
    ax.set_xlabel("input" + ("" if n_inputs <= max_labels else f" (all {n_inputs}, in column order)"))
    ax.set_ylabel("")
    if n_inputs <= max_labels:
        ax.tick_params(axis="x", labelsize=7, labelrotation=90)
    return fig


def tuning_figure(curves: pd.DataFrame, picked: pd.DataFrame, axis_name: str | None, score_name: str,
                  labels: Sequence[str]) -> plt.Figure | None:
    """A tuned variant's nested CV in two panels: left, the inner-CV curve (mean inner score
    against the candidate, ± sd over inner splits: each outer split faint, their mean bold, each
    outer split's chosen point marked); right, the choice on each outer split as a strip on
    the grid's axis. `axis_name` is the grid's one numeric axis (log scale when its values are
    positive and span a factor of 10), else candidates sit at their positions, labelled."""
    if curves.empty:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [2, 1]})
    values = curves["value"].to_numpy(dtype=float)
    logx = bool(axis_name) and (values > 0).all() and values.max() / values.min() >= 10
    palette = sns.color_palette("tab10", n_colors=max(1, curves["split"].nunique()))
    for colour, (split, rows) in zip(palette, curves.groupby("split")):
        rows = rows.sort_values("value")
        left.errorbar(rows["value"], rows["mean"], yerr=rows["sd"].fillna(0), color=colour, alpha=0.3, linewidth=0.9,
                      capsize=2, label=f"outer split {int(split) + 1}")
        chosen = rows[rows["chosen"]]
        left.plot(chosen["value"], chosen["mean"], marker="*", markersize=13, color=colour, linestyle="none",
                  markeredgecolor="black", markeredgewidth=0.6)
    mean = curves.groupby("value")["mean"].mean()
    left.plot(mean.index, mean.to_numpy(), color="black", linewidth=2.2, marker="o", label="mean over outer splits")
    left.set_ylabel(f"inner-CV {score_name}")
    left.set_title("inner cross-validation (★ chosen)", fontsize=10)
    left.grid(alpha=0.3)
    left.legend(fontsize=7, ncol=2)
    if picked.empty or (axis_name and axis_name not in picked):  # a run stopped before its refits: no choice yet
        picked = pd.DataFrame({"split": [], "chosen": [], **({axis_name: []} if axis_name else {})})
    splits = picked["split"].to_numpy(dtype=int) + 1
    chosen_x = (picked[axis_name].to_numpy(dtype=float) if axis_name
                else np.asarray([list(labels).index(c) if c in labels else np.nan for c in picked["chosen"]], dtype=float))
    jitter = np.linspace(-0.15, 0.15, len(splits)) if len(splits) > 1 else np.zeros(len(splits))
    right.scatter(chosen_x, jitter, s=60, c=[palette[(s - 1) % len(palette)] for s in splits], edgecolor="black",
                  zorder=3)
    for x, y, s in zip(chosen_x, jitter, splits):
        right.annotate(str(s), (x, y), textcoords="offset points", xytext=(6, 4), fontsize=7)
    grid_x = sorted(set(values))
    right.scatter(grid_x, [0.0] * len(grid_x), marker="|", s=200, color="grey", zorder=1)
    right.set_yticks([])
    right.set_ylim(-0.5, 0.5)
    right.set_title("chosen on each outer split", fontsize=10)
    for ax in (left, right):
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(axis_name or "candidate")
        if not axis_name:
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    spaced(fig, wspace=0.12)  # the right panel has no y ticks
    return fig


def gain_against_rows(points: dict[str, pd.DataFrame], fits: dict[str, Any], baseline: str,
                      x: str = "rows_per_weight", label: str = "training rows per weight",
                      log: bool = True) -> plt.Figure | None:
    """One panel per variant: its gain over the baseline (% of the score, + = better) on each data set
    against a property of the data sets (`x`, its column in each frame of `points`; by default the
    training rows per weight, on a log axis with `log`), with the OLS line (on log10(x) with
    `log`) and its 95% confidence band (statsmodels), where one was fitted."""
    if not points:
        return None
    fig, axes = panels(len(points), cols=4, width=3.4, height=2.8, sharex=True)
    for ax, (variant, frame) in zip(axes, points.items()):
        ax.axhline(0, color="grey", linewidth=0.8, linestyle="--")
        ax.scatter(frame[x], frame["gain"], s=18, color="tab:blue", zorder=3)
        fit = fits.get(variant)
        if fit is not None and len(frame) > 1:
            low, high = (np.log10(frame[x].min()), np.log10(frame[x].max())) if log else (frame[x].min(), frame[x].max())
            grid = np.linspace(low, high, 50)
            band = fit.get_prediction(np.column_stack([np.ones_like(grid), grid])).conf_int(alpha=0.05)
            shown = 10 ** grid if log else grid
            ax.plot(shown, fit.params[0] + fit.params[1] * grid, color="tab:red", linewidth=1.4)
            ax.fill_between(shown, band[:, 0], band[:, 1], color="tab:red", alpha=0.15, linewidth=0)
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on a narrow range
        ax.set_title(variant, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"gain over {baseline} (%)")
    for ax in axes:
        ax.set_xlabel(label, fontsize=8)
    spaced(fig, hspace=0.5, wspace=0.3)
    return fig
