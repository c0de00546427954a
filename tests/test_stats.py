"""The paired statistics against independent computations: hand formulas and scipy."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from harness import stats


def test_corrected_t_follows_nadeau_bengio_by_hand():
    d = np.array([0.02, 0.01, 0.03, -0.005, 0.015])
    ratio = 0.25
    p, low, high = stats.corrected_paired_ttest(d, ratio)
    se = math.sqrt((1 / len(d) + ratio) * d.var(ddof=1))
    t = d.mean() / se
    assert p == pytest.approx(2 * sps.t.sf(abs(t), len(d) - 1))
    half = sps.t.ppf(0.975, len(d) - 1) * se
    assert (low, high) == pytest.approx((d.mean() - half, d.mean() + half))


def test_a_ratio_of_zero_is_scipys_paired_t_test():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 0.02, 10), rng.normal(0.81, 0.02, 10)
    p, _, _ = stats.corrected_paired_ttest(b - a, 0.0)
    assert p == pytest.approx(sps.ttest_rel(b, a).pvalue)


def test_no_variance_or_no_ratio_gives_no_p_value():
    p, low, high = stats.corrected_paired_ttest([0.01] * 5, 0.25)
    assert math.isnan(p) and low == high == pytest.approx(0.01)
    assert all(math.isnan(v) for v in stats.corrected_paired_ttest([0.01, 0.02, 0.0], math.nan))


def test_holm_matches_the_step_down_rule_and_keeps_nan():
    p = [0.01, 0.04, math.nan, 0.03, 0.2]
    present = np.array([0.01, 0.04, 0.03, 0.2])
    order = np.argsort(present)
    m = len(present)
    stepped = np.maximum.accumulate([(m - i) * present[j] for i, j in enumerate(order)])
    expected = np.empty(m)
    expected[order] = np.minimum(stepped, 1.0)
    adjusted = stats.holm(p)
    assert math.isnan(adjusted[2])
    np.testing.assert_allclose(adjusted[[0, 1, 3, 4]], expected)


@pytest.mark.parametrize("seed", range(5))
def test_holm_is_statsmodels_holm(seed):
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.2, int(rng.integers(1, 12))) ** 2
    p[rng.integers(len(p))] = p[0]  # a tie
    np.testing.assert_allclose(stats.holm(p), multipletests(p, alpha=0.05, method="holm")[1], rtol=1e-12)
    assert np.isnan(stats.holm([])).size == 0


@pytest.mark.parametrize("difference, p, greater, expected", [
    (0.02, 0.01, True, "better"), (-0.02, 0.01, True, "worse"),
    (-3.0, 0.01, False, "better"), (3.0, 0.01, False, "worse"),
    (0.02, 0.2, True, "no evidence"), (0.02, math.nan, True, "no evidence"),
])
def test_verdict_reads_the_direction_of_the_score(difference, p, greater, expected):
    assert stats.verdict(difference, p, greater) == expected


@pytest.mark.parametrize("pairs", [5, 6, 8, 10])
def test_the_wilcoxon_floor_is_scipys_smallest_p(pairs):
    assert stats.wilcoxon_floor(pairs) == pytest.approx(sps.wilcoxon(np.arange(1.0, pairs + 1)).pvalue)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([-0.03, -0.02, -0.01, 0.0, 0.005, 0.01, 0.02, 0.04, 0.1]), min_size=2, max_size=16)
       | st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=2, max_size=16))
def test_wilcoxon_p_is_scipys_wilcoxon(differences):
    """The fast path (ties or zeros among at most 13 pairs, where scipy runs its permutation test
    one flip at a time) and the rest give scipy's own p-value."""
    d = np.asarray(differences, dtype=float)
    if not np.any(d != 0):
        return
    expected = sps.wilcoxon(d).pvalue
    assert stats.wilcoxon_p(d) == pytest.approx(expected, rel=1e-12, abs=1e-15, nan_ok=True)


def test_paired_comparison_adjusts_across_the_page():
    rng = np.random.default_rng(3)
    rows = []
    shifts = {"none": 0.0, "a": 0.03, "b": 0.001, "c": -0.03}
    base = rng.normal(0.8, 0.01, 10)
    for name, shift in shifts.items():
        for split in range(10):
            rows.append({"variant": name, "split": split, "status": "ok",
                         "score": base[split] + shift + rng.normal(0, 0.003)})
    frame = pd.DataFrame(rows)
    table = stats.paired_comparison(frame, "none", True, 0.0).set_index("variant")
    assert list(table.index) == ["a", "b", "c"]
    for name in table.index:
        diff = frame[frame.variant == name]["score"].to_numpy() - frame[frame.variant == "none"]["score"].to_numpy()
        assert table.loc[name, "p_wilcoxon"] == pytest.approx(sps.wilcoxon(diff).pvalue)
        assert table.loc[name, "p_corrected"] == pytest.approx(sps.ttest_1samp(diff, 0).pvalue)
    np.testing.assert_allclose(table["p_corrected_holm"], stats.holm(table["p_corrected"]))
    assert table.loc["a", "verdict"] == "better" and table.loc["c", "verdict"] == "worse"


@pytest.mark.parametrize("n, runs, rope", [(5, 1, 0.01), (10, 1, 0.005), (15, 3, 0.01), (10, 2, 0.0)])
def test_bayesian_correlated_t_matches_baycomp(n, runs, rope):
    """baycomp's CorrelatedTTest on K-fold (ratio 1/(K - 1), K = n / runs) gives the same
    posterior probabilities, in baycomp's order (first model better, equivalent, second better)."""
    baycomp = pytest.importorskip("baycomp")
    rng = np.random.default_rng(n + runs)
    x = rng.normal(0.8, 0.02, n)
    y = x + rng.normal(0.004, 0.01, n)
    folds = n // runs
    ours = stats.bayesian_correlated_ttest(y - x, 1 / (folds - 1), rope)
    theirs = baycomp.CorrelatedTTest.probs(x, y, rope=rope, runs=runs)
    if rope == 0:  # baycomp then gives (left, right) only
        theirs = (theirs[0], 0.0, theirs[1])
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_bayesian_probabilities_follow_the_score_direction():
    rows = [{"variant": v, "split": s, "status": "ok", "score": score}
            for s in range(5) for v, score in (("none", 50.0 + s), ("lower", 45.0 + s + 0.1 * (s % 2)))]
    table = stats.paired_comparison(pd.DataFrame(rows), "none", False, 0.25, rope=0.5).set_index("variant")
    row = table.loc["lower"]  # an error score 5 lower: better
    assert row["p_better"] > 0.99 and row["p_better"] + row["p_equivalent"] + row["p_worse"] == pytest.approx(1.0)
    assert stats.default_rope("accuracy", 0.9) == 0.01 and stats.default_rope("rmse", 55.0) == pytest.approx(0.55)


def test_pooled_rmse_is_the_rmse_over_every_scored_row():
    rng = np.random.default_rng(4)
    errors = [rng.normal(0, s, n) for s, n in ((1.0, 30), (2.0, 31), (0.5, 29))]
    rows = pd.DataFrame({"metrics": [{"test_rmse": float(np.sqrt(np.mean(e ** 2))), "test_rows": len(e)}
                                     for e in errors]})
    assert stats.pooled_rmse(rows) == pytest.approx(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    assert math.isnan(stats.pooled_rmse(pd.DataFrame({"metrics": [{"test_rmse": 1.0}]})))


@pytest.mark.parametrize("seed", range(7))
def test_stopped_epoch_is_what_keras_early_stopping_reports(seed):
    """Drive Keras' own EarlyStopping with a validation-loss sequence; the harness's rule, from
    the epochs trained and the best epoch alone, gives the same stopped_epoch."""
    import keras

    from harness.core.results import stopped_epochs

    rng = np.random.default_rng(seed)
    patience, max_epochs = int(rng.integers(1, 6)), 40
    losses = np.minimum.accumulate(rng.uniform(0.5, 1.0, max_epochs)) + rng.uniform(0, 0.05, max_epochs) * (seed % 2)
    if seed == 6:  # always improving: early stopping never fires, stopped_epoch stays 0
        losses = np.linspace(1.0, 0.5, max_epochs)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience)
    stopper.set_model(model)
    model.stop_training = False  # what fit() sets before the first epoch
    stopper.on_train_begin()
    trained = max_epochs
    for epoch, loss in enumerate(losses):
        stopper.on_epoch_end(epoch, {"val_loss": float(loss)})
        if model.stop_training:
            trained = epoch + 1
            break
    best = int(np.argmin(losses[:trained])) + 1
    rows = pd.DataFrame({"epochs": [trained], "best_epoch": [best], "kind": ["network"]})
    assert stopped_epochs(rows, patience) == [stopper.stopped_epoch]
    assert (stopper.stopped_epoch == 0) == (seed == 6)


def test_differences_that_do_not_vary_get_no_test_and_no_posterior():
    """Three identical per-split differences of 0.1: their sample variance is 2e-33 (the rounding
    of their mean), which a t-test would read as certainty and the Bayesian test as P(better) = 1.
    Neither can be tested: both are NaN, as for exactly zero variance."""
    from harness.stats.significance import bayesian_correlated_ttest, constant, corrected_paired_ttest

    same = np.full(3, 0.1)
    assert np.var(same, ddof=1) > 0 and constant(same)
    p, low, high = corrected_paired_ttest(same, 0.25)
    assert math.isnan(p) and low == high == 0.1
    assert all(math.isnan(v) for v in bayesian_correlated_ttest(same, 0.25, 0.01))
    varied = np.array([0.1, 0.1, 0.1 + 1e-6])
    assert not constant(varied) and corrected_paired_ttest(varied, 0.25)[0] < 0.05
    assert not any(math.isnan(v) for v in bayesian_correlated_ttest(varied, 0.25, 0.01))


def test_the_page_says_which_comparisons_holm_covers():
    import pandas as pd

    from harness.report.sections import _tested

    rows = pd.DataFrame({"variant": ["a", "b", "c"], "p_corrected": [0.01, float("nan"), 0.2]})
    assert _tested(rows) == "2 comparisons that have a p-value (1 without one, b, left out)"
    assert _tested(rows.iloc[[0, 2]]) == "2 comparisons"


def test_benjamini_hochberg_is_statsmodels_fdr_bh_over_the_p_values_that_exist():
    from statsmodels.stats.multitest import multipletests

    from harness.stats import benjamini_hochberg

    p = np.array([0.01, np.nan, 0.04, 0.03, 0.5, 0.002, np.nan])
    q = benjamini_hochberg(p)
    present = ~np.isnan(p)
    assert np.isnan(q[~present]).all()
    assert q[present] == pytest.approx(multipletests(p[present], method="fdr_bh")[1])


def test_the_index_adjusts_every_pages_comparisons_together(workdir):
    """The index's q for each best variant is Benjamini–Hochberg over every comparison with a
    baseline that its pages make (recomputed here with statsmodels from each page's table)."""
    from statsmodels.stats.multitest import multipletests

    from harness.store import Store
    from tests.conftest import TinyClassification, TinyRegression, run_fake

    run_fake([TinyClassification(), TinyRegression()], workdir)
    keys, p_values = [], []
    with Store(workdir.db) as store:
        for name in ("tiny-classification", "tiny-regression"):
            results = store.results(name, weights=False)
            table = stats.summary(results)
            for variant, p in zip(table["variant"], table["p_corrected"]):
                if variant != results.baseline and not np.isnan(p):
                    keys.append((name, variant))
                    p_values.append(p)
    q = dict(zip(keys, multipletests(p_values, method="fdr_bh")[1]))
    index = pd.read_csv(workdir.reports / "index.csv").set_index("experiment")
    for name in ("tiny-classification", "tiny-regression"):
        best = index.at[name, "best_variant"]
        if (name, best) in q:
            assert index.at[name, "q_bh_index"] == pytest.approx(q[(name, best)])
    page = (workdir.reports / "index.html").read_text()
    assert "Benjamini and Hochberg" in page and f"({len(keys)} with a p-value)" in page


def test_differences_that_cancel_read_as_zero_not_float_noise():
    """Accuracies are k/100 in floats: 0.96 − 0.95 and 0.93 − 0.94 do not cancel exactly, and
    their mean (1e-17) once showed on a page as a difference of 1.110e-17."""
    base = [0.95, 0.94, 0.91, 0.96]
    other = [0.96, 0.93, 0.92, 0.95]
    assert np.mean(np.subtract(other, base)) != 0  # the float noise is there
    rows = [{"variant": v, "split": i, "status": "ok", "score": s}
            for v, scores in (("none", base), ("L2", other)) for i, s in enumerate(scores)]
    table = stats.paired_comparison(pd.DataFrame(rows), "none", True, 0.0)
    assert table.loc[0, "mean_difference"] == 0.0
