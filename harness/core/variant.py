"""A variant: one regularization setting an experiment compares, as the user declares it."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import HarnessError
from .tasks import is_real


@dataclass(frozen=True)
class Variant:
    """One regularization setting: penalties, dropout, weight decay, plus free-form settings.

    These are what the model builder is given: `l1` and `l2` go on the hidden Dense kernels as
    a Keras `kernel_regularizer` (both set = L1L2); `dropout` follows each hidden layer;
    `weight_decay` is the optimizer's decoupled decay. `settings` holds anything else a model
    builder may read (e.g. `hidden`, or a noise level a builder of your own turns into a layer).
    What the variant is actually trained with is read back from the model it builds
    (`harness.core.Regularization`), whichever fields it used to say so.
    """

    name: str
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    weight_decay: float = 0.0
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise HarnessError(f"variant name must be a non-empty string, got {self.name!r}")
        for attr in ("l1", "l2", "weight_decay"):
            value = getattr(self, attr)
            if not is_real(value) or value < 0:
                raise HarnessError(
                    f"variant {self.name!r}: {attr} must be a finite number >= 0, got {value!r}"
                )
        if not is_real(self.dropout) or not 0 <= self.dropout < 1:
            raise HarnessError(
                f"variant {self.name!r}: dropout must be in [0, 1), got {self.dropout!r}"
            )
        object.__setattr__(self, "settings", dict(self.settings))

    def config(self) -> dict[str, Any]:
        """The full configuration as plain JSON-able data."""
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """A stable short hash of the configuration (name included)."""
        text = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def standard_variants() -> list[Variant]:
    """The nine variants of the default suite."""
    return [
        Variant("none"),
        Variant("L1 1e-4", l1=1e-4),
        Variant("L1 1e-3", l1=1e-3),
        Variant("L2 1e-4", l2=1e-4),
        Variant("L2 1e-3", l2=1e-3),
        Variant("L1L2 1e-4", l1=1e-4, l2=1e-4),
        Variant("dropout 0.2", dropout=0.2),
        Variant("dropout 0.5", dropout=0.5),
        Variant("dropout 0.2 + L2 1e-4", dropout=0.2, l2=1e-4),
    ]
