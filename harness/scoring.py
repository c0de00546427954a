"""Scores of a trained model on one split (a Keras network, or a reference model's outputs):
the experiment's score plus the task's metrics."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics

from .experiment import Experiment
from .splits import SplitData


class FoldFailed(Exception):
    """A split that could not produce a score (NaN loss, NaN predictions, a model error)."""


def predict(model: Any, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Inference-mode outputs, in chunks, without `predict`'s per-call overhead."""
    parts = [np.asarray(model(x[i : i + chunk], training=False)) for i in range(0, len(x), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, 1), dtype="float32")


def _probabilities(outputs: np.ndarray) -> np.ndarray:
    if outputs.ndim == 1 or outputs.shape[1] == 1:
        p1 = outputs.reshape(-1)
        return np.column_stack([1 - p1, p1])
    return outputs


def task_metrics(exp: Experiment, fd: SplitData, outputs: np.ndarray, y_raw: np.ndarray) -> dict[str, float]:
    """accuracy and log loss (classification) or rmse and mae (regression)."""
    if not np.isfinite(outputs).all():
        raise FoldFailed("the model's predictions are NaN or infinite")
    if exp.task == "classification":
        proba = _probabilities(outputs.astype("float64"))
        proba = np.clip(proba, 1e-15, 1.0)
        proba /= proba.sum(axis=1, keepdims=True)
        return {
            "accuracy": float(np.mean(proba.argmax(axis=1) == y_raw)),
            # probabilities clipped to [1e-15, 1] and renormalised, the convention of scikit-learn's
            # log_loss before 1.5 (eps=1e-15; it now clips at the dtype's eps) and of Keras'
            # epsilon-clipped cross-entropy in spirit; the mean is scikit-learn's log_loss on these
            # probabilities (its input checks cost more than the sum; tests/test_scoring.py checks
            # that the two agree)
            "log_loss": float(-np.mean(np.log(proba[np.arange(len(y_raw)), np.asarray(y_raw, dtype=int)]))),
        }
    pred = fd.to_raw(outputs.reshape(-1).astype("float64"))
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_raw, pred))),
        "mae": float(metrics.mean_absolute_error(y_raw, pred)),
    }


def scored_rows(fd: SplitData) -> np.ndarray:
    """The rows every model of a split is scored on, in one array: the test rows, then the fit
    rows (the training score). `score_outputs` takes the outputs for these rows."""
    return np.concatenate([fd.x_test, fd.x_fit])


def score_outputs(exp: Experiment, fd: SplitData, outputs: np.ndarray) -> dict[str, float]:
    """`test_<metric>` and `train_<metric>` for every metric of the task, from a model's outputs
    for `scored_rows(fd)`: a Keras network's (`evaluate`) or a reference model's (the
    runner), in training units (probabilities, or the standardized regression target)."""
    n_test = len(fd.x_test)
    test = task_metrics(exp, fd, outputs[:n_test], fd.y_test_raw)
    train = task_metrics(exp, fd, outputs[n_test:], fd.y_fit_raw)
    return {**{f"test_{k}": v for k, v in test.items()}, **{f"train_{k}": v for k, v in train.items()}}


def evaluate(exp: Experiment, model: Any, fd: SplitData) -> dict[str, float]:
    """`test_<metric>` and `train_<metric>` for every metric of the task."""
    return score_outputs(exp, fd, predict(model, scored_rows(fd)))  # one call: each costs ~10 ms
