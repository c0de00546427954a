"""Statistics over stored splits: per-variant summaries, Heaton's running table, paired tests.

Standard deviations are population standard deviations (`statistics.pstdev`), as in Heaton's
notebooks, so the report's figures can be set beside his.
"""
from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

if TYPE_CHECKING:  # pragma: no cover
    from .stored import Results



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
                "stopped_epoch": int(row["stopped_epoch"]) if "stopped_epoch" in row else 0,
                "seconds": float(row["seconds"]),
                "status": row["status"],
                "reason": row["reason"],
            }
        )
    return pd.DataFrame(rows)


def corrected_paired_ttest(differences: Sequence[float], test_train_ratio: float) -> tuple[float, float, float]:
    """Nadeau and Bengio's corrected resampled t-test on per-split differences.

    Fold scores share training rows, so the plain paired t-test is too confident; the variance
    is inflated by (1/J + n_test/n_train); a ratio of 0 is the plain paired t-test. Returns
    (p-value, ci_low, ci_high) at 95%; p is NaN when the differences do not vary (no test can
    be made) or the ratio is unknown (NaN).
    """
    d = np.asarray(differences, dtype=float)
    j = len(d)
    if j < 2:
        return math.nan, math.nan, math.nan
    mean, var = d.mean(), d.var(ddof=1)
    se = math.sqrt((1.0 / j + test_train_ratio) * var)
    if not math.isfinite(se):
        return math.nan, math.nan, math.nan
    if se == 0:
        return math.nan, mean, mean
    t = mean / se
    p = 2 * sps.t.sf(abs(t), df=j - 1)
    half = sps.t.ppf(0.975, df=j - 1) * se
    return float(p), mean - half, mean + half


def bayesian_correlated_ttest(differences: Sequence[float], test_train_ratio: float,
                              rope: float) -> tuple[float, float, float]:
    """The Bayesian correlated t-test (Benavoli, Corani, Demšar and Zaffalon, JMLR 2017, "Time
    for a change"): the posterior of the mean difference is Student's t with n - 1 degrees of
    freedom, centred on the mean difference, its variance that of the corrected t-test
    (1/n + n_test/n_train) · s². Returns P(difference < -rope), P(|difference| <= rope) and
    P(difference > rope). baycomp's `CorrelatedTTest` computes the same for K-fold, where it
    takes the ratio as 1/(K - 1); this takes the splitter's own ratio (0 where the splits need
    no correction), which baycomp cannot."""
    d = np.asarray(differences, dtype=float)
    if len(d) < 2 or not math.isfinite(test_train_ratio) or not math.isfinite(rope):
        return math.nan, math.nan, math.nan
    mean, var = float(d.mean()), float(d.var(ddof=1)) * (1.0 / len(d) + test_train_ratio)
    if var == 0:  # a point mass at the mean
        return float(mean < -rope), float(abs(mean) <= rope), float(mean > rope)
    posterior = sps.t(len(d) - 1, loc=mean, scale=math.sqrt(var))
    left, right = float(posterior.cdf(-rope)), float(posterior.sf(rope))
    return left, max(0.0, 1.0 - left - right), right


def default_rope(score: str, baseline_mean: float) -> float:
    """The region of practical equivalence: 0.01 for accuracy, 1% of the baseline variant's
    mean for an error score (log loss, RMSE, MAE)."""
    return 0.01 if score == "accuracy" else 0.01 * abs(baseline_mean)


def paired_comparison(
    splits: pd.DataFrame, baseline: str, greater_is_better: bool, test_train_ratio: float,
    rope: float = math.nan, ratios: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Each variant against the baseline variant on the same splits: difference, CI, p-values,
    wins, and the Bayesian correlated t-test's P(better), P(equivalent), P(worse) within
    `rope` (`splits`: one row per (variant, split) with status and score)."""
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
        ratio = (ratios or {}).get(name, test_train_ratio)
        p, low, high = corrected_paired_ttest(diff, ratio)
        wilcoxon_p = math.nan
        if len(diff) >= 2 and np.any(diff != 0):
            wilcoxon_p = float(sps.wilcoxon(diff).pvalue)
        below, within, above = bayesian_correlated_ttest(diff, ratio, rope)
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
                "p_better": above if greater_is_better else below,
                "p_equivalent": within,
                "p_worse": below if greater_is_better else above,
            }
        )
    columns = ["variant", "pairs", "mean_difference", "ci_low", "ci_high", "p_corrected", "p_wilcoxon", "wins", "losses",
               "p_better", "p_equivalent", "p_worse"]
    table = pd.DataFrame(rows, columns=columns)
    table["p_corrected_holm"] = holm(table["p_corrected"])
    table["p_wilcoxon_holm"] = holm(table["p_wilcoxon"])
    table["verdict"] = [verdict(d, p, greater_is_better) for d, p in zip(table["mean_difference"], table["p_corrected_holm"])]
    return table


ALPHA = 0.05


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment (statsmodels' `multipletests`) over the p-values that
    exist; NaN stays NaN and does not count as a comparison."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    present = ~np.isnan(p)
    if present.any():
        from statsmodels.stats.multitest import multipletests

        adjusted[present] = multipletests(p[present], alpha=ALPHA, method="holm")[1]
    return adjusted


def verdict(difference: float, p_adjusted: float, greater_is_better: bool) -> str:
    """'better', 'worse' or 'no evidence' at α = 0.05 from a Holm-adjusted p-value."""
    if not (p_adjusted < ALPHA) or not math.isfinite(difference) or difference == 0:
        return "no evidence"
    return "better" if (difference > 0) == greater_is_better else "worse"


def wilcoxon_floor(pairs: int) -> float:
    """The smallest two-sided p-value the exact Wilcoxon signed-rank test can give with this
    many pairs (every difference of one sign): 2 / 2^pairs, e.g. 0.0625 for 5."""
    return 2.0 ** (1 - pairs) if pairs >= 1 else math.nan


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
