"""Engines turn jobs into trained models and records; nothing else trains.

Trainers are registered by name (`register_trainer`), each with what it is (its `kind`: it
trains networks or an experiment's reference models) and whether `--engine auto` may give it
jobs (`auto`: a rank, lowest first). The built-in ones:
- `stacked` (auto rank 10): members (variant × split) of one architecture trained as one
  stacked Keras model;
- `keras` (auto rank 100): one ordinary `model.fit` per (variant, split), the reference; it
  trains any Keras model, so under `auto` it takes what no trainer before it takes;
- `sklearn`: an experiment's reference models (scikit-learn estimators), one fit per job.

`--engine NAME` chooses who trains the network jobs (`assign`): `auto` asks each auto trainer
in rank order whether it can take a job (`Trainer.skip`) and gives it to the first that can,
saying on the page why the others could not; the name of a trainer gives it every network
job and refuses, in one line, a job it cannot take. This module imports no TensorFlow until a
trainer is asked for, so the command line stays fast.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..core import NETWORK, REFERENCE
from ..errors import HarnessError


@dataclass(frozen=True)
class Registration:
    """A trainer as registered: how to make it, one line on what it does, what kind of job it
    trains, and its rank under `--engine auto` (None: only by name)."""

    factory: Callable[..., Any]
    description: str
    kind: str = NETWORK
    auto: float | None = None


def _keras(**options: Any) -> Any:
    from .keras_fit import KerasFitEngine

    return KerasFitEngine(**options)


def _stacked(**options: Any) -> Any:
    from .stacked import StackedEngine

    return StackedEngine(**options)


def _sklearn(**options: Any) -> Any:
    from .sklearn_fit import SklearnEngine

    return SklearnEngine(**options)


#: trainer name -> its registration
TRAINERS: dict[str, Registration] = {
    "stacked": Registration(_stacked, "stack members of one architecture into one Keras model", auto=10),
    "keras": Registration(_keras, "one model.fit per split", auto=100),
    "sklearn": Registration(_sklearn, "an experiment's reference models, one scikit-learn fit per split", REFERENCE),
}
AUTO = "auto"


def register_trainer(name: str, factory: Callable[..., Any], description: str, *, kind: str = NETWORK,
                     auto: float | None = None) -> None:
    """Add a trainer: `factory()` returns an object with the `Trainer` protocol
    (`harness.engines.base`) whose `name` is `name` and whose `kind` is `kind`. A network trainer is then `--engine NAME`
    (every network job), and with `auto` (a rank: stacked is 10, keras 100) `--engine auto`
    offers it the jobs the trainers of lower rank skip. Worker processes and Dask workers get
    the factory with each task (by reference: they must be able to import its module)."""
    if name in TRAINERS or name == AUTO:
        raise HarnessError(f"an engine named {name!r} exists already")
    if kind not in (NETWORK, REFERENCE):
        raise HarnessError(f"trainer {name!r}: kind must be {NETWORK!r} or {REFERENCE!r}, got {kind!r}")
    TRAINERS[name] = Registration(factory, description, kind, auto)


def unregister_trainer(name: str) -> None:
    """Remove a trainer `register_trainer` added."""
    TRAINERS.pop(name, None)


def engines() -> dict[str, str]:
    """The `--engine` choices and what each does: 'auto', then every network trainer."""
    auto = ", ".join(name for name in _auto_order())
    return {AUTO: f"each variant to the first of {auto} that can train it",
            **{name: r.description for name, r in TRAINERS.items() if r.kind == NETWORK}}


def get_trainer(name: str, **options: Any) -> Any:
    """A trainer by name; `options` go to its factory (e.g. `jit_compile` for 'stacked')."""
    if name not in TRAINERS:
        raise HarnessError(f"unknown trainer {name!r}; choose from {', '.join(TRAINERS)}")
    trainer = TRAINERS[name].factory(**options)
    if getattr(trainer, "name", None) != name:  # records, keys and tasks name a trainer by what it calls itself
        raise HarnessError(f"trainer {name!r} was registered under another name than its own, "
                           f"{getattr(trainer, 'name', None)!r}: register it as {getattr(trainer, 'name', None)!r}")
    if getattr(trainer, "kind", None) != TRAINERS[name].kind:
        raise HarnessError(f"trainer {name!r} was registered as kind {TRAINERS[name].kind!r} but makes one of kind "
                           f"{getattr(trainer, 'kind', None)!r}")
    return trainer


def reference_trainer() -> Any:
    """The trainer of reference-model jobs (the registered trainer of kind REFERENCE)."""
    names = [name for name, r in TRAINERS.items() if r.kind == REFERENCE]
    if len(names) != 1:
        raise HarnessError(f"exactly one trainer of reference models must be registered, found {names}")
    return get_trainer(names[0])


def _auto_order() -> list[str]:
    ranked = [(r.auto, i, name) for i, (name, r) in enumerate(TRAINERS.items()) if r.auto is not None and r.kind == NETWORK]
    return [name for _, _, name in sorted(ranked)]


def assign(choice: str, exp: Any, splits: Any, jobs: Sequence[Any]) -> tuple[dict[int, Any], list[str]]:
    """Which trainer takes each network job under `--engine choice`, as {id(job): trainer}, and
    the notes the experiment's page shows about it. A job no candidate takes is refused
    (HarnessError) with the reason."""
    if choice != AUTO and (choice not in TRAINERS or TRAINERS[choice].kind != NETWORK):
        raise HarnessError(f"unknown engine {choice!r}; choose from {', '.join(engines())}")
    candidates = [get_trainer(name) for name in (_auto_order() if choice == AUTO else [choice])]
    chosen: dict[int, Any] = {}
    passed_over: dict[str, tuple[str, str]] = {}  # variant -> (trainer it skipped, why), for the page
    for job in jobs:
        reasons = []
        for trainer in candidates:
            reason = trainer.skip(exp, splits, job)
            if reason is None:
                chosen[id(job)] = trainer
                break
            reasons.append((trainer.name, reason))
        else:
            why = "; ".join(f"{name}: {reason}" for name, reason in reasons)
            hint = "; use --engine auto" if choice != AUTO else ""
            raise HarnessError(f"--engine {choice} cannot train variant {job.name!r} ({why}){hint}")
        if reasons:
            passed_over.setdefault(job.name, reasons[0])
    notes = []
    for trainer in candidates:
        mine = [job for job in jobs if chosen[id(job)] is trainer]
        notes += trainer.notes(exp, splits, mine) if mine else []
    for variant, (skipped, reason) in passed_over.items():
        taker = next(chosen[id(job)] for job in jobs if job.name == variant)
        notes.append(f"Variant {variant!r} trained with {TRAINERS[taker.name].description} ({taker.name} engine), "
                     f"not {skipped}: {reason}.")
    return chosen, notes


__all__ = ["AUTO", "Registration", "TRAINERS", "assign", "engines", "get_trainer", "reference_trainer",
           "register_trainer", "unregister_trainer"]
