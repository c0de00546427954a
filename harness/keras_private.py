"""Every private Keras API the harness uses, behind one function each, with why.

Keras exports no public way to do these things; each is a place a Keras upgrade can break, so
they live here, in one module, where a test run on the new version finds them (the test suite
exercises every function below). Keras is imported where a function needs it, so importing
this module costs nothing. Nothing else in the harness imports `keras.src`, calls a
Keras method whose name starts with `_`, or touches Keras' private attributes.
"""
from __future__ import annotations

import sys
from typing import Any, Callable


def nested_layers(model: Any) -> list[Any]:
    """Every layer of a model, nested ones included, in the order Keras creates them.

    Private: `Layer._flatten_layers`. `model.layers` lists the top level only, and no public
    call walks into a nested model or a layer's sublayers."""
    return list(model._flatten_layers(include_self=False))


def own_variables(layer: Any) -> list[Any]:
    """The variables a layer created itself (not its sublayers'), trainable ones first, in the
    order it created them.

    Private: `Layer._trainable_variables` and `_non_trainable_variables`. `layer.weights`
    includes every sublayer's variables too."""
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def is_functional_chain_class(model: Any) -> bool:
    """Whether the model is a functional model whose `call` is Keras' own graph (not a subclass
    with a `call` of its own).

    Private: `keras.src.models.functional.Functional`; Keras exports no name for the class of
    a functional model, and `keras.Model` is the base of every model."""
    from keras.src.models.functional import Functional

    return isinstance(model, Functional) and type(model).call is Functional.call


def excludes_from_weight_decay(optimizer: Any) -> bool:
    """Whether `optimizer.exclude_from_weight_decay(...)` was called on it.

    Private: `Optimizer._exclude_from_weight_decay` and `_exclude_from_weight_decay_pattern`;
    the method sets them and nothing public reads them back."""
    return bool(getattr(optimizer, "_exclude_from_weight_decay", None)
                or getattr(optimizer, "_exclude_from_weight_decay_pattern", None))


def stateless_optimizer(class_name: str, config: dict[str, Any]) -> Any:
    """A Keras optimizer of class `class_name` whose `stateless_apply` works on the TensorFlow
    backend.

    Keras' TensorFlow optimizers route updates through tf.distribute and refuse
    `stateless_apply`; the backend-agnostic update path of `BaseOptimizer` (the one Keras' JAX
    backend uses) runs the same `update_step` arithmetic on values instead of variables. The
    class returned is the user's optimizer class with that path restored.
    Private: `keras.src.optimizers.base_optimizer.BaseOptimizer` (Keras exports no name for
    the backend-neutral optimizer) and its `_backend_update_step` and `_var_key`."""
    import keras
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    base = type(keras.optimizers.get({"class_name": class_name, "config": dict(config)}))
    restored = {
        name: getattr(BaseOptimizer, name)
        for name in ("stateless_apply", "assign", "assign_add", "assign_sub", "_backend_update_step", "_var_key")
    }
    return type(f"Stateless{base.__name__}", (base,), restored)(**config)


def summary_text(model: Any) -> str:
    """Keras' model summary as text.

    Keras captures it from a rich Console, which in a Jupyter kernel would also display an
    empty cell output; the console is told it is not in Jupyter while the summary is taken.
    Private: `rich.console._is_jupyter` (rich's, which Keras' summary uses)."""
    lines: list[str] = []
    console = sys.modules.get("rich.console")
    is_jupyter: Callable[[], bool] | None = getattr(console, "_is_jupyter", None)
    if is_jupyter is not None:
        console._is_jupyter = lambda: False  # type: ignore[union-attr]
    try:
        model.summary(print_fn=lambda text, line_break=False: lines.append(text))
    finally:
        if is_jupyter is not None:
            console._is_jupyter = is_jupyter  # type: ignore[union-attr]
    return "\n".join(lines)



def loss_function_parts(loss: Any) -> tuple[Any, dict[str, Any]]:
    """(the per-row function, its keyword arguments) of a Keras loss: a built-in loss object
    (`keras.losses.Huber(delta=0.5)` is `huber` with {'delta': 0.5}) or a loss function as it is.

    Private: `LossFunctionWrapper` (`keras.src.losses`) and its `fn` and `_fn_kwargs`. Keras'
    built-in loss classes are that wrapper around a public function; nothing public says which
    function and arguments a loss object computes with."""
    from keras.src.losses.losses import LossFunctionWrapper

    if isinstance(loss, LossFunctionWrapper):
        return loss.fn, dict(loss._fn_kwargs)
    return loss, {}


def as_loss_object(function: Any) -> Any:
    """A loss function as `model.compile` takes it: wrapped into a Keras loss that aligns the
    targets' rank with the outputs' and reduces over the batch.

    Private: `keras.src.losses.LossFunctionWrapper`, what compile wraps a function in."""
    import keras
    from keras.src.losses.losses import LossFunctionWrapper

    return function if isinstance(function, keras.losses.Loss) else LossFunctionWrapper(function)
