"""The splitter contract: what the harness needs to know about the splits an experiment makes.

An experiment's `splitter()` returns either a scikit-learn splitter (`KFold`,
`StratifiedKFold`, `RepeatedStratifiedKFold`, `ShuffleSplit`, …), used unchanged, or one of the
harness's own, which derive from `Splitter` and declare their properties as class attributes.
`traits(splitter)` is the one place where those properties are read, for both kinds, and
`resized` the one place where `--folds`/`--quick` change a splitter.

The properties:

- `training_overlap`: do the splits' training sets share rows? "partial" (K-fold, shuffle
  splits: scores are correlated through shared rows, so paired tests over splits need the
  Nadeau–Bengio correction), "none" (no two splits share a training row) or "identical"
  (every split trains on the same rows, repeated with other seeds: the spread is the
  training's own); only "partial" takes the correction.
- `resizable`: may `--folds` set the number of splits? False when the splits are part of the
  experiment's design; `--quick` then keeps them as they are.
- `stratified`: does each split keep the class proportions (every class needs a member per
  split)?
- `test_sets_partition`: are the test sets disjoint parts of the rows (K-fold: the data
  needs at least as many rows as splits), rather than independent draws?
- `grouped`: does it split by groups (GroupKFold, StratifiedGroupKFold, LeaveOneGroupOut,
  LeavePGroupsOut, GroupShuffleSplit: every group's rows on one side), so that the data must
  carry groups (`Dataset.groups`)?
- `ordered`: does it split in time order (TimeSeriesSplit: training rows before test rows), so
  that rows carved out for validation must be the latest training rows?
"""
from __future__ import annotations

import abc
import inspect
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np

from .errors import HarnessError

OVERLAPS = ("partial", "none", "identical")


@dataclass(frozen=True)
class SplitterTraits:
    """A splitter's properties, as `traits` derives them (see the module docstring)."""

    training_overlap: str
    resizable: bool
    stratified: bool
    test_sets_partition: bool
    #: repeats of a whole cross-validation (scikit-learn's `n_repeats`) that `--quick` sets to 1
    repeated: bool = False
    grouped: bool = False
    ordered: bool = False

    @property
    def resampling_correction(self) -> bool:
        """True when paired tests over the splits need the Nadeau–Bengio correction."""
        return self.training_overlap == "partial"


class Splitter(abc.ABC):
    """Base class of the harness's own splitters: the scikit-learn splitter interface
    (`split`, `get_n_splits`) plus explicit properties. A subclass sets the class attributes
    that differ and implements `split` and `get_n_splits`; a resizable one also `resized`."""

    training_overlap: ClassVar[str] = "partial"
    resizable: ClassVar[bool] = False
    stratified: ClassVar[bool] = False
    test_sets_partition: ClassVar[bool] = False
    grouped: ClassVar[bool] = False
    ordered: ClassVar[bool] = False

    @abc.abstractmethod
    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (training row positions, test row positions) for each split."""

    @abc.abstractmethod
    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """The number of splits."""

    def resized(self, n_splits: int) -> "Splitter":
        """A copy with `n_splits` splits (only for `resizable` splitters)."""
        raise NotImplementedError(f"{type(self).__name__} is not resizable")

    def params(self) -> dict[str, Any]:
        """What identifies the splits (recorded with each job's key): the public attributes."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


def _sklearn_traits(splitter: Any) -> SplitterTraits:
    from sklearn import model_selection as ms

    stratified = isinstance(splitter, (ms.StratifiedKFold, ms.RepeatedStratifiedKFold,
                                       ms.StratifiedShuffleSplit, ms.StratifiedGroupKFold))
    partition = isinstance(splitter, (ms.KFold, ms.StratifiedKFold, ms.GroupKFold, ms.StratifiedGroupKFold,
                                      ms.RepeatedKFold, ms.RepeatedStratifiedKFold, ms.LeaveOneOut,
                                      ms.LeaveOneGroupOut))
    grouped = isinstance(splitter, (ms.GroupKFold, ms.StratifiedGroupKFold, ms.LeaveOneGroupOut, ms.LeavePGroupsOut,
                                    ms.GroupShuffleSplit))
    params = _constructor_params(splitter)
    return SplitterTraits(training_overlap="partial", resizable="n_splits" in params, stratified=stratified,
                          test_sets_partition=partition, repeated="n_repeats" in params, grouped=grouped,
                          ordered=isinstance(splitter, ms.TimeSeriesSplit))


#: what a splitter hook must return, as the messages that refuse another thing say it
SPLITTER_WANTED = ("it must return a scikit-learn splitter (KFold(5), StratifiedKFold(5, shuffle=True), …) or a "
                   "harness.Splitter: an object with split() and get_n_splits()")


def is_splitter(value: Any) -> bool:
    """Whether `value` splits as scikit-learn's splitters do: callable `split` and `get_n_splits`."""
    return callable(getattr(value, "split", None)) and callable(getattr(value, "get_n_splits", None))


def traits(splitter: Any) -> SplitterTraits:
    """The properties of any splitter: declared by a `Splitter`, derived for scikit-learn's
    (from their classes and parameters); anything else that splits is taken at its most
    cautious (overlapping training sets, not resizable, not stratified)."""
    if isinstance(splitter, Splitter):
        if splitter.training_overlap not in OVERLAPS:
            raise HarnessError(f"{type(splitter).__name__}.training_overlap must be one of {OVERLAPS}, "
                               f"got {splitter.training_overlap!r}")
        return SplitterTraits(splitter.training_overlap, splitter.resizable, splitter.stratified,
                              splitter.test_sets_partition, grouped=splitter.grouped, ordered=splitter.ordered)
    if type(splitter).__module__.startswith("sklearn."):
        return _sklearn_traits(splitter)
    if not is_splitter(splitter):
        raise HarnessError(f"splitter {splitter!r} has no split() and get_n_splits(); return a scikit-learn "
                           "splitter or a harness.Splitter")
    return SplitterTraits("partial", resizable=False, stratified=False, test_sets_partition=False)


def split_rows(splitter: Any, X: Any, y: Any, groups: Any = None) -> Any:
    """`splitter.split(X, y)`, with the groups where the data has them (a splitter of the
    user's own without a `groups` argument is called as before)."""
    return splitter.split(X, y) if groups is None else splitter.split(X, y, groups)


def count_splits(splitter: Any, X: Any, y: Any, groups: Any = None) -> int:
    """`splitter.get_n_splits(X, y)`, with the groups as `split_rows` passes them."""
    return splitter.get_n_splits(X, y) if groups is None else splitter.get_n_splits(X, y, groups)


def _constructor_params(splitter: Any) -> dict[str, Any]:
    """A scikit-learn splitter's constructor arguments, read back from the attributes it keeps
    them in (the repeated K-folds keep `n_splits` in `cvargs`); splitters have no `get_params`."""
    params = {}
    for name, parameter in inspect.signature(type(splitter).__init__).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if hasattr(splitter, name):
            params[name] = getattr(splitter, name)
        elif name in getattr(splitter, "cvargs", {}):
            params[name] = splitter.cvargs[name]
    return params


def splitter_params(splitter: Any) -> dict[str, Any]:
    """What identifies a splitter's splits: a `Splitter`'s `params()`, a scikit-learn
    splitter's constructor arguments, or another object's public attributes."""
    if isinstance(splitter, Splitter):
        return splitter.params()
    if type(splitter).__module__.startswith("sklearn."):
        return _constructor_params(splitter)
    return {k: v for k, v in vars(splitter).items() if not k.startswith("_")}


def resized(splitter: Any, n_splits: int | None, quick: bool, owner: str) -> Any:
    """The splitter with `--folds` (`n_splits`) and `--quick` (one repeat) applied. A splitter
    whose splits are part of the design refuses `--folds` and is left as it is by `--quick`."""
    found = traits(splitter)
    one_repeat = {"n_repeats": 1} if quick and found.repeated else {}
    if n_splits is None:
        return type(splitter)(**{**_constructor_params(splitter), **one_repeat}) if one_repeat else splitter
    if not found.resizable:
        if quick:
            return splitter
        raise HarnessError(f"{owner}: --folds does not apply to its splitter {splitter!r}; "
                           "its splits are part of the experiment's design")
    if isinstance(splitter, Splitter):
        return splitter.resized(n_splits)
    return type(splitter)(**{**_constructor_params(splitter), "n_splits": n_splits, **one_repeat})


class TrainingSizeSplit(Splitter):
    """Splits for learning curves on generated data: training sets of growing size, each of
    its own fresh rows, all scored on the same large test set.

    The rows are laid out split by split, then the test rows: split i = (size n, repeat r),
    sizes outer and repeats inner (`size_and_repeat(i)`), trains on its own block of n rows
    and is scored on the last `n_test` rows. `rows_needed()` says how many rows the data
    must have; `load_data` generates each block as the training set it will be (e.g. from its
    own seed). No two splits share a training row, so the splits' scores are independent
    given the test set (paired tests over splits need no Nadeau–Bengio correction).
    """

    training_overlap = "none"

    def __init__(self, sizes: Sequence[int], repeats: int, n_test: int) -> None:
        sizes = [int(n) for n in sizes]
        if not sizes or min(sizes) < 1:
            raise HarnessError(f"TrainingSizeSplit: sizes must be >= 1, got {sizes}")
        if repeats < 1 or n_test < 1:
            raise HarnessError("TrainingSizeSplit: repeats and n_test must be >= 1")
        self.sizes, self.repeats, self.n_test = sizes, int(repeats), int(n_test)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return len(self.sizes) * self.repeats

    def size_and_repeat(self, split: int) -> tuple[int, int]:
        return self.sizes[split // self.repeats], split % self.repeats

    def blocks(self) -> list[tuple[int, int]]:
        """(size, repeat) of every split, in the order its rows are laid out."""
        return [self.size_and_repeat(i) for i in range(self.get_n_splits())]

    def rows_needed(self) -> int:
        return sum(self.sizes) * self.repeats + self.n_test

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if len(X) != self.rows_needed():
            raise HarnessError(
                f"TrainingSizeSplit expects {self.rows_needed()} rows ({self.repeats} blocks of each size "
                f"in {self.sizes}, then {self.n_test} test rows), got {len(X)}"
            )
        test = np.arange(len(X) - self.n_test, len(X))
        start = 0
        for n, _ in self.blocks():
            yield np.arange(start, start + n), test
            start += n

    def __repr__(self) -> str:
        return f"TrainingSizeSplit(sizes={self.sizes}, repeats={self.repeats}, n_test={self.n_test})"


class FixedSplit(Splitter):
    """One fixed split (the first `n_train` rows train, the rest are scored), repeated
    `repeats` times: each repeat has its own seed, so the spread is the training's own
    (initialization, batch order), not the data's. Every split trains on the same rows, so
    paired tests over splits need no resampling correction."""

    training_overlap = "identical"

    def __init__(self, n_train: int, repeats: int) -> None:
        if n_train < 1 or repeats < 1:
            raise HarnessError(f"FixedSplit: n_train and repeats must be >= 1, got {n_train}, {repeats}")
        self.n_train, self.repeats = int(n_train), int(repeats)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return self.repeats

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(X)
        if n <= self.n_train:
            raise HarnessError(f"FixedSplit: {n} rows leave none to score after the first {self.n_train}")
        for _ in range(self.repeats):
            yield np.arange(self.n_train), np.arange(self.n_train, n)

    def __repr__(self) -> str:
        return f"FixedSplit(train=first {self.n_train} rows, test=the rest, repeats={self.repeats})"
