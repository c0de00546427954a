"""The Python API, for notebooks and scripts: `harness.run` and `harness.results`.

    import harness
    res = harness.run("wine", quick=True, lines=False)   # trains, or resumes from the store
    res                      # in Jupyter: the comparison table and the split scores
    res.comparison           # DataFrames: the report's tables with numbers
    res.paired
    res.splits               # one row per (variant, split)
    res.page                 # reports/wine/index.html
    harness.results("wine")  # the latest stored run, without training
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, TextIO

from .errors import DataUnavailable, HarnessError
from .experiment import Experiment
from .store import DEFAULT_DB, Store
from .stored import Results

#: the default report folder, beside the store (both relative to the working folder)
DEFAULT_REPORTS = Path("reports")


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


def run(
    experiment: Any,
    *,
    quick: bool = False,
    full: bool = False,
    db: str | Path = DEFAULT_DB,
    reports_dir: str | Path = DEFAULT_REPORTS,
    data_dir: str | Path | None = None,
    engine: str = "auto",
    workers: int = 1,
    client: Any = None,
    scheduler: str | None = None,
    fresh: bool = False,
    retry_failed: bool = False,
    progress: bool | None = None,
    lines: bool = True,
    stream: TextIO | None = None,
    **settings: Any,
) -> Results:
    """Run one experiment as `python -m harness run` does and return its results.

    `experiment` is an Experiment, its class, a built-in experiment's name ('wine') or the
    path of a .py file defining one. Jobs already in the store are not trained again
    (`fresh=True` trains them all, `retry_failed=True` the failed ones). `quick`, `full`
    and any training setting by name (`epochs=20`, `folds=3`, `patience=None`, ...) are the
    command line's --quick, --full and setting options; `db`, `reports_dir`, `data_dir`,
    `engine`, `workers`, `client` (a dask.distributed.Client) and `scheduler` theirs too.
    `progress` shows a bar (default: in a terminal or Jupyter, where it is a widget);
    `lines=False` leaves out Heaton's line per split. Raises HarnessError for bad input
    (nothing is trained then) and DataUnavailable when the data can be neither read nor
    downloaded."""
    from .runner import run_experiments

    exp = _experiment(experiment).configured(quick=quick, full=full, **settings)
    outcome, = run_experiments(
        [exp], db=db, reports_dir=reports_dir, data_dir=data_dir, engine=engine, stream=stream, progress=progress,
        lines=lines, workers=workers, client=client, scheduler=scheduler, fresh=fresh, retry_failed=retry_failed)
    if outcome.skipped:
        raise DataUnavailable(f"{exp.name}: {outcome.skipped}")
    with Store(db) as store:
        found = Results.load(store, exp.name, outcome.run_id, definition=exp)
    found.page = outcome.page
    return found


def results(experiment: Any, *, db: str | Path = DEFAULT_DB, reports_dir: str | Path = DEFAULT_REPORTS,
            run_id: str | None = None) -> Results:
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
        found = Results.load(store, name, run_id, definition=definition)
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
