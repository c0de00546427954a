"""Early stopping per member: Keras' `EarlyStopping(monitor='val_loss', patience, min_delta,
restore_best_weights=True)` rule for every member of a stacked model at once, as tensors a
compiled training loop carries from epoch to epoch.

An epoch improves when val_loss + min_delta < best (the first always does); `wait` counts the
epochs since the last improvement; a member stops when wait >= patience (never at epoch 0) and
keeps its best epoch's weights. A member whose training loss is not finite stops at once,
with or without a patience (Keras' `TerminateOnNaN`).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf


def per_member(values: Any, like: Any) -> Any:
    """(M,) values shaped to broadcast against a (M, ...) tensor."""
    return tf.reshape(values, (-1,) + (1,) * (len(like.shape) - 1))


class MemberStopping:
    """The stopping state of `members` members and the rule that updates it.

    `watching` is whether there is a validation loss and a patience (else only a non-finite
    training loss stops a member, and no best weights are kept); `kept` are the shapes of the
    weights a member's best epoch keeps (its trainable weights and any member state such as
    BatchNormalization's moving averages). The state lives in variables between compiled
    calls (`variables`, `best_weights`); inside a call it is a tuple of tensors (`values`),
    which `step` maps to the next epoch's and `assign` writes back.
    """

    def __init__(self, members: int, patience: int | None, min_delta: float, watching: bool,
                 kept: Sequence[Sequence[int]]) -> None:
        self.patience, self.min_delta, self.watching = patience, abs(min_delta), watching
        self.active = tf.Variable(np.ones(members, bool))
        self.best = tf.Variable(np.zeros(members, "float32"))
        self.has_best = tf.Variable(np.zeros(members, bool))
        self.best_epoch = tf.Variable(np.zeros(members, "int32"))
        self.wait = tf.Variable(np.zeros(members, "int32"))
        self.best_weights = [tf.Variable(np.zeros(shape if watching else (0,), "float32")) for shape in kept]

    @property
    def variables(self) -> list[tf.Variable]:
        """The per-member state, (M,) each: active, best, has_best, best_epoch, wait."""
        return [self.active, self.best, self.has_best, self.best_epoch, self.wait]

    def values(self) -> tuple[Any, ...]:
        """The state as tensors: the five (M,) values, then the list of best weights."""
        return tuple(v.value() for v in self.variables) + ([v.value() for v in self.best_weights],)

    def assign(self, values: Sequence[Any]) -> None:
        for variable, value in zip(self.variables + self.best_weights, list(values[:5]) + list(values[5])):
            variable.assign(value)

    def step(self, epoch: Any, loss: Any, val: Any, weights: Sequence[Any], values: Sequence[Any]) -> tuple[Any, ...]:
        """The state after an epoch with training loss `loss` and validation loss `val` (M,)
        each, and `weights` (the kept weights at the epoch's end)."""
        active, best, has_best, best_epoch, wait, best_weights = values
        active = active & tf.math.is_finite(loss)
        if not self.watching:
            return active, best, has_best, best_epoch, wait, best_weights
        wait = tf.where(active, wait + 1, wait)
        improved = active & (~has_best | (val + self.min_delta < best))
        best = tf.where(improved, val, best)
        has_best = has_best | improved
        best_epoch = tf.where(improved, epoch, best_epoch)
        wait = tf.where(improved, 0, wait)
        best_weights = [tf.where(per_member(improved, w), w, b) for w, b in zip(weights, best_weights)]
        active = active & ~((epoch > 0) & (wait >= self.patience) & ~improved)
        return active, best, has_best, best_epoch, wait, best_weights

    def restored(self, current: Sequence[Any]) -> list[np.ndarray] | None:
        """Each kept weight as `restore_best_weights` leaves it: a member's best epoch's values
        (its `current` ones where it never had a best epoch); None when not watching."""
        if not self.watching:
            return None
        has_best = self.has_best.numpy()
        return [np.where(has_best.reshape((-1,) + (1,) * (len(v.shape) - 1)), b.numpy(), v.numpy())
                for b, v in zip(self.best_weights, current)]

    def carry_over(self, old: "MemberStopping", keep: np.ndarray) -> None:
        """Continue from `old`'s state for its members `keep` (a stacked model without its
        stopped members)."""
        for fresh, previous in zip(self.variables, old.variables):
            fresh.assign(previous.numpy()[keep])
        for fresh, previous in zip(self.best_weights, old.best_weights):  # (M, …), or (0,) when not watching
            value = previous.numpy()
            fresh.assign(value[keep] if value.ndim >= 2 else value)
