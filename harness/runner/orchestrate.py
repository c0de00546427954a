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
import sys
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, TextIO

from .. import report, tracking
from ..core import ERROR, FAILED, INNER, NETWORK, OK, Dataset, candidate_label
from ..data import default_data_dir
from ..errors import DataUnavailable, HarnessError, one_line
from ..executors import DaskCluster, InProcess, LocalWorkers, Task, connect
from ..experiment import Experiment, hook_splitter
from ..jobs import Job, KeyMaker, job_seed, library_versions, make_jobs, reference_jobs, with_key
from ..registry import known_to_reports
from ..splits import SplitData, check_dataset, make_splits, prepare_split
from ..losses import check_class_weight, check_loss
from ..scoring import check_score
from ..splitters import traits
from ..tuning import Tuning, inner_splits, tuned_variants
from ..store import Owner, Store
from .heartbeat import Heartbeat
from .metadata import run_record
from ..options import RunOptions
from .progress import Progress


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
    #: the outer splits' (training, test) row positions
    divisions: list[tuple[Any, Any]] = field(default_factory=list)
    #: the inner splits of tuned variants, keyed (outer, inner); empty when nothing is tuned
    inner: dict[tuple[int, int], SplitData] = field(default_factory=dict)
    #: the nested cross-validation's state (None when nothing is tuned)
    tuning: Tuning | None = None
    #: what keys its jobs, and the engine choice that gives them trainers (set by `plan`)
    keys: KeyMaker | None = None
    engine: str = "auto"
    trainers: dict[str, Any] = field(default_factory=dict)
    #: the jobs of the current wave, and whether no wave follows it
    wave: list[Job] = field(default_factory=list)
    final: bool = True
    #: outer jobs held back until the inner CV has chosen (so that they stack with the refits)
    held: list[Job] = field(default_factory=list)
    #: (variant, split) -> why a tuned variant has nothing to refit there
    unrefittable: dict[tuple[str, int], str] = field(default_factory=dict)
    #: --fresh: how many stored results this run replaces
    fresh_replaced: int = 0

    @property
    def table(self) -> dict[Any, SplitData]:
        """Every prepared split by `Job.data`: outer splits by index, inner ones by (outer, inner)."""
        return {**dict(enumerate(self.splits)), **self.inner}


@dataclass
class Outcome:
    """How one experiment of a run went; `definition` is the experiment as it ran (with the
    run's options applied)."""

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
    definition: Experiment | None = None


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
    from ..engines.sklearn_fit import check_reference_models

    exp.check()
    references = check_reference_models(exp)
    data = load(exp, Path(data_dir))
    splitter = hook_splitter(exp, "make_splitter", lambda: exp.make_splitter(data))  # it may be overridden too
    check_dataset(exp, data, splitter)
    n_classes = len(data.classes) if exp.task == "classification" else 0
    check_score(exp, n_classes)
    check_loss(exp.name, exp.loss, exp.task, n_classes)
    if exp.task == "classification":
        check_class_weight(exp.name, exp.class_weight, data.classes)
    divisions = make_splits(exp, data, splitter)
    ordered = traits(splitter).ordered
    splits = [prepare_split(exp, data, i, train, test, ordered) for i, (train, test) in enumerate(divisions)]
    item = Prepared(exp, data, splitter, splits, make_jobs(exp, len(splits)), reference_models=references,
                    divisions=divisions)
    if tuned_variants(exp):
        item.inner = inner_splits(exp, data, divisions, ordered)
        item.tuning = Tuning(exp, len(splits))
    return item


def plan(item: Prepared, engine: str) -> dict[str, Any]:
    """Give every job known before training its trainer and key (`item.planned`: the outer
    jobs in report order; `item.wave`: what trains first; `item.notes`); returns the trainers
    by name. Refuses (HarnessError) what the engine cannot train. With tuned variants, the
    first wave is the inner CV's first round and the outer jobs wait for the refits."""
    from ..engines import reference_trainer

    item.engine = engine
    item.keys = KeyMaker(item.exp, item.data, item.splitter, item.splits, item.inner)
    item.data_key = item.keys.data_key
    first_inner = item.tuning.next_jobs() if item.tuning is not None else []
    keyed, item.notes = _keyed(item, item.jobs + first_inner, notes=True)
    outer, inner = keyed[:len(item.jobs)], keyed[len(item.jobs):]
    references = reference_jobs(item.exp, item.reference_models, len(item.splits))
    if references:
        fitter = reference_trainer()
        item.trainers[fitter.name] = fitter
        outer += [with_key(job, fitter.name, item.keys.key(job, fitter.numerics)) for job in references]
    item.planned = outer
    if item.tuning is not None:
        item.wave, item.held, item.final = inner, outer, False
    else:
        item.wave, item.final = outer, True
    return item.trainers


def _keyed(item: Prepared, jobs: Sequence[Job], notes: bool = False) -> tuple[list[Job], list[str]]:
    """Network jobs with their trainers (under the run's engine choice) and keys."""
    from ..engines import assign

    if not jobs:
        return [], []
    try:
        chosen, said = assign(item.engine, item.exp, item.table, jobs)
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - engines build the models: a bad activation, no memory for them
        raise HarnessError(f"{item.exp.name}: cannot build its models: {one_line(exc)}") from None
    for trainer in chosen.values():
        item.trainers.setdefault(trainer.name, trainer)
    keyed = [with_key(job, chosen[id(job)].name, item.keys.key(job, chosen[id(job)].numerics)) for job in jobs]
    return keyed, said if notes else []


def make_tasks(item: Prepared, trainers: dict[str, Any], jobs: Sequence[Job]) -> list[Task]:
    """The jobs to train cut into tasks by their trainers, in the order given."""
    from ..engines import TRAINERS

    position = {job.key: i for i, job in enumerate(jobs)}
    chunks = []
    for name, trainer in trainers.items():
        mine = [job for job in jobs if job.engine == name]
        if mine:
            chunks += [(trainer, list(chunk)) for chunk in trainer.tasks(item.exp, item.table, mine)]
    chunks.sort(key=lambda chunk: min(position[job.key] for job in chunk[1]))  # plan order: lines print early
    versions = library_versions()
    table = item.table
    return [
        Task(item.exp, item.data.name, trainer.name, TRAINERS[trainer.name].factory, chunk,
             {data: table[data] for data in dict.fromkeys(job.data for job in chunk)},
             splittable=trainer.splittable, versions=versions)
        for trainer, chunk in chunks
    ]


def task_cost(task: Task) -> float:
    """A task's work, roughly: its networks' optimizer steps (a reference-model fit counts as one epoch)."""
    exp = task.exp
    return sum(exp.epochs * task.splits[job.data].steps_per_epoch(exp.batch_size) if job.kind == NETWORK else 1.0
               for job in task.jobs)


def balance(prepared: Sequence[Prepared], slots: int, outstanding: float = 0.0) -> None:
    """With several workers, halve the largest tasks that can be cut (a stacked model: a part
    of one is a stacked model of the same members, each training as it would in the whole),
    largest first, until none holds more than 1/slots of the work to do (these tasks and
    `outstanding`, the work already submitted and not finished), so that no worker is left
    idle while one trains a task larger than its share; every cut costs a model build, so
    nothing is cut that need not be."""
    if slots < 2:
        return
    limit = (outstanding + sum(task_cost(task) for item in prepared for task in item.tasks)) / slots
    for item in prepared:
        tasks = item.tasks
        while True:
            splittable = [i for i, t in enumerate(tasks) if t.splittable and len(t.jobs) > 1]
            largest = max(splittable, key=lambda i: task_cost(tasks[i]), default=None)
            if largest is None or task_cost(tasks[largest]) <= limit:
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


def make_executor(workers: int = 1, client: Any = None, scheduler: str | None = None) -> Any:
    """In this process (1 worker), N worker processes, or a Dask cluster (a client, or the
    address of its scheduler)."""
    if client is not None or scheduler:
        return DaskCluster(client) if client is not None else DaskCluster(connect(scheduler), owned=True)
    return InProcess() if workers == 1 else LocalWorkers(workers)


def run_experiments(experiments: Sequence[Experiment], options: RunOptions | None = None,
                    **keywords: Any) -> list[Outcome]:
    """Run every experiment, resuming from the store: train the jobs not stored yet, store each
    task as it finishes, write each experiment's report when its last task is stored, then
    the index. How: `options` (`RunOptions`), or the same as keywords (`db=…`, `fresh=True`,
    `workers=2`, `epochs=20`, …: the command line's options and training settings)."""
    if options is not None and keywords:
        raise HarnessError("give run_experiments either options or keywords, not both")
    options = options if options is not None else RunOptions.from_keywords(**keywords)
    experiments = [options.configure(exp) for exp in experiments]
    names = [exp.name for exp in experiments]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise HarnessError(f"two experiments of this run are named {', '.join(map(repr, twice))}; give each its own name")
    if options.mlflow:  # refused before anything trains when MLflow is missing
        tracking.client(options.mlflow)
    # workers start (and load TensorFlow) while this process prepares and plans
    executor = make_executor(options.workers, options.client, options.scheduler)
    try:
        return _run(experiments, executor, options)
    finally:
        executor.close()


def _run(experiments: Sequence[Experiment], executor: Any, options: RunOptions) -> list[Outcome]:
    stream = options.stream or sys.stdout
    data_dir = Path(options.data_dir) if options.data_dir else default_data_dir()
    reports_dir = Path(options.reports_dir)
    outcomes: list[Outcome] = []
    prepared: list[Prepared] = []
    for exp in experiments:
        try:
            prepared.append(prepare(exp, data_dir))
        except DataUnavailable as exc:
            stream.write(f"skipped {exp.name}: {exc}\n")
            outcomes.append(Outcome(exp.name, skipped=str(exc), definition=exp))
    trainers = [plan(item, options.engine) for item in prepared]  # refuses what the engine cannot train
    report.atomic.check_folder(reports_dir)  # before anything trains, as the store is opened here
    store = Store(options.db)
    bar: Progress | None = None
    held: Heartbeat | None = None
    try:
        held = Heartbeat(store, [item.exp.name for item in prepared], stream)  # refused while another process runs one
        for item, item_trainers in zip(prepared, trainers):
            _resume(item, item_trainers, store, options, stream, held.owner)
        show_bar = options.progress if options.progress is not None else _interactive(stream)
        bar = Progress(0, stream, show_bar, options.lines)
        outcomes += _train(prepared, executor, store, bar, reports_dir, options)
        index = report.write_index(store, reports_dir, known_to_reports()[1])
        if options.mlflow:
            runs = [(o.experiment, o.run_id, o.page.parent if o.page else None) for o in outcomes if o.run_id]
            logged = tracking.log_runs(store, runs, options.mlflow)
            stream.write(f"mlflow: {logged} run(s) logged to {options.mlflow}"
                         f"{f' ({len(runs) - logged} logged before)' if len(runs) - logged else ''}\n")
    except BaseException:
        for item in prepared:
            if item.run_id is not None and not _finished(store, item.run_id):
                store.finish_run(item.run_id, "interrupted")
        raise
    finally:
        if held is not None:
            held.close()
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


def _resume(item: Prepared, trainers: dict[str, Any], store: Store, options: RunOptions, stream: TextIO,
            owner: Owner) -> None:
    """Start the experiment's run (its record and the plan known so far) and look its first
    wave's jobs up in the store; its tasks are cut from the whole wave, so a resumed run trains
    each member beside the members an uninterrupted run would have (the tasks found done are
    dropped later, by `drop_found`)."""
    first = [job for job in item.wave if job.role == INNER]
    keys = [job.key for job in item.planned] + [job.key for job in first]
    _lookup(item, store, item.planned + first, options.fresh, options.retry_failed)
    record = run_record(item, item.notes)
    # the data as loaded, so that the report is rebuilt from the store alone
    if not store.save_dataset(item.data_key, item.data):
        record.data_fingerprint = None
    item.run_id = store.start_run(record, engine_label(trainers), plan=keys, owner=owner)
    todo = [key for key in keys if key not in item.found]
    if item.found:
        failed = sum(1 for found in item.found.values() if found[2] != OK)
        also = f" ({failed} of them failed; --retry-failed trains those again)" if failed else ""
        stream.write(f"{item.exp.name}: {len(item.found)} of {len(keys)} jobs found done in the store{also}; "
                     f"training the other {len(todo)}\n")
    elif options.fresh and item.fresh_replaced:
        stream.write(f"{item.exp.name}: --fresh: training all {len(keys)} jobs again "
                     f"({item.fresh_replaced} stored results will be replaced)\n")


def _lookup(item: Prepared, store: Store, jobs: Sequence[Job], fresh: bool, retry_failed: bool) -> None:
    """Note which of these jobs the store holds done (`item.found`), and feed the inner CV the
    scores of the inner ones."""
    stored = store.stored_jobs([job.key for job in jobs])
    stored = stored[stored["status"] == OK] if retry_failed else stored[stored["status"] != ERROR]
    if fresh:
        item.fresh_replaced += len(stored)
        return
    found = {row.job_key: (row.variant, row.split, row.status, row.score, row.epochs) for row in stored.itertuples()}
    item.found.update(found)
    if item.tuning is not None:
        for job in jobs:
            if job.key in found:
                item.tuning.add(job, found[job.key][2], found[job.key][3])


def engine_label(trainers: dict[str, Any]) -> str:
    """The trainers of the run's networks by name (the reference models' when it has none)."""
    return "+".join(name for name, t in trainers.items() if t.kind == NETWORK) or "+".join(trainers)


def _train(prepared: list[Prepared], executor: Any, store: Store, bar: Progress, reports_dir: Path,
           options: RunOptions) -> list[Outcome]:
    """Run every experiment's jobs in waves (`Waves`), storing each task as it finishes, and
    report each experiment when its last wave is stored (on a thread of its own, while the
    rest trains)."""
    outcomes = {item.exp.name: Outcome(item.exp.name, run_id=item.run_id, definition=item.exp,
                                       found_done=sum(1 for job in item.planned if job.key in item.found))
                for item in prepared}
    reports = Reports(store, bar, reports_dir)
    waves = Waves(prepared, executor, store, bar, reports, options, outcomes)
    try:
        waves.run()
        reports.wait()
    finally:
        waves.close()
        reports.close()
    return [outcomes[item.exp.name] for item in prepared]


class Waves:
    """Every experiment's jobs, wave after wave, on one stream of the executor's. An experiment
    without tuned variants has one wave; one with them trains its inner CV round by round,
    then its outer jobs with the refits of what the inner CV chose. An experiment's next wave
    is submitted as soon as its current one is stored, whatever the others are doing (no
    worker waits for another experiment's round to end), and ahead of the waiting tasks of the
    experiments after it, so that experiments finish, and their reports are written, one after
    another while the rest trains. Experiments without tuned variants go first, in the run's
    order, then the tuned ones: the run ends on a tuned experiment's outer wave, which is cut
    for every worker to take a part when little else is left to do (`balance`)."""

    def __init__(self, prepared: list[Prepared], executor: Any, store: Store, bar: Progress, reports: "Reports",
                 options: RunOptions, outcomes: dict[str, Outcome]) -> None:
        self.prepared, self.store, self.bar, self.reports = prepared, store, bar, reports
        self.options, self.outcomes, self.slots = options, outcomes, executor.slots
        self.by_name = {item.exp.name: item for item in prepared}
        ranked = sorted(range(len(prepared)), key=lambda i: (prepared[i].tuning is not None, i))
        self.position = {prepared[i].exp.name: rank for rank, i in enumerate(ranked)}
        self.stream = executor.stream()
        #: tasks of each experiment's current wave not stored yet
        self.remaining: dict[str, int] = {}
        #: the estimated work (`task_cost`) submitted and not stored yet
        self.outstanding = 0.0

    def run(self) -> None:
        for item in self.prepared:
            self.bar.expect(item)
        for item in self.prepared:
            item.tasks = make_tasks(item, item.trainers, item.wave)
        balance(self.prepared, self.slots)
        for item in self.prepared:
            self.submit(item)
        for task, records in self.stream:
            self.outstanding -= task_cost(task)
            item = self.by_name[task.exp.name]
            self.stored(item, task, records)
            self.remaining[item.exp.name] -= 1
            if not self.remaining[item.exp.name]:
                self.wave_done(item)

    def submit(self, item: Prepared) -> None:
        """Submit the tasks of the experiment's wave (`item.tasks`) not found done."""
        drop_found(item)
        self.bar.more(sum(len(task.jobs) for task in item.tasks))
        self.remaining[item.exp.name] = len(item.tasks)
        for task in item.tasks:
            self.outstanding += task_cost(task)
            self.stream.submit(task, priority=-self.position[item.exp.name])
        if not item.tasks:
            self.wave_done(item)

    def stored(self, item: Prepared, task: Task, records: list[Any]) -> None:
        """Store a finished task's records and count them."""
        name = item.exp.name
        for record in records:
            record.run_id = item.run_id or ""
        self.store.add_records(records)
        for job, record in zip(task.jobs, records):
            self.bar.record(record)
            if item.tuning is not None:
                item.tuning.add(job, record.status, record.score)
            if record.role == INNER:
                continue
            self.outcomes[name].seconds += record.seconds
            if record.ok:
                self.outcomes[name].ok += 1
            else:
                self.outcomes[name].failed += 1

    def wave_done(self, item: Prepared) -> None:
        """The experiment's wave is stored: report the experiment if it was the last, else
        submit the next (the inner CV's next round, or the outer jobs and the refits)."""
        outcome = self.outcomes[item.exp.name]
        if not item.final:
            _next_wave(item, self.store, self.bar, self.options, outcome)
            if item.wave:
                item.tasks = make_tasks(item, item.trainers, item.wave)
                balance([item], self.slots, self.outstanding)
                self.submit(item)
                return
        self.reports.submit(item, outcome)

    def close(self) -> None:
        self.stream.close()


def _next_wave(item: Prepared, store: Store, bar: Progress, options: RunOptions, outcome: Outcome) -> None:
    """The experiment's next wave: the inner CV's next round, or, once every search is
    complete, the outer jobs held back and the refits of the choices."""
    assert item.tuning is not None
    inner = item.tuning.next_jobs()
    if inner:
        item.wave, _ = _keyed(item, inner)
        store.extend_plan(item.run_id, [job.key for job in item.wave])
        _lookup(item, store, item.wave, options.fresh, options.retry_failed)
        return
    refits, failures = item.tuning.refit_jobs(job_seed)
    ready = [job for job in refits if (job.variant.name, job.split) not in failures]
    keyed, _ = _keyed(item, ready)
    by_slot = {(job.variant.name, job.split): job for job in keyed}
    from ..engines.base import make_record

    unchosen = []
    for job in refits:
        slot = (job.variant.name, job.split)
        if slot in failures:  # nothing to retrain: a record of why, without training
            keyed_job = with_key(job, "", item.keys.key(job, "none"))
            unchosen.append(make_record(item.exp, item.data.name, keyed_job, "", FAILED, failures[slot]))
            by_slot[slot] = keyed_job
    refit_jobs = [by_slot[(job.variant.name, job.split)] for job in refits]
    store.extend_plan(item.run_id, [job.key for job in refit_jobs])
    _lookup(item, store, [job for job in refit_jobs if job.engine], options.fresh, options.retry_failed)
    for record in unchosen:
        record.run_id = item.run_id or ""
    store.add_records(unchosen)
    for record in unchosen:
        bar.more(1)
        bar.record(record)
        outcome.failed += 1
    found = [job for job in refit_jobs if job.key in item.found]
    outcome.found_done += len(found)
    bar.found(item, found)
    _say_choices(item, bar)
    item.wave = item.held + [job for job in refit_jobs if job.engine]
    item.final = True


def _say_choices(item: Prepared, bar: Progress) -> None:
    """One line per tuned variant: what its inner CV chose, and on how many outer splits."""
    choices = item.tuning.choices()
    for variant in item.tuning.variants:
        picked = [choices[(variant.name, outer)].candidate for outer in range(len(item.splits))]
        counts: dict[str, int] = {}
        for candidate in picked:
            label = candidate_label(candidate) if candidate is not None else "nothing (every candidate failed)"
            counts[label] = counts.get(label, 0) + 1
        text = ", ".join(f"{label} on {n} of {len(picked)} splits" for label, n in counts.items())
        bar.note(item.exp.name, f"{item.exp.name}: {variant.name}: the inner CV chose {text}")


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
            outcome.page = report.write_experiment_report(store, item.exp.name, self.reports_dir, item.run_id,
                                                          definition=item.exp)
        found = f", {outcome.found_done} found done" if outcome.found_done else ""
        self.bar.summary(item.exp.name, f"{item.exp.name}: {outcome.ok} jobs ok, {outcome.failed} failed{found}, "
                         f"{outcome.seconds:.1f} s training, done {time.perf_counter() - self.start:.1f} s into "
                         f"the run → {outcome.page}")

    def wait(self) -> None:
        for future in self.pending:
            future.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
