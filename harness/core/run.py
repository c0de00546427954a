"""The run record: what a run writes about itself when it starts, and every page reads back.

The runner writes one `RunRecord` per run (`harness.runner.metadata`); the store keeps it as
JSON in the run's row, a flat object as it always was, so stores written before the record
was typed load unchanged (`from_json`); the statistics and the report read it by attribute.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Iterator, Mapping

from .regularization import Regularization
from .variant import Variant


class TrainingSettings(Mapping[str, Any]):
    """The training settings a run recorded (those `harness.settings.SETTINGS` declares as
    recorded), by name or attribute: `run.training.epochs`, `run.training["patience"]`. A
    setting declared after a run was stored is missing from that run: `.get(name)` for those."""

    def __init__(self, values: Mapping[str, Any] = ()) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"the run recorded no training setting {name!r}; it recorded {', '.join(sorted(values))}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a run's recorded settings do not change")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"TrainingSettings({self._values!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (TrainingSettings, (self._values,))


@dataclass(frozen=True)
class ReferenceModel:
    """One of the experiment's reference models, as the run recorded it."""

    name: str
    estimator: str
    cls: str = ""


@dataclass
class RunRecord:
    """What a run records about itself: the experiment, its data, how it was trained and why.

    `training` holds the declared training settings; the other fields are what the runner
    adds: the description and source, the splitter and preprocessor (as text), the data's
    shape and fingerprint, the correction its paired tests need, the variants with what
    regularizes each (read from its built model), the reference models, model summaries,
    library versions, the engines' notes, and how many jobs were planned and found done."""

    experiment: str
    dataset: str
    training: TrainingSettings = field(default_factory=TrainingSettings)
    description: str = ""
    source: str = ""
    #: what the source reported, rows {'what', 'reported', 'variant', 'stat', 'note'}
    source_results: list[dict[str, Any]] = field(default_factory=list)
    #: `--quick`, and which version of a long experiment ('full', 'reduced' or None)
    quick: bool = False
    version: str | None = None
    full_settings: dict[str, Any] = field(default_factory=dict)
    protocol_text: str = ""
    splitter: str = ""
    preprocessor: str = ""
    n_rows: int | None = None
    n_features: int | None = None
    input_names: list[str] | None = None
    #: mean test/train rows of the splits where the paired tests take the Nadeau–Bengio
    #: correction, else 0; NaN when unknown
    test_train_ratio: float = math.nan
    resampling_correction: bool = True
    #: whether the splits' training sets share rows: 'partial', 'none', 'identical' (every split
    #: trains on the same rows with another seed), or '' (a run stored before it was recorded)
    training_overlap: str = ""
    greater_is_better: bool | None = None
    variants: list[Variant] = field(default_factory=list)
    #: the variant every other is compared with (None: the first; runs stored before it was recorded)
    baseline: str | None = None
    #: variant name -> what regularizes it, read from its built model
    regularization: dict[str, Regularization] = field(default_factory=dict)
    reference_models: list[ReferenceModel] = field(default_factory=list)
    #: variant name -> its model's summary
    model_summaries: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    #: under which the store keeps the data the run was made on (None: not kept)
    data_fingerprint: str | None = None
    engine_notes: list[str] = field(default_factory=list)
    #: variant name -> its model's trainable and other parameters (the first split's shapes)
    parameters: dict[str, int] = field(default_factory=dict)
    #: the mean number of rows a network trains on per split (fit rows, without validation rows)
    train_rows: float = math.nan
    #: the share of labels known to be wrong or random (the experiment's `label_noise`), None: unknown
    label_noise: float | None = None
    planned: int = 0
    found_done: int = 0

    @property
    def score(self) -> str:
        """The score's name ('accuracy', 'rmse', …)."""
        return self.training["score"]

    # ------------------------------------------------------------------ as the store keeps it
    def to_json(self) -> dict[str, Any]:
        """A flat JSON object: the training settings by name beside the other fields."""
        return {
            **dict(self.training),
            **{f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("training", "variants", "regularization", "reference_models", "planned", "found_done")},
            "variant_configs": [v.config() for v in self.variants],
            "variant_order": [v.name for v in self.variants],  # as runs recorded it before the record was typed
            "regularization": {name: r.to_json() for name, r in self.regularization.items()},
            "reference_models": [{"name": r.name, "kind": "reference model", "estimator": r.estimator, "class": r.cls}
                                 for r in self.reference_models],
            "jobs": {"planned": self.planned, "found_done": self.found_done},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], experiment: str = "", dataset: str = "") -> "RunRecord":
        """The record of a stored run, from any version of the store: fields it lacks keep their
        defaults; what is not a field of the record is a training setting."""
        data = dict(data)
        own = {f.name for f in fields(cls)} - {"training", "variants", "regularization", "reference_models"}
        values = {name: data.pop(name) for name in list(data) if name in own}
        variants = [Variant(**config) for config in data.pop("variant_configs", [])]
        regularization = {name: Regularization.from_json(entry) for name, entry in data.pop("regularization", {}).items()}
        references = [ReferenceModel(r["name"], r.get("estimator", ""), r.get("class", ""))
                      for r in data.pop("reference_models", data.pop("baselines", []))]
        jobs = data.pop("jobs", None) or {}
        data.pop("variant_order", None)  # older runs: the variants' order, which variant_configs keeps
        values.setdefault("experiment", experiment)
        values.setdefault("dataset", dataset)
        if values.get("test_train_ratio") is None:
            values["test_train_ratio"] = math.nan
        return cls(**values, training=TrainingSettings(data), variants=variants, regularization=regularization,
                   reference_models=references, planned=int(jobs.get("planned", 0)),
                   found_done=int(jobs.get("found_done", 0)))
