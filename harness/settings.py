"""The training settings, declared once: each `Setting` says what values it takes, how the
command line sets it, whether a run records it and whether it is part of every job's key.
`Experiment.check` validates them, `Experiment.settings` records them, `harness.jobs` keys
jobs by them and `Experiment.configured` (the command line's overrides) applies them, all from
`SETTINGS`; adding a setting is one entry here and a default on `Experiment`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .core import SCORES, TASKS, is_int, is_real, is_score
from .errors import HarnessError
from .losses import class_weight_label, is_class_weight, is_loss, loss_label

PROTOCOLS = ("validation", "heaton")


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise ValueError(f"not a yes/no value: {text!r}")


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda text: None if text.strip().lower() == "none" else parse(text)


def _units(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _one_of(choices: Any) -> Callable[[Any], bool]:
    return lambda value: value in choices


def _as_is(exp: Any, name: str) -> Any:
    return getattr(exp, name)


@dataclass(frozen=True)
class Setting:
    """One training setting: its valid values (`valid`, described by `rule`), how the command
    line parses it (`parse`; None: not offered there), whether each run records it
    (`recorded`: shown on its page) and whether it is part of every job's key (`keyed`: a
    setting that changes what a job computes; one that only labels or reads the results, or
    acts through something keyed already, such as the splitter, is not). `value` gives what
    a run records and keys: the attribute as it is, unless the setting says otherwise (the
    score's resolved name, None for a setting the run does not use)."""

    name: str
    help: str
    valid: Callable[[Any], bool]
    rule: str
    parse: Callable[[str], Any] | None = None
    metavar: str = "VALUE"
    recorded: bool = True
    keyed: bool = True
    #: keyed only when not None: a setting added later leaves the keys of runs without it as they were
    keyed_if_set: bool = False
    effective: Callable[[Any, str], Any] = _as_is

    def value(self, exp: Any) -> Any:
        """The setting's value as a run records it (lists for tuples)."""
        value = self.effective(exp, self.name)
        return list(value) if isinstance(value, tuple) else value

    @property
    def option(self) -> str:
        """The command-line option, e.g. `--batch-size`."""
        return "--" + self.name.replace("_", "-")

    def check(self, owner: str | None, value: Any) -> None:
        """Raise HarnessError naming `owner` (an experiment; None: the command-line option)
        unless `value` is valid."""
        try:
            ok = bool(self.valid(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            where = f"{owner}: {self.name}" if owner else self.option
            raise HarnessError(f"{where} must be {self.rule}, got {value!r}")


SETTINGS: tuple[Setting, ...] = (
    Setting("task", "classification or regression", _one_of(TASKS), f"one of {TASKS}"),
    Setting("score", "score on the held-out split (None: accuracy for classification, RMSE for regression; or "
            "a scikit-learn scorer's name, e.g. balanced_accuracy, roc_auc, f1_macro, neg_mean_absolute_error)",
            is_score, f"None, one of {sorted(SCORES)}, a scikit-learn scorer's name (sklearn.metrics."
            "get_scorer_names()) or a make_scorer(...)", str, "NAME", effective=lambda exp, _: exp.score_name),
    Setting("loss", "the Keras training loss (None: cross-entropy for classification, mean squared error for "
            "regression; or a Keras loss name, e.g. huber, mean_absolute_error, log_cosh, or a keras.losses object)",
            is_loss, "None, a Keras loss name or a keras.losses object", str, "NAME", keyed_if_set=True,
            effective=lambda exp, _: loss_label(exp.loss)),
    Setting("class_weight", "classification: the classes' weights in the training loss ('balanced', or "
            "{label: weight} in Python)", is_class_weight, "None, 'balanced' or a dict {label: weight >= 0}",
            _optional(str), "balanced|none", keyed_if_set=True, effective=lambda exp, _: class_weight_label(exp.class_weight)),
    Setting("seed", "the experiment's seed (splits, initial weights, batch order)", is_int, "an integer", int, "S"),
    Setting("folds", "the number of splits of the default splitters", lambda v: is_int(v) and v >= 2,
            "an integer >= 2", int, "K", keyed=False),  # acts through the splitter, which is keyed
    Setting("cv_repeats", "repeats of the default splitters' K-fold, each with other folds", lambda v: is_int(v) and v >= 1,
            "an integer >= 1", int, "R", keyed=False),
    Setting("epochs", "maximum epochs", lambda v: is_int(v) and v >= 1, "an integer >= 1", int, "N"),
    Setting("batch_size", "mini-batch size", lambda v: is_int(v) and v >= 1, "an integer >= 1", int, "N"),
    Setting("optimizer", "a Keras optimizer name", lambda v: isinstance(v, str) and bool(v.strip()),
            "a Keras optimizer name", str, "NAME"),
    Setting("learning_rate", "the optimizer's learning rate", lambda v: is_real(v) and v > 0,
            "a finite number > 0", float, "LR"),
    Setting("patience", "early-stopping patience in epochs; None trains every epoch",
            lambda v: v is None or (is_int(v) and v >= 0), "an integer >= 0 or None", _optional(int), "N|none"),
    Setting("min_delta", "smallest change of the watched loss that counts as an improvement",
            lambda v: is_real(v) and v >= 0, "a finite number >= 0", float, "D"),
    Setting("protocol", "'validation' (stop on a split of the training rows) or 'heaton' (stop on the scored split)",
            _one_of(PROTOCOLS), f"one of {PROTOCOLS}", str, "NAME"),
    Setting("validation_fraction", "share of each split's training rows held out for early stopping",
            lambda v: is_real(v) and 0 < v < 1, "a number in (0, 1)", float, "F",
            effective=lambda exp, name: getattr(exp, name) if exp.uses_validation_split else None),
    Setting("standardize_target", "regression: train on a z-scored target, score in raw units",
            lambda v: isinstance(v, (bool, np.bool_)), "True or False", _boolean, "yes|no",
            effective=lambda exp, name: getattr(exp, name) if exp.task == "regression" else None),
    Setting("paired_seeds", "every variant on a split shares the split's seed (a paired design)",
            lambda v: isinstance(v, (bool, np.bool_)), "True or False", _boolean, "yes|no"),
    Setting("hidden_units", "units per hidden layer of the default MLP",
            lambda v: len(v) >= 1 and all(is_int(u) and u >= 1 for u in v), "a list of integers >= 1",
            _units, "N,N,…"),
    Setting("activation", "hidden activation of the default MLP", lambda v: isinstance(v, str) and bool(v.strip()),
            "a Keras activation name", str, "NAME"),
    Setting("test_curve", "record the scored split's loss after every epoch (for curves; needs patience None)",
            lambda v: isinstance(v, (bool, np.bool_)), "True or False", _boolean, "yes|no"),
    Setting("rope", "region of practical equivalence of the Bayesian comparison, in score units (None: 0.01 "
            "for accuracy, 1% of the baseline variant's mean for error scores); changes no training",
            lambda v: v is None or (is_real(v) and v >= 0), "None or a finite number >= 0", _optional(float), "R|none",
            keyed=False),
    Setting("quick_epochs", "the epochs `--quick` trains", lambda v: is_int(v) and v >= 1, "an integer >= 1",
            recorded=False, keyed=False),  # acts through `epochs`, which is keyed
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


def check_settings(exp: Any) -> None:
    """Each declared setting's own rule, then the rules that join several."""
    for setting in SETTINGS:
        setting.check(exp.name, getattr(exp, setting.name))
    score = exp.score_name
    if exp.task == "regression" and score in ("accuracy", "log_loss"):
        raise HarnessError(f"{exp.name}: score {score!r} needs a classification task")
    if exp.task == "classification" and score in ("rmse", "mae"):
        raise HarnessError(f"{exp.name}: score {score!r} needs a regression task")
    if exp.task == "regression" and exp.class_weight is not None:
        raise HarnessError(f"{exp.name}: class_weight needs a classification task; weigh rows with "
                           "Dataset(sample_weight=...)")
    if exp.test_curve and exp.patience is not None:
        raise HarnessError(
            f"{exp.name}: test_curve records the test loss for plots and needs patience=None; "
            "to stop on the scored split use protocol='heaton'"
        )
