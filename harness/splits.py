"""From a dataset to splits: input checks, splits, per-split preprocessing and seeds.

Preprocessing (the experiment's scikit-learn transformer, and the target scaler for regression)
is fitted on the rows the network trains on and only then applied to validation and test rows.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from .errors import HarnessError, experiment_label, one_line
from .core import Dataset
from .experiment import Experiment
from .losses import row_weights
from .splitters import count_splits, split_rows, splitter_params, traits


def derive_seed(*parts: Any) -> int:
    """A 31-bit seed from any parts (stable across runs and platforms)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclass
class SplitData:
    """The arrays of one split, preprocessed with transformers fitted on `fit_index` rows only.

    `y_*` are in training units (class indices, or the standardized regression target);
    `y_*_raw` are in the units the score is computed in.
    """

    split: int
    fit_index: np.ndarray
    val_index: np.ndarray | None
    test_index: np.ndarray
    x_fit: np.ndarray
    y_fit: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray
    y_fit_raw: np.ndarray
    y_test_raw: np.ndarray
    n_outputs: int
    target_mean: float = 0.0
    target_std: float = 1.0
    #: each fit row's weight in the training loss (class and sample weights); None: all 1
    w_fit: np.ndarray | None = None

    @property
    def n_inputs(self) -> int:
        return self.x_fit.shape[1]

    def steps_per_epoch(self, batch_size: int) -> int:
        """Optimizer steps per epoch over the fit rows, the last batch short (as Keras' fit)."""
        return math.ceil(len(self.fit_index) / batch_size)

    def to_raw(self, y: np.ndarray) -> np.ndarray:
        """Training-unit regression outputs back to the target's own units."""
        return y * self.target_std + self.target_mean


def check_dataset(exp: Experiment, data: Any, splitter: Any) -> None:
    """Raise HarnessError, naming the problem, for data the protocol cannot split or train on."""
    if not isinstance(data, Dataset):
        raise HarnessError(f"{exp.name}: load_data must return a harness.Dataset, got {type(data).__name__}")
    if data.task != exp.task:
        raise HarnessError(f"{exp.name}: dataset task {data.task!r} but experiment task {exp.task!r}")
    if len(data.X) == 0:
        raise HarnessError(f"{exp.name}: dataset {data.name!r} has no rows")
    if data.X.shape[1] == 0:
        raise HarnessError(f"{exp.name}: dataset {data.name!r} has no feature columns")
    check_features(exp.name, data.X)
    check_target(exp.name, exp.task, data.y)
    found = traits(splitter)
    groups = data.group_codes
    name = type(splitter).__name__
    if found.grouped and groups is None:
        raise HarnessError(f"{exp.name}: the splitter {name} splits by groups, but dataset {data.name!r} has none; "
                           "give Dataset(..., groups=...) one value per row")
    if groups is not None and not found.grouped:
        raise HarnessError(f"{exp.name}: dataset {data.name!r} has groups, but the splitter {name} ignores them, so a "
                           "group's rows could be on both sides of a split; use a group splitter (GroupKFold, "
                           "StratifiedGroupKFold, LeaveOneGroupOut, GroupShuffleSplit) or drop the groups")
    # a repeated K-split partitions the rows once per repeat
    try:
        n_splits = splitter_params(splitter).get("n_splits") or count_splits(splitter, data.X, data.y, groups)
    except Exception as exc:  # noqa: BLE001 - a user's splitter
        raise HarnessError(f"{exp.name}: the splitter {splitter!r} cannot count its splits: {one_line(exc)}") from None
    if found.test_sets_partition and len(data.X) < n_splits:
        raise HarnessError(f"{exp.name}: {len(data.X)} rows is fewer than the {n_splits} folds asked for")
    if found.grouped and found.test_sets_partition and len(np.unique(groups)) < n_splits:
        raise HarnessError(f"{exp.name}: {len(np.unique(groups))} groups is fewer than the {n_splits} folds asked for")
    if exp.task == "classification":
        counts = data.y.value_counts()
        smallest = _plain(counts.idxmin())
        # a stratified K-split puts a member of every class in each test set; a stratified
        # shuffle split needs two, one to train on and one to score
        need = n_splits if found.test_sets_partition else 2
        if found.stratified and counts.min() < need:
            raise HarnessError(
                f"{exp.name}: class {smallest!r} has {counts.min()} members, fewer than the "
                f"{need} that {type(splitter).__name__} needs"
            )


def check_features(owner: str, X: pd.DataFrame) -> None:
    """Column names unique and non-empty; no column all missing, infinite, mixing numbers with
    text, or holding values that are not numbers, text or booleans."""
    names = [str(c) for c in X.columns]
    if any(not n.strip() for n in names):
        raise HarnessError(f"{owner}: feature column {names.index(next(n for n in names if not n.strip()))} has an empty name")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise HarnessError(f"{owner}: duplicate feature column names {twice}")
    for position, name in enumerate(X.columns):
        column = X.iloc[:, position]
        if column.isna().all():
            raise HarnessError(f"{owner}: feature column {name!r} has no values (all missing)")
        if pd.api.types.is_bool_dtype(column):
            continue
        if pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype="float64", na_value=np.nan)
            if np.isinf(values).any():
                row = X.index[int(np.flatnonzero(np.isinf(values))[0])]
                raise HarnessError(f"{owner}: feature column {name!r} has infinite values (e.g. in row {row!r})")
            continue
        present = column.dropna()
        odd = next((v for v in present if not isinstance(v, (str, bool, int, float, np.number, np.bool_))), None)
        if odd is not None:
            raise HarnessError(f"{owner}: feature column {name!r} holds {type(odd).__name__} values; "
                               "features must be numbers, text or booleans")
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.notna().mean() >= 0.5 and numbers.isna().any():
            row = present.index[int(np.flatnonzero(numbers.isna().to_numpy())[0])]
            raise HarnessError(f"{owner}: feature column {name!r} mixes numbers and text "
                               f"(e.g. {present[row]!r} in row {row!r}); fix the data or make it all text")


def check_target(owner: str, task: str, y: pd.Series) -> None:
    """No missing values; classification: at least two classes of comparable labels;
    regression: finite numbers that are not all equal."""
    n_missing = int(y.isna().sum())
    if n_missing:
        raise HarnessError(f"{owner}: target {y.name!r} has {n_missing} missing (NaN) values")
    if task == "classification":
        try:
            classes = np.unique(y.to_numpy())
        except TypeError:
            kinds = sorted({type(v).__name__ for v in y})
            raise HarnessError(f"{owner}: the target's labels mix types ({', '.join(kinds)}); "
                               "make them all numbers or all text") from None
        if len(classes) < 2:
            raise HarnessError(f"{owner}: the target has a single class ({_plain(classes[0])!r})")
        return
    try:
        values = y.to_numpy(dtype="float64")
    except (TypeError, ValueError):
        example = next((v for v in y if pd.isna(pd.to_numeric(pd.Series([v]), errors="coerce")[0])), None)
        raise HarnessError(f"{owner}: regression target {y.name!r} is not numeric (e.g. {example!r})") from None
    if not np.isfinite(values).all():
        raise HarnessError(f"{owner}: regression target has infinite values")
    if np.ptp(values) == 0:
        raise HarnessError(f"{owner}: the regression target is constant ({float(values[0])!r}): there is nothing to learn")


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (so that a message reads 3, not np.int64(3))."""
    return value.item() if isinstance(value, np.generic) else value


def make_splits(exp: Experiment, data: Dataset, splitter: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """The splitter's (train, test) row positions, checked: at least one split; each a set of
    valid row positions, neither empty, with no row both trained on and scored."""
    y = data.y.to_numpy()
    n = len(data.X)
    groups = data.group_codes
    try:
        divisions = [(np.asarray(tr), np.asarray(te)) for tr, te in split_rows(splitter, data.X, y, groups)]
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - a user's splitter
        raise HarnessError(f"{exp.name}: the splitter {splitter!r} failed: {one_line(exc)}") from None
    if not divisions:
        raise HarnessError(f"{exp.name}: the splitter {splitter!r} made no splits")
    for i, (train, test) in enumerate(divisions):
        for part, rows in (("training", train), ("test", test)):
            if rows.size == 0:
                raise HarnessError(f"{exp.name}: split {i} from {splitter!r} has an empty {part} set")
            if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
                raise HarnessError(f"{exp.name}: split {i} from {splitter!r}: {part} rows must be a 1-D array of "
                                   f"integer row positions, got {rows.dtype} of shape {rows.shape}")
            if rows.min() < 0 or rows.max() >= n:
                raise HarnessError(f"{exp.name}: split {i} from {splitter!r} names {part} row {int(rows.max() if rows.max() >= n else rows.min())}, "
                                   f"outside the data's {n} rows")
        overlap = np.intersect1d(train, test)
        if overlap.size:
            raise HarnessError(f"{exp.name}: split {i} from {splitter!r} scores {overlap.size} rows it also trains on "
                               f"(e.g. row {int(overlap[0])})")
        shared = np.intersect1d(groups[train], groups[test]) if groups is not None else []
        if len(shared):
            example = data.groups.iloc[int(np.flatnonzero(groups == shared[0])[0])]
            raise HarnessError(f"{exp.name}: split {i} from {splitter!r} has {len(shared)} groups on both sides "
                               f"(e.g. group {example!r})")
    return divisions


def _carve_validation(exp: Experiment, train_index: np.ndarray, y: np.ndarray, seed: int,
                      groups: np.ndarray | None = None, ordered: bool = False):
    """The training rows cut into fit and validation rows (a `validation_fraction` of them):
    the latest rows when the splits are in time order, whole groups when the data has groups,
    else a seeded draw (stratified where every class can spare a row)."""
    train_index = np.asarray(train_index)
    if ordered:  # the validation rows come after every fit row, before the test rows
        ordered_rows = np.sort(train_index)
        n_val = int(np.ceil(exp.validation_fraction * len(ordered_rows)))
        if n_val >= len(ordered_rows):
            raise ValueError("no rows are left to fit on")
        return ordered_rows[:-n_val], ordered_rows[-n_val:]
    if groups is not None:
        from sklearn.model_selection import GroupShuffleSplit

        if len(np.unique(groups[train_index])) < 2:
            raise ValueError("its training rows hold a single group, which cannot be split into fit and validation")
        carve = GroupShuffleSplit(n_splits=1, test_size=exp.validation_fraction, random_state=seed)
        fit, val = next(carve.split(train_index, groups=groups[train_index]))
        return np.sort(train_index[fit]), np.sort(train_index[val])
    stratify = None
    if exp.task == "classification":
        _, counts = np.unique(y[train_index], return_counts=True)
        n_val = int(np.ceil(exp.validation_fraction * len(train_index)))
        if counts.min() >= 2 and n_val >= len(counts):
            stratify = y[train_index]
    fit_index, val_index = train_test_split(
        train_index, test_size=exp.validation_fraction, random_state=seed, stratify=stratify
    )
    return np.sort(fit_index), np.sort(val_index)


def prepare_split(
    exp: Experiment, data: Dataset, split: Any, train_index: np.ndarray, test_index: np.ndarray, ordered: bool = False
) -> SplitData:
    """Preprocess one split: every transformer is fitted on the training rows only. The rows
    held out for validation respect the data's groups and, where the splits are in time order
    (`ordered`), time (`_carve_validation`)."""
    seed = derive_seed(exp.seed, split, "validation-split")
    y_all = data.y.to_numpy()
    if exp.uses_validation_split:
        try:
            fit_index, val_index = _carve_validation(exp, train_index, y_all, seed, data.group_codes, ordered)
        except ValueError as exc:
            raise HarnessError(f"{exp.name}: split {split} has {len(train_index)} training rows, too few to hold "
                               f"out a validation fraction of {exp.validation_fraction} ({one_line(exc)})") from None
    else:
        fit_index, val_index = np.asarray(train_index), None

    x_fit, x_val, x_test = _features(exp, data, split, fit_index, val_index, test_index)

    if exp.task == "classification":
        classes = data.classes
        codes = np.searchsorted(classes, y_all).astype("int32")
        y_fit_raw, y_test_raw = codes[fit_index], codes[test_index]
        y_fit, y_test = y_fit_raw, y_test_raw
        y_val = None if val_index is None else codes[val_index]
        n_outputs, mean, std = len(classes), 0.0, 1.0
        w_fit = row_weights(exp.class_weight, classes, y_fit, _sample_weights(data, fit_index))
    else:
        target = y_all.astype("float64")
        y_fit_raw, y_test_raw = target[fit_index], target[test_index]
        mean, std = 0.0, 1.0
        if exp.standardize_target:
            mean, std = float(y_fit_raw.mean()), float(y_fit_raw.std()) or 1.0
        scale = lambda v: ((v - mean) / std).astype("float32")  # noqa: E731
        y_fit, y_test = scale(y_fit_raw), scale(y_test_raw)
        y_val = None if val_index is None else scale(target[val_index])
        n_outputs = 1
        w_fit = row_weights(None, np.zeros(0), np.zeros(len(fit_index), int), _sample_weights(data, fit_index))

    if (exp.protocol == "heaton" and exp.patience is not None) or exp.test_curve:
        x_val, y_val, val_index = x_test, y_test, test_index
    return SplitData(
        split=split,
        fit_index=fit_index,
        val_index=val_index,
        test_index=np.asarray(test_index),
        x_fit=x_fit,
        y_fit=y_fit,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        y_fit_raw=y_fit_raw,
        y_test_raw=y_test_raw,
        n_outputs=n_outputs,
        target_mean=mean,
        target_std=std,
        w_fit=w_fit,
    )


def _sample_weights(data: Dataset, rows: np.ndarray) -> np.ndarray | None:
    return None if data.sample_weight is None else data.sample_weight.to_numpy("float64")[rows]


def _features(exp: Experiment, data: Dataset, split: int, fit_index: np.ndarray, val_index: np.ndarray | None,
              test_index: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The experiment's preprocessor fitted on the fit rows, applied to fit, validation and test
    rows; its failures, outputs of the wrong shape and non-finite outputs as one-line errors
    naming the experiment's file."""
    owner = experiment_label(exp)
    try:
        made = exp.preprocessor(data.X)
    except Exception as exc:  # noqa: BLE001 - the user's hook
        raise HarnessError(f"{owner}: preprocessor() failed: {exc if isinstance(exc, HarnessError) else one_line(exc)}") from None
    if not all(callable(getattr(made, method, None)) for method in ("fit_transform", "transform", "get_params")):
        raise HarnessError(f"{owner}: preprocessor() returned {type(made).__name__}; it must return an unfitted "
                           "scikit-learn transformer (fit_transform, transform, get_params), e.g. StandardScaler() "
                           "or a ColumnTransformer")
    try:
        transformer = clone(made)
        x_fit = _as_float32(transformer.fit_transform(data.X.iloc[fit_index]))
        x_test = _as_float32(transformer.transform(data.X.iloc[test_index]))
        x_val = None if val_index is None else _as_float32(transformer.transform(data.X.iloc[val_index]))
    except Exception as exc:  # noqa: BLE001 - the experiment's preprocessor on the user's data
        why = exc if isinstance(exc, HarnessError) else one_line(exc)
        raise HarnessError(f"{owner}: split {split}: the preprocessor failed: {why}") from None
    for part, x, rows in (("training", x_fit, fit_index), ("validation", x_val, val_index), ("test", x_test, test_index)):
        if x is not None and (x.ndim != 2 or len(x) != len(rows) or x.shape[1] == 0 or x.shape[1] != x_fit.shape[1]):
            raise HarnessError(f"{owner}: split {split}: the preprocessor turned {len(rows)} {part} rows into an array "
                               f"of shape {x.shape}; it must give a 2-D array of one row per row it is given, with "
                               "the same columns (at least one) for the training, validation and test rows")
    if not (np.isfinite(x_fit).all() and np.isfinite(x_test).all()):
        raise HarnessError(f"{exp.name}: split {split}: the preprocessed features hold NaN or infinite values; "
                           "impute or drop them in the preprocessor")
    return x_fit, x_val, x_test


def _as_float32(values: Any) -> np.ndarray:
    if hasattr(values, "toarray"):
        values = values.toarray()
    if isinstance(values, pd.DataFrame):
        values = values.to_numpy()
    try:
        return np.asarray(values, dtype="float32")
    except (TypeError, ValueError) as exc:
        raise HarnessError(f"preprocessed features are not numeric ({exc}); one-hot encode text columns") from None
