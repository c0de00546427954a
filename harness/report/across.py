"""The cross-data-set pages: for every group of experiments whose latest runs share their
variant names (the default suite first), which variants win across data sets and by how much.

Each page ranks the variants on every data set and shows the mean ranks, the Friedman test,
the Nemenyi test with a critical-difference diagram, each variant against the baseline, and a
heatmap of the change from the baseline per data set × variant (statistics in harness.across).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .. import across
from ..stored import Results, Section
from ..stats import ALPHA
from . import figures
from .formatting import fmt
from .sections import summary_table

FOLDER = "across"


@dataclass
class Group:
    """Experiments whose latest runs trained the same variants (by name)."""

    title: str
    slug: str
    members: list[Results]
    variants: list[str]
    baseline: str
    notes: list[str] = field(default_factory=list)

    @property
    def href(self) -> str:
        return f"{FOLDER}/{self.slug}/index.html"


def find_groups(runs: Sequence[Results], default_suite: Sequence[str] = ()) -> list[Group]:
    """Every set of two or more experiments sharing their variant names (at least two
    variants); the one holding most of the default suite is called "default suite" and comes
    first, the others follow by size."""
    by_variants: dict[frozenset[str], list[Results]] = {}
    for results in runs:
        if len(results.networks) >= 2:
            by_variants.setdefault(frozenset(results.networks), []).append(results)
    candidates = [members for members in by_variants.values() if len(members) >= 2]
    suite = set(default_suite)
    candidates.sort(key=lambda m: (-sum(r.experiment in suite for r in m), -len(m), sorted(r.experiment for r in m)))
    groups = []
    for i, members in enumerate(candidates):
        members, repeated = _distinct_data(sorted(members, key=lambda r: r.experiment))
        if len(members) < 2:
            continue
        names = sorted(members[0].networks)
        key = hashlib.sha256("\n".join(names).encode()).hexdigest()[:10]
        is_suite = i == 0 and suite and sum(r.experiment in suite for r in members) >= 2
        title = "default suite" if is_suite else f"{len(members)} experiments sharing {len(names)} variants"
        slug = "default-suite" if is_suite else f"variants-{key}"
        variants = list(members[0].networks)  # the first member's order
        baselines = {r.baseline for r in members}
        baseline = members[0].baseline
        notes = [] if len(baselines) == 1 else [
            f"The experiments name different baselines ({', '.join(sorted(baselines))}); {baseline} is used here."]
        if repeated:
            notes.append(f"Left out, as their data is already here (a data set counts once): {', '.join(repeated)}.")
        groups.append(Group(title, slug, members, variants, baseline, notes))
    return groups


def _distinct_data(members: list[Results]) -> tuple[list[Results], list[str]]:
    """One experiment per data set (by the run's data fingerprint, else its dataset name): the
    tests across data sets assume independent data sets, and two experiments on the same data
    (e.g. one protocol and its cross-validated twin) are one data set."""
    kept, seen, repeated = [], set(), []
    for results in members:
        key = results.settings.get("data_fingerprint") or f"name:{results.dataset}"
        if key in seen:
            repeated.append(results.experiment)
            continue
        seen.add(key)
        kept.append(results)
    return kept, repeated


def _tables(group: Group) -> tuple[pd.DataFrame, dict[str, bool], pd.DataFrame]:
    """Mean score per data set × variant, each data set's direction, and each page's Holm
    verdict per data set × variant."""
    scores, verdicts = {}, {}
    for results in group.members:
        summary = summary_table(results).set_index("variant")
        scores[results.experiment] = summary["mean"].reindex(group.variants)
        verdicts[results.experiment] = summary["verdict"].reindex(group.variants) if "verdict" in summary else None
    greater = {r.experiment: r.greater_is_better for r in group.members}
    score_table = across.comparable(pd.DataFrame(scores).T[group.variants].astype(float))
    verdict_table = pd.DataFrame({k: v for k, v in verdicts.items() if v is not None}).T.reindex(
        index=score_table.index, columns=group.variants)
    return score_table, greater, verdict_table


def build(group: Group) -> tuple[list[Section], dict[str, Any]]:
    """The page's sections, and the headline the index shows."""
    scores, greater, verdicts = _tables(group)
    notes = list(group.notes)
    never = [v for v in scores.columns if scores[v].isna().all()]
    if never:
        notes.append(f"Left out: {', '.join(never)} (no successful split on any data set).")
    complete = scores.drop(columns=never).dropna()
    if len(complete) < len(scores):
        dropped = ", ".join(sorted(set(scores.index) - set(complete.index)))
        notes.append(f"Left out of the ranks and tests: {dropped} (a variant has no successful split there).")
    ranks = across.rank_table(complete, greater)
    result = across.friedman(ranks)
    n, k = ranks.shape
    cd = across.critical_difference(k, n)
    mean_ranks = ranks.mean().sort_values(kind="stable")
    sections = [
        _ranks_section(group, complete, ranks, greater, verdicts),
        _friedman_section(result),
        _nemenyi_section(ranks, mean_ranks, cd),
        _heatmap_section(group, scores, greater, verdicts),
        _per_dataset_section(group, scores, ranks),
        _runs_section(group),
    ]
    ranked = len(mean_ranks) and n > 0
    headline = {"title": group.title, "href": group.href, "datasets": n, "variants": k,
                "best": mean_ranks.index[0] if ranked else None,
                "best_rank": float(mean_ranks.iloc[0]) if ranked else math.nan,
                "baseline": group.baseline,
                "baseline_rank": float(mean_ranks.get(group.baseline, math.nan)),
                "friedman_p": result.p, "cd": cd, "experiments": [r.experiment for r in group.members]}
    return sections, {"headline": headline, "notes": notes}


def _ranks_section(group: Group, scores: pd.DataFrame, ranks: pd.DataFrame, greater: dict[str, bool],
                   verdicts: pd.DataFrame) -> Section:
    if group.baseline not in ranks.columns or len(ranks) < 2:
        table = pd.DataFrame({"variant": ranks.columns, "mean_rank": ranks.mean().to_numpy()})
        return Section("Mean ranks", table=table, csv="mean_ranks.csv",
                       note="No baseline comparison: it needs the baseline variant and two or more data sets.")
    versus = across.versus_baseline(scores, ranks, greater, group.baseline)
    versus["pages_better"] = [int((verdicts.get(v, pd.Series(dtype=object)) == "better").sum()) for v in versus["variant"]]
    versus["pages_worse"] = [int((verdicts.get(v, pd.Series(dtype=object)) == "worse").sum()) for v in versus["variant"]]
    base = pd.DataFrame([{"variant": group.baseline, "mean_rank": float(ranks[group.baseline].mean())}])
    table = pd.concat([versus, base], ignore_index=True).sort_values("mean_rank", kind="stable")
    table = table[["variant", "mean_rank", "rank_difference", "p_ranks", "p_ranks_holm", "verdict", "wins", "ties",
                   "losses", "p_sign", "pages_better", "pages_worse"]]
    n = len(ranks)
    text = (f"Each variant's rank on each of the {n} data sets (1 = best, by mean score over its splits; ties share "
            f"their mean rank), averaged. Against the baseline ({group.baseline}): the difference of mean ranks, "
            f"the z-test on mean ranks z = ΔR / √(k(k+1)/6N) (Demšar 2006, §3.2.2; scikit-posthocs) with p Holm-"
            f"adjusted over the {len(versus)} comparisons and a verdict at α = {ALPHA:g}; the data sets where the "
            "variant's mean beats, ties or trails the baseline's, with the two-sided sign test on wins and losses "
            "(scipy); and how many experiment pages found it better or worse (their Holm-adjusted paired tests "
            "over splits).")
    digits = {"wins": 0, "ties": 0, "losses": 0, "pages_better": 0, "pages_worse": 0, "mean_rank": 3, "rank_difference": 3}
    return Section("Mean ranks, and each variant against the baseline", text=text, table=table, csv="mean_ranks.csv",
                   digits=digits, highlight=str(table.iloc[0]["variant"]))


def _friedman_section(result: across.FriedmanResult) -> Section:
    if not math.isfinite(result.statistic):
        return Section("Friedman test", text="Not computed: it needs three or more variants, two or more data sets, "
                       "and at least one data set where the variants' scores differ.")
    finding = ("the variants' ranks differ more than chance would make them" if result.p_iman_davenport < ALPHA
               else "no evidence that the variants' ranks differ")
    df1, df2 = result.df
    text = (f"Do the variants differ at all across the {result.datasets} data sets? Friedman χ²({result.variants - 1}) "
            f"= {fmt(result.statistic, 3)}, p = {fmt(result.p, 4)} (scipy, tie-corrected); Iman and Davenport's "
            f"F({df1}, {df2}) = {fmt(result.iman_davenport, 3)}, p = {fmt(result.p_iman_davenport, 4)}, the "
            f"less conservative form Demšar recommends. At α = {ALPHA:g}: {finding}.")
    return Section("Friedman test", text=text)


def _nemenyi_section(ranks: pd.DataFrame, mean_ranks: pd.Series, cd: float) -> Section:
    n, k = ranks.shape
    if k < 3 or n < 2:
        return Section("Nemenyi test", text="Not computed: it needs three or more variants and two or more data sets.")
    p_values = across.nemenyi(ranks)
    text = (f"Which pairs differ? Two variants differ at α = {ALPHA:g} when their mean ranks differ by more than the "
            f"critical difference CD = q_α √(k(k+1)/6N) = {fmt(cd, 3)} (k = {k}, N = {n}). With few data sets the "
            "test is weak: a bar joining variants says the data cannot tell them apart, not that they are equal.")
    figure = figures.critical_difference_diagram(mean_ranks, p_values, cd, ALPHA)
    matrix = p_values.loc[mean_ranks.index, mean_ranks.index].reset_index(names="variant")
    return Section("Nemenyi test and critical-difference diagram", text=text, figure=figure, subsections=[
        Section("Nemenyi p-values, every pair", table=matrix, csv="nemenyi.csv", collapsed=True)])


def _relative_change(scores: pd.DataFrame, greater: dict[str, bool], baseline: str) -> pd.DataFrame:
    """Each variant's change from the baseline in % of the baseline's score, + = better."""
    rows = {}
    for name, row in scores.iterrows():
        change = (row - row[baseline]) / abs(row[baseline]) * 100 if row[baseline] else row * math.nan
        rows[name] = change if greater[name] else -change
    return pd.DataFrame(rows).T[scores.columns]


def _heatmap_section(group: Group, scores: pd.DataFrame, greater: dict[str, bool], verdicts: pd.DataFrame) -> Section:
    if group.baseline not in scores.columns:
        return Section("Difference from the baseline", text=f"The baseline {group.baseline} is not among the variants.")
    others = [v for v in scores.columns if v != group.baseline]
    relative = _relative_change(scores, greater, group.baseline)[others]
    marks = verdicts[others].map(lambda v: " ▲" if v == "better" else " ▼" if v == "worse" else "")
    differences = scores[others].sub(scores[group.baseline], axis=0)
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


def _per_dataset_section(group: Group, scores: pd.DataFrame, ranks: pd.DataFrame) -> Section:
    lead = pd.DataFrame({"experiment": scores.index, "score": [group_score(group, e) for e in scores.index]})
    table = pd.concat([lead, scores.reset_index(drop=True)], axis=1)
    rank_rows = pd.concat([pd.DataFrame({"experiment": list(ranks.index) + ["mean rank"]}),
                           pd.concat([ranks, ranks.mean().to_frame().T], ignore_index=True)], axis=1)
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
                     "splits": int(splits["split"].nunique()), "failed": int((splits["status"] != "ok").sum()),
                     "run": results.run_id,
                     "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(results.started)),
                     "quick": "quick" if results.settings.get("quick") else ""})
    note = None
    if any(r.settings.get("quick") for r in group.members):
        note = "Some runs are quick (--quick) smoke runs: their scores are not meant to be read."
    return Section("Runs compared", text="The latest finished run of each experiment; each page has the details.",
                   table=pd.DataFrame(rows), note=note, digits={"splits": 0, "failed": 0})


def write_group(group: Group, reports_dir: Path, template: Any) -> dict[str, Any]:
    """Write reports/across/<slug>/index.html and its CSVs; return the index's headline."""
    from . import Exports, render_section

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
    (folder / "index.html").write_text(template.render(group=group, sections=rendered, notes=extra["notes"],
                                                       headline=extra["headline"]), encoding="utf-8")
    return extra["headline"]
