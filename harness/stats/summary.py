"""Per-variant summaries of a run's splits: the comparison table's columns and Heaton's
running table.

Standard deviations are population standard deviations (`statistics.pstdev`), as in Heaton's
notebooks, so the report's figures can be set beside his.
"""
from __future__ import annotations

import math
import statistics
from typing import Sequence

import numpy as np
import pandas as pd

from ..core import OK


def pstdev(values: Sequence[float]) -> float:
    values = list(values)
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def variant_summary(splits: pd.DataFrame, greater_is_better: bool, order: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per variant, best mean score first; failed splits counted, not averaged."""
    rows = []
    names = list(order) if order is not None else list(dict.fromkeys(splits["variant"]))
    for name in names:
        group = splits[splits["variant"] == name]
        ok = group[group["status"] == OK]
        scores = ok["score"].astype(float)
        rows.append(
            {
                "variant": name,
                "splits": len(group),
                "failed": int((group["status"] != OK).sum()),
                "mean": scores.mean() if len(ok) else math.nan,
                "stdev": pstdev(scores) if len(ok) else math.nan,
                "min": scores.min() if len(ok) else math.nan,
                "max": scores.max() if len(ok) else math.nan,
                "mean_epochs": ok["epochs"].mean() if len(ok) else math.nan,
                "mean_best_epoch": ok["best_epoch"].mean() if len(ok) else math.nan,
                "mean_train": ok["train_score"].astype(float).mean() if len(ok) else math.nan,
                "pooled_rmse": pooled_rmse(ok),
                "mean_stopped_epoch": ok["stopped_epoch"].mean() if len(ok) and "stopped_epoch" in ok else math.nan,
                "seconds": group["seconds"].sum(),
            }
        )
    table = pd.DataFrame(rows)
    table["gap"] = table["mean_train"] - table["mean"]
    table = table.sort_values("mean", ascending=not greater_is_better, na_position="last", kind="stable")
    return table.reset_index(drop=True)


def pooled_rmse(rows: pd.DataFrame) -> float:
    """The RMSE over every scored row of all the splits, √(Σ nᵢ·RMSEᵢ² / Σ nᵢ) with nᵢ the
    split's test rows (the out-of-fold RMSE Heaton's Part 5.2 prints), from each split's
    `test_rmse` and `test_rows` metrics; NaN where a split lacks them."""
    if rows.empty or "metrics" not in rows:
        return math.nan
    n = np.array([m.get("test_rows", math.nan) for m in rows["metrics"]], dtype=float)
    rmse = np.array([m.get("test_rmse", math.nan) for m in rows["metrics"]], dtype=float)
    if not (np.isfinite(n).all() and np.isfinite(rmse).all()):
        return math.nan
    return float(math.sqrt(np.sum(n * rmse ** 2) / np.sum(n)))


def heaton_table(splits: pd.DataFrame) -> pd.DataFrame:
    """Heaton's per-split columns for one variant: running mean and pstdev of the ok splits."""
    rows, scores, epochs = [], [], []
    for _, row in splits.sort_values("split").iterrows():
        ok = row["status"] == OK
        if ok:
            scores.append(float(row["score"]))
            epochs.append(int(row["epochs"]))
        rows.append(
            {
                "split": int(row["split"]) + 1,
                "score": float(row["score"]) if ok else math.nan,
                "mean_score": float(np.mean(scores)) if scores else math.nan,
                "stdev": pstdev(scores) if scores else math.nan,
                "epochs": int(row["epochs"]),
                "mean_epochs": int(np.mean(epochs)) if epochs else 0,
                "stopped_epoch": int(row["stopped_epoch"]) if "stopped_epoch" in row else 0,
                "seconds": float(row["seconds"]),
                "status": row["status"],
                "reason": row["reason"],
            }
        )
    return pd.DataFrame(rows)
