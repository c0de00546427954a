"""Scores against scikit-learn's own metrics, computed independently."""
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn import metrics

from harness.scoring import task_metrics


@pytest.mark.parametrize("n_classes", [2, 4])
def test_classification_metrics_match_sklearn(n_classes):
    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes, 300)
    logits = rng.normal(size=(300, n_classes))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    proba[0] = np.eye(n_classes)[(y[0] + 1) % n_classes]  # a confident miss: clipping matters
    outputs = proba[:, 1:] if n_classes == 2 else proba  # a binary model outputs P(class 1) only
    got = task_metrics(SimpleNamespace(task="classification"), None, outputs.astype("float32"), y)
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(y, proba.argmax(axis=1)))
    clipped = np.clip(proba, 1e-15, 1.0)
    expected = metrics.log_loss(y, clipped / clipped.sum(axis=1, keepdims=True), labels=np.arange(n_classes))
    assert got["log_loss"] == pytest.approx(expected, rel=1e-6)


def test_regression_metrics_in_target_units():
    rng = np.random.default_rng(0)
    y_raw = rng.normal(50, 10, 200)
    outputs = rng.normal(size=200).astype("float32")
    fd = SimpleNamespace(to_raw=lambda v: v * 10 + 50)
    got = task_metrics(SimpleNamespace(task="regression"), fd, outputs, y_raw)
    pred = outputs.astype("float64") * 10 + 50
    assert got["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(y_raw, pred)))
    assert got["mae"] == pytest.approx(metrics.mean_absolute_error(y_raw, pred))
