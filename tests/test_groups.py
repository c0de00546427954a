"""Grouped and time-ordered data: a Dataset's groups reach every splitter, no group is ever on
both sides of an outer split, of the validation carve or of an inner split; time-ordered
splits carve their latest training rows for validation; what cannot work is one line."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import model_selection as ms

from harness import Dataset, HarnessError, Variant, tuned
from harness.splitters import traits
from harness.store import Store
from tests.conftest import TinyClassification, TinyRegression, run_fake, tiny_classification, tiny_regression

GROUP_SIZE = 4  # rows per group: 90 rows, 22 groups of 4 and one of 2


def grouped(data: Dataset, size: int = GROUP_SIZE) -> Dataset:
    """The data with groups of `size` consecutive rows, named as a user would (subject ids)."""
    subjects = [f"subject-{i // size:02d}" for i in range(len(data.X))]
    return Dataset(data.name, data.X, data.y, data.task, groups=pd.Series(subjects, name="subject"))


class GroupedClassification(TinyClassification):
    name = "grouped-classification"
    folds = 3
    variants = (Variant("none"), tuned("L2 (tuned)", l2=(1e-4, 1e-2)), Variant("L2 1e-3", l2=1e-3))

    def load_data(self, data_dir):
        return grouped(tiny_classification(n=90))


class GroupedRegression(GroupedClassification):
    name = "grouped-regression"
    task = "regression"

    def load_data(self, data_dir):
        return grouped(tiny_regression(n=90))


def _prepared(exp):
    from harness.runner.orchestrate import prepare

    return prepare(exp, "/nonexistent")


def _groups_of(data, rows):
    return set(data.groups.iloc[np.asarray(rows)])


def _assert_no_group_on_both_sides(item):
    data = item.data
    for fd in list(item.splits) + list(item.inner.values()):
        test = _groups_of(data, fd.test_index)
        fit = _groups_of(data, fd.fit_index)
        assert not fit & test, f"split {fd.split}: groups {fit & test} trained on and scored"
        if fd.val_index is not None:
            val = _groups_of(data, fd.val_index)
            assert not val & fit and not val & test, f"split {fd.split}: the validation carve splits a group"


@pytest.mark.parametrize("splitter, partition, resizable", [
    (ms.GroupKFold(3), True, True),
    (ms.StratifiedGroupKFold(3), True, True),
    (ms.LeaveOneGroupOut(), True, False),
    (ms.LeavePGroupsOut(2), False, False),
    (ms.GroupShuffleSplit(4, test_size=0.25, random_state=0), False, True),
])
def test_group_splitters_are_known_to_need_groups(splitter, partition, resizable):
    found = traits(splitter)
    assert found.grouped and not found.ordered
    assert (found.test_sets_partition, found.resizable, found.resampling_correction) == (partition, resizable, True)
    assert not traits(ms.KFold(3)).grouped and traits(ms.TimeSeriesSplit(3)).ordered


@pytest.mark.parametrize("exp_class", [GroupedClassification, GroupedRegression])
def test_the_default_splitter_of_grouped_data_is_a_group_kfold_and_keeps_every_group_whole(exp_class):
    item = _prepared(exp_class())
    kind = ms.StratifiedGroupKFold if exp_class.task == "classification" else ms.GroupKFold
    assert type(item.splitter) is kind and len(item.splits) == 3
    assert len(item.inner) == 3 * 3  # the tuned variant's inner splits, by group too
    _assert_no_group_on_both_sides(item)
    # every row is scored once: the test sets partition the rows, whole groups at a time
    tested = np.sort(np.concatenate([fd.test_index for fd in item.splits]))
    assert np.array_equal(tested, np.arange(90))


@pytest.mark.parametrize("splitter", [
    ms.GroupKFold(3, shuffle=True, random_state=0),
    ms.StratifiedGroupKFold(3, shuffle=True, random_state=0),
    ms.LeaveOneGroupOut(),
    ms.GroupShuffleSplit(3, test_size=0.25, random_state=0),
])
def test_every_group_splitter_runs_and_keeps_groups_whole(splitter):
    class Exp(GroupedClassification):
        def load_data(self, data_dir):  # fewer groups, so that LeaveOneGroupOut makes few splits
            return grouped(tiny_classification(n=90), size=18)

        def splitter(self):
            return splitter

    item = _prepared(Exp())
    expected = 5 if isinstance(splitter, ms.LeaveOneGroupOut) else 3
    assert len(item.splits) == expected
    _assert_no_group_on_both_sides(item)


def test_a_grouped_run_trains_end_to_end_and_stores_its_splits(workdir):
    outcomes, _ = run_fake([GroupedClassification()], workdir)
    assert outcomes[0].ok == 3 * 3 and outcomes[0].failed == 0
    with Store(workdir.db) as store:
        results = store.results(GroupedClassification.name)
    assert set(results.splits["split"]) == {0, 1, 2}


class TimeOrdered(TinyRegression):
    name = "time-ordered"
    variants = (Variant("none"), tuned("L2 (tuned)", l2=(1e-4, 1e-2)))

    def load_data(self, data_dir):
        return tiny_regression(n=90)

    def splitter(self):
        return ms.TimeSeriesSplit(n_splits=3)


def test_time_ordered_splits_validate_on_their_latest_training_rows():
    item = _prepared(TimeOrdered())
    assert len(item.splits) == 3 and len(item.inner) == 3 * 3
    for fd in list(item.splits) + list(item.inner.values()):
        # fit rows, then validation rows, then test rows: no future row is fitted or validated on
        assert fd.fit_index.max() < fd.val_index.min() and fd.val_index.max() < fd.test_index.min()
        assert len(fd.val_index) == int(np.ceil(0.1 * (len(fd.fit_index) + len(fd.val_index))))


def test_what_cannot_split_by_group_is_one_line():
    class NoGroups(TinyClassification):
        def splitter(self):
            return ms.GroupKFold(3)

    class IgnoresGroups(GroupedClassification):
        def splitter(self):
            return ms.KFold(3)

    class TooFewGroups(GroupedClassification):
        folds = 5

        def load_data(self, data_dir):
            return grouped(tiny_classification(n=90), size=30)

    class Repeated(GroupedClassification):
        cv_repeats = 2

    cases = [
        (NoGroups(), "splits by groups, but dataset"),
        (IgnoresGroups(), "has groups, but the splitter KFold ignores them"),
        (TooFewGroups(), "3 groups is fewer than the 5 folds"),
        (Repeated(), "no repeated group K-fold"),
    ]
    for exp, words in cases:
        with pytest.raises(HarnessError) as caught:
            _prepared(exp)
        assert words in str(caught.value) and "\n" not in str(caught.value)


def test_groups_must_name_one_group_per_row():
    data = tiny_classification(n=10)
    with pytest.raises(HarnessError, match="one value per row: 10 rows but groups of shape"):
        Dataset("d", data.X, data.y, "classification", groups=[1, 2, 3])
    with pytest.raises(HarnessError, match="2 rows have no group"):
        Dataset("d", data.X, data.y, "classification", groups=[1, None] * 2 + [3] * 6)


def test_the_page_says_what_the_splits_keep_whole(workdir):
    run_fake([GroupedClassification()], workdir)
    html = (workdir.reports / GroupedClassification.name / "index.html").read_text()
    assert "split by &#39;subject&#39; (23 groups): no group is on both sides" in html
    assert "StratifiedGroupKFold" in html and "Nadeau" in html


def test_groups_named_by_a_column_leave_the_features_and_are_kept_in_the_store(workdir):
    data = tiny_classification(n=12)
    X = data.X.assign(subject=[f"s{i // 3}" for i in range(12)])
    named = Dataset("d", X, data.y, "classification", groups="subject")
    assert "subject" not in named.X.columns and named.groups.nunique() == 4
    with pytest.raises(HarnessError, match="groups='patient' is not a column of the features"):
        Dataset("d", X, data.y, "classification", groups="patient")
    run_fake([GroupedClassification()], workdir)
    with Store(workdir.db) as store:
        back = store.dataset(store.results(GroupedClassification.name).run.data_fingerprint)
    assert back is not None and back.groups is not None and back.groups.nunique() == 23
