"""The tasks an experiment can have, the scores each is judged by, and what counts as a number."""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

TASKS = ("classification", "regression")
#: score name -> True when greater is better
SCORES: dict[str, bool] = {"accuracy": True, "log_loss": False, "rmse": False, "mae": False}
DEFAULT_SCORE = {"classification": "accuracy", "regression": "rmse"}

#: scikit-learn scorers that judge numbers, not classes: refused for classification (on class
#: labels they would run, and mean nothing)
REGRESSION_SCORERS = ("r2", "explained_variance", "max_error", "neg_max_error", "neg_mean_absolute",
                      "neg_mean_squared", "neg_root_mean", "neg_median", "neg_mean_poisson", "neg_mean_gamma", "d2_")


def is_score(value: Any) -> bool:
    """A score an experiment can name: None (the task's default), one of SCORES, a scikit-learn
    scorer's name (`sklearn.metrics.get_scorer_names()`) or a scorer (`make_scorer(...)`)."""
    if value is None:
        return True
    if isinstance(value, str):
        from sklearn.metrics import get_scorer_names

        return value in SCORES or value in get_scorer_names()
    return callable(value) and hasattr(value, "_score_func") and hasattr(value, "_sign")


def score_label(score: Any) -> str:
    """What pages and metrics call a score: its name, or a scorer's repr on one line."""
    return score if isinstance(score, str) else re.sub(r"\s+", " ", repr(score))


def is_int(value: Any) -> bool:
    """An integer, and not a boolean."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """A finite real number, and not a boolean."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)) and math.isfinite(value))
