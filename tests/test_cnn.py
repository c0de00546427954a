"""Convolutional networks in the stacked engine: Conv1D/Conv2D, pooling, Flatten, Reshape and
normalization stack into one model whose members train as their own Keras models do under a
plain `model.fit` (the same check as the Dense path's), and every kind of Keras model runs."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from harness import Dataset, Variant
from harness.engines.stacked import train_members
from tests.test_stacked import Equivalence, assert_same_training, stacked_members

VARIANTS = (Variant("none"), Variant("L2", l2=1e-2), Variant("weight decay", weight_decay=0.05))


class TinyDigits(Equivalence):
    """96 of scikit-learn's 8×8 digits of three classes, as 64 pixel columns."""

    name = "tiny-digits"
    epochs = 4
    variants = VARIANTS

    def load_data(self, data_dir):
        X, y = load_digits(n_class=3, return_X_y=True, as_frame=True)
        return Dataset("digits", X.iloc[:96], y.iloc[:96], "classification")


def _penalty(variant):
    return keras.regularizers.L2(variant.l2) if variant.l2 else None


class Conv2DChain(TinyDigits):
    name = "conv2d-chain"

    def build_model(self, variant, n_inputs, n_outputs):
        return keras.Sequential([
            keras.Input((n_inputs,)), keras.layers.Reshape((8, 8, 1)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", kernel_regularizer=_penalty(variant)),
            keras.layers.BatchNormalization(momentum=0.9),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(6, (3, 2), strides=(1, 2), activation="tanh"),
            keras.layers.Flatten(),
            keras.layers.Dense(n_outputs, activation="softmax")])


class Conv1DChain(TinyDigits):
    """The image's 8 rows as a sequence of 8 steps of 8 channels, written functionally."""

    name = "conv1d-chain"

    def build_model(self, variant, n_inputs, n_outputs):
        inputs = keras.Input((n_inputs,))
        x = keras.layers.Reshape((8, 8))(inputs)
        x = keras.layers.Conv1D(5, 3, dilation_rate=2, padding="same", activation="relu",
                                kernel_regularizer=_penalty(variant))(x)
        x = keras.layers.AveragePooling1D(2, padding="same")(x)
        x = keras.layers.LayerNormalization()(x)
        x = keras.layers.Conv1D(4, 2, activation="relu")(x)
        x = keras.layers.GlobalAveragePooling1D()(x)
        outputs = keras.layers.Dense(n_outputs, activation="softmax")(x)
        return keras.Model(inputs, outputs)


@pytest.mark.parametrize("experiment", [Conv2DChain, Conv1DChain])
def test_convolutional_members_match_plain_fit(tmp_path, experiment):
    exp = experiment()
    members = stacked_members(exp, tmp_path)
    assert all(m.spec is not None for m in members), [m.spec for m in members]
    assert any(op[0] == "conv" for op in members[0].spec.architecture.ops)
    trained = train_members(exp, members)
    assert len(trained) == 3 * len(VARIANTS)
    assert_same_training(exp, members, trained, rtol=1e-4, atol=1e-4)


def test_a_cnn_member_trains_the_same_alone_or_beside_others(tmp_path):
    """With dropout on the convolutions' activations, early stopping and compaction: nothing
    couples a member to the others in its stacked model (the channel groups never mix)."""
    exp = Conv2DChain()
    exp.patience, exp.epochs, exp.learning_rate = 2, 30, 0.05
    exp.variants = (Variant("target", l2=1e-3),)
    alone = stacked_members(exp, tmp_path)[:1]
    result_alone = train_members(exp, alone)[0]
    exp.variants = (Variant("target", l2=1e-3), Variant("decay", weight_decay=0.3), Variant("strong", l2=0.5))
    crowd = [m for m in stacked_members(exp, tmp_path) if m.job.split == 0]
    results = train_members(exp, crowd)
    assert result_alone.epochs < exp.epochs  # it stopped early
    np.testing.assert_allclose(results[0].loss, result_alone.loss, rtol=1e-5)
    for a, b in zip(results[0].weights, result_alone.weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


class WithDropout(Conv2DChain):
    name = "conv2d-dropout"

    def build_model(self, variant, n_inputs, n_outputs):
        model = super().build_model(variant, n_inputs, n_outputs)
        if not variant.dropout:
            return model
        layers = [keras.Input((n_inputs,))] + model.layers[:3] + [keras.layers.Dropout(variant.dropout)] + model.layers[3:]
        return keras.Sequential(layers)


def test_dropout_between_convolutions_is_each_members_own(tmp_path):
    """A dropout member beside a plain one: the plain member trains exactly as alone, the
    dropout member differently from its rate-0 self."""
    exp = WithDropout()
    exp.variants = (Variant("none"),)
    alone = train_members(exp, stacked_members(exp, tmp_path)[:1])[0]
    exp.variants = (Variant("none"), Variant("dropout", dropout=0.5))
    both = [m for m in stacked_members(exp, tmp_path) if m.job.split == 0]
    plain, dropped = train_members(exp, both)
    np.testing.assert_allclose(plain.loss, alone.loss, rtol=1e-5)
    assert not np.allclose(dropped.loss, alone.loss, rtol=1e-3)


@keras.saving.register_keras_serializable(package="tests")
class SubclassedNet(keras.Model):
    """A model written as a class with its own call: opaque to the stacked engine."""

    def __init__(self, n_outputs, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.n_outputs, self.l2 = n_outputs, l2
        self.hidden = keras.layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.L2(l2) if l2 else None)
        self.out = keras.layers.Dense(n_outputs, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))

    def get_config(self):
        return {**super().get_config(), "n_outputs": self.n_outputs, "l2": self.l2}


class EveryKind(TinyDigits):
    """A Sequential CNN, a functional Conv1D chain and a subclassed model, one variant each."""

    name = "every-kind"
    folds, epochs = 2, 2
    variants = (Variant("sequential cnn"), Variant("functional conv1d", settings={"kind": "functional"}),
                Variant("subclassed", l2=1e-3, settings={"kind": "subclassed"}))

    def build_model(self, variant, n_inputs, n_outputs):
        kind = variant.settings.get("kind")
        if kind == "subclassed":
            return SubclassedNet(n_outputs, variant.l2)
        builder = Conv1DChain if kind == "functional" else Conv2DChain
        return builder.build_model(self, variant, n_inputs, n_outputs)


def test_sequential_functional_and_subclassed_models_run_and_the_page_says_which_engine(tmp_path):
    import harness

    found = harness.run(EveryKind(), db=tmp_path / "r.sqlite", reports_dir=tmp_path / "reports", progress=False,
                        lines=False, stream=__import__("io").StringIO())
    rows = found.splits
    assert (rows["status"] == "ok").all() and len(rows) == 6
    engines = rows.groupby("variant")["engine"].first().to_dict()
    assert engines == {"sequential cnn": "stacked", "functional conv1d": "stacked", "subclassed": "keras"}
    page = found.page.read_text()
    assert "Variant &#39;subclassed&#39; trained with one model.fit per split (keras engine), not stacked: the model " \
           "is a SubclassedNet, neither a keras.Sequential nor a functional chain" in page
    assert found.run.parameters["subclassed"] == 64 * 8 + 8 + 8 * 3 + 3
