"""The compiled epoch loop: many epochs of a stacked model in one TensorFlow call."""
from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ...regularizers import add_penalty_gradient, penalty_value
from .layers import StackedModel
from .stopping import MemberStopping, per_member


class _NotRetracing:
    """Drops TensorFlow's "triggered tf.function retracing" warning, and only it: every stacked
    model has a loop of its own, traced once on purpose (a new EpochLoop per model), which
    TensorFlow's heuristic takes for a function retraced in a loop."""

    def filter(self, record: Any) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


tf.get_logger().addFilter(_NotRetracing())


class EpochLoop:
    """Up to `epochs_per_call` epochs of a StackedModel in one compiled TensorFlow call.

    `loop(indices, row_mask, epochs)` trains `epochs` more epochs (at most `epochs_per_call`).
    Its data: row indices (M, epochs_per_call, steps·batch) into the resident training rows
    of each member's split (`set_training_data`: held once per distinct split, shared by the
    members that train on it; `training_rows`), each member's rows in its own
    order per epoch; row b of step s is member m's row indices[m, e, s·batch + b]. A member
    with fewer rows than steps·batch has its tail masked (`row_mask`, (M, steps·batch)): its
    short last batch is padded and masked, as Keras' last batch is short.

    Inside the call, the weights (one tensor per variable, member axis first) are carried
    through a `tf.while_loop` over epochs and, within it, over steps, in Keras' stateless
    style (`keras.StatelessScope`, `stateless_apply`, as Keras' JAX trainer does); the layers'
    variables are written once per call. Per epoch:
    - S optimizer steps. The penalty is l1·Σ|w| + l2·Σw² over each kernel with each member's
      own coefficients (`harness.regularizers`: what each layer's L1/L2 regularizer adds up);
      decoupled weight decay (an optimizer's `weight_decay`) is w - w·decay·lr per member
      before the update, as Keras applies it; the optimizer (elementwise: its state is per
      weight) updates every member at once. Each member's training loss is its batch
      losses' mean weighted by batch size, as Keras' tracker does.
    - The validation loss (data loss plus penalty, as Keras' `val_loss`), then each member's
      early stopping (`MemberStopping`). Stopped members keep being stepped (their updates
      touch only their own weights) but their history ends; the call ends early when no
      member is left.
    The call returns per epoch and member the training and validation losses and whether the
    epoch counts in that member's history: (epochs_per_call, M) each, read back once per call.
    """

    def __init__(self, model: StackedModel, optimizer: keras.optimizers.Optimizer, batch: int, steps: int,
                 epochs_per_call: int, validation: tuple[Any, Any, Any] | None, patience: int | None,
                 min_delta: float, jit_compile: bool) -> None:
        self.model, self.batch, self.steps, self.epochs_per_call = model, batch, steps, epochs_per_call
        self.validation = validation
        self.variables, l1, l2 = model.penalized_variables()
        self.state_variables = list(model.non_trainable_variables)
        optimizer.build(self.variables)
        self.optimizer = optimizer
        self.optimizer_variables = list(optimizer.variables)
        # each variable's per-member coefficients, None where no member has that term
        self.penalties = [(tf.constant(a) if np.any(a) else None, tf.constant(b) if np.any(b) else None)
                          for a, b in zip(l1, l2)]
        self.decay = model.weight_decay if np.any(model.weight_decay > 0) else None
        self.epoch = tf.Variable(0, dtype=tf.int32)
        # what restore_best_weights restores: the trainable weights and the member-weight state
        # (BatchNormalization's moving averages), not random-stream counters
        member_ids = {id(v) for v in model.member_weights()}
        self.kept = [i for i, v in enumerate(self.state_variables) if id(v) in member_ids]
        self.best_of = self.variables + [self.state_variables[i] for i in self.kept]
        self.stopping = MemberStopping(model.members, patience, min_delta,
                                       validation is not None and patience is not None,
                                       [v.shape for v in self.best_of])
        # autograph off: every branch here is on Python values (None, flags), and converting the
        # loop, the layers and the optimizer cost ~0.3 s of tracing per stacked model
        self.function = tf.function(self._call, jit_compile=jit_compile, autograph=False)

    def __call__(self, indices: np.ndarray, row_mask: Any, epochs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if indices.shape[1] < self.epochs_per_call:  # one shape for every call: one trace, one compilation
            indices = np.pad(indices, ((0, 0), (0, self.epochs_per_call - indices.shape[1]), (0, 0)))
        loss, val, recorded = self.function(tf.constant(indices), row_mask, tf.constant(epochs, tf.int32))
        return loss.numpy(), val.numpy(), recorded.numpy()

    def best_weights(self) -> dict[int, np.ndarray] | None:
        """{id(variable): each member's best-epoch values} for the member weights (a member's
        final ones where it never had a best epoch); None without early stopping."""
        restored = self.stopping.restored(self.best_of)
        return None if restored is None else {id(v): r for v, r in zip(self.best_of, restored)}

    def penalty(self, weights: Sequence[Any]) -> Any:
        """Each member's L1/L2 penalty, (M,)."""
        total = ops.zeros((self.model.members,))
        for w, (l1, l2) in zip(weights, self.penalties):
            total = penalty_value(w, l1, l2, axis=tuple(range(1, len(w.shape))), start=total)
        return total

    def update(self, weights: list[Any], gradients: list[Any], optimizer_state: list[Any]):
        """One optimizer update of every member, with the penalty's gradient
        (`add_penalty_gradient`) and the decoupled weight decay (w - w·decay·lr, before the
        update, as Keras applies it)."""
        penalty = self.penalty(weights)
        gradients = [add_penalty_gradient(g, w, None if l1 is None else per_member(l1, w),
                                          None if l2 is None else per_member(l2, w))
                     for g, w, (l1, l2) in zip(gradients, weights, self.penalties)]
        if self.decay is not None:
            rate = ops.cast(self.optimizer.learning_rate, "float32")
            weights = [w - w * per_member(tf.constant(self.decay), w) * rate for w in weights]
        weights, optimizer_state = self.optimizer.stateless_apply(optimizer_state, gradients, weights)
        return list(weights), optimizer_state, penalty

    def _mapping(self, weights: Sequence[Any], state: Sequence[Any]) -> list[tuple[Any, Any]]:
        return list(zip(self.variables, weights)) + list(zip(self.state_variables, state))

    def _step(self, indices, row_mask, epoch, step, weights, state, optimizer_state, loss_sum, loss_count):
        members, width = self.model.members, self.batch
        rows = tf.slice(indices, [0, epoch, step * width], [members, 1, width])[:, 0]
        mask = tf.slice(row_mask, [0, step * width], [members, width])
        x, y, w = self.model.training_rows(rows)
        with tf.GradientTape() as tape:
            tape.watch(weights)
            with keras.StatelessScope(state_mapping=self._mapping(weights, state)) as scope:
                losses, counts = self.model.data_losses(x, y, mask, training=True, weights=w)
            total = ops.sum(losses)
        gradients = tape.gradient(total, weights)
        state = [scope.get_current_value(v) for v in self.state_variables]
        weights, optimizer_state, penalty = self.update(weights, gradients, optimizer_state)
        return step + 1, weights, state, optimizer_state, loss_sum + (losses + penalty) * counts, loss_count + counts

    def _epoch(self, indices, row_mask, epoch, weights, state, optimizer_state):
        """One epoch's steps; each member's mean training loss."""
        zeros = ops.zeros((self.model.members,))
        _, weights, state, optimizer_state, loss_sum, loss_count = tf.while_loop(
            lambda step, *_: step < self.steps,
            lambda *carry: self._step(indices, row_mask, epoch, *carry),
            (tf.constant(0), weights, state, optimizer_state, zeros, zeros),
        )
        return weights, state, optimizer_state, loss_sum / ops.maximum(loss_count, 1.0)

    def _validation_loss(self, weights, state):
        x_val, y_val, val_mask, source = self.validation  # per distinct split, then each member's
        x_val, y_val, val_mask = (tf.gather(a, source) for a in (x_val, y_val, val_mask))
        with keras.StatelessScope(state_mapping=self._mapping(weights, state)):
            data_loss, _ = self.model.data_losses(x_val, y_val, val_mask, training=False)
        return data_loss + self.penalty(weights)

    def _call(self, indices, row_mask, epochs):
        members = self.model.members
        history = tf.zeros((self.epochs_per_call, members))

        def one_epoch(i, weights, state, optimizer_state, stop, loss_history, val_history, recorded):
            weights, state, optimizer_state, loss = self._epoch(indices, row_mask, i, weights, state, optimizer_state)
            val = self._validation_loss(weights, state) if self.validation is not None else tf.zeros_like(loss)
            at = [[i]]
            recorded = tf.tensor_scatter_nd_update(recorded, at, [stop[0]])
            loss_history = tf.tensor_scatter_nd_update(loss_history, at, [loss])
            val_history = tf.tensor_scatter_nd_update(val_history, at, [val])
            kept = list(weights) + [state[k] for k in self.kept]
            stop = self.stopping.step(self.epoch + i, loss, val, kept, stop)
            return i + 1, weights, state, optimizer_state, stop, loss_history, val_history, recorded

        initial = (tf.constant(0), [v.value for v in self.variables], [v.value for v in self.state_variables],
                   [v.value for v in self.optimizer_variables], self.stopping.values(),
                   history, history, tf.zeros((self.epochs_per_call, members), tf.bool))
        done, weights, state, optimizer_state, stop, loss_history, val_history, recorded = tf.while_loop(
            lambda i, *carry: (i < epochs) & tf.reduce_any(carry[3][0]), one_epoch, initial)
        for variable, value in zip(self.variables + self.state_variables + self.optimizer_variables,
                                   list(weights) + list(state) + list(optimizer_state)):
            variable.assign(value)
        self.stopping.assign(stop)
        self.epoch.assign_add(done)
        return loss_history, val_history, recorded
