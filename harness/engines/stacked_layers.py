"""Keras layers, a regularizer and a model that hold one set of weights per member.

A member is one (variant, split) network. Every tensor carries the member axis first:
activations are (members, batch, features), kernels (members, in, out). Members never mix:
each member's kernel only ever meets that member's rows, and the training objective is the sum
of the members' own losses, so each gradient is exactly the one that member would get alone.
"""
from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

def stateless_optimizer(class_name: str, config: dict[str, Any]) -> keras.optimizers.Optimizer:
    """A Keras optimizer whose `stateless_apply` works on the TensorFlow backend.

    Keras' TensorFlow optimizers route updates through tf.distribute and refuse
    `stateless_apply`; the backend-agnostic update path of `BaseOptimizer` (the one Keras' JAX
    backend uses) runs the same `update_step` arithmetic on values instead of variables. The
    class is the user's optimizer class with that path restored.
    """
    # private Keras API: the backend-neutral optimizer, whose stateless path the TensorFlow
    # optimizer class overrides; Keras exports no public name for it
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    base = type(keras.optimizers.get({"class_name": class_name, "config": dict(config)}))
    restored = {
        name: getattr(BaseOptimizer, name)
        for name in ("stateless_apply", "assign", "assign_add", "assign_sub", "_backend_update_step", "_var_key")
    }
    return type(f"Stateless{base.__name__}", (base,), restored)(**config)


LOSS_KINDS = ("sparse_categorical_crossentropy", "binary_crossentropy", "mean_squared_error")


@keras.saving.register_keras_serializable(package="harness")
class StackedL1L2(keras.regularizers.Regularizer):
    """Per-member L1/L2 kernel penalty: member m pays l1[m]·Σ|W_m| + l2[m]·ΣW_m²."""

    def __init__(self, l1: Sequence[float], l2: Sequence[float]) -> None:
        self.l1 = np.asarray(l1, dtype="float32")
        self.l2 = np.asarray(l2, dtype="float32")

    def per_member(self, x: Any) -> Any:
        axes = tuple(range(1, len(x.shape)))
        return self.l1 * ops.sum(ops.absolute(x), axis=axes) + self.l2 * ops.sum(ops.square(x), axis=axes)

    def __call__(self, x: Any) -> Any:
        return ops.sum(self.per_member(x))

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1.tolist(), "l2": self.l2.tolist()}


@keras.saving.register_keras_serializable(package="harness")
class StackedDense(keras.layers.Layer):
    """`members` independent Dense layers: y[m] = activation(x[m] @ W[m] + b[m])."""

    def __init__(
        self, members: int, units: int, activation: Any = None, use_bias: bool = True,
        kernel_regularizer: StackedL1L2 | None = None, activity_regularizer: StackedL1L2 | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.members, self.units, self.use_bias = int(members), int(units), bool(use_bias)
        self.activation = keras.activations.get(activation)
        self.kernel_regularizer = kernel_regularizer
        self.row_penalty = activity_regularizer  # per row, so padded rows can be masked out

    def build(self, input_shape: Sequence[int]) -> None:
        in_features = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(self.members, in_features, self.units), initializer="zeros", name="kernel",
            regularizer=self.kernel_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.members, self.units), initializer="zeros", name="bias")

    def call(self, x: Any) -> Any:
        y = ops.matmul(x, self.kernel)
        if self.bias is not None:
            y = y + ops.expand_dims(self.bias, 1)
        return self.activation(y)

    def member_weights(self) -> list[Any]:
        """The variables, in the order of a Keras Dense layer's `weights`."""
        return [self.kernel] + ([self.bias] if self.bias is not None else [])

    def activity_penalty(self, y: Any) -> Any:
        """Each row's activity penalty (M, B): l1·Σ|y| + l2·Σy² over its units. Keras adds the
        regularizer's value over the batch ÷ the batch size, i.e. the rows' mean of this."""
        penalty = self.row_penalty
        l1 = ops.reshape(ops.convert_to_tensor(penalty.l1), (-1, 1))
        l2 = ops.reshape(ops.convert_to_tensor(penalty.l2), (-1, 1))
        return l1 * ops.sum(ops.absolute(y), axis=-1) + l2 * ops.sum(ops.square(y), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "activity_regularizer": keras.regularizers.serialize(self.row_penalty) if self.row_penalty else None,
            "members": self.members,
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)
            if self.kernel_regularizer else None,
        }


@keras.saving.register_keras_serializable(package="harness")
class StackedActivation(keras.layers.Layer):
    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)

    def call(self, x: Any) -> Any:
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": keras.activations.serialize(self.activation)}


def _masked_moments(x: Any, mask: Any) -> tuple[Any, Any]:
    """Each member's mean and (biased) variance per unit over its unmasked rows: (M, 1, U)."""
    weight = ops.expand_dims(mask, -1)
    count = ops.maximum(ops.sum(weight, axis=1, keepdims=True), 1.0)
    mean = ops.sum(x * weight, axis=1, keepdims=True) / count
    variance = ops.sum(ops.square(x - mean) * weight, axis=1, keepdims=True) / count
    return mean, variance


@keras.saving.register_keras_serializable(package="harness")
class StackedNormalization(keras.layers.Layer):
    """Per-member LayerNormalization (kind 'layer': over each row's units) or
    BatchNormalization (kind 'batch': over each member's own unmasked rows in training, with
    per-member moving averages; their moving statistics at inference), Keras' arithmetic."""

    def __init__(self, members: int, kind: str, epsilon: float, center: bool = True, scale: bool = True,
                 momentum: float = 0.99, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.members, self.kind, self.epsilon = int(members), kind, float(epsilon)
        self.center, self.scale, self.momentum = bool(center), bool(scale), float(momentum)

    def build(self, input_shape: Sequence[int]) -> None:
        shape = (self.members, int(input_shape[-1]))
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma") if self.scale else None
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta") if self.center else None
        self.moving_mean = self.moving_variance = None
        if self.kind == "batch":
            self.moving_mean = self.add_weight(shape=shape, initializer="zeros", name="moving_mean", trainable=False)
            self.moving_variance = self.add_weight(shape=shape, initializer="ones", name="moving_variance",
                                                   trainable=False)

    def member_weights(self) -> list[Any]:
        """The variables, in the order of the Keras layer's `weights`."""
        return [w for w in (self.gamma, self.beta, self.moving_mean, self.moving_variance) if w is not None]

    def call(self, x: Any, training: bool = False, row_mask: Any = None) -> Any:
        if self.kind == "layer":
            mean = ops.mean(x, axis=-1, keepdims=True)
            variance = ops.var(x, axis=-1, keepdims=True)
        elif training:
            mean, variance = _masked_moments(x, row_mask if row_mask is not None else ops.ones(ops.shape(x)[:2]))
            momentum = self.momentum
            self.moving_mean.assign(self.moving_mean * momentum + mean[:, 0] * (1.0 - momentum))
            self.moving_variance.assign(self.moving_variance * momentum + variance[:, 0] * (1.0 - momentum))
        else:
            mean, variance = ops.expand_dims(self.moving_mean, 1), ops.expand_dims(self.moving_variance, 1)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            y = y * ops.expand_dims(self.gamma, 1)
        if self.beta is not None:
            y = y + ops.expand_dims(self.beta, 1)
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "members": self.members, "kind": self.kind, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "momentum": self.momentum}


def _mix32(x: Any) -> Any:
    """MurmurHash3's 32-bit finalizer: every input bit flips each output bit with probability
    about 1/2 (uint32 arithmetic wraps, as the hash needs)."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    x = x * tf.constant(0x85EBCA6B, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(13, tf.uint32)))
    x = x * tf.constant(0xC2B2AE35, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def member_uniform(seeds: Any, counter: Any, shape: Any) -> Any:
    """Uniform [0, 1) draws of `shape` (members, batch, units), member m's drawn from its own
    seed and the call counter alone: a member's draws do not depend on which members share its
    model (a counter-based generator, as Philox is, with MurmurHash3's mixer)."""
    members, rows, units = shape[0], shape[1], shape[2]
    golden = tf.constant(0x9E3779B9, tf.uint32)
    stream = _mix32(tf.cast(seeds, tf.uint32) * golden + _mix32(tf.cast(counter, tf.uint32) + golden))
    cells = tf.reshape(tf.range(rows * units), (1, rows, units))
    bits = _mix32(tf.bitwise.bitwise_xor(tf.reshape(stream, (members, 1, 1)), tf.cast(cells, tf.uint32) * golden))
    return tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32) * (1.0 / (1 << 24))


class MemberStreams(keras.layers.Layer):
    """A training-only random layer with an amount (`amount_name`: a dropout rate, a noise
    standard deviation; 0 = nothing here) and a random stream per member.

    Member m's draws at a training call depend only on seeds[m] and how many training calls
    came before, so a member draws the same whichever members it is stacked with.
    """

    amount_name = "amounts"

    def __init__(self, amounts: Sequence[float], seeds: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        setattr(self, self.amount_name, np.asarray(amounts, dtype="float32"))
        self.seeds = np.asarray(seeds, dtype="uint32")
        if self.seeds.shape != self.amounts_.shape:
            raise ValueError(f"one seed per member: {len(self.seeds)} seeds for {len(self.amounts_)} {self.amount_name}")
        # state [0, calls]: a counter carried through the training loop like any layer state
        self.seed_generator = keras.random.SeedGenerator(0)

    @property
    def amounts_(self) -> np.ndarray:
        return getattr(self, self.amount_name)

    def call(self, x: Any, training: bool = False) -> Any:
        if not training or not np.any(self.amounts_ > 0):
            return x
        calls = self.seed_generator.next()[1]
        return self.perturb(x, tf.constant(self.seeds), calls, ops.reshape(ops.convert_to_tensor(self.amounts_), (-1, 1, 1)))

    def perturb(self, x: Any, seeds: Any, calls: Any, amounts: Any) -> Any:
        """x (members, batch, units) with this call's draws applied; `amounts` is (members, 1, 1)."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), self.amount_name: self.amounts_.tolist(), "seeds": self.seeds.tolist()}


@keras.saving.register_keras_serializable(package="harness")
class StackedDropout(MemberStreams):
    """Dropout with its own rate and its own random stream per member."""

    amount_name = "rates"

    def __init__(self, rates: Sequence[float], seeds: Sequence[int], **kwargs: Any) -> None:
        super().__init__(rates, seeds, **kwargs)

    def perturb(self, x: Any, seeds: Any, calls: Any, amounts: Any) -> Any:
        keep = ops.greater_equal(member_uniform(seeds, calls, tf.shape(x)), amounts)
        return ops.where(keep, x / (1.0 - amounts), ops.zeros_like(x))


def member_normal(seeds: Any, counter: Any, shape: Any) -> Any:
    """Standard normal draws of `shape` (members, batch, units), member m's from its own seed
    and the call counter alone (Box–Muller over two `member_uniform` streams)."""
    u1 = member_uniform(seeds, counter * 2, shape)
    u2 = member_uniform(seeds, counter * 2 + 1, shape)
    return ops.sqrt(-2.0 * ops.log(1.0 - u1)) * ops.cos(2.0 * np.pi * u2)


@keras.saving.register_keras_serializable(package="harness")
class StackedGaussianNoise(MemberStreams):
    """GaussianNoise with its own standard deviation and random stream per member."""

    amount_name = "stddevs"

    def __init__(self, stddevs: Sequence[float], seeds: Sequence[int], **kwargs: Any) -> None:
        super().__init__(stddevs, seeds, **kwargs)

    def perturb(self, x: Any, seeds: Any, calls: Any, amounts: Any) -> Any:
        return x + member_normal(seeds, calls, tf.shape(x)) * amounts


def per_row_loss(kind: str, y: Any, y_pred: Any) -> Any:
    """Keras' own loss functions, one value per (member, row)."""
    if kind == "sparse_categorical_crossentropy":
        return keras.losses.sparse_categorical_crossentropy(y, y_pred)
    if kind == "binary_crossentropy":
        return keras.losses.binary_crossentropy(ops.expand_dims(y, -1), y_pred)
    return keras.losses.mean_squared_error(ops.expand_dims(y, -1), y_pred)


class StackedModel(keras.Model):
    """Members trained as one Keras model: the objective is the sum of the members' own losses.

    `make_loop(...)` returns the compiled training loop (`EpochLoop`), which trains on the
    members' resident rows (`set_training_data`).
    """

    def __init__(
        self, stack_layers: Sequence[keras.layers.Layer], members: int, loss_kind: str,
        weight_decay: Sequence[float] | None = None, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if loss_kind not in LOSS_KINDS:
            raise ValueError(f"unknown loss kind {loss_kind!r}")
        self.stack_layers = list(stack_layers)
        self.members = int(members)
        self.loss_kind = loss_kind
        decay = np.zeros(self.members, "float32") if weight_decay is None else np.asarray(weight_decay, "float32")
        self.weight_decay = decay

    def call(self, x: Any, training: bool = False) -> Any:
        return self.forward(x, training)[0]

    def forward(self, x: Any, training: bool, mask: Any = None) -> tuple[Any, Any]:
        """The outputs, and each row's activity penalties summed over layers (M, B)."""
        activity = 0.0
        for layer in self.stack_layers:
            if isinstance(layer, MemberStreams):
                x = layer(x, training=training)
            elif isinstance(layer, StackedNormalization):
                x = layer(x, training=training, row_mask=mask)
            else:
                x = layer(x)
                if isinstance(layer, StackedDense) and layer.row_penalty is not None:
                    activity = activity + layer.activity_penalty(x)
        return x, activity

    def data_losses(self, x: Any, y: Any, mask: Any, training: bool) -> tuple[Any, Any]:
        """(mean loss per member over its unmasked rows, rows per member), both (M,). A row's
        loss includes its activity penalties: Keras adds their batch mean to the loss."""
        y_pred, activity = self.forward(x, training, mask)
        per_row = per_row_loss(self.loss_kind, y, y_pred) + activity
        counts = ops.sum(mask, axis=1)
        return ops.sum(per_row * mask, axis=1) / ops.maximum(counts, 1.0), counts

    def set_training_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x_train = tf.constant(x, dtype="float32")
        self.y_train = tf.constant(y)

    def penalized_variables(self) -> tuple[list[Any], list[np.ndarray], list[np.ndarray]]:
        """Trainable variables in order, with each one's per-member L1 and L2 coefficients
        (M,): a Dense layer's own on its kernel, 0 elsewhere."""
        zeros = np.zeros(self.members, "float32")
        coefficients = {id(layer.kernel): (layer.kernel_regularizer.l1, layer.kernel_regularizer.l2)
                        for layer in self.stack_layers
                        if isinstance(layer, StackedDense) and layer.kernel_regularizer is not None}
        variables = list(self.trainable_variables)
        pairs = [coefficients.get(id(v), (zeros, zeros)) for v in variables]
        return variables, [a for a, _ in pairs], [b for _, b in pairs]

    def member_weights(self) -> list[Any]:
        """Every variable that holds member weights (trainable or not, e.g. moving averages),
        layer by layer in each layer's Keras `weights` order."""
        return [w for layer in self.stack_layers if hasattr(layer, "member_weights") for w in layer.member_weights()]

    def make_loop(self, optimizer: keras.optimizers.Optimizer, batch: int, steps: int, epochs_per_call: int,
                  validation: tuple[Any, Any, Any] | None = None, patience: int | None = None,
                  min_delta: float = 0.0, jit_compile: bool = True) -> "EpochLoop":
        """The compiled training loop: many epochs per call (see `EpochLoop`)."""
        return EpochLoop(self, optimizer, batch, steps, epochs_per_call, validation, patience, min_delta, jit_compile)


class EpochLoop:
    """Up to `epochs_per_call` epochs of a StackedModel in one compiled TensorFlow call.

    `loop(indices, epochs)` trains `epochs` more epochs (at most `epochs_per_call`). Its data:
    row indices (M, epochs_per_call, steps·batch) into the members' resident training rows
    (`set_training_data`: x (M, N, F), y (M, N)), each member's rows in its own order per
    epoch; row b of step s is member m's row indices[m, e, s·batch + b]. A member with fewer
    rows than steps·batch has its tail masked (`row_mask`, (M, steps·batch)): its short last
    batch is padded and masked, as Keras' last batch is short.

    Inside the call, the weights (one tensor per variable, member axis first) are carried
    through a `tf.while_loop` over epochs and, within it, over steps, in Keras' stateless
    style (`keras.StatelessScope`, `stateless_apply`, as Keras' JAX trainer does); the layers'
    variables are written once per call. Per epoch:
    - S optimizer steps. The penalty is l1·Σ|w| + l2·Σw² over each kernel with each member's
      own coefficients, which is what each layer's L1/L2 regularizer adds up; decoupled
      weight decay (an optimizer's `weight_decay`) is w - w·decay·lr per member before the
      update, as Keras applies it; the optimizer (elementwise: its state is per weight)
      updates every member at once. Each member's training loss is its batch losses' mean
      weighted by batch size, as Keras' tracker does.
    - The validation loss (data loss plus penalty, as Keras' `val_loss`), then per-member
      `EarlyStopping(monitor='val_loss', restore_best_weights=True)` as tensors: an epoch
      improves when val_loss + min_delta < best (the first always does); `wait` counts epochs
      since the last improvement; a member stops when wait >= patience (never at epoch 0) and
      keeps its best weights. A member whose training loss is not finite stops at once.
      Stopped members keep being stepped (their updates touch only their own weights) but
      their history ends; the call ends early when no member is left.
    The call returns per epoch and member the training and validation losses and whether the
    epoch counts in that member's history: (epochs_per_call, M) each, read back once per call.
    """

    def __init__(self, model: StackedModel, optimizer: keras.optimizers.Optimizer, batch: int, steps: int,
                 epochs_per_call: int, validation: tuple[Any, Any, Any] | None, patience: int | None,
                 min_delta: float, jit_compile: bool) -> None:
        self.model, self.batch, self.steps, self.epochs_per_call = model, batch, steps, epochs_per_call
        self.validation, self.patience, self.min_delta = validation, patience, abs(min_delta)
        self.variables, l1, l2 = model.penalized_variables()
        self.state_variables = list(model.non_trainable_variables)
        members = model.members
        optimizer.build(self.variables)
        self.optimizer = optimizer
        self.optimizer_variables = list(optimizer.variables)
        self.penalties = [(tf.constant(a), tf.constant(b), bool(np.any(a)), bool(np.any(b))) for a, b in zip(l1, l2)]
        self.decay = model.weight_decay if np.any(model.weight_decay > 0) else None
        self.stopping = validation is not None and patience is not None
        # per-member early-stopping state, kept between calls
        self.epoch = tf.Variable(0, dtype=tf.int32)
        self.active = tf.Variable(np.ones(members, bool))
        self.best = tf.Variable(np.zeros(members, "float32"))
        self.has_best = tf.Variable(np.zeros(members, bool))
        self.best_epoch = tf.Variable(np.zeros(members, "int32"))
        self.wait = tf.Variable(np.zeros(members, "int32"))
        # what restore_best_weights restores: the trainable weights and the member-weight state
        # (BatchNormalization's moving averages), not random-stream counters
        member_ids = {id(v) for v in model.member_weights()}
        self.kept = [i for i, v in enumerate(self.state_variables) if id(v) in member_ids]
        self.best_of = self.variables + [self.state_variables[i] for i in self.kept]
        self.best_weights_ = [tf.Variable(np.zeros(v.shape if self.stopping else (0,), "float32")) for v in self.best_of]
        self.function = tf.function(self._call, jit_compile=jit_compile)

    def __call__(self, indices: np.ndarray, row_mask: Any, epochs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if indices.shape[1] < self.epochs_per_call:  # one shape for every call: one trace, one compilation
            indices = np.pad(indices, ((0, 0), (0, self.epochs_per_call - indices.shape[1]), (0, 0)))
        loss, val, recorded = self.function(tf.constant(indices), row_mask, tf.constant(epochs, tf.int32))
        return loss.numpy(), val.numpy(), recorded.numpy()

    def penalty(self, weights: Sequence[Any]) -> Any:
        """Each member's L1/L2 penalty, (M,)."""
        total = ops.zeros((self.model.members,))
        for w, (l1, l2, has_l1, has_l2) in zip(weights, self.penalties):
            axes = tuple(range(1, len(w.shape)))
            if has_l1:
                total = total + l1 * ops.sum(ops.absolute(w), axis=axes)
            if has_l2:
                total = total + l2 * ops.sum(ops.square(w), axis=axes)
        return total

    def update(self, weights: list[Any], gradients: list[Any], optimizer_state: list[Any]):
        """One optimizer update of every member, with the penalty's gradient (d|w| = sign(w),
        dw² = 2w, TensorFlow's own gradients of abs and square) and the decoupled weight decay
        (w - w·decay·lr, before the update, as Keras applies it)."""
        penalty = self.penalty(weights)
        gradients = list(gradients)
        for i, (w, (l1, l2, has_l1, has_l2)) in enumerate(zip(weights, self.penalties)):
            if has_l1:
                gradients[i] = gradients[i] + _per_member(l1, w) * ops.sign(w)
            if has_l2:
                gradients[i] = gradients[i] + 2.0 * _per_member(l2, w) * w
        if self.decay is not None:
            rate = ops.cast(self.optimizer.learning_rate, "float32")
            weights = [w - w * _per_member(tf.constant(self.decay), w) * rate for w in weights]
        weights, optimizer_state = self.optimizer.stateless_apply(optimizer_state, gradients, weights)
        return list(weights), optimizer_state, penalty

    def stop_state(self) -> list[Any]:
        """The per-member early-stopping variables, (M,) each."""
        return [self.active, self.best, self.has_best, self.best_epoch, self.wait]

    def best_weights(self) -> dict[int, np.ndarray] | None:
        """{id(variable): each member's best-epoch values} for the member weights (a member's
        final ones where it never had a best epoch); None without early stopping."""
        if not self.stopping:
            return None
        has_best = self.has_best.numpy()
        return {id(v): np.where(has_best.reshape((-1,) + (1,) * (len(v.shape) - 1)), b.numpy(), v.numpy())
                for b, v in zip(self.best_weights_, self.best_of)}

    def _mapping(self, weights: Sequence[Any], state: Sequence[Any]) -> list[tuple[Any, Any]]:
        return list(zip(self.variables, weights)) + list(zip(self.state_variables, state))

    def _step(self, indices, row_mask, epoch, step, weights, state, optimizer_state, loss_sum, loss_count):
        members, width = self.model.members, self.batch
        rows = tf.slice(indices, [0, epoch, step * width], [members, 1, width])[:, 0]
        mask = tf.slice(row_mask, [0, step * width], [members, width])
        x = tf.gather(self.model.x_train, rows, batch_dims=1)
        y = tf.gather(self.model.y_train, rows, batch_dims=1)
        with tf.GradientTape() as tape:
            tape.watch(weights)
            with keras.StatelessScope(state_mapping=self._mapping(weights, state)) as scope:
                losses, counts = self.model.data_losses(x, y, mask, training=True)
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
        x_val, y_val, val_mask = self.validation
        with keras.StatelessScope(state_mapping=self._mapping(weights, state)):
            data_loss, _ = self.model.data_losses(x_val, y_val, val_mask, training=False)
        return data_loss + self.penalty(weights)

    def _stop(self, epoch, loss, val, weights, stop):
        """Keras' EarlyStopping rule for every member at once (see the class docstring)."""
        active, best, has_best, best_epoch, wait, best_weights = stop
        active = active & tf.math.is_finite(loss)
        if not self.stopping:
            return active, best, has_best, best_epoch, wait, best_weights
        wait = tf.where(active, wait + 1, wait)
        improved = active & (~has_best | (val + self.min_delta < best))
        best = tf.where(improved, val, best)
        has_best = has_best | improved
        best_epoch = tf.where(improved, epoch, best_epoch)
        wait = tf.where(improved, 0, wait)
        best_weights = [tf.where(_per_member(improved, w), w, b) for w, b in zip(weights, best_weights)]
        active = active & ~((epoch > 0) & (wait >= self.patience) & ~improved)
        return active, best, has_best, best_epoch, wait, best_weights

    def _call(self, indices, row_mask, epochs):
        members = self.model.members
        stop_variables = [self.active, self.best, self.has_best, self.best_epoch, self.wait]
        history = tf.zeros((self.epochs_per_call, members))

        def one_epoch(i, weights, state, optimizer_state, stop, loss_history, val_history, recorded):
            weights, state, optimizer_state, loss = self._epoch(indices, row_mask, i, weights, state, optimizer_state)
            val = self._validation_loss(weights, state) if self.validation is not None else tf.zeros_like(loss)
            at = [[i]]
            recorded = tf.tensor_scatter_nd_update(recorded, at, [stop[0]])
            loss_history = tf.tensor_scatter_nd_update(loss_history, at, [loss])
            val_history = tf.tensor_scatter_nd_update(val_history, at, [val])
            stop = self._stop(self.epoch + i, loss, val, list(weights) + [state[k] for k in self.kept], stop)
            return i + 1, weights, state, optimizer_state, stop, loss_history, val_history, recorded

        initial = (tf.constant(0), [v.value for v in self.variables], [v.value for v in self.state_variables],
                   [v.value for v in self.optimizer_variables],
                   tuple(v.value() for v in stop_variables) + ([v.value() for v in self.best_weights_],),
                   history, history, tf.zeros((self.epochs_per_call, members), tf.bool))
        done, weights, state, optimizer_state, stop, loss_history, val_history, recorded = tf.while_loop(
            lambda i, *carry: (i < epochs) & tf.reduce_any(carry[3][0]), one_epoch, initial)
        for variable, value in zip(self.variables + self.state_variables + self.optimizer_variables
                                   + stop_variables + self.best_weights_,
                                   list(weights) + list(state) + list(optimizer_state) + list(stop[:5]) + list(stop[5])):
            variable.assign(value)
        self.epoch.assign_add(done)
        return loss_history, val_history, recorded


def _per_member(values: Any, like: Any) -> Any:
    """(M,) values shaped to broadcast against a (M, ...) tensor."""
    return ops.reshape(values, (-1,) + (1,) * (len(like.shape) - 1))
