"""The run: plan jobs → drop finished ones → hand the rest to an executor → store → report.

1. Prepare every experiment (load, check, split, preprocess); bad input stops the run here,
   before anything trains, with nothing lost.
2. Plan: every (variant, split) and (reference model, split) job gets its trainer and its key.
3. Resume: jobs whose key is stored are not trained again (`fresh` ignores the store,
   `retry_failed` retrains the failed ones); the rest are cut into tasks (one stacked model,
   one model.fit, one reference-model fit).
4. An executor trains the tasks (in this process, worker processes, or a Dask cluster); this
   process alone writes each finished task to the store in one transaction, prints Heaton's
   lines in plan order and moves the progress bar.
5. When an experiment's last task is stored, its report is written from the store.
A run killed at any moment loses at most the tasks in flight; running it again resumes it.
"""
from __future__ import annotations

import dataclasses
import math
import platform
import sys
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, TextIO

import numpy as np
from tqdm.auto import tqdm

from . import report
from .data import default_data_dir
from .errors import DataUnavailable, HarnessError, one_line
from .executors import DaskCluster, InProcess, LocalWorkers, Task, connect
from .experiment import Dataset, Experiment
from .splits import SplitData, check_dataset, make_splits, prepare_split
from .jobs import Job, KeyMaker, reference_jobs, library_versions, make_jobs, with_key
from .records import ERROR, OK, SplitRecord
from .stats import pstdev
from .splitters import traits
from .store import DEFAULT_DB, Store


@dataclass
class Prepared:
    """An experiment with its data loaded, checked and split into preprocessed splits, and,
    once planned, its keyed jobs and the tasks still to train."""

    exp: Experiment
    data: Dataset
    splitter: Any
    splits: list[SplitData]
    #: the network jobs (variant × split), before planning
    jobs: list[Job] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: name -> unfitted scikit-learn estimator, checked (`check_reference_models`)
    reference_models: dict[str, Any] = field(default_factory=dict)
    #: every job of the run, keyed, in report order: variants, then reference models
    planned: list[Job] = field(default_factory=list)
    #: job key -> (variant, split, status, score, epochs) of jobs found done in the store
    found: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    run_id: str | None = None
    #: the data's fingerprint (set by `plan`), under which the store keeps the data
    data_key: str = ""


@dataclass
class Outcome:
    experiment: str
    run_id: str | None = None
    skipped: str | None = None
    ok: int = 0
    failed: int = 0
    #: jobs found done in the store and not trained again
    found_done: int = 0
    #: seconds spent training this run's jobs (summed over workers)
    seconds: float = 0.0
    page: Path | None = None


#: places in the order of progress lines that are not jobs (job keys are hex digests)
_NOTES, _SUMMARY = "notes:", "summary:"


class Progress:
    """Heaton-style lines per finished split, under a header per (experiment, variant), beside a
    tqdm bar over the jobs to train. Lines come out in plan order (experiments in turn, each
    one's jobs in order, then its summary line) whatever order the jobs finish in, so a run on
    many workers prints what a run in one process prints. Jobs found done in the store count
    in the running means without a line of their own. With `lines` False the per-split lines
    and their headers are left out (notes, summaries and the bar remain)."""

    def __init__(self, total: int, stream: TextIO, show_bar: bool, lines: bool = True) -> None:
        self.stream = stream
        self.lines = lines
        self.bar = tqdm(total=total, unit="fit", disable=not show_bar, file=sys.stderr, dynamic_ncols=True)
        self.current: tuple[str, str] | None = None
        self.history: dict[tuple[str, str], tuple[list[float], list[int]]] = {}
        self._order: list[tuple[str, str]] = []
        self._next = 0
        self._ready: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()  # summaries come from the report thread

    def write(self, text: str) -> None:
        tqdm.write(text, file=self.stream)
        self.stream.flush()

    def expect(self, item: Prepared) -> None:
        """An experiment's jobs in plan order, then its summary; jobs found done are accounted."""
        name = item.exp.name
        self._order += [(name, _NOTES)] + [(name, job.key) for job in item.planned] + [(name, _SUMMARY)]
        # why some variants fall back to one fit per split, and how the rest are trained
        self._ready[(name, _NOTES)] = "\n".join(f"{name}: {note}" for note in item.notes) or None
        self._ready.update({(name, key): ("stored", *found) for key, found in item.found.items()})
        with self._lock:
            self._flush()

    def record(self, record: SplitRecord) -> None:
        with self._lock:
            self._ready[(record.experiment, record.job_key)] = record
            self.bar.update(1)
            self._flush()

    def summary(self, experiment: str, text: str) -> None:
        """The line that closes an experiment, printed after its jobs' lines."""
        with self._lock:
            self._ready[(experiment, _SUMMARY)] = text
            self._flush()

    def _flush(self) -> None:
        while self._next < len(self._order) and self._order[self._next] in self._ready:
            experiment, _ = self._order[self._next]
            entry = self._ready.pop(self._order[self._next])
            self._next += 1
            if entry is None:
                continue
            if isinstance(entry, str):
                self.write(entry)
            elif isinstance(entry, tuple):  # found done: (stored, variant, split, status, score, epochs)
                _, variant, _, status, score, epochs = entry
                if status == OK:
                    scores, all_epochs = self.history.setdefault((experiment, variant), ([], []))
                    scores.append(float(score))
                    all_epochs.append(int(epochs))
            else:
                self._line(entry)

    def _line(self, record: SplitRecord) -> None:
        key = (record.experiment, record.variant)
        if not self.lines:
            return
        if key != self.current:
            self.write(f"\n== {record.experiment} · variant: {record.variant} ==")
            self.current = key
        scores, epochs = self.history.setdefault(key, ([], []))
        if record.ok:
            scores.append(float(record.score))
            epochs.append(int(record.epochs))
            self.write(
                f"#{record.split + 1}: score={record.score:.6f}, mean score={np.mean(scores):.6f}, "
                f"stdev={pstdev(scores):.6f}, epochs={record.epochs}, mean epochs={int(np.mean(epochs))}, "
                f"time={report.hms(record.seconds)}"
            )
        elif record.status == ERROR:
            self.write(f"#{record.split + 1}: NOT TRAINED: {record.reason} (the next run tries it again)")
        else:
            self.write(f"#{record.split + 1}: FAILED after {record.epochs} epochs: {record.reason}")

    def close(self) -> None:
        self.bar.close()


def load(exp: Experiment, data_dir: Path) -> Any:
    """`exp.load_data`, whose failures on bad data (an empty or malformed file, a loader that
    trips over it) become one line naming the experiment and where in its code it failed."""
    try:
        return exp.load_data(data_dir)
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's loader on the user's data
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if f.filename.endswith(".py") and "site-packages" not in f.filename
               and not f.filename.startswith(sys.base_prefix) and "/harness/" not in f.filename.replace("\\", "/")]
        where = f" ({Path(own[-1].filename).name}:{own[-1].lineno} in {own[-1].name})" if own else ""
        raise HarnessError(f"{exp.name}: load_data failed{where}: {one_line(exc)}") from None


def prepare(exp: Experiment, data_dir: Path) -> Prepared:
    """Load, check and split one experiment; raises HarnessError on bad input."""
    from .engines.sklearn_fit import check_reference_models

    exp.check()
    references = check_reference_models(exp)
    data = load(exp, Path(data_dir))
    splitter = exp.make_splitter()
    check_dataset(exp, data, splitter)
    divisions = make_splits(exp, data, splitter)
    splits = [prepare_split(exp, data, i, train, test) for i, (train, test) in enumerate(divisions)]
    return Prepared(exp, data, splitter, splits, make_jobs(exp, len(splits)), reference_models=references)


def plan(item: Prepared, engine: str) -> dict[str, Any]:
    """Give every job its trainer and key (`item.planned`, `item.notes`); returns the trainers
    by name. Refuses (HarnessError) what the engine cannot train."""
    from .engines import assign, get_trainer

    try:
        chosen, item.notes = assign(engine, item.exp, item.splits, item.jobs)
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - engines build the models: a bad activation, no memory for them
        raise HarnessError(f"{item.exp.name}: cannot build its models: {one_line(exc)}") from None
    keys = KeyMaker(item.exp, item.data, item.splitter, item.splits)
    item.data_key = keys.data_key
    trainers = {trainer.name: trainer for trainer in chosen.values()}
    trainers.setdefault("sklearn", get_trainer("sklearn"))
    planned = [with_key(job, chosen[id(job)].name, keys.key(job, chosen[id(job)].numerics)) for job in item.jobs]
    for job in reference_jobs(item.exp, item.reference_models, len(item.splits)):
        planned.append(with_key(job, "sklearn", keys.key(job, trainers["sklearn"].numerics)))
    item.planned = planned
    return trainers


def make_tasks(item: Prepared, trainers: dict[str, Any], jobs: Sequence[Job]) -> list[Task]:
    """The jobs to train cut into tasks by their trainers, in plan order."""
    position = {job.key: i for i, job in enumerate(item.planned)}
    chunks = []
    for name, trainer in trainers.items():
        mine = [job for job in jobs if job.engine == name]
        if mine:
            chunks += [(name, list(chunk)) for chunk in trainer.tasks(item.exp, item.splits, mine)]
    chunks.sort(key=lambda chunk: min(position[job.key] for job in chunk[1]))  # plan order: lines print early
    versions = library_versions()
    return [
        Task(item.exp, item.data.name, name, chunk,
             {split: item.splits[split] for split in sorted({job.split for job in chunk})}, versions=versions)
        for name, chunk in chunks
    ]


def task_cost(task: Task) -> float:
    """A task's work, roughly: its networks' optimizer steps (a reference-model fit counts as one epoch)."""
    exp = task.exp
    return sum(exp.epochs * math.ceil(len(task.splits[job.split].fit_index) / exp.batch_size)
               if job.variant is not None else 1.0 for job in task.jobs)


def balance(prepared: Sequence[Prepared], slots: int) -> None:
    """With several workers, halve the largest stacked models (largest first) until none holds
    more than 1/slots of the run's work, so that no worker is left idle while one trains a
    model larger than its share. A part of a stacked model is a stacked model
    of the same members, each training as it would in the whole; every split costs a model
    build, so nothing is split that need not be."""
    if slots < 2:
        return
    total = sum(task_cost(task) for item in prepared for task in item.tasks)
    for item in prepared:
        tasks = item.tasks
        while True:
            splittable = [i for i, t in enumerate(tasks) if t.trainer == "stacked" and len(t.jobs) > 1]
            largest = max(splittable, key=lambda i: task_cost(tasks[i]), default=None)
            if largest is None or task_cost(tasks[largest]) <= total / slots:
                break
            task = tasks[largest]
            half = (len(task.jobs) + 1) // 2
            tasks[largest:largest + 1] = [dataclasses.replace(task, jobs=task.jobs[:half]),
                                          dataclasses.replace(task, jobs=task.jobs[half:])]


def drop_found(item: Prepared) -> None:
    """Keep only the jobs still to train: a task found done goes, a task found part-done keeps
    the rest of its jobs (a stacked model of fewer members)."""
    tasks = []
    for task in item.tasks:
        todo = [job for job in task.jobs if job.key not in item.found]
        if todo:
            tasks.append(task if len(todo) == len(task.jobs) else dataclasses.replace(task, jobs=todo))
    item.tasks = tasks


def versions() -> dict[str, str]:
    """The versions the report shows: Python, pandas, and those a job's key includes."""
    import pandas

    return {"python": platform.python_version(), **library_versions(), "pandas": pandas.__version__}


def model_summary(model: Any) -> str:
    """Keras' model summary as text. Keras captures it from a rich Console, which in a Jupyter
    kernel would also display an empty cell output; it is told it is not in Jupyter."""
    lines: list[str] = []
    console = sys.modules.get("rich.console")
    is_jupyter = getattr(console, "_is_jupyter", None)
    if is_jupyter is not None:
        console._is_jupyter = lambda: False  # type: ignore[union-attr]
    try:
        model.summary(print_fn=lambda text, line_break=False: lines.append(text))
    finally:
        if is_jupyter is not None:
            console._is_jupyter = is_jupyter  # type: ignore[union-attr]
    return "\n".join(lines)


def input_names(prepared: Prepared) -> list[str] | None:
    """The network's input columns after preprocessing (the transformer fitted on the first
    split's training rows, as that split's was), e.g. 'x003' or 'colour_red'; None where the
    preprocessor cannot name them."""
    from sklearn.base import clone

    first = prepared.splits[0]
    try:
        transformer = clone(prepared.exp.preprocessor(prepared.data.X))
        transformer.fit(prepared.data.X.iloc[first.fit_index])
        names = [str(n) for n in transformer.get_feature_names_out()]
    except Exception:  # noqa: BLE001 - a custom preprocessor need not name its outputs
        return None
    prefixes = {f"{name}__" for name, *_ in getattr(transformer, "transformers_", [])}  # a ColumnTransformer's
    names = [next((n[len(p):] for p in prefixes if n.startswith(p)), n) for n in names]
    return names if len(names) == first.n_inputs else None


def run_settings(prepared: Prepared, engine_notes: Sequence[str] = ()) -> dict[str, Any]:
    """What the report's settings section shows, recorded with the run."""
    import keras

    from .engines.sklearn_fit import reference_config
    from .models import built, structure

    exp, splits = prepared.exp, prepared.splits
    summaries: dict[str, str] = {}
    by_structure: dict[tuple[Any, ...], str] = {}  # one summary per architecture, not per variant
    for variant in exp.variants:
        keras.utils.set_random_seed(0)
        try:
            model = built(exp, variant, splits[0].n_inputs, splits[0].n_outputs)
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - the builder with the user's settings (a bad activation, no memory)
            raise HarnessError(f"{exp.name}: cannot build the model of variant {variant.name!r}: {one_line(exc)}") from None
        key = structure(model)
        if key not in by_structure:
            by_structure[key] = model_summary(model)
        summaries[variant.name] = by_structure[key]
    ratio = float(np.mean([len(f.test_index) / len(f.fit_index) for f in splits]))
    corrected = traits(prepared.splitter).resampling_correction
    return {
        **exp.settings(),
        "description": exp.description,
        "source": exp.source,
        "source_results": exp.source_results(),
        "splitter": repr(prepared.splitter),
        "preprocessor": repr(exp.preprocessor(prepared.data.X)),
        "protocol_text": exp.protocol_description(),
        "n_rows": len(prepared.data.X),
        "n_features": splits[0].n_inputs,
        "input_names": input_names(prepared),
        "test_train_ratio": ratio if corrected else 0.0,
        "resampling_correction": corrected,
        "rope": exp.rope,
        "greater_is_better": exp.greater_is_better,
        "variant_order": [v.name for v in exp.variants],
        "variant_configs": [v.config() for v in exp.variants],
        "reference_models": [reference_config(name, est) for name, est in prepared.reference_models.items()],
        "model_summaries": summaries,
        "versions": versions(),
        "data_fingerprint": prepared.data_key,
        "engine_notes": list(engine_notes),
        "jobs": {"planned": len(prepared.planned), "found_done": len(prepared.found)},
    }


def make_executor(workers: int = 1, client: Any = None, scheduler: str | None = None) -> Any:
    """In this process (1 worker), N worker processes, or a Dask cluster (a client, or the
    address of its scheduler)."""
    if client is not None or scheduler:
        return DaskCluster(client) if client is not None else DaskCluster(connect(scheduler), owned=True)
    return InProcess() if workers == 1 else LocalWorkers(workers)


def run_experiments(
    experiments: Sequence[Experiment],
    *,
    db: str | Path = DEFAULT_DB,
    reports_dir: str | Path = "reports",
    data_dir: str | Path | None = None,
    engine: str = "auto",
    stream: TextIO | None = None,
    progress: bool | None = None,
    lines: bool = True,
    workers: int = 1,
    client: Any = None,
    scheduler: str | None = None,
    fresh: bool = False,
    retry_failed: bool = False,
) -> list[Outcome]:
    """Run every experiment, resuming from the store: train the jobs not stored yet, store each
    task as it finishes, write each experiment's report when its last task is stored, then
    the index. `workers` > 1 trains in that many processes; `client` (a
    `dask.distributed.Client`) or `scheduler` (its address) trains on a Dask cluster.
    `progress` shows a bar (default: in a terminal or a Jupyter kernel); `lines` False leaves
    out Heaton's per-split lines."""
    stream = stream or sys.stdout
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    if workers < 1:
        raise HarnessError(f"--workers must be at least 1, got {workers}")
    if workers > 1 and (client is not None or scheduler):
        raise HarnessError("--workers and --scheduler exclude each other: the Dask cluster's workers train")
    names = [exp.name for exp in experiments]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise HarnessError(f"two experiments of this run are named {', '.join(map(repr, twice))}; give each its own name")
    # workers start (and load TensorFlow) while this process prepares and plans
    executor = make_executor(workers, client, scheduler)
    try:
        return _run(experiments, executor, db, Path(reports_dir), data_dir, engine, stream, progress, lines, fresh,
                    retry_failed)
    finally:
        executor.close()


def _run(experiments: Sequence[Experiment], executor: Any, db: str | Path, reports_dir: Path, data_dir: Path,
         engine: str, stream: TextIO, progress: bool | None, lines: bool, fresh: bool,
         retry_failed: bool) -> list[Outcome]:
    outcomes: list[Outcome] = []
    prepared: list[Prepared] = []
    for exp in experiments:
        try:
            prepared.append(prepare(exp, data_dir))
        except DataUnavailable as exc:
            stream.write(f"skipped {exp.name}: {exc}\n")
            outcomes.append(Outcome(exp.name, skipped=str(exc)))
    trainers = [plan(item, engine) for item in prepared]  # refuses what the engine cannot train
    store = Store(db)
    bar: Progress | None = None
    try:
        for item, item_trainers in zip(prepared, trainers):
            _resume(item, item_trainers, store, fresh, retry_failed, stream)
        balance(prepared, executor.slots)
        for item in prepared:
            drop_found(item)
        show_bar = progress if progress is not None else _interactive(stream)
        bar = Progress(sum(len(t.jobs) for item in prepared for t in item.tasks), stream, show_bar, lines)
        outcomes += _train(prepared, executor, store, bar, reports_dir)
        index = report.write_index(store, reports_dir)
    except BaseException:
        for item in prepared:
            if item.run_id is not None and not _finished(store, item.run_id):
                store.finish_run(item.run_id, "interrupted")
        raise
    finally:
        if bar is not None:
            bar.close()
        store.close()
    stream.write(f"\nreport: {index.resolve()}\n")
    return outcomes


def _interactive(stream: TextIO) -> bool:
    """Someone watches: a terminal, or a Jupyter kernel (where tqdm.auto draws a widget)."""
    if stream.isatty() or sys.stderr.isatty():
        return True
    shell = sys.modules.get("IPython")
    ipython = getattr(shell, "get_ipython", lambda: None)() if shell is not None else None
    return ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})


def _finished(store: Store, run_id: str) -> bool:
    runs = store.runs()
    return bool((runs.loc[runs["run_id"] == run_id, "status"] == "finished").any())


def _resume(item: Prepared, trainers: dict[str, Any], store: Store, fresh: bool, retry_failed: bool,
            stream: TextIO) -> None:
    """Look the experiment's jobs up in the store and start its run; its tasks are cut from the
    whole plan, so a resumed run trains each member beside the members an uninterrupted run
    would have (the tasks found done are dropped later, by `drop_found`)."""
    keys = [job.key for job in item.planned]
    stored = store.stored_jobs(keys)
    stored = stored[stored["status"] == OK] if retry_failed else stored[stored["status"] != ERROR]
    if not fresh:
        item.found = {row.job_key: (row.variant, row.split, row.status, row.score, row.epochs)
                      for row in stored.itertuples()}
    todo = [job for job in item.planned if job.key not in item.found]
    settings = run_settings(item, item.notes)
    # the data as loaded, so that the report is rebuilt from the store alone
    if not store.save_dataset(settings["data_fingerprint"], item.data):
        settings["data_fingerprint"] = None
    item.run_id = store.start_run(item.exp.name, item.data.name, settings, engine_label(trainers), plan=keys)
    item.tasks = make_tasks(item, trainers, item.planned)
    if item.found:
        failed = sum(1 for found in item.found.values() if found[2] != OK)
        also = f" ({failed} of them failed; --retry-failed trains those again)" if failed else ""
        stream.write(f"{item.exp.name}: {len(item.found)} of {len(keys)} jobs found done in the store{also}; "
                     f"training the other {len(todo)}\n")
    elif fresh and len(stored):
        stream.write(f"{item.exp.name}: --fresh: training all {len(keys)} jobs again "
                     f"({len(stored)} stored results will be replaced)\n")


def engine_label(trainers: dict[str, Any]) -> str:
    return "+".join(name for name in trainers if name != "sklearn") or "sklearn"


def _train(prepared: list[Prepared], executor: Any, store: Store, bar: Progress, reports_dir: Path) -> list[Outcome]:
    """Run every task, storing each as it finishes; report each experiment when it is done
    (on a thread of its own, while the next experiment trains)."""
    outcomes = {item.exp.name: Outcome(item.exp.name, run_id=item.run_id, found_done=len(item.found))
                for item in prepared}
    remaining = {item.exp.name: len(item.tasks) for item in prepared}
    by_name = {item.exp.name: item for item in prepared}
    reports = Reports(store, bar, reports_dir)
    try:
        for item in prepared:
            bar.expect(item)
        for item in prepared:
            if not remaining[item.exp.name]:
                reports.submit(item, outcomes[item.exp.name])
        for task, records in executor.run([task for item in prepared for task in item.tasks]):
            name = task.exp.name
            for record in records:
                record.run_id = by_name[name].run_id or ""
            store.add_records(records)
            for record in records:
                bar.record(record)
                outcomes[name].seconds += record.seconds
                if record.ok:
                    outcomes[name].ok += 1
                else:
                    outcomes[name].failed += 1
            remaining[name] -= 1
            if not remaining[name]:
                reports.submit(by_name[name], outcomes[name])
        reports.wait()
    finally:
        reports.close()
    return [outcomes[item.exp.name] for item in prepared]


class Reports:
    """Experiment reports written on one thread beside the training (which spends its time in
    TensorFlow calls that release the interpreter), each from its own connection to the store;
    a report's error surfaces in `wait`."""

    def __init__(self, store: Store, bar: Progress, reports_dir: Path) -> None:
        self.store, self.bar, self.reports_dir = store, bar, reports_dir
        self.start = time.perf_counter()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="harness-report")
        self.pending: list[Future] = []

    def submit(self, item: Prepared, outcome: Outcome) -> None:
        self.store.finish_run(item.run_id)
        self.pending.append(self.pool.submit(self._write, item, outcome))

    def _write(self, item: Prepared, outcome: Outcome) -> None:
        with Store(self.store.path) as store:
            outcome.page = report.write_experiment_report(store, item.exp.name, self.reports_dir, item.run_id, item.exp)
        found = f", {outcome.found_done} found done" if outcome.found_done else ""
        self.bar.summary(item.exp.name, f"{item.exp.name}: {outcome.ok} jobs ok, {outcome.failed} failed{found}, "
                         f"{outcome.seconds:.1f} s training, done {time.perf_counter() - self.start:.1f} s into "
                         f"the run → {outcome.page}")

    def wait(self) -> None:
        for future in self.pending:
            future.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
