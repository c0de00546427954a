"""The training loss and the weight of each training row.

An experiment's `loss` is None (by task: cross-entropy for classification, mean squared error
for regression) or a Keras loss, by name (`'huber'`, `'mean_absolute_error'`, `'log_cosh'`) or
as an object (`keras.losses.Huber(delta=0.5)`). Its `class_weight` is None, `'balanced'` (each
split's training rows weighted n / (classes · count of the row's class), scikit-learn's
`compute_class_weight`) or {class label: weight} (classes left out weigh 1); a `Dataset`'s
`sample_weight` multiplies in. As in Keras' `fit(class_weight=…, sample_weight=…)`, the weights
scale each row's training loss (its batch's loss is Σ wᵢ·lossᵢ ÷ batch size); validation
losses, early stopping and scores stay unweighted. Keras is imported only where a loss is made.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import HarnessError
from .keras_private import as_loss_object, loss_function_parts

#: the keys of a Keras loss's config that say nothing about what it computes
_LABEL_SKIPS = ("name", "reduction", "dtype")


def is_loss(value: Any) -> bool:
    """None, a non-empty name, or a Keras loss object (anything with `get_config`)."""
    if value is None:
        return True
    if isinstance(value, str):
        return bool(value.strip())
    return callable(value) and hasattr(value, "get_config")


def loss_label(loss: Any) -> str | None:
    """What a run records and keys for the loss: None, the name as given, or the object's class
    and the parameters it computes with, e.g. 'Huber(delta=0.5)'."""
    if loss is None or isinstance(loss, str):
        return loss
    function, kwargs = loss_function_parts(loss)  # Huber's get_config leaves its delta out
    config = {**kwargs, **loss.get_config()} if function is not loss else dict(loss.get_config())
    config = {k: v for k, v in config.items() if k not in _LABEL_SKIPS}
    return f"{type(loss).__name__}({', '.join(f'{k}={v!r}' for k, v in sorted(config.items()))})"


def make_loss(loss: Any, task: str, n_model_outputs: int) -> Any:
    """The Keras loss: the experiment's own, or the task's default (MSE; binary
    cross-entropy for one output, sparse categorical cross-entropy for several)."""
    import keras

    if loss is None:
        if task == "regression":
            return keras.losses.MeanSquaredError()
        return keras.losses.BinaryCrossentropy() if n_model_outputs == 1 else keras.losses.SparseCategoricalCrossentropy()
    if isinstance(loss, str):
        return keras.losses.get(loss)
    return loss  # as it is (a Keras loss keeps no state; a copy goes through get_config, and Huber's leaves its delta out)


def expects_probabilities(loss: Any) -> bool | None:
    """What a Keras loss takes as the model's outputs: True for probabilities (a cross-entropy
    with `from_logits=False`), False for logits (`from_logits=True`), None for a loss that
    has no such choice (mean squared error, Huber, …). Read from the loss's own `from_logits`
    (its configuration, or its function's default)."""
    import inspect

    function, kwargs = loss_function_parts(loss)
    if "from_logits" in kwargs:
        return not kwargs["from_logits"]
    try:
        parameter = inspect.signature(function).parameters.get("from_logits")
    except (TypeError, ValueError):  # a callable Python cannot read the signature of
        return None
    if parameter is None or not isinstance(parameter.default, bool):
        return None
    return not parameter.default


def check_loss(owner: str, loss: Any, task: str, n_classes: int) -> None:
    """Refuse, in one line, a loss Keras does not know or that cannot judge the task's outputs:
    tried on made-up targets and outputs of the task's shapes before anything trains."""
    if loss is None:
        return
    import keras

    n_out = 1 if task == "regression" or n_classes <= 2 else n_classes
    try:
        function = make_loss(loss, task, n_out)
    except (ValueError, TypeError) as exc:
        raise HarnessError(f"{owner}: loss {loss_label(loss)!r} is not a Keras loss ({_first_line(exc)})") from None
    function = as_loss_object(function)  # a loss function as compile wraps it: reduced per batch
    rows = 6
    if task == "regression" or n_out == 1:
        y = (np.arange(rows) % 2).astype("float32")
        outputs = np.full((rows, 1), 0.25, "float32") + y[:, None] * 0.5
    else:
        y = (np.arange(rows) % n_out).astype("int32")
        outputs = (np.eye(n_out, dtype="float32")[y] + 0.1) / (1 + 0.1 * n_out)
    try:
        value = np.asarray(function(keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(outputs)))
    except Exception as exc:  # noqa: BLE001 - the user's loss on the task's shapes
        raise HarnessError(f"{owner}: loss {loss_label(loss)!r} does not work for {task} with {n_out} model "
                           f"output(s) and {'class indices' if task == 'classification' else 'numbers'} as targets: "
                           f"{_first_line(exc)}") from None
    if value.size != 1 or not np.isfinite(value).all():
        raise HarnessError(f"{owner}: loss {loss_label(loss)!r} gives {value.ravel()[:3]} on the task's outputs, "
                           "not one finite number per batch")


def is_class_weight(value: Any) -> bool:
    """None, 'balanced' or {label: finite weight >= 0}."""
    if value is None or value == "balanced":
        return True
    if not isinstance(value, dict) or not value:
        return False
    try:
        weights = np.asarray(list(value.values()), dtype="float64")
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(weights).all() and (weights >= 0).all())


def class_weight_label(value: Any) -> Any:
    """What a run records and keys: None, 'balanced', or the weights by label (as text), sorted."""
    if isinstance(value, dict):
        return {str(k): float(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    return value


def check_class_weight(owner: str, value: Any, classes: np.ndarray) -> None:
    """Refuse class weights naming a label the data does not have."""
    if not isinstance(value, dict):
        return
    known = {str(c) for c in classes}
    unknown = sorted(str(k) for k in value if str(k) not in known)
    if unknown:
        raise HarnessError(f"{owner}: class_weight names label(s) {unknown} that the target does not have "
                           f"(its classes: {', '.join(sorted(known)[:10])})")


def row_weights(class_weight: Any, classes: np.ndarray, codes: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray | None:
    """Each training row's weight (float32), from its class (`codes` index `classes`) and its
    sample weight; None when neither is given."""
    if class_weight is None and sample_weight is None:
        return None
    weights = np.ones(len(codes), "float64")
    if class_weight == "balanced":
        from sklearn.utils.class_weight import compute_class_weight

        present = np.unique(codes)
        per_class = np.ones(len(classes))
        per_class[present] = compute_class_weight("balanced", classes=present, y=codes)
        weights = per_class[codes]
    elif isinstance(class_weight, dict):
        by_label = {str(k): float(v) for k, v in class_weight.items()}
        weights = np.asarray([by_label.get(str(c), 1.0) for c in classes])[codes]
    if sample_weight is not None:
        weights = weights * np.asarray(sample_weight, "float64")
    return weights.astype("float32")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
