"""Statistics over stored splits: per-variant summaries, Heaton's running table, paired tests.

Standard deviations are population standard deviations (`statistics.pstdev`), as in Heaton's
notebooks, so the report's figures can be set beside his.
"""
from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

if TYPE_CHECKING:  # pragma: no cover
    from .results import Results



def pstdev(values: Sequence[float]) -> float:
    values = list(values)
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def variant_summary(splits: pd.DataFrame, greater_is_better: bool, order: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per variant, best mean score first; failed splits counted, not averaged."""
    rows = []
    names = list(order) if order is not None else list(dict.fromkeys(splits["variant"]))
    for name in names:
        group = splits[splits["variant"] == name]
        ok = group[group["status"] == "ok"]
        scores = ok["score"].astype(float)
        rows.append(
            {
                "variant": name,
                "splits": len(group),
                "failed": int((group["status"] != "ok").sum()),
                "mean": scores.mean() if len(ok) else math.nan,
                "stdev": pstdev(scores) if len(ok) else math.nan,
                "min": scores.min() if len(ok) else math.nan,
                "max": scores.max() if len(ok) else math.nan,
                "mean_epochs": ok["epochs"].mean() if len(ok) else math.nan,
                "mean_best_epoch": ok["best_epoch"].mean() if len(ok) else math.nan,
                "mean_train": ok["train_score"].astype(float).mean() if len(ok) else math.nan,
                "seconds": group["seconds"].sum(),
            }
        )
    table = pd.DataFrame(rows)
    table["gap"] = table["mean_train"] - table["mean"]
    table = table.sort_values("mean", ascending=not greater_is_better, na_position="last", kind="stable")
    return table.reset_index(drop=True)


def heaton_table(splits: pd.DataFrame) -> pd.DataFrame:
    """Heaton's per-split columns for one variant: running mean and pstdev of the ok splits."""
    rows, scores, epochs = [], [], []
    for _, row in splits.sort_values("split").iterrows():
        ok = row["status"] == "ok"
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
                "seconds": float(row["seconds"]),
                "status": row["status"],
                "reason": row["reason"],
            }
        )
    return pd.DataFrame(rows)


def corrected_paired_ttest(differences: Sequence[float], test_train_ratio: float) -> tuple[float, float, float]:
    """Nadeau and Bengio's corrected resampled t-test on per-split differences.

    Fold scores share training rows, so the plain paired t-test is too confident; the variance
    is inflated by (1/J + n_test/n_train). Returns (p-value, ci_low, ci_high) at 95%.
    """
    d = np.asarray(differences, dtype=float)
    j = len(d)
    if j < 2:
        return math.nan, math.nan, math.nan
    mean, var = d.mean(), d.var(ddof=1)
    se = math.sqrt((1.0 / j + test_train_ratio) * var)
    if se == 0:
        return (1.0 if mean == 0 else 0.0), mean, mean
    t = mean / se
    p = 2 * sps.t.sf(abs(t), df=j - 1)
    half = sps.t.ppf(0.975, df=j - 1) * se
    return float(p), mean - half, mean + half


def paired_comparison(
    splits: pd.DataFrame, baseline: str, greater_is_better: bool, test_train_ratio: float
) -> pd.DataFrame:
    """Each variant against the baseline variant on the same splits: difference, CI, p-values,
    wins (`splits`: one row per (variant, split) with status and score)."""
    ok = splits[splits["status"] == "ok"]
    base = ok[ok["variant"] == baseline].set_index("split")["score"].astype(float)
    rows = []
    for name in dict.fromkeys(splits["variant"]):
        if name == baseline:
            continue
        other = ok[ok["variant"] == name].set_index("split")["score"].astype(float)
        common = base.index.intersection(other.index)
        diff = (other[common] - base[common]).to_numpy()
        better = diff > 0 if greater_is_better else diff < 0
        worse = diff < 0 if greater_is_better else diff > 0
        p, low, high = corrected_paired_ttest(diff, test_train_ratio)
        wilcoxon_p = math.nan
        if len(diff) >= 2 and np.any(diff != 0):
            wilcoxon_p = float(sps.wilcoxon(diff).pvalue)
        rows.append(
            {
                "variant": name,
                "pairs": len(diff),
                "mean_difference": float(diff.mean()) if len(diff) else math.nan,
                "ci_low": low,
                "ci_high": high,
                "p_corrected": p,
                "p_wilcoxon": wilcoxon_p,
                "wins": int(better.sum()),
                "losses": int(worse.sum()),
            }
        )
    columns = ["variant", "pairs", "mean_difference", "ci_low", "ci_high", "p_corrected", "p_wilcoxon", "wins", "losses"]
    return pd.DataFrame(rows, columns=columns)


def kernel_arrays(weights: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [value for name, value in weights.items() if name.endswith("kernel")]


def split_kernels(results: "Results") -> pd.DataFrame:
    """One row per successful split with stored weights: variant, split, and `values`, all its
    Dense kernel weights flattened (biases excluded); plus `max_abs` and `l2_norm` of those."""
    rows = []
    for row in results.ok().itertuples():
        if row.weights is None:
            continue
        flat = np.concatenate([k.ravel() for k in kernel_arrays(row.weights)] or [np.zeros(0)])
        if flat.size:
            rows.append({"variant": row.variant, "split": row.split, "values": flat,
                         "max_abs": float(np.abs(flat).max()), "l2_norm": math.sqrt(float(np.sum(flat.astype("float64") ** 2)))})
    return pd.DataFrame(rows, columns=["variant", "split", "values", "max_abs", "l2_norm"])


def weight_summary(results: "Results", threshold: float = 1e-3) -> pd.DataFrame:
    """Per variant, over successful splits: mean max |w|, mean L2 norm and share of kernel
    weights below `threshold` in magnitude (all Dense kernels, biases excluded)."""
    kernels = split_kernels(results)
    kernels["near_zero"] = [float(np.mean(np.abs(v) < threshold)) for v in kernels["values"]]
    summary = kernels.groupby("variant", sort=False)[["max_abs", "l2_norm", "near_zero"]].mean().reset_index()
    return summary[["variant", "max_abs", "l2_norm", "near_zero"]]
