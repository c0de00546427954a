"""Training members of one architecture as one stacked model: building it from the members'
own Keras models, feeding each member its own batch order, driving the compiled epoch loop
(`EpochLoop`) call after call, dropping members that have stopped when that pays, and handing
back each member's weights, curves and outputs for its scored rows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from ...experiment import Experiment
from ...jobs import Job
from ...keras_private import stateless_optimizer
from ...scoring import scored_rows
from ...splits import SplitData, derive_seed
from ..base import TrainedMember, first_nan_epoch
from ..keras_fit import initial_weights, targets_for
from .layers import (StackedActivation, StackedConv, StackedDense, StackedDropout, StackedGaussianNoise, StackedL1L2,
                     StackedModel, StackedNormalization, StackedPooling, StackedReshape)
from .loop import EpochLoop
from .reading import Architecture, MemberSpec, member_weight_indices

#: bytes of one epoch's input arrays in one stacked model: bounds memory
MAX_EPOCH_BYTES = 256 * 2**20

#: most epochs per compiled call
EPOCHS_PER_CALL = 128

#: bytes of one call's batch orders (members × epochs × rows, int32): a call's orders are held
#: three times over (drawn, padded, as a tensor), and at 256 MB they were a worker's largest
#: allocation (Sjöo's experiment: ~0.8 GB of a 2 GB peak)
ORDER_BYTES = 32 * 2**20

#: estimated seconds of training above which XLA's compilation pays (`worth_compiling`)
XLA_WORTH_S = 2.0

#: what rebuilding a stacked model without its stopped members costs, roughly (`worth_compacting`)
COMPACT_COST_S = 1.5

#: most epochs per call with early stopping: how often stopped members can be dropped
EPOCHS_PER_CALL_STOPPING = 32

#: bytes of one block of rows the members' outputs are computed on for scoring (a block is
#: held about three times over while Keras converts and computes it)
SCORING_BYTES = 16 * 2**20

#: the generator stream of batch orders, beside a member's other seeded draws
ORDER_STREAM = 0x0BDE


@dataclass
class Member:
    """One member to train: its job and split, and the Keras model of its variant (shared by the
    variant's members, holding no member's weights until one is written into it)."""

    job: Job
    split: SplitData
    spec: MemberSpec
    template: keras.Model


@dataclass
class StackedResult:
    """One member's outcome: its final weights (in its Keras model's `get_weights()` order)."""

    weights: list[np.ndarray]
    loss: list[float]
    val_loss: list[float]
    epochs: int
    best_epoch: int
    failure: str | None
    outputs: np.ndarray | None = None

    def into(self, model: keras.Model, seconds: float) -> TrainedMember:
        """Write the weights into the member's own Keras model."""
        model.set_weights(self.weights)
        return TrainedMember(model, self.loss, self.val_loss, self.epochs, self.best_epoch, seconds, self.failure,
                             self.outputs)


def batch_width(exp: Experiment, splits: Sequence[SplitData]) -> int:
    """The rows of one stacked step: the batch size, or the most training rows a member has
    when the batch size is larger (Keras' fit then takes every row in one batch, too)."""
    return min(exp.batch_size, max(len(fd.x_fit) for fd in splits))


def _stacked_layer(op: tuple[Any, ...], position: int, members: Sequence[Member], dense_index: int) -> keras.layers.Layer:
    """The stacked layer of one op, with each member's own penalties and random stream
    (`dense_index`: the op's place among the Dense and Conv layers, whose penalties the specs
    list in order)."""
    specs, count = [m.spec for m in members], len(members)
    if op[0] == "conv":
        _, rank, filters, kernel_size, strides, padding, dilation, activation, use_bias = op
        l1, l2 = [s.l1[dense_index] for s in specs], [s.l2[dense_index] for s in specs]
        penalty = StackedL1L2(l1, l2) if any(l1) or any(l2) else None
        return StackedConv(count, rank, filters, kernel_size, strides, padding, dilation, activation, use_bias,
                           kernel_regularizer=penalty)
    if op[0] == "pool":
        return StackedPooling(*op[1:])
    if op[0] == "reshape":
        return StackedReshape(op[1])
    if op[0] == "dense":
        _, units, activation, use_bias = op
        l1, l2 = [s.l1[dense_index] for s in specs], [s.l2[dense_index] for s in specs]
        penalty = StackedL1L2(l1, l2) if any(l1) or any(l2) else None
        a1, a2 = [s.activity[dense_index][0] for s in specs], [s.activity[dense_index][1] for s in specs]
        activity = StackedL1L2(a1, a2) if any(a1) or any(a2) else None
        return StackedDense(count, units, activation, use_bias, kernel_regularizer=penalty, activity_regularizer=activity)
    if op[0] == "noise":
        return StackedGaussianNoise([op[1]] * count, [derive_seed(m.job.seed, "noise", position) for m in members])
    if op[0] in ("batch_norm", "layer_norm"):
        kind = "batch" if op[0] == "batch_norm" else "layer"
        return StackedNormalization(count, kind, *op[1:])
    return StackedActivation(op[1])


def build_stacked(members: Sequence[Member], initial: bool = True) -> StackedModel:
    """A StackedModel whose member m starts from member m's own Keras model's initial weights
    and draws its dropout masks and noise from its own seed: nothing about a member depends on
    the others in its model. `initial=False` leaves the weights as built, for a caller that
    writes every member weight itself (a compacted model takes its members' current ones)."""
    specs = [m.spec for m in members]
    count = len(members)
    architecture = specs[0].architecture
    dropout_positions = sorted(set().union(*(s.dropout for s in specs)))
    layers: list[keras.layers.Layer] = []
    dense_index = 0
    for position, op in enumerate(architecture.ops + (None,)):
        if position in dropout_positions:
            rates = [s.dropout.get(position, 0.0) for s in specs]
            layers.append(StackedDropout(rates, [derive_seed(m.job.seed, "dropout", position) for m in members]))
            layers[-1].stack_key = ("dropout", position)
        if op is not None:
            layers.append(_stacked_layer(op, position, members, dense_index))
            layers[-1].stack_key = ("op", position)
            dense_index += op[0] in ("dense", "conv")
    model = StackedModel(layers, count, specs[0].loss_kind, [s.weight_decay for s in specs])
    model(np.zeros((count, 1, architecture.n_inputs), dtype="float32"))
    if not initial:
        return model
    drawn: dict = {}  # members that share a seed and layer shapes share their draws
    starts = [initial_weights(m.template, m.job.seed, drawn) for m in members]
    for variable, index in zip(model.member_weights(), member_weight_indices(members[0].template)):
        variable.assign(np.stack([weights[index] for weights in starts]))
    return model


def distinct_splits(members: Sequence[Member]) -> tuple[list[Any], np.ndarray]:
    """The members' distinct splits (one object each, in first-use order) and, per member, the
    index of its own among them."""
    index: dict[int, int] = {}
    splits = []
    for m in members:
        if id(m.split) not in index:
            index[id(m.split)] = len(splits)
            splits.append(m.split)
    return splits, np.array([index[id(m.split)] for m in members], dtype="int32")


def _padded(arrays: Sequence[np.ndarray], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-member arrays of different lengths: (members, longest, ...) and a row mask."""
    longest = max(len(a) for a in arrays)
    out = np.zeros((len(arrays), longest) + arrays[0].shape[1:], dtype=dtype)
    mask = np.zeros((len(arrays), longest), dtype="float32")
    for m, a in enumerate(arrays):
        out[m, : len(a)] = a
        mask[m, : len(a)] = 1.0
    return out, mask


class MemberOrders:
    """Each member's batch order, epoch after epoch: a fresh permutation of its own rows per
    epoch, drawn from a generator seeded by the member's seed alone, so a member's order does
    not depend on which members share its model or how many epochs a call takes. Orders come
    out as (members, epochs, width) row indices; a member's tail past its rows is 0 (masked)."""

    def __init__(self, seeds: Sequence[int], sizes: Sequence[int], width: int) -> None:
        self.generators = [np.random.default_rng([seed, ORDER_STREAM]) for seed in seeds]
        self.sizes, self.width = list(sizes), width

    def subset(self, keep: Sequence[int]) -> "MemberOrders":
        """The orders of the members `keep`, their generators continuing where they were."""
        orders = MemberOrders([], [], self.width)
        orders.generators = [self.generators[i] for i in keep]
        orders.sizes = [self.sizes[i] for i in keep]
        return orders

    def next(self, epochs: int) -> np.ndarray:
        out = np.zeros((len(self.sizes), epochs, self.width), dtype="int32")
        for m, (generator, size) in enumerate(zip(self.generators, self.sizes)):
            out[m, :, :size] = generator.permuted(np.broadcast_to(np.arange(size, dtype="int32"), (epochs, size)), axis=1)
        return out


def member_order(seed: int, epoch: int, rows: int) -> np.ndarray:
    """A member's batch order at one epoch (what the stacked engine feeds it): for a plain fit
    of the same member."""
    return MemberOrders([seed], [rows], rows).next(epoch + 1)[0, epoch]


def epochs_per_call(exp: Experiment, members: int, width: int) -> int:
    """Epochs per compiled call: all of them, within the batch orders' memory bound
    (ORDER_BYTES), and at most EPOCHS_PER_CALL, so early-stopped members do not leave many
    orders drawn for nothing."""
    most = EPOCHS_PER_CALL_STOPPING if exp.patience is not None else EPOCHS_PER_CALL
    return max(1, min(exp.epochs, most, ORDER_BYTES // max(members * width * 4, 1)))


def step_flops(architecture: Architecture, rows: int) -> float:
    """One member's optimizer step over `rows` rows, roughly: 6 per multiply-add of its Dense
    and Conv layers (forward and backward)."""
    return 6.0 * architecture.macs * rows


def worth_compiling(exp: Experiment, members: Sequence[Member], steps: int, width: int) -> bool:
    """Whether XLA pays for its compilation (about a second) here: when the training would take
    over XLA_WORTH_S seconds in TensorFlow's executor, estimated from its steps (~1 ms of
    overhead each) and arithmetic (at ~10 GFLOP/s). Measured on this project's 2-core CPU:
    XLA runs 90 members of 10→50→25→4 at 0.6-0.7 ms per step against 1.2-1.3 ms. Never for
    convolutions: XLA's grouped convolution is far slower on CPU (see `StackedConv`)."""
    if any(op[0] == "conv" for op in members[0].spec.architecture.ops):
        return False  # XLA's grouped convolution is ~400x slower on CPU (StackedConv)
    flops = step_flops(members[0].spec.architecture, width) * len(members)
    optimizer_steps = exp.epochs * steps
    return optimizer_steps * (1e-3 + flops / 10e9) > XLA_WORTH_S


def train_members(exp: Experiment, members: Sequence[Member], jit_compile: bool | None = None) -> list[StackedResult]:
    """Train members of one architecture as one stacked model; return each member's outcome.

    The epochs run in compiled calls of many epochs each (`EpochLoop`), with per-member early
    stopping inside the call. With `jit_compile` a call is one XLA program: about 2× faster
    than TensorFlow's executor on this project's 2-core CPU, at the cost of a compilation per
    stacked model; None (the default) compiles where that pays (`worth_compiling`). XLA's
    kernels round some functions (tanh, exp) differently from TensorFlow's by an ulp or two,
    so weights agree with a plain fit to float32 rounding amplified by training, not bit for
    bit. Once enough members have stopped early that the work they would still be stepped
    through outweighs a rebuild (`worth_compacting`), training goes on in a stacked model of
    the others alone (`Stage.compacted`).
    """
    spec = members[0].spec
    splits = [m.split for m in members]
    steps = splits[0].steps_per_epoch(exp.batch_size)
    if any(fd.steps_per_epoch(exp.batch_size) != steps for fd in splits):
        raise ValueError("stacked members must take the same number of steps per epoch")
    if any((m.spec.architecture, m.spec.optimizer_key, m.spec.loss_kind) != (spec.architecture, spec.optimizer_key, spec.loss_kind) for m in members):
        raise ValueError("stacked members must share architecture, optimizer settings and loss")
    width = batch_width(exp, splits)
    if jit_compile is None:
        jit_compile = worth_compiling(exp, members, steps, width)
    per_call = epochs_per_call(exp, len(members), steps * width)
    stage = Stage(exp, members, list(range(len(members))), steps, width, per_call, jit_compile)
    history = History(len(members))
    outcomes: dict[int, tuple[list[np.ndarray], int, np.ndarray]] = {}
    done = 0
    while done < exp.epochs:
        epochs = min(per_call, exp.epochs - done)
        history.add(*stage.loop(stage.orders.next(epochs), stage.row_mask, epochs), stage.positions,
                    stage.validation is not None)
        done += epochs
        active = stage.loop.stopping.active.numpy()
        if not active.any():
            break
        if worth_compacting(stage, active, exp.epochs - done):
            outcomes.update(stage.outcomes(exp, ~active))
            stage = stage.compacted(exp, active)
    outcomes.update(stage.outcomes(exp, np.ones(len(stage.positions), bool)))
    return member_results(exp, members, outcomes, history)


def worth_compacting(stage: "Stage", active: np.ndarray, remaining_epochs: int) -> bool:
    """Whether to rebuild the stacked model without its stopped members (early stopping, or a
    NaN loss): when the arithmetic they would still take, estimated as in `worth_compiling`
    (at twice the speed under XLA), outweighs a rebuild (its build, tracing and compilation,
    about COMPACT_COST_S) twice over."""
    stopped = int((~active).sum())
    if stopped < len(active) // 4:
        return False
    flops = step_flops(stage.members[0].spec.architecture, stage.width) * stopped
    seconds = remaining_epochs * stage.steps * flops / (20e9 if stage.jit_compile else 10e9)
    return seconds > 2 * COMPACT_COST_S


class Stage:
    """A stacked model in training: its members (`positions` in the chunk), model, compiled
    loop, batch orders and data. `compacted` continues the same training without the stopped
    members: nothing about a member depends on the others, so it trains on exactly as before."""

    def __init__(self, exp: Experiment, members: Sequence[Member], positions: list[int], steps: int, width: int,
                 per_call: int, jit_compile: bool, orders: "MemberOrders | None" = None) -> None:
        self.members, self.positions, self.steps, self.width = list(members), positions, steps, width
        self.jit_compile = jit_compile
        spec = members[0].spec
        n_out = int(members[0].template.outputs[0].shape[-1])
        self.model = build_stacked(members, initial=orders is None)  # a compacted stage carries its weights over
        optimizer = stateless_optimizer(spec.optimizer_key[0], spec.optimizer_config)
        # the variants of a paired design share each split: its rows are held once
        splits, source = distinct_splits(members)
        y_fit = [targets_for(fd.y_fit, n_out) for fd in splits]
        y_dtype = str(y_fit[0].dtype)
        weights = None
        if splits[0].w_fit is not None:
            weights = _padded([fd.w_fit for fd in splits], "float32")[0]
        self.model.set_training_data(_padded([fd.x_fit for fd in splits], "float32")[0], _padded(y_fit, y_dtype)[0],
                                     weights, source)
        self.validation = None
        if splits[0].x_val is not None:
            x_val, val_mask = _padded([fd.x_val for fd in splits], "float32")
            y_val, _ = _padded([targets_for(fd.y_val, n_out) for fd in splits], y_dtype)
            self.validation = (tf.constant(x_val), tf.constant(y_val), tf.constant(val_mask), tf.constant(source))
        self.loop = EpochLoop(self.model, optimizer, width, steps, per_call, self.validation, exp.patience,
                              exp.min_delta, jit_compile)
        sizes = [len(m.split.x_fit) for m in members]
        self.orders = orders or MemberOrders([m.job.seed for m in members], sizes, steps * width)
        self.row_mask = tf.constant(np.arange(steps * width)[None, :] < np.asarray(sizes)[:, None], dtype="float32")
        self.per_call = per_call

    def outcomes(self, exp: Experiment, which: np.ndarray) -> dict[int, tuple[list[np.ndarray], int, np.ndarray]]:
        """{position: (its member weights in `member_weights()` order, best epoch, its outputs
        for `scored_rows`)} for the rows `which`: the best epoch's weights with early stopping,
        else the last. The outputs come from one inference pass of the stacked model with those
        weights, for every member at once (per member, a Keras call costs ~5 ms)."""
        best = self.loop.best_weights()
        early_stopping = exp.patience is not None and best is not None
        variables = self.model.member_weights()
        final = [best[id(v)] if early_stopping else v.numpy() for v in variables]
        best_epoch = self.loop.stopping.best_epoch.numpy() if early_stopping else np.full(len(which), -1)
        if early_stopping:  # the chosen weights for these rows; the others keep training as they are
            for variable, value in zip(variables, final):
                variable.assign(np.where(which.reshape((-1,) + (1,) * (value.ndim - 1)), value, variable.numpy()))
        outputs = self.scored_outputs()
        return {self.positions[i]: ([value[i] for value in final], int(best_epoch[i]), outputs[i])
                for i in np.flatnonzero(which)}

    def scored_outputs(self) -> list[np.ndarray]:
        """Each member's outputs for its `scored_rows` (test rows, then fit rows), in inference
        mode, in blocks of rows that keep the input within SCORING_BYTES. The rows are gathered
        once per distinct split and handed to each member block by block."""
        splits, source = distinct_splits(self.members)
        rows = [scored_rows(fd) for fd in splits]
        x, _ = _padded(rows, "float32")
        block = max(1, SCORING_BYTES // max(len(source) * x[0, 0].size * 4, 1))
        parts = [np.asarray(self.model(x[source, i : i + block], training=False)) for i in range(0, x.shape[1], block)]
        outputs = np.concatenate(parts, axis=1)
        return [outputs[m, : len(rows[s])] for m, s in enumerate(source)]

    def compacted(self, exp: Experiment, keep_mask: np.ndarray) -> "Stage":
        """The same training with only the members `keep_mask` marks, their state carried over."""
        keep = np.flatnonzero(keep_mask)
        new = Stage(exp, [self.members[i] for i in keep], [self.positions[i] for i in keep], self.steps, self.width,
                    self.per_call, self.jit_compile, self.orders.subset(keep))
        old_loop, new_loop = self.loop, new.loop
        pairs = _layer_variable_pairs(self.model, new.model)  # weights, moving averages, stream counters
        pairs += list(zip(old_loop.optimizer_variables, new_loop.optimizer_variables))
        for old, fresh in pairs:  # per-member tensors have a member axis and a feature axis at least
            value = old.numpy()
            fresh.assign(value[keep] if value.ndim >= 2 else value)
        new_loop.stopping.carry_over(old_loop.stopping, keep)
        new_loop.epoch.assign(old_loop.epoch.numpy())
        return new


def _layer_variable_pairs(old: StackedModel, new: StackedModel) -> list[tuple[Any, Any]]:
    """(old, new) for every variable of the smaller model `new`, matched layer by layer by the
    layer's place in the architecture: a dropout layer is left out of a model none of whose
    members drop out there, so the two models' variable lists need not line up."""
    by_key = {layer.stack_key: layer for layer in old.stack_layers}
    pairs = []
    for layer in new.stack_layers:
        counterpart = by_key[layer.stack_key]  # members only leave: every layer of `new` was in `old`
        if len(counterpart.variables) != len(layer.variables):
            raise RuntimeError(f"compaction: layer {layer.stack_key} has {len(layer.variables)} variables, "
                               f"its counterpart {len(counterpart.variables)}")
        pairs += list(zip(counterpart.variables, layer.variables))
    if {id(fresh) for _, fresh in pairs} != {id(v) for v in new.variables}:
        raise RuntimeError("compaction: the stacked model holds variables outside its layers")
    return pairs


class History:
    """Each member's training and validation losses, epoch by epoch, up to where it stopped."""

    def __init__(self, members: int) -> None:
        self.loss: list[list[float]] = [[] for _ in range(members)]
        self.val_loss: list[list[float]] = [[] for _ in range(members)]

    def add(self, loss: np.ndarray, val: np.ndarray, recorded: np.ndarray, positions: Sequence[int],
            validated: bool) -> None:
        """One call's (epochs, members) losses; `recorded` marks the epochs that count; column i
        is the member at `positions[i]`."""
        for i in np.flatnonzero(recorded.any(axis=0)):
            epochs, m = recorded[:, i], positions[i]
            self.loss[m].extend(loss[epochs, i].tolist())
            if validated:
                self.val_loss[m].extend(val[epochs, i].tolist())


def member_results(exp: Experiment, members: Sequence[Member],
                   outcomes: dict[int, tuple[list[np.ndarray], int, np.ndarray]], history: "History") -> list[StackedResult]:
    """Each member's weights (its best epoch's with early stopping, else the last) in its own
    Keras model's order, curves, epochs and failure."""
    results = []
    for m, member in enumerate(members):
        values, best_epoch, outputs = outcomes[m]
        positions = member_weight_indices(member.template)  # a stackable model's only weights
        weights: list[np.ndarray] = [np.empty(0)] * len(positions)
        for value, index in zip(values, positions):
            weights[index] = value
        loss, val_loss = history.loss[m], history.val_loss[m]
        nan_epoch = first_nan_epoch(loss)
        failure = f"training loss became NaN at epoch {nan_epoch}" if nan_epoch else None
        stopped_at = best_epoch + 1 if best_epoch >= 0 and val_loss else len(loss)
        results.append(StackedResult(weights, loss, val_loss, len(loss), stopped_at, failure, outputs))
    return results
