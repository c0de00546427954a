"""Comparing variants across data sets, as Demšar (2006, "Statistical comparisons of classifiers
over multiple data sets", JMLR 7) recommends: rank the variants on each data set, test whether
the ranks differ at all (Friedman, with Iman and Davenport's F), then which pairs differ
(Nemenyi, with its critical difference) and which variants differ from the baseline (the z-test
on mean ranks, Holm-adjusted over the k − 1 comparisons, and a sign test on wins and losses).

Ranks make data sets with different scores (accuracy, RMSE) and scales comparable: only the
order of the variants on each data set counts. The tests come from scipy and scikit-posthocs.
Which runs are compared (`find_groups`: experiments whose latest runs trained the same
variants, one per data set) and everything a page across data sets shows (`analyse`) are
computed here; `harness.report` renders them.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..core import OK, REFERENCE, Results
from .page import summary
from .significance import ALPHA, holm, verdict, wilcoxon_p

#: the folder of the pages across data sets, under the reports folder
FOLDER = "across"

SIGNIFICANT_DIGITS = 12
#: the region of practical equivalence across data sets, in % of the baseline's score
RELATIVE_ROPE = 1.0
#: bootstrap resamples of the effect sizes' confidence intervals (seeded)
BOOTSTRAP = 9_999


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
    #: with fewer than MIN_ASYMPTOTIC data sets: the permutation test's p (NaN otherwise)
    p_permutation: float = math.nan

    @property
    def p_verdict(self) -> float:
        """The p-value the verdict reads: the permutation test's with few data sets (where the χ²
        and F approximations reject far more often than α), else Iman and Davenport's."""
        return self.p_permutation if math.isfinite(self.p_permutation) else self.p_iman_davenport

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
    p_perm = friedman_permutation(ranks.to_numpy(dtype=float)) if n < MIN_ASYMPTOTIC else math.nan
    return FriedmanResult(n, k, chi2, p, f, p_f, p_perm)


#: data sets below which the Friedman test's p is a permutation test's, not χ²'s or F's
MIN_ASYMPTOTIC = 5
#: random re-orderings the permutation test draws (seeded: the same page every time)
PERMUTATIONS = 20_000


def friedman_permutation(ranks: np.ndarray, permutations: int = PERMUTATIONS, seed: int = 0) -> float:
    """The Friedman test's p by permutation: under the null hypothesis each data set's ranks
    (a row, ties kept) are in random order, so the rows are shuffled independently
    `permutations` times and p = (1 + #{Σ_j R_j² ≥ observed}) / (1 + permutations), R_j the
    column sums (χ² is an increasing function of Σ R_j² for fixed N, k and ties)."""
    rng = np.random.default_rng(seed)
    observed = float((ranks.sum(axis=0) ** 2).sum())
    n, k = ranks.shape
    order = rng.random((permutations, n, k)).argsort(axis=2)
    shuffled = np.take_along_axis(np.broadcast_to(ranks, (permutations, n, k)), order, axis=2)
    statistics = (shuffled.sum(axis=1) ** 2).sum(axis=1)
    return float((1 + np.count_nonzero(statistics >= observed - 1e-9)) / (1 + permutations))


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


# ---------------------------------------------------------------------- which runs compare
@dataclass
class Group:
    """Experiments whose latest runs trained the same variants (by name and what regularizes each)."""

    title: str
    slug: str
    members: list[Results]
    variants: list[str]
    baseline: str
    notes: list[str] = field(default_factory=list)

    @property
    def href(self) -> str:
        return f"{FOLDER}/{self.slug}/index.html"

    def regularizers(self, variant: str) -> str:
        """What regularizes `variant` in a word ('L2 + dropout'), as its experiments read it."""
        found = self.members[0].regularization(variant)
        return found.family if found is not None else "–"


def variants_key(results: Results) -> frozenset[tuple[str, str | None]]:
    """What a run compares: each variant's name with what regularizes it, read from its built
    model (None for a run stored before that was recorded)."""
    return frozenset((name, found.describe() if (found := results.regularization(name)) else None)
                     for name in results.networks)


#: declared suites, name -> the experiments they compare (a bare sequence: the default suite's)
Suites = Mapping[str, Sequence[str]] | Sequence[str]


def find_groups(runs: Sequence[Results], suites: Suites = ()) -> list[Group]:
    """The groups of experiments compared across their data sets.

    First one per declared suite (`suites`: name -> its experiments; a bare list names the
    default suite's), of the suite's members alone, whatever else is stored: the members whose
    latest runs compare the variants most of them compare, each data set once, and a note naming
    the members missing or comparing other variants. Then every other set of two or more
    experiments, not in a suite, comparing the same variants (at least two): the same names,
    each regularizing the same way, largest first."""
    declared = dict(suites) if isinstance(suites, Mapping) else ({"default": list(suites)} if suites else {})
    usable = [r for r in runs if len(r.networks) >= 2]
    groups: list[Group] = []
    for name, names in declared.items():
        group = _suite_group(name, list(names), [r for r in usable if r.experiment in set(names)])
        same = group is not None and any({r.experiment for r in g.members} == {r.experiment for r in group.members}
                                         for g in groups)
        if group is not None and not same:  # only the default suite's members run: no 'large suite' page of them
            groups.append(group)
    in_suites = {member for names in declared.values() for member in names}
    by_variants: dict[frozenset[tuple[str, str | None]], list[Results]] = {}
    for results in usable:
        if results.experiment not in in_suites:
            by_variants.setdefault(variants_key(results), []).append(results)
    candidates = sorted((m for m in by_variants.values() if len(m) >= 2),
                        key=lambda m: (-len(m), sorted(r.experiment for r in m)))
    for members in candidates:
        group = _group("{n} experiments sharing {k} variants", None, members, [])
        if group is not None:
            groups.append(group)
    return groups


def _suite_group(name: str, names: list[str], runs: list[Results]) -> Group | None:
    """A declared suite's group: its members comparing the variants most of them compare."""
    by_variants: dict[frozenset[tuple[str, str | None]], list[Results]] = {}
    for results in runs:
        by_variants.setdefault(variants_key(results), []).append(results)
    if not by_variants:
        return None
    members = max(by_variants.values(), key=len)
    notes = []
    ran = {r.experiment for r in members}
    missing = [n for n in names if n not in {r.experiment for r in runs}]
    other = [n for n in names if n not in ran and n not in missing]
    if missing:
        notes.append(f"Not run yet, so not here: {', '.join(missing)} ({len(missing)} of the suite's {len(names)}).")
    if other:
        notes.append(f"Left out, as their latest runs compare other variants: {', '.join(other)}.")
    order = {n: i for i, n in enumerate(names)}
    return _group(f"{name} suite", f"{name}-suite", sorted(members, key=lambda r: order[r.experiment]), notes)


def _group(title: str, slug: str | None, members: list[Results], notes: list[str]) -> Group | None:
    """A Group of `members` (one per data set), or None with fewer than two data sets."""
    members, repeated = _distinct_data(members)
    if len(members) < 2:
        return None
    names = sorted(members[0].networks)
    compared = sorted((name, described or "") for name, described in variants_key(members[0]))
    key = hashlib.sha256(repr(compared).encode()).hexdigest()[:10]  # one page per set of variants compared
    variants = list(members[0].networks)  # the first member's order
    baselines = {r.baseline for r in members}
    baseline = members[0].baseline
    notes = list(notes)
    if len(baselines) > 1:
        notes.append(f"The experiments name different baselines ({', '.join(sorted(baselines))}); {baseline} is used here.")
    if repeated:
        notes.append(f"Left out, as their data is already here (a data set counts once): {', '.join(repeated)}.")
    title = title.format(n=len(members), k=len(names))
    return Group(title, slug or f"variants-{key}", members, variants, baseline, notes)


def _distinct_data(members: list[Results]) -> tuple[list[Results], list[str]]:
    """One experiment per data set (by the run's data fingerprint, else its dataset name): the
    tests across data sets assume independent data sets, and two experiments on the same data
    (e.g. one protocol and its cross-validated twin) are one data set."""
    kept, seen, repeated = [], set(), []
    for results in members:
        key = results.run.data_fingerprint or f"name:{results.dataset}"
        if key in seen:
            repeated.append(results.experiment)
            continue
        seen.add(key)
        kept.append(results)
    return kept, repeated


# ---------------------------------------------------------------------- what a page shows
@dataclass
class Analysis:
    """Everything the page across one group's data sets shows.

    `scores`: mean score per data set × variant; `greater`: each data set's direction;
    `verdicts`: each page's Holm verdict per data set × variant; `complete`: the scores of the
    data sets and variants that enter the ranks; `ranks`, `mean_ranks` (best first),
    `friedman`, `cd` (Nemenyi's critical difference), `nemenyi` (p per pair, or None),
    `versus` (each variant against the baseline, or None without a baseline or two data sets),
    `relative` (each variant's change from the baseline in % of its score, + = better),
    `differences` (each variant's mean minus the baseline's, in the score's units) and `notes`
    (what was left out, and why)."""

    group: Group
    scores: pd.DataFrame
    greater: dict[str, bool]
    verdicts: pd.DataFrame
    complete: pd.DataFrame
    ranks: pd.DataFrame
    mean_ranks: pd.Series
    friedman: "FriedmanResult"
    cd: float
    nemenyi: pd.DataFrame | None
    versus: pd.DataFrame | None
    relative: pd.DataFrame | None
    differences: pd.DataFrame | None
    notes: list[str]
    #: the hierarchical model per variant against the baseline (`suite_hierarchical`), or None
    hierarchical: pd.DataFrame | None = None
    #: each data set's shrunk difference per variant (% of the baseline's score), or None
    shrunk: pd.DataFrame | None = None

    @property
    def headline(self) -> dict[str, object]:
        """What the index shows of the page."""
        n, k = self.ranks.shape
        ranked = bool(len(self.mean_ranks)) and n > 0
        return {"title": self.group.title, "href": self.group.href, "datasets": n, "variants": k,
                "best": self.mean_ranks.index[0] if ranked else None,
                "best_rank": float(self.mean_ranks.iloc[0]) if ranked else math.nan,
                "baseline": self.group.baseline,
                "baseline_rank": float(self.mean_ranks.get(self.group.baseline, math.nan)),
                "friedman_p": self.friedman.p_verdict, "cd": self.cd, "experiments": [r.experiment for r in self.group.members]}


def score_tables(group: Group) -> tuple[pd.DataFrame, dict[str, bool], pd.DataFrame]:
    """Mean score per data set × variant, each data set's direction, and each page's Holm
    verdict per data set × variant."""
    scores, verdicts = {}, {}
    for results in group.members:
        table = summary(results).set_index("variant")
        scores[results.experiment] = table["mean"].reindex(group.variants)
        verdicts[results.experiment] = table["verdict"].reindex(group.variants) if "verdict" in table else None
    greater = {r.experiment: r.greater_is_better for r in group.members}
    score_table = comparable(pd.DataFrame(scores).T[group.variants].astype(float))
    verdict_table = pd.DataFrame({k: v for k, v in verdicts.items() if v is not None}).T.reindex(
        index=score_table.index, columns=group.variants)
    return score_table, greater, verdict_table


def analyse(group: Group) -> Analysis:
    """Ranks, tests and differences across the group's data sets."""
    scores, greater, verdicts = score_tables(group)
    notes = list(group.notes)
    never = [v for v in scores.columns if scores[v].isna().all()]
    if never:
        notes.append(f"Left out: {', '.join(never)} (no successful split on any data set).")
    complete = scores.drop(columns=never).dropna()
    if len(complete) < len(scores):
        dropped = ", ".join(sorted(set(scores.index) - set(complete.index)))
        notes.append(f"Left out of the ranks and tests: {dropped} (a variant has no successful split there).")
    ranks = rank_table(complete, greater)
    n, k = ranks.shape
    versus = None
    if group.baseline in ranks.columns and n >= 2:
        versus = versus_baseline(complete, ranks, greater, group.baseline)
        for verdict_name, column in (("better", "pages_better"), ("worse", "pages_worse")):
            versus[column] = [int((verdicts.get(v, pd.Series(dtype=object)) == verdict_name).sum())
                              for v in versus["variant"]]
        versus.insert(1, "regularizers", [group.regularizers(v) for v in versus["variant"]])
    relative = differences = None
    if group.baseline in scores.columns:
        relative = relative_change(scores, greater, group.baseline)
        differences = scores.drop(columns=group.baseline).sub(scores[group.baseline], axis=0)
    hierarchical = shrunk = None
    if group.baseline in scores.columns and n >= 2:
        hierarchical, shrunk = suite_hierarchical(group, list(complete.index))
    return Analysis(group, scores, greater, verdicts, complete, ranks, ranks.mean().sort_values(kind="stable"),
                    friedman(ranks), critical_difference(k, n), nemenyi(ranks) if k >= 3 and n >= 2 else None,
                    versus, relative, differences, notes, hierarchical, shrunk)


def split_scores(results: Results) -> pd.DataFrame:
    """Each network variant's (column) score on each split (row) it trained successfully."""
    ok = results.splits[(results.splits["status"] == OK) & (results.splits["kind"] != REFERENCE)]
    return ok.pivot_table(index="split", columns="variant", values="score", aggfunc="first")


def split_changes(table: pd.DataFrame, greater_is_better: bool, variant: str, baseline: str) -> np.ndarray:
    """A variant's change from the baseline on each split both trained (`table`: `split_scores`),
    in % of the baseline's mean score over its splits, + = better whatever the score."""
    if variant not in table or baseline not in table:
        return np.array([])
    both = table[[variant, baseline]].dropna().astype(float)
    scale = abs(float(table[baseline].dropna().mean()))
    if not scale:
        return np.array([])
    change = (both[variant] - both[baseline]).to_numpy() / scale * 100
    return change if greater_is_better else -change


def suite_hierarchical(group: Group, experiments: Sequence[str], rope: float = RELATIVE_ROPE
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Bayesian hierarchical model (`harness.stats.hierarchical`) of each variant against the
    baseline over the data sets `experiments`, on per-split changes in % of the baseline's score
    with a ROPE of `rope` %, each data set's split correlation ρ = n_test / n_all from its run
    (0 where its splits need no correction). Returns one row per variant (datasets, the three
    probabilities, the posterior mean of the suite's change δ₀ with its 95% interval) and the
    shrunk change per data set × variant."""
    from .hierarchical import hierarchical_test

    members = {r.experiment: r for r in group.members if r.experiment in set(experiments)}
    tables = {name: split_scores(r) for name, r in members.items()}  # once per data set, not per variant
    rows, shrunk = [], {}
    for variant in [v for v in group.variants if v != group.baseline]:
        changes = {name: split_changes(tables[name], r.greater_is_better, variant, group.baseline)
                   for name, r in members.items()}
        changes = {name: d for name, d in changes.items() if len(d) >= 2}
        row: dict[str, Any] = {"variant": variant, "datasets": len(changes)}
        if len(changes) < 2:
            rows.append(row)
            continue
        ratio = [members[name].run.test_train_ratio for name in changes]
        rho = [r / (1 + r) if r and math.isfinite(r) else 0.0 for r in ratio]
        found = hierarchical_test(list(changes.values()), rope, rho)
        row.update({"p_worse": found.p_worse, "p_equivalent": found.p_equivalent, "p_better": found.p_better,
                    "mean": found.mean, "mean_low": found.mean_low, "mean_high": found.mean_high})
        rows.append(row)
        shrunk[variant] = pd.Series(found.shrunk, index=list(changes))
    columns = ["variant", "datasets", "p_worse", "p_equivalent", "p_better", "mean", "mean_low", "mean_high"]
    return pd.DataFrame(rows).reindex(columns=columns), pd.DataFrame(shrunk)


def relative_change(scores: pd.DataFrame, greater: Mapping[str, bool], baseline: str) -> pd.DataFrame:
    """Each variant's change from the baseline in % of the baseline's score, + = better."""
    rows = {}
    for name, row in scores.iterrows():
        change = (row - row[baseline]) / abs(row[baseline]) * 100 if row[baseline] else row * math.nan
        rows[name] = change if greater[name] else -change
    return pd.DataFrame(rows).T[scores.columns]


def effect_sizes(relative: pd.DataFrame, baseline: str, rope: float = RELATIVE_ROPE) -> pd.DataFrame:
    """Each variant's change from the baseline across data sets (`relative`: data sets ×
    variants, in % of the baseline's score, + = better), one row per variant:

    - `median` and `mean` change with 95% bootstrap intervals (scipy's `bootstrap`, BCa,
      resampling data sets, seeded);
    - `better_share` / `worse_share`: the share of data sets where the variant is better / worse
      by more than `rope` %;
    - `p_wilcoxon`: the Wilcoxon signed-rank test of the changes across data sets (Demšar 2006,
      §3.1.3: the test he recommends for two methods over many data sets; scipy, exact where it
      can be), `p_wilcoxon_holm` over the variants, and a `verdict` from it.
    NaN where a variant has fewer than two data sets or its changes do not vary."""
    rows = []
    for variant in [c for c in relative.columns if c != baseline]:
        values = relative[variant].dropna().to_numpy(dtype=float)
        row: dict[str, Any] = {"variant": variant, "datasets": len(values)}
        row["median"], row["mean"] = (float(np.median(values)), float(values.mean())) if len(values) else (math.nan,) * 2
        for name, statistic in (("median", np.median), ("mean", np.mean)):
            row[f"{name}_low"], row[f"{name}_high"] = _bootstrap(values, statistic)
        row["better_share"] = float(np.mean(values > rope)) if len(values) else math.nan
        row["worse_share"] = float(np.mean(values < -rope)) if len(values) else math.nan
        nonzero = values[values != 0]
        row["p_wilcoxon"] = wilcoxon_p(values) if len(nonzero) >= 1 and len(values) >= 2 else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_wilcoxon_holm"] = holm(table["p_wilcoxon"].to_numpy())
    table["verdict"] = [verdict(m, p, True) for m, p in zip(table["median"], table["p_wilcoxon_holm"])]
    return table


def _bootstrap(values: np.ndarray, statistic: Any) -> tuple[float, float]:
    """A 95% BCa bootstrap interval of `statistic` over data sets (NaN with < 3 or constant values)."""
    if len(values) < 3 or np.ptp(values) == 0:
        return math.nan, math.nan
    result = sps.bootstrap((values,), statistic, n_resamples=BOOTSTRAP, confidence_level=0.95, method="BCa",
                           random_state=np.random.default_rng(0))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return (low, high) if math.isfinite(low) and math.isfinite(high) else (math.nan, math.nan)


def properties(group: Group) -> pd.DataFrame:
    """Per data set (experiment): what might decide whether a regularizer pays. `rows_per_weight`
    (the rows a network trains on per split over the baseline model's parameters), `features_per_row`
    (input columns after preprocessing over rows), `label_noise` (declared; NaN: unknown) and
    the task. NaN where the run did not record it (runs stored before it was)."""
    rows = []
    for results in group.members:
        run = results.run
        weights = run.parameters.get(group.baseline)
        rows.append({"experiment": results.experiment, "task": run.training.get("task"),
                     "rows_per_weight": run.train_rows / weights if weights else math.nan,
                     "features_per_row": (run.n_features / run.n_rows) if run.n_features and run.n_rows else math.nan,
                     "label_noise": math.nan if run.label_noise is None else float(run.label_noise)})
    return pd.DataFrame(rows).set_index("experiment")


def trend(gain: pd.Series, x: pd.Series, log: bool = True) -> dict[str, Any]:
    """Ordinary least squares of a variant's gain over the baseline (% of its score, + = better) on
    a property of the data sets (`x`; its log10 when `log`, e.g. rows per weight) across data sets
    (statsmodels): `slope` (% per unit of x, per tenfold with `log`) with its 95% interval and p,
    `intercept`, `n`, and the fitted model (for the band)."""
    import statsmodels.api as sm

    both = pd.concat([gain.rename("gain"), (np.log10(x) if log else x.astype(float)).rename("x")], axis=1).dropna()
    empty = {"slope": math.nan, "slope_low": math.nan, "slope_high": math.nan, "p": math.nan, "intercept": math.nan,
             "n": len(both), "fit": None}
    if len(both) < 3 or np.ptp(both["x"]) == 0:
        return empty
    fit = sm.OLS(both["gain"].to_numpy(), sm.add_constant(both["x"].to_numpy())).fit()
    low, high = fit.conf_int(0.05)[1]
    return {"slope": float(fit.params[1]), "slope_low": float(low), "slope_high": float(high),
            "p": float(fit.pvalues[1]), "intercept": float(fit.params[0]), "n": len(both), "fit": fit}


#: the properties a gain is fitted against besides rows per weight: column, words, log10 or not
OTHER_PROPERTIES = (("label_noise", "label noise (share of labels wrong, where known)", False),
                    ("features_per_row", "features per row", True),
                    ("regression", "task (regression = 1, classification = 0)", False))


def property_trends(relative: pd.DataFrame, props: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Every variant's gain fitted (`trend`, one property at a time) on each of OTHER_PROPERTIES:
    one row per variant × property with the slope, its 95% interval, p and the data sets used
    (label noise only where it is known). On the task, the slope is the regressions' mean gain
    minus the classifications'."""
    props = props.assign(regression=(props["task"] == "regression").astype(float).where(props["task"].notna()))
    rows = []
    for variant in [c for c in relative.columns if c != baseline]:
        for column, words, log in OTHER_PROPERTIES:
            found = trend(relative[variant], props[column], log=log)
            rows.append({"variant": variant, "property": column, "log10": log,
                         **{k: v for k, v in found.items() if k not in ("fit", "intercept")}})
    return pd.DataFrame(rows, columns=["variant", "property", "log10", "slope", "slope_low", "slope_high", "p", "n"])
