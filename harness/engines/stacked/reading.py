"""Reading Keras models: whether a member's model and optimizer can be stacked, and their
stackable description (`MemberSpec`): the architecture members must share, and what may differ
per member (L1/L2 penalties, dropout rates, activity penalties, weight decay)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from ...core import Variant
from ...experiment import Experiment
from ...keras_private import excludes_from_weight_decay, is_functional_chain_class, loss_function_parts
from ...models import build
from ...regularizers import coefficients
from ...splits import SplitData
from ..keras_fit import loss_for

#: optimizers whose update is elementwise (per weight): safe to share across members
ELEMENTWISE_OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam", "Adadelta", "Lion")


#: Keras loss functions of (y_true, y_pred) with one value per row: the losses that stack
PER_ROW_LOSSES = ("sparse_categorical_crossentropy", "binary_crossentropy", "binary_focal_crossentropy",
                  "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                  "mean_squared_logarithmic_error", "huber", "log_cosh", "poisson", "hinge", "squared_hinge")


class Unsupported(Exception):
    """Why a member's model or optimizer cannot be stacked."""


@dataclass(frozen=True)
class Architecture:
    """What members must share to be stacked: the layer ops (Dense, Conv, pooling, reshapes,
    activations, normalizations), and where Dropout may sit; penalties, dropout rates and
    weight decay may differ per member."""

    ops: tuple[tuple[Any, ...], ...]
    n_inputs: int
    #: multiply-adds of one row's forward pass through the Dense and Conv layers
    macs: int = 0


@dataclass
class MemberSpec:
    """One member's stackable description, read off its own Keras model and optimizer."""

    architecture: Architecture
    l1: list[float]
    l2: list[float]
    dropout: dict[int, float]
    activity: list[tuple[float, float]]
    weight_decay: float
    optimizer_key: tuple[Any, ...]
    optimizer_config: dict[str, Any]
    loss_kind: tuple[Any, ...]


def _activation_name(activation: Any) -> str:
    name = keras.activations.serialize(activation)
    if not isinstance(name, str) or keras.activations.get(name) is not activation:
        raise Unsupported(f"activation {activation!r} is not a built-in Keras activation")
    return name


def _penalty(regularizer: Any, what: str = "kernel") -> tuple[float, float]:
    found = coefficients(regularizer)
    if found is None:
        raise Unsupported(f"{what} regularizer {type(regularizer).__name__} is not L1, L2 or L1L2")
    return found


def chain_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of a Sequential model, or of a functional model that is a chain (one input,
    each layer called once on the previous one's output, the last one's output the model's)."""
    if isinstance(model, keras.Sequential):
        return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not is_functional_chain_class(model):  # a subclassed model (its own `call`) is opaque
        raise Unsupported(f"the model is a {type(model).__name__}, neither a keras.Sequential nor a functional chain")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise Unsupported("the functional model has more than one input or output")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.inputs[0]
    for layer in layers:
        if layer.input is not previous:
            raise Unsupported(f"the functional model is not a chain: layer {layer.name!r} does not take the "
                              "previous layer's output alone")
        previous = layer.output
    if model.outputs[0] is not previous:
        raise Unsupported("the functional model is not a chain: its output is not its last layer's")
    return layers


def _dense_op(layer: keras.layers.Dense) -> tuple[tuple[Any, ...], tuple[float, float], tuple[float, float]]:
    for attr in ("bias_regularizer", "kernel_constraint", "bias_constraint"):
        if getattr(layer, attr, None) is not None:
            raise Unsupported(f"Dense layer {layer.name!r} has a {attr.replace('_', ' ')}")
    if getattr(layer, "lora_enabled", False) or layer.dtype_policy.name != "float32":
        raise Unsupported(f"Dense layer {layer.name!r} is not a plain float32 Dense")
    activity = layer.activity_regularizer
    op = ("dense", layer.units, _activation_name(layer.activation), layer.use_bias)
    return op, _penalty(layer.kernel_regularizer), _penalty(activity, "activity")


def _normalization_op(layer: keras.layers.Layer) -> tuple[Any, ...]:
    config = layer.get_config()
    if isinstance(layer, keras.layers.BatchNormalization):
        if config.get("renorm") or config.get("synchronized") or layer.axis not in (-1, 1):
            raise Unsupported(f"BatchNormalization {layer.name!r} uses renorm, synchronization or another axis")
        return ("batch_norm", float(config["epsilon"]), bool(config["center"]), bool(config["scale"]),
                float(config["momentum"]))
    if list(np.atleast_1d(layer.axis)) not in ([-1], [1]) or config.get("rms_scaling"):
        raise Unsupported(f"LayerNormalization {layer.name!r} normalizes another axis or uses rms_scaling")
    return ("layer_norm", float(config["epsilon"]), bool(config["center"]), bool(config["scale"]))


#: what the stacked engine stacks, for the message that says it cannot
STACKED_LAYERS = ("Dense, Conv1D, Conv2D, MaxPooling and AveragePooling (1D, 2D, global), Flatten, Reshape, "
                  "Dropout, Activation, GaussianNoise, LayerNormalization, BatchNormalization")


def _conv_op(layer: Any) -> tuple[tuple[Any, ...], tuple[float, float]]:
    config = layer.get_config()
    rank = 1 if isinstance(layer, keras.layers.Conv1D) else 2
    for attr in ("bias_regularizer", "kernel_constraint", "bias_constraint", "activity_regularizer"):
        if getattr(layer, attr, None) is not None:
            raise Unsupported(f"Conv layer {layer.name!r} has a {attr.replace('_', ' ')}")
    if config.get("data_format", "channels_last") != "channels_last" or config.get("groups", 1) != 1:
        raise Unsupported(f"Conv layer {layer.name!r} is channels-first or grouped")
    if config["padding"] not in ("valid", "same") or layer.dtype_policy.name != "float32":
        raise Unsupported(f"Conv layer {layer.name!r} has padding {config['padding']!r} or is not float32")
    op = ("conv", rank, int(config["filters"]), tuple(config["kernel_size"]), tuple(config["strides"]),
          config["padding"], tuple(config["dilation_rate"]), _activation_name(layer.activation), bool(config["use_bias"]))
    return op, _penalty(layer.kernel_regularizer)


POOLS = {"MaxPooling1D": ("max", 1), "MaxPooling2D": ("max", 2), "AveragePooling1D": ("avg", 1),
         "AveragePooling2D": ("avg", 2), "GlobalMaxPooling1D": ("max", 1), "GlobalMaxPooling2D": ("max", 2),
         "GlobalAveragePooling1D": ("avg", 1), "GlobalAveragePooling2D": ("avg", 2)}


def _shape_op(layer: Any) -> tuple[Any, ...] | None:
    """The op of a layer without weights that reshapes or pools; None for other layers."""
    name = type(layer).__name__
    config = layer.get_config()
    if name in POOLS and type(layer) is getattr(keras.layers, name):
        if config.get("data_format", "channels_last") != "channels_last" or config.get("keepdims"):
            raise Unsupported(f"pooling layer {layer.name!r} is channels-first or keeps its dimensions")
        kind, rank = POOLS[name]
        if name.startswith("Global"):
            return ("pool", kind, rank, None, None, "valid")
        return ("pool", kind, rank, tuple(config["pool_size"]), tuple(config["strides"]), config["padding"])
    if type(layer) is keras.layers.Flatten:
        if config.get("data_format", "channels_last") != "channels_last":
            raise Unsupported(f"Flatten layer {layer.name!r} is channels-first")
        return ("reshape", (-1,))
    if type(layer) is keras.layers.Reshape:
        return ("reshape", tuple(int(d) for d in config["target_shape"]))
    return None


def _macs(layer: Any, shape_in: tuple[Any, ...], shape_out: tuple[Any, ...]) -> int:
    """Multiply-adds of one row through a Dense or Conv layer."""
    if isinstance(layer, keras.layers.Dense):
        return int(shape_in[-1]) * int(layer.units)
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D)):
        return int(np.prod([int(d) for d in shape_out[1:]])) * int(np.prod(layer.kernel_size)) * int(shape_in[-1])
    return 0


def describe_model(model: keras.Model) -> tuple[Architecture, list[float], list[float], dict[int, float],
                                                list[tuple[float, float]]]:
    """The stackable structure of a chain (Sequential or functional) of the layers in
    STACKED_LAYERS taking a table's rows (one input axis); each Dense or Conv layer's L1/L2
    penalty is read in order (`MemberSpec.l1`, `l2`), with a Dense layer's activity penalty
    (`MemberSpec.activity`; (0, 0) for a Conv layer)."""
    ops: list[tuple[Any, ...]] = []
    l1s: list[float] = []
    l2s: list[float] = []
    dropout: dict[int, float] = {}
    activity: list[tuple[float, float]] = []
    layers = chain_layers(model)
    if len(model.inputs[0].shape) != 2:
        raise Unsupported(f"the model's input has shape {tuple(model.inputs[0].shape)}: the stacked engine feeds a "
                          "table's rows, (batch, features); begin with keras.layers.Reshape for images")
    shape: tuple[Any, ...] = tuple(model.inputs[0].shape)
    macs = 0
    for layer in layers:
        shape_in, shape = shape, tuple(layer.compute_output_shape(shape))
        macs += _macs(layer, shape_in, shape)
        if isinstance(layer, keras.layers.Dense):
            if len(shape_in) != 2:
                raise Unsupported(f"Dense layer {layer.name!r} takes {len(shape_in) - 1}-D rows; Flatten them first")
            op, (l1, l2), penalty = _dense_op(layer)
            ops.append(op)
            l1s.append(l1)
            l2s.append(l2)
            activity.append(penalty)
            continue
        if type(layer) in (keras.layers.Conv1D, keras.layers.Conv2D):
            op, (l1, l2) = _conv_op(layer)
            ops.append(op)
            l1s.append(l1)
            l2s.append(l2)
            activity.append((0.0, 0.0))
            continue
        if getattr(layer, "activity_regularizer", None) is not None:
            raise Unsupported(f"layer {layer.name!r} has an activity regularizer")
        if isinstance(layer, keras.layers.Dropout):
            if layer.noise_shape is not None:
                raise Unsupported(f"Dropout layer {layer.name!r} has a noise_shape")
            if len(ops) in dropout:
                raise Unsupported("two Dropout layers in a row")
            dropout[len(ops)] = float(layer.rate)
        elif isinstance(layer, keras.layers.Activation):
            ops.append(("activation", _activation_name(layer.activation)))
        elif isinstance(layer, keras.layers.GaussianNoise):
            ops.append(("noise", float(layer.stddev)))
        elif isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization)):
            ops.append(_normalization_op(layer))
        elif (shape_op := _shape_op(layer)) is not None:
            ops.append(shape_op)
        else:
            raise Unsupported(f"layer {layer.name!r} ({type(layer).__name__}) is not one the stacked engine "
                              f"stacks ({STACKED_LAYERS})")
    if not any(op[0] == "dense" for op in ops):
        raise Unsupported("the model has no Dense layer")
    if len(shape) != 2:
        raise Unsupported(f"the model's output has shape {shape}, not (batch, units)")
    return Architecture(tuple(ops), int(model.inputs[0].shape[-1]), macs), l1s, l2s, dropout, activity


def describe_optimizer(optimizer: keras.optimizers.Optimizer) -> tuple[float, tuple[Any, ...], dict[str, Any]]:
    """(weight decay, grouping key, config without weight decay) of an elementwise optimizer."""
    name = type(optimizer).__name__
    if name not in ELEMENTWISE_OPTIMIZERS:
        raise Unsupported(f"optimizer {name} is not one of the elementwise optimizers {', '.join(ELEMENTWISE_OPTIMIZERS)}")
    config = optimizer.get_config()
    for key in ("clipnorm", "global_clipnorm", "gradient_accumulation_steps", "loss_scale_factor"):
        if config.get(key) is not None:
            raise Unsupported(f"optimizer option {key} would couple members")
    if config.get("use_ema"):
        raise Unsupported("optimizer option use_ema is not supported")
    if not isinstance(config.get("learning_rate"), (int, float)):
        raise Unsupported("learning-rate schedules are not supported")
    if excludes_from_weight_decay(optimizer):
        raise Unsupported("exclude_from_weight_decay is not supported")
    weight_decay = float(config.pop("weight_decay", None) or 0.0)
    config.pop("name", None)
    key = (name, tuple(sorted((k, repr(v)) for k, v in config.items())))
    return weight_decay, key, config


def describe_loss(loss: Any) -> tuple[Any, ...]:
    """(name of a Keras per-row loss function, its keyword arguments as sorted pairs) for a
    Keras loss object or function whose value per row the stacked engine computes
    (`PER_ROW_LOSSES`: Keras' own functions, called per member and row)."""
    function, kwargs = loss_function_parts(loss)
    name = getattr(function, "__name__", type(loss).__name__)
    if name not in PER_ROW_LOSSES or getattr(keras.losses, name, None) is not function:
        raise Unsupported(f"loss {name} is not one of the Keras losses the stacked engine computes per member "
                          f"({', '.join(PER_ROW_LOSSES)})")
    if kwargs.get("axis", -1) != -1 or kwargs.get("ignore_class") is not None:
        raise Unsupported(f"loss {name} with axis or ignore_class set")
    return (name, tuple(sorted(kwargs.items())))


def describe_member(exp: Experiment, variant: Variant, fd: SplitData, model: keras.Model | None = None) -> MemberSpec:
    model = model if model is not None else build(exp, variant, fd.n_inputs, fd.n_outputs)
    architecture, l1, l2, dropout, activity = describe_model(model)
    n_out = int(model.outputs[0].shape[-1])
    kind = describe_loss(loss_for(exp, n_out))
    weight_decay, key, config = describe_optimizer(exp.make_optimizer(variant))
    return MemberSpec(architecture, l1, l2, dropout, activity, weight_decay, key, config, kind)


def member_weight_indices(template: keras.Model) -> list[int]:
    """Positions in `template.weights` of the weights of its Dense, Conv and normalization
    layers, in the stacked model's `member_weights()` order (layer by layer, each in Keras' order)."""
    position = {id(v): i for i, v in enumerate(template.weights)}
    return [position[id(w)] for layer in chain_layers(template)
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D,
                                  keras.layers.BatchNormalization, keras.layers.LayerNormalization))
            for w in layer.weights]
