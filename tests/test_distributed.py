"""Parallel and distributed runs: N worker processes (`--workers`) and a Dask cluster
(`--scheduler`, `client=`) give the rows and the progress lines of a run in one process, ship a
user's experiment file to workers that do not have it, and survive a worker killed mid-run.
The fake trainer (tests/fakes.py) trains: what is under test is where tasks run; its factory
travels with each task, so the workers run it without registering it themselves."""
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types

import distributed
import numpy as np
import pytest

from harness import Variant, load_results
from harness.errors import HarnessError
from harness.registry import load_file
from tests.conftest import REPO, TinyClassification, TinyRegression, run_fake, run_quietly
from tests.fakes import ENGINE



class Mixed(TinyClassification):
    """Three architectures (three stacked models), dropout, and a baseline."""

    name = "mixed"
    epochs = 6
    variants = (Variant("none"), Variant("dropout 0.3", dropout=0.3), Variant("wide", settings={"hidden": (16,)}),
                Variant("deep", settings={"hidden": (8, 8)}))

    def reference_models(self):
        from sklearn.linear_model import LogisticRegression

        return {"logistic": LogisticRegression(max_iter=300)}


def heaton_lines(printed):
    """The progress lines, without the times that differ from run to run."""
    lines = [line for line in printed.splitlines() if line.startswith(("==", "#"))]
    return [re.sub(r", time=\S+$", "", line) for line in lines]


def rows(db):
    frame = load_results(db)
    return frame[["experiment", "variant", "split", "job_key", "status", "score", "train_score", "epochs", "loss"]]


@pytest.fixture
def cluster():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None,
                                       env={"HARNESS_TF_THREADS": "1", "HARNESS_FAKE_SECONDS": "0.1"})
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()


def _nannies_that_do_not_restart(monkeypatch, replace=True):
    """Worker processes whose nannies close instead of bringing them back, as Dask's did under
    load (`LocalWorkers`); every worker restarted after every task, so both are soon gone; the
    run's streams, to read how often it replaced its workers. `replace=False`: replacing the
    workers does nothing either."""
    from harness import executors

    start, stream, streams = executors.LocalWorkers._start, executors.LocalWorkers.stream, []

    def start_then_break(self, workers, threads):
        start(self, workers, threads)
        for nanny in self.cluster.workers.values():
            nanny.close_gracefully(reason="test: this nanny does not bring its worker back")

    monkeypatch.setattr(executors.LocalWorkers, "_start", start_then_break)
    monkeypatch.setattr(executors.LocalWorkers, "stream", lambda self: streams.append(stream(self)) or streams[-1])
    monkeypatch.setattr(executors, "LOST_SECONDS", 2.0)
    if not replace:
        monkeypatch.setattr(executors.LocalWorkers, "replace_workers", lambda self: None)
        monkeypatch.setattr(executors, "REPLACE_SECONDS", 2.0)
    monkeypatch.setenv("HARNESS_RECYCLE_MB", "1")
    return streams


def test_two_worker_processes_give_one_process_rows_and_lines(workdir, tmp_path, monkeypatch, capfd):
    """Two worker processes store the rows and print the lines of one process, also when every
    worker is restarted after every task, and when both are lost for good: a worker over
    $HARNESS_RECYCLE_MB after a task is restarted before its next one (XLA's compiled programs
    are freed only with their process), and at 1 MB that is every task; here the first two
    workers' nannies close instead of bringing them back, so the run replaces its workers
    once (it used to wait for ever: CI's 90 minutes ran out). Each job is still trained once,
    none twice, and Dask's nanny names no planned restart."""
    _, serial = run_fake([Mixed(), TinyRegression()], workdir)
    log = tmp_path / "trained.log"
    monkeypatch.setenv("HARNESS_FAKE_LOG", str(log))
    streams = _nannies_that_do_not_restart(monkeypatch)  # and HARNESS_RECYCLE_MB=1
    other = types.SimpleNamespace(db=tmp_path / "parallel.sqlite", reports=tmp_path / "parallel", data=workdir.data)
    capfd.readouterr()
    outcomes, parallel = run_fake([Mixed(), TinyRegression()], other, workers=2)
    assert [(o.experiment, o.ok, o.failed) for o in outcomes] == [("mixed", 10, 0), ("tiny-regression", 4, 0)]
    assert "WARNING" not in capfd.readouterr().err
    assert heaton_lines(parallel) == heaton_lines(serial)  # plan order, whatever order tasks finished in
    one, two = rows(workdir.db), rows(other.db)
    assert list(one["job_key"]) == list(two["job_key"])
    np.testing.assert_allclose(two["score"], one["score"], rtol=1e-6)
    for a, b in zip(one["loss"], two["loss"]):
        np.testing.assert_allclose(b, a, rtol=1e-6)
    trained = [line.split() for line in log.read_text().splitlines()]
    network_jobs = [key for key, kind in zip(two["job_key"], rows_kind(other.db)) if kind == "network"]
    assert sorted(key for key, _ in trained) == sorted(network_jobs)  # each network job once, none twice
    assert len({pid for _, pid in trained}) > 2  # more processes than the two workers: they were restarted
    assert [stream.replaced for stream in streams] == [1]  # the new nannies brought their workers back


def test_a_run_whose_workers_do_not_come_back_stops_in_one_line(workdir, monkeypatch):
    _nannies_that_do_not_restart(monkeypatch, replace=False)
    began = time.monotonic()
    with pytest.raises(HarnessError) as raised:
        run_fake([TinyRegression(), TinyClassification()], workdir, workers=2)
    assert str(raised.value) == ("the Dask workers of this run are gone, and new ones did not start within 2 s; "
                                 "finished jobs are stored: run the same command again to resume")
    assert time.monotonic() - began < 90
    stored = load_results(workdir.db)
    assert 0 < len(stored) < 8 and (stored["status"] == "ok").all()  # the jobs of the tasks that finished


def rows_kind(db):
    return list(load_results(db)["kind"])


USER_FILE = textwrap.dedent('''
    import os, sys
    import numpy as np, pandas as pd
    from harness import Dataset, Experiment, Variant

    def rows(n):  # a helper of the user's file: it must travel with the experiment
        rng = np.random.default_rng(3)
        X = rng.normal(size=(n, 4))
        return pd.DataFrame(X, columns=list("abcd")), pd.Series((X[:, 0] + X[:, 1] > 0).astype(int), name="y")

    class Shipped(Experiment):
        name = "shipped"
        folds = 3
        epochs = 25
        patience = None
        hidden_units = (8,)
        variants = tuple(Variant(f"width {w}", settings={"hidden": (w,)}) for w in (4, 6, 8, 10, 12, 14))

        def load_data(self, data_dir):
            return Dataset("shipped", *rows(150), "classification")
''')


def kill_a_busy_worker(client, killed):
    """Wait until a worker is running a task, then SIGKILL its process."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        busy = [address for address, keys in client.processing().items() if keys]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(pids[busy[0]])
            return
        time.sleep(0.02)


def test_dask_runs_a_file_its_workers_lack_and_survives_a_killed_worker(workdir, tmp_path, cluster):
    _, client = cluster
    path = tmp_path / "shipped_study.py"
    path.write_text(USER_FILE)
    experiments = [cls() for cls in load_file(path)]
    path.unlink()  # neither the workers nor this process can read the file any more
    killed = []
    killer = threading.Thread(target=kill_a_busy_worker, args=(client, killed))
    killer.start()
    outcomes, printed = run_fake(experiments, workdir, client=client)
    killer.join()
    assert killed, "no worker was killed"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)  # that process is gone; Dask ran its task on another worker
    assert (outcomes[0].ok, outcomes[0].failed) == (18, 0)
    stored = load_results(workdir.db)
    assert len(stored) == 18 and stored["job_key"].is_unique and (stored["status"] == "ok").all()
    assert len(heaton_lines(printed)) == 6 + 18


SUICIDE = textwrap.dedent('''
    from harness import Variant
    from tests.conftest import TinyClassification

    class Suicide(TinyClassification):
        name = "suicide"
        # the fake trainer ends the process of a Dask worker that trains this variant
        variants = (Variant("none"), Variant("kills its worker", settings={"hidden": (5,), "fake_exit_worker": True}))
''')


def test_a_task_that_kills_every_worker_it_runs_on_is_recorded_failed(workdir, tmp_path):
    import dask

    path = tmp_path / "suicide.py"
    path.write_text(SUICIDE)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None, env={"HARNESS_TF_THREADS": "1"})
        client = distributed.Client(cluster)
        try:
            outcomes, printed = run_fake([cls() for cls in load_file(path)], workdir, client=client)
        finally:
            client.close()
            cluster.close()
    stored = load_results(workdir.db).set_index("variant")
    assert (stored.loc["none", "status"] == "ok").all()
    dead = stored.loc["kills its worker"]  # 'error': not the job's own failure, so the next run tries again
    assert (dead["status"] == "error").all() and dead["reason"].str.contains("every worker that ran it died").all()
    assert (outcomes[0].ok, outcomes[0].failed) == (2, 2)


@pytest.fixture
def started_by_hand(tmp_path):
    """A scheduler and a worker started as README says, `dask scheduler` and `dask worker` on
    127.0.0.1: the scheduler in a folder where the harness cannot be imported (it needs
    none), the worker with the repository on its PYTHONPATH."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    scheduler = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                                  str(port), "--no-dashboard"], cwd=tmp_path, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nworkers", "1", "--nthreads", "1",
                               "--no-dashboard"], cwd=tmp_path,
                              env={**env, "PYTHONPATH": str(REPO), "HARNESS_TF_THREADS": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=120)
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=60)


def test_the_command_line_runs_on_a_cluster_started_by_hand(workdir, started_by_hand, capsys):
    from harness.cli import main

    code = main(["run", "tiny-classification-does-not-exist", "--scheduler", started_by_hand])
    assert code == 2  # an unknown experiment is refused before anything is sent
    path = workdir.data.parent / "tiny.py"
    path.write_text("from tests.conftest import TinyClassification as _T\n\nclass Tiny(_T):\n    name = 'tiny'\n")
    code = main(["run", str(path), "--scheduler", started_by_hand, "--no-progress", "--engine", ENGINE,
                 "--db", str(workdir.db), "--reports-dir", str(workdir.reports), "--data-dir", str(workdir.data)])
    out = capsys.readouterr().out
    assert code == 0 and "tiny: 4 jobs ok, 0 failed" in out
    assert (load_results(workdir.db)["status"] == "ok").all()
    assert (workdir.reports / "tiny" / "index.html").exists()


def test_an_unreachable_scheduler_and_workers_with_a_scheduler_are_one_line_errors(workdir):
    from harness.executors import connect

    with pytest.raises(HarnessError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        connect("tcp://127.0.0.1:9", timeout=1)
    with pytest.raises(HarnessError, match="--workers and --scheduler exclude each other"):
        run_quietly([TinyClassification()], workdir, workers=2, scheduler="tcp://127.0.0.1:9")
    empty = distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(empty)
    try:
        with pytest.raises(HarnessError, match="has no workers"):
            run_quietly([TinyClassification()], workdir, client=client)
    finally:
        client.close()
        empty.close()


def test_built_in_experiments_travel_by_value(tmp_path):
    """A worker runs the definitions of the machine that started the run: a built-in
    experiment's class goes with its task, so a worker whose harness lacks harness.builtin
    (or holds another version of it) unpickles and runs the client's."""
    from harness.builtin.sklearn_suite import Wine
    from harness.engines import TRAINERS
    from harness.executors import Task, dumps

    payload = dumps(Task(Wine(), "wine", "keras", TRAINERS["keras"].factory, [], {}))
    assert b"Wine cultivars" in payload  # the class's own text: by value, not a module reference
    # a fresh interpreter in which harness.builtin cannot be imported still unpickles it
    script = tmp_path / "load.py"
    script.write_text(textwrap.dedent(f"""
        import sys, cloudpickle, harness
        from harness import _builtin
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _builtin._CheckoutExperiments)]
        task = cloudpickle.loads(open({str(tmp_path / "task.bin")!r}, "rb").read())
        print(type(task.exp).__name__, task.exp.name, "harness.builtin" in sys.modules)
    """))
    (tmp_path / "task.bin").write_bytes(payload)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["Wine", "wine", "False"]


def test_dasks_large_graph_warning_does_not_reach_the_console():
    """A task carries its splits by design, so Dask's "Sending large graph" advice (printed
    twice by every `make benchmark`) is filtered where tasks are submitted, and nothing else."""
    import warnings

    from harness.executors import Futures

    class Client:
        def submit(self, *args, **kwargs):
            warnings.warn("Sending large graph of size 27.68 MiB.\nThis may cause some slowdown.", UserWarning)
            warnings.warn("another warning", UserWarning)
            return object()

    stream = Futures.__new__(Futures)
    stream.client, stream.pending, stream.finished = Client(), {}, set()
    task = types.SimpleNamespace(exp=TinyClassification(), jobs=[])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stream.submit(task)
    assert [str(w.message) for w in caught] == ["another warning"]
