"""The experiment definition users subclass.

An experiment is declarative: class attributes hold the settings, a few methods return the
data, the splitter, the preprocessor and the model. A subclass overrides only what differs.
Nothing here imports TensorFlow at module level, so listing experiments stays fast.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Mapping, Sequence

import pandas as pd

from .core import DEFAULT_SCORE, SCORES, Dataset, Results, Section, Variant, score_label, standard_variants
from .errors import HarnessError, experiment_label, one_line
from .settings import BY_NAME, SETTINGS, check_settings
from .splitters import SPLITTER_WANTED, is_splitter, resized


def hook_splitter(exp: Any, hook: str, make: Any) -> Any:
    """The splitter a hook of the experiment makes (`make()`: `splitter`, `group_splitter`, an
    overridden `make_splitter`); what it raises, or returns instead of a splitter, is refused in
    one line naming the hook and the experiment's file."""
    try:
        splitter = make()
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's hook
        raise HarnessError(f"{experiment_label(exp)}: {hook}() failed: {one_line(exc)}") from None
    if not is_splitter(splitter):
        raise HarnessError(f"{experiment_label(exp)}: {hook}() returned {type(splitter).__name__}; {SPLITTER_WANTED}")
    return splitter


class Experiment:
    """Base class of every experiment. Subclass it and override only what differs.

    Required: `load_data`. Everything else has a default: an MLP with `hidden_units`, the
    standard variants, stratified (classification) or plain (regression) shuffled K-fold,
    Adam, early stopping on a validation split carved out of each split's training rows.
    """

    #: short identifier used on the command line; default: the class name in kebab-case
    name: ClassVar[str | None] = None
    description: ClassVar[str] = ""
    #: the source this experiment follows and what it reported (shown in the report)
    source: ClassVar[str] = ""
    task: ClassVar[str] = "classification"
    in_default_suite: ClassVar[bool] = False

    seed: int = 42
    folds: int = 5
    #: repeats of the default splitters' whole K-fold cross-validation, each with other folds
    #: (scikit-learn's RepeatedStratifiedKFold / RepeatedKFold); the paired tests then have
    #: folds × cv_repeats pairs
    cv_repeats: int = 1
    variants: Sequence[Variant] = tuple(standard_variants())
    #: the variant every other is compared with; None: the first variant with nothing
    #: regularizing it (read from its built model), else the first variant
    baseline: str | None = None

    # model
    hidden_units: Sequence[int] = (50, 25)
    activation: str = "relu"

    # training
    epochs: int = 100
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    #: early-stopping patience in epochs; None trains every epoch with no early stopping
    patience: int | None = 10
    min_delta: float = 0.0
    #: 'validation' (early stopping on a part of each split's training rows) or 'heaton'
    #: (early stopping on the scored split, as in Heaton's Part 5.5)
    protocol: str = "validation"
    validation_fraction: float = 0.1
    #: the score: a name of SCORES, a scikit-learn scorer's name ('balanced_accuracy', 'roc_auc',
    #: 'f1_macro', 'neg_mean_absolute_error', …) or a scorer (`make_scorer(...)`), whose sign
    #: gives the direction; None: accuracy for classification, RMSE for regression
    score: Any = None
    #: the Keras training loss: None (cross-entropy for classification, mean squared error for
    #: regression), a Keras loss name ('huber', 'mean_absolute_error', 'log_cosh') or a
    #: keras.losses object (`keras.losses.Huber(delta=0.5)`)
    loss: Any = None
    #: classification: 'balanced' or {class label: weight} weighs each training row's loss by its
    #: class (as Keras' fit(class_weight=...)); Dataset(sample_weight=...) weighs rows one by one
    class_weight: Any = None
    #: regression: train on a z-scored target (fitted on each split's training rows), score in raw units
    standardize_target: bool = True
    #: True: every variant on a split shares the split's seed (same init, split and batch
    #: order: a paired design); False: the variant name is mixed into the seed too
    paired_seeds: bool = True
    #: region of practical equivalence of the Bayesian comparison with the baseline variant, in
    #: score units; None: 0.01 for accuracy, 1% of the baseline's mean for error scores
    rope: float | None = None
    #: the share of labels known to be wrong or drawn at random (e.g. 0.3), shown across data sets
    #: beside what a regularizer gained; None: unknown (real data)
    label_noise: float | None = None
    #: the number of epochs `--quick` trains
    quick_epochs: int = 5
    #: record the scored split's loss after every epoch (stored as `val_loss`) for learning
    #: curves on the test data; it never stops training, so it needs `patience = None`
    test_curve: bool = False
    #: attribute overrides that make the full version of a long experiment (`--full`); the
    #: class attributes themselves are the reduced version `make benchmark` runs
    full_settings: ClassVar[Mapping[str, Any]] = {}
    #: True when `full_settings` were applied
    full: bool = False
    #: True for a `--quick` smoke run
    quick: bool = False
    #: the settings the command line changed (`configured`), by name
    overrides: Mapping[str, Any] = MappingProxyType({})

    # ------------------------------------------------------------------ hooks
    def load_data(self, data_dir: Path) -> Dataset:
        """Return the Dataset. `data_dir` is the cache folder for downloaded files."""
        raise NotImplementedError(f"{type(self).__name__} must define load_data()")

    def splitter(self) -> Any:
        """A scikit-learn splitter; the same splits serve every variant."""
        from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold

        classification = self.task == "classification"
        if self.cv_repeats > 1:
            repeated = RepeatedStratifiedKFold if classification else RepeatedKFold
            return repeated(n_splits=self.folds, n_repeats=self.cv_repeats, random_state=self.seed)
        if classification:
            return StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
        return KFold(n_splits=self.folds, shuffle=True, random_state=self.seed)

    def group_splitter(self) -> Any:
        """The default splitter when the data carries groups (`Dataset.groups`) and `splitter`
        is not overridden: stratified (classification) or plain group K-fold, shuffled and
        seeded, so that every group's rows are on one side of each split. scikit-learn has no
        repeated group K-fold, so `cv_repeats` above 1 is refused with groups."""
        if self.cv_repeats > 1:
            raise HarnessError(f"{self.name}: cv_repeats = {self.cv_repeats} with grouped data: scikit-learn has no "
                               "repeated group K-fold; set cv_repeats = 1, or override splitter()")
        return self._group_kfold(self.folds, self.seed)

    def _group_kfold(self, n_splits: int, seed: int) -> Any:
        """Shuffled, seeded group K-fold, stratified for classification."""
        from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

        kind = StratifiedGroupKFold if self.task == "classification" else GroupKFold
        return kind(n_splits=n_splits, shuffle=True, random_state=seed)

    def inner_splitter(self, n_splits: int, outer_split: int, *, grouped: bool = False, ordered: bool = False) -> Any:
        """The splitter of a tuned variant's inner cross-validation, applied to one outer split's
        training rows (`n_splits`: the searches' `inner_folds`). Default: stratified
        (classification) or plain shuffled K-fold, seeded per outer split; group K-fold of the
        same kind when the outer splits are by group (`grouped`), and TimeSeriesSplit when they
        are in time order (`ordered`). An override takes (n_splits, outer_split) alone."""
        from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

        import numpy as np

        if ordered:
            return TimeSeriesSplit(n_splits=n_splits)
        seed = int(np.random.SeedSequence([int(self.seed), int(outer_split)]).generate_state(1)[0] & 0x7FFFFFFF)
        if grouped:
            return self._group_kfold(n_splits, seed)
        if self.task == "classification":
            return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return KFold(n_splits=n_splits, shuffle=True, random_state=seed)

    def preprocessor(self, X: pd.DataFrame) -> Any:
        """An unfitted scikit-learn transformer, fitted anew on each split's training rows.

        Default: numeric columns median-imputed and standardized, the others one-hot encoded.
        """
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
        categorical = [c for c in X.columns if c not in numeric]
        return ColumnTransformer(
            [
                ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
            ]
        )

    def build_model(self, variant: Variant, n_inputs: int, n_outputs: int) -> Any:
        """An uncompiled Keras model for one variant. Default: the harness MLP."""
        from .models import mlp

        return mlp(
            n_inputs,
            n_outputs,
            hidden=variant.settings.get("hidden", self.hidden_units),
            activation=variant.settings.get("activation", self.activation),
            output_activation=self.output_activation(n_outputs),
            l1=variant.l1,
            l2=variant.l2,
            dropout=variant.dropout,
            layer_l1=variant.settings.get("layer_l1"),
            layer_l2=variant.settings.get("layer_l2"),
            layer_dropout=variant.settings.get("layer_dropout"),
        )

    def output_activation(self, n_outputs: int) -> str:
        if self.task == "regression":
            return "linear"
        return "sigmoid" if n_outputs == 1 else "softmax"

    def make_optimizer(self, variant: Variant) -> Any:
        """The optimizer for one variant; `variant.weight_decay` becomes its `weight_decay`."""
        import keras

        kwargs: dict[str, Any] = {"learning_rate": self.learning_rate}
        if variant.weight_decay:
            kwargs["weight_decay"] = variant.weight_decay
        kwargs.update(variant.settings.get("optimizer_kwargs", {}))
        try:
            return keras.optimizers.get({"class_name": self.optimizer, "config": kwargs})
        except (ValueError, TypeError) as exc:
            raise HarnessError(f"{self.name}: cannot make optimizer {self.optimizer!r}: {exc}") from None

    def source_results(self) -> list[dict[str, Any]]:
        """What the source reported, as rows {'what': ..., 'reported': ...} for the report."""
        return []

    def report_sections(self, results: Results) -> list[Section]:
        """This experiment's own sections of its report, computed from the stored run alone
        (`harness.Results`: its settings, variants, per-split rows with curves and weights,
        and the data as loaded). None by default."""
        return []

    def reference_models(self) -> dict[str, Any]:
        """Reference models scored beside the variants: name -> unfitted scikit-learn
        estimator. Each is cloned per split, fitted on the split's whole preprocessed training
        rows (in training units: the standardized target for regression; no early stopping)
        and scored on the same splits as the networks (a `random_state` left at None gets the
        split's seed). Names must differ from variant names. None by default."""
        return {}

    # ------------------------------------------------------------------ derived
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__ or cls.__dict__["name"] is None:
            cls.name = re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()

    @property
    def score_name(self) -> str:
        return DEFAULT_SCORE[self.task] if self.score is None else score_label(self.score)

    @property
    def greater_is_better(self) -> bool:
        """The harness's own scores say; a scikit-learn scorer is greater-is-better by its
        construction (an error is negated: neg_mean_absolute_error)."""
        return SCORES.get(self.score_name, True)

    @property
    def scorer(self) -> Any:
        """The scikit-learn scorer of the score; None for the harness's own (SCORES)."""
        if self.score is None or (isinstance(self.score, str) and self.score in SCORES):
            return None
        if isinstance(self.score, str):
            from sklearn.metrics import get_scorer

            return get_scorer(self.score)
        return self.score

    def configured(self, *, quick: bool = False, full: bool = False, **overrides: Any) -> "Experiment":
        """A copy with the command line's choices applied: `full` (`--full`: `full_settings`
        first, so the others still override it), `quick` (`--quick`: 3 splits and
        `quick_epochs` epochs, one repeat) and any declared setting by name (`epochs=4`,
        `folds=3`, `patience=None`, …). Each override is checked at once."""
        exp = copy.copy(self)
        if full and self.full_settings:
            for attr, value in self.full_settings.items():
                if not hasattr(exp, attr):
                    raise HarnessError(f"{self.name}: full_settings names unknown attribute {attr!r}")
                setattr(exp, attr, value)
            exp.full = True
        given = dict(overrides)
        unknown = sorted(set(given) - set(BY_NAME))
        if unknown:
            raise HarnessError(f"{self.name}: unknown setting(s) {unknown}; the settings are {sorted(BY_NAME)}")
        if quick:
            exp.quick = True
            given = {"folds": 3, "epochs": min(exp.epochs, exp.quick_epochs), **given}
        for name, value in given.items():
            BY_NAME[name].check(None, value)
            setattr(exp, name, value)
        exp.overrides = {**self.overrides, **given}
        return exp

    def make_splitter(self, data: Any = None) -> Any:
        """`splitter()` with `--folds`/`--quick` applied (see `harness.splitters.resized`); for
        `data` with groups, `group_splitter()` unless `splitter` is overridden."""
        grouped = getattr(data, "groups", None) is not None and type(self).splitter is Experiment.splitter
        hook = "group_splitter" if grouped else "splitter"
        splitter = hook_splitter(self, hook, self.group_splitter if grouped else self.splitter)
        return resized(splitter, self.overrides.get("folds"), self.quick, self.name)

    def check(self) -> None:
        """Raise HarnessError for settings that cannot work."""
        check_settings(self)
        if not self.variants:
            raise HarnessError(f"{self.name}: no variants")
        names = [v.name for v in self.variants]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise HarnessError(f"{self.name}: duplicate variant names {duplicated}")
        noise = self.label_noise
        if noise is not None and (isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 1):
            raise HarnessError(f"{self.name}: label_noise must be a share between 0 and 1, or None, got {noise!r}")
        folds = {v.search.inner_folds for v in self.variants if v.search is not None}
        if len(folds) > 1:
            raise HarnessError(f"{self.name}: its tuned variants ask for different inner_folds {sorted(folds)}; they "
                               "share one set of inner splits (so that their choices are paired): give them the same")
        if self.baseline is not None and self.baseline not in names:
            raise HarnessError(f"{self.name}: baseline {self.baseline!r} is not one of its variants {names}")

    def settings(self) -> dict[str, Any]:
        """The training settings a run records, by name (`harness.settings.SETTINGS`)."""
        return {s.name: s.value(self) for s in SETTINGS if s.recorded}

    def keyed_settings(self) -> dict[str, Any]:
        """The training settings every job's key includes: those that change what it computes."""
        return {s.name: s.value(self) for s in SETTINGS
                if s.keyed and not (s.keyed_if_set and s.value(self) is None)}

    @property
    def version(self) -> str | None:
        """'full' or 'reduced' for an experiment with `full_settings`, else None."""
        return ("full" if self.full else "reduced") if self.full_settings else None

    @property
    def uses_validation_split(self) -> bool:
        return self.patience is not None and self.protocol == "validation"

    def protocol_description(self) -> str:
        if self.patience is None:
            text = f"no early stopping: every member trains {self.epochs} epochs on its split's whole training rows"
            if self.test_curve:
                text += ("; the scored split's loss is recorded after every epoch for the learning "
                         "curves only (it never stops or steers training)")
            return text
        stop = (
            f"early stopping (patience {self.patience}, min_delta {self.min_delta}, best weights restored)"
        )
        if self.protocol == "heaton":
            return (
                f"heaton: {stop} watching the scored split itself, as in Heaton's Part 5.5; "
                "this flatters the scores"
            )
        return (
            f"validation: {stop} watching a {self.validation_fraction:.0%} validation split carved "
            "out of each split's training rows; the scored split is never seen in training"
        )
