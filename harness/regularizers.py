"""Penalties, written once, and what regularizes a built model, read back from it.

- `penalty_value` and `add_penalty_gradient`: l1·Σ|w| + l2·Σw² and its gradient l1·sign(w) +
  2·l2·w, in `keras.ops`. The stacked engine's layers and its compiled loop use them with one
  coefficient per member; they compute what Keras' own `L1`, `L2` and `L1L2` regularizers
  compute (tests/test_models.py checks value and gradient against Keras').
- `kernel_penalty`: the Keras regularizer a builder puts on a kernel for (l1, l2).
- `coefficients`: (l1, l2) of a Keras regularizer, or None when it is not an L1/L2 penalty.
- `regularization_of`: what regularizes a built model and its optimizer (every penalty, every
  dropout and noise layer, the decoupled weight decay), the one description the report and
  the experiments group variants by.
Keras is imported where a function needs it, so an experiment module that imports this one
lists fast.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from .core import Penalty, Regularization
from .keras_private import nested_layers

#: the Keras layer attributes that hold a regularizer, and what each penalizes
REGULARIZER_ATTRIBUTES = {
    "kernel_regularizer": "kernel", "bias_regularizer": "bias", "activity_regularizer": "activity",
    "depthwise_regularizer": "depthwise kernel", "pointwise_regularizer": "pointwise kernel",
    "recurrent_regularizer": "recurrent kernel", "embeddings_regularizer": "embeddings",
    "gamma_regularizer": "gamma", "beta_regularizer": "beta",
}


def penalty_value(w: Any, l1: Any = None, l2: Any = None, axis: Any = None, start: Any = None) -> Any:
    """l1·Σ|w| + l2·Σw², summed over `axis` (None: every axis), added to `start` (default 0) one
    term after the other, as Keras' L1L2 adds them. A coefficient may be a number or an array
    that broadcasts against the sum (one per member); None leaves its term out."""
    from keras import ops

    total = ops.convert_to_tensor(0.0, dtype=w.dtype) if start is None else start
    if l1 is not None:
        total = total + l1 * ops.sum(ops.absolute(w), axis=axis)
    if l2 is not None:
        total = total + l2 * ops.sum(ops.square(w), axis=axis)
    return total


def add_penalty_gradient(gradient: Any, w: Any, l1: Any = None, l2: Any = None) -> Any:
    """`gradient` plus the penalty's: l1·sign(w) (TensorFlow's gradient of |w|) and 2·l2·w.
    Coefficients broadcast against `w` (one per member: shape (M, 1, …)); None: no term."""
    from keras import ops

    if l1 is not None:
        gradient = gradient + l1 * ops.sign(w)
    if l2 is not None:
        gradient = gradient + 2.0 * l2 * w
    return gradient


def kernel_penalty(l1: float, l2: float) -> Any:
    """Keras' own regularizer for (l1, l2): None, L1, L2 or L1L2."""
    import keras

    if l1 and l2:
        return keras.regularizers.L1L2(l1=l1, l2=l2)
    if l1:
        return keras.regularizers.L1(l1)
    if l2:
        return keras.regularizers.L2(l2)
    return None


def coefficients(regularizer: Any) -> tuple[float, float] | None:
    """(l1, l2) of Keras' L1, L2 or L1L2 regularizer ((0, 0) for none); None for any other.
    Keras keeps some coefficients as float32 (`L1(0.1)` holds 0.10000000149…); they are read
    back as the shortest decimal of that float32 (0.1), the same float32 the penalty uses."""
    import keras

    if regularizer is None:
        return 0.0, 0.0
    if type(regularizer) not in (keras.regularizers.L1, keras.regularizers.L2, keras.regularizers.L1L2):
        return None
    config = regularizer.get_config()
    return _float32_decimal(config.get("l1", 0.0)), _float32_decimal(config.get("l2", 0.0))


def _float32_decimal(value: Any) -> float:
    return float(str(np.float32(value)))


def regularization_of(model: Any, optimizer: Any = None) -> Regularization:
    """Everything that regularizes `model` trained with `optimizer`, read from the built
    objects: each layer's regularizers (an L1/L2 penalty with its coefficients; another
    regularizer by its class name), each dropout layer's rate, each GaussianNoise layer's
    standard deviation, and the optimizer's decoupled weight decay."""
    import keras

    dropout_layers = (keras.layers.Dropout, keras.layers.GaussianDropout, keras.layers.AlphaDropout)
    penalties, dropout, noise = [], [], []
    names = layer_names(model)
    for layer in nested_layers(model):
        for attribute, on in REGULARIZER_ATTRIBUTES.items():
            regularizer = getattr(layer, attribute, None)
            if regularizer is None:
                continue
            found = coefficients(regularizer)
            if found is None:
                penalties.append(Penalty(names[id(layer)], on, custom=type(regularizer).__name__))
            elif any(found):
                penalties.append(Penalty(names[id(layer)], on, *found))
        if isinstance(layer, dropout_layers) and float(layer.rate) > 0:
            dropout.append((names[id(layer)], float(layer.rate)))
        elif isinstance(layer, keras.layers.GaussianNoise) and float(layer.stddev) > 0:
            noise.append((names[id(layer)], float(layer.stddev)))
    decay = 0.0
    if optimizer is not None:
        decay = float(optimizer.get_config().get("weight_decay") or 0.0)
    return Regularization(tuple(penalties), tuple(dropout), tuple(noise), decay)


def layer_names(model: Any) -> dict[int, str]:
    """Each layer's name as a report shows it: the builder's own ('hidden_1'), or, for a name
    Keras numbered by how many layers of its class were built before in the process
    ('dense_14'), its class and place among the model's layers of that class ('dense #2'), so
    that the same model reads the same in every run."""
    counts: dict[str, int] = {}
    names = {}
    for layer in nested_layers(model):
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", type(layer).__name__).lower()
        counts[snake] = counts.get(snake, 0) + 1
        numbered = re.fullmatch(rf"{re.escape(snake)}(_\d+)?", layer.name)
        names[id(layer)] = f"{snake} #{counts[snake]}" if numbered else layer.name
    return names
