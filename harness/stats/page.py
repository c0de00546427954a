"""The tables an experiment's page shows, computed once per `Results`: the summary per
variant joined with its paired comparison against the baseline, and from it the comparison
and paired tables that `harness.run(...)` returns as DataFrames."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from ..core import NETWORK, REFERENCE, Results
from .significance import default_rope, paired_comparison
from .summary import variant_summary


def by_training_size(results: Results) -> dict[int, Results]:
    """The run's splits by the number of rows their networks trained on, where those differ from
    split to split (a learning curve's splitter: every size is a question of its own), each as
    `Results` of its splits alone; {} where every split trains on about as many rows (K-fold:
    sizes within 1% of each other)."""
    rows = results.splits["metrics"].map(lambda m: m.get("train_rows") if isinstance(m, dict) else None)
    sizes = sorted({int(r) for r in rows.dropna()})
    if len(sizes) < 2 or sizes[-1] <= 1.01 * sizes[0]:
        return {}
    splits = results.splits.assign(_rows=rows)
    by_split = splits.dropna(subset=["_rows"]).groupby("split")["_rows"].max()
    return {size: dataclasses.replace(results, splits=results.splits[results.splits["split"].isin(
        by_split[by_split == size].index)].reset_index(drop=True), derived={}) for size in sizes}


def summary(results: Results) -> pd.DataFrame:
    """Per name (variants, then reference models), best mean first, with the paired
    comparison against the baseline variant (computed once per `Results`, then copied)."""
    if "summary" not in results.derived:
        results.derived["summary"] = _summary(results)
    return results.derived["summary"].copy()


def _summary(results: Results) -> pd.DataFrame:
    table = variant_summary(results.splits, results.greater_is_better, results.order)
    references = set(results.reference_models)
    table["kind"] = [REFERENCE if n in references else NETWORK for n in table["variant"]]
    table["regularizers"] = [regularizers(results, n) for n in table["variant"]]
    ratio = results.run.test_train_ratio  # unknown (NaN): no p-value, not a guess
    paired = paired_comparison(results.splits, results.baseline, results.greater_is_better, ratio, rope(results),
                               reference_ratios(results) if results.run.resampling_correction else None)
    return table.merge(paired, on="variant", how="left")


def regularizers(results: Results, name: str) -> str | None:
    """What regularizes variant `name` in a word ('L2 + dropout', 'none'), read from its built
    model when the run recorded it; None for a reference model or an older run."""
    found = results.regularization(name)
    return found.family if found is not None else None


def reference_ratios(results: Results) -> dict[str, float]:
    """Each reference model's own test/train ratio: it trains on the split's fit and validation
    rows, more than the networks do (from its rows' `test_rows` and `train_rows`; runs that
    did not record `test_rows` keep the networks' ratio)."""
    ratios = {}
    for name in results.reference_models:
        metrics = list(results.ok(name)["metrics"])
        if metrics and all("test_rows" in m and m.get("train_rows") for m in metrics):
            ratios[name] = float(np.mean([m["test_rows"] / m["train_rows"] for m in metrics]))
    return ratios


def rope(results: Results) -> float:
    """The experiment's `rope`, or the default for its score from the baseline variant's mean."""
    given = results.run.training.get("rope")  # a run stored before rope was recorded has none
    if given is not None:
        return float(given)
    base = results.ok(results.baseline)["score"]
    return default_rope(results.score_name, float(base.mean()) if len(base) else math.nan)


def headline(results: Results) -> dict[str, object]:
    """What the index shows of a run: its networks' summary row with the highest mean (`best`),
    the baseline's (`baseline`), the first's mean minus the second's (`difference`), and how
    many networks and reference models it compared. Reference models are on the page only."""
    table = summary(results)
    networks = table[table["variant"].isin(results.networks)]
    base = table[table["variant"] == results.baseline]
    best = networks.iloc[0].to_dict() if len(networks) else None
    baseline = base.iloc[0].to_dict() if len(base) else None
    others = table[table["variant"] != results.baseline]
    return {"best": best, "baseline": baseline, "variants": len(networks), "references": len(table) - len(networks),
            "difference": best["mean"] - baseline["mean"] if best and baseline else None,
            # every comparison the page makes with its baseline: (name, p of the paired t-test, or NaN)
            "comparisons": list(zip(others["variant"], others["p_corrected"].astype(float)))}


def comparison(results: Results) -> pd.DataFrame:
    """The page's comparison table with numbers, not text: one row per name (index `variant`;
    variants and reference models), best mean score first. Columns: kind ('network' or
    'reference model'), regularizers (what regularizes a variant, read from its built model:
    'L2 + dropout', 'none'; None for a reference model, or a run stored before it was read),
    splits, failed, mean, stdev (population, as Heaton), min, max (of the
    score over successful splits), mean_epochs, mean_best_epoch, mean_train, gap
    (mean_train − mean), difference (mean paired difference from the baseline variant), p
    (corrected paired t-test), p_holm, verdict ('baseline', 'better', 'worse', 'no
    evidence'), seconds (training time summed)."""
    table = summary(results)[["variant", "kind", "regularizers", "splits", "failed", "mean", "stdev", "min", "max", "mean_epochs",
                              "mean_best_epoch", "mean_train", "gap", "mean_difference", "p_corrected",
                              "p_corrected_holm", "verdict", "seconds"]]
    table = table.rename(columns={"mean_difference": "difference", "p_corrected": "p", "p_corrected_holm": "p_holm"})
    table.loc[table["variant"] == results.baseline, "verdict"] = "baseline"
    table.attrs.update(score=results.score_name, greater_is_better=results.greater_is_better, baseline=results.baseline)
    return table.set_index("variant")


def paired(results: Results) -> pd.DataFrame:
    """The page's paired comparison with the baseline variant, one row per other name (index
    `variant`): pairs (splits both scored), difference (mean, variant − baseline), ci_low,
    ci_high (its 95% interval), p (corrected paired t-test, or plain where no correction
    applies), p_holm, p_wilcoxon, p_wilcoxon_holm, wins, losses (splits better / worse than
    the baseline), p_better, p_equivalent, p_worse (Bayesian correlated t-test within the
    rope) and verdict."""
    table = summary(results)
    table = table.loc[table["variant"] != results.baseline,
                      ["variant", "pairs", "mean_difference", "ci_low", "ci_high", "p_corrected", "p_corrected_holm",
                       "p_wilcoxon", "p_wilcoxon_holm", "wins", "losses", "p_better", "p_equivalent", "p_worse",
                       "verdict"]]
    table = table.rename(columns={"mean_difference": "difference", "p_corrected": "p", "p_corrected_holm": "p_holm"})
    table = table.astype({"pairs": "Int64", "wins": "Int64", "losses": "Int64"})
    table.attrs.update(score=results.score_name, greater_is_better=results.greater_is_better, baseline=results.baseline)
    return table.set_index("variant")
