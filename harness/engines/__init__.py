"""Engines turn jobs into trained models; nothing else trains.

Trainers (one kind of job each):
- `keras`: one ordinary `model.fit` per (variant, split): the reference;
- `stacked`: members (variant × split) of one architecture trained as one stacked Keras model;
- `sklearn`: an experiment's reference models (scikit-learn estimators), one fit per (reference model, split).

What `--engine` chooses (`ENGINES`) is which trainer takes each network job:
- `auto` (default): stacked where supported, one fit per split for the rest, saying why;
- `keras`: one fit per split for every variant;
- `stacked`: stacked, and an error if a variant cannot be stacked;
- the name of a trainer added with `register_trainer`: that trainer, for every variant.
This module imports no TensorFlow until a trainer is asked for, so the command line stays fast.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..errors import HarnessError

#: --engine choice -> what it does (the command line's choices and help)
ENGINES = {
    "auto": "stack members of one architecture into one Keras model where supported, one model.fit per split otherwise",
    "keras": "one model.fit per split",
    "stacked": "stack every member, or fail",
}


def _keras(**options: Any) -> Any:
    from .keras_fit import KerasFitEngine

    return KerasFitEngine(**options)


def _stacked(**options: Any) -> Any:
    from .stacked import StackedEngine

    return StackedEngine(fallback=False, **options)


def _sklearn(**options: Any) -> Any:
    from .sklearn_fit import SklearnEngine

    return SklearnEngine(**options)


#: trainer name -> factory of a `harness.engines.base.Trainer`
TRAINERS: dict[str, Callable[..., Any]] = {"keras": _keras, "stacked": _stacked, "sklearn": _sklearn}


def register_trainer(name: str, factory: Callable[..., Any], description: str) -> None:
    """Add a trainer of network jobs: `factory()` returns an object with the `Trainer` protocol
    (`harness.engines.base`); `--engine NAME` (or `run_experiments(engine=NAME)`) then gives
    it every variant. Worker processes and Dask workers must be able to import the module
    that registers it."""
    if name in ENGINES or name in TRAINERS:
        raise HarnessError(f"an engine named {name!r} exists already")
    TRAINERS[name] = factory
    ENGINES[name] = description


def get_trainer(kind: str, **options: Any) -> Any:
    """A trainer of one kind of job ('keras', 'stacked', 'sklearn', or a registered one);
    `options` go to its factory (e.g. `jit_compile` for 'stacked')."""
    if kind not in TRAINERS:
        raise HarnessError(f"unknown trainer {kind!r}; choose from {', '.join(TRAINERS)}")
    return TRAINERS[kind](**options)


def assign(name: str, exp: Any, splits: Any, jobs: Sequence[Any]) -> tuple[dict[int, Any], list[str]]:
    """Which trainer takes each network job under `--engine NAME`, as {id(job): trainer}, and
    the notes the experiment's report shows about it. Refuses (HarnessError) what `stacked`
    cannot stack."""
    if name not in ENGINES:
        raise HarnessError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    if name not in ("auto", "keras", "stacked"):  # a registered trainer takes every network job
        trainer = get_trainer(name)
        return {id(job): trainer for job in jobs}, [f"Engine: {name} ({ENGINES[name]})."]
    keras_fit = get_trainer("keras")
    if name == "keras":
        return {id(job): keras_fit for job in jobs}, [f"Engine: keras, one model.fit per split ({len(jobs)} fits)."]
    from .stacked import StackedEngine

    stacked = StackedEngine(fallback=name == "auto")
    groups, rest = stacked.partition(exp, splits, jobs)
    chosen = {id(job): keras_fit for job in rest}
    chosen.update({id(job): stacked for group in groups for job in group.jobs})
    return chosen, stacked.notes(exp, splits, jobs)


__all__ = ["ENGINES", "TRAINERS", "assign", "get_trainer", "register_trainer"]
