"""The practical limit on this CPU for `make perf`'s grid: a hand-written fused training loop.

The same arithmetic as the stacked engine's on the grid (members side by side, each its own
rows in its own order per epoch, Dense layers as batched matrix products, softmax
cross-entropy, each member's L2 penalty on its hidden kernels, Keras' Adam), written directly
in TensorFlow as one XLA program: every epoch and step in one `tf.while_loop`, no Keras, no
early stopping, no per-member bookkeeping beyond the row mask. Its time per member is the whole
path too (initial weights, batch orders, tracing, compilation, training, the test rows'
forward pass), so `stacked ÷ fused` is what the engine's generality costs over code written for
this one network.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

#: Keras' Adam defaults (`keras.optimizers.Adam`)
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7


def _glorot(rng: np.random.Generator, members: int, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (members, fan_in, fan_out)).astype("float32")


def _member_arrays(splits: Sequence[Any], seeds: Sequence[int], epochs: int, batch: int):
    """The members' resident rows, targets, batch orders (a fresh permutation of each member's
    own rows per epoch, from its seed) and row mask, padded to the longest member."""
    members = len(splits)
    rows = max(len(fd.x_fit) for fd in splits)
    steps = -(-rows // batch)
    x = np.zeros((members, rows, splits[0].n_inputs), "float32")
    y = np.zeros((members, rows), "int32")
    orders = np.zeros((members, epochs, steps * batch), "int32")
    mask = np.zeros((members, steps * batch), "float32")
    for m, (fd, seed) in enumerate(zip(splits, seeds)):
        n = len(fd.x_fit)
        x[m, :n], y[m, :n] = fd.x_fit, fd.y_fit
        orders[m, :, :n] = np.random.default_rng(seed).permuted(
            np.broadcast_to(np.arange(n, dtype="int32"), (epochs, n)), axis=1)
        mask[m, :n] = 1.0
    return x, y, orders, mask, steps


def _initial(members: int, sizes: Sequence[int], l2: Sequence[float]) -> tuple[list[np.ndarray], np.ndarray]:
    """Glorot-uniform kernels and zero biases per member, and each weight's L2 coefficient per
    member (the hidden kernels' own; 0 for biases and the output kernel)."""
    rng = np.random.default_rng(0)
    weights = []
    for a, b in zip(sizes, sizes[1:]):
        weights += [_glorot(rng, members, a, b), np.zeros((members, 1, b), "float32")]
    penalty = np.zeros((len(weights), members, 1, 1), "float32")
    for layer in range(len(sizes) - 2):
        penalty[2 * layer] = np.asarray(l2, "float32")[:, None, None]
    return weights, penalty


def fused_fit(splits: Sequence[Any], l2: Sequence[float], seeds: Sequence[int], hidden: Sequence[int],
              epochs: int, batch: int, learning_rate: float) -> tuple[float, list[float]]:
    """Train one member per (split, l2, seed) and score it on its split's test rows; return
    (seconds for the whole path, each member's test accuracy)."""
    import tensorflow as tf

    start = time.perf_counter()
    members = len(splits)
    x, y, orders, mask, steps = _member_arrays(splits, seeds, epochs, batch)
    weights, penalty = _initial(members, [splits[0].n_inputs, *hidden, int(splits[0].n_outputs)], l2)

    def forward(params, inputs):
        h = inputs
        for i in range(0, len(params), 2):
            h = tf.matmul(h, params[i]) + params[i + 1]
            if i + 2 < len(params):
                h = tf.nn.relu(h)
        return h

    def train(params, x, y, orders, mask):
        moments = [tf.zeros_like(p) for p in params]
        velocities = [tf.zeros_like(p) for p in params]

        def step(t, params, moments, velocities):
            epoch, s = t // steps, t % steps
            take = tf.slice(orders, [0, epoch, s * batch], [members, 1, batch])[:, 0]
            weight = tf.slice(mask, [0, s * batch], [members, batch])
            xb, yb = tf.gather(x, take, batch_dims=1), tf.gather(y, take, batch_dims=1)
            with tf.GradientTape() as tape:
                tape.watch(params)
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, forward(params, xb))
                data = tf.reduce_sum(losses * weight, axis=1) / tf.maximum(tf.reduce_sum(weight, axis=1), 1.0)
                total = tf.reduce_sum(data) + sum(tf.reduce_sum(penalty[i] * tf.square(p)) for i, p in enumerate(params))
            grads = tape.gradient(total, params)
            count = tf.cast(t + 1, tf.float32)
            rate = learning_rate * tf.sqrt(1 - BETA_2**count) / (1 - BETA_1**count)
            moments = [BETA_1 * mo + (1 - BETA_1) * g for mo, g in zip(moments, grads)]
            velocities = [BETA_2 * v + (1 - BETA_2) * tf.square(g) for v, g in zip(velocities, grads)]
            params = [p - rate * mo / (tf.sqrt(v) + EPSILON) for p, mo, v in zip(params, moments, velocities)]
            return t + 1, params, moments, velocities

        _, params, _, _ = tf.while_loop(lambda t, *_: t < epochs * steps, step,
                                        (tf.constant(0), list(params), moments, velocities))
        return params

    trained = tf.function(train, jit_compile=True)([tf.constant(w) for w in weights], tf.constant(x), tf.constant(y),
                                                  tf.constant(orders), tf.constant(mask))
    scores = []
    for m, fd in enumerate(splits):
        logits = forward([p[m] for p in trained], tf.constant(fd.x_test))
        scores.append(float(np.mean(np.argmax(logits.numpy(), axis=1) == fd.y_test)))
    return time.perf_counter() - start, scores
