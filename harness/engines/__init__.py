"""Engines turn jobs into trained Keras models; nothing else trains.

- `keras`: one ordinary `model.fit` per (variant, fold): the reference.
"""
from __future__ import annotations

from ..errors import HarnessError
from .base import Engine, FoldRecord, TrainedMember, decode_weights, finish

ENGINES = ("keras",)


def get_engine(name: str) -> Engine:
    """The engine called `name`: 'auto', 'keras' or 'stacked'."""
    if name == "keras":
        from .keras_fit import KerasFitEngine

        return KerasFitEngine()
    raise HarnessError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "FoldRecord", "TrainedMember", "decode_weights", "finish", "get_engine"]
