"""The results store: an embedded SQLite database, one row per finished (variant, fold).

Every fold is committed the moment it finishes, so an interrupted run loses nothing that
finished. Reports are built from the store alone.
"""
from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from .engines.base import FoldRecord

DEFAULT_DB = Path("reports") / "results.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    dataset TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    engine TEXT,
    settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS folds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    experiment TEXT NOT NULL,
    dataset TEXT NOT NULL,
    variant TEXT NOT NULL,
    config TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    fold INTEGER NOT NULL,
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
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS folds_by_run ON folds(run_id);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment, started_at);
"""

_FOLD_COLUMNS = (
    "run_id experiment dataset variant config config_hash fold seed status reason score "
    "train_score metrics epochs best_epoch seconds loss val_loss engine weights created_at"
).split()
_JSON_COLUMNS = ("config", "metrics", "loss", "val_loss")


class Store:
    """A SQLite results database at `path` (created with its folder on first use)."""

    def __init__(self, path: str | Path = DEFAULT_DB) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start_run(self, experiment: str, dataset: str, settings: dict[str, Any], engine: str = "") -> str:
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        with self._db:
            self._db.execute(
                "INSERT INTO runs (run_id, experiment, dataset, started_at, status, engine, settings) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?)",
                (run_id, experiment, dataset, time.time(), engine, json.dumps(settings, default=str)),
            )
        return run_id

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        with self._db:
            self._db.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", (time.time(), status, run_id)
            )

    def add_fold(self, record: FoldRecord) -> None:
        """Insert one fold's result and commit at once."""
        row = {name: getattr(record, name) for name in _FOLD_COLUMNS}
        for name in _JSON_COLUMNS:
            row[name] = json.dumps(row[name])
        placeholders = ", ".join("?" for _ in _FOLD_COLUMNS)
        with self._db:
            self._db.execute(
                f"INSERT INTO folds ({', '.join(_FOLD_COLUMNS)}) VALUES ({placeholders})",
                [row[name] for name in _FOLD_COLUMNS],
            )

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

    def latest_run_ids(self) -> dict[str, str]:
        """experiment -> its newest run that stored at least one fold."""
        rows = self._db.execute(
            "SELECT r.experiment, r.run_id FROM runs r "
            "WHERE EXISTS (SELECT 1 FROM folds f WHERE f.run_id = r.run_id) "
            "ORDER BY r.started_at"
        ).fetchall()
        return {experiment: run_id for experiment, run_id in rows}

    def folds(
        self, experiment: str | None = None, run_id: str | None = None, latest: bool = True,
        with_weights: bool = False,
    ) -> pd.DataFrame:
        """Fold rows as a DataFrame; JSON columns parsed; by default only each experiment's latest run."""
        columns = [c for c in ["id", *_FOLD_COLUMNS] if with_weights or c != "weights"]
        clauses, params = [], []
        if experiment is not None:
            clauses.append("experiment = ?")
            params.append(experiment)
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        elif latest:
            latest_ids = list(self.latest_run_ids().values())
            clauses.append(f"run_id IN ({', '.join('?' for _ in latest_ids) or 'NULL'})")
            params.extend(latest_ids)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        frame = pd.read_sql_query(
            f"SELECT {', '.join(columns)} FROM folds{where} ORDER BY id", self._db, params=params
        )
        for name in _JSON_COLUMNS:
            frame[name] = frame[name].map(json.loads)
        frame["reason"] = frame["reason"].astype(object).where(frame["reason"].notna(), None)
        return frame


def load_results(
    db: str | Path = DEFAULT_DB, experiment: str | None = None, latest: bool = True,
    with_weights: bool = False,
) -> pd.DataFrame:
    """Every stored fold as a pandas DataFrame (by default the latest run of each experiment).

    Columns: run_id, experiment, dataset, variant, config (dict), config_hash, fold, seed,
    status, reason, score, train_score, metrics (dict), epochs, best_epoch, seconds,
    loss and val_loss (per-epoch lists), engine, created_at; `weights` (npz bytes) on request.
    """
    if not Path(db).exists():
        raise FileNotFoundError(f"no results database at {db}")
    with Store(db) as store:
        return store.folds(experiment=experiment, latest=latest, with_weights=with_weights)
