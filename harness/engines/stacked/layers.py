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

from ...regularizers import penalty_value

from .reading import PER_ROW_LOSSES


@keras.saving.register_keras_serializable(package="harness")
class StackedL1L2(keras.regularizers.Regularizer):
    """Per-member L1/L2 kernel penalty: member m pays l1[m]·Σ|W_m| + l2[m]·ΣW_m²."""

    def __init__(self, l1: Sequence[float], l2: Sequence[float]) -> None:
        self.l1 = np.asarray(l1, dtype="float32")
        self.l2 = np.asarray(l2, dtype="float32")

    def per_member(self, x: Any) -> Any:
        return penalty_value(x, self.l1, self.l2, axis=tuple(range(1, len(x.shape))))

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
        return penalty_value(y, l1, l2, axis=-1)

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


@keras.saving.register_keras_serializable(package="harness")
class StackedConv(keras.layers.Layer):
    """`members` independent Conv1D/Conv2D layers (channels last): y[m] = activation(conv(x[m],
    W[m]) + b[m]) on activations (M, B, *spatial, C), as one grouped convolution. Members
    become channel groups of one batch, (B, *spatial, M·C), convolved with the kernels side by
    side, (*kernel, C, M·F): each group of filters sees only its own member's channels.

    Measured on this project's 2-core CPU (`python -m harness.perf_conv`: 90 members, 32 rows
    of 8×8×8, 3×3 kernels to 16 filters, forward and backward): 21.9 ms per step in TensorFlow's
    executor; the batched form (patches, then one matmul per member) 62.5 ms, and 126 ms under
    XLA, whose grouped convolution took 8.4 s. So stacked models with convolutions run in
    TensorFlow's executor (`worth_compiling`)."""

    def __init__(self, members: int, rank: int, filters: int, kernel_size: Sequence[int], strides: Sequence[int],
                 padding: str, dilation_rate: Sequence[int], activation: Any = None, use_bias: bool = True,
                 kernel_regularizer: StackedL1L2 | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.members, self.rank, self.filters = int(members), int(rank), int(filters)
        self.kernel_size, self.strides = tuple(kernel_size), tuple(strides)
        self.padding, self.dilation_rate = padding, tuple(dilation_rate)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_regularizer = kernel_regularizer

    def build(self, input_shape: Sequence[int]) -> None:
        channels = int(input_shape[-1])
        self.kernel = self.add_weight(shape=(self.members, *self.kernel_size, channels, self.filters),
                                      initializer="zeros", name="kernel", regularizer=self.kernel_regularizer)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.members, self.filters), initializer="zeros", name="bias")

    def call(self, x: Any) -> Any:
        members, rank, channels = self.members, self.rank, int(x.shape[-1])
        spatial = list(x.shape[2:-1])
        rows = tf.shape(x)[1]
        grouped = tf.reshape(tf.transpose(x, [1, *range(2, 2 + rank), 0, 2 + rank]), [rows, *spatial, members * channels])
        kernel = tf.transpose(self.kernel, [*range(1, 1 + rank), 1 + rank, 0, 2 + rank])
        kernel = tf.reshape(kernel, [*self.kernel_size, channels, members * self.filters])
        if rank == 1:  # as a 2-D convolution of height 1 (TensorFlow's own conv1d does the same)
            y = tf.nn.conv2d(grouped[:, None], kernel[None], [1, 1, *self.strides, 1], self.padding.upper(),
                             dilations=[1, 1, *self.dilation_rate, 1])[:, 0]
        else:
            y = tf.nn.conv2d(grouped, kernel, [1, *self.strides, 1], self.padding.upper(),
                             dilations=[1, *self.dilation_rate, 1])
        out_spatial = list(y.shape[1:-1])
        y = tf.reshape(y, [rows, *out_spatial, members, self.filters])
        y = tf.transpose(y, [1 + rank, 0, *range(1, 1 + rank), 2 + rank])
        if self.bias is not None:
            y = y + ops.reshape(self.bias, (members,) + (1,) * (rank + 1) + (self.filters,))
        return self.activation(y)

    def member_weights(self) -> list[Any]:
        """The variables, in the order of a Keras Conv layer's `weights`."""
        return [self.kernel] + ([self.bias] if self.bias is not None else [])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "members": self.members, "rank": self.rank, "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides), "padding": self.padding,
                "dilation_rate": list(self.dilation_rate), "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)
                if self.kernel_regularizer else None}


@keras.saving.register_keras_serializable(package="harness")
class StackedReshape(keras.layers.Layer):
    """Reshape (and Flatten: `target_shape` (-1,)) of each row, the member and row axes kept."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, x: Any) -> Any:
        shape = tf.shape(x)
        return tf.reshape(x, tf.concat([shape[:2], tf.constant(self.target_shape, tf.int32)], axis=0))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@keras.saving.register_keras_serializable(package="harness")
class StackedPooling(keras.layers.Layer):
    """Max or average pooling of each row (`pool_size` windows; `pool_size` None: global, over
    every spatial position), as Keras' pooling layers compute it: members and rows are one batch
    for it, since pooling has no weights."""

    def __init__(self, kind: str, rank: int, pool_size: Sequence[int] | None, strides: Sequence[int] | None = None,
                 padding: str = "valid", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind, self.rank, self.padding = kind, int(rank), padding
        self.pool_size = None if pool_size is None else tuple(pool_size)
        self.strides = None if strides is None else tuple(strides)

    def call(self, x: Any) -> Any:
        if self.pool_size is None:
            axes = list(range(2, 2 + self.rank))
            return ops.max(x, axis=axes) if self.kind == "max" else ops.mean(x, axis=axes)
        shape = tf.shape(x)
        spatial, channels = list(x.shape[2:-1]), int(x.shape[-1])
        flat = tf.reshape(x, [shape[0] * shape[1], *spatial, channels])
        pooled = tf.nn.pool(flat, self.pool_size, "MAX" if self.kind == "max" else "AVG",
                            strides=self.strides, padding=self.padding.upper())
        return tf.reshape(pooled, tf.concat([shape[:2], tf.shape(pooled)[1:]], axis=0))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kind": self.kind, "rank": self.rank, "padding": self.padding,
                "pool_size": None if self.pool_size is None else list(self.pool_size),
                "strides": None if self.strides is None else list(self.strides)}


def _per_member(value: Any, rank: int) -> Any:
    """A (M, U) tensor shaped to broadcast over activations of `rank` axes (M, B, …, U)."""
    return ops.reshape(value, (ops.shape(value)[0],) + (1,) * (rank - 2) + (ops.shape(value)[-1],))


def _masked_moments(x: Any, mask: Any) -> tuple[Any, Any]:
    """Each member's mean and (biased) variance per unit over its unmasked rows (and, for
    convolutions' activations, every spatial position of them): (M, U)."""
    rank = len(x.shape)
    axes = tuple(range(1, rank - 1))
    weight = ops.reshape(mask, tuple(ops.shape(mask)) + (1,) * (rank - 2))
    positions = float(np.prod([int(d) for d in x.shape[2:-1]])) if rank > 3 else 1.0
    count = ops.maximum(ops.sum(weight, axis=axes, keepdims=True) * positions, 1.0)
    mean = ops.sum(x * weight, axis=axes, keepdims=True) / count
    variance = ops.sum(ops.square(x - mean) * weight, axis=axes, keepdims=True) / count
    units = (ops.shape(x)[0], ops.shape(x)[-1])
    return ops.reshape(mean, units), ops.reshape(variance, units)


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
        rank = len(x.shape)
        if self.kind == "layer":
            mean = ops.mean(x, axis=-1, keepdims=True)
            variance = ops.var(x, axis=-1, keepdims=True)
        elif training:
            mean, variance = _masked_moments(x, row_mask if row_mask is not None else ops.ones(ops.shape(x)[:2]))
            momentum = self.momentum
            self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
            self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))
            mean, variance = _per_member(mean, rank), _per_member(variance, rank)
        else:
            mean, variance = _per_member(self.moving_mean, rank), _per_member(self.moving_variance, rank)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            y = y * _per_member(self.gamma, rank)
        if self.beta is not None:
            y = y + _per_member(self.beta, rank)
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
        amounts = ops.reshape(ops.convert_to_tensor(self.amounts_), (-1, 1, 1))
        if len(x.shape) == 3:
            return self.perturb(x, tf.constant(self.seeds), calls, amounts)
        shape = tf.shape(x)  # a convolution's activations: each row's values as one vector
        flat = tf.reshape(x, tf.concat([shape[:2], [-1]], axis=0))
        return tf.reshape(self.perturb(flat, tf.constant(self.seeds), calls, amounts), shape)

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


def per_row_loss(kind: tuple[Any, ...], y: Any, y_pred: Any) -> Any:
    """Keras' own loss function `kind` = (name, keyword arguments), one value per (member,
    row): targets (M, B) against outputs (M, B, units), as Keras' loss wrapper ranks them
    (class indices for sparse cross-entropy, one target per output unit otherwise)."""
    name, kwargs = kind
    function = getattr(keras.losses, name)
    target = y if name == "sparse_categorical_crossentropy" else ops.cast(ops.expand_dims(y, -1), y_pred.dtype)
    return function(target, y_pred, **dict(kwargs))


class StackedModel(keras.Model):
    """Members trained as one Keras model: the objective is the sum of the members' own losses.

    The compiled training loop (`harness.engines.stacked.loop.EpochLoop`) trains it on the
    members' resident rows (`set_training_data`).
    """

    def __init__(
        self, stack_layers: Sequence[keras.layers.Layer], members: int, loss_kind: tuple[Any, ...],
        weight_decay: Sequence[float] | None = None, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if loss_kind[0] not in PER_ROW_LOSSES:
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

    def data_losses(self, x: Any, y: Any, mask: Any, training: bool, weights: Any = None) -> tuple[Any, Any]:
        """(mean loss per member over its unmasked rows, rows per member), both (M,). A row's
        loss is weighted by its row weight (M, B) where there are any (Keras: Σ wᵢ·lossᵢ ÷
        batch size); it includes its activity penalties, unweighted (Keras adds their batch
        mean to the loss)."""
        y_pred, activity = self.forward(x, training, mask)
        per_row = per_row_loss(self.loss_kind, y, y_pred)
        if weights is not None:
            per_row = per_row * weights
        per_row = per_row + activity
        counts = ops.sum(mask, axis=1)
        return ops.sum(per_row * mask, axis=1) / ops.maximum(counts, 1.0), counts

    def set_training_data(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
                          source: np.ndarray | None = None) -> None:
        """The resident training rows of the members' distinct splits (S, N, …), targets (S, N)
        and row weights (S, N) or None, and each member's split among them (`source`, (M,);
        default: member m has split m). Members that share a split (the variants of a paired
        design) share its rows: they are held once, not once per member, flat as (S·N, …), and
        member m's row r is row `row_base[m] + r`."""
        source = np.arange(len(x)) if source is None else np.asarray(source)
        rows = x.shape[1]
        self.x_train = tf.constant(x.reshape((-1,) + x.shape[2:]), dtype="float32")
        self.y_train = tf.constant(y.reshape((-1,) + y.shape[2:]))
        self.w_train = None if weights is None else tf.constant(weights.reshape(-1), dtype="float32")
        self.row_base = tf.constant((source * rows).astype("int32")[:, None])

    def training_rows(self, rows: Any) -> tuple[Any, Any, Any]:
        """Each member's rows `rows` (M, B) of its split: x (M, B, …), y (M, B), weights or None."""
        at = rows + self.row_base
        w = None if self.w_train is None else tf.gather(self.w_train, at)
        return tf.gather(self.x_train, at), tf.gather(self.y_train, at), w

    def penalized_variables(self) -> tuple[list[Any], list[np.ndarray], list[np.ndarray]]:
        """Trainable variables in order, with each one's per-member L1 and L2 coefficients
        (M,): a Dense or Conv layer's own on its kernel, 0 elsewhere."""
        zeros = np.zeros(self.members, "float32")
        coefficients = {id(layer.kernel): (layer.kernel_regularizer.l1, layer.kernel_regularizer.l2)
                        for layer in self.stack_layers
                        if isinstance(layer, (StackedDense, StackedConv)) and layer.kernel_regularizer is not None}
        variables = list(self.trainable_variables)
        pairs = [coefficients.get(id(v), (zeros, zeros)) for v in variables]
        return variables, [a for a, _ in pairs], [b for _, b in pairs]

    def member_weights(self) -> list[Any]:
        """Every variable that holds member weights (trainable or not, e.g. moving averages),
        layer by layer in each layer's Keras `weights` order."""
        return [w for layer in self.stack_layers if hasattr(layer, "member_weights") for w in layer.member_weights()]
