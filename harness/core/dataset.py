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
    carved for early stopping and the inner splits of tuned variants."""

    name: str
    X: pd.DataFrame
    y: pd.Series
    task: str
    groups: pd.Series | None = None

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
            self.groups = self._checked_groups(self.groups)

    def _checked_groups(self, groups: object) -> pd.Series:
        if isinstance(groups, str):  # a column of X names them: it is taken out of the features
            if groups not in self.X.columns:
                raise HarnessError(f"dataset {self.name!r}: groups={groups!r} is not a column of the features "
                                   f"(columns: {', '.join(map(str, self.X.columns[:8]))}{', …' if self.X.shape[1] > 8 else ''})")
            column = self.X[groups]
            self.X = self.X.drop(columns=[groups])
            groups = column
        values = groups.to_numpy() if isinstance(groups, pd.Series) else np.asarray(groups, dtype=object)
        if values.ndim != 1 or len(values) != len(self.X):
            raise HarnessError(f"dataset {self.name!r}: groups must give one value per row: "
                               f"{len(self.X)} rows but groups of shape {values.shape}")
        series = pd.Series(values, index=self.X.index, name=getattr(groups, "name", None) or "groups")
        missing = int(series.isna().sum())
        if missing:
            raise HarnessError(f"dataset {self.name!r}: {missing} rows have no group (missing values in the groups)")
        return series

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
