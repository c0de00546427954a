"""From a dataset to splits: input checks, splits, per-split preprocessing and seeds.

Preprocessing (the experiment's scikit-learn transformer, and the target scaler for regression)
is fitted on the rows the network trains on and only then applied to validation and test rows.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from .errors import HarnessError
from .experiment import Dataset, Experiment
from .splitters import splitter_params, traits


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

    @property
    def n_inputs(self) -> int:
        return self.x_fit.shape[1]

    def to_raw(self, y: np.ndarray) -> np.ndarray:
        """Training-unit regression outputs back to the target's own units."""
        return y * self.target_std + self.target_mean


def check_dataset(exp: Experiment, data: Dataset, splitter: Any) -> None:
    """Raise HarnessError for data the protocol cannot split or train on."""
    if data.task != exp.task:
        raise HarnessError(f"{exp.name}: dataset task {data.task!r} but experiment task {exp.task!r}")
    n_missing = int(data.y.isna().sum())
    if n_missing:
        raise HarnessError(f"{exp.name}: target {data.y.name!r} has {n_missing} missing (NaN) values")
    if data.X.shape[1] == 0:
        raise HarnessError(f"{exp.name}: dataset {data.name!r} has no feature columns")
    found = traits(splitter)
    # a repeated K-split partitions the rows once per repeat
    n_splits = splitter_params(splitter).get("n_splits") or splitter.get_n_splits(data.X, data.y)
    if found.test_sets_partition and len(data.X) < n_splits:
        raise HarnessError(f"{exp.name}: {len(data.X)} rows is fewer than the {n_splits} folds asked for")
    if exp.task == "classification":
        counts = data.y.value_counts()
        if len(counts) < 2:
            raise HarnessError(f"{exp.name}: the target has a single class ({counts.index[0]})")
        smallest = counts.idxmin()
        smallest = smallest.item() if hasattr(smallest, "item") else smallest
        # a stratified K-split puts a member of every class in each test set; a stratified
        # shuffle split needs two, one to train on and one to score
        need = n_splits if found.test_sets_partition else 2
        if found.stratified and counts.min() < need:
            raise HarnessError(
                f"{exp.name}: class {smallest!r} has {counts.min()} members, fewer than the "
                f"{need} that {type(splitter).__name__} needs"
            )
    elif not np.isfinite(data.y.to_numpy(dtype=float)).all():
        raise HarnessError(f"{exp.name}: regression target has infinite values")


def make_splits(exp: Experiment, data: Dataset, splitter: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    y = data.y.to_numpy()
    return [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(data.X, y)]


def _carve_validation(exp: Experiment, train_index: np.ndarray, y: np.ndarray, seed: int):
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
    exp: Experiment, data: Dataset, split: int, train_index: np.ndarray, test_index: np.ndarray
) -> SplitData:
    """Preprocess one split: every transformer is fitted on the training rows only."""
    seed = derive_seed(exp.seed, split, "validation-split")
    y_all = data.y.to_numpy()
    if exp.uses_validation_split:
        fit_index, val_index = _carve_validation(exp, train_index, y_all, seed)
    else:
        fit_index, val_index = np.asarray(train_index), None

    transformer = clone(exp.preprocessor(data.X))
    x_fit = _as_float32(transformer.fit_transform(data.X.iloc[fit_index]))
    x_test = _as_float32(transformer.transform(data.X.iloc[test_index]))
    x_val = None if val_index is None else _as_float32(transformer.transform(data.X.iloc[val_index]))

    if exp.task == "classification":
        classes = data.classes
        codes = np.searchsorted(classes, y_all).astype("int32")
        y_fit_raw, y_test_raw = codes[fit_index], codes[test_index]
        y_fit, y_test = y_fit_raw, y_test_raw
        y_val = None if val_index is None else codes[val_index]
        n_outputs, mean, std = len(classes), 0.0, 1.0
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
    )


def _as_float32(values: Any) -> np.ndarray:
    if hasattr(values, "toarray"):
        values = values.toarray()
    if isinstance(values, pd.DataFrame):
        values = values.to_numpy()
    try:
        return np.asarray(values, dtype="float32")
    except (TypeError, ValueError) as exc:
        raise HarnessError(f"preprocessed features are not numeric ({exc}); one-hot encode text columns") from None
