"""The pages across data sets: for every group of experiments whose latest runs share their
variant names (the default suite first), which variants win across data sets and by how much.

Each page shows the mean ranks, the Friedman test, the Nemenyi test with a critical-difference
diagram, each variant against the baseline, and a heatmap of the change from the baseline per
data set × variant. Everything it shows is computed by `harness.stats.across` (`analyse`); this
module renders it.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ..core import OK, Section
from ..stats import wilcoxon_floor
from ..stats.across import (BOOTSTRAP, FOLDER, MIN_ASYMPTOTIC, OTHER_PROPERTIES, PERMUTATIONS, RELATIVE_ROPE, Analysis,
                             FriedmanResult, Group, analyse, effect_sizes, properties, property_trends, trend)
from ..stats.significance import ALPHA
from . import atomic, figures
from .formatting import fmt
from .render import Exports, render_section


def build(group: Group) -> tuple[list[Section], dict[str, Any]]:
    """The page's sections, and the headline the index shows."""
    analysis = analyse(group)
    effects = effect_sizes(analysis.relative, group.baseline) if analysis.relative is not None and len(
        analysis.relative) >= 2 else None
    sections = [
        _conclusions_section(analysis, effects),
        _ranks_section(analysis),
        _effects_section(analysis, effects),
        _hierarchical_section(analysis),
        _pays_section(analysis),
        _friedman_section(analysis.friedman),
        _nemenyi_section(analysis),
        _heatmap_section(analysis),
        _per_dataset_section(analysis),
        _runs_section(group),
    ]
    return [section for section in sections if section is not None], {"headline": analysis.headline,
                                                                       "notes": analysis.notes}


def _ranks_section(analysis: Analysis) -> Section:
    group, ranks, versus = analysis.group, analysis.ranks, analysis.versus
    if versus is None:
        table = pd.DataFrame({"variant": ranks.columns, "mean_rank": analysis.mean_ranks[ranks.columns].to_numpy()})
        return Section("Mean ranks", table=table, csv="mean_ranks.csv",
                       note="No baseline comparison: it needs the baseline variant and two or more data sets.")
    base = pd.DataFrame([{"variant": group.baseline, "regularizers": group.regularizers(group.baseline),
                          "mean_rank": float(analysis.mean_ranks[group.baseline])}])
    table = pd.concat([versus, base], ignore_index=True).sort_values("mean_rank", kind="stable")
    table = table[["variant", "regularizers", "mean_rank", "rank_difference", "p_ranks", "p_ranks_holm", "verdict", "wins", "ties",
                   "losses", "p_sign", "pages_better", "pages_worse"]]
    n = len(ranks)
    text = (f"Each variant's rank on each of the {n} data sets (1 = best, by mean score over its splits; ties share "
            f"their mean rank), averaged. Against the baseline ({group.baseline}): the difference of mean ranks, "
            f"the z-test on mean ranks z = ΔR / √(k(k+1)/6N) (Demšar 2006, §3.2.2; scikit-posthocs) with p Holm-"
            f"adjusted over the {len(versus)} comparisons and a verdict at α = {ALPHA:g}; the data sets where the "
            "variant's mean beats, ties or trails the baseline's, with the two-sided sign test on wins and losses "
            f"(scipy; with {n} data sets no sign-test p can fall below {fmt(2.0 ** (1 - n), 4)}, every data set on "
            "one side; the z-test's p is continuous); and how many experiment pages found it better or worse (their "
            "Holm-adjusted paired tests over splits).")
    if not _friedman_found(analysis):
        text += (" These comparisons are post-hoc tests of the Friedman test below, which found no evidence that the "
                 "ranks differ (or had too little to test): their verdicts are exploratory, marked so, and are not "
                 "conclusions of this suite.")
        table["verdict"] = [f"{v} (exploratory)" if isinstance(v, str) and v in ("better", "worse") else v
                            for v in table["verdict"]]
    digits = {"wins": 0, "ties": 0, "losses": 0, "pages_better": 0, "pages_worse": 0, "mean_rank": 3, "rank_difference": 3}
    return Section("Mean ranks, and each variant against the baseline", text=text, table=table, csv="mean_ranks.csv",
                   digits=digits, highlight=str(table.iloc[0]["variant"]))


def _effects_section(analysis: Analysis, table: pd.DataFrame | None) -> Section | None:
    """How much each variant changes the score across data sets, with intervals, and the
    Wilcoxon signed-rank test across data sets, each sentence generated from the numbers."""
    if table is None or table.empty:
        return None
    n = len(analysis.relative)
    sentences = [effect_sentence(row, n) for row in table.to_dict("records")]
    found = [row["variant"] for row in table.to_dict("records") if row["verdict"] in ("better", "worse")]
    lead = (f"Each variant's change from the baseline ({analysis.group.baseline}) in % of the baseline's score on "
            f"each of the {n} data sets (+ = better whatever the score), summarized over the data sets: the median "
            f"and mean change with 95% BCa bootstrap intervals (scipy, {BOOTSTRAP:,} resamples of the data sets, "
            f"seeded), the share of data sets where the variant is better or worse by more than {RELATIVE_ROPE:g}% "
            "(the region of practical equivalence), and the Wilcoxon signed-rank test of the changes across data "
            "sets (Demšar 2006, §3.1.3; scipy; zero changes left out), Holm-adjusted over the "
            f"{len(table)} variants. With {n} data sets (fewer where a change is zero) the Wilcoxon test cannot give "
            f"a p-value below {fmt(wilcoxon_floor(n), 4)} (every data set on one side), before Holm. "
            + (f"By this test {', '.join(found)} differ from the baseline." if found else
               "By this test no variant differs from the baseline at α = 0.05 after Holm."))
    shown = table.rename(columns={"median_low": "median 95% low", "median_high": "median 95% high",
                                  "mean_low": "mean 95% low", "mean_high": "mean 95% high",
                                  "better_share": f"better > {RELATIVE_ROPE:g}%", "worse_share": f"worse > {RELATIVE_ROPE:g}%"})
    return Section("Effect sizes across data sets, and the Wilcoxon test", text=lead, table=shown, csv="effect_sizes.csv",
                   items=[(row["variant"], sentence) for row, sentence in zip(table.to_dict("records"), sentences)],
                   digits={"datasets": 0, "p_wilcoxon": 4, "p_wilcoxon_holm": 4, "median": 2, "mean": 2,
                           "median 95% low": 2, "median 95% high": 2, "mean 95% low": 2, "mean 95% high": 2,
                           f"better > {RELATIVE_ROPE:g}%": 3, f"worse > {RELATIVE_ROPE:g}%": 3})


#: the posterior probability at which the hierarchical model's verdict is read as decided
DECIDED = 0.95


def _hierarchical_section(analysis: Analysis) -> Section | None:
    """The Bayesian hierarchical model of each variant against the baseline over the data sets."""
    table = analysis.hierarchical
    if table is None or table.empty:
        return None
    base = analysis.group.baseline
    text = (f"Each variant against the baseline ({base}) in one model of every split of every data set (Corani, "
            "Benavoli, Demšar, Mangili and Zaffalon, Machine Learning 2017; the model and priors of baycomp's "
            "HierarchicalTest, sampled by Gibbs sampling and checked against baycomp's own output): each data set's "
            "per-split changes (in % of the baseline's score, + = better) are correlated as cross-validation makes "
            "them (ρ = n_test / n_all), and the data sets' true changes are drawn from one Student t around the "
            "suite's mean change δ₀, so each data set's estimate is shrunk towards the others. P(better), "
            f"P(equivalent) and P(worse) are baycomp's: for a new data set like these, the posterior probability that "
            f"'better by more than {RELATIVE_ROPE:g}%', 'within ±{RELATIVE_ROPE:g}%' (the region of practical "
            f"equivalence) or 'worse by more than {RELATIVE_ROPE:g}%' is the likeliest of the three. A probability of "
            f"{DECIDED:g} or more is read as decided; below it, the model cannot tell. δ₀ is the posterior mean of "
            "the suite's mean change with its 95% credible interval.")
    shown = table.rename(columns={"mean": "δ₀ (%)", "mean_low": "δ₀ 95% low", "mean_high": "δ₀ 95% high",
                                  "p_worse": "P(worse)", "p_equivalent": "P(equivalent)", "p_better": "P(better)"})
    sentences = [(row["variant"], hierarchical_sentence(row)) for row in table.to_dict("records")]
    shrunk = analysis.shrunk.reset_index(names="experiment") if analysis.shrunk is not None else None
    subsections = [Section("Shrunk change per data set (%)", text="Each data set's change from the baseline as the "
                           "hierarchical model estimates it (posterior mean, in % of the baseline's score, + = better): "
                           "its own splits' mean pulled towards the suite's.", table=shrunk, csv="hierarchical_shrunk.csv",
                           collapsed=True)] if shrunk is not None and not shrunk.empty else []
    return Section("The Bayesian hierarchical model", text=text, table=shown, csv="hierarchical.csv", items=sentences,
                   digits={"datasets": 0, "P(worse)": 3, "P(equivalent)": 3, "P(better)": 3, "δ₀ (%)": 2,
                           "δ₀ 95% low": 2, "δ₀ 95% high": 2}, subsections=subsections)


def hierarchical_sentence(row: dict[str, Any]) -> str:
    """One variant's hierarchical verdict in words, every figure from `row` (`suite_hierarchical`)."""
    if not math.isfinite(row.get("p_better", math.nan)):
        return f"not computed: it needs two or more data sets with two or more paired splits ({row['datasets']} here)."
    probabilities = {"better": row["p_better"], "equivalent": row["p_equivalent"], "worse": row["p_worse"]}
    likeliest = max(probabilities, key=probabilities.get)
    reading = {"better": f"better than the baseline by more than {RELATIVE_ROPE:g}%",
               "equivalent": f"practically equivalent to the baseline (within ±{RELATIVE_ROPE:g}%)",
               "worse": f"worse than the baseline by more than {RELATIVE_ROPE:g}%"}[likeliest]
    verdict = (f"decided: on a new data set like these it is {reading}" if probabilities[likeliest] >= DECIDED
               else f"undecided: no probability reaches {DECIDED:g}")
    return (f"P(better) = {row['p_better']:.3f}, P(equivalent) = {row['p_equivalent']:.3f}, P(worse) = "
            f"{row['p_worse']:.3f} over {row['datasets']} data sets; δ₀ = {row['mean']:+.2f}% [{row['mean_low']:+.2f}, "
            f"{row['mean_high']:+.2f}]: {verdict}.")


#: what the conclusions call each finding, and the sentence that introduces its variants
_FINDINGS = {
    "both better": ("Better (both tests)", "Better than the baseline ({base}) across the {n} data sets by the Wilcoxon "
                    "signed-rank test on the relative changes (Holm over the variants, α = 0.05), and by more than "
                    "{rope:g}% on a new data set by the hierarchical model (P(better) ≥ {decided:g})"),
    "better": ("Better (Wilcoxon)", "Better than the baseline ({base}) across the {n} data sets by the Wilcoxon "
               "signed-rank test (Holm, α = 0.05); the hierarchical model does not decide (no probability reaches "
               "{decided:g})"),
    "better, small": ("Better, but by less than ±{rope:g}%", "Better than the baseline ({base}) by the Wilcoxon "
                      "signed-rank test (Holm, α = 0.05), yet practically equivalent to it by the hierarchical model "
                      "(P(equivalent) ≥ {decided:g} that a new data set changes by less than ±{rope:g}%)"),
    "worse": ("Worse", "Worse than the baseline ({base}) by the Wilcoxon signed-rank test (Holm, α = 0.05)"),
    "equivalent": ("Equivalent", "Practically equivalent to the baseline (within ±{rope:g}% on a new data set) by the "
                   "hierarchical model, P(equivalent) ≥ {decided:g}, the Wilcoxon test finding no evidence of a difference"),
    "bayes better": ("Better (hierarchical)", "Better than the baseline by the hierarchical model alone (P(better) ≥ "
                     "{decided:g}), the Wilcoxon test finding no evidence after Holm"),
    "bayes worse": ("Worse (hierarchical)", "Worse than the baseline by the hierarchical model alone (P(worse) ≥ {decided:g})"),
    "undecided": ("Cannot tell", "Not told apart from the baseline by either test (no evidence of a difference, and "
                  "no hierarchical probability reaches {decided:g})"),
}


def _finding(verdict: str, p: dict[str, float]) -> str:
    """Which of _FINDINGS a variant's Wilcoxon verdict and hierarchical probabilities make."""
    if verdict == "better":
        return ("both better" if p["better"] >= DECIDED else "better, small" if p["equivalent"] >= DECIDED
                else "better")
    if verdict == "worse":
        return "worse"
    return next((k for k, name in (("equivalent", "equivalent"), ("bayes better", "better"), ("bayes worse", "worse"))
                 if p[name] >= DECIDED), "undecided")


def conclusions(analysis: Analysis, effects: pd.DataFrame | None) -> list[tuple[str, str]]:
    """What the suite concludes about each variant against the baseline, and what it cannot
    tell apart, in sentences generated from the tests' numbers: the Wilcoxon signed-rank test
    across data sets (Holm) and the hierarchical model (a probability ≥ DECIDED), then the
    Friedman and Nemenyi tests among the variants. Each item: (what it found, the sentence)."""
    base, n = analysis.group.baseline, len(analysis.ranks)
    hier = analysis.hierarchical.set_index("variant") if analysis.hierarchical is not None else pd.DataFrame()
    found: dict[str, list[str]] = {key: [] for key in _FINDINGS}
    for row in effects.to_dict("records") if effects is not None else []:
        name = row["variant"]
        h = hier.loc[name] if name in hier.index else None
        p = {k: float(h[f"p_{k}"]) if h is not None and pd.notna(h[f"p_{k}"]) else math.nan
             for k in ("better", "equivalent", "worse")}
        found[_finding(row["verdict"], p)].append(
            f"{name} (median change {row['median']:+.2f}%, Wilcoxon Holm p = {fmt(row['p_wilcoxon_holm'], 4)}; "
            f"hierarchical P(better) = {fmt(p['better'], 3)}, P(equivalent) = {fmt(p['equivalent'], 3)})")
    values = {"base": base, "n": n, "rope": RELATIVE_ROPE, "decided": DECIDED}
    sentences = [(_FINDINGS[k][0].format(**values), f"{_FINDINGS[k][1].format(**values)}: {'; '.join(v)}.")
                 for k, v in found.items() if v]
    sentences.append(("Among the variants", _among_variants(analysis)))
    return sentences


def _among_variants(analysis: Analysis) -> str:
    """What the rank tests say among the variants, in words."""
    result, ranks = analysis.friedman, analysis.mean_ranks
    if not math.isfinite(result.p_verdict):
        return "Among the variants: the Friedman test could not be computed, so the suite does not order them."
    if result.p_verdict >= ALPHA:
        return (f"Among the variants: the Friedman test finds no evidence that their ranks differ (p = "
                f"{fmt(result.p_verdict, 4)}), so the suite does not order them; the mean ranks are a description.")
    best = ranks.index[0]
    near = [v for v in ranks.index[1:] if ranks[v] - ranks[best] <= analysis.cd]
    tail = (f"the Nemenyi test cannot tell the best-ranked, {best} (mean rank {ranks[best]:.2f}), from "
            + ", ".join(f"{v} ({ranks[v]:.2f})" for v in near) + f" (critical difference {analysis.cd:.2f})"
            if near else f"the best-ranked, {best} (mean rank {ranks[best]:.2f}), is ahead of every other variant by "
            f"more than the Nemenyi critical difference {analysis.cd:.2f}")
    return (f"Among the variants: the Friedman test finds that their ranks differ (p = {fmt(result.p_verdict, 4)}); "
            f"{tail}.")


def _conclusions_section(analysis: Analysis, effects: pd.DataFrame | None) -> Section | None:
    if effects is None or effects.empty:
        return None
    return Section("What this suite concludes", text="Generated from the tests below, every figure quoted from "
                   "them; a conclusion here is only as strong as the test it names.",
                   items=conclusions(analysis, effects))


def _pays_section(analysis: Analysis) -> Section | None:
    """When does each regularizer pay? Its gain over the baseline against the data sets' training
    rows per weight, with an OLS trend (statsmodels) and a sentence per variant from the fit."""
    if analysis.relative is None or len(analysis.relative) < 3:
        return None
    group = analysis.group
    props = properties(group)
    if props["rows_per_weight"].isna().all():
        return Section("When does a regularizer pay?", text="Not computed: these runs did not record their models' "
                       "parameters or training rows (runs stored before they were); running them again records it.")
    rows, points, fits = [], {}, {}
    for variant in [c for c in analysis.relative.columns if c != group.baseline]:
        gain = analysis.relative[variant]
        found = trend(gain, props["rows_per_weight"])
        rows.append({"variant": variant, **{k: v for k, v in found.items() if k != "fit"}})
        points[variant] = pd.DataFrame({"gain": gain, "rows_per_weight": props["rows_per_weight"]}).dropna()
        fits[variant] = found["fit"]
    table = pd.DataFrame(rows)
    sentences = [(row["variant"], pays_sentence(row)) for row in rows]
    shown = props.reset_index()
    text = ("Each variant's gain over the baseline on each data set (in % of the baseline's score, + = better) "
            "against how many rows the network trains on per weight (the baseline model's parameters), on a log "
            "axis: an ordinary least-squares line of the gain on log10(rows per weight) with its 95% confidence band "
            "(statsmodels). The slope is read as the gain per tenfold fewer rows per weight. With few data sets "
            "the band is wide, and data sets differ in more than this one property (features per row, label noise "
            "and the task are in the table below), and one data set with a large gain can carry the line (the figure "
            f"shows each): a trend here is a description of this suite, not a law. The p-values are not adjusted for "
            f"the {len(rows)} variants.")
    return Section("When does a regularizer pay?", text=text, items=sentences,
                   figure=figures.gain_against_rows(points, fits, group.baseline),
                   table=table.rename(columns={"slope": "slope (% per ×10 rows/weight)", "slope_low": "95% low",
                                               "slope_high": "95% high", "n": "data sets"}),
                   csv="gain_trend.csv", digits={"data sets": 0, "p": 4},
                   subsections=[_other_properties(analysis, props),
                                Section("The data sets' properties", table=shown, csv="dataset_properties.csv",
                                        digits={"rows_per_weight": 4, "features_per_row": 4, "label_noise": 3})])


def _other_properties(analysis: Analysis, props: pd.DataFrame) -> Section:
    """The gains against label noise, features per row and the task, one OLS fit per property."""
    group = analysis.group
    table = property_trends(analysis.relative, props, group.baseline)
    variants = list(dict.fromkeys(table["variant"]))
    sentences = [(v, properties_sentence(table[table["variant"] == v].to_dict("records"))) for v in variants]
    figures_shown = []
    for column, words, log in OTHER_PROPERTIES[:2]:
        points, fits = {}, {}
        for variant in variants:
            frame = pd.DataFrame({"gain": analysis.relative[variant], column: props[column]}).dropna()
            found = trend(frame["gain"], frame[column], log=log)
            if found["fit"] is not None:
                points[variant], fits[variant] = frame, found["fit"]
        figure = figures.gain_against_rows(points, fits, group.baseline, x=column, label=words, log=log)
        if figure is not None:
            figures_shown.append(Section(f"Gain against {words}", figure=figure))
    text = ("The same gains fitted, one property at a time, on the share of labels known to be wrong (the generated "
            "problems'; real data sets have none declared and are left out of that fit), on log10(features per row), "
            "and on the task (the slope is the regressions' mean gain minus the classifications'). The properties "
            "are not independent of each other or of rows per weight in this suite, so each slope describes the "
            "suite, not a cause; p-values are not adjusted for the comparisons.")
    return Section("Other properties: label noise, features per row, task", text=text, items=sentences,
                   table=table, csv="gain_trend_properties.csv", digits={"n": 0, "p": 4}, subsections=figures_shown)


def properties_sentence(rows: list[dict[str, Any]]) -> str:
    """One variant's fits on OTHER_PROPERTIES in words, every figure from `rows` (`property_trends`)."""
    unit = {"label_noise": ("per 10 points more label noise", 0.1), "features_per_row": ("per tenfold more features "
            "per row", 1.0), "regression": ("on regressions than on classifications", 1.0)}
    found, none = [], []
    for row in rows:
        words, scale = unit[row["property"]]
        if not math.isfinite(row["slope"]):
            none.append(f"{row['property'].replace('_', ' ')} (not fitted: {row['n']} data sets)")
            continue
        slope, low, high = row["slope"] * scale, row["slope_low"] * scale, row["slope_high"] * scale
        if low > 0 or high < 0:
            found.append(f"{slope:+.2f}% {words} (95% CI [{low:+.2f}, {high:+.2f}], p = {fmt(row['p'], 4)}, "
                         f"{row['n']} data sets)")
        else:
            none.append(f"{row['property'].replace('_', ' ')} (CI [{low:+.2f}, {high:+.2f}] includes 0)")
    text = ("its gain changes " + "; ".join(found)) if found else "no property here changes its gain beyond chance"
    return text + (f"; no evidence for {', '.join(none)}" if none and found else f": {', '.join(none)}" if none else "") + "."


def pays_sentence(row: dict[str, Any]) -> str:
    """One variant's trend in words, every figure from `row` (`trend`): the gain per tenfold
    fewer rows per weight is minus the slope on log10(rows per weight)."""
    if not math.isfinite(row["slope"]):
        return f"no trend fitted (it needs three or more data sets with different rows per weight; {row['n']} here)."
    per, low, high = -row["slope"], -row["slope_high"], -row["slope_low"]
    if low > 0:
        reading = "it gains more the fewer rows there are per weight"
    elif high < 0:
        reading = "it gains more the more rows there are per weight"
    else:
        reading = "no evidence that its gain depends on rows per weight"
    return (f"{per:+.2f}% gain per tenfold fewer training rows per weight (95% CI [{low:+.2f}, {high:+.2f}], OLS over "
            f"{row['n']} data sets, p = {fmt(row['p'], 4)}): {reading}.")


def effect_sentence(row: dict[str, Any], datasets: int) -> str:
    """One variant's effect across data sets in words, every figure from `row` (`effect_sizes`)."""
    def interval(name: str) -> str:
        low, high = row[f"{name}_low"], row[f"{name}_high"]
        return f" [{low:+.2f}, {high:+.2f}]" if math.isfinite(low) and math.isfinite(high) else " [no interval]"

    verdict_text = {"better": "better than the baseline", "worse": "worse than the baseline"}.get(
        row["verdict"], "no evidence of a difference")
    return (f"median change {row['median']:+.2f}%{interval('median')}, mean {row['mean']:+.2f}%{interval('mean')} over "
            f"{row['datasets']} data sets; better by more than {RELATIVE_ROPE:g}% on {row['better_share']:.0%} of them, "
            f"worse by more than that on {row['worse_share']:.0%}; Wilcoxon p = {fmt(row['p_wilcoxon'], 4)}, Holm "
            f"{fmt(row['p_wilcoxon_holm'], 4)}: {verdict_text}.")


def _friedman_found(analysis: Analysis) -> bool:
    """Whether the Friedman test found that the ranks differ (its post-hoc tests are then more than exploratory)."""
    p = analysis.friedman.p_verdict
    return math.isfinite(p) and p < ALPHA


def _friedman_section(result: FriedmanResult) -> Section:
    if not math.isfinite(result.statistic):
        return Section("Friedman test", text="Not computed: it needs three or more variants, two or more data sets, "
                       "and at least one data set where the variants' scores differ.")
    finding = ("the variants' ranks differ more than chance would make them" if result.p_verdict < ALPHA
               else "no evidence that the variants' ranks differ")
    df1, df2 = result.df
    text = (f"Do the variants differ at all across the {result.datasets} data sets? Friedman χ²({result.variants - 1}) "
            f"= {fmt(result.statistic, 3)}, p = {fmt(result.p, 4)} (scipy, tie-corrected); Iman and Davenport's "
            f"F({df1}, {df2}) = {fmt(result.iman_davenport, 3)}, p = {fmt(result.p_iman_davenport, 4)}, the "
            f"less conservative form Demšar recommends.")
    if math.isfinite(result.p_permutation):
        text += (f" With fewer than {MIN_ASYMPTOTIC} data sets both approximations reject far more often than α "
                 f"(with every data set ordering the variants alike, F has no finite value): the verdict reads a "
                 f"permutation test instead, p = {fmt(result.p_permutation, 4)} ({PERMUTATIONS:,} random re-orderings "
                 f"of each data set's ranks; with N data sets and k variants no p can fall below 1/(k!)^(N−1)).")
    text += f" At α = {ALPHA:g}: {finding}."
    return Section("Friedman test", text=text)


def _nemenyi_section(analysis: Analysis) -> Section:
    ranks, mean_ranks, cd, p_values = analysis.ranks, analysis.mean_ranks, analysis.cd, analysis.nemenyi
    n, k = ranks.shape
    if p_values is None:
        return Section("Nemenyi test", text="Not computed: it needs three or more variants and two or more data sets.")
    text = (f"Which pairs differ? Two variants differ at α = {ALPHA:g} when their mean ranks differ by more than the "
            f"critical difference CD = q_α √(k(k+1)/6N) = {fmt(cd, 3)} (k = {k}, N = {n}). With few data sets the "
            "test is weak: a bar joining variants says the data cannot tell them apart, not that they are equal.")
    title = "Nemenyi test and critical-difference diagram"
    if not _friedman_found(analysis):
        title += " (exploratory)"
        text = ("Exploratory only: the Friedman test above found no evidence that the ranks differ, so no pair below "
                "is a finding of this suite. " + text)
    figure = figures.critical_difference_diagram(mean_ranks, p_values, cd, ALPHA)
    matrix = p_values.loc[mean_ranks.index, mean_ranks.index].reset_index(names="variant")
    return Section(title, text=text, figure=figure, subsections=[
        Section("Nemenyi p-values, every pair", table=matrix, csv="nemenyi.csv", collapsed=True)])


def _heatmap_section(analysis: Analysis) -> Section:
    group, scores, verdicts = analysis.group, analysis.scores, analysis.verdicts
    if analysis.relative is None:
        return Section("Difference from the baseline", text=f"The baseline {group.baseline} is not among the variants.")
    others = [v for v in scores.columns if v != group.baseline]
    relative = analysis.relative[others]
    marks = verdicts[others].map(lambda v: " ▲" if v == "better" else " ▼" if v == "worse" else "")
    differences = analysis.differences[others]
    lead = pd.DataFrame({"experiment": scores.index, "score": [group_score(group, e) for e in scores.index],
                         f"{group.baseline} (baseline)": scores[group.baseline].to_numpy()})
    table = pd.concat([lead, differences.reset_index(drop=True)], axis=1)  # a variant may be named 'score'

    text = (f"Each variant's mean score minus the baseline's ({group.baseline}) on each data set. The heatmap shows it "
            "in % of the baseline's score, signed so that + (green) is better whatever the score; ▲ / ▼ mark the "
            "cells whose experiment page found the variant better / worse (Holm-adjusted paired test over splits). "
            "The table below gives the differences in each score's own units (a negative RMSE difference is better).")
    return Section("Difference from the baseline per data set", text=text,
                   figure=figures.difference_heatmap(relative, marks), table=table, csv="difference_from_baseline.csv")


def group_score(group: Group, experiment: str) -> str:
    results = next(r for r in group.members if r.experiment == experiment)
    return f"{results.score_name} ({'higher' if results.greater_is_better else 'lower'} is better)"


def _per_dataset_section(analysis: Analysis) -> Section:
    group, scores, ranks = analysis.group, analysis.scores, analysis.ranks
    lead = pd.DataFrame({"experiment": scores.index, "score": [group_score(group, e) for e in scores.index]})
    table = pd.concat([lead, scores.reset_index(drop=True)], axis=1)
    mean_ranks = analysis.mean_ranks[ranks.columns].to_frame().T
    rank_rows = pd.concat([pd.DataFrame({"experiment": list(ranks.index) + ["mean rank"]}),
                           pd.concat([ranks, mean_ranks], ignore_index=True)], axis=1)
    return Section("Score and rank per data set", text="Each variant's mean score over the splits of each data set, "
                   "and its rank there (1 = best).", subsections=[
                       Section("Mean score", table=table, csv="scores.csv"),
                       Section("Rank", table=rank_rows, csv="ranks.csv", digits={c: 2 for c in ranks.columns},
                               row_classes=[""] * len(ranks) + ["best"])])


def _runs_section(group: Group) -> Section:
    rows = []
    for results in group.members:
        splits = results.splits
        rows.append({"experiment": results.experiment, "dataset": results.dataset,
                     "splits": int(splits["split"].nunique()), "failed": int((splits["status"] != OK).sum()),
                     "run": results.run_id,
                     "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(results.started)),
                     "quick": "quick" if results.run.quick else ""})
    note = None
    if any(r.run.quick for r in group.members):
        note = "Some runs are quick (--quick) smoke runs: their scores are not meant to be read."
    return Section("Runs compared", text="The latest finished run of each experiment; each page has the details.",
                   table=pd.DataFrame(rows), note=note, digits={"splits": 0, "failed": 0})


def write_group(group: Group, reports_dir: Path, template: Any) -> dict[str, Any]:
    """Write reports/across/<slug>/index.html and its CSVs; return the index's headline."""
    folder = Path(reports_dir) / FOLDER / group.slug
    folder.mkdir(parents=True, exist_ok=True)
    try:
        sections, extra = build(group)
    except Exception as exc:  # noqa: BLE001 - the page says why instead of losing the index
        sections = [Section("Across data sets", error=f"{type(exc).__name__}: {exc}")]
        extra = {"headline": {"title": group.title, "href": group.href, "datasets": len(group.members),
                              "variants": len(group.variants), "best": None, "best_rank": math.nan,
                              "baseline": group.baseline, "baseline_rank": math.nan, "friedman_p": math.nan,
                              "cd": math.nan, "experiments": [r.experiment for r in group.members]},
                 "notes": group.notes}
    exports = Exports(folder)
    rendered = [render_section(section, folder, exports=exports) for section in sections]
    atomic.write_text(folder / "index.html", template.render(group=group, sections=rendered, notes=extra["notes"],
                                                             headline=extra["headline"]))
    return extra["headline"]
