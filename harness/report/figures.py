"""Figures for the HTML report, returned as base64 PNG so each page is one self-contained file."""
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
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def score_distribution(folds: pd.DataFrame, order: Sequence[str], score_name: str) -> str | None:
    """Box-and-strip plot of the fold scores of every variant (best first)."""
    ok = folds[folds["status"] == "ok"]
    if ok.empty:
        return None
    order = [name for name in order if name in set(ok["variant"])]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(order) + 1.4))
    sns.boxplot(data=ok, x="score", y="variant", order=order, ax=ax, color="#dbe9f6", fliersize=0, width=0.6)
    sns.stripplot(data=ok, x="score", y="variant", order=order, ax=ax, color="#1f4e79", size=4, jitter=0.15)
    ax.set_xlabel(f"{score_name} per fold")
    ax.set_ylabel("")
    ax.grid(axis="x", alpha=0.3)
    return to_base64(fig)


def _mean_curve(curves: Sequence[Sequence[float | None]]) -> np.ndarray:
    """Mean over the folds still training at each epoch (folds stop at different epochs)."""
    longest = max((len(c) for c in curves), default=0)
    table = np.full((len(curves), longest), np.nan)
    for i, curve in enumerate(curves):
        table[i, : len(curve)] = [np.nan if v is None else v for v in curve]
    with np.errstate(all="ignore"):
        return np.nanmean(table, axis=0) if longest else np.zeros(0)


def loss_curves(folds: pd.DataFrame, order: Sequence[str], val_label: str = "validation") -> str | None:
    """Mean training and validation loss per epoch, one panel per variant."""
    ok = folds[folds["status"] == "ok"]
    trained = set(ok.loc[ok["loss"].map(bool), "variant"])  # baselines have no epochs, no curves
    names = [name for name in order if name in trained][:MAX_CURVE_PANELS]
    if not names:
        return None
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), sharey=True, squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        group = ok[ok["variant"] == name]
        for column, color, style, label in (("loss", "#1f77b4", "--", "training"), ("val_loss", "#d62728", "-", val_label)):
            curves = [c for c in group[column] if c]
            for curve in curves:
                ax.plot(np.arange(1, len(curve) + 1), curve, color=color, linestyle=style, linewidth=0.6, alpha=0.25)
            if curves:
                mean = _mean_curve(curves)
                ax.plot(np.arange(1, len(mean) + 1), mean, color=color, linestyle=style, linewidth=1.6, label=label)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=8)
    axes[0, 0].set_ylabel("loss (mean over folds)")
    fig.tight_layout()
    return to_base64(fig)


def weight_bars(weights: pd.DataFrame) -> str | None:
    """Mean L2 norm and max |w| of the kernels, per variant."""
    if weights.empty:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.4 * len(weights) + 1.4), sharey=True)
    sns.barplot(data=weights, x="l2_norm", y="variant", ax=axes[0], color="#4c72b0")
    axes[0].set_xlabel("L2 norm of kernels (mean over folds)")
    sns.barplot(data=weights, x="max_abs", y="variant", ax=axes[1], color="#dd8452")
    axes[1].set_xlabel("max |w| (mean over folds)")
    for ax in axes:
        ax.set_ylabel("")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return to_base64(fig)


def weight_histograms(values: dict[str, np.ndarray]) -> str | None:
    """Histograms of |w| per variant (one panel each, shared axes)."""
    values = {name: np.abs(np.asarray(v, dtype=float)) for name, v in values.items() if len(v)}
    if not values:
        return None
    frame = pd.concat([pd.DataFrame({"|w|": v, "variant": name}) for name, v in values.items()], ignore_index=True)
    grid = sns.displot(frame, x="|w|", col="variant", col_wrap=min(len(values), 4), bins=40,
                       height=2.6, aspect=1.3, color="#4c72b0", facet_kws={"sharey": False})
    grid.set_titles("{col_name}")
    return to_base64(grid.figure)
