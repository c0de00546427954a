"""The splitter contract: properties declared by the harness's splitters, derived for
scikit-learn's, and `--folds`/`--quick` applied in one place."""
import numpy as np
import pytest
from sklearn import model_selection as ms

from harness import Experiment, HarnessError
from harness.splitters import FixedSplit, Splitter, TrainingSizeSplit, resized, splitter_params, traits


@pytest.mark.parametrize("splitter, overlap, stratified, partition, resizable", [
    (ms.KFold(5), "partial", False, True, True),
    (ms.StratifiedKFold(5), "partial", True, True, True),
    (ms.RepeatedStratifiedKFold(n_splits=5, n_repeats=3), "partial", True, True, True),
    (ms.ShuffleSplit(5, test_size=0.1), "partial", False, False, True),
    (ms.StratifiedShuffleSplit(5, test_size=0.1), "partial", True, False, True),
    (ms.LeaveOneOut(), "partial", False, True, False),
    (TrainingSizeSplit([5, 10], 2, 20), "none", False, False, False),
    (FixedSplit(10, 3), "identical", False, False, False),
])
def test_traits_are_declared_or_derived(splitter, overlap, stratified, partition, resizable):
    found = traits(splitter)
    assert (found.training_overlap, found.stratified, found.test_sets_partition, found.resizable) == (
        overlap, stratified, partition, resizable)
    assert found.resampling_correction == (overlap == "partial")


def _n_splits(splitter, n_rows=60):
    X, y = np.zeros((n_rows, 1)), np.arange(n_rows) % 2
    return len(list(splitter.split(X, y)))


def test_folds_resize_any_sklearn_splitter_without_touching_the_original():
    original = ms.KFold(10, shuffle=True, random_state=1)
    smaller = resized(original, 3, quick=False, owner="x")
    assert _n_splits(smaller) == 3 and _n_splits(original) == 10
    assert splitter_params(smaller) == {"n_splits": 3, "shuffle": True, "random_state": 1}


def test_quick_keeps_one_repeat_of_a_repeated_kfold():
    splitter = ms.RepeatedStratifiedKFold(n_splits=5, n_repeats=4, random_state=0)
    assert _n_splits(resized(splitter, 3, quick=True, owner="x")) == 3
    assert _n_splits(resized(splitter, 3, quick=False, owner="x")) == 12


def test_a_designed_splitter_refuses_folds_and_keeps_its_design_under_quick():
    splitter = FixedSplit(10, 3)
    with pytest.raises(HarnessError, match="--folds does not apply"):
        resized(splitter, 4, quick=False, owner="x")
    assert resized(splitter, 3, quick=True, owner="x") is splitter


def test_a_new_splitter_is_one_small_class():
    class EveryOther(Splitter):
        """Two splits: even rows train, odd rows test, and the other way round."""

        training_overlap = "none"

        def get_n_splits(self, X=None, y=None, groups=None):
            return 2

        def split(self, X, y=None, groups=None):
            rows = np.arange(len(X))
            yield rows[::2], rows[1::2]
            yield rows[1::2], rows[::2]

    class Uses(Experiment):
        def splitter(self):
            return EveryOther()

    assert not traits(EveryOther()).resampling_correction
    assert _n_splits(Uses().configured(quick=True).make_splitter()) == 2
    with pytest.raises(HarnessError, match="--folds does not apply"):
        Uses().configured(folds=4).make_splitter()

    class Incomplete(Splitter):
        pass

    with pytest.raises(TypeError):
        Incomplete()


def test_an_object_that_cannot_split_is_refused():
    with pytest.raises(HarnessError, match="no split"):
        traits(object())
