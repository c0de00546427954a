"""Where tasks run: in this process, or on Dask: worker processes of a `LocalCluster` on this
machine (`--workers N`), or an existing cluster (`--scheduler ADDRESS`).

A task is a list of jobs that one trainer trains at once (one stacked model, one model.fit,
one reference-model fit) with the preprocessed splits they need; it runs the same wherever it runs,
so the job list and the results never depend on the executor. Every executor opens streams
(`stream()`): tasks are submitted to a stream at any time, with a priority, and it yields
`(task, records)` as each task finishes, in whatever order they finish (`run(tasks)` does
this for a fixed list); the caller (the runner) alone writes the store and prints progress. A task whose worker dies is run again on
another worker; after Dask's allowed failures it comes back as failed records naming the
reason, and the run goes on.

Tasks travel as cloudpickle bytes. An experiment defined outside the harness (a user's file
given by path, a notebook, a test module) travels by value, so workers need only the
harness and its libraries, not the user's files.
"""
from __future__ import annotations

import os
import sys
import sysconfig
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

import cloudpickle

from .core import ERROR, SplitRecord
from .experiment import Experiment
from .jobs import Job
from .splits import SplitData

#: TensorFlow's intra-op threads in a worker process (set before TensorFlow loads)
THREADS_ENV = "HARNESS_TF_THREADS"
#: a Dask worker whose resident memory exceeds this many MB after a task is restarted by its
#: nanny before it takes another (`recycle_if_large`); unset or 0: never
RECYCLE_ENV = "HARNESS_RECYCLE_MB"
#: what `--workers N` sets it to: a worker holds ~0.8 GB once TensorFlow has loaded and ~1.1 GB
#: after its first tasks (the default suite at 1150: 8 restarts, peak 1.62 GB, in the same
#: 5:17 as at 1300 with 2 restarts and a peak of 1.75 GB)
RECYCLE_MB = 1150
#: seconds a cluster this run started may go without any worker while tasks wait, before its
#: workers are replaced; then the seconds new ones have to start before the run stops (HarnessError)
LOST_SECONDS = 30.0
REPLACE_SECONDS = 120.0


@dataclass
class Task:
    """Jobs one trainer trains at once, with what it needs to train them anywhere."""

    exp: Experiment
    dataset: str
    #: the trainer's name, and the factory that makes it (registered: `harness.engines`)
    trainer: str
    factory: Callable[[], Any]
    jobs: list[Job]
    splits: Mapping[int, SplitData]
    #: whether the task may be cut into smaller tasks of its jobs (the trainer's `splittable`)
    splittable: bool = False
    #: the library versions the jobs' keys were made with; a worker with others refuses
    versions: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------- running one task
_trainers: dict[tuple[str, Any], Any] = {}


def _trainer(task: Task) -> Any:
    """This process's trainer of the task (a stacked engine keeps its templates between tasks),
    made by the factory the task carries, so a worker runs trainers registered where the run
    started (and another factory registered under the same name is another trainer)."""
    key = (task.trainer, task.factory)
    if key not in _trainers:
        _trainers[key] = task.factory()
    return _trainers[key]


def failed_record(task: Task, job: Job, reason: str) -> SplitRecord:
    """The record of a job its task could not train (its worker died, the worker's libraries
    differ, the task could not be unpacked there): status 'error', which the next run
    retries, unlike a job's own failure (a NaN loss), which it counts as done."""
    from .engines.base import make_record

    return make_record(task.exp, task.dataset, job, task.trainer, ERROR, reason)


def execute(task: Task) -> list[SplitRecord]:
    """Train a task's jobs; one record per job, in job order. A trainer that raises fails
    the jobs it had not finished, with the reason."""
    records: dict[str, SplitRecord] = {}
    try:
        if task.versions:
            from .jobs import library_versions

            mine = library_versions()
            differ = {k: (v, mine.get(k)) for k, v in task.versions.items() if mine.get(k) != v}
            if differ:
                raise RuntimeError("this worker's libraries differ from the run's: " + ", ".join(
                    f"{name} {theirs} here, {wanted} in the run" for name, (wanted, theirs) in differ.items()))
        _trainer(task).run(
            task.exp, task.dataset, task.splits, task.jobs, lambda r: records.setdefault(r.job_key or "", r))
    except Exception as exc:  # noqa: BLE001 - a broken task fails its jobs; the run goes on
        reason = f"{type(exc).__name__}: {exc}"
        for job in task.jobs:
            records.setdefault(job.key, failed_record(task, job, reason))
    finally:
        if getattr(_trainers.get((task.trainer, task.factory)), "keras", True):
            release_memory()
    return [records.get(job.key) or failed_record(task, job, "the trainer returned no result") for job in task.jobs]


def release_memory() -> None:
    """What a finished task leaves behind, let go: Keras' global state (`clear_session`, which
    collects Python's garbage too) and the heap pages glibc's allocator keeps after the task's
    large arrays are freed (`malloc_trim`). A worker's resident memory otherwise grew task after
    task: three data sets' tasks of the default suite in one process ended at 2181 MB without
    this and 1841 MB with it, in the same time (138 s against 143 s)."""
    import gc

    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session(free_memory=True)
    else:
        gc.collect()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            pass


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
    """The user's modules an experiment needs: those of its class and its bases, and the user's
    modules they import, but not the harness, the standard library or installed packages."""
    found: list[Any] = []
    for klass in cls.__mro__:
        module = sys.modules.get(klass.__module__)
        if _is_users(module) and module not in found:
            found.append(module)
    for module in list(found):
        for value in vars(module).values():
            other = value if isinstance(value, type(sys)) else sys.modules.get(getattr(value, "__module__", "") or "")
            if _is_users(other) and other not in found:
                found.append(other)
    return found


def _is_users(module: Any) -> bool:
    if module is not None and (module.__name__ == "harness.builtin" or module.__name__.startswith("harness.builtin.")):
        return True  # the built-in experiments travel too, so a worker runs the client's definitions
    if module is None or module.__name__ in ("__main__", "builtins") or module.__name__.split(".")[0] == "harness":
        return False
    path = getattr(module, "__file__", None)
    if not path:
        return False
    library = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])
    return not ("site-packages" in path or "dist-packages" in path or path.startswith(library))


def run_payload(payload: bytes) -> bytes:
    """A worker's entry point: bytes of a Task in, bytes of its records out, with the address
    of this worker when it should be restarted before its next task (`recycle_if_large`)."""
    configure_threads()
    records = execute(cloudpickle.loads(payload))
    return cloudpickle.dumps((records, recycle_if_large()))


def recycle_if_large() -> str | None:
    """This Dask worker's address, paused, when its resident memory is over $HARNESS_RECYCLE_MB
    (None otherwise, or outside a worker). XLA's compiled programs are freed only with their
    process (measured: ~8 MB each, kept after `clear_session`, `clear_kernel_cache` and
    `malloc_trim`), so a worker that has compiled many stacked models is restarted between
    tasks: paused first, so that the scheduler sends it nothing more (the pause travels on the
    same stream as, and before, the task's result), then restarted by the client once it holds
    the result (`Futures`). Nothing it ran is lost or run twice."""
    limit = float(os.environ.get(RECYCLE_ENV) or 0)
    if limit <= 0:
        return None
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a Dask worker
        return None
    if worker.nanny is None or worker.monitor.get_process_memory() < limit * 2**20:
        return None
    worker.loop.add_callback(_pause, worker)
    return worker.address


def _pause(worker: Any) -> None:
    """Pause a worker for good: Dask's memory monitor, which lifts a pause of its own once
    memory falls below its threshold, stops pausing and unpausing this worker."""
    from distributed.core import Status

    worker.memory_manager.memory_pause_fraction = False
    worker.status = Status.paused


def _entry_by_value() -> Any:
    """`run_payload` behind a function that travels by value: a Dask scheduler unpickles every
    task it schedules, and this one needs nothing but the standard library to be unpickled
    (only the worker that runs it imports the harness)."""
    namespace: dict[str, Any] = {}
    exec("def run_task(payload):\n    from harness.executors import run_payload\n    return run_payload(payload)\n",
         namespace)
    return namespace["run_task"]


ENTRY = _entry_by_value()


def warm_up() -> None:
    """Load TensorFlow and Keras in a worker (its threads set first), ahead of its first task."""
    configure_threads()
    import importlib

    importlib.import_module("harness.engines.stacked")  # TensorFlow, Keras and the stacked layers


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
    """Tasks one after another in this process, in the order they were submitted."""

    name = "in-process"
    slots = 1

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, list[SplitRecord]]]:
        return _run_all(self, tasks)

    def stream(self) -> "Serial":
        return Serial()

    def close(self) -> None:
        pass


def _run_all(executor: Any, tasks: Iterable[Task]) -> Iterator[tuple[Task, list[SplitRecord]]]:
    """Every task of a fixed list, yielded as each finishes."""
    stream = executor.stream()
    try:
        for task in tasks:
            stream.submit(task)
        yield from stream
    finally:
        stream.close()


class Serial:
    """A stream of tasks in this process: `submit` queues a task, iterating runs the queue in
    submission order and yields `(task, records)` as each finishes, until nothing is queued;
    tasks submitted while iterating (the next wave of an experiment) join the queue."""

    def __init__(self) -> None:
        self.queue: deque[Task] = deque()

    def submit(self, task: Task, priority: float = 0.0) -> None:
        self.queue.append(task)

    def __iter__(self) -> Iterator[tuple[Task, list[SplitRecord]]]:
        while self.queue:
            task = self.queue.popleft()
            yield task, execute(task)

    def close(self) -> None:
        self.queue.clear()


class DaskCluster:
    """Tasks as futures on a Dask cluster (`Futures`: a worker's death, a lost scheduler).
    Losing the scheduler stops the run (HarnessError): what finished is stored, and running
    the same command again resumes.
    """

    name = "dask"

    def __init__(self, client: Any, owned: bool = False) -> None:
        self.client, self.owned = client, owned
        try:
            self._check()
        except BaseException:
            self.close()
            raise
        self.slots = max(1, sum(client.nthreads().values()))

    def _check(self) -> None:
        """Refuse (HarnessError) a cluster without workers, or with workers lacking the harness."""
        from .errors import HarnessError

        if not self.client.nthreads():
            raise HarnessError(f"the Dask cluster at {self.client.scheduler.address} has no workers")
        # a lambda travels by value: it runs even where the harness cannot be imported
        found = self.client.run(lambda: __import__("importlib.util").util.find_spec("harness") is not None)
        lacking = sorted(address for address, ok in found.items() if not ok)
        if lacking:
            raise HarnessError(f"Dask workers {', '.join(lacking)} cannot import the harness: start them in this "
                               "repository's folder with PYTHONPATH set to it, with its requirements installed")

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, list[SplitRecord]]]:
        return _run_all(self, tasks)

    def stream(self) -> "Futures":
        return Futures(self.client)

    def close(self) -> None:
        """Close the client if this executor opened it (a client passed in stays open)."""
        if self.owned:
            self.client.close()


class Futures:
    """A stream of tasks on a Dask cluster: `submit` sends a task (with a priority: among tasks
    waiting for a worker, the higher runs first), iterating yields `(task, records)` as each
    finishes, in whatever order, until none is pending; tasks submitted while iterating join.

    Dask itself moves a task whose worker dies to another worker; past the scheduler's
    `distributed.scheduler.allowed-failures` deaths it gives up with `KilledWorker`, and the
    task's jobs come back as records with that reason and status 'error'. Losing the scheduler
    stops the run (HarnessError).

    On a cluster the run started (`lost` and `replace_workers` given), tasks never wait for
    ever: when its workers have been `lost` (no worker, and no nanny bringing one back: Dask's
    did not always, `LocalWorkers`) for `LOST_SECONDS`, they are replaced; when none of the
    new ones has started `REPLACE_SECONDS` later, the run stops (HarnessError), what finished
    stored."""

    def __init__(self, client: Any, lost: Callable[[], bool] | None = None,
                 replace_workers: Callable[[], None] | None = None) -> None:
        from distributed import as_completed

        self.client = client
        self.pending: dict[Any, Task] = {}
        self.finished = as_completed(loop=client.loop)
        self.lost, self.replace_workers = lost, replace_workers
        #: how many times the workers were replaced; since when the cluster has had no worker, and
        #: when its workers were replaced since
        self.replaced, self._next_look = 0, 0.0
        self._alone_since: float | None = None
        self._replaced_at: float | None = None

    def submit(self, task: Task, priority: float = 0.0) -> None:
        import warnings

        with warnings.catch_warnings():  # a task carries its splits by design: Dask's advice to load data with
            warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)  # Dask is not for it
            future = self.client.submit(ENTRY, dumps(task), pure=False, priority=priority)
        self.pending[future] = task
        self.finished.add(future)

    def __iter__(self) -> Iterator[tuple[Task, list[SplitRecord]]]:
        from distributed.scheduler import KilledWorker

        from .errors import HarnessError

        for future in self._as_completed():
            task = self.pending.pop(future)
            if future.status == "finished":
                records, recycle = cloudpickle.loads(future.result())
                if recycle:
                    self._restart(future, recycle)
                yield task, records
                continue
            if future.status != "error":  # cancelled or lost: the scheduler or the connection is gone
                raise HarnessError(f"lost the Dask cluster (a task came back {future.status}); finished "
                                   "jobs are stored: run the same command again to resume")
            exc = future.exception()
            if isinstance(exc, KilledWorker):
                reason = f"every worker that ran it died ({type(exc).__name__}: {exc})"
            else:  # raised on the worker outside the trainer (e.g. the task could not be unpacked there)
                reason = f"{type(exc).__name__} on the worker: {exc}"
            yield task, [failed_record(task, job, reason) for job in task.jobs]

    def _as_completed(self) -> Iterator[Any]:
        """The futures as they finish, until none is pending; meanwhile `_look_for_workers`.
        Waits as `as_completed` itself does, on the condition it signals when a future finishes
        (checked under its lock, so that no signal is missed), at most 0.1 s at a time."""
        finished = self.finished
        while True:
            batch = finished.next_batch(block=False)
            if batch:
                yield from batch
            elif finished.is_empty():
                return
            else:
                self._look_for_workers()
                with finished.thread_condition:
                    if not finished.has_ready():
                        finished.thread_condition.wait(timeout=0.1)

    def _look_for_workers(self) -> None:
        """Every 2 s, on a cluster the run started: replace its workers once they have been
        `lost` for `LOST_SECONDS`, and stop the run when none has started `REPLACE_SECONDS` later."""
        import time

        from .errors import HarnessError

        now = time.monotonic()
        if self.lost is None or now < self._next_look:
            return
        self._next_look = now + 2.0
        if not self.lost():
            self._alone_since = self._replaced_at = None
            return
        if self._alone_since is None:
            self._alone_since = now
        elif self._replaced_at is None:
            if now - self._alone_since >= LOST_SECONDS:
                self._replaced_at = now
                self.replaced += 1
                self.replace_workers()
        elif now - self._replaced_at >= REPLACE_SECONDS:
            raise HarnessError(f"the Dask workers of this run are gone, and new ones did not start within "
                               f"{REPLACE_SECONDS:.0f} s; finished jobs are stored: run the same command again to resume")

    def _restart(self, future: Any, worker: str) -> None:
        """Restart a worker that paused itself after its task (`recycle_if_large`), in the
        background, once the scheduler has let go of the task's result (a worker that leaves
        holding a result the client still wants has it computed again elsewhere)."""
        import asyncio

        key, client = future.key, self.client
        future.release()

        async def restart() -> None:
            try:
                for _ in range(200):  # the release travels on another stream than the restart
                    if not (await client.scheduler.who_has(keys=[key])).get(key):
                        break
                    await asyncio.sleep(0.01)
                await client._restart_workers(workers=[worker], timeout=60, raise_for_error=False)
            except (OSError, asyncio.CancelledError):  # the run ended meanwhile, and closed its client
                pass

        client.loop.add_callback(restart)

    def close(self) -> None:
        """Stopped early (an error, Ctrl-C): the cluster should not go on with this run's tasks."""
        if self.pending:
            self.client.cancel(list(self.pending))
            self.pending.clear()


class LocalWorkers(DaskCluster):
    """N worker processes on this machine: a Dask `LocalCluster` on 127.0.0.1 (spawned, never
    forked: TensorFlow must not be forked), each worker one task at a time with its share of
    the cores for TensorFlow's intra-op threads (or `threads`, or $HARNESS_TF_THREADS)."""

    name = "worker processes"

    def __init__(self, workers: int, threads: int | None = None) -> None:
        import dask

        threads = threads or int(os.environ.get(THREADS_ENV) or 0) or max(1, (os.cpu_count() or 1) // workers)
        # While it lives (read when a worker leaves, restored by `close`): a LocalCluster closes
        # for good the nanny of a worker that left, once `lost-worker-timeout` (15 s) later no
        # worker of its name is there, even when the nanny is restarting it just then. A worker
        # restarted twice within those 15 s (`recycle_if_large`) lost its nanny that way, and a
        # run whose workers all did waited for ever (2 of 2 tries of the restart test with the
        # other core busy). This run restarts its workers on purpose, and watches for lost ones.
        self._lost_worker_timeout = dask.config.set({"distributed.deploy.lost-worker-timeout": "7 days"})
        try:
            self._start(workers, threads)
        except BaseException:
            self._lost_worker_timeout.__exit__(None, None, None)
            raise

    def _start(self, workers: int, threads: int) -> None:
        import logging
        import warnings

        import dask
        from distributed import Client, LocalCluster

        # a worker holds only the task it runs (saturation 1.0; Dask's default sends it a second
        # to queue), so a task submitted later with a higher priority runs next
        with dask.config.set({"distributed.worker.multiprocessing-method": "spawn",
                              "distributed.scheduler.worker-saturation": 1.0}), warnings.catch_warnings():
            # a second run on this machine finds the scheduler's HTTP port (8787) taken, and its
            # scheduler takes another one: nothing the user must do
            warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
            self.cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None,
                # Dask's own log lines (a worker restarted, closed while busy, its heartbeat cut by a
                # shutdown) are not the user's business: what a task did reaches the store and the
                # console as records, a failed one with its reason
                silence_logs=logging.CRITICAL,
                env={THREADS_ENV: str(threads), "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
                     RECYCLE_ENV: os.environ.get(RECYCLE_ENV, str(RECYCLE_MB))},
            )
        try:
            super().__init__(Client(self.cluster), owned=True)
        except BaseException:
            self.cluster.close()
            raise
        # each worker loads TensorFlow now, while the parent prepares the data and plans (held
        # by nobody, so that a worker restarted later is not asked to do it again)
        from distributed import fire_and_forget

        fire_and_forget([self.client.submit(warm_up, pure=False, workers=[address])
                         for address in self.client.nthreads()])

    def stream(self) -> Futures:
        return Futures(self.client, lost=self.lost, replace_workers=self.replace_workers)

    def lost(self) -> bool:
        """Whether the cluster has no worker, and no nanny that may bring one back (a nanny
        restarting its worker is running; one that gave up is closed, or gone from the cluster)."""
        from distributed.core import Status

        try:
            if self.client.nthreads():
                return False
        except OSError:  # the scheduler is gone: its futures come back lost, and say so (`Futures`)
            return False
        return not any(nanny.status == Status.running for nanny in list(self.cluster.workers.values()))

    def replace_workers(self) -> None:
        """Close every nanny of the cluster and start as many new ones (and so new worker
        processes), on the cluster's loop: for when every worker is gone and no nanny brought
        its worker back."""
        import asyncio
        import contextlib

        cluster = self.cluster

        async def replace() -> None:
            for name, nanny in list(cluster.workers.items()):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(nanny.close(reason="harness-replace"), 10)
                cluster.workers.pop(name, None)
            cluster.scale(len(cluster.worker_spec))  # starts a nanny for each name without one

        cluster.loop.add_callback(replace)

    def close(self) -> None:
        try:
            super().close()
        finally:
            try:
                self.cluster.close()
            finally:
                self._lost_worker_timeout.__exit__(None, None, None)


def connect(address: str, timeout: float = 30.0) -> Any:
    """A Dask client of the scheduler at `address` (e.g. tcp://10.0.0.5:8786)."""
    import socket
    from urllib.parse import urlsplit

    from distributed import Client

    from .errors import HarnessError

    where = urlsplit(address if "://" in address else f"tcp://{address}")
    try:  # a plain socket first: a Client that cannot connect keeps retrying in the background
        socket.create_connection((where.hostname, where.port or 8786), timeout=timeout).close()
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise HarnessError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
