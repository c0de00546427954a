"""A stored run as typed results, and the `Section` a report is made of.

`Results` is what every report section reads: the run's settings, its variants as `Variant`s,
one row per (variant or reference model, split) with per-epoch curves and decoded weights,
and the data as loaded when the run was recorded. It is built from the store alone
(`Results.load`), so a report can be rewritten at any time without the experiment's code
or its data files.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .experiment import Dataset, Variant
from .records import OK, decode_weights
from .settings import SCORES

if TYPE_CHECKING:  # pragma: no cover
    from .experiment import Experiment
    from .store import Store


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


_SPLIT_COLUMNS = ["variant", "split", "seed", "status", "reason", "score", "train_score", "epochs", "best_epoch",
                  "stopped_epoch", "seconds", "engine", "metrics", "loss", "val_loss", "weights", "job_key"]


def stopped_epochs(rows: pd.DataFrame, patience: int | None) -> list[int]:
    """Keras' `EarlyStopping.stopped_epoch` for each row, the figure Heaton's notebooks print
    as epochs: the 0-based epoch at which early stopping fired (it fires once `patience`
    epochs have passed without improvement), and 0 when it never fired."""
    if patience is None:
        return [0] * len(rows)
    return [int(e) - 1 if engine != "sklearn" and int(e) - int(b) >= max(patience, 1) else 0
            for e, b, engine in zip(rows["epochs"], rows["best_epoch"], rows["engine"])]


@dataclass(repr=False)
class Results:
    """One run of one experiment, as the store keeps it; what `harness.run` and
    `harness.results` return.

    `splits` has one row per job in the run's order: variant, split (0-based), seed, status
    ('ok', 'failed', 'error'), reason, score, train_score, epochs, best_epoch, stopped_epoch
    (Keras' figure: 0-based, 0 when early stopping never fired), seconds, engine,
    metrics (dict), loss and val_loss (per-epoch lists) and weights (name -> array, or None).
    `comparison` and `paired` are the report's two tables as DataFrames, `page` the HTML
    report's path; in Jupyter the object shows the comparison and the split scores inline.
    """

    experiment: str
    run_id: str
    dataset: str
    started: float
    status: str
    settings: dict[str, Any]
    variants: list[Variant]
    reference_models: list[str]
    splits: pd.DataFrame
    data: Dataset | None = None
    #: the experiment object whose own `report_sections` the page shows (None when unknown)
    definition: "Experiment | None" = None
    #: tables computed once from these results and shared by the report's sections
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: the experiment's HTML report (reports/<experiment>/index.html), where it was written
    page: Path | None = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, store: "Store", experiment: str, run_id: str | None = None,
             definition: "Experiment | None" = None, weights: bool = True, data: bool = True) -> "Results":
        """The run `run_id` of `experiment` (default: the one its report shows); `weights` and
        `data` False skip decoding the weights and reading the data (for a quick summary)."""
        run_id = run_id or store.latest_run_ids()[experiment]
        run = store.runs(experiment).set_index("run_id").loc[run_id]
        settings = run["settings"]
        rows = store.rows(run_id=run_id, with_weights=weights)
        rows["weights"] = ([decode_weights(blob) if blob is not None else None for blob in rows["weights"]]
                           if weights else None)
        rows["stopped_epoch"] = stopped_epochs(rows, settings.get("patience"))
        variants = [Variant(**config) for config in settings.get("variant_configs", [])]
        references = [entry["name"] for entry in settings.get("reference_models", settings.get("baselines", []))]
        references += [name for name in dict.fromkeys(rows.loc[rows["engine"] == "sklearn", "variant"])
                       if name not in references]
        data_key = settings.get("data_fingerprint")
        return cls(experiment=experiment, run_id=run_id, dataset=run["dataset"], started=float(run["started_at"]),
                   status=run["status"], settings=settings, variants=variants, reference_models=references,
                   splits=rows[_SPLIT_COLUMNS].reset_index(drop=True),
                   data=store.dataset(data_key) if data_key and data else None, definition=definition)

    # ------------------------------------------------------------------ what was compared
    @property
    def score_name(self) -> str:
        return self.settings["score"]

    @property
    def greater_is_better(self) -> bool:
        return bool(self.settings.get("greater_is_better", SCORES.get(self.score_name, True)))

    @property
    def order(self) -> list[str]:
        """Every name scored, in the experiment's order: variants, then reference models, then
        any other name found in the rows."""
        names = [v.name for v in self.variants] + self.reference_models
        return list(dict.fromkeys(names + list(self.splits["variant"])))

    @property
    def networks(self) -> list[str]:
        """The names of the network variants (not the reference models)."""
        return [name for name in self.order if name not in self.reference_models]

    @property
    def baseline(self) -> str:
        """The baseline variant, the unregularized network others are compared with: 'none'
        when there is one, else the first variant."""
        names = self.networks or self.order
        return "none" if "none" in names else names[0]

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(f"{self.experiment}: no variant named {name!r}")

    # ------------------------------------------------------------------ the report's tables
    @property
    def comparison(self) -> pd.DataFrame:
        """The report's comparison table with numbers, not text: one row per name (index
        `variant`; variants and reference models), best mean score first. Columns: kind
        ('network' or 'reference model'), splits, failed, mean, stdev (population, as
        Heaton), min, max (of the score over successful splits), mean_epochs,
        mean_best_epoch, mean_train, gap (mean_train − mean), difference (mean paired
        difference from the baseline variant), p (corrected paired t-test), p_holm, verdict
        ('baseline', 'better', 'worse', 'no evidence'), seconds (training time summed)."""
        from .report.sections import summary_table

        summary = summary_table(self)
        table = summary[["variant", "kind", "splits", "failed", "mean", "stdev", "min", "max", "mean_epochs",
                         "mean_best_epoch", "mean_train", "gap", "mean_difference", "p_corrected", "p_corrected_holm",
                         "verdict", "seconds"]].rename(columns={"mean_difference": "difference", "p_corrected": "p",
                                                                "p_corrected_holm": "p_holm"})
        table.loc[table["variant"] == self.baseline, "verdict"] = "baseline"
        table.attrs.update(score=self.score_name, greater_is_better=self.greater_is_better, baseline=self.baseline)
        return table.set_index("variant")

    @property
    def paired(self) -> pd.DataFrame:
        """The report's paired comparison with the baseline variant, one row per other name
        (index `variant`): pairs (splits both scored), difference (mean, variant − baseline),
        ci_low, ci_high (its 95% interval), p (corrected paired t-test, or plain where no
        correction applies), p_holm, p_wilcoxon, p_wilcoxon_holm, wins, losses (splits
        better / worse than the baseline), p_better, p_equivalent, p_worse (Bayesian
        correlated t-test within the rope) and verdict."""
        from .report.sections import summary_table

        summary = summary_table(self)
        table = summary.loc[summary["variant"] != self.baseline,
                            ["variant", "pairs", "mean_difference", "ci_low", "ci_high", "p_corrected",
                             "p_corrected_holm", "p_wilcoxon", "p_wilcoxon_holm", "wins", "losses", "p_better",
                             "p_equivalent", "p_worse", "verdict"]]
        table = table.rename(columns={"mean_difference": "difference", "p_corrected": "p",
                                      "p_corrected_holm": "p_holm"})
        table = table.astype({"pairs": "Int64", "wins": "Int64", "losses": "Int64"})
        table.attrs.update(score=self.score_name, greater_is_better=self.greater_is_better, baseline=self.baseline)
        return table.set_index("variant")

    def __repr__(self) -> str:
        ok = self.splits[self.splits["status"] == OK]
        best = ""
        if len(ok):
            top = self.comparison.iloc[0]
            best = f", best {top.name} ({self.score_name} {top['mean']:.4g})"
        page = f", page {self.page}" if self.page else ""
        return (f"<Results of {self.experiment!r}: run {self.run_id}, {self.names_counted()}, "
                f"{self.splits['split'].nunique()} splits, {len(ok)}/{len(self.splits)} fits ok{best}{page}>")

    def names_counted(self) -> str:
        """'4 variants', or '4 variants and 4 reference models'."""
        references = len(self.order) - len(self.networks)
        text = f"{len(self.networks)} variant{'s' if len(self.networks) != 1 else ''}"
        return text + (f" and {references} reference model{'s' if references != 1 else ''}" if references else "")

    def _repr_html_(self) -> str:
        """Jupyter's view: the comparison table and the split-score figure."""
        from .report.inline import results_html

        return results_html(self)

    # ------------------------------------------------------------------ rows
    def ok(self, variant: str | None = None) -> pd.DataFrame:
        """The successful rows (of one variant), in split order."""
        rows = self.splits[self.splits["status"] == OK]
        if variant is not None:
            rows = rows[rows["variant"] == variant]
        return rows.sort_values("split", kind="stable") if variant is not None else rows

    def scores(self) -> pd.DataFrame:
        """One row per successful network split: variant, split, score, train_score, epochs,
        best_epoch, seconds, weights, the split's metrics as columns (train_rows, …) and the
        variant's settings as columns (l1, l2, dropout, weight_decay, penalty, then its own
        `settings`, which win over a name they share)."""
        ok = self.ok()
        ok = ok[ok["variant"].isin([v.name for v in self.variants])]
        base = ok[["variant", "split", "score", "train_score", "epochs", "best_epoch", "seconds", "weights"]]
        base = base.reset_index(drop=True)
        metrics = pd.json_normalize(ok["metrics"].tolist()).reset_index(drop=True)
        metrics = metrics[[c for c in metrics.columns if c not in base.columns]]
        described = pd.DataFrame([{"variant": v.name, "l1": v.l1, "l2": v.l2, "dropout": v.dropout,
                                   "weight_decay": v.weight_decay, "penalty": v.penalty, **v.settings}
                                  for v in self.variants])
        table = pd.concat([base, metrics], axis=1)
        return table.merge(described, on="variant", how="left") if len(described) else table

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
