"""Every user hook, every way it can be wrong (#28 item 1).

Whatever `build_model`, `splitter`/`make_splitter`, `preprocessor`, `reference_models` and
`report_sections` return or raise, the run either refuses before anything trains, in one line
naming the experiment's file, the hook and what it expected, or (what can only go wrong per
split, or only once the run is stored) records the failure and goes on. A model's outputs are
checked against the task before anything trains, for Sequential, functional and subclassed
models alike; models whose outputs fit train as any other. (`load_data` and the splits a
splitter yields are in tests/test_hostile.py.)
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from harness import Dataset, Section, Variant, load_results
from tests.conftest import TinyClassification, TinyRegression, run_fake, run_quietly, tiny_classification
from tests.test_hostile import assert_harness_error

N_CLASSES = len(np.unique(tiny_classification().y))  # 3: what a model for TinyClassification must output


def tiny_binary() -> Dataset:
    X, y = make_classification(n_samples=40, n_features=4, n_informative=3, n_redundant=0, random_state=1)
    return Dataset("tiny-binary", pd.DataFrame(X, columns=[f"f{i}" for i in range(4)]), pd.Series(y, name="y"),
                   "classification")


class TinyBinary(TinyClassification):
    name = "tiny-binary"

    def load_data(self, data_dir):
        return tiny_binary()


def dense(n_inputs, units, activation):
    import keras

    return keras.Sequential([keras.Input((n_inputs,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(units, activation=activation)])


def functional(n_inputs, units, heads=1):
    import keras

    inputs = keras.Input((n_inputs,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    outputs = [keras.layers.Dense(units, activation="softmax")(hidden) for _ in range(heads)]
    return keras.Model(inputs, outputs if heads > 1 else outputs[0])


def subclassed(units, activation="softmax"):
    """A subclassed model as a new user writes one: layers made in __init__ (one of them never
    called: its weights are never built, which once ended the run in a traceback), a call()."""
    import keras

    class Mine(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(8, activation="relu")
            self.spare = keras.layers.Dense(4)
            self.out = keras.layers.Dense(units, activation=activation)

        def call(self, x):
            return self.out(self.hidden(x))

    return Mine()


def flat_3d(n_inputs, units):
    import keras

    return keras.Sequential([keras.Input((n_inputs,)), keras.layers.Dense(units, activation="softmax"),
                             keras.layers.Reshape((units, 1))])


def logits(cls):
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True) if cls else \
        keras.losses.BinaryCrossentropy(from_logits=True)


# (base, build_model(n_inputs, n_outputs), loss or None, what the message must say)
WRONG_OUTPUTS = {
    "7-unit softmax, 3 classes": (TinyClassification, lambda n, k: dense(n, 7, "softmax"), None,
                                  f"has 7 output units, but the task has {N_CLASSES} classes"),
    "1 sigmoid unit, 3 classes": (TinyClassification, lambda n, k: dense(n, 1, "sigmoid"), None,
                                  f"has 1 output unit, but the task has {N_CLASSES} classes"),
    "subclassed, 7 units": (TinyClassification, lambda n, k: subclassed(7), None, "has 7 output units"),
    "functional, 7 units": (TinyClassification, lambda n, k: functional(n, 7), None, "has 7 output units"),
    "two heads": (TinyClassification, lambda n, k: functional(n, k, heads=2), None, "has 2 outputs"),
    "3-D output": (TinyClassification, lambda n, k: flat_3d(n, k), None, f"outputs of shape (64, {N_CLASSES}, 1)"),
    "linear under cross-entropy": (TinyClassification, lambda n, k: dense(n, k, None), None,
                                   "does not give probabilities"),
    "sigmoid over 3 classes": (TinyClassification, lambda n, k: dense(n, k, "sigmoid"), None, "do not sum to 1"),
    "softmax, loss from logits": (TinyClassification, lambda n, k: dense(n, k, "softmax"), "logits-sparse",
                                  "gives probabilities (a softmax), but its loss SparseCategoricalCrossentropy takes logits"),
    "sigmoid, binary loss from logits": (TinyBinary, lambda n, k: dense(n, 1, "sigmoid"), "logits-binary",
                                         "gives probabilities (a sigmoid), but its loss BinaryCrossentropy takes logits"),
    "regression, softmax over one unit": (TinyRegression, lambda n, k: dense(n, 1, "softmax"), None,
                                          "outputs 1.0 for every row"),
    "regression, 3 units": (TinyRegression, lambda n, k: dense(n, 3, None), None,
                            "has 3 output units, but a regression predicts one number per row"),
    "regression, 2 heads": (TinyRegression, lambda n, k: functional(n, 1, heads=2), None, "has 2 outputs"),
}


@pytest.mark.parametrize("case", list(WRONG_OUTPUTS))
def test_a_model_whose_outputs_do_not_fit_the_task_is_refused_before_training(case, workdir):
    base, builder, loss, expected = WRONG_OUTPUTS[case]

    class Wrong(base):
        name = "wrong-outputs"

        def build_model(self, variant, n_inputs, n_outputs):
            return builder(n_inputs, n_outputs)

    if loss is not None:
        Wrong.loss = logits(loss == "logits-sparse")
    message = assert_harness_error(lambda: run_fake([Wrong()], workdir))
    assert expected in message, message
    assert "'wrong-outputs'" in message and "build_model's model for variant 'none'" in message
    assert __file__ in message  # the file that defines the experiment
    assert not workdir.db.exists() or load_results(workdir.db).empty  # refused before anything trains


# a model whose outputs fit the task: (base, build_model, loss or None)
RIGHT_OUTPUTS = {
    "subclassed softmax": (TinyClassification, lambda n, k: subclassed(k), None),
    "functional softmax": (TinyClassification, lambda n, k: functional(n, k), None),
    "subclassed logits, loss from logits": (TinyClassification, lambda n, k: subclassed(k, activation=None),
                                            "logits-sparse"),
    "one sigmoid unit, two classes": (TinyBinary, lambda n, k: dense(n, 1, "sigmoid"), None),
}


@pytest.mark.parametrize("case", list(RIGHT_OUTPUTS))
def test_models_whose_outputs_fit_train_and_are_reported(case, workdir):
    base, builder, loss = RIGHT_OUTPUTS[case]

    class Right(base):
        name = "right-outputs"
        epochs = 2
        variants = (Variant("none"),)

        def build_model(self, variant, n_inputs, n_outputs):
            return builder(n_inputs, n_outputs)

    if loss is not None:
        Right.loss = logits(True)
    run_quietly([Right()], workdir)
    stored = load_results(workdir.db)
    assert len(stored) == Right.folds and (stored["status"] == "ok").all(), stored.get("reason")
    n_rows = len(Right().load_data(None).y)
    assert sum(m["test_rows"] for m in stored["metrics"]) == n_rows  # every row scored once, by the user's own model
    assert stored["score"].between(0, 1).all()
    assert (workdir.reports / "right-outputs" / "index.html").exists()


# hook -> (its override, what the one-line message must say)
HOOKS = {
    "splitter returns None": ("splitter", lambda self: None, "splitter() returned NoneType; it must return a scikit-learn splitter"),
    "splitter raises": ("splitter", lambda self: 1 / 0, "splitter() failed: ZeroDivisionError"),
    "make_splitter raises": ("make_splitter", lambda self, data=None: 1 / 0, "make_splitter() failed: ZeroDivisionError"),
    "make_splitter returns a list": ("make_splitter", lambda self, data=None: [(np.arange(30), np.arange(30, 60))],
                                     "make_splitter() returned list; it must return a scikit-learn splitter"),
    "preprocessor returns None": ("preprocessor", lambda self, X: None,
                                  "preprocessor() returned NoneType; it must return an unfitted scikit-learn transformer"),
    "preprocessor returns a name": ("preprocessor", lambda self, X: "standard",
                                    "preprocessor() returned str; it must return an unfitted scikit-learn transformer"),
    "preprocessor raises": ("preprocessor", lambda self, X: 1 / 0, "preprocessor() failed: ZeroDivisionError"),
    "preprocessor drops rows": ("preprocessor", lambda self, X: FunctionTransformer(lambda a: np.asarray(a)[:3]),
                                "training rows into an array of shape (3, 5); it must give a 2-D array of one row per row"),
    "preprocessor gives 3-D": ("preprocessor", lambda self, X: FunctionTransformer(lambda a: np.asarray(a)[:, :, None]),
                               "into an array of shape (27, 5, 1)"),
    "preprocessor gives no columns": ("preprocessor", lambda self, X: FunctionTransformer(lambda a: np.zeros((len(a), 0))),
                                      "into an array of shape (27, 0)"),
    "reference_models returns a list": ("reference_models", lambda self: [LogisticRegression()],
                                        "reference_models() returned list; it must return a dict of name -> unfitted"),
    "reference_models raises": ("reference_models", lambda self: 1 / 0, "reference_models() failed: ZeroDivisionError"),
    "build_model raises": ("build_model", lambda self, variant, n_inputs, n_outputs: 1 / 0,
                           "build_model failed for variant 'none': ZeroDivisionError"),
}


@pytest.mark.parametrize("case", list(HOOKS))
def test_a_hook_that_raises_or_returns_the_wrong_thing_is_refused_in_one_line(case, workdir):
    hook, override, expected = HOOKS[case]
    Hooked = type("Hooked", (TinyClassification,), {"name": "hooked", hook: override})
    message = assert_harness_error(lambda: run_fake([Hooked()], workdir))
    assert expected in message, message
    assert message.startswith(f"experiment 'hooked' ({__file__}): ")
    assert not workdir.db.exists() or load_results(workdir.db).empty  # refused before anything trains


class BreaksWhenFittedOnRow0(TransformerMixin, BaseEstimator):
    """A preprocessor that fails to fit on the split whose training rows hold row 0 (only there)."""

    def fit(self, X, y=None):
        if 0 in X.index:
            raise ZeroDivisionError("division by zero")
        return self

    def transform(self, X):
        return X.to_numpy()


def test_a_preprocessor_failing_on_one_split_refuses_the_run_naming_that_split(workdir):
    """Preprocessing happens before anything trains, so one split's failure refuses the run
    (nothing is lost) rather than leaving a hole in the paired comparisons."""
    class OneSplitFails(TinyClassification):
        name = "one-split-fails"

        def preprocessor(self, X):
            return BreaksWhenFittedOnRow0()

    exp = OneSplitFails()
    data = exp.load_data(None)
    splits = list(exp.make_splitter(data).split(data.X, data.y))
    failing = next(i for i, (train, _) in enumerate(splits) if 0 in train)  # the split that fits on row 0
    message = assert_harness_error(lambda: run_fake([exp], workdir))
    assert f"split {failing}: the preprocessor failed: ZeroDivisionError" in message and __file__ in message
    assert not workdir.db.exists() or load_results(workdir.db).empty


class FailsOn40Rows(LogisticRegression):
    """A reference model that cannot be fitted on 40 rows (and only then)."""

    def fit(self, X, y, sample_weight=None):
        if len(X) == 40:
            raise ValueError("cannot fit on 40 rows")
        return super().fit(X, y, sample_weight)


def test_a_reference_model_failing_on_one_split_is_a_failed_split_and_the_run_goes_on(workdir):
    from sklearn.model_selection import PredefinedSplit

    class OneFitFails(TinyClassification):
        name = "one-fit-fails"

        def splitter(self):  # split 0 scores rows 0-9 (trains on 50), split 1 rows 10-29 (trains on 40)
            return PredefinedSplit(np.repeat([0, 1, -1], [10, 20, 30]))

        def reference_models(self):
            return {"logistic": FailsOn40Rows(max_iter=500)}

    outcomes, _ = run_fake([OneFitFails()], workdir)
    stored = load_results(workdir.db).set_index(["variant", "split"])
    assert stored.loc[("logistic", 1), "status"] == "failed"
    assert "ValueError: cannot fit on 40 rows" in stored.loc[("logistic", 1), "reason"]
    assert stored.loc[("logistic", 0), "status"] == "ok"
    networks = stored.drop(index="logistic", level="variant")
    assert len(networks) == 2 * len(OneFitFails.variants) and (networks["status"] == "ok").all()  # the run went on
    assert outcomes[0].failed == 1 and outcomes[0].ok == len(stored) - 1


@pytest.mark.parametrize("returned, shown, error", [
    (None, [], None),
    (Section("Only one", text="one section, not in a list"), ["Only one"], None),
    ([Section("Kept", text="a good one"), "a string"], ["Kept"],
     "report_sections() returned str at position 1; it must return a list of harness.Section"),
    (ZeroDivisionError("division by zero"), [], "ZeroDivisionError: division by zero"),
])
def test_report_sections_of_any_shape_leave_the_report_standing(returned, shown, error, workdir):
    class Sections(TinyClassification):
        name = "sections"

        def report_sections(self, results):
            if isinstance(returned, Exception):
                raise returned
            return returned

    run_fake([Sections()], workdir)
    assert (load_results(workdir.db)["status"] == "ok").all()
    page = (workdir.reports / "sections" / "index.html").read_text()
    assert "Comparison of variants" in page  # the rest of the report stands
    for title in shown:
        assert f"<h2>{title}</h2>" in page
    assert ("Experiment-specific analysis (report_sections)" in page) == (error is not None)
    if error:
        assert f"could not be computed: {error}" in page
    assert "not iterable" not in page and "has no attribute" not in page
