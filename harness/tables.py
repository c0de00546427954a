"""A user's table as an experiment: `regbench run data.csv --target COLUMN` and
`harness.run("data.csv", target=...)` run the standard comparison on a CSV or Parquet file.

`table_experiment` makes the experiment class: the default suite's variants (no penalty; L1,
L2, L1L2 and dropout tuned by nested cross-validation; three fixed strengths), the default
network and splitter, the file's other columns as features, and the task given or inferred
from the target (`infer_task`, which says on one line what it inferred and why). A file that
cannot be read, a target or groups column it does not have, or a target that cannot serve the
task is a one-line HarnessError before anything trains.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .core import Dataset, suite_variants
from .core.tasks import TASKS
from .errors import HarnessError, one_line
from .experiment import Experiment

#: what `regbench run` reads as a table, by suffix
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}

#: an integer-valued numeric target with at most this many distinct values is read as classes
MOST_CLASSES = 20


def is_table(spec: str) -> bool:
    """Whether a command-line argument names a table file (by its suffix)."""
    return Path(spec).suffix.lower() in TABLE_SUFFIXES


def read_table(path: Path) -> pd.DataFrame:
    """The file as a DataFrame (CSV, tab-separated or Parquet, by suffix); a one-line error for a
    file that is missing, empty or not a table."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path} is a folder, not a data file" if path.is_dir() else f"no such data file: {path}")
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise HarnessError(f"{path}: not a table file; give a .csv, .tsv or .parquet file")
    try:
        frame = pd.read_parquet(path) if kind == "parquet" else _read_text_table(path, "\t" if kind == "tsv" else ",")
    except Exception as exc:  # noqa: BLE001 - whatever the file holds
        raise HarnessError(f"{path}: cannot be read as {kind}: {one_line(exc)}") from None
    if frame.empty or frame.shape[1] == 0:
        raise HarnessError(f"{path}: holds no rows or no columns")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_text_table(path: Path, sep: str) -> pd.DataFrame:
    """A delimited text file: UTF-8, else Latin-1 (a spreadsheet's export); where the given
    separator finds one column, the separator sniffed from the file (';' in much of Europe)."""
    try:
        frame = pd.read_csv(path, sep=sep)
        encoding = "utf-8"
    except UnicodeDecodeError:
        frame = pd.read_csv(path, sep=sep, encoding="latin-1")
        encoding = "latin-1"
    if frame.shape[1] == 1:
        sniffed = pd.read_csv(path, sep=None, engine="python", encoding=encoding)
        if sniffed.shape[1] > 1:
            return sniffed
    return frame


def infer_task(target: pd.Series) -> tuple[str, str]:
    """The task a target serves, and why, in words: text, booleans or integers with at most
    MOST_CLASSES distinct values are classes; other numbers are a regression target."""
    values = target.dropna()
    distinct = values.nunique()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification", f"its {distinct} distinct values are not numbers"
    numbers = values.to_numpy(dtype="float64")
    if np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)) and distinct <= MOST_CLASSES:
        return "classification", f"its {distinct} distinct values are whole numbers, and up to {MOST_CLASSES} are read as classes"
    return "regression", f"it holds numbers with {distinct} distinct values"


def _name(path: Path) -> str:
    """An experiment name from the file's name and kind (data.csv: data-csv, so that no table is
    taken for a built-in experiment of the same name in the store): letters, digits, '-', '_'."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-") or "table"
    return f"{stem}-{TABLE_SUFFIXES.get(path.suffix.lower(), 'table')}"


def table_experiment(path: str | Path, target: str | None, task: str | None = None,
                     groups: str | None = None, sample_weight: str | None = None) -> type[Experiment]:
    """The experiment class of the standard comparison on the table at `path`: `target` is the
    column to predict, `task` "classification" or "regression" (None: inferred, and the
    inference is in the class's `inferred`), `groups` a column whose rows belong together (the
    splits then keep each group whole; see `Dataset.groups`), `sample_weight` a column of
    row weights for the training loss (`Dataset.sample_weight`). Neither is a feature."""
    path = Path(path)
    if not target:
        raise HarnessError(f"{path}: name the column to predict (--target COLUMN, or target=...)")
    if task is not None and task not in TASKS:
        raise HarnessError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    frame = read_table(path)
    roles = {role: column for role, column in (("target", target), ("groups", groups), ("sample weight", sample_weight))
             if column is not None}
    for role, column in roles.items():
        if column not in frame.columns:
            shown = ", ".join(frame.columns[:10]) + (", …" if frame.shape[1] > 10 else "")
            raise HarnessError(f"{path}: no {role} column {column!r}; its columns are {shown}")
    if len(set(roles.values())) < len(roles):
        raise HarnessError(f"{path}: one column serves two roles ({', '.join(f'{r} {c!r}' for r, c in roles.items())})")
    n_features = frame.shape[1] - len(roles)
    if n_features < 1:
        raise HarnessError(f"{path}: no feature columns besides the {' and the '.join(roles)}")
    inferred = ""
    if task is None:
        task, why = infer_task(frame[target])
        inferred = (f"{path.name}: task inferred as {task} from the target {target!r} ({why}); "
                    f"--task {'regression' if task == 'classification' else 'classification'} says otherwise")

    def load_data(self: Experiment, data_dir: Path) -> Dataset:
        table = read_table(path)  # read again here: the file is the data, the run keys it
        features = table.drop(columns=[target])
        return Dataset(path.name, features, table[target], self.task, groups=groups, sample_weight=sample_weight)

    attributes: dict[str, Any] = {
        "name": _name(path), "task": task, "load_data": load_data, "variants": tuple(suite_variants()),
        "description": (f"{path.name}: predicting {target!r} ({task}) from its other "
                        f"{n_features} columns" + (f", rows grouped by {groups!r}" if groups else "")
                        + (f", rows weighted by {sample_weight!r}" if sample_weight else "") + f"; {len(frame)} rows."),
        "source": str(path.resolve()), "inferred": inferred, "__module__": __name__,
    }
    return type(f"Table_{_name(path).replace('-', '_')}", (Experiment,), attributes)
