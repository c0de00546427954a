"""The default model builder: an MLP with kernel penalties on hidden layers and dropout after them.
Keras is imported where a model is built, so that a run loads TensorFlow only once it plans."""
from __future__ import annotations

import weakref
from typing import Any, Sequence

from .errors import HarnessError
from .regularizers import kernel_penalty


def _per_layer(value: Sequence[float] | None, default: float, n: int, what: str) -> list[float]:
    if value is None:
        return [default] * n
    values = list(value)
    if len(values) != n:
        raise HarnessError(f"{what} has {len(values)} entries for {n} hidden layers")
    if any(v < 0 for v in values):
        raise HarnessError(f"{what} must be >= 0, got {values}")
    return values


def mlp(
    n_inputs: int,
    n_outputs: int,
    *,
    hidden: Sequence[int] = (50, 25),
    activation: str = "relu",
    output_activation: str = "softmax",
    l1: float = 0.0,
    l2: float = 0.0,
    dropout: float = 0.0,
    layer_l1: Sequence[float] | None = None,
    layer_l2: Sequence[float] | None = None,
    layer_dropout: Sequence[float] | None = None,
) -> Any:
    """A Sequential MLP. Penalties go on hidden Dense kernels only (not biases, not the output
    layer); `Dropout` follows each hidden layer whose rate is > 0. `layer_*` give one value per
    hidden layer and override the scalar.
    """
    import keras

    n = len(hidden)
    l1s = _per_layer(layer_l1, l1, n, "layer_l1")
    l2s = _per_layer(layer_l2, l2, n, "layer_l2")
    rates = _per_layer(layer_dropout, dropout, n, "layer_dropout")
    if any(not 0 <= r < 1 for r in rates):
        raise HarnessError(f"dropout rates must be in [0, 1), got {rates}")
    layers: list[Any] = [keras.Input((n_inputs,), name="features")]
    for i, units in enumerate(hidden, start=1):
        layers.append(
            keras.layers.Dense(
                int(units),
                activation=activation,
                kernel_regularizer=kernel_penalty(l1s[i - 1], l2s[i - 1]),
                name=f"hidden_{i}",
            )
        )
        if rates[i - 1] > 0:
            layers.append(keras.layers.Dropout(rates[i - 1], name=f"dropout_{i}"))
    layers.append(keras.layers.Dense(n_outputs, activation=output_activation, name="output"))
    return keras.Sequential(layers, name="mlp")


_BUILT: "weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]]" = weakref.WeakKeyDictionary()


def built(exp: Any, variant: Any, n_inputs: int, n_outputs: int) -> Any:
    """The variant's Keras model for these shapes, built once per experiment object: the
    model summaries and the stacked engine's templates share one build per variant (the
    weights it holds are no member's; engines give each member its own)."""
    cache = _BUILT.setdefault(exp, {})
    key = (variant.config_hash(), n_inputs, n_outputs)
    if key not in cache:
        cache[key] = build(exp, variant, n_inputs, n_outputs)
    return cache[key]


def build(exp: Any, variant: Any, n_inputs: int, n_outputs: int) -> Any:
    """`exp.build_model(...)`, built: a subclassed `keras.Model` (its own `call`, no input
    declared) has no weights until it is called, so it is called once on a batch of zeros."""
    model = exp.build_model(variant, n_inputs, n_outputs)
    import keras

    if not isinstance(model, keras.Model):
        import inspect

        try:
            where = f" ({inspect.getsourcefile(type(exp))})"
        except TypeError:  # a class defined where Python keeps no file
            where = ""
        raise HarnessError(f"experiment {exp.name!r}{where}: build_model returned {type(model).__name__} for variant "
                           f"{variant.name!r}; it must return a keras.Model (Sequential, functional or subclassed)")
    if not getattr(model, "built", True):
        import numpy as np

        model(np.zeros((1, n_inputs), dtype="float32"))
    return model


def structure(model: Any) -> tuple[Any, ...]:
    """What a model summary shows, less the layer names Keras numbers per build: two models
    with the same structure have the same summary."""
    def shape(layer: Any) -> str:
        try:
            return str(layer.output.shape)
        except (AttributeError, ValueError):  # a layer never called on a symbolic input
            return "?"

    return tuple((type(layer).__name__, shape(layer), layer.count_params()) for layer in model.layers)


def output_units(model: Any, n_inputs: int) -> int:
    """The model's output units: its declared output's, or (a subclassed model) those of its
    output on one row of zeros."""
    try:
        return int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        import numpy as np

        return int(model(np.zeros((1, n_inputs), dtype="float32")).shape[-1])
