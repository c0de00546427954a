"""The tasks an experiment can have, the scores each is judged by, and what counts as a number."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

TASKS = ("classification", "regression")
#: score name -> True when greater is better
SCORES: dict[str, bool] = {"accuracy": True, "log_loss": False, "rmse": False, "mae": False}
DEFAULT_SCORE = {"classification": "accuracy", "regression": "rmse"}


def is_int(value: Any) -> bool:
    """An integer, and not a boolean."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """A finite real number, and not a boolean."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)) and math.isfinite(value))
