"""Killed with SIGKILL at three moments and resumed, a run ends with exactly an uninterrupted
run's rows: every job once, the same scores and weights, a sound database, a full report.
The networks are trained by the fake trainer (tests/fakes.py): what is under test is the run
around training, and each job takes $HARNESS_FAKE_SECONDS, so that a kill lands mid-training."""
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from harness import load_results
from harness.registry import load_file
from tests.conftest import REPO, run_fake, run_paths
from tests.test_distributed import started_by_hand  # noqa: F401 - a fixture

EXPERIMENT = textwrap.dedent('''
    import os, time
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from harness import Dataset, Experiment, Variant
    import tests.fakes  # registers the fake trainer (--engine fake)

    def moment(name):
        """Tell the test where the run is (a file), and wait there if it asks."""
        folder = os.environ.get("KILL_TEST_MARKS")
        if folder:
            open(os.path.join(folder, name), "w").close()
        time.sleep(float(os.environ.get("KILL_TEST_WAIT_" + name.upper(), "0")))

    class KillMe(Experiment):
        name = "kill-me"
        folds = 3
        epochs = 40
        patience = None
        hidden_units = (8,)
        # five variants: five tasks of the fake trainer, each a task the store commits at once
        variants = (Variant("none"), Variant("L2 1e-3", l2=1e-3), Variant("wide", settings={"hidden": (16,)}),
                    Variant("deep", settings={"hidden": (8, 8)}),
                    Variant("dropout 0.2", dropout=0.2, settings={"hidden": (12,)}))

        def load_data(self, data_dir):
            moment("prepare")
            X, y = make_classification(n_samples=240, n_features=6, n_informative=4, random_state=0)
            return Dataset("kill-data", pd.DataFrame(X).add_prefix("f"), pd.Series(y, name="y"), "classification")

        def reference_models(self):
            return {"logistic": LogisticRegression(max_iter=200)}

        def report_sections(self, results):
            moment("report")
            return []
''')
JOBS = 5 * 3 + 3


def start(tmp_path, db, args=(), seconds=0.1, env=None, **wait):
    env = {**os.environ, "KILL_TEST_MARKS": str(tmp_path / "marks"), "TF_CPP_MIN_LOG_LEVEL": "3",
           "HARNESS_FAKE_SECONDS": str(seconds), **(env or {})}
    env.update({f"KILL_TEST_WAIT_{k.upper()}": str(v) for k, v in wait.items()})
    command = [sys.executable, "-m", "harness", "run", str(tmp_path / "kill_me.py"), "--no-progress", "--engine", "fake",
               "--db", str(db), "--reports-dir", str(tmp_path / "reports"), "--data-dir", str(tmp_path / "data"),
               *args]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def stored_rows(db):
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as connection:  # closed: no file left open
        try:
            return connection.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not created yet
            return 0


def kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def comparable(db):
    frame = load_results(db, with_weights=True)
    columns = ["job_key", "variant", "split", "seed", "status", "score", "train_score", "metrics", "epochs",
               "best_epoch", "loss", "val_loss", "engine", "weights"]
    return frame[columns].sort_values("job_key").reset_index(drop=True)


def test_a_run_killed_three_times_and_resumed_ends_with_an_uninterrupted_runs_rows(tmp_path):
    (tmp_path / "kill_me.py").write_text(EXPERIMENT)
    (tmp_path / "marks").mkdir()
    reference = run_paths(tmp_path / "reference")  # the uninterrupted run, in this process
    run_fake([cls() for cls in load_file(tmp_path / "kill_me.py")], reference)
    db = tmp_path / "killed.sqlite"

    # 1. while the data is being prepared: nothing is stored
    run = start(tmp_path, db, prepare=60)
    wait_for(lambda: (tmp_path / "marks" / "prepare").exists(), "data preparation")
    kill(run)
    assert stored_rows(db) == 0

    # 2. mid-training: some stacked models are stored, the one in flight is lost
    run = start(tmp_path, db)
    wait_for(lambda: stored_rows(db) > 0, "the first stored task")
    kill(run)
    kept = stored_rows(db)
    assert 0 < kept < JOBS, f"the kill came too late: {kept} of {JOBS} jobs stored"
    before = load_results(db, latest=False).set_index("job_key")["created_at"]
    from harness.report import write_index
    from harness.store import Store

    with Store(db) as store:  # the only run, dead: the index shows its rows and says so
        index = write_index(store, tmp_path / "dead-index").read_text()
    assert "This run (" in index and ", died: its process stopped; last heartbeat " in index
    assert f"has not finished: {kept} of {JOBS} jobs stored; running it again resumes it." in index

    # 3. while the report is written: every job is stored (the run counts as finished), the page is not
    (tmp_path / "marks" / "report").unlink(missing_ok=True)
    run = start(tmp_path, db, report=60)
    wait_for(lambda: (tmp_path / "marks" / "report").exists(), "the report")
    kill(run)
    assert stored_rows(db) == JOBS

    resumed = start(tmp_path, db)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert f"kill-me: {JOBS} of {JOBS} jobs found done in the store; training the other 0" in output

    rows = load_results(db, latest=False)
    assert len(rows) == JOBS and rows["job_key"].is_unique  # every job exactly once
    after = rows.set_index("job_key")["created_at"]
    assert (after[before.index] == before).all()  # what was stored before the kill was not trained again
    pd.testing.assert_frame_equal(comparable(db), comparable(reference.db))
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = [row[0] for row in connection.execute("SELECT status FROM runs ORDER BY started_at")]
    # no run row for the kill during preparation (nothing was planned); the one killed mid-training
    # could not say so, and the next run, taking its jobs over, marked it died; the one killed
    # while writing its report had stored all its jobs
    assert statuses == ["died", "finished", "finished"]
    page = (tmp_path / "reports" / "kill-me" / "index.html").read_text()
    comparison = page.split("<h2>Comparison of variants</h2>")[1].split("<h2>")[0]
    for name in ("none", "L2 1e-3", "wide", "deep", "dropout 0.2", "logistic (reference model)"):
        assert f'<td class="name">{name}</td>' in comparison


def descendants(pid):
    """The processes below `pid` (from /proc: Linux)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("signum, workers", [  # the two others under `make test-all`: ~40 s each
    pytest.param(signal.SIGTERM, 1, marks=pytest.mark.slow), (signal.SIGTERM, 2),
    pytest.param(signal.SIGINT, 2, marks=pytest.mark.slow)])
def test_a_signal_stops_the_run_keeps_what_finished_and_leaves_no_process_behind(tmp_path, signum, workers):
    """SIGTERM (Slurm, Kubernetes, systemd, `docker stop`) stops a run as Ctrl-C does: within
    seconds, exit 143 (130 for SIGINT), every finished job kept, the run marked interrupted,
    a line saying how to resume; the worker processes it started are gone, with no leaked
    semaphores; the same command then finishes the run."""
    (tmp_path / "kill_me.py").write_text(EXPERIMENT)
    (tmp_path / "marks").mkdir()
    db = tmp_path / "signalled.sqlite"
    run = start(tmp_path, db, args=("--workers", str(workers)), seconds=0.5)
    wait_for(lambda: stored_rows(db) > 0 or run.poll() is not None, "the first stored task")
    assert run.poll() is None, run.communicate()[0]
    below = descendants(run.pid)
    assert len(below) >= (3 if workers > 1 else 0)  # the workers (and Python's resource tracker)
    sent = time.monotonic()
    run.send_signal(signum)
    output = run.communicate(timeout=60)[0]
    assert time.monotonic() - sent < 20
    assert run.returncode == 128 + signum, output
    assert "finished jobs are in the store; the same command resumes the run" in output.splitlines()[-1]
    assert "leaked" not in output and "Traceback" not in output, output
    kept = stored_rows(db)
    assert 0 < kept < JOBS, f"the signal came too late: {kept} of {JOBS} jobs stored"
    with sqlite3.connect(db) as connection:
        assert [row[0] for row in connection.execute("SELECT status FROM runs")] == ["interrupted"]
    wait_for(lambda: not any(alive(pid) for pid in below), "the run's processes to end", timeout=15)

    resumed = start(tmp_path, db)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert f"kill-me: {kept} of {JOBS} jobs found done in the store; training the other {JOBS - kept}" in output
    assert stored_rows(db) == JOBS


@pytest.mark.slow  # ~50 s: a scheduler and a worker start, the run, its resume (under `make test-all`)
def test_a_signal_stops_a_run_on_a_dask_cluster_and_leaves_the_cluster_running(tmp_path, started_by_hand):
    """On a cluster of the user's (`--scheduler`), SIGTERM stops the run as it does a local one
    (exit 143, the run interrupted, what finished kept), cancels the run's tasks there and leaves
    the cluster itself running, with nothing of the run's left on it; the same command resumes."""
    import distributed

    (tmp_path / "kill_me.py").write_text(EXPERIMENT)
    (tmp_path / "marks").mkdir()
    db = tmp_path / "on-a-cluster.sqlite"
    run = start(tmp_path, db, args=("--scheduler", started_by_hand), seconds=0.5)
    wait_for(lambda: stored_rows(db) > 0 or run.poll() is not None, "the first stored task")
    assert run.poll() is None, run.communicate()[0]
    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=60)[0]
    assert run.returncode == 143, output
    assert "finished jobs are in the store; the same command resumes the run" in output.splitlines()[-1]
    assert "Traceback" not in output, output
    kept = stored_rows(db)
    assert 0 < kept < JOBS
    with sqlite3.connect(db) as connection:
        assert [row[0] for row in connection.execute("SELECT status FROM runs")] == ["interrupted"]
    with distributed.Client(started_by_hand, timeout=30) as client:
        assert len(client.scheduler_info()["workers"]) == 1  # the cluster is the user's: still there
        wait_for(lambda: client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0,
                 "the run's tasks to leave the scheduler", timeout=30)
    resumed = start(tmp_path, db, args=("--scheduler", started_by_hand))
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert f"kill-me: {kept} of {JOBS} jobs found done in the store; training the other {JOBS - kept}" in output
    assert stored_rows(db) == JOBS
