"""Penalties written once, and what regularizes a model read back from it.

`penalty_value` and `add_penalty_gradient` are what the stacked engine's layers and loop use;
they must compute Keras' own L1/L2/L1L2 regularizers' value and TensorFlow's gradient of it.
`regularization_of` must find every penalty, dropout and noise layer and the weight decay of
a model written any way (Sequential, functional, nested, per-layer), and the stacked
engine's per-member early stopping must stop where Keras' EarlyStopping stops."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from harness.engines.stacked.stopping import MemberStopping
from harness.regularizers import add_penalty_gradient, coefficients, kernel_penalty, penalty_value, regularization_of


@pytest.mark.parametrize("l1, l2", [(1e-2, 0.0), (0.0, 3e-2), (2e-3, 5e-1), (0.1, 0.1)])
def test_penalty_value_and_gradient_are_keras_own(l1, l2):
    w = tf.constant(np.random.default_rng(0).normal(size=(7, 5)).astype("float32"))
    regularizer = kernel_penalty(l1, l2)
    with tf.GradientTape() as tape:
        tape.watch(w)
        expected = regularizer(w)
    gradient = tape.gradient(expected, w)
    mine = penalty_value(w, l1 or None, l2 or None)
    assert float(mine) == pytest.approx(float(expected), rel=1e-6)
    np.testing.assert_allclose(add_penalty_gradient(tf.zeros_like(w), w, l1 or None, l2 or None), gradient, rtol=1e-6)
    assert float(expected) > 0  # a real penalty was compared


def test_per_member_coefficients_give_each_member_its_own_penalty():
    w = tf.constant(np.random.default_rng(1).normal(size=(3, 4, 2)).astype("float32"))
    l1, l2 = np.array([0.0, 1e-2, 3e-2], "float32"), np.array([5e-2, 0.0, 1e-1], "float32")
    values = penalty_value(w, l1, l2, axis=(1, 2)).numpy()
    for m in range(3):
        assert values[m] == pytest.approx(float(penalty_value(w[m], float(l1[m]), float(l2[m]))), rel=1e-6)


def test_regularization_is_read_from_any_model():
    inputs = keras.Input((6,))
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, kernel_regularizer=keras.regularizers.L1(0.1),
                                                                    name="inner_dense")], name="inner")
    x = keras.layers.GaussianNoise(0.3, name="noise")(inputs)
    x = keras.layers.Dense(8, kernel_regularizer=keras.regularizers.L2(1e-3), bias_regularizer=keras.regularizers.L1L2(
        1e-4, 2e-4), activity_regularizer=keras.regularizers.L2(1e-5), name="first")(x)
    x = keras.layers.Dropout(0.25, name="drop")(x)
    x = inner(x)
    x = keras.layers.GaussianDropout(0.1, name="gdrop")(x)
    outputs = keras.layers.Dense(2, kernel_regularizer=keras.regularizers.OrthogonalRegularizer(0.01), name="out")(x)
    found = regularization_of(keras.Model(inputs, outputs), keras.optimizers.AdamW(weight_decay=0.02))
    assert {(p.layer, p.on, p.kind, p.l1, p.l2) for p in found.penalties} >= {
        ("first", "kernel", "L2", 0.0, 1e-3), ("first", "bias", "L1L2", 1e-4, 2e-4), ("first", "activity", "L2", 0.0, 1e-5),
        ("inner_dense", "kernel", "L1", 0.1, 0.0)}
    assert ("out", "kernel", "OrthogonalRegularizer") in {(p.layer, p.on, p.kind) for p in found.penalties}
    assert found.dropout == (("drop", 0.25), ("gdrop", 0.1)) and found.noise == (("noise", 0.3),)
    assert found.weight_decay == 0.02 and found.penalty_kind == "mixed" and found.penalty_strength is None
    assert "dropout 0.25 at drop" in found.describe() and "weight decay 0.02" in found.describe()


def test_nothing_regularizes_a_plain_model_and_one_strength_is_read_as_it_was_written():
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dropout(0.0), keras.layers.Dense(1)])
    assert regularization_of(plain, keras.optimizers.Adam()).families == ()
    assert coefficients(keras.regularizers.L1(0.1)) == (0.1, 0.0)  # Keras keeps 0.10000000149…
    both = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, kernel_regularizer=kernel_penalty(1e-3, 1e-3)),
                             keras.layers.Dense(1, kernel_regularizer=kernel_penalty(1e-3, 1e-3))])
    found = regularization_of(both)
    assert (found.penalty_kind, found.penalty_strength, found.family) == ("L1L2", 1e-3, "L1L2")
    assert [p.layer for p in found.penalties] == ["dense #1", "dense #2"]  # not Keras' dense_N of this process
    again = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, kernel_regularizer=kernel_penalty(1e-3, 1e-3)),
                              keras.layers.Dense(1, kernel_regularizer=kernel_penalty(1e-3, 1e-3))])
    assert regularization_of(again) == found and "kernels of dense #1, dense #2" in found.describe()


@pytest.mark.parametrize("seed", range(6))
def test_member_stopping_stops_where_keras_early_stopping_stops(seed):
    """Each of 4 members gets its own validation-loss sequence; the stacked engine's rule,
    stepped epoch by epoch, must stop each where Keras' own callback stops on the same
    sequence, with the same best epoch."""
    rng = np.random.default_rng(seed)
    members, epochs, patience, min_delta = 4, 30, int(rng.integers(1, 5)), float(rng.choice([0.0, 0.01]))
    losses = np.minimum.accumulate(rng.uniform(0.5, 1.0, (epochs, members)), axis=0) + rng.uniform(0, 0.03, (epochs, members))
    stopping = MemberStopping(members, patience, min_delta, watching=True, kept=[(members, 1)])
    state = stopping.values()
    stopped_at = [None] * members
    for epoch in range(epochs):
        active = state[0].numpy()
        weights = [tf.constant(np.full((members, 1), epoch, "float32"))]
        state = stopping.step(tf.constant(epoch), tf.ones(members), tf.constant(losses[epoch], tf.float32), weights, state)
        for m in np.flatnonzero(active & ~state[0].numpy()):
            stopped_at[m] = epoch
    stopping.assign(state)
    assert any(epoch is not None for epoch in stopped_at)  # the rule was put to the test
    for m in range(members):
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        keras_stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, min_delta=min_delta)
        keras_stopper.set_model(model)
        model.stop_training = False
        keras_stopper.on_train_begin()
        keras_stop = None
        for epoch in range(epochs):
            keras_stopper.on_epoch_end(epoch, {"val_loss": float(np.float32(losses[epoch, m]))})
            if model.stop_training:
                keras_stop = epoch
                break
        assert stopped_at[m] == keras_stop, (m, stopped_at, keras_stop)
        assert int(stopping.best_epoch.numpy()[m]) == keras_stopper.best_epoch
        # restore_best_weights: the weights kept are those of the best epoch
        assert stopping.restored([tf.Variable(np.zeros((members, 1), "float32"))])[0][m, 0] == keras_stopper.best_epoch
