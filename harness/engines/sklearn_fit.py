"""The scikit-learn engine: an experiment's reference models (`Experiment.reference_models`), each cloned,
fitted and scored on the same preprocessed splits as the networks, one job per (reference model, split).

Scored by the same code as the networks (`scoring.score_outputs`), so a reference model's row reads
like a variant's; its record has no epochs and no weights.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np

from ..core import FAILED, OK, REFERENCE, Emit, SplitRecord
from ..errors import HarnessError, experiment_label, one_line
from ..experiment import Experiment
from ..jobs import Job
from ..scoring import FoldFailed, score_outputs, scored_rows
from ..splits import SplitData, derive_seed
from .base import OneJobPerTask, Splits, make_record


def check_reference_models(exp: Experiment) -> dict[str, Any]:
    """`exp.reference_models()`, checked before anything trains: names are non-empty strings that no
    variant uses, values are scikit-learn estimators (fit, predict, clonable) of the task's kind."""
    from sklearn.base import clone, is_classifier, is_regressor

    owner = f"{experiment_label(exp)}: reference_models()"
    try:
        made = exp.reference_models()
    except HarnessError:
        raise
    except Exception as exc:  # the user's code: report it in one line
        raise HarnessError(f"{owner} failed: {one_line(exc)}") from None
    if made is not None and not isinstance(made, Mapping):
        raise HarnessError(f"{owner} returned {type(made).__name__}; it must return a dict of name -> unfitted "
                           "scikit-learn estimator ({} for none)")
    references = dict(made or {})
    variants = {v.name for v in exp.variants}
    for name, estimator in references.items():
        if not isinstance(name, str) or not name.strip():
            raise HarnessError(f"{owner}: reference model names must be non-empty strings, got {name!r}")
        if name in variants:
            raise HarnessError(f"{owner}: reference model {name!r} has the name of a variant; give it another name")
        if not (callable(getattr(estimator, "fit", None)) and callable(getattr(estimator, "predict", None))):
            raise HarnessError(f"{owner}: reference model {name!r} is not a scikit-learn estimator (no fit/predict): {estimator!r}")
        try:
            clone(estimator)
        except Exception as exc:  # noqa: BLE001 - any reason clone refuses it
            raise HarnessError(f"{owner}: reference model {name!r} cannot be cloned: {one_line(exc)}") from None
        wrong = is_classifier(estimator) if exp.task == "regression" else is_regressor(estimator)
        if wrong:
            kind = "classifier" if exp.task == "regression" else "regressor"
            raise HarnessError(f"{owner}: reference model {name!r} is a {kind} but the task is {exp.task}")
    return references


def reference_training_rows(exp: Experiment, fd: SplitData) -> tuple[np.ndarray, np.ndarray]:
    """A reference model's training rows: the split's fit rows plus the validation rows carved out of
    the training split, if any (reference models do not stop early, so they get the whole training
    split); in training units. Validation rows that are scored rows (protocol 'heaton') are
    left out."""
    x, y = [fd.x_fit], [fd.y_fit]
    carved = fd.x_val is not None and fd.val_index is not None
    if carved and not np.isin(fd.val_index, fd.test_index).any():
        x.append(fd.x_val)
        y.append(fd.y_val)
    target = np.concatenate(y)
    return np.concatenate(x).astype("float64"), target.astype("float64" if exp.task == "regression" else "int64")


def reference_outputs(exp: Experiment, estimator: Any, x: np.ndarray, n_outputs: int) -> tuple[np.ndarray, bool]:
    """A fitted estimator's outputs in the networks' form: the prediction in training units
    (regression) or one probability column per class. Returns (outputs, has_probabilities): a
    classifier without `predict_proba` gives one-hot predictions."""
    if exp.task == "regression":
        return np.asarray(estimator.predict(x), dtype="float64").reshape(-1), True
    classes = np.asarray(estimator.classes_).astype(int)
    outputs = np.zeros((len(x), n_outputs))
    if hasattr(estimator, "predict_proba"):
        outputs[:, classes] = estimator.predict_proba(x)
        return outputs, True
    outputs[np.arange(len(x)), np.asarray(estimator.predict(x)).astype(int)] = 1.0
    return outputs, False


def fit_reference(exp: Experiment, dataset: str, job: Job, fd: SplitData) -> SplitRecord:
    """Clone, fit and score one reference model on one split, as a SplitRecord (failed, with the reason,
    when the estimator raises). Scored exactly as the networks are (`score_outputs`): on the
    test rows and, for the training score, the fit rows, in the target's own units. Every
    `random_state` left at None, nested ones included (a step of a pipeline), gets a seed
    derived from the job's, and NumPy's global generator is seeded too, so a fit gives the
    same result in any process whatever ran there before."""
    from sklearn.base import clone

    metrics: dict[str, float] = {}
    failure = None
    start = time.perf_counter()
    try:
        model = clone(job.estimator)
        unseeded = [name for name, value in model.get_params(deep=True).items()
                    if (name == "random_state" or name.endswith("__random_state")) and value is None]
        model.set_params(**{name: job.seed if name == "random_state" else derive_seed(job.seed, name)
                            for name in unseeded})
        np.random.seed(job.seed)
        x, y = reference_training_rows(exp, fd)
        model.fit(x, y)
        outputs, has_probabilities = reference_outputs(exp, model, scored_rows(fd).astype("float64"), fd.n_outputs)
        if not has_probabilities and exp.score_name == "log_loss":
            raise FoldFailed(f"{type(model).__name__} has no predict_proba; the log loss needs probabilities")
        metrics = score_outputs(exp, fd, outputs)
        if not has_probabilities:  # one-hot predictions have no meaningful log loss
            metrics = {k: v for k, v in metrics.items() if not k.endswith("log_loss")}
        metrics["train_rows"] = len(x)
        metrics["test_rows"] = len(fd.test_index)
    except FoldFailed as exc:
        failure = str(exc)
    except Exception as exc:  # noqa: BLE001 - a reference model that fails is recorded and the run goes on
        failure = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if failure:
        return make_record(exp, dataset, job, SklearnEngine.name, FAILED, failure, seconds=seconds)
    return make_record(exp, dataset, job, SklearnEngine.name, OK, metrics=metrics, seconds=seconds)


class SklearnEngine(OneJobPerTask):
    """Fits reference-model jobs, one per task."""

    name = "sklearn"
    numerics = "sklearn/2"
    kind = REFERENCE
    keras = False  # scikit-learn's estimators leave no Keras state to let go after a task

    def run(self, exp: Experiment, dataset: str, splits: Splits, jobs: Sequence[Job], emit: Emit) -> None:
        for job in jobs:
            emit(fit_reference(exp, dataset, job, splits[job.data]))
