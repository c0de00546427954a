"""Where tasks run: in this process, in worker processes on this machine, or on a Dask cluster.

A task is a list of jobs that one trainer trains at once (one stacked model, one model.fit,
one baseline fit) with the preprocessed folds they need; it runs the same wherever it runs,
so the job list and the results never depend on the executor. Every executor yields
`(task, records)` as each task finishes, in whatever order they finish; the caller (the
runner) alone writes the store and prints progress. A task whose worker dies is retried;
after its retries it comes back as failed records naming the reason, and the run goes on.

Tasks travel as cloudpickle bytes. An experiment defined outside the harness (a user's file
given by path, a notebook, a test module) travels by value, so workers need only the
harness and its libraries, not the user's files.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import cloudpickle

from .experiment import Experiment
from .folds import FoldData
from .jobs import Job
from .records import FoldRecord

#: TensorFlow's intra-op threads in a worker process (set before TensorFlow loads)
THREADS_ENV = "HARNESS_TF_THREADS"
#: how often a task whose worker died is tried again elsewhere
DEFAULT_RETRIES = 2


@dataclass
class Task:
    """Jobs one trainer trains at once, with what it needs to train them anywhere."""

    index: int
    exp: Experiment
    dataset: str
    trainer: str
    jobs: list[Job]
    folds: Mapping[int, FoldData]
    options: dict[str, Any] = field(default_factory=dict)
    #: the library versions the jobs' keys were made with; a worker with others refuses
    versions: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------- running one task
_trainers: dict[tuple[str, tuple[Any, ...]], Any] = {}


def _trainer(kind: str, options: Mapping[str, Any]) -> Any:
    from .engines import get_trainer

    key = (kind, tuple(sorted(options.items())))
    if key not in _trainers:
        _trainers[key] = get_trainer(kind, **options)
    return _trainers[key]


def failed_record(task: Task, job: Job, reason: str) -> FoldRecord:
    """The record of a job that could not be trained at all (its worker died, its task broke)."""
    if job.variant is not None:
        from .engines.base import finish

        return finish(task.exp, task.dataset, job, task.folds[job.fold], None, job.engine, error=reason)
    from .engines.sklearn_fit import baseline_config
    import hashlib
    import json

    config = baseline_config(job.name, job.estimator)
    return FoldRecord(
        experiment=task.exp.name, dataset=task.dataset, variant=job.name, config=config,
        config_hash=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16],
        fold=job.fold, seed=job.seed, status="failed", reason=reason, score=None, train_score=None,
        metrics={}, epochs=0, best_epoch=0, seconds=0.0, loss=[], val_loss=[], engine=job.engine,
        job_key=job.key or None,
    )


def execute(task: Task) -> list[FoldRecord]:
    """Train a task's jobs; one record per job, in job order. A trainer that raises fails
    the jobs it had not finished, with the reason."""
    records: dict[str, FoldRecord] = {}
    try:
        if task.versions:
            from .jobs import library_versions

            mine = library_versions()
            differ = {k: (v, mine.get(k)) for k, v in task.versions.items() if mine.get(k) != v}
            if differ:
                raise RuntimeError("this worker's libraries differ from the run's: " + ", ".join(
                    f"{name} {theirs} here, {wanted} in the run" for name, (wanted, theirs) in differ.items()))
        _trainer(task.trainer, task.options).run(
            task.exp, task.dataset, task.folds, task.jobs, lambda r: records.setdefault(r.job_key or "", r))
    except Exception as exc:  # noqa: BLE001 - a broken task fails its jobs; the run goes on
        reason = f"{type(exc).__name__}: {exc}"
        for job in task.jobs:
            records.setdefault(job.key, failed_record(task, job, reason))
    return [records.get(job.key) or failed_record(task, job, "the trainer returned no result") for job in task.jobs]


def dumps(task: Task) -> bytes:
    """A task as bytes; the experiment's own modules (outside the harness and installed
    libraries) travel by value."""
    for module in _shipped_modules(type(task.exp)):
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(task)
    finally:
        for module in _shipped_modules(type(task.exp)):
            cloudpickle.unregister_pickle_by_value(module)


def _shipped_modules(cls: type) -> list[Any]:
    modules = []
    for klass in cls.__mro__:
        module = sys.modules.get(klass.__module__)
        name = getattr(module, "__name__", "")
        path = getattr(module, "__file__", None) or ""
        installed = "site-packages" in path or "dist-packages" in path
        if module is None or name in ("builtins", "__main__") or name.split(".")[0] == "harness" or installed:
            continue
        if module not in modules:
            modules.append(module)
    return modules


def run_payload(payload: bytes) -> bytes:
    """A worker's entry point: bytes of a Task in, bytes of its records out."""
    configure_threads()
    return cloudpickle.dumps(execute(cloudpickle.loads(payload)))


def configure_threads(threads: int | None = None) -> None:
    """Set TensorFlow's thread pools before it loads: `threads` intra-op threads (default
    $HARNESS_TF_THREADS; nothing set when neither is given) and one inter-op thread, so that
    N workers on one machine do not each start a pool as large as the machine."""
    threads = threads or int(os.environ.get(THREADS_ENV) or 0)
    if not threads or "tensorflow" in sys.modules:
        return
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


# ---------------------------------------------------------------------- executors
class InProcess:
    """Tasks one after another in this process."""

    name = "in-process"
    slots = 1

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, list[FoldRecord]]]:
        for task in tasks:
            yield task, execute(task)

    def close(self) -> None:
        pass


class _Retrying:
    """Submits tasks, yields them as they finish, and resubmits those whose worker died."""

    retries = DEFAULT_RETRIES

    def _submit(self, payload: bytes) -> Any:
        raise NotImplementedError

    def _lost(self, exc: BaseException) -> bool:
        """Whether `exc` means the worker was lost (retry), not that the task failed."""
        raise NotImplementedError

    def _recover(self) -> None:
        """Make the executor usable again after a lost worker."""

    def _as_completed(self, futures: list[Any]) -> Iterator[Any]:
        """Futures as they finish, including those `_add`ed while iterating."""
        raise NotImplementedError

    def _add(self, future: Any) -> None:
        raise NotImplementedError

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, list[FoldRecord]]]:
        pending: dict[Any, tuple[Task, bytes, int]] = {}
        for task in tasks:
            payload = dumps(task)
            pending[self._submit(payload)] = (task, payload, 0)
        for future in self._as_completed(list(pending)):
            task, payload, attempt = pending.pop(future)
            try:
                records = cloudpickle.loads(future.result())
            except Exception as exc:  # noqa: BLE001 - a lost worker is retried, anything else fails the task
                lost, reason = self._lost(exc), f"{type(exc).__name__}: {exc}"
                if lost and attempt < self.retries:
                    self._recover()
                    retry = self._submit(payload)
                    pending[retry] = (task, payload, attempt + 1)
                    self._add(retry)
                    continue
                if lost:
                    reason = f"its worker was lost {attempt + 1} times ({reason})"
                records = [failed_record(task, job, reason) for job in task.jobs]
            yield task, records


class WorkerProcesses(_Retrying):
    """`workers` processes on this machine (spawned, never forked: TensorFlow must not be
    forked), each with its share of the cores for TensorFlow's threads."""

    name = "worker processes"

    def __init__(self, workers: int, threads: int | None = None) -> None:
        self.slots = workers
        self.threads = threads or max(1, (os.cpu_count() or 1) // workers)
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.slots, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=configure_threads, initargs=(self.threads,))

    def _submit(self, payload: bytes) -> Any:
        return self._pool.submit(run_payload, payload)

    def _lost(self, exc: BaseException) -> bool:
        from concurrent.futures.process import BrokenProcessPool

        return isinstance(exc, BrokenProcessPool)

    def _recover(self) -> None:
        from concurrent.futures.process import BrokenProcessPool

        probe = None
        try:
            probe = self._pool.submit(int)
        except (BrokenProcessPool, RuntimeError):
            pass
        if probe is None:  # the pool is broken: every worker is gone with it; start anew
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    def _as_completed(self, futures: list[Any]) -> Iterator[Any]:
        self._watching = set(futures)
        while self._watching:
            done, _ = cf.wait(self._watching, return_when=cf.FIRST_COMPLETED)
            for future in done:
                self._watching.discard(future)
                yield future

    def _add(self, future: Any) -> None:
        self._watching.add(future)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskCluster(_Retrying):
    """Tasks as futures on a Dask cluster (`distributed.Client`). Dask itself reschedules a
    task whose worker dies (up to the scheduler's `allowed-failures`); past that it raises
    `KilledWorker`, and the task is submitted again up to `retries` more times."""

    name = "dask"

    def __init__(self, client: Any) -> None:
        self.client = client
        self.slots = max(1, sum(client.nthreads().values()))

    def _submit(self, payload: bytes) -> Any:
        return self.client.submit(run_payload, payload, pure=False)

    def _lost(self, exc: BaseException) -> bool:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        return isinstance(exc, (KilledWorker, FutureCancelledError, OSError))

    def _as_completed(self, futures: list[Any]) -> Iterator[Any]:
        from distributed import as_completed

        self._stream = as_completed(futures)
        yield from self._stream

    def _add(self, future: Any) -> None:
        self._stream.add(future)

    def close(self) -> None:
        pass


def connect(address: str, timeout: float = 30.0) -> Any:
    """A Dask client of the scheduler at `address` (e.g. tcp://10.0.0.5:8786)."""
    from distributed import Client

    from .errors import HarnessError

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise HarnessError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
