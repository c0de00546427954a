"""Paired tests of each variant against the baseline on the same splits: the corrected
resampled t-test, the Wilcoxon signed-rank test, the Bayesian correlated t-test, Holm's
adjustment and the verdict they give."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..core import OK

ALPHA = 0.05


def constant(differences: np.ndarray) -> bool:
    """Whether per-split differences do not vary: equal up to float rounding (0.1 three times has a
    variance of 2e-33 from the rounding of its mean, which a t-test would read as certainty)."""
    d = np.asarray(differences, dtype=float)
    return bool(len(d)) and float(np.ptp(d)) <= 1e-12 * max(1.0, float(np.abs(d).max()))


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
    if se == 0 or constant(d):
        return math.nan, float(d[0]), float(d[0])
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
    no correction), which baycomp cannot. NaN where the differences do not vary: the posterior
    would be a point mass, P = 1 from as few as two identical splits, while no p-value exists
    beside it."""
    d = np.asarray(differences, dtype=float)
    if len(d) < 2 or not math.isfinite(test_train_ratio) or not math.isfinite(rope):
        return math.nan, math.nan, math.nan
    mean, var = float(d.mean()), float(d.var(ddof=1)) * (1.0 / len(d) + test_train_ratio)
    if var == 0 or constant(d):  # differences that do not vary: no posterior to speak of (and no p-value beside it)
        return math.nan, math.nan, math.nan
    posterior = sps.t(len(d) - 1, loc=mean, scale=math.sqrt(var))
    left, right = float(posterior.cdf(-rope)), float(posterior.sf(rope))
    return left, max(0.0, 1.0 - left - right), right


def wilcoxon_p(differences: Sequence[float]) -> float:
    """The two-sided p-value of scipy's `wilcoxon(differences)` (zeros dropped, ties averaged),
    computed faster where scipy would run its permutation test (ties or zeros among at most 13
    pairs): the same exact test over all 2^n sign flips, through the same
    `scipy.stats.permutation_test`, with the signed-rank statistic computed for every flip at
    once instead of once per flip in Python (0.1 s a call, thousands of calls a report).
    Elsewhere scipy's own call. tests/test_stats.py checks that the two agree."""
    d = np.asarray(differences, dtype=float)
    nonzero = d != 0
    magnitude = np.abs(d[nonzero])
    if len(d) > 13 or not len(magnitude) or (nonzero.all() and len(np.unique(magnitude)) == len(magnitude)):
        return float(sps.wilcoxon(d).pvalue)
    ranks = sps.rankdata(magnitude)  # a sign flip leaves |d|, so the ranks, as they are

    def r_plus(flipped: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum((np.compress(nonzero, flipped, axis=axis) > 0) * ranks, axis=axis)

    return float(sps.permutation_test((d,), r_plus, permutation_type="samples", vectorized=True, n_resamples=9999,
                                      alternative="two-sided").pvalue)


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
    ok = splits[splits["status"] == OK]
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
        p_wilcoxon = math.nan
        if len(diff) >= 2 and np.any(diff != 0):
            p_wilcoxon = wilcoxon_p(diff)
        below, within, above = bayesian_correlated_ttest(diff, ratio, rope)
        rows.append(
            {
                "variant": name,
                "pairs": len(diff),
                # to 12 decimals: differences of scores such as accuracies (k/100) that cancel
                # leave float noise (1e-17) that a page would print as a difference
                "mean_difference": round(float(diff.mean()), 12) if len(diff) else math.nan,
                "ci_low": low,
                "ci_high": high,
                "p_corrected": p,
                "p_wilcoxon": p_wilcoxon,
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


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment over the p-values that exist (NaN stays NaN and does not
    count as a comparison): the i-th smallest of m is multiplied by m − i + 1, made
    non-decreasing, capped at 1. What statsmodels' `multipletests(method='holm')` returns
    (tests/test_stats.py checks that they agree), without the `gc.collect()` it runs on every
    call, which costs about 0.2 s with TensorFlow loaded: a report computes it many times."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    order = present[np.argsort(p[present], kind="stable")]
    stepped = np.maximum.accumulate(p[order] * np.arange(len(order), 0, -1))
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini and Hochberg's q-values (scipy's `false_discovery_control`) over the p-values
    that exist; NaN stays NaN and does not count."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    present = ~np.isnan(p)
    if present.any():
        q[present] = sps.false_discovery_control(p[present], method="bh")
    return q


def verdict(difference: float, p_adjusted: float, greater_is_better: bool) -> str:
    """'better', 'worse' or 'no evidence' at α = 0.05 from a Holm-adjusted p-value."""
    if not (p_adjusted < ALPHA) or not math.isfinite(difference) or difference == 0:
        return "no evidence"
    return "better" if (difference > 0) == greater_is_better else "worse"


def wilcoxon_floor(pairs: int) -> float:
    """The smallest two-sided p-value the exact Wilcoxon signed-rank test can give with this
    many pairs (every difference of one sign): 2 / 2^pairs, e.g. 0.0625 for 5."""
    return 2.0 ** (1 - pairs) if pairs >= 1 else math.nan
