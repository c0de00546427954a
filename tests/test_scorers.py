"""Scores from scikit-learn's scorer registry (or a make_scorer): computed from a model's outputs
as scikit-learn computes them, the direction taken from the scorer, and refused in one line
where the score cannot judge the task."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from harness import HarnessError
from harness.scoring import score_outputs
from harness.splits import SplitData
from harness.store import Store
from tests.conftest import TinyClassification, TinyRegression, run_fake


def _split(y_test, y_fit, n_outputs, mean=0.0, std=1.0):
    x = lambda n: np.zeros((n, 2), dtype="float32")  # noqa: E731 - the scorers never read X
    return SplitData(split=0, fit_index=np.arange(len(y_fit)), val_index=None, test_index=np.arange(len(y_test)),
                     x_fit=x(len(y_fit)), y_fit=y_fit, x_val=None, y_val=None, x_test=x(len(y_test)), y_test=y_test,
                     y_fit_raw=y_fit, y_test_raw=y_test, n_outputs=n_outputs, target_mean=mean, target_std=std)


@pytest.mark.parametrize("score, truth", [
    ("balanced_accuracy", lambda y, p: metrics.balanced_accuracy_score(y, p.argmax(axis=1))),
    ("f1_macro", lambda y, p: metrics.f1_score(y, p.argmax(axis=1), average="macro")),
    ("roc_auc_ovr", lambda y, p: metrics.roc_auc_score(y, p, multi_class="ovr")),
    ("neg_log_loss", lambda y, p: -metrics.log_loss(y, p)),
    (metrics.make_scorer(metrics.fbeta_score, beta=2, average="weighted"),
     lambda y, p: metrics.fbeta_score(y, p.argmax(axis=1), beta=2, average="weighted")),
])
def test_a_classification_scorer_is_scikit_learns_on_the_outputs(score, truth):
    rng = np.random.default_rng(0)
    y_test, y_fit = rng.integers(0, 3, 40), rng.integers(0, 3, 60)
    outputs = rng.dirichlet(np.ones(3), 100)  # float64 rows summing to one
    exp = TinyClassification().configured(score=score)
    found = score_outputs(exp, _split(y_test, y_fit, 3), outputs)
    name = exp.score_name
    assert found[f"test_{name}"] == pytest.approx(truth(y_test, outputs[:40].astype("float64")), rel=1e-6)
    assert found[f"train_{name}"] == pytest.approx(truth(y_fit, outputs[40:].astype("float64")), rel=1e-6)
    assert exp.greater_is_better and "test_accuracy" in found  # the task's own metrics stay


def test_a_regression_scorer_scores_in_the_targets_units():
    rng = np.random.default_rng(1)
    y_test, y_fit = rng.normal(100, 10, 30), rng.normal(100, 10, 50)
    outputs = rng.normal(0, 1, (80, 1)).astype("float32")  # standardized units: mean 100, sd 10
    exp = TinyRegression().configured(score="neg_median_absolute_error")
    found = score_outputs(exp, _split(y_test, y_fit, 1, mean=100.0, std=10.0), outputs)
    predicted = outputs[:30, 0].astype("float64") * 10 + 100
    assert found["test_neg_median_absolute_error"] == pytest.approx(-metrics.median_absolute_error(y_test, predicted))


def test_a_run_follows_the_scorers_direction(workdir):
    """neg_mean_absolute_error: stored as scikit-learn gives it (the harness's MAE negated),
    greater is better, the best variant the one with the smallest MAE."""
    class Scored(TinyRegression):
        name = "scored-by-sklearn"
        score = "neg_mean_absolute_error"

    run_fake([Scored()], workdir)
    with Store(workdir.db) as store:
        results = store.results(Scored.name)
    splits = results.splits
    mae = splits["metrics"].map(lambda m: m["test_mae"])
    assert np.allclose(splits["score"], -mae) and results.greater_is_better
    from harness import stats

    means = splits.groupby("variant")["score"].mean()
    assert stats.summary(results).iloc[0]["variant"] == means.idxmax() != means.idxmin()


def test_a_score_that_cannot_judge_the_task_is_one_line():
    from harness.runner.orchestrate import prepare

    cases = [
        (TinyClassification, "r2", "judges numbers, not classes"),
        (TinyRegression, "roc_auc", "does not work for regression"),
        (TinyRegression, "balanced_accuracy", "does not work for regression"),
    ]
    for cls, score, words in cases:
        with pytest.raises(HarnessError) as caught:
            prepare(cls().configured(score=score), "/nonexistent")
        assert words in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(HarnessError, match="a scikit-learn scorer's name"):
        TinyClassification().configured(score="no_such_score")
    for score in ("roc_auc_ovr", "neg_log_loss", "balanced_accuracy", "f1_macro"):  # 3 classes: these can judge them
        prepare(TinyClassification().configured(score=score), "/nonexistent")
    for score in ("neg_mean_absolute_error", "r2", "neg_root_mean_squared_error"):
        prepare(TinyRegression().configured(score=score), "/nonexistent")
