"""The reference engine: one ordinary `model.fit` per (variant, split)."""
from __future__ import annotations

import json

import time
from typing import TYPE_CHECKING, Any, Sequence

import keras
import numpy as np

from ..core import NETWORK, Emit, Variant
from ..experiment import Experiment
from ..jobs import Job
from ..keras_private import nested_layers, own_variables
from ..losses import make_loss
from ..models import build, output_units
from ..splits import SplitData, derive_seed
from .base import OneJobPerTask, Splits, TrainedMember, finish, first_nan_epoch

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf


def loss_for(exp: Experiment, n_model_outputs: int) -> Any:
    """The experiment's loss (`Experiment.loss`); by default MSE for regression, binary or
    sparse categorical cross-entropy for classification."""
    return make_loss(exp.loss, exp.task, n_model_outputs)


def targets_for(y: np.ndarray | None, n_model_outputs: int) -> np.ndarray | None:
    """Binary single-output models take float targets; the others take y as it is."""
    if y is None or n_model_outputs != 1:
        return y
    return y.astype("float32")


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle_seed: int | None = None,
            weights: np.ndarray | None = None) -> "tf.data.Dataset":
    """One epoch of (x, y) batches (x, y, weight with row weights), freshly shuffled on every
    pass when a seed is given.

    Repeated with `steps_per_epoch = ceil(n / batch_size)`, this is `fit(x, y, shuffle=True)`
    (a new permutation each epoch, the last batch partial) without the per-epoch cost of
    rebuilding the input pipeline, which dominates `fit` on small data.
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y) if weights is None else (x, y, weights))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size)


def _reseeded(initializer: Any, seed: int) -> tuple[Any, str | None]:
    """The initializer drawing from `seed`, and its configuration as text (None for one that
    takes no seed, whose draw is not a function of its configuration)."""
    config = keras.initializers.serialize(initializer)
    if isinstance(config, dict) and "seed" in config.get("config", {}):
        config["config"]["seed"] = seed
        return keras.initializers.deserialize(config), json.dumps(config, sort_keys=True, default=str)
    return initializer, None


def initial_weights(model: keras.Model, seed: int, drawn_before: dict[Any, np.ndarray] | None = None) -> list[np.ndarray]:
    """Fresh initial values for `model.weights`, drawn from `seed`.

    Every weight a layer made with an `<name>_initializer` (Dense kernels and biases, PReLU
    alphas, ...) is drawn anew from that same initializer, reseeded from (seed, weight index);
    other weights keep their values. Both engines start a member from these values, so a job's
    seed fixes its initial weights whichever engine trains it, without rebuilding the model.

    A seeded draw is a function of the initializer's configuration (its seed included), the
    shape and the dtype alone, so `drawn_before`, a dict the caller keeps across models, lends
    a draw made before to every model that asks for the same: the members of a stacked model
    that share a seed (every variant on a split, in a paired design) draw once, not once each.
    """
    drawn: dict[int, np.ndarray] = {}
    index = 0
    for layer in nested_layers(model):
        for variable in own_variables(layer):
            initializer = getattr(layer, f"{variable.name}_initializer", None)
            if initializer is not None:
                reseeded, config = _reseeded(initializer, derive_seed(seed, index))
                key = None if config is None or drawn_before is None else (config, tuple(variable.shape), str(variable.dtype))
                if key is None or key not in drawn_before:
                    values = np.asarray(reseeded(tuple(variable.shape), dtype=variable.dtype))
                    if key is not None:
                        values.setflags(write=False)  # lent to other models: nobody writes into it
                        drawn_before[key] = values
                drawn[id(variable)] = values if key is None else drawn_before[key]
            index += 1
    return [drawn.get(id(v), v.numpy()) for v in model.weights]


def build_member(exp: Experiment, variant: Variant, fd: SplitData, seed: int) -> keras.Model:
    """The experiment's own model for one member, its initial weights drawn from `seed`."""
    keras.utils.set_random_seed(seed)
    model = build(exp, variant, fd.n_inputs, fd.n_outputs)
    model.set_weights(initial_weights(model, seed))
    return model


def fit_member(exp: Experiment, variant: Variant, fd: SplitData, seed: int) -> TrainedMember:
    """Train one model with `model.fit`, early stopping as the experiment's protocol says."""
    start = time.perf_counter()
    model = build_member(exp, variant, fd, seed)
    n_out = output_units(model, fd.n_inputs)
    model.compile(optimizer=exp.make_optimizer(variant), loss=loss_for(exp, n_out))
    callbacks: list[Any] = [keras.callbacks.TerminateOnNaN()]
    stopper = None
    if exp.patience is not None:
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=exp.patience, min_delta=exp.min_delta,
            restore_best_weights=True,
        )
        callbacks.append(stopper)
    validation = None
    if fd.x_val is not None:
        validation = batches(fd.x_val, targets_for(fd.y_val, n_out), exp.batch_size).cache()
    steps = fd.steps_per_epoch(exp.batch_size)
    training = batches(fd.x_fit, targets_for(fd.y_fit, n_out), exp.batch_size, shuffle_seed=seed, weights=fd.w_fit)
    history = model.fit(
        training.repeat().prefetch(2), steps_per_epoch=steps, epochs=exp.epochs,
        validation_data=validation, shuffle=False, verbose=0, callbacks=callbacks,
    ).history
    loss = [float(v) for v in history.get("loss", [])]
    val_loss = [float(v) for v in history.get("val_loss", [])]
    epochs = len(loss)
    nan_epoch = first_nan_epoch(loss)
    failure = f"training loss became NaN at epoch {nan_epoch}" if nan_epoch else None
    best_epoch = stopper.best_epoch + 1 if stopper is not None and val_loss else epochs
    return TrainedMember(model, loss, val_loss, epochs, best_epoch, time.perf_counter() - start, failure)


class KerasFitEngine(OneJobPerTask):
    """One `model.fit` per job, in job order; every job is a task of its own. It trains any
    Keras model, so `--engine auto` gives it what no other engine takes."""

    name = "keras"
    numerics = "keras/1"
    kind = NETWORK

    def notes(self, exp: Experiment, splits: Splits, jobs: Sequence[Job]) -> list[str]:
        return [f"Engine: {self.name}, one model.fit per split ({len(jobs)} fits)."]

    def run(self, exp: Experiment, dataset: str, splits: Splits, jobs: Sequence[Job], emit: Emit) -> None:
        for job in jobs:
            fd = splits[job.data]
            try:
                trained = fit_member(exp, job.variant, fd, job.seed)
                record = finish(exp, dataset, job, fd, trained, self.name)
            except Exception as exc:  # a split that fails is recorded and the run goes on
                record = finish(exp, dataset, job, fd, None, self.name, error=f"{type(exc).__name__}: {exc}")
            keras.backend.clear_session(free_memory=False)
            emit(record)
