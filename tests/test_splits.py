"""The protocol: preprocessing fitted on training rows only, disjoint splits, seeds."""
import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from harness.errors import HarnessError
from harness.splits import derive_seed
from harness.jobs import make_jobs
from harness.runner import prepare
from tests.conftest import TinyClassification, TinyRegression, tiny_classification


class SpyScaler(BaseEstimator, TransformerMixin):
    """A z-scorer that logs the index labels of every frame it is fitted on."""

    fitted_on: list = []

    def fit(self, X, y=None):
        SpyScaler.fitted_on.append(set(X.index))
        self.mean_, self.std_ = X.mean().to_numpy(), X.std(ddof=0).to_numpy()
        return self

    def transform(self, X):
        return (X.to_numpy() - self.mean_) / self.std_


class Spied(TinyClassification):
    name = "spied"
    folds = 4

    def load_data(self, data_dir):
        data = tiny_classification(n=80)
        data.X.index = data.X.index + 1000  # labels that differ from positions
        data.y.index = data.X.index
        return data

    def preprocessor(self, X):
        return SpyScaler()


@pytest.mark.parametrize("protocol,patience", [("validation", 3), ("heaton", 3), ("validation", None)])
def test_preprocessing_never_sees_test_rows(tmp_path, protocol, patience):
    SpyScaler.fitted_on.clear()
    exp = Spied()
    exp.protocol, exp.patience = protocol, patience
    prepared = prepare(exp, tmp_path)
    labels = prepared.data.X.index.to_numpy()
    assert len(SpyScaler.fitted_on) == len(prepared.splits) == 4
    for fd, seen in zip(prepared.splits, SpyScaler.fitted_on):
        test_labels = set(labels[fd.test_index])
        assert seen.isdisjoint(test_labels)
        assert seen == set(labels[fd.fit_index])
        assert set(fd.fit_index).isdisjoint(fd.test_index)
        if exp.uses_validation_split:
            assert set(fd.val_index).isdisjoint(fd.test_index) and set(fd.val_index).isdisjoint(fd.fit_index)
            assert seen.isdisjoint(set(labels[fd.val_index]))
        # the test rows are transformed with statistics of the training rows only (NumPy truth)
        X = prepared.data.X.to_numpy()
        mean, std = X[fd.fit_index].mean(axis=0), X[fd.fit_index].std(axis=0)
        np.testing.assert_allclose(fd.x_test, (X[fd.test_index] - mean) / std, rtol=1e-5, atol=1e-5)
        if protocol == "heaton" and patience is not None:
            assert fd.x_val is fd.x_test  # Part 5.5: early stopping watches the scored split
    all_test = np.concatenate([fd.test_index for fd in prepared.splits])
    assert sorted(all_test) == list(range(80))  # K-fold: every row scored exactly once


def test_regression_target_scaled_with_training_rows_only(tmp_path):
    prepared = prepare(TinyRegression(), tmp_path)
    y = prepared.data.y.to_numpy()
    for fd in prepared.splits:
        assert fd.target_mean == pytest.approx(y[fd.fit_index].mean())
        assert fd.target_std == pytest.approx(y[fd.fit_index].std())
        np.testing.assert_allclose(fd.to_raw(fd.y_test), y[fd.test_index], rtol=1e-5)


def test_validation_split_is_stratified_and_sized(tmp_path):
    exp = Spied()
    exp.preprocessor = TinyClassification.preprocessor.__get__(exp)
    prepared = prepare(exp, tmp_path)
    y = prepared.data.y.to_numpy()
    for fd in prepared.splits:
        n_train = len(fd.fit_index) + len(fd.val_index)
        assert len(fd.val_index) == int(np.ceil(0.1 * n_train))
        assert set(np.unique(y[fd.val_index])) <= set(np.unique(y[fd.fit_index]))


def test_jobs_and_seeds():
    exp = TinyClassification()
    jobs = make_jobs(exp, 2)
    assert [(j.variant.name, j.split) for j in jobs] == [("none", 0), ("none", 1), ("L2 1e-3", 0), ("L2 1e-3", 1)]
    # paired design: variants share each fold's seed; folds differ; the seed follows the experiment's
    assert jobs[0].seed == jobs[2].seed != jobs[1].seed
    assert derive_seed(42, 0) == derive_seed(42, 0) != derive_seed(43, 0)
    exp.paired_seeds = False
    unpaired = make_jobs(exp, 2)
    assert unpaired[0].seed != unpaired[2].seed


def test_training_size_split_gives_each_split_its_own_rows():
    from harness.splitters import TrainingSizeSplit

    split = TrainingSizeSplit([5, 20], repeats=3, n_test=30)
    assert split.rows_needed() == 3 * 25 + 30 and split.get_n_splits() == 6
    splits = list(split.split(np.zeros((split.rows_needed(), 2))))
    assert [len(train) for train, _ in splits] == [5, 5, 5, 20, 20, 20]
    assert split.blocks() == [(5, 0), (5, 1), (5, 2), (20, 0), (20, 1), (20, 2)]
    used = np.concatenate([train for train, _ in splits])
    assert len(set(used)) == len(used) == 75  # no training row in two splits
    for _, test in splits:
        np.testing.assert_array_equal(test, np.arange(75, 105))
    with pytest.raises(HarnessError, match="expects 105 rows"):
        list(split.split(np.zeros((100, 2))))
    with pytest.raises(HarnessError, match="sizes must be >= 1"):
        TrainingSizeSplit([0], 1, 10)


def test_fixed_split_repeats_one_split():
    from harness.splitters import FixedSplit

    splits = list(FixedSplit(8, 3).split(np.zeros((10, 1))))
    assert len(splits) == 3
    for train, test in splits:
        np.testing.assert_array_equal(train, np.arange(8))
        np.testing.assert_array_equal(test, [8, 9])
    with pytest.raises(HarnessError, match="leave none to score"):
        list(FixedSplit(10, 1).split(np.zeros((10, 1))))


def test_folds_override_is_refused_for_a_designed_splitter():
    from harness.builtin.mccaffrey import McCaffreyDemo

    with pytest.raises(HarnessError, match="--folds does not apply"):
        McCaffreyDemo().configured(folds=3).make_splitter()
    assert McCaffreyDemo().configured(quick=True).make_splitter().get_n_splits() == McCaffreyDemo.repeats
    assert TinyClassification().configured(folds=4).make_splitter().get_n_splits() == 4
