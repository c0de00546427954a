"""The data of one experiment: features, target and task."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import HarnessError
from .tasks import TASKS


@dataclass
class Dataset:
    """Features, target and task of one experiment. Rows keep their original index."""

    name: str
    X: pd.DataFrame
    y: pd.Series
    task: str

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

    @property
    def classes(self) -> np.ndarray:
        """Sorted class labels (classification only)."""
        return np.unique(self.y.to_numpy())
