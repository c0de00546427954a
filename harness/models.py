"""The default model builder: an MLP with kernel penalties on hidden layers and dropout after them.
Keras is imported where a model is built, so that a run loads TensorFlow only once it plans."""
from __future__ import annotations

import weakref
from typing import Any, Sequence

from .errors import HarnessError, experiment_label, one_line
from .losses import expects_probabilities, make_loss
from .regularizers import kernel_penalty

#: rows of the sample batch on which a model's outputs are checked before anything trains
#: (`check_outputs`): drawn from a standard normal (the scale of standardized features), and the
#: same rows times 100, which drive any activation to where it saturates
_SAMPLE_ROWS = 32


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
        model = build(exp, variant, n_inputs, n_outputs)
        check_outputs(exp, variant, model, n_inputs, n_outputs)
        cache[key] = model
    return cache[key]


def build(exp: Any, variant: Any, n_inputs: int, n_outputs: int) -> Any:
    """`exp.build_model(...)`, built: a subclassed `keras.Model` (its own `call`, no input
    declared) has no weights until it is called, so it is called once on a batch of zeros.
    What fails, or returns no `keras.Model`, is refused in one line naming the experiment's
    file and the variant."""
    import keras

    owner = f"{experiment_label(exp)}: build_model"
    try:
        model = exp.build_model(variant, n_inputs, n_outputs)
    except Exception as exc:  # noqa: BLE001 - the user's builder
        raise HarnessError(f"{owner} failed for variant {variant.name!r}: "
                           f"{exc if isinstance(exc, HarnessError) else one_line(exc)}") from None
    if not isinstance(model, keras.Model):
        raise HarnessError(f"{owner} returned {type(model).__name__} for variant {variant.name!r}; it must return a "
                           "keras.Model (Sequential, functional or subclassed)")
    if not getattr(model, "built", True):
        import numpy as np

        try:
            model(np.zeros((1, n_inputs), dtype="float32"))
        except Exception as exc:  # noqa: BLE001 - the user's call()
            raise HarnessError(f"{owner}'s model for variant {variant.name!r} cannot be called on a batch of "
                               f"{n_inputs} features: {one_line(exc)}") from None
    return model


def check_outputs(exp: Any, variant: Any, model: Any, n_inputs: int, n_outputs: int) -> None:
    """Refuse, before anything trains, a model whose outputs do not fit the task: it must give
    one output of shape (rows, units) with the task's units (one per class, or one sigmoid unit
    for two classes; one for regression), and what its loss takes: probabilities (in [0, 1],
    summing to 1 over several units) for a cross-entropy without `from_logits`, anything else
    for one with `from_logits=True`. Read from the model's own outputs on a sample batch, so
    that Sequential, functional and subclassed models are checked alike; outputs that are not
    finite are left to training, which records the split failed."""
    import numpy as np

    owner = f"{experiment_label(exp)}: build_model's model for variant {variant.name!r}"
    outputs = _sample_outputs(model, n_inputs, owner)
    units = outputs.shape[-1]
    if exp.task == "regression" and units != 1:
        raise HarnessError(f"{owner} has {units} output units, but a regression predicts one number per row: end it "
                           "in Dense(1) with no activation")
    if exp.task != "regression" and units not in ({1, 2} if n_outputs == 2 else {n_outputs}):
        need = ("2 (softmax) or 1 (sigmoid)" if n_outputs == 2 else f"{n_outputs}, one per class (softmax)")
        raise HarnessError(f"{owner} has {units} output unit{'s' if units != 1 else ''}, but the task has {n_outputs} classes: it needs {need}; "
                           "build_model's n_outputs gives the number")
    if units == 1 and bool((outputs == 1.0).all()):
        fix = "Dense(1) with no activation" if exp.task == "regression" else "Dense(1, activation='sigmoid')"
        raise HarnessError(f"{owner} outputs 1.0 for every row: a softmax over one unit is always 1; end it in {fix}")
    finite = outputs[np.isfinite(outputs).all(axis=1)]
    if not len(finite):  # a model that gives NaN fails in training: a failed split, with its reason
        return
    loss = make_loss(exp.loss, exp.task, units)
    takes = expects_probabilities(loss)
    why = _not_probabilities(finite)
    named = f"its loss {getattr(loss, '__name__', type(loss).__name__)}"
    activation = "softmax" if units > 1 else "sigmoid"
    if takes and why:
        raise HarnessError(f"{owner} does not give probabilities ({why}), but {named} takes probabilities: end it in "
                           f"activation='{activation}', or give the experiment a loss with from_logits=True")
    if takes is False and not why:
        raise HarnessError(f"{owner} gives probabilities (a {activation}), but {named} takes logits "
                           "(from_logits=True): end it in no activation, or give a loss with from_logits=False")


def _sample_outputs(model: Any, n_inputs: int, owner: str) -> Any:
    """The model's outputs on the sample batch, as a (rows, units) array; refuses a model that
    cannot be called on it, gives several outputs, or outputs of another shape."""
    import keras
    import numpy as np

    rows = np.random.default_rng(0).normal(size=(_SAMPLE_ROWS, n_inputs)).astype("float32")
    batch = np.concatenate([rows, 100 * rows])
    try:
        result = model(batch, training=False)
    except Exception as exc:  # noqa: BLE001 - the user's model
        raise HarnessError(f"{owner} cannot be called on a batch of {n_inputs} features: {one_line(exc)}") from None
    if isinstance(result, dict):
        result = list(result.values())
    if isinstance(result, (list, tuple)):
        if len(result) != 1:
            raise HarnessError(f"{owner} has {len(result)} outputs; the harness trains a model with one output "
                               "(one unit per class, or one for regression)")
        result = result[0]
    outputs = np.asarray(keras.ops.convert_to_numpy(result), dtype="float64")
    if outputs.ndim != 2 or outputs.shape[0] != len(batch):
        raise HarnessError(f"{owner} gives outputs of shape {outputs.shape} for a batch of shape {batch.shape}; "
                           "it must give one row of units per input row, shape (rows, units)")
    return outputs


def _not_probabilities(outputs: Any) -> str | None:
    """Why these (finite) outputs are not probabilities (None when they are)."""
    import numpy as np

    low, high = float(outputs.min()), float(outputs.max())
    if low < -1e-6 or high > 1 + 1e-6:
        return f"on a sample batch they range from {low:.3g} to {high:.3g}, outside [0, 1]"
    if outputs.shape[-1] > 1 and not np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3):
        return "on a sample batch its rows do not sum to 1"
    return None


def structure(model: Any) -> tuple[Any, ...]:
    """What a model summary shows, less the layer names Keras numbers per build: two models
    with the same structure have the same summary."""
    def shape(layer: Any) -> str:
        try:
            return str(layer.output.shape)
        except (AttributeError, ValueError):  # a layer never called on a symbolic input
            return "?"

    def params(layer: Any) -> int:  # a layer a subclassed model made but never calls is never built: no weights
        return layer.count_params() if layer.built else 0

    return tuple((type(layer).__name__, shape(layer), params(layer)) for layer in model.layers)


def output_units(model: Any, n_inputs: int) -> int:
    """The model's output units: its declared output's, or (a subclassed model) those of its
    output on one row of zeros."""
    try:
        return int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        import numpy as np

        return int(model(np.zeros((1, n_inputs), dtype="float32")).shape[-1])
