"""Engines turn jobs into trained Keras models; nothing else trains.

- `keras`: one ordinary `model.fit` per (variant, fold): the reference.
- `stacked`: members (variant × fold) of one architecture trained as one stacked Keras model;
  an error if a variant cannot be stacked.
- `auto` (default): stacked where supported, one fit per fold for the rest, saying why.
"""
from __future__ import annotations

from ..errors import HarnessError
from .base import Engine, FoldRecord, TrainedMember, decode_weights, finish

ENGINES = ("auto", "keras", "stacked")


def get_engine(name: str) -> Engine:
    """The engine called `name`: 'auto', 'keras' or 'stacked'."""
    if name == "keras":
        from .keras_fit import KerasFitEngine

        return KerasFitEngine()
    if name in ("auto", "stacked"):
        from .stacked import StackedEngine

        return StackedEngine(fallback=name == "auto")
    raise HarnessError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "FoldRecord", "TrainedMember", "decode_weights", "finish", "get_engine"]
