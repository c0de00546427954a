"""Comparisons across data sets, checked against Demšar (2006), "Statistical comparisons of
classifiers over multiple data sets", JMLR 7:1-30, Table 6 and §3.2.2's worked example, and
the cross-data-set page written from a real run."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from harness import Variant
from harness.stats import across
from tests.conftest import TinyClassification, TinyRegression, run_fake, tiny_classification

# Table 6: AUC of C4.5 with and without curtailment (m) and pruning-confidence tuning (cf) on 14 UCI data sets
DEMSAR_NAMES = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]
DEMSAR_AUC = [
    ("adult (sample)", 0.763, 0.768, 0.771, 0.798), ("breast cancer", 0.599, 0.591, 0.590, 0.569),
    ("breast cancer wisconsin", 0.954, 0.971, 0.968, 0.967), ("cmc", 0.628, 0.661, 0.654, 0.657),
    ("ionosphere", 0.882, 0.888, 0.886, 0.898), ("iris", 0.936, 0.931, 0.916, 0.931),
    ("liver disorders", 0.661, 0.668, 0.609, 0.685), ("lung cancer", 0.583, 0.583, 0.563, 0.625),
    ("lymphography", 0.775, 0.838, 0.866, 0.875), ("mushroom", 1.000, 1.000, 1.000, 1.000),
    ("primary tumor", 0.940, 0.962, 0.965, 0.962), ("rheum", 0.619, 0.666, 0.614, 0.669),
    ("voting", 0.972, 0.981, 0.975, 0.975), ("wine", 0.957, 0.978, 0.946, 0.970),
]


def demsar_scores(break_voting_tie: bool = True) -> pd.DataFrame:
    """Table 6 as printed. Its ranks (in parentheses there) put C4.5+cf second and C4.5+m+cf
    third on voting, where both print as 0.975: the unrounded AUCs differ. Breaking that tie
    the same way reproduces the paper's mean ranks."""
    table = pd.DataFrame([row[1:] for row in DEMSAR_AUC], index=[row[0] for row in DEMSAR_AUC], columns=DEMSAR_NAMES)
    if break_voting_tie:
        table.loc["voting", "C4.5+cf"] += 1e-4
    return table


def greater(scores):
    return {name: True for name in scores.index}


def test_mean_ranks_reproduce_demsar_table_6():
    scores = demsar_scores()
    ranks = across.rank_table(scores, greater(scores))
    assert ranks.mean().round(3).tolist() == [3.143, 2.000, 2.893, 1.964]
    # ties share their mean rank: mushroom is a four-way tie, lung cancer a two-way one
    assert ranks.loc["mushroom"].tolist() == [2.5] * 4
    assert ranks.loc["lung cancer"].tolist() == [2.5, 2.5, 4.0, 1.0]
    # as printed (voting tied), the two tied variants share rank 2.5 there instead
    printed = across.rank_table(demsar_scores(False), greater(scores))
    assert printed.loc["voting"].tolist() == [4.0, 1.0, 2.5, 2.5]


def test_friedman_statistic_is_demsars_after_the_tie_correction_and_iman_davenport_his_f():
    scores = demsar_scores()
    ranks = across.rank_table(scores, greater(scores))
    result = across.friedman(ranks)
    n, k = ranks.shape
    # Demšar's χ²_F = 12N/(k(k+1)) [Σ R_j² − k(k+1)²/4] ignores ties; scipy divides it by
    # 1 − Σ(t³ − t) / (N k (k² − 1)) over the tied groups (mushroom 4, lung cancer, iris, primary tumor 2)
    ties = (4**3 - 4) + 3 * (2**3 - 2)
    uncorrected = result.statistic * (1 - ties / (n * k * (k**2 - 1)))
    assert round(uncorrected, 2) == 9.28
    assert result.p == pytest.approx(sps.chi2.sf(result.statistic, k - 1))
    # Iman and Davenport's F from Demšar's χ²: 3.69, against the critical F(3, 39) = 2.85 at α = 0.05
    assert round((n - 1) * 9.28 / (n * (k - 1) - 9.28), 2) == 3.69
    assert round(float(sps.f.ppf(0.95, 3, 39)), 2) == 2.85
    assert result.df == (3, 39)
    assert result.iman_davenport == pytest.approx((n - 1) * result.statistic / (n * (k - 1) - result.statistic))
    assert result.p_iman_davenport == pytest.approx(sps.f.sf(result.iman_davenport, 3, 39))
    assert result.p_iman_davenport < 0.05


def test_nemenyi_critical_difference_and_conclusions_match_demsar():
    # §3.2.2: q_0.05 = 2.569 and q_0.10 = 2.291 for k = 4, so CD = 1.25 and 1.12 for N = 14
    assert round(across.critical_difference(4, 14, 0.05), 2) == 1.25
    assert round(across.critical_difference(4, 14, 0.10), 2) == 1.12
    scores = demsar_scores()
    p = across.nemenyi(across.rank_table(scores, greater(scores)))
    assert list(p.index) == DEMSAR_NAMES and np.allclose(p.to_numpy(), p.to_numpy().T)
    # "even the difference between the best and the worst is smaller than [CD at 0.05]" ...
    assert (p.to_numpy() > 0.05).all()
    # ... "at p = 0.10 ... C4.5 is significantly worse than C4.5+m and C4.5+m+cf"; nothing else differs
    significant = {tuple(sorted((a, b))) for a in DEMSAR_NAMES for b in DEMSAR_NAMES if a < b and p.loc[a, b] < 0.10}
    assert significant == {("C4.5", "C4.5+m"), ("C4.5", "C4.5+m+cf")}


def test_comparison_with_a_control_follows_demsars_holm_example():
    # §3.2.2: C4.5 as the control, z = (R_0 − R_i) / √(k(k+1)/6N) with SE 0.488: p = 0.016
    # (C4.5+m+cf), 0.019 (C4.5+m), 0.607 (C4.5+cf); Holm rejects the first two
    scores = demsar_scores()
    ranks = across.rank_table(scores, greater(scores))
    table = across.versus_baseline(scores, ranks, greater(scores), "C4.5").set_index("variant")
    assert table.loc["C4.5+m+cf", "p_ranks"] == pytest.approx(0.016, abs=5e-4)
    assert table.loc["C4.5+m", "p_ranks"] == pytest.approx(0.019, abs=5e-4)
    assert table.loc["C4.5+cf", "p_ranks"] == pytest.approx(0.607, abs=2e-3)
    assert table["verdict"].to_dict() == {"C4.5+m+cf": "better", "C4.5+m": "better", "C4.5+cf": "no evidence"}
    # the sign test counts data sets by mean score, ties split evenly (§3.2.1): C4.5+m beats C4.5
    # on 10, ties on 2 (lung cancer, mushroom), trails on 2, so 11 wins of 14
    row = table.loc["C4.5+m"]
    assert (row["wins"], row["ties"], row["losses"]) == (10, 2, 2)
    assert row["p_sign"] == pytest.approx(sps.binomtest(11, 14).pvalue)


def test_ranks_follow_each_data_sets_direction_and_float_noise_ties():
    scores = pd.DataFrame({"none": [0.912, 200.0], "L1": [0.95, 180.0], "L2": [0.912 - 2e-16, 220.0]},
                          index=["digits", "wide"])
    ranks = across.rank_table(scores, {"digits": True, "wide": False})
    assert ranks.loc["digits"].tolist() == [2.5, 1.0, 2.5]  # equal to 12 significant digits: a tie
    assert ranks.loc["wide"].tolist() == [2.0, 1.0, 3.0]  # RMSE: lower is better


def test_friedman_is_nan_where_it_cannot_be_computed():
    two = pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 1.0]})
    assert math.isnan(across.friedman(two).statistic)
    all_tied = pd.DataFrame({"a": [2.0, 2.0], "b": [2.0, 2.0], "c": [2.0, 2.0]})
    assert math.isnan(across.friedman(all_tied).p)
    assert math.isnan(across.critical_difference(1, 5))


class ThreeVariants(TinyClassification):
    name = "tiny-a"
    variants = (Variant("none"), Variant("L2 1e-3", l2=1e-3), Variant("dropout <b>0.2</b>", dropout=0.2))


class ThreeVariantsB(ThreeVariants):
    name = "tiny-b"

    def load_data(self, data_dir):
        return tiny_classification(seed=1)


class ThreeVariantsRegression(TinyRegression):
    name = "tiny-c"
    variants = ThreeVariants.variants


def test_page_across_data_sets_is_written_and_linked_from_the_index(workdir):
    run_fake([ThreeVariants(), ThreeVariantsB(), ThreeVariantsRegression(), TinyClassification()], workdir)
    index = (workdir.reports / "index.html").read_text()
    assert "Across data sets" in index
    folders = list((workdir.reports / "across").iterdir())
    assert len(folders) == 1  # tiny-classification's variants differ: it belongs to no group
    page = (folders[0] / "index.html").read_text()
    assert f'href="across/{folders[0].name}/index.html"' in index
    for text in ("Friedman χ²(2)", "Iman and Davenport", "critical difference", "tiny-a", "tiny-b", "tiny-c",
                 "Mean ranks", "Difference from the baseline", '<img alt="', "Effect sizes across data sets",
                 "Wilcoxon signed-rank test of the changes across data sets", "What this suite concludes",
                 "The Bayesian hierarchical model", "Other properties: label noise"):
        assert text in page, text
    assert "dropout &lt;b&gt;0.2&lt;/b&gt;" in page and "<b>0.2</b>" not in page
    assert "could not be computed" not in page and 'class="error"' not in page
    # the CD diagram, the heatmap and the gain against rows per weight
    # ... and the gain against features per row (no label noise is declared here: no figure for it)
    assert len(list(folders[0].glob("*.png"))) == len(list(folders[0].glob("*.svg"))) == 4
    assert "When does a regularizer pay?" in page and (folders[0] / "dataset_properties.csv").exists()
    ranks = pd.read_csv(folders[0] / "ranks.csv").set_index("experiment")
    assert set(ranks.columns) == {"none", "L2 1e-3", "dropout <b>0.2</b>"}
    assert (ranks.drop(index="mean rank").sum(axis=1) == 6.0).all()  # 1 + 2 + 3 on every data set
    scores = pd.read_csv(folders[0] / "scores.csv").set_index("experiment")
    # tiny-c is a regression: its rank 1 is its lowest RMSE
    c = scores.loc["tiny-c", ["none", "L2 1e-3", "dropout <b>0.2</b>"]].astype(float)
    assert ranks.loc["tiny-c", c.idxmin()] == 1.0
    # three data sets: the verdict reads the permutation test, and the post-hoc tests are gated by it
    assert "permutation test" in page
    found = across.friedman(ranks.drop(index="mean rank")).p_verdict < 0.05
    assert ("Exploratory only" in page) == (not found) and ("(exploratory)" in page) == (not found)


def test_groups_count_each_data_set_once():
    from types import SimpleNamespace

    from harness.core import Penalty, Regularization
    from harness.stats.across import find_groups

    def run(name, fingerprint, penalized=("hidden_1", "hidden_2")):
        read = {"none": Regularization(), "L2": Regularization(tuple(Penalty(layer, "kernel", 0.0, 1e-3)
                                                                    for layer in penalized))}
        return SimpleNamespace(experiment=name, networks=["none", "L2"], baseline="none", dataset="d",
                               run=SimpleNamespace(data_fingerprint=fingerprint), regularization=read.get)

    # a protocol and its cross-validated twin on the same data are one data set, not two
    groups = find_groups([run("demo", "aaa"), run("demo-cv", "aaa"), run("other", "bbb")], ["demo", "demo-cv", "other"])
    assert len(groups) == 1 and [r.experiment for r in groups[0].members] == ["demo", "other"]
    assert any("demo-cv" in note for note in groups[0].notes)
    assert groups[0].regularizers("L2") == "L2" and groups[0].regularizers("none") == "none"
    assert find_groups([run("demo", "aaa"), run("demo-cv", "aaa")]) == []
    # the same names, but "L2" penalizes other layers there: not the same variants, each set its own page
    assert find_groups([run("demo", "aaa"), run("output-too", "ccc", ("hidden_1", "output"))]) == []
    two = find_groups([run("a", "1"), run("b", "2"), run("c", "3", ("output",)), run("d", "4", ("output",))])
    assert len(two) == 2 and len({group.slug for group in two}) == 2


def test_with_few_data_sets_the_friedman_verdict_reads_an_exact_permutation_p():
    """Every data set ordering three variants alike: Iman and Davenport's F is infinite (p = 0,
    'the ranks differ') though with 2 data sets the exact probability of that under the null
    hypothesis is 1/3! = 1/6. The permutation p matches the exact one, counted by enumerating
    every re-ordering of each data set's ranks (ties kept), within Monte Carlo error."""
    import itertools

    def exact(table):
        rows = [sorted(set(itertools.permutations(row))) for row in table]
        observed = (np.asarray(table).sum(axis=0) ** 2).sum()
        stats = [(np.asarray(combo).sum(axis=0) ** 2).sum() for combo in itertools.product(*rows)]
        return np.mean(np.asarray(stats) >= observed - 1e-9)

    alike = pd.DataFrame([[1.0, 2.0, 3.0]] * 2, columns=list("abc"))
    result = across.friedman(alike)
    assert result.p_iman_davenport == 0.0 and result.p_verdict == result.p_permutation
    assert result.p_permutation == pytest.approx(exact(alike.to_numpy()), abs=0.01) and exact(alike.to_numpy()) == 1 / 6
    for table in ([[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]], [[1, 2.5, 2.5], [1, 2, 3], [3, 1, 2], [1, 2, 3]]):
        table = pd.DataFrame(np.asarray(table, dtype=float))
        assert across.friedman(table).p_permutation == pytest.approx(exact(table.to_numpy()), abs=0.01)
    # from MIN_ASYMPTOTIC data sets on, the verdict reads Iman and Davenport's F as before
    many = pd.DataFrame([[1.0, 2.0, 3.0], [2.0, 1.0, 3.0], [1.0, 3.0, 2.0], [1.0, 2.0, 3.0], [3.0, 1.0, 2.0]])
    assert math.isnan(across.friedman(many).p_permutation)
    assert across.friedman(many).p_verdict == across.friedman(many).p_iman_davenport


def test_effect_sizes_across_data_sets_are_scipys_wilcoxon_and_bootstrap_with_holm():
    from harness.stats.significance import holm

    rng = np.random.default_rng(3)
    relative = pd.DataFrame({"none": 0.0, "a": rng.normal(2.0, 1.0, 12), "b": rng.normal(0.0, 1.0, 12),
                             "c": np.r_[0.0, rng.normal(-0.5, 2.0, 11)]})
    table = across.effect_sizes(relative, "none").set_index("variant")
    for variant in ("a", "b", "c"):
        values = relative[variant].to_numpy()
        assert table.at[variant, "p_wilcoxon"] == pytest.approx(sps.wilcoxon(values).pvalue)
        assert table.at[variant, "median"] == pytest.approx(np.median(values))
        interval = sps.bootstrap((values,), np.mean, n_resamples=across.BOOTSTRAP, method="BCa",
                                 random_state=np.random.default_rng(0)).confidence_interval
        assert (table.at[variant, "mean_low"], table.at[variant, "mean_high"]) == pytest.approx((interval.low, interval.high))
        assert table.at[variant, "better_share"] == pytest.approx(np.mean(values > 1.0))
    assert list(table["p_wilcoxon_holm"]) == pytest.approx(list(holm(table["p_wilcoxon"].to_numpy())))
    assert table.at["a", "verdict"] == "better" and table.at["b", "verdict"] == "no evidence"


def test_the_bootstrap_intervals_cover_the_true_mean_about_95_percent_of_the_time(monkeypatch):
    """300 simulated suites of 20 data sets whose changes are N(2, 3): the 95% BCa interval of the
    mean holds 2 in about 95% of them (binomial sd 1.3%: 0.90-0.99 allows for BCa's known
    under-coverage with 20 values)."""
    monkeypatch.setattr(across, "BOOTSTRAP", 999)
    rng = np.random.default_rng(11)
    covered = []
    for _ in range(300):
        values = rng.normal(2.0, 3.0, 20)
        low, high = across._bootstrap(values, np.mean)
        covered.append(low <= 2.0 <= high)
    assert 0.90 <= np.mean(covered) <= 0.99


def test_each_effect_sentence_quotes_the_numbers_of_its_row():
    import re

    from harness.report.across import effect_sentence

    relative = pd.DataFrame({"none": 0.0, "L1": [5.0, 1.5, -0.5, 12.0, 3.0], "L2": [0.2, -0.1, 0.0, 0.3, -0.4]})
    for row in across.effect_sizes(relative, "none").to_dict("records"):
        sentence = effect_sentence(row, 5)
        numbers = [float(x) for x in re.findall(r"[-+]?\d+\.\d+", sentence)]
        expected = [row["median"], row["median_low"], row["median_high"], row["mean"], row["mean_low"], row["mean_high"]]
        assert numbers[:6] == pytest.approx([round(v, 2) for v in expected], abs=0.006)
        assert f"on {row['better_share']:.0%} of them" in sentence and f"on {row['worse_share']:.0%};" in sentence
        assert ("better than the baseline" in sentence) == (row["verdict"] == "better")


def test_the_trend_of_a_gain_on_rows_per_weight_is_least_squares_with_its_t_interval():
    """The slope, its 95% interval and p from statsmodels' OLS equal NumPy's least squares with
    scipy's t quantile; the sentence reads minus the slope as the gain per tenfold fewer rows."""
    from harness.report.across import pays_sentence

    rows_per_weight = pd.Series([0.01, 0.05, 0.2, 1.0, 4.0, 20.0])
    gain = pd.Series([30.0, 18.0, 9.0, 4.0, -1.0, 0.5])
    found = across.trend(gain, rows_per_weight)
    x = np.log10(rows_per_weight.to_numpy())
    design = np.column_stack([np.ones_like(x), x])
    beta, residual, *_ = np.linalg.lstsq(design, gain.to_numpy(), rcond=None)
    sigma2 = residual[0] / (len(x) - 2)
    se = math.sqrt(sigma2 * np.linalg.inv(design.T @ design)[1, 1])
    half = sps.t.ppf(0.975, len(x) - 2) * se
    assert found["slope"] == pytest.approx(beta[1]) and found["intercept"] == pytest.approx(beta[0])
    assert (found["slope_low"], found["slope_high"]) == pytest.approx((beta[1] - half, beta[1] + half))
    assert found["p"] == pytest.approx(2 * sps.t.sf(abs(beta[1] / se), len(x) - 2))
    sentence = pays_sentence(found)
    assert sentence.startswith(f"{-beta[1]:+.2f}% gain per tenfold fewer") and f"[{-(beta[1] + half):+.2f}, " in sentence
    assert "it gains more the fewer rows there are per weight" in sentence
    assert math.isnan(across.trend(gain[:2], rows_per_weight[:2])["slope"])


def test_a_run_records_what_decides_whether_a_regularizer_pays(workdir):
    from harness.store import Store

    class Noisy(TinyClassification):
        label_noise = 0.2

    run_fake([Noisy()], workdir)
    with Store(workdir.db) as store:
        run = store.results(Noisy.name, weights=False).run
    # 5 inputs -> 8 hidden -> 3 classes: 5·8 + 8 + 8·3 + 3 weights
    assert run.parameters["none"] == 75 and run.label_noise == 0.2
    assert 20 < run.train_rows < 30  # 60 rows, 2 folds: 30 training rows less a 10% validation split


def test_the_gain_on_other_properties_is_statsmodels_ols_one_property_at_a_time():
    """Each slope equals statsmodels' OLS fitted directly on that property alone (label noise only
    where known; the task as a 0/1 regression dummy, whose slope is the difference of the two
    tasks' mean gains), and each sentence quotes the fits' numbers."""
    import re

    import statsmodels.api as sm

    from harness.report.across import properties_sentence

    props = pd.DataFrame({"task": ["classification"] * 4 + ["regression"] * 3,
                          "rows_per_weight": [0.1, 0.2, 0.5, 1, 2, 5, 10],
                          "features_per_row": [0.01, 0.1, 0.05, 0.5, 0.02, 0.2, 1.0],
                          "label_noise": [0.0, 0.1, 0.25, 0.3, np.nan, np.nan, np.nan]},
                         index=[f"d{i}" for i in range(7)])
    relative = pd.DataFrame({"none": 0.0, "L1": [0.5, 3.0, 6.0, 8.1, 1.0, 2.0, -1.0]}, index=props.index)
    table = across.property_trends(relative, props, "none").set_index("property")
    noise = sm.OLS(relative["L1"][:4].to_numpy(), sm.add_constant(props["label_noise"][:4].to_numpy())).fit()
    assert table.loc["label_noise", "slope"] == pytest.approx(noise.params[1]) and table.loc["label_noise", "n"] == 4
    assert table.loc["label_noise", "p"] == pytest.approx(noise.pvalues[1])
    features = sm.OLS(relative["L1"].to_numpy(), sm.add_constant(np.log10(props["features_per_row"].to_numpy()))).fit()
    assert (table.loc["features_per_row", "slope_low"], table.loc["features_per_row", "slope_high"]) == pytest.approx(
        tuple(features.conf_int(0.05)[1]))
    difference = relative["L1"][4:].mean() - relative["L1"][:4].mean()
    assert table.loc["regression", "slope"] == pytest.approx(difference)
    sentence = properties_sentence(table.reset_index().to_dict("records"))
    low, high = noise.conf_int(0.05)[1]
    assert low > 0 and f"{noise.params[1] * 0.1:+.2f}% per 10 points more label noise" in sentence
    assert f"[{low * 0.1:+.2f}, {high * 0.1:+.2f}]" in sentence and "4 data sets" in sentence
    assert re.search(r"features per row \(CI \[[-+]\d", sentence)  # its interval includes 0: named as no evidence


def test_the_conclusions_name_their_test_and_quote_its_numbers():
    """The page's conclusions are generated from the effect-size table and the hierarchical
    model: 'better' only by the Wilcoxon test's Holm verdict (and 'both' only with P(better) ≥
    0.95; 'by less than ±1%' with P(equivalent) ≥ 0.95), 'equivalent' only by P(equivalent) ≥
    0.95, and every other variant listed as not told apart, each with its numbers."""
    from types import SimpleNamespace

    from harness.report.across import DECIDED, conclusions

    effects = pd.DataFrame([
        {"variant": "L1", "median": 3.21, "p_wilcoxon_holm": 0.0021, "verdict": "better"},
        {"variant": "L2", "median": 0.05, "p_wilcoxon_holm": 0.81, "verdict": "no evidence"},
        {"variant": "dropout", "median": 0.9, "p_wilcoxon_holm": 0.2, "verdict": "no evidence"},
        {"variant": "L2 tiny", "median": 0.31, "p_wilcoxon_holm": 0.004, "verdict": "better"}])
    hierarchical = pd.DataFrame([
        {"variant": "L1", "p_worse": 0.0, "p_equivalent": 0.04, "p_better": 0.96},
        {"variant": "L2", "p_worse": 0.01, "p_equivalent": DECIDED + 0.02, "p_better": 0.02},
        {"variant": "dropout", "p_worse": 0.1, "p_equivalent": 0.5, "p_better": 0.4},
        {"variant": "L2 tiny", "p_worse": 0.0, "p_equivalent": 0.99, "p_better": 0.01}])
    ranks = pd.Series({"L1": 1.5, "dropout": 2.4, "L2": 2.9, "L2 tiny": 3.0, "none": 3.2})
    analysis = SimpleNamespace(group=SimpleNamespace(baseline="none"), ranks=pd.DataFrame(index=range(12)),
                               hierarchical=hierarchical, mean_ranks=ranks, cd=1.35,
                               friedman=SimpleNamespace(p_verdict=0.003))
    found = dict(conclusions(analysis, effects))
    both = found["Better (both tests)"]
    assert "L1 (median change +3.21%, Wilcoxon Holm p = 0.0021; hierarchical P(better) = 0.960" in both
    assert "across the 12 data sets" in both and "L2" not in both
    assert "L2 tiny (median change +0.31%, Wilcoxon Holm p = 0.0040" in found["Better, but by less than ±1%"]
    assert found["Equivalent"].count("(median change") == 1 and "L2 (median change +0.05%" in found["Equivalent"]
    assert "dropout (median change +0.90%, Wilcoxon Holm p = 0.2000" in found["Cannot tell"]
    among = found["Among the variants"]
    assert "p = 0.0030" in among and "L1 (mean rank 1.50)" in among and "dropout (2.40)" in among
    assert "L2 (" not in among and "critical difference 1.35" in among  # 2.9 − 1.5 > 1.35
    analysis.friedman = SimpleNamespace(p_verdict=0.3)
    assert "does not order them" in dict(conclusions(analysis, effects))["Among the variants"]
