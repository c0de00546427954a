"""The declared suites: their members, the independence of their data sets, the designed grid,
and repeated cross-validation with its matching correction."""
import itertools
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from harness.registry import builtin, suite, suites


def _datasets(names):
    known = builtin()
    return {name: known[name]().load_data(None) for name in names}


def test_the_suites_are_declared_lists_of_known_experiments():
    declared = suites()
    assert len(declared["default"]) == 8 and set(declared["default"]) < set(declared["large"])
    assert len(declared["large"]) >= 40
    from harness.builtin.suites import REAL

    real = set(REAL) | {"wine", "breast-cancer", "diabetes", "digits-small", "digits-noisy-labels"}
    assert len(real & set(declared["large"])) >= 20
    known = builtin()
    for name in real:  # each says what it is, where it comes from and why it is in the suite
        text = known[name].description
        assert "rows" in text and "source: " in text and "In the suite" in text, name
    # --suite large runs exactly the declared members, in order; the default suite also its literature experiments
    assert [cls.name for cls in suite("large")] == list(declared["large"])
    assert set(declared["default"]) < {cls.name for cls in suite("default")}


def test_no_two_data_sets_of_a_suite_share_a_row():
    """The tests across data sets assume independent data sets: no row (inputs and target) of one
    is a row of another (digits-small and digits-noisy-labels take disjoint parts of the digits)."""
    data = _datasets(suites()["large"])
    rows = {}
    for name, d in data.items():
        frame = pd.concat([d.X.reset_index(drop=True), d.y.reset_index(drop=True)], axis=1)
        rows[name] = set(map(tuple, frame.round(9).astype(str).to_numpy()))
    for a, b in itertools.combinations(rows, 2):
        assert not rows[a] & rows[b], (a, b)
    # and the two digits parts never hold the same image (their labels differ on the noisy one)
    small, noisy = data["digits-small"].X, data["digits-noisy-labels"].X
    assert not set(map(tuple, small.to_numpy())) & set(map(tuple, noisy.to_numpy()))


def test_the_designed_grid_crosses_its_factors_with_exact_label_noise():
    from sklearn import datasets

    from harness.builtin.large_suite import GRID, GRID_FEATURES, GRID_INFORMATIVE, GRID_NOISE, GRID_ROWS

    cells = {(cls.rows, cls.label_noise, cls.informative) for cls in GRID}
    assert cells == set(itertools.product(GRID_ROWS, GRID_NOISE, GRID_INFORMATIVE))
    cls = next(c for c in GRID if c.rows == 500 and c.label_noise == 0.25 and c.informative == 0.1)
    d = cls().load_data(None)
    seed = 1 * 100 + 2 * 10 + 0
    _, clean = datasets.make_classification(n_samples=500, n_features=GRID_FEATURES, n_informative=4, n_redundant=0,
                                            n_repeated=0, n_clusters_per_class=2, class_sep=1.0, flip_y=0.0,
                                            random_state=1000 + seed)
    assert np.mean(d.y.to_numpy() != clean) == 0.25 and d.X.shape == (500, GRID_FEATURES)


def test_the_cli_runs_a_declared_suite_and_refuses_an_unknown_one_in_one_line():
    out = subprocess.run([sys.executable, "-m", "harness", "run", "--suite", "nosuch"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "unknown suite 'nosuch'" in out.stderr
    listed = subprocess.run([sys.executable, "-m", "harness", "list"], capture_output=True, text=True).stdout
    assert "wine  " in listed and "[default, large suites]" in listed and "iris  " in listed


def test_a_suite_page_holds_its_declared_members_only():
    """A run sharing the suite's variants but not declared in it (as heaton-age once joined the
    default suite when its download was cached) stays out, and a member not run is named."""
    from types import SimpleNamespace

    from harness.core import Penalty, Regularization
    from harness.stats.across import find_groups

    def run(name, fingerprint):
        read = {"none": Regularization(), "L2": Regularization((Penalty("hidden_1", "kernel", 0.0, 1e-3),))}
        return SimpleNamespace(experiment=name, networks=["none", "L2"], baseline="none", dataset=name,
                               run=SimpleNamespace(data_fingerprint=fingerprint), regularization=read.get)

    runs = [run("a", "1"), run("b", "2"), run("cached-extra", "3")]
    groups = find_groups(runs, {"default": ["a", "b", "never-run"]})
    assert [g.title for g in groups] == ["default suite"] and groups[0].slug == "default-suite"
    assert [r.experiment for r in groups[0].members] == ["a", "b"]
    assert any("never-run" in note and "1 of the suite's 3" in note for note in groups[0].notes)
    # a larger suite of which only the smaller one's members ran gets no page of its own (it would repeat it)
    both = find_groups(runs, {"default": ["a", "b"], "large": ["a", "b", "c"]})
    assert [g.title for g in both] == ["default suite"]
    both = find_groups(runs + [run("c", "4")], {"default": ["a", "b"], "large": ["a", "b", "c"]})
    assert [g.title for g in both] == ["default suite", "large suite"]


def test_the_suites_repeat_five_fold_cross_validation_twice():
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    from harness.splitters import traits

    known = builtin()
    wine, diabetes = known["wine"](), known["diabetes"]()
    assert isinstance(wine.splitter(), RepeatedStratifiedKFold) and wine.splitter().get_n_splits() == 10
    assert isinstance(diabetes.splitter(), RepeatedKFold) and traits(wine.splitter()).resampling_correction
    assert wine.configured(quick=True).make_splitter().get_n_splits() == 3  # --quick: 3 folds, one repeat


def test_the_corrected_repeated_kfold_test_is_bouckaert_and_franks_and_baycomps():
    """With k-fold repeated r times, the corrected t-test's variance is (1/(k·r) + n_test/n_train)·s²
    with k·r − 1 degrees of freedom (Bouckaert and Frank 2004, computed here by hand), and the
    Bayesian correlated t-test on the same differences is baycomp's CorrelatedTTest with runs=r."""
    import baycomp

    from harness.stats import bayesian_correlated_ttest, corrected_paired_ttest

    rng = np.random.default_rng(3)
    k, r = 5, 2
    x = rng.normal(0.80, 0.02, k * r)
    y = x + rng.normal(0.006, 0.01, k * r)
    d = y - x
    ratio = 1 / (k - 1)
    p, low, high = corrected_paired_ttest(d, ratio)
    se = math.sqrt((1 / (k * r) + ratio) * d.var(ddof=1))
    assert p == pytest.approx(2 * sps.t.sf(abs(d.mean() / se), k * r - 1))
    assert (low, high) == pytest.approx((d.mean() - sps.t.ppf(0.975, k * r - 1) * se,
                                         d.mean() + sps.t.ppf(0.975, k * r - 1) * se))
    ours = bayesian_correlated_ttest(d, ratio, 0.005)
    theirs = baycomp.CorrelatedTTest.probs(x, y, rope=0.005, runs=r)
    assert ours == pytest.approx(theirs, abs=1e-9)
