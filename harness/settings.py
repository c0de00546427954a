"""The training settings, declared once: each `Setting` says what values it takes, how the
command line sets it and whether it is recorded with a run. `Experiment.check` validates them,
`Experiment.settings` records them and `Experiment.configured` (the command line's overrides)
applies them, all from `SETTINGS`; adding a setting is one entry here and a default on
`Experiment`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .errors import HarnessError

if TYPE_CHECKING:  # pragma: no cover
    from .experiment import Experiment

TASKS = ("classification", "regression")
PROTOCOLS = ("validation", "heaton")
#: score name -> True when greater is better
SCORES: dict[str, bool] = {"accuracy": True, "log_loss": False, "rmse": False, "mae": False}
DEFAULT_SCORE = {"classification": "accuracy", "regression": "rmse"}


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)) and math.isfinite(value))


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


@dataclass(frozen=True)
class Setting:
    """One training setting: its valid values (`valid`, described by `rule`), how the command
    line parses it (`parse`; None: not offered there) and whether each run records it (and so
    keys its jobs by it)."""

    name: str
    help: str
    valid: Callable[[Any], bool]
    rule: str
    parse: Callable[[str], Any] | None = None
    metavar: str = "VALUE"
    recorded: bool = True

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
    Setting("score", "score on the held-out split (None: accuracy for classification, RMSE for regression)",
            lambda v: v is None or v in SCORES, f"None or one of {sorted(SCORES)}", str, "NAME"),
    Setting("seed", "the experiment's seed (splits, initial weights, batch order)", is_int, "an integer", int, "S"),
    Setting("folds", "the number of splits of the default splitters", lambda v: is_int(v) and v >= 2,
            "an integer >= 2", int, "K", recorded=False),
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
            lambda v: is_real(v) and 0 < v < 1, "a number in (0, 1)", float, "F"),
    Setting("standardize_target", "regression: train on a z-scored target, score in raw units",
            lambda v: isinstance(v, (bool, np.bool_)), "True or False", _boolean, "yes|no"),
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
            recorded=False),
    Setting("quick_epochs", "the epochs `--quick` trains", lambda v: is_int(v) and v >= 1, "an integer >= 1",
            recorded=False),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


def check_settings(exp: "Experiment") -> None:
    """Each declared setting's own rule, then the rules that join several."""
    for setting in SETTINGS:
        setting.check(exp.name, getattr(exp, setting.name))
    score = exp.score_name
    if exp.task == "regression" and score in ("accuracy", "log_loss"):
        raise HarnessError(f"{exp.name}: score {score!r} needs a classification task")
    if exp.task == "classification" and score in ("rmse", "mae"):
        raise HarnessError(f"{exp.name}: score {score!r} needs a regression task")
    if exp.test_curve and exp.patience is not None:
        raise HarnessError(
            f"{exp.name}: test_curve records the test loss for plots and needs patience=None; "
            "to stop on the scored split use protocol='heaton'"
        )


def recorded_value(exp: "Experiment", name: str) -> Any:
    """A setting as a run records it: the score's resolved name, lists for tuples, and None for
    a setting the run does not use (the validation fraction without a validation split, the
    target's scaling for classification)."""
    value = getattr(exp, name)
    if name == "score":
        return exp.score_name
    if name == "validation_fraction" and not exp.uses_validation_split:
        return None
    if name == "standardize_target" and exp.task != "regression":
        return None
    return list(value) if isinstance(value, tuple) else value
