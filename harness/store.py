"""The results store: an embedded SQLite database, one row per finished job.

Every row carries its job's key (`harness.jobs`), unique in the store: a job is trained once
and found again by any later run that plans it. A run records its plan (the keys of its jobs,
in order), so its report is built from the store alone, whichever runs trained its rows.

The store is also where a run comes back whole (`Store.results`): its record, its rows with
curves and decoded weights, and the data it was made on, as `harness.core.Results`.

Safe for several writers at once (runs in other processes of the same machine; SQLite's
write-ahead log needs a local disk, not a network file system): write-ahead logging, a busy
timeout, and one short transaction per finished task, so a run killed at any moment loses at
most the tasks it had in flight.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import pandas as pd

from .core import INNER, REFERENCE, Dataset, Results, RunRecord, SplitRecord, decode_weights
from .core.results import INNER_COLUMNS, SPLIT_COLUMNS, stopped_epochs
from .errors import HarnessError

DEFAULT_DB = Path("reports") / "results.sqlite"
#: seconds a writer waits for another's transaction before giving up
BUSY_TIMEOUT = 120.0

#: the store's layout (SQLite's user_version): 0 before it was versioned (migrated on opening),
#: 1 the tables below with job keys, 2 each row's kind (network or reference model), 3 tuned
#: variants' roles, 4 runs' heartbeats and the leases of live runs. A store of a newer version is
#: refused, never rewritten.
SCHEMA_VERSION = 4
#: seconds between a live run's heartbeats, and without one after which its process is taken for dead
HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 60.0
_SQLITE_HEADER = b"SQLite format 3\x00"


#: the stores this process has open, by resolved path, with how many connections each
_OPEN: dict[Path, int] = {}
_OPEN_LOCK = threading.Lock()


def _refuse_foreign_file(path: Path) -> None:
    """Refuse a --db that exists but is not a SQLite database (a CSV, a report, anything else)
    before SQLite touches it. Not while this process has the store open already (it was
    checked then): closing any file descriptor of the database would drop the POSIX locks
    that this process's connections hold on it, and another process could then checkpoint
    and cut the write-ahead log under them (SQLite's "How To Corrupt", 2.2)."""
    if not path.exists() or _OPEN.get(path.resolve()):
        return
    if path.is_dir():
        raise HarnessError(f"the results store {path} is a folder; give the path of a database file")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise HarnessError(f"cannot read the results store {path}: {exc}") from None
    if header and header != _SQLITE_HEADER:
        raise HarnessError(f"{path} is not a SQLite database, so not a harness results store; use another --db")


def _writable(path: Path) -> bool:
    """Whether this process may write the store at `path` and its folder (SQLite writes its
    journal and shared-memory files beside it)."""
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def _why_not_writable(path: Path) -> str:

    folder = path.parent
    statvfs = os.statvfs(folder)
    if statvfs.f_flag & os.ST_RDONLY:
        return f"{folder} is on a read-only file system"
    return f"this user may not write {path if path.exists() and not os.access(path, os.W_OK) else folder}"


@dataclass(frozen=True)
class Owner:
    """A process running experiments on a store: a token of its own, its pid and its host."""

    token: str
    pid: int
    host: str

    @classmethod
    def this_process(cls) -> "Owner":
        return cls(uuid.uuid4().hex, os.getpid(), socket.gethostname())


def alive(pid: Any, host: Any, heartbeat: Any, now: float | None = None) -> bool:
    """Whether the process behind a heartbeat is running still: it beat within STALE_SECONDS
    and, when it ran on this machine, its pid exists (a killed run is seen dead at once here)."""
    now = time.time() if now is None else now
    if heartbeat is None or pd.isna(heartbeat) or now - float(heartbeat) > STALE_SECONDS:
        return False
    if host == socket.gethostname() and pid is not None and not pd.isna(pid):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            return True
    return True


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    dataset TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    engine TEXT,
    settings TEXT NOT NULL,
    owner TEXT,
    pid INTEGER,
    host TEXT,
    heartbeat REAL
);
CREATE TABLE IF NOT EXISTS leases (
    experiment TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    experiment TEXT NOT NULL,
    dataset TEXT NOT NULL,
    variant TEXT NOT NULL,
    config TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    split INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    score REAL,
    train_score REAL,
    metrics TEXT NOT NULL,
    epochs INTEGER NOT NULL,
    best_epoch INTEGER NOT NULL,
    seconds REAL NOT NULL,
    loss TEXT NOT NULL,
    val_loss TEXT NOT NULL,
    engine TEXT NOT NULL,
    weights BLOB,
    created_at REAL NOT NULL,
    kind TEXT NOT NULL DEFAULT 'network',
    role TEXT NOT NULL DEFAULT '',
    inner_split INTEGER,
    candidate TEXT
);
CREATE TABLE IF NOT EXISTS run_jobs (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    position INTEGER NOT NULL,
    job_key TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
CREATE TABLE IF NOT EXISTS datasets (
    fingerprint TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    task TEXT NOT NULL,
    target_name TEXT,
    features BLOB NOT NULL,
    target BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_run ON results(run_id);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment, started_at);
"""

_COLUMNS = (
    "run_id experiment dataset variant config config_hash split seed status reason score "
    "train_score metrics epochs best_epoch seconds loss val_loss engine weights job_key created_at kind role "
    "inner_split candidate"
).split()
_JSON_COLUMNS = ("config", "metrics", "loss", "val_loss")
#: host parameters per statement, well under SQLite's limit
_CHUNK = 500


class Store:
    """A SQLite results database at `path` (created with its folder on first use)."""

    def __init__(self, path: str | Path = DEFAULT_DB) -> None:
        self.path = Path(path)
        with _OPEN_LOCK:
            _refuse_foreign_file(self.path)
            self._key = self.path.resolve()
            _OPEN[self._key] = _OPEN.get(self._key, 0) + 1
        self._db: sqlite3.Connection | None = None
        try:
            self._connect()
        except BaseException:
            if self._db is not None:
                self._db.close()
            self._forget()
            raise

    def _forget(self) -> None:
        with _OPEN_LOCK:
            _OPEN[self._key] -= 1

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HarnessError(f"cannot create the folder of the results store {self.path}: {exc}") from None
        try:
            # autocommit mode: transactions are explicit (`_write`), short, and take the write
            # lock up front, so concurrent writers wait for each other instead of failing
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            self._open()
        except sqlite3.DatabaseError as exc:
            if not _writable(self.path):
                raise HarnessError(f"cannot write the results store {self.path} ({exc}): "
                                   f"{_why_not_writable(self.path)}; give another --db") from None
            raise HarnessError(f"{self.path} is damaged or not a harness results store ({exc}); "
                               "use another --db, or move it away to start a new store") from None

    def _open(self) -> None:
        """Check what the file holds, then create or migrate the schema to SCHEMA_VERSION."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not tables & {"runs", "results", "folds"}:
            raise HarnessError(f"{self.path} is a SQLite database but not a harness results store "
                               f"(its tables: {', '.join(sorted(tables)[:8])}); use another --db")
        if version > SCHEMA_VERSION:
            raise HarnessError(f"{self.path} was written by a newer harness (store schema {version}; this one "
                               f"reads up to {SCHEMA_VERSION}): upgrade the harness, or use another --db")
        if version < SCHEMA_VERSION:
            self._create_or_migrate()
        # write-ahead logging only once the file is known to be a harness store
        self._db.execute("PRAGMA journal_mode=WAL")
        # every commit reaches the disk (an fsync of the log per finished task): a task the run has
        # said is stored stays stored when the machine or its disk fails right after
        self._db.execute("PRAGMA synchronous=FULL")

    def _create_or_migrate(self) -> None:
        with self._write():  # a new store, or one of an older schema: create and migrate in one transaction
            self._migrate_names()
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
            if "job_key" not in columns:  # a store written before jobs had keys
                self._db.execute("ALTER TABLE results ADD COLUMN job_key TEXT")
            if "kind" not in columns:  # before rows said what they hold: the reference models' trainer was 'sklearn'
                self._db.execute("ALTER TABLE results ADD COLUMN kind TEXT NOT NULL DEFAULT 'network'")
                self._db.execute("UPDATE results SET kind = ? WHERE engine = 'sklearn'", (REFERENCE,))
            if "role" not in columns:  # before tuned variants: every row an ordinary job
                self._db.execute("ALTER TABLE results ADD COLUMN role TEXT NOT NULL DEFAULT ''")
                self._db.execute("ALTER TABLE results ADD COLUMN inner_split INTEGER")
                self._db.execute("ALTER TABLE results ADD COLUMN candidate TEXT")
            run_columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
            for name, kind in (("owner", "TEXT"), ("pid", "INTEGER"), ("host", "TEXT"), ("heartbeat", "REAL")):
                if name not in run_columns:  # before heartbeats: a run's process could not be told dead
                    self._db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
            self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS results_by_job ON results(job_key)")
            self._db.execute(f"PRAGMA user_version = {int(SCHEMA_VERSION)}")

    def _migrate_names(self) -> None:
        """A store written before the rows were named by split: table `folds` becomes
        `results` and its column `fold` becomes `split` (SQLite renames in place)."""
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "folds" in tables and "results" not in tables:
            for index in ("folds_by_run", "folds_by_job"):
                self._db.execute(f"DROP INDEX IF EXISTS {index}")
            self._db.execute("ALTER TABLE folds RENAME TO results")
            self._db.execute("ALTER TABLE results RENAME COLUMN fold TO split")

    def close(self) -> None:
        if getattr(self, "_db", None) is not None:
            self._db.close()
            self._db = None
            self._forget()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its start; committed on success."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ writing
    def start_run(self, run: RunRecord, engine: str = "", plan: Sequence[str] = (), owner: Owner | None = None) -> str:
        """Record a run (its `RunRecord`, as JSON) and its plan: the keys of its jobs, in the
        order its report lists them. `engine` names the trainers of its networks, for people;
        `owner`, the process that runs it (whose heartbeats, `beat`, keep it alive)."""
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        owner = owner or Owner.this_process()
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO runs (run_id, experiment, dataset, started_at, status, engine, settings, owner, pid, host, "
                "heartbeat) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (run_id, run.experiment, run.dataset, now, engine, json.dumps(run.to_json(), default=str),
                 owner.token, owner.pid, owner.host, now),
            )
            db.executemany("INSERT INTO run_jobs (run_id, position, job_key) VALUES (?, ?, ?)",
                           [(run_id, i, key) for i, key in enumerate(plan)])
        return run_id

    def claim(self, experiments: Sequence[str], owner: Owner) -> list[tuple[Any, ...]]:
        """Take the leases of these experiments for `owner`, all in one transaction: refused
        (HarnessError, nothing taken) while another live process holds one of them. A lease
        whose holder died is taken over, and the dead runs of these experiments (still marked
        running) are marked 'died'; returns those runs (run_id, experiment, pid, host, heartbeat)."""
        names = list(dict.fromkeys(experiments))
        marks = ", ".join("?" for _ in names)
        now = time.time()
        with self._write() as db:
            for name, token, pid, host, beat in db.execute(
                    f"SELECT experiment, owner, pid, host, heartbeat FROM leases WHERE experiment IN ({marks})", names):
                if token != owner.token and alive(pid, host, beat, now):
                    raise HarnessError(
                        f"experiment {name!r} is being run on the store {self.path} by another process (pid {pid} on "
                        f"{host}, last heartbeat {now - beat:.0f} s ago); wait for it to finish, or give this run another --db")
            dead = [row for row in db.execute(
                f"SELECT run_id, experiment, pid, host, heartbeat FROM runs WHERE status = 'running' AND experiment IN "
                f"({marks}) AND (owner IS NULL OR owner != ?)", [*names, owner.token]) if not alive(*row[2:], now)]
            db.executemany("UPDATE runs SET status = 'died' WHERE run_id = ?", [(row[0],) for row in dead])
            db.executemany(
                "INSERT INTO leases (experiment, owner, pid, host, heartbeat) VALUES (?, ?, ?, ?, ?) ON CONFLICT(experiment) "
                "DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host, heartbeat = excluded.heartbeat",
                [(name, owner.token, owner.pid, owner.host, now) for name in names])
        return dead

    def beat(self, owner: Owner) -> None:
        """A heartbeat of `owner`: its leases and its running runs are alive now."""
        now = time.time()
        with self._write() as db:
            db.execute("UPDATE leases SET heartbeat = ? WHERE owner = ?", (now, owner.token))
            db.execute("UPDATE runs SET heartbeat = ? WHERE owner = ? AND status = 'running'", (now, owner.token))

    def release(self, owner: Owner) -> None:
        """Give up `owner`'s leases (its run is over, however it ended)."""
        with self._write() as db:
            db.execute("DELETE FROM leases WHERE owner = ?", (owner.token,))

    def extend_plan(self, run_id: str, keys: Sequence[str]) -> None:
        """Add jobs planned while the run went on (a tuned variant's later inner rounds and its
        refits, known once the inner CV has chosen) to the end of its plan."""
        with self._write() as db:
            start = db.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM run_jobs WHERE run_id = ?",
                               (run_id,)).fetchone()[0]
            known = {row[0] for row in db.execute("SELECT job_key FROM run_jobs WHERE run_id = ?", (run_id,))}
            new = [key for key in dict.fromkeys(keys) if key not in known]
            db.executemany("INSERT INTO run_jobs (run_id, position, job_key) VALUES (?, ?, ?)",
                           [(run_id, start + i, key) for i, key in enumerate(new)])

    def save_dataset(self, fingerprint: str, data: Dataset) -> bool:
        """Keep the data a run was made on (once per fingerprint), as Parquet: a report is
        then rebuilt from the store alone. False when pandas cannot write it as Parquet
        (e.g. a column mixing numbers and text); the run goes on without it."""
        if self._db.execute("SELECT 1 FROM datasets WHERE fingerprint = ?", (fingerprint,)).fetchone():
            return True
        try:
            features = data.X.to_parquet()
            frame = data.y.to_frame(name="target")
            if data.groups is not None:
                frame["groups"] = data.groups.astype(str).to_numpy()
            if data.sample_weight is not None:
                frame["sample_weight"] = data.sample_weight.to_numpy()
            target = frame.to_parquet()
        except (ValueError, TypeError, pa_errors()):
            return False
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO datasets (fingerprint, name, task, target_name, features, target) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (fingerprint, data.name, data.task, None if data.y.name is None else str(data.y.name),
                        features, target))
        return True

    def dataset(self, fingerprint: str) -> Dataset | None:
        """The data stored under `fingerprint`, as it was loaded; None when not stored."""
        row = self._db.execute("SELECT name, task, target_name, features, target FROM datasets "
                               "WHERE fingerprint = ?", (fingerprint,)).fetchone()
        if row is None:
            return None
        name, task, target_name, features, target = row
        frame = pd.read_parquet(io.BytesIO(target))
        y = frame["target"].rename(target_name)
        groups = frame["groups"] if "groups" in frame else None
        weights = frame["sample_weight"] if "sample_weight" in frame else None
        return Dataset(name, pd.read_parquet(io.BytesIO(features)), y, task, groups=groups, sample_weight=weights)

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", (time.time(), status, run_id))

    def add_record(self, record: SplitRecord) -> None:
        """Insert one job's result and commit at once."""
        self.add_records([record])

    def add_records(self, records: Iterable[SplitRecord]) -> None:
        """Insert the results of one task in one transaction. A record whose job key is stored
        already replaces that row (a rerun of the same job: `--fresh`, `--retry-failed`)."""
        rows = []
        for record in records:
            row = {name: getattr(record, name) for name in _COLUMNS}
            for name in _JSON_COLUMNS:
                row[name] = json.dumps(row[name])
            rows.append([row[name] for name in _COLUMNS])
        updates = ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS if name != "job_key")
        with self._write() as db:
            db.executemany(
                f"INSERT INTO results ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
                f"ON CONFLICT(job_key) DO UPDATE SET {updates}",
                rows,
            )

    # ------------------------------------------------------------------ reading
    def stored_jobs(self, keys: Sequence[str]) -> pd.DataFrame:
        """The stored rows of these job keys (job_key, variant, split, status, score, epochs)."""
        frames = []
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            frames.append(pd.read_sql_query(
                "SELECT job_key, variant, split, status, score, epochs FROM results "
                f"WHERE job_key IN ({', '.join('?' for _ in chunk)})", self._db, params=chunk))
        columns = ["job_key", "variant", "split", "status", "score", "epochs"]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    def runs(self, experiment: str | None = None) -> pd.DataFrame:
        """One row per run, newest first; `settings` parsed."""
        query = "SELECT * FROM runs"
        params: tuple[Any, ...] = ()
        if experiment is not None:
            query += " WHERE experiment = ?"
            params = (experiment,)
        frame = pd.read_sql_query(query + " ORDER BY started_at DESC", self._db, params=params)
        frame["settings"] = frame["settings"].map(json.loads)
        return frame

    def run_progress(self) -> pd.DataFrame:
        """Per run: experiment, started_at, status, pid, host, heartbeat, planned jobs and how
        many of them are stored (runs from before plans were recorded count their own rows);
        a run marked running whose process is dead (`alive`) has status 'died'."""
        frame = pd.read_sql_query(
            """
            SELECT r.run_id, r.experiment, r.started_at, r.status, r.pid, r.host, r.heartbeat,
                   (SELECT COUNT(*) FROM run_jobs j WHERE j.run_id = r.run_id) AS planned,
                   CASE WHEN EXISTS (SELECT 1 FROM run_jobs j WHERE j.run_id = r.run_id)
                        THEN (SELECT COUNT(*) FROM run_jobs j JOIN results f ON f.job_key = j.job_key
                              WHERE j.run_id = r.run_id)
                        ELSE (SELECT COUNT(*) FROM results f WHERE f.run_id = r.run_id) END AS stored
            FROM runs r ORDER BY r.started_at
            """,
            self._db,
        )
        now = time.time()
        running = frame["status"] == "running"
        dead = [not alive(row.pid, row.host, row.heartbeat, now) for row in frame[running].itertuples()]
        frame.loc[frame.index[running][dead], "status"] = "died"
        return frame

    def latest_run_ids(self) -> dict[str, str]:
        """experiment -> the run its report shows: its newest finished run, or, when none has
        finished, its newest run with at least one stored row. A newer run that was killed
        part-way does not hide a complete older one."""
        chosen: dict[str, tuple[bool, str]] = {}
        for row in self.run_progress().itertuples():
            finished = row.status == "finished"
            if row.stored == 0:
                continue
            if finished or not chosen.get(row.experiment, (False, ""))[0]:
                chosen[row.experiment] = (finished, row.run_id)
        return {experiment: run_id for experiment, (_, run_id) in chosen.items()}

    def rows(
        self, experiment: str | None = None, run_id: str | None = None, latest: bool = True,
        with_weights: bool = False,
    ) -> pd.DataFrame:
        """Job rows as a DataFrame, JSON columns parsed. With `run_id`, the rows of that run's
        plan in plan order (whichever run trained them); else, by default, each experiment's
        latest run (`latest_run_ids`); with `latest=False`, every stored row."""
        columns = [c for c in ["id", *_COLUMNS] if with_weights or c != "weights"]
        if run_id is not None:
            frame = self._run_rows(run_id, columns)
        elif latest:
            runs = self.latest_run_ids()
            if experiment is not None:
                runs = {experiment: runs[experiment]} if experiment in runs else {}
            frame = pd.concat([self._run_rows(r, columns) for r in runs.values()]
                              or [self._select("WHERE 0", [], columns)], ignore_index=True)
        else:
            clauses, params = ("WHERE experiment = ?", [experiment]) if experiment is not None else ("", [])
            frame = self._select(clauses + " ORDER BY id", params, columns)
        if experiment is not None:
            frame = frame[frame["experiment"] == experiment].reset_index(drop=True)
        for name in _JSON_COLUMNS:
            frame[name] = frame[name].map(json.loads)
        frame["reason"] = frame["reason"].astype(object).where(frame["reason"].notna(), None)
        return frame

    def _select(self, where: str, params: list[Any], columns: list[str], table: str = "results f") -> pd.DataFrame:
        select = ", ".join(f"f.{c}" for c in columns)
        return pd.read_sql_query(f"SELECT {select} FROM {table} {where}", self._db, params=params)

    def _run_rows(self, run_id: str, columns: list[str]) -> pd.DataFrame:
        planned = self._db.execute("SELECT 1 FROM run_jobs WHERE run_id = ? LIMIT 1", (run_id,)).fetchone()
        if planned:
            return self._select("WHERE j.run_id = ? ORDER BY j.position", [run_id], columns,
                              table="run_jobs j JOIN results f ON f.job_key = j.job_key")
        return self._select("WHERE f.run_id = ? ORDER BY f.id", [run_id], columns)

    def results(self, experiment: str, run_id: str | None = None, definition: Any = None, weights: bool = True,
                data: bool = True) -> Results:
        """The run `run_id` of `experiment` (default: the one its report shows) as `Results`;
        `weights` and `data` False skip decoding the weights and reading the data (for a
        quick summary). `definition` is the experiment object whose own report sections the
        page shows (None when unknown)."""
        run_id = run_id or self.latest_run_ids()[experiment]
        row = self.runs(experiment).set_index("run_id").loc[run_id]
        record = RunRecord.from_json(row["settings"], experiment, row["dataset"])
        rows = self.rows(run_id=run_id, with_weights=weights)
        rows["weights"] = ([decode_weights(blob) if blob is not None else None for blob in rows["weights"]]
                           if weights else None)
        rows["stopped_epoch"] = stopped_epochs(rows, record.training.patience)
        inner = rows["role"] == INNER
        return Results(experiment=experiment, run_id=run_id, dataset=row["dataset"], started=float(row["started_at"]),
                       status=row["status"], run=record, splits=rows.loc[~inner, SPLIT_COLUMNS].reset_index(drop=True),
                       inner=rows.loc[inner, INNER_COLUMNS].reset_index(drop=True),
                       data=self.dataset(record.data_fingerprint) if record.data_fingerprint and data else None,
                       definition=definition)

    def integrity(self) -> str:
        """SQLite's `PRAGMA integrity_check`: 'ok' for a sound database."""
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]


def pa_errors() -> type[Exception]:
    """pyarrow's own error class (raised for data Parquet cannot hold)."""
    import pyarrow

    return pyarrow.ArrowException


def load_results(
    db: str | Path = DEFAULT_DB, experiment: str | None = None, latest: bool = True,
    with_weights: bool = False,
) -> pd.DataFrame:
    """Every stored job result as a pandas DataFrame (by default the latest run of each experiment).

    Columns: run_id (the run that trained the row), experiment, dataset, variant, config (dict),
    config_hash, split (0-based), seed, status, reason, score, train_score, metrics (dict), epochs,
    best_epoch, seconds, loss and val_loss (per-epoch lists), engine (the trainer's name), job_key,
    created_at, kind ('network' or 'reference model'), role ('' for an ordinary job, 'inner' for a tuned
    variant's candidate on an inner split, 'refit' for its chosen candidate retrained on the outer
    split), inner_split and candidate (the candidate's values as JSON);
    `weights` (npz bytes) on request.
    """
    if not Path(db).exists():
        raise FileNotFoundError(f"no results database at {db}")
    with Store(db) as store:
        return store.rows(experiment=experiment, latest=latest, with_weights=with_weights)
