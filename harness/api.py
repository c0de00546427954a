"""The Python API, for notebooks and scripts: `harness.run` and `harness.results`.

    import harness
    res = harness.run("wine", quick=True, lines=False)   # trains, or resumes from the store
    res                      # in Jupyter: the comparison table and the split scores
    res.comparison           # DataFrames: the report's tables with numbers
    res.paired
    res.splits               # one row per (variant, split)
    res.choices              # tuned variants: the strength chosen on each outer split
    res.page                 # reports/wine/index.html
    harness.results("wine")  # the latest stored run, without training
"""
from __future__ import annotations

import dataclasses
import inspect
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from . import stats
from .core import OK, Results
from .errors import DataUnavailable, HarnessError
from .experiment import Experiment
from .options import DEFAULT_REPORTS
from .store import DEFAULT_DB, Store


@dataclasses.dataclass(repr=False)
class RunResults(Results):
    """What `harness.run` and `harness.results` return: the stored run (`harness.Results`:
    `splits`, `run`, `variants`, `data`, …) with the report's two tables as DataFrames,
    computed by `harness.stats`, and a view for Jupyter (the comparison table and the split
    scores)."""

    @classmethod
    def of(cls, results: Results) -> "RunResults":
        return cls(**{f.name: getattr(results, f.name) for f in dataclasses.fields(results)})

    @property
    def comparison(self) -> pd.DataFrame:
        """`harness.stats.comparison`: one row per variant and reference model, best mean first."""
        return stats.comparison(self)

    @property
    def paired(self) -> pd.DataFrame:
        """`harness.stats.paired`: each variant against the baseline on the same splits."""
        return stats.paired(self)

    @property
    def choices(self) -> pd.DataFrame:
        """`harness.stats.tuning.choices`: per tuned variant and outer split, the candidate its
        nested cross-validation chose (one column per grid axis) and its outer score."""
        from .stats import tuning

        return tuning.choices(self)

    @property
    def inner_curves(self) -> pd.DataFrame:
        """`harness.stats.tuning.inner_curves`: the inner-CV score of every candidate on every outer split."""
        from .stats import tuning

        return tuning.inner_curves(self)

    def __repr__(self) -> str:
        text = super().__repr__()
        if not (self.splits["status"] == OK).any():
            return text
        top = self.comparison.iloc[0]
        verdict = "the baseline" if top.name == self.baseline else f"{top['verdict']} against {self.baseline}"
        return f"{text[:-1]}, highest mean {top.name} ({self.score_name} {top['mean']:.4g}; {verdict})>"

    def _repr_html_(self) -> str:
        from .report.inline import results_html

        return results_html(self)


def _is_table(spec: str) -> bool:
    from .tables import is_table

    return is_table(spec)


def _table(spec: Any, task: str | None, stream: Any, target: str | None = None, groups: str | None = None,
           sample_weight: str | None = None) -> Experiment:
    """The standard comparison on a data file (`harness.tables`), saying what task it inferred."""
    from .tables import table_experiment

    if not (isinstance(spec, (str, Path)) and _is_table(str(spec))):
        raise HarnessError(f"target=, groups= and sample_weight= apply to a data file (.csv, .tsv, .parquet), not {spec!r}")
    cls = table_experiment(spec, target, task, groups, sample_weight)
    if cls.inferred:
        (stream or sys.stdout).write(cls.inferred + "\n")
    return cls()


def _experiment(spec: Any) -> Experiment:
    """An Experiment from an instance, a subclass, a built-in name or the path of a .py file
    defining exactly one."""
    if isinstance(spec, Experiment):
        return spec
    if inspect.isclass(spec) and issubclass(spec, Experiment):
        return spec()
    if isinstance(spec, (str, Path)):
        from .registry import resolve

        classes = resolve([str(spec)])
        if len(classes) > 1:
            raise HarnessError(f"{spec} defines {len(classes)} experiments ({', '.join(c.name for c in classes)}); "
                               "pass one of them (the class or an instance)")
        return classes[0]()
    raise HarnessError(f"cannot run {spec!r}: give an Experiment, its class, a built-in name or the path of a .py file")


def run(experiment: Any, **options: Any) -> RunResults:
    """Run one experiment as `regbench run` does and return its results.

    `experiment` is an Experiment, its class, a built-in experiment's name ('wine'), the
    path of a .py file defining one, or a data file (.csv, .tsv, .parquet) with `target=` its
    column to predict (and `task=`, `groups=`, `sample_weight=`: the standard comparison on it, as
    `regbench run data.csv --target COLUMN`). The keywords are the command line's options
    (`harness.runner.RunOptions`: `quick`, `full`, `fresh`, `retry_failed`, `engine`,
    `workers`, `scheduler`, `db`, `reports_dir`, `data_dir`, `progress`, `lines`; and `client`,
    a dask.distributed.Client, and `stream`) and any training setting by name (`epochs=20`,
    `folds=3`, `patience=None`, …). Jobs already in the store are not trained again. The
    progress bar shows in a terminal or Jupyter (where it is a widget); `lines=False` leaves
    out Heaton's line per split. Raises HarnessError for bad input (nothing is trained then)
    and DataUnavailable when the data can be neither read nor downloaded."""
    from .options import RunOptions
    from .runner import run_experiments

    table = {key: options.pop(key) for key in ("target", "groups", "sample_weight") if key in options}
    if table or (isinstance(experiment, (str, Path)) and _is_table(str(experiment))):
        experiment = _table(experiment, options.pop("task", None), options.get("stream"), **table)
    how = RunOptions.from_keywords(**options)
    outcome, = run_experiments([_experiment(experiment)], how)
    if outcome.skipped:
        raise DataUnavailable(f"{outcome.experiment}: {outcome.skipped}")
    with Store(how.db) as store:
        found = RunResults.of(store.results(outcome.experiment, outcome.run_id, definition=outcome.definition))
    found.page = outcome.page
    return found


def results(experiment: Any, *, db: str | Path = DEFAULT_DB, reports_dir: str | Path = DEFAULT_REPORTS,
            run_id: str | None = None) -> RunResults:
    """The latest stored run of `experiment` (a name, an Experiment or its class), or the run
    `run_id`, as `run` returns it, without training anything. `page` is the report in
    `reports_dir` when it exists there."""
    from .report import slug

    name = experiment if isinstance(experiment, str) else getattr(experiment, "name", None)
    if not isinstance(name, str):
        raise HarnessError(f"results() takes an experiment's name, an Experiment or its class, not {experiment!r}")
    if not Path(db).is_file():
        raise HarnessError(f"no results store at {db}; run an experiment first")
    with Store(db) as store:
        latest = store.latest_run_ids()
        if run_id is None and name not in latest:
            raise HarnessError(f"no stored results of {name!r} in {db}; stored: {', '.join(sorted(latest)) or 'none'}")
        if run_id is not None and run_id not in set(store.runs(name)["run_id"]):
            raise HarnessError(f"{name} has no run {run_id!r} in {db}")
        definition = experiment if isinstance(experiment, Experiment) else (
            experiment() if inspect.isclass(experiment) else _built_in(name))
        found = RunResults.of(store.results(name, run_id, definition=definition))
        shown = latest.get(name)
    # the page shows the latest run; an older run has none of its own
    page = Path(reports_dir) / slug(name) / "index.html"
    found.page = page if page.is_file() and found.run_id == shown else None
    return found


def _built_in(name: str) -> Experiment | None:
    """The built-in experiment of that name (whose own report sections its results show), or None."""
    from .registry import builtin

    cls = builtin().get(name)
    return cls() if cls is not None else None
