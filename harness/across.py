"""Comparing variants across data sets, as Demšar (2006, "Statistical comparisons of classifiers
over multiple data sets", JMLR 7) recommends: rank the variants on each data set, test whether
the ranks differ at all (Friedman, with Iman and Davenport's F), then which pairs differ
(Nemenyi, with its critical difference) and which variants differ from the baseline (the z-test
on mean ranks, Holm-adjusted over the k − 1 comparisons, and a sign test on wins and losses).

Ranks make data sets with different scores (accuracy, RMSE) and scales comparable: only the
order of the variants on each data set counts. The tests come from scipy and scikit-posthocs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats as sps

from .stats import ALPHA, holm


SIGNIFICANT_DIGITS = 12


def comparable(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores rounded to 12 significant digits, so that two means of the same split scores
    summed in another order (0.912 and 0.912 − 2e-16) tie instead of ranking apart."""
    return scores.map(lambda v: float(f"{v:.{SIGNIFICANT_DIGITS}g}") if pd.notna(v) else v)


def rank_table(scores: pd.DataFrame, greater_is_better: Mapping[str, bool]) -> pd.DataFrame:
    """Each variant's (column) rank on each data set (row): 1 = best, tied variants share the
    mean of the ranks they span (Demšar's convention); scores equal to 12 significant digits tie."""
    scores = comparable(scores)
    ranks = [scores.loc[name].rank(ascending=not greater_is_better[name], method="average") for name in scores.index]
    return pd.DataFrame(ranks, index=scores.index, columns=scores.columns)


@dataclass(frozen=True)
class FriedmanResult:
    datasets: int
    variants: int
    statistic: float  # χ², tie-corrected (scipy)
    p: float
    iman_davenport: float  # F = (N − 1) χ² / (N (k − 1) − χ²)
    p_iman_davenport: float

    @property
    def df(self) -> tuple[int, int]:
        """Degrees of freedom of Iman and Davenport's F."""
        return self.variants - 1, (self.variants - 1) * (self.datasets - 1)


def friedman(ranks: pd.DataFrame) -> FriedmanResult:
    """The Friedman test over data sets (rows) × variants (columns), scipy's tie-corrected χ²,
    and Iman and Davenport's less conservative F from it (Demšar 2006, §3.2.2). NaN where it
    cannot be computed: fewer than 3 variants or 2 data sets, or every data set all ties."""
    n, k = ranks.shape
    if k < 3 or n < 2 or (ranks.nunique(axis=1) <= 1).all():
        return FriedmanResult(n, k, math.nan, math.nan, math.nan, math.nan)
    chi2, p = sps.friedmanchisquare(*(ranks[column].to_numpy() for column in ranks.columns))
    chi2, p = float(chi2), float(p)
    denominator = n * (k - 1) - chi2
    f = (n - 1) * chi2 / denominator if denominator > 0 else math.inf
    p_f = float(sps.f.sf(f, k - 1, (k - 1) * (n - 1))) if math.isfinite(f) else 0.0
    return FriedmanResult(n, k, chi2, p, f, p_f)


def nemenyi(ranks: pd.DataFrame) -> pd.DataFrame:
    """The Nemenyi test's p-value for every pair of variants (scikit-posthocs)."""
    import scikit_posthocs

    table = scikit_posthocs.posthoc_nemenyi_friedman(ranks.reset_index(drop=True))
    return table.loc[list(ranks.columns), list(ranks.columns)]


def critical_difference(variants: int, datasets: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of mean ranks, q_α √(k(k+1) / 6N), with q_α the studentized
    range's quantile over √2 (Demšar 2006, §3.2.2)."""
    if variants < 2 or datasets < 1:
        return math.nan
    q = sps.studentized_range.ppf(1 - alpha, variants, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(variants * (variants + 1) / (6 * datasets)))


def sign_test(wins: int, ties: int, losses: int) -> float:
    """Two-sided sign test (scipy's binomial test) with Demšar's §3.2.1 handling of ties: they
    are split evenly between wins and losses, an odd one left out."""
    half = ties // 2
    trials = wins + losses + 2 * half
    return float(sps.binomtest(wins + half, trials).pvalue) if trials else math.nan


def versus_baseline(scores: pd.DataFrame, ranks: pd.DataFrame, greater_is_better: Mapping[str, bool],
                    baseline: str) -> pd.DataFrame:
    """Every variant against the baseline across data sets: mean ranks, the z-test on mean ranks
    (scikit-posthocs' Siegel–Castellan test) Holm-adjusted over the k − 1 comparisons with the
    baseline, and wins / ties / losses by mean score with the two-sided sign test (scipy; ties split evenly, as Demšar does)."""
    import scikit_posthocs

    scores = comparable(scores)
    z_test = scikit_posthocs.posthoc_siegel_friedman(ranks.reset_index(drop=True), p_adjust=None)
    mean_ranks = ranks.mean()
    rows = []
    for name in ranks.columns:
        if name == baseline:
            continue
        difference = scores[name] - scores[baseline]
        signed = pd.Series([d if greater_is_better[row] else -d for row, d in difference.items()], index=difference.index)
        wins, losses = int((signed > 0).sum()), int((signed < 0).sum())
        rows.append({
            "variant": name,
            "mean_rank": float(mean_ranks[name]),
            "rank_difference": float(mean_ranks[name] - mean_ranks[baseline]),
            "p_ranks": float(z_test.loc[name, baseline]),
            "wins": wins,
            "ties": int((signed == 0).sum()),
            "losses": losses,
            "p_sign": sign_test(wins, int((signed == 0).sum()), losses),
        })
    table = pd.DataFrame(rows, columns=["variant", "mean_rank", "rank_difference", "p_ranks", "wins", "ties", "losses", "p_sign"])
    table["p_ranks_holm"] = holm(table["p_ranks"])
    table["verdict"] = ["no evidence" if not p < ALPHA else "better" if d < 0 else "worse"
                        for d, p in zip(table["rank_difference"], table["p_ranks_holm"])]
    return table.sort_values("mean_rank", kind="stable").reset_index(drop=True)
