"""The data of one experiment: features, target and task."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..errors import HarnessError
from .tasks import TASKS


@dataclass
class Dataset:
    """Features, target and task of one experiment. Rows keep their original index.

    `groups` (optional, one value per row: a patient, a subject, a site; or the name of a
    column of X, which then leaves the features) says which rows belong together: every split then keeps a group's rows on one side (the splitter must be a group
    splitter, e.g. GroupKFold; the default splitter becomes one), and so do the validation rows
    carved for early stopping and the inner splits of tuned variants.

    `sample_weight` (optional, one finite number >= 0 per row, or the name of a numeric column
    of X, which then leaves the features) weighs each row's training loss, as Keras'
    `fit(sample_weight=...)` does; validation losses and scores stay unweighted."""

    name: str
    X: pd.DataFrame
    y: pd.Series
    task: str
    groups: pd.Series | None = None
    sample_weight: pd.Series | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise HarnessError(f"dataset {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
        if not isinstance(self.X, pd.DataFrame):
            self.X = pd.DataFrame(np.asarray(self.X)).add_prefix("x")
        if not isinstance(self.y, pd.Series):
            self.y = pd.Series(np.asarray(self.y), index=self.X.index, name="target")
        if len(self.X) != len(self.y):
            raise HarnessError(
                f"dataset {self.name!r}: {len(self.X)} feature rows but {len(self.y)} targets"
            )
        self.X.columns = [str(c) for c in self.X.columns]
        if self.groups is not None:
            self.groups = self._per_row(self.groups, "groups")
            missing = int(self.groups.isna().sum())
            if missing:
                raise HarnessError(f"dataset {self.name!r}: {missing} rows have no group (missing values in the groups)")
        if self.sample_weight is not None:
            self.sample_weight = self._checked_weights(self._per_row(self.sample_weight, "sample_weight"))

    def _per_row(self, given: object, what: str) -> pd.Series:
        """One value per row, given as values or as the name of a column of X (which is then
        taken out of the features)."""
        if isinstance(given, str):
            if given not in self.X.columns:
                raise HarnessError(f"dataset {self.name!r}: {what}={given!r} is not a column of the features "
                                   f"(columns: {', '.join(map(str, self.X.columns[:8]))}{', …' if self.X.shape[1] > 8 else ''})")
            column = self.X[given]
            self.X = self.X.drop(columns=[given])
            given = column
        values = given.to_numpy() if isinstance(given, pd.Series) else np.asarray(given, dtype=object)
        if values.ndim != 1 or len(values) != len(self.X):
            raise HarnessError(f"dataset {self.name!r}: {what} must give one value per row: "
                               f"{len(self.X)} rows but {what} of shape {values.shape}")
        return pd.Series(values, index=self.X.index, name=getattr(given, "name", None) or what)

    def _checked_weights(self, weights: pd.Series) -> pd.Series:
        numbers = pd.to_numeric(weights, errors="coerce").astype("float64")
        bad = int((~np.isfinite(numbers) | (numbers < 0)).sum())
        if bad:
            raise HarnessError(f"dataset {self.name!r}: {bad} sample weights are not finite numbers >= 0 "
                               f"(e.g. {weights[~np.isfinite(numbers) | (numbers < 0)].iloc[0]!r})")
        if not numbers.sum() > 0:
            raise HarnessError(f"dataset {self.name!r}: the sample weights are all 0")
        return numbers.rename(weights.name)

    @cached_property
    def group_codes(self) -> np.ndarray | None:
        """The groups as integer codes (None without groups): what splitters receive; computed
        once (every split of a run asks for them)."""
        if self.groups is None:
            return None
        return pd.factorize(self.groups.astype(str))[0]

    @property
    def classes(self) -> np.ndarray:
        """Sorted class labels (classification only)."""
        return np.unique(self.y.to_numpy())
