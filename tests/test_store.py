"""The results store round-trips every field of a split record."""
import numpy as np
import pytest

from harness import HarnessError, load_results
from harness.core import RunRecord, SplitRecord, decode_weights
from harness.core.run import TrainingSettings
from harness.store import Store


def record(split, status="ok", **kw):
    base = dict(
        experiment="exp <1>", dataset="data", variant="L2 1e-4", config={"name": "L2 1e-4", "l2": 1e-4},
        config_hash="abc123", split=split, seed=1234 + split, status=status, reason=None if status == "ok" else "NaN loss",
        score=0.5 + split / 10, train_score=0.9, metrics={"test_accuracy": 0.5 + split / 10, "test_log_loss": 0.7},
        epochs=12, best_epoch=9, seconds=1.25, loss=[1.0, 0.5, None], val_loss=[1.1, 0.6, 0.65], engine="keras",
    )
    base.update(kw)
    return SplitRecord(**base)


def test_store_round_trip(tmp_path):
    import io
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{"hidden_1/kernel": np.arange(6, dtype="float32").reshape(2, 3)})
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        run_id = store.start_run(RunRecord("exp <1>", "data", TrainingSettings({"score": "accuracy"}), greater_is_better=True), "keras")
        written = [record(0, weights=buffer.getvalue()), record(1, status="failed", score=None, train_score=None)]
        for r in written:
            r.run_id = run_id
            store.add_record(r)
        store.finish_run(run_id)
        runs = store.runs()
    assert runs.loc[0, "status"] == "finished" and runs.loc[0, "settings"]["score"] == "accuracy"
    frame = load_results(db, with_weights=True)
    assert len(frame) == 2
    for r, (_, row) in zip(written, frame.iterrows()):
        for field in ("run_id", "experiment", "dataset", "variant", "config", "config_hash", "split", "seed",
                      "status", "reason", "metrics", "epochs", "best_epoch", "seconds", "loss", "val_loss", "engine"):
            assert row[field] == getattr(r, field), field
        if r.score is None:
            assert np.isnan(row["score"])
        else:
            assert row["score"] == pytest.approx(r.score)
    weights = decode_weights(frame.loc[0, "weights"])
    np.testing.assert_array_equal(weights["hidden_1/kernel"], np.arange(6).reshape(2, 3))


def test_latest_run_only_by_default(tmp_path):
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        for score in (0.1, 0.2):
            run_id = store.start_run(RunRecord("e", "d"), "keras")
            r = record(0, score=score, experiment="e")
            r.run_id = run_id
            store.add_record(r)
    assert list(load_results(db)["score"]) == [0.2]
    assert sorted(load_results(db, latest=False)["score"]) == [0.1, 0.2]


def test_missing_database_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "nothing.sqlite")


WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from harness.store import Store
from harness.core import RunRecord
from tests.test_store import record
name, db, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
store = Store(db)
keys = [f"{{name}}-{{i}}" for i in range(300)]
(go.parent / f"ready-{{name}}").touch()
while not go.exists():
    time.sleep(0.001)
began = time.time()
run_id = store.start_run(RunRecord(name, "data"), "keras", plan=keys)
for i, key in enumerate(keys):  # one short transaction per finished job, as the runner writes them
    r = record(i % 5, experiment=name, job_key=key, weights=bytes(2000))
    r.run_id = run_id
    store.add_records([r])
store.finish_run(run_id)
print(began, time.time())
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    db, go = tmp_path / "shared.sqlite", tmp_path / "go"
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(repo=str(REPO)))
    writers = [subprocess.Popen([sys.executable, str(script), name, str(db), str(go)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("first", "second")]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{name}").exists() for name in ("first", "second")):
        ended = [w for w in writers if w.poll() is not None]
        assert not ended, f"a writer ended before it started: {ended[0].communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "a writer did not start within 120 s"
        time.sleep(0.001)
    go.touch()  # both start writing at the same moment
    spans = []
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        spans.append([float(t) for t in out.split()])
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # the two wrote at the same time
    with Store(db) as store:
        rows = store.rows(latest=False)
        assert store.integrity() == "ok"
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        latest = store.latest_run_ids()
    assert len(rows) == 600 and rows["job_key"].is_unique
    assert rows.groupby("experiment").size().to_dict() == {"first": 300, "second": 300}
    assert set(latest) == {"first", "second"}
    first = load_results(db, experiment="first")
    assert list(first["job_key"]) == [f"first-{i}" for i in range(300)]  # in plan order


def test_a_store_from_before_the_rename_is_migrated_in_place(workdir):
    """A store written when rows were 'folds' (table `folds`, column `fold`, no data table)
    opens, keeps every row and is reported from."""
    import sqlite3

    from harness.report import write_all
    from tests.conftest import TinyClassification, run_fake

    run_fake([TinyClassification()], workdir)
    before = load_results(workdir.db).sort_values("job_key").reset_index(drop=True)
    with sqlite3.connect(workdir.db) as connection:
        for statement in ("DROP INDEX results_by_job", "DROP INDEX results_by_run", "DROP TABLE datasets",
                          "ALTER TABLE results RENAME COLUMN split TO fold", "ALTER TABLE results RENAME TO folds",
                          "CREATE INDEX folds_by_run ON folds(run_id)", "CREATE UNIQUE INDEX folds_by_job ON folds(job_key)",
                          "PRAGMA user_version = 0"):  # stores were not versioned then
            connection.execute(statement)
    with Store(workdir.db) as store:
        assert store.integrity() == "ok"
        page = write_all(store, workdir.reports)
    after = load_results(workdir.db).sort_values("job_key").reset_index(drop=True)
    assert list(after["split"]) == list(before["split"]) and list(after["score"]) == list(before["score"])
    assert "tiny-classification" in page.read_text()
    experiment_page = (workdir.reports / "tiny-classification" / "index.html").read_text()
    assert all(v.name in experiment_page for v in TinyClassification.variants)


def _report(db, tmp_path):
    """`python -m harness report --db db`: exit status and stderr."""
    import contextlib
    import io

    from harness.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["report", "--db", str(db), "--reports-dir", str(tmp_path / "reports")])
    return code, err.getvalue()


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_a_file_that_is_not_a_harness_store_is_refused_and_left_as_it_was(tmp_path):
    import hashlib
    import sqlite3

    text = tmp_path / "results.csv"
    text.write_text("variant,score\nnone,0.5\n")
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE customers (name TEXT)")
    newer = tmp_path / "newer.sqlite"
    Store(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 99")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20)
    expected = {text: "not a SQLite database", foreign: "not a harness results store (its tables: customers)",
                newer: "newer harness (store schema 99", garbage: "damaged or not a harness results store"}
    for path, phrase in expected.items():
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        code, err = _report(path, tmp_path)
        assert code == 2 and phrase in _one_line(err), (path, err)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # never rewritten
        with pytest.raises(HarnessError):
            Store(path)


def test_a_truncated_store_is_refused_in_one_line(tmp_path):
    from tests.conftest import TinyClassification, run_fake, run_paths

    paths = run_paths(tmp_path)
    run_fake([TinyClassification()], paths)
    Store(paths.db).close()  # checkpoints the write-ahead log into the file
    data = paths.db.read_bytes()
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(data[: len(data) // 2])
    code, err = _report(broken, tmp_path)
    assert code == 2 and "damaged" in _one_line(err)


def test_a_store_gets_its_schema_version_and_keeps_it(tmp_path):
    import sqlite3

    from harness.store import SCHEMA_VERSION

    Store(tmp_path / "s.sqlite").close()
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_stored_weights_are_never_unpickled(tmp_path):
    import io

    buffer = io.BytesIO()
    np.savez(buffer, evil=np.array([{"a": 1}], dtype=object))  # an object array needs pickle to load
    with pytest.raises(HarnessError, match="plain arrays"):
        decode_weights(buffer.getvalue())
    with pytest.raises(HarnessError):
        decode_weights(b"not an npz archive")


def test_a_foreign_database_with_a_runs_table_is_refused_before_anything_is_written(tmp_path):
    import sqlite3

    path = tmp_path / "mlflow.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (run_uuid TEXT, experiment_id INTEGER)")
    with pytest.raises(HarnessError):
        Store(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
        assert {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == {"runs"}


def test_a_store_of_the_previous_layout_loads_and_is_reported(workdir):
    """A store written before rows said what kind of model they hold and before runs kept a
    typed record (schema 1: no `kind` column; each run's settings a flat object that calls the
    reference models `baselines`, lists `variant_order` and records neither the baseline nor
    what regularizes each variant) is migrated on opening, keeps every row and is reported."""
    import json
    import sqlite3

    from harness.report import write_all
    from tests.conftest import run_fake
    from tests.test_linear_baselines import LogisticBaseline

    run_fake([LogisticBaseline()], workdir)
    before = load_results(workdir.db).sort_values("job_key").reset_index(drop=True)
    with sqlite3.connect(workdir.db) as connection:
        settings = json.loads(connection.execute("SELECT settings FROM runs").fetchone()[0])
        for key in ("regularization", "baseline", "experiment", "dataset"):
            settings.pop(key)
        settings["baselines"] = settings.pop("reference_models")
        settings["variant_order"] = [v["name"] for v in settings["variant_configs"]]
        connection.execute("UPDATE runs SET settings = ?", (json.dumps(settings),))
        for column in ("kind", "role", "inner_split", "candidate"):
            connection.execute(f"ALTER TABLE results DROP COLUMN {column}")
        for column in ("owner", "pid", "host", "heartbeat"):
            connection.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        connection.execute("DROP TABLE leases")
        connection.execute("PRAGMA user_version = 1")
    with Store(workdir.db) as store:
        results = store.results(LogisticBaseline.name)
        page = write_all(store, workdir.reports)
    with sqlite3.connect(workdir.db) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    after = load_results(workdir.db).sort_values("job_key").reset_index(drop=True)
    from harness.store import SCHEMA_VERSION

    assert version == SCHEMA_VERSION == 4 and list(after["score"]) == list(before["score"])
    assert set(after["role"]) == {""} and after["candidate"].isna().all()
    assert list(after["kind"]) == list(before["kind"]) and "reference model" in set(after["kind"])
    assert results.reference_models == ["logistic"] and results.baseline == results.variants[0].name
    assert results.regularization("none") is None  # not recorded then: the page says so
    experiment_page = (workdir.reports / LogisticBaseline.name / "index.html").read_text()
    assert "logistic (reference model)" in experiment_page and "not recorded" in experiment_page
    assert LogisticBaseline.name in page.read_text()
    # the same experiment run again finds every job, trains none, and records what the old run lacked
    outcomes, _ = run_fake([LogisticBaseline()], workdir)
    assert (outcomes[0].ok, outcomes[0].found_done) == (0, len(before))
    with Store(workdir.db) as store:
        again = store.results(LogisticBaseline.name)
    assert again.regularization_recorded and again.regularization("L2 1e-3").family == "L2"
    assert list(again.splits["job_key"]) == list(results.splits["job_key"])


def test_an_old_run_keeps_the_baseline_rule_it_was_made_under():
    """Runs stored before the baseline was recorded compared every variant with 'none' where
    they had one; they still do, wherever 'none' stands among their variants."""
    import pandas as pd

    from harness.core import Results, RunRecord, Variant

    def results(recorded_baseline):
        run = RunRecord("e", "d", variants=[Variant("L2", l2=1e-3), Variant("none")], baseline=recorded_baseline)
        rows = pd.DataFrame({"variant": ["L2", "none"], "kind": ["network"] * 2, "split": [0, 0]})
        return Results("e", "r", "d", 0.0, "finished", run, rows)

    assert results(None).baseline == "none"  # stored before the baseline was recorded
    assert results("L2").baseline == "L2"  # recorded: the experiment's choice


def test_a_second_store_opened_in_a_process_keeps_the_locks_of_the_first(tmp_path):
    """POSIX drops every lock a process holds on a file when it closes any descriptor of it: had
    opening a second Store read the file's header with open(), the first connection's locks
    would be gone, and another process closing the database would take itself for its last
    user, checkpoint and delete the write-ahead log under the first (seen as SQLITE_IOERR_SHORT_READ
    in runs whose report thread opened the store while a reader came and went)."""
    import subprocess
    import sys

    db = tmp_path / "s.sqlite"
    with Store(db) as store:
        store.start_run(RunRecord.from_json({}, "a", "data"))
        assert (tmp_path / "s.sqlite-wal").exists()
        Store(db).close()  # the report thread's and the heartbeat's own connections
        subprocess.run([sys.executable, "-c", f"import sqlite3; sqlite3.connect({str(db)!r}).execute("
                        "'SELECT COUNT(*) FROM runs').fetchone()"], check=True)
        assert (tmp_path / "s.sqlite-wal").exists()  # the other process knew it was not the last
        assert store.runs()["experiment"].tolist() == ["a"]
