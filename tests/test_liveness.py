"""A run's heartbeat and leases (`harness.runner.heartbeat`): a live run is told from a dead
one, in the store, on the index and by `regbench runs`; the next run takes a dead run's jobs
over; a second process that would run the same experiment on the same store while the first
is alive is refused with one line, and every job is stored exactly once. Real processes, real
signals; the networks are trained by the fake trainer (tests/fakes.py)."""
import socket
import sqlite3
import subprocess

import pytest

from harness.core import RunRecord
from harness.errors import HarnessError
from harness.store import STALE_SECONDS, Owner, Store
from harness.registry import load_file
from tests.conftest import run_fake, run_paths
from tests.test_kill import EXPERIMENT, JOBS, kill, start, stored_rows, wait_for


def _record(experiment):
    return RunRecord.from_json({}, experiment, "data")


def _owner(pid, host):
    return Owner(f"token-{pid}-{host}", pid, host)


def _dead_pid():
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("host, age, dead_pid, taken", [
    ("elsewhere", 5.0, False, False),                    # another machine, beating: alive
    ("elsewhere", STALE_SECONDS + 5, False, True),       # another machine, silent for over a minute: dead
    (socket.gethostname(), 5.0, True, True),             # this machine, its process gone: dead at once
    (socket.gethostname(), 5.0, False, False),           # this machine, its process there and beating: alive
    (socket.gethostname(), STALE_SECONDS + 5, False, True),  # there, but silent (a reused pid, a hung run): dead
])
def test_a_lease_is_taken_over_only_from_a_dead_holder(tmp_path, host, age, dead_pid, taken):
    with Store(tmp_path / "s.sqlite") as store:
        holder = _owner(_dead_pid() if dead_pid else 1, host)  # pid 1 exists on every Linux machine
        store.claim(["a"], holder)
        run_id = store.start_run(_record("a"), owner=holder)
        store.beat(holder)
        store._db.execute("UPDATE leases SET heartbeat = heartbeat - ?", (age,))
        store._db.execute("UPDATE runs SET heartbeat = heartbeat - ?", (age,))
        status = store.run_progress().set_index("run_id").loc[run_id, "status"]
        assert status == ("died" if taken else "running")
        newcomer = Owner.this_process()
        if not taken:
            with pytest.raises(HarnessError, match=rf"experiment 'a' is being run on the store .* by another process "
                                                   rf"\(pid {holder.pid} on {host}, last heartbeat \d+ s ago\); wait"):
                store.claim(["b", "a"], newcomer)
            assert store._db.execute("SELECT COUNT(*) FROM leases WHERE owner = ?", (newcomer.token,)).fetchone()[0] == 0
            return
        assert [row[0] for row in store.claim(["b", "a"], newcomer)] == [run_id]
        assert store._db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0] == "died"
        owners = dict(store._db.execute("SELECT experiment, owner FROM leases"))
        assert owners == {"a": newcomer.token, "b": newcomer.token}
        store.release(newcomer)
        assert store._db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0


def _statuses(db):
    with sqlite3.connect(db, timeout=30) as connection:
        return [row[0] for row in connection.execute("SELECT status FROM runs ORDER BY started_at")]


def _heartbeat(db):
    with sqlite3.connect(db, timeout=30) as connection:
        return connection.execute("SELECT heartbeat FROM runs WHERE status = 'running'").fetchone()[0]


def _index_note(tmp_path, db):
    from harness.report import write_index

    with Store(db) as store:
        page = write_index(store, tmp_path / "reports")
    return page.read_text().split('class="note">A newer run')[1].split("</p>")[0]


def test_a_killed_run_is_seen_dead_and_the_next_run_takes_its_jobs_over(tmp_path, capsys):
    from harness.cli import main

    (tmp_path / "kill_me.py").write_text(EXPERIMENT)
    (tmp_path / "marks").mkdir()
    paths = run_paths(tmp_path)
    db = paths.db
    run_fake([load_file(tmp_path / "kill_me.py")[0]()], paths)  # a finished run, so that the index shows the newer one
    newer = ("--epochs", "30")  # other jobs: the newer run has its own plan
    run = start(tmp_path, db, args=newer, seconds=1.0, env={"HARNESS_HEARTBEAT_SECONDS": "0.2"})
    wait_for(lambda: stored_rows(db) > JOBS or run.poll() is not None, "the newer run's first stored task")
    beat = _heartbeat(db)
    assert run.poll() is None, run.communicate()[0]
    wait_for(lambda: _heartbeat(db) > beat, "a heartbeat", timeout=10)
    assert _statuses(db) == ["finished", "running"]
    assert "running: alive, last heartbeat" in _index_note(tmp_path, db)
    assert main(["runs", "--db", str(db)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].endswith("finished") and f"running (pid {run.pid} on {socket.gethostname()}" in listed[2]

    kill(run)  # SIGKILL: the run cannot say it stopped
    kept = stored_rows(db) - JOBS
    assert 0 < kept < JOBS, f"the kill came too late: {kept} of {JOBS} jobs stored"
    assert _statuses(db) == ["finished", "running"]  # as the dead process left it; seen dead:
    assert "died: its process stopped; last heartbeat" in _index_note(tmp_path, db)
    assert main(["runs", "--db", str(db)]) == 0
    assert "died (last heartbeat" in capsys.readouterr().out.splitlines()[2]

    resumed = start(tmp_path, db, args=newer, seconds=0.01)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert f"died (pid {run.pid} on {socket.gethostname()}, last heartbeat" in output
    assert f"kill-me: {kept} of {JOBS} jobs found done in the store; training the other {JOBS - kept}" in output
    assert stored_rows(db) == 2 * JOBS and _statuses(db) == ["finished", "died", "finished"]
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0


def test_a_second_process_on_the_same_experiment_and_store_is_refused_and_every_job_stored_once(tmp_path):
    (tmp_path / "kill_me.py").write_text(EXPERIMENT)
    (tmp_path / "marks").mkdir()
    db = tmp_path / "shared.sqlite"
    runs = [start(tmp_path, db, seconds=0.5) for _ in range(2)]  # started together
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes == [0, 2], outputs
    winner, loser = (0, 1) if runs[0].returncode == 0 else (1, 0)
    refused = outputs[loser].strip().splitlines()
    assert len(refused) == 1 and refused[0].startswith(
        f"error: experiment 'kill-me' is being run on the store {db} by another process (pid {runs[winner].pid} on "), refused
    assert "Traceback" not in outputs[winner] and f"kill-me: {JOBS} jobs ok, 0 failed" in outputs[winner]
    with sqlite3.connect(db) as connection:
        keys = [row[0] for row in connection.execute("SELECT job_key FROM results")]
        assert len(keys) == JOBS == len(set(keys))  # every job exactly once
        assert [row[0] for row in connection.execute("SELECT status FROM runs")] == ["finished"]
        assert connection.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
    page = (tmp_path / "reports" / "kill-me" / "index.html").read_text()
    for name in ("none", "L2 1e-3", "wide", "deep", "dropout 0.2", "logistic (reference model)"):
        assert f'<td class="name">{name}</td>' in page
