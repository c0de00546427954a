"""A variant: one regularization setting an experiment compares, as the user declares it."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import HarnessError
from .tasks import is_real
from .tuning import BOTH, FIELDS, Search


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
    #: a search space instead of fixed values (a tuned variant: see `harness.core.tuning`);
    #: the fields above are then what every candidate starts from
    search: Search | None = None

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
        if isinstance(self.search, Mapping):  # as a run record keeps it
            object.__setattr__(self, "search", Search(**self.search))
        if self.search is not None and not isinstance(self.search, Search):
            raise HarnessError(f"variant {self.name!r}: search must be a harness Search, got {type(self.search).__name__}")

    @property
    def is_tuned(self) -> bool:
        return self.search is not None

    def config(self) -> dict[str, Any]:
        """The full configuration as plain JSON-able data (a fixed variant's as it always was:
        without `search`)."""
        config = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "search"}
        config["settings"] = dict(self.settings)
        if self.search is not None:
            config["search"] = self.search.config()
        return config

    def candidate(self, values: Mapping[str, Any]) -> "Variant":
        """The fixed variant one point of the search trains: this variant's name and fields with
        the point's values set (`l1_l2` sets both; other names go into `settings`)."""
        fields: dict[str, Any] = {}
        settings = dict(self.settings)
        for axis, value in values.items():
            if axis == BOTH:
                fields["l1"] = fields["l2"] = value
            elif axis in FIELDS:
                fields[axis] = value
            else:
                settings[axis] = value
        return dataclasses.replace(self, **fields, settings=settings, search=None)

    def candidates(self) -> list["Variant"]:
        """The fixed variants of every candidate of the search (none for a fixed variant)."""
        return [self.candidate(point) for point in self.search.candidates()] if self.search else []

    def config_hash(self) -> str:
        """A stable short hash of the configuration (name included)."""
        text = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def tuned(name: str, grid: Mapping[str, Any] | None = None, *, method: str = "grid", n_candidates: int | None = None,
          rule: str = "best", inner_folds: int = 3, factor: int = 3, seed: int = 0,
          fixed: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None, **axes: Any) -> Variant:
    """A tuned variant: `tuned("L2 (tuned)", l2=log_grid(1e-6, 1e-2))`. Axes are given as
    keywords or as `grid` (l1, l2, l1_l2, dropout, weight_decay, or a setting's name); `fixed`
    holds fields every candidate shares (e.g. `fixed={"dropout": 0.2}`). See
    `harness.core.tuning` for the methods and rules."""
    space = {**(grid or {}), **axes}
    return Variant(name, **dict(fixed or {}), settings=settings or {},
                   search=Search(space, method=method, n_candidates=n_candidates, rule=rule, inner_folds=inner_folds,
                                 factor=factor, seed=seed))


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


#: the strengths the default suite's tuned penalties search (log-spaced, a factor of 10 apart)
SUITE_PENALTIES = (1e-4, 1e-3, 1e-2)
#: the dropout rates its tuned dropout searches
SUITE_DROPOUT = (0.1, 0.3, 0.5)


def suite_variants() -> list[Variant]:
    """The default suite's variants: none; L1, L2, L1L2 (l1 = l2) and dropout each tuned by
    nested cross-validation (3-fold inner CV, best mean) over a 3-point grid; and three fixed
    strengths beside them (L1 1e-3, L2 1e-3, dropout 0.2) that show what tuning buys."""
    return [
        Variant("none"),
        tuned("L1 (tuned)", l1=SUITE_PENALTIES),
        tuned("L2 (tuned)", l2=SUITE_PENALTIES),
        tuned("L1L2 (tuned)", l1_l2=SUITE_PENALTIES),
        tuned("dropout (tuned)", dropout=SUITE_DROPOUT),
        Variant("L1 1e-3", l1=1e-3),
        Variant("L2 1e-3", l2=1e-3),
        Variant("dropout 0.2", dropout=0.2),
    ]
