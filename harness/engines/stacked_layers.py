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
        kernel_regularizer: StackedL1L2 | None = None, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.members, self.units, self.use_bias = int(members), int(units), bool(use_bias)
        self.activation = keras.activations.get(activation)
        self.kernel_regularizer = kernel_regularizer

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

    def member_penalty(self) -> Any:
        """Each member's kernel penalty, shape (members,)."""
        if self.kernel_regularizer is None:
            return ops.zeros((self.members,))
        return self.kernel_regularizer.per_member(self.kernel)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
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


@keras.saving.register_keras_serializable(package="harness")
class StackedDropout(keras.layers.Layer):
    """Dropout with its own rate (0 = no dropout here) and its own random stream per member.

    Member m's mask at a training call depends only on seeds[m] and how many training calls
    came before, so a member drops the same units whichever members it is stacked with.
    """

    def __init__(self, rates: Sequence[float], seeds: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rates = np.asarray(rates, dtype="float32")
        self.seeds = np.asarray(seeds, dtype="uint32")
        if self.seeds.shape != self.rates.shape:
            raise ValueError(f"one seed per member: {len(self.seeds)} seeds for {len(self.rates)} rates")
        # state [0, calls]: a counter carried through the training loop like any layer state
        self.seed_generator = keras.random.SeedGenerator(0)

    def call(self, x: Any, training: bool = False) -> Any:
        if not training or not np.any(self.rates > 0):
            return x
        calls = self.seed_generator.next()[1]
        uniform = member_uniform(tf.constant(self.seeds), calls, tf.shape(x))
        rates = ops.reshape(ops.convert_to_tensor(self.rates), (-1, 1, 1))
        keep = ops.greater_equal(uniform, rates)
        return ops.where(keep, x / (1.0 - rates), ops.zeros_like(x))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rates": self.rates.tolist(), "seeds": self.seeds.tolist()}


def per_row_loss(kind: str, y: Any, y_pred: Any) -> Any:
    """Keras' own loss functions, one value per (member, row)."""
    if kind == "sparse_categorical_crossentropy":
        return keras.losses.sparse_categorical_crossentropy(y, y_pred)
    if kind == "binary_crossentropy":
        return keras.losses.binary_crossentropy(ops.expand_dims(y, -1), y_pred)
    return keras.losses.mean_squared_error(ops.expand_dims(y, -1), y_pred)


class StackedModel(keras.Model):
    """Members trained as one Keras model: the objective is the sum of the members' own losses.

    `make_train_epoch(optimizer)` returns the training function. Its data is one epoch: row
    indices and a row mask, both (S, M, B), into the members' resident training rows
    (`set_training_data`: x (M, N, F), y (M, N)); it takes the epoch's S optimizer steps in
    order, step s feeding member m the rows idx[s, m] of its own data. Row b counts when
    mask[s, m, b] is 1, so a member's short last batch is padded and masked.

    Inside the epoch, every member's weights are one row of a flat (M, P) tensor, carried
    through the loop in Keras' stateless style (`keras.StatelessScope`, `stateless_apply`, as
    Keras' JAX trainer does) and written back to the layers' variables after the epoch. The
    arithmetic is Keras' own, elementwise; it only takes far fewer operations per step:
    - the penalty is l1·|w| + l2·w² summed with per-element coefficients (each member's own,
      on hidden kernels only), which is what each layer's L1/L2 regularizer adds up;
    - decoupled weight decay (an optimizer's `weight_decay`) is w - w·decay·lr per member,
      before the update, as Keras applies it;
    - the optimizer (elementwise: its state is per weight) updates the flat tensor at once.
    Each member's mean training loss over the epoch, weighted by batch size as Keras' loss
    tracker weighs it, is returned as `member_loss`.
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
        for layer in self.stack_layers:
            x = layer(x, training=training) if isinstance(layer, StackedDropout) else layer(x)
        return x

    def data_losses(self, x: Any, y: Any, mask: Any, training: bool) -> tuple[Any, Any]:
        """(mean loss per member over its unmasked rows, rows per member), both (M,)."""
        per_row = per_row_loss(self.loss_kind, y, self(x, training=training))
        counts = ops.sum(mask, axis=1)
        return ops.sum(per_row * mask, axis=1) / ops.maximum(counts, 1.0), counts

    def member_losses(self, x: Any, y: Any, mask: Any, training: bool = False) -> Any:
        """Each member's loss including its layers' penalties, as Keras reports `val_loss`."""
        data_loss, _ = self.data_losses(x, y, mask, training)
        penalties = [layer.member_penalty() for layer in self.stack_layers if isinstance(layer, StackedDense)]
        return data_loss + sum(penalties, ops.zeros((self.members,)))

    def set_training_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x_train = tf.constant(x, dtype="float32")
        self.y_train = tf.constant(y)

    def _flat_layout(self) -> tuple[list[Any], list[int], np.ndarray, np.ndarray]:
        """Trainable variables in order, their sizes per member, and per-element L1/L2
        coefficients (M, P) over the flat layout."""
        variables, sizes, l1, l2 = [], [], [], []
        for layer in self.stack_layers:
            if not isinstance(layer, StackedDense):
                continue
            penalty = layer.kernel_regularizer
            for variable in [layer.kernel] + ([layer.bias] if layer.bias is not None else []):
                size = int(np.prod(variable.shape[1:]))
                on_kernel = variable is layer.kernel and penalty is not None
                l1.append(np.repeat((penalty.l1 if on_kernel else np.zeros(self.members, "float32"))[:, None], size, 1))
                l2.append(np.repeat((penalty.l2 if on_kernel else np.zeros(self.members, "float32"))[:, None], size, 1))
                variables.append(variable)
                sizes.append(size)
        return variables, sizes, np.concatenate(l1, 1), np.concatenate(l2, 1)

    def _update_function(self, optimizer: keras.optimizers.Optimizer, l1: np.ndarray, l2: np.ndarray,
                         has_penalty: bool, has_decay: bool) -> Any:
        """One optimizer update of every member's flat weights, with the penalty and its
        gradient (d|w| = sign(w), dw² = 2w, TensorFlow's own gradients of abs and square) and
        the decoupled weight decay fused in: elementwise work over all (M, P) weights as one
        compiled loop instead of a dozen passes."""
        l1, l2 = tf.constant(l1), tf.constant(l2)
        decay = tf.constant(self.weight_decay[:, None])

        def apply_update(flat, gradient, optimizer_state):
            penalty = ops.zeros((self.members,))
            if has_penalty:
                penalty = ops.sum(l1 * ops.absolute(flat) + l2 * ops.square(flat), axis=1)
                gradient = gradient + l1 * ops.sign(flat) + 2.0 * l2 * flat
            if has_decay:
                flat = flat - flat * decay * ops.cast(optimizer.learning_rate, "float32")
            [flat], optimizer_state = optimizer.stateless_apply(optimizer_state, [gradient], [flat])
            return flat, optimizer_state, penalty

        return tf.function(apply_update, jit_compile=True)

    def make_train_epoch(self, optimizer: keras.optimizers.Optimizer, jit_compile: bool = False) -> Any:
        """The compiled one-epoch training function (see the class docstring)."""
        variables, sizes, l1, l2 = self._flat_layout()
        shapes = [tuple(v.shape) for v in variables]
        state_variables = list(self.non_trainable_variables)
        flat_reference = keras.Variable(np.zeros((self.members, sum(sizes)), "float32"), name="flat_parameters")
        optimizer.build([flat_reference])
        optimizer_variables = list(optimizer.variables)
        has_penalty, has_decay = bool(np.any(l1) or np.any(l2)), bool(np.any(self.weight_decay > 0))

        def unflatten(flat: Any) -> list[Any]:
            return [ops.reshape(piece, shape) for piece, shape in zip(tf.split(flat, sizes, axis=1), shapes)]

        def one_step(step, flat, state, optimizer_state, loss_sum, loss_count, indices, masks):
            rows = indices[step]
            x = tf.gather(self.x_train, rows, batch_dims=1)
            y = tf.gather(self.y_train, rows, batch_dims=1)
            with tf.GradientTape() as tape:
                tape.watch(flat)
                mapping = list(zip(variables, unflatten(flat))) + list(zip(state_variables, state))
                with keras.StatelessScope(state_mapping=mapping) as scope:
                    losses, counts = self.data_losses(x, y, masks[step], training=True)
                total = ops.sum(losses)
            gradient = tape.gradient(total, flat)
            state = [scope.get_current_value(v) for v in state_variables]
            flat, optimizer_state, penalty = update(flat, gradient, optimizer_state)
            losses = losses + penalty
            return step + 1, flat, state, optimizer_state, loss_sum + losses * counts, loss_count + counts

        update = self._update_function(optimizer, l1, l2, has_penalty, has_decay)

        def train_epoch(indices: Any, masks: Any) -> Any:
            flat = ops.concatenate([ops.reshape(v.value, (self.members, -1)) for v in variables], axis=1)
            initial = (
                tf.constant(0), flat, [v.value for v in state_variables], [v.value for v in optimizer_variables],
                ops.zeros((self.members,)), ops.zeros((self.members,)),
            )
            _, flat, state, optimizer_state, loss_sum, loss_count = tf.while_loop(
                lambda step, *_: step < tf.shape(indices)[0],
                lambda *carry: one_step(*carry, indices, masks)[:6],
                initial,
            )
            for variable, value in zip(variables + state_variables + optimizer_variables,
                                       unflatten(flat) + state + optimizer_state):
                variable.assign(value)
            return loss_sum / ops.maximum(loss_count, 1.0)

        return tf.function(train_epoch, jit_compile=jit_compile)
