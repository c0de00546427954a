"""A stored run as typed results, and the `Section` a report is made of.

`Results` is what the statistics and every report section read: the run's record (its
settings, its variants and what regularizes each), one row per (variant or reference model,
split) with per-epoch curves and decoded weights, and the data as loaded when the run was
recorded. The store builds it (`Store.results`) from what it keeps alone, so a report can be
rewritten at any time without the experiment's code or its data files. Tables computed from
it (comparisons, paired tests) live in `harness.stats`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd

from .dataset import Dataset
from .records import OK, REFERENCE
from .regularization import Regularization
from .run import RunRecord
from .tasks import SCORES
from .variant import Variant


@dataclass
class Section:
    """One part of a report page: a heading, a paragraph, a figure, a table.

    `figure` is a matplotlib Figure (the report saves and closes it) or a base64 PNG. With
    `csv`, `table` is also written beside the page under that file name. `note` is a muted
    paragraph under the heading; `digits` sets the decimals per table column (default 4);
    `highlight` marks the rows whose first cell equals it; `row_classes` gives each row a CSS
    class ('failed'); `subsections` nest under this one, folded away when `collapsed`
    (unfolded when `open`); `items` is a list of (term, definition) pairs; `preformatted` is
    shown as is (e.g. a model summary)."""

    title: str
    text: str = ""
    figure: Any = None
    table: pd.DataFrame | None = None
    csv: str | None = None
    note: str = ""
    digits: Mapping[str, int] = field(default_factory=dict)
    highlight: str | None = None
    row_classes: Sequence[str] | None = None
    subsections: Sequence["Section"] = ()
    collapsed: bool = False
    open: bool = False
    items: Sequence[tuple[str, str]] = ()
    preformatted: str | None = None
    error: str | None = None


class Definition(Protocol):
    """What a report needs of an experiment's definition: its own sections."""

    def report_sections(self, results: "Results") -> Sequence[Section]: ...


#: the columns of `Results.splits`, in order
SPLIT_COLUMNS = ["variant", "kind", "split", "seed", "status", "reason", "score", "train_score", "epochs", "best_epoch",
                 "stopped_epoch", "seconds", "engine", "metrics", "loss", "val_loss", "weights", "job_key", "role",
                 "candidate"]
#: the columns of `Results.inner`: a tuned variant's candidates on the inner splits of each outer split
INNER_COLUMNS = ["variant", "split", "inner_split", "candidate", "seed", "status", "reason", "score", "train_score",
                 "epochs", "best_epoch", "seconds", "engine", "loss", "val_loss", "job_key"]


def stopped_epochs(rows: pd.DataFrame, patience: int | None) -> list[int]:
    """Keras' `EarlyStopping.stopped_epoch` for each row, the figure Heaton's notebooks print
    as epochs: the 0-based epoch at which early stopping fired (it fires once `patience`
    epochs have passed without improvement), and 0 when it never fired (or for a reference
    model, which has no epochs)."""
    if patience is None:
        return [0] * len(rows)
    return [int(e) - 1 if kind != REFERENCE and int(e) - int(b) >= max(patience, 1) else 0
            for e, b, kind in zip(rows["epochs"], rows["best_epoch"], rows["kind"])]


@dataclass(repr=False)
class Results:
    """One run of one experiment, as the store keeps it.

    `run` is the run's record (`RunRecord`). `splits` has one row per job in the run's order:
    variant, kind ('network' or 'reference model'), split (0-based), seed, status ('ok',
    'failed', 'error'), reason, score, train_score, epochs, best_epoch, stopped_epoch (Keras'
    figure: 0-based, 0 when early stopping never fired), seconds, engine (the trainer's name),
    metrics (dict), loss and val_loss (per-epoch lists), weights (name -> array, or None) and
    job_key, role ('' or 'refit': a tuned variant's chosen candidate retrained on the outer split)
    and candidate (a refit's chosen values, as JSON). `inner` holds the tuned variants' inner
    cross-validation. `data` is the data as loaded, `definition` the experiment object whose own
    report sections the page shows (None when unknown), `page` the HTML report, where written.
    """

    experiment: str
    run_id: str
    dataset: str
    started: float
    status: str
    run: RunRecord
    splits: pd.DataFrame
    data: Dataset | None = None
    definition: Definition | None = None
    #: a tuned variant's inner cross-validation, one row per (candidate, inner split) of each
    #: outer split (`INNER_COLUMNS`; `candidate` as JSON); empty when nothing was tuned
    inner: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=INNER_COLUMNS))
    #: tables computed once from these results (by harness.stats) and shared by its readers
    derived: dict[str, Any] = field(default_factory=dict, compare=False)
    page: Path | None = None

    # ------------------------------------------------------------------ what was compared
    @property
    def variants(self) -> list[Variant]:
        return self.run.variants

    @property
    def reference_models(self) -> list[str]:
        """The reference models' names: those the run recorded, then any other found in the rows."""
        names = [r.name for r in self.run.reference_models]
        found = self.splits.loc[self.splits["kind"] == REFERENCE, "variant"]
        return names + [name for name in dict.fromkeys(found) if name not in names]

    @property
    def score_name(self) -> str:
        return self.run.score

    @property
    def greater_is_better(self) -> bool:
        recorded = self.run.greater_is_better
        return bool(recorded) if recorded is not None else SCORES.get(self.score_name, True)

    @property
    def order(self) -> list[str]:
        """Every name scored, in the experiment's order: variants, then reference models, then
        any other name found in the rows."""
        names = [v.name for v in self.variants] + self.reference_models
        return list(dict.fromkeys(names + list(self.splits["variant"])))

    @property
    def networks(self) -> list[str]:
        """The names of the network variants (not the reference models)."""
        references = set(self.reference_models)
        return [name for name in self.order if name not in references]

    @property
    def baseline(self) -> str:
        """The baseline variant every other is compared with: the one the run recorded (the
        experiment's `baseline`, else its first variant with nothing regularizing it). A run
        stored before the baseline was recorded keeps the rule it was made under: its variant
        named 'none' when it has one, else its first variant."""
        names = self.networks or self.order
        if self.run.baseline in names:
            return self.run.baseline
        return "none" if self.run.baseline is None and "none" in names else names[0]

    @property
    def regularization_recorded(self) -> bool:
        """Whether the run recorded what regularizes its variants (runs stored before the
        harness read it from the built models did not: running the same experiment again
        records it, finding its jobs in the store without training them)."""
        return bool(self.run.regularization)

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(f"{self.experiment}: no variant named {name!r}")

    def regularization(self, name: str) -> Regularization | None:
        """What regularizes variant `name`, read from its built model (None: not recorded)."""
        return self.run.regularization.get(name)

    def names_counted(self) -> str:
        """'4 variants', or '4 variants and 4 reference models'."""
        references = len(self.order) - len(self.networks)
        text = f"{len(self.networks)} variant{'s' if len(self.networks) != 1 else ''}"
        return text + (f" and {references} reference model{'s' if references != 1 else ''}" if references else "")

    def __repr__(self) -> str:
        ok = self.splits[self.splits["status"] == OK]
        page = f", page {self.page}" if self.page else ""
        return (f"<{type(self).__name__} of {self.experiment!r}: run {self.run_id}, {self.names_counted()}, "
                f"{self.splits['split'].nunique()} splits, {len(ok)}/{len(self.splits)} fits ok{page}>")

    # ------------------------------------------------------------------ rows
    def ok(self, variant: str | None = None) -> pd.DataFrame:
        """The successful rows (of one variant), in split order."""
        rows = self.splits[self.splits["status"] == OK]
        if variant is not None:
            rows = rows[rows["variant"] == variant]
        return rows.sort_values("split", kind="stable") if variant is not None else rows

    def scores(self) -> pd.DataFrame:
        """One row per successful network split: variant, split, score, train_score, epochs,
        best_epoch, seconds, weights, the split's metrics as columns (train_rows, …), what
        regularizes the variant (`regularizers`: e.g. 'L2 + dropout'; `penalty`: 'none', 'L1',
        'L2', 'L1L2' or 'mixed'; `strength`: the penalties' one coefficient, NaN when none or
        several) and the variant's fields and own `settings` as columns (its settings win over
        a name they share)."""
        ok = self.ok()
        ok = ok[ok["variant"].isin([v.name for v in self.variants])]
        base = ok[["variant", "split", "score", "train_score", "epochs", "best_epoch", "seconds", "weights"]]
        base = base.reset_index(drop=True)
        metrics = pd.json_normalize(ok["metrics"].tolist()).reset_index(drop=True)
        metrics = metrics[[c for c in metrics.columns if c not in base.columns]]
        described = pd.DataFrame([{"variant": v.name, **self._regularizers(v.name), **_fields(v)} for v in self.variants])
        table = pd.concat([base, metrics], axis=1)
        return table.merge(described, on="variant", how="left") if len(described) else table

    def _regularizers(self, name: str) -> dict[str, Any]:
        found = self.regularization(name)
        if found is None:
            return {"regularizers": None, "penalty": None, "strength": math.nan}
        strength = None if found.search else found.penalty_strength  # a tuned variant's varies by split
        return {"regularizers": found.family, "penalty": found.penalty_kind,
                "strength": math.nan if strength is None else strength}

    def weights(self, variant: str) -> list[dict[str, np.ndarray]]:
        """The trained weights of each successful split of `variant` (name -> array, in the
        model's order), split order."""
        return [w for w in self.ok(variant)["weights"] if w is not None]

    def curve(self, variant: str, which: str = "loss") -> np.ndarray:
        """Per-epoch `which` ('loss' or 'val_loss') of each successful split of `variant`, as
        a splits × epochs array; splits that stopped early are padded with NaN."""
        curves = [c for c in self.ok(variant)[which] if c]
        longest = max((len(c) for c in curves), default=0)
        table = np.full((len(curves), longest), np.nan)
        for i, curve in enumerate(curves):
            table[i, : len(curve)] = [math.nan if v is None else v for v in curve]
        return table


def _fields(variant: Variant) -> dict[str, Any]:
    """A variant's fields and settings as columns; a tuned variant's searched ones are NaN (its
    value differs by split: `Results.splits['candidate']` holds each refit's)."""
    values = {"l1": variant.l1, "l2": variant.l2, "dropout": variant.dropout, "weight_decay": variant.weight_decay,
              **variant.settings}
    for axis in (variant.search.grid if variant.search is not None else {}):
        for name in (("l1", "l2") if axis == "l1_l2" else (axis,)):
            values[name] = math.nan
    return values
