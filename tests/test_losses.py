"""Your loss and your weights: a Keras loss by name or object, class weights ('balanced' or a
dict) and sample weights train the same in the stacked engine as in a plain Keras fit given
the same loss, `class_weight=` or per-row weights; bad ones are refused in one line."""
from __future__ import annotations


import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.utils.class_weight import compute_class_weight

from harness import Dataset, HarnessError, Variant
from harness.engines.keras_fit import build_member, fit_member, targets_for
from harness.engines.stacked import train_members
from harness.runner import prepare
from tests.conftest import TinyRegression, tiny_classification
from tests.test_stacked import Equivalence, member_batches, stacked_members

VARIANTS = (Variant("none"), Variant("L2", l2=1e-2), Variant("weight decay", weight_decay=0.05))


def plain_fit(exp, variant, fd, seed, loss, class_weight=None, sample_weight=None):
    """model.fit of the member's own model with the loss and weights handed to Keras itself:
    `class_weight=` as Keras takes it, sample weights as a third element of each batch; the
    member's batch order, as the stacked engine feeds it."""
    model = build_member(exp, variant, fd, seed)
    n_out = int(model.outputs[0].shape[-1])
    model.compile(optimizer=exp.make_optimizer(variant), loss=loss)
    data, steps = member_batches(exp, fd, seed, targets_for(fd.y_fit, n_out), sample_weight)
    history = model.fit(data, steps_per_epoch=steps,
                        epochs=exp.epochs, class_weight=class_weight, shuffle=False, verbose=0).history
    return model, history


def assert_matches_plain_fit(exp, members, trained, fits, tolerance=2e-5):
    for member, result in zip(members, trained):
        model, history = fits(member)
        np.testing.assert_allclose(result.loss, history["loss"], rtol=tolerance, atol=tolerance)
        for own, ref in zip(result.weights, model.get_weights()):
            np.testing.assert_allclose(own, ref, rtol=tolerance, atol=tolerance, err_msg=member.job.variant.name)


@pytest.mark.parametrize("loss", [keras.losses.Huber(delta=0.3),
                                  pytest.param("mean_absolute_error", marks=pytest.mark.slow)])
def test_a_regression_loss_trains_as_keras_trains_it(tmp_path, loss):
    exp = Equivalence()
    exp.task, exp.load_data, exp.variants, exp.loss = "regression", TinyRegression().load_data, VARIANTS, loss
    members = stacked_members(exp, tmp_path)
    assert all(m.spec is not None for m in members)
    trained = train_members(exp, members)
    keras_loss = keras.losses.get(loss) if isinstance(loss, str) else keras.losses.Huber(delta=0.3)
    assert_matches_plain_fit(exp, members, trained,
                             lambda m: plain_fit(exp, m.job.variant, m.split, m.job.seed, keras_loss))
    # and the loss is not silently the default: MSE trains other weights
    mse = plain_fit(exp, members[0].job.variant, members[0].split, members[0].job.seed, "mean_squared_error")[0]
    assert not np.allclose(trained[0].weights[0], mse.get_weights()[0], atol=1e-3)


class Imbalanced(Equivalence):
    """Three classes of 45, 12 and 4 rows."""

    name = "imbalanced"
    variants = VARIANTS

    def load_data(self, data_dir):
        data = tiny_classification(n=61)
        y = pd.Series(np.where(np.arange(61) < 45, "common", np.where(np.arange(61) < 57, "rare", "rarest")),
                      index=data.X.index, name="label")
        return Dataset(data.name, data.X, y, "classification")


@pytest.mark.parametrize("class_weight", ["balanced", pytest.param({"rare": 3.0, "rarest": 8.0}, marks=pytest.mark.slow)])
def test_class_weights_train_as_keras_fit_class_weight(tmp_path, class_weight):
    exp = Imbalanced()
    exp.class_weight = class_weight
    members = stacked_members(exp, tmp_path)
    classes = np.asarray(["common", "rare", "rarest"])

    def keras_weights(fd):  # Keras' class_weight: {class index: weight}
        if class_weight == "balanced":
            present = np.unique(fd.y_fit)
            return dict(zip(present.tolist(), compute_class_weight("balanced", classes=present, y=fd.y_fit)))
        return {i: class_weight.get(label, 1.0) for i, label in enumerate(classes)}

    trained = train_members(exp, members)
    assert_matches_plain_fit(exp, members, trained, lambda m: plain_fit(
        exp, m.job.variant, m.split, m.job.seed, "sparse_categorical_crossentropy", class_weight=keras_weights(m.split)))


class Weighted(Equivalence):
    """Sample weights from a column of the table, which leaves the features."""

    name = "weighted"
    variants = VARIANTS

    def load_data(self, data_dir):
        data = tiny_classification(n=61)
        X = data.X.assign(importance=np.linspace(0.2, 3.0, 61))
        return Dataset(data.name, X, data.y, "classification", sample_weight="importance")


def test_sample_weights_train_as_keras_per_row_weights(tmp_path):
    exp = Weighted()
    members = stacked_members(exp, tmp_path)
    assert members[0].split.n_inputs == tiny_classification(n=61).X.shape[1]  # the weight column is no feature
    weights = np.linspace(0.2, 3.0, 61)
    trained = train_members(exp, members)
    assert_matches_plain_fit(exp, members, trained, lambda m: plain_fit(
        exp, m.job.variant, m.split, m.job.seed, "sparse_categorical_crossentropy",
        sample_weight=weights[m.split.fit_index].astype("float32")))


def test_the_keras_engine_weights_rows_too(tmp_path):
    """One batch of every row per epoch, so the order cannot matter: the reference engine's fit,
    the stacked engine and a plain fit with Keras' class_weight agree."""
    exp = Imbalanced()
    exp.class_weight, exp.batch_size, exp.variants = "balanced", 64, VARIANTS[:2]
    members = stacked_members(exp, tmp_path)
    trained = train_members(exp, members)
    for member, result in zip(members, trained):
        fd = member.split
        present = np.unique(fd.y_fit)
        reference = plain_fit(exp, member.job.variant, fd, member.job.seed, "sparse_categorical_crossentropy",
                              class_weight=dict(zip(present.tolist(), compute_class_weight("balanced", classes=present,
                                                                                         y=fd.y_fit))))[0]
        fitted = fit_member(exp, member.job.variant, fd, member.job.seed)
        for own, engine, ref in zip(result.weights, fitted.model.get_weights(), reference.get_weights()):
            np.testing.assert_allclose(engine, ref, rtol=2e-5, atol=2e-5)
            np.testing.assert_allclose(own, ref, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("settings, data, message", [
    ({"loss": "no_such_loss"}, None, "loss 'no_such_loss' is not a Keras loss"),
    ({"loss": "categorical_crossentropy"}, None, "loss 'categorical_crossentropy' does not work for classification"),
    ({"class_weight": {"common": 1.0, "unheard": 2.0}}, None, r"class_weight names label\(s\) \['unheard'\]"),
    ({"class_weight": {"common": -1.0}}, None, "class_weight must be None, 'balanced' or a dict"),
    ({"class_weight": "balanced", "task": "regression"}, None, "class_weight needs a classification task"),
    ({}, {"sample_weight": np.r_[-1.0, np.ones(60)]}, "1 sample weights are not finite numbers >= 0"),
    ({}, {"sample_weight": "nope"}, "sample_weight='nope' is not a column"),
    ({}, {"sample_weight": np.ones(5)}, "sample_weight must give one value per row"),
])
def test_bad_losses_and_weights_are_one_line_errors(tmp_path, settings, data, message):
    exp = Imbalanced()
    if data is not None:
        def load_data(data_dir, _base=exp.load_data):
            found = _base(data_dir)
            return Dataset(found.name, found.X, found.y, found.task, **data)
        exp.load_data = load_data
    for name, value in settings.items():
        setattr(exp, name, value)
    with pytest.raises(HarnessError, match=message) as caught:
        prepare(exp, tmp_path)
    assert "\n" not in str(caught.value)


def test_loss_and_class_weight_key_the_jobs_only_when_set(tmp_path):
    """A run without them keeps its keys (resumes from an older store); with them, every job's
    key changes, and the page records what was used."""
    plain = Imbalanced()
    keys = _keys(plain, tmp_path)
    assert "loss" not in plain.keyed_settings() and "class_weight" not in plain.keyed_settings()
    huber = Imbalanced().configured(class_weight="balanced")
    assert huber.settings()["class_weight"] == "balanced"
    assert not keys & _keys(huber, tmp_path)
    obj = Imbalanced()
    obj.task, obj.loss = "regression", keras.losses.Huber(delta=0.3)
    assert obj.settings()["loss"] == "Huber(delta=0.3)"


def _keys(exp, tmp_path):
    from harness.jobs import KeyMaker

    prepared = prepare(exp, tmp_path)
    maker = KeyMaker(exp, prepared.data, prepared.splitter, prepared.splits)
    return {maker.key(job, "stacked/3") for job in prepared.jobs}


def test_the_command_line_takes_the_loss_class_weights_and_a_weight_column(tmp_path, capsys, monkeypatch):
    """`regbench run data.csv --target C --sample-weight W --class-weight balanced --loss …`: the
    weight column leaves the features and is stored with the data; the page records both."""
    from harness.cli import main
    from harness.store import Store
    from tests.fakes import ENGINE
    from tests.test_tables import wine_table

    path = wine_table(tmp_path, groups=False)
    frame = pd.read_csv(path).assign(trust=np.linspace(0.5, 2.0, 178))
    frame.to_csv(path, index=False)
    monkeypatch.chdir(tmp_path)
    common = ["--db", "r.sqlite", "--reports-dir", "reports", "--no-progress", "--no-lines", "--quick"]
    code = main(["run", path.name, "--target", "cultivar", "--sample-weight", "trust", "--class-weight", "balanced",
                 "--loss", "sparse_categorical_crossentropy", "--engine", ENGINE, *common])
    assert code == 0, capsys.readouterr().err
    with Store(tmp_path / "r.sqlite") as store:
        run = store.results("wine-csv").run
        data = store.dataset(run.data_fingerprint)
    assert "trust" not in data.X.columns and np.allclose(data.sample_weight, frame["trust"])
    assert run.training.class_weight == "balanced" and run.training.loss == "sparse_categorical_crossentropy"
    page = (tmp_path / "reports" / "wine-csv" / "index.html").read_text()
    assert "balanced" in page and "rows weighted by &#39;trust&#39;" in page
    capsys.readouterr()
    for argv, words in [(["--sample-weight", "cultivar"], "one column serves two roles"),
                        (["--sample-weight", "nope"], "no sample weight column 'nope'"),
                        (["--loss", "nonsense"], "loss 'nonsense' is not a Keras loss")]:
        code = main(["run", path.name, "--target", "cultivar", *argv, *common])
        err = capsys.readouterr().err.strip()
        assert code == 2 and words in err and "\n" not in err, (argv, err)
