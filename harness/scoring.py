"""Scores of a trained model on one split (a Keras network, or a reference model's outputs):
the experiment's score plus the task's metrics."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from .core import REGRESSION_SCORERS
from .errors import HarnessError, one_line
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


class _Outputs(BaseEstimator):
    """A fitted model as a scikit-learn scorer sees one: its predictions are a network's (or a
    reference model's) outputs for the rows scored, whatever X it is given."""

    def __init__(self, outputs: np.ndarray) -> None:
        self.outputs = outputs


class _Classifier(ClassifierMixin, _Outputs):
    def __init__(self, outputs: np.ndarray, n_classes: int) -> None:
        super().__init__(outputs)
        self.classes_ = np.arange(n_classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.outputs

    def decision_function(self, X: Any) -> np.ndarray:
        return self.outputs[:, 1] if self.outputs.shape[1] == 2 else self.outputs

    def predict(self, X: Any) -> np.ndarray:
        return self.outputs.argmax(axis=1)


class _Regressor(RegressorMixin, _Outputs):
    def predict(self, X: Any) -> np.ndarray:
        return self.outputs


def scorer_value(exp: Experiment, outputs: np.ndarray, y_raw: np.ndarray, n_classes: int) -> float:
    """The experiment's scikit-learn scorer on a model's outputs: class probabilities
    (classification, `n_classes` of them) or predictions in the target's units (regression)."""
    model = _Classifier(outputs, n_classes) if exp.task == "classification" else _Regressor(outputs)
    return float(exp.scorer(model, np.zeros((len(y_raw), 1)), y_raw))


def check_score(exp: Experiment, n_classes: int) -> None:
    """Refuse, in one line, a scikit-learn score that cannot judge the experiment's task: tried
    on made-up outputs of the task before anything trains."""
    if exp.scorer is None:
        return
    name = exp.score_name
    if exp.task == "classification" and name.startswith(REGRESSION_SCORERS):
        raise HarnessError(f"{exp.name}: score {name!r} judges numbers, not classes; choose a classification "
                           "score (e.g. balanced_accuracy, f1_macro, roc_auc)")
    rows = 4 * max(n_classes, 2)
    y = np.arange(rows) % max(n_classes, 2) if exp.task == "classification" else np.linspace(1.0, 2.0, rows)
    if exp.task == "classification":  # probabilities: most on the true class, every row summing to one
        outputs = np.eye(max(n_classes, 2))[y] + 0.1
        outputs /= outputs.sum(axis=1, keepdims=True)
    else:
        outputs = y + 0.1
    try:
        value = scorer_value(exp, outputs.astype("float64"), y, max(n_classes, 2))
    except Exception as exc:  # noqa: BLE001 - a scorer that does not fit the task
        raise HarnessError(f"{exp.name}: score {name!r} does not work for {exp.task}: {one_line(exc)}") from None
    if not np.isfinite(value):
        raise HarnessError(f"{exp.name}: score {name!r} gives {value} for {exp.task}")


def task_metrics(exp: Experiment, fd: SplitData, outputs: np.ndarray, y_raw: np.ndarray) -> dict[str, float]:
    """accuracy and log loss (classification) or rmse and mae (regression); and the experiment's
    score where it is a scikit-learn scorer."""
    found = _task_metrics(exp, fd, outputs, y_raw)
    if getattr(exp, "scorer", None) is not None:
        if exp.task == "classification":  # probabilities as for log_loss: clipped, rows summing to one
            proba = np.clip(_probabilities(outputs.astype("float64")), 1e-15, 1.0)
            proba /= proba.sum(axis=1, keepdims=True)
            found[exp.score_name] = scorer_value(exp, proba, np.asarray(y_raw, dtype=int), max(fd.n_outputs, 2))
        else:
            found[exp.score_name] = scorer_value(exp, fd.to_raw(outputs.reshape(-1).astype("float64")), y_raw, 0)
    return found


def _task_metrics(exp: Experiment, fd: SplitData, outputs: np.ndarray, y_raw: np.ndarray) -> dict[str, float]:
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
