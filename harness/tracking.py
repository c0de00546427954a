"""MLflow tracking of stored runs (`regbench run ... --mlflow [URI]`, `harness.run(..., mlflow=URI)`).

Each experiment's run becomes one MLflow run in the MLflow experiment of the same name: its
training settings as params, tags for the experiment, data set, engine and the harness's run
id, and the report folder as artifacts. Each variant becomes a run nested in it (MLflow's
`mlflow.parentRunId`): the variant's own fields as params, its score on every split as a
metric series (step = split), and its summary (mean, stdev, mean epochs; against the baseline
the mean difference, the corrected t-test's p and P(better)) as metrics. Everything comes from
the store, so logging never changes a result; results logged before (the same jobs: the run
that found them done, or a run logged again) are not logged twice. MLflow is an optional extra (`pip install "regbench[mlflow]"`): nothing imports it
unless asked to log.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Sequence

from . import stats
from .core import OK
from .errors import HarnessError, one_line
from .store import Store

#: the tags that name the harness run an MLflow run logs, and its results (a digest of their job keys)
RUN_TAG = "regbench.run_id"
RESULTS_TAG = "regbench.results"


def client(uri: str) -> Any:
    """An MLflow client of the tracking URI (a local folder, file:, sqlite:, http(s):), or a
    one-line HarnessError when MLflow is not installed. A local folder uses MLflow's file
    store, which MLflow 3 keeps only behind MLFLOW_ALLOW_FILE_STORE: a folder asked for by
    name is allowed here."""
    try:
        import mlflow
    except ImportError:
        raise HarnessError("--mlflow needs MLflow: pip install 'regbench[mlflow]' (or mlflow-skinny)") from None
    if "://" not in uri and not uri.startswith(("file:", "sqlite:", "databricks")):
        uri = Path(uri).resolve().as_uri()
    if uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return mlflow.MlflowClient(tracking_uri=uri)


def log_runs(store: Store, runs: Sequence[tuple[str, str, Path | None]], uri: str) -> int:
    """Log each (experiment, harness run id, report folder) to MLflow at `uri`; the number of
    harness runs logged (those whose results were logged before are skipped). Raises HarnessError, in one line,
    when the tracking server cannot be reached or refuses."""
    tracker = client(uri)
    logged = 0
    try:
        for experiment, run_id, folder in runs:
            logged += _log_run(tracker, store, experiment, run_id, folder)
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - a server down, a folder not writable, a refused request
        raise HarnessError(f"MLflow at {uri}: {one_line(exc)}; the results are stored: the same command with "
                           "--mlflow logs them") from None
    return logged


def _log_run(tracker: Any, store: Store, experiment: str, run_id: str, folder: Path | None) -> bool:
    from mlflow.entities import Metric, Param

    found = tracker.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found is not None else tracker.create_experiment(experiment)
    results = store.results(experiment, run_id, weights=False)
    # the results' identity: a run that found every job done holds the results logged before
    digest = hashlib.sha256("\n".join(sorted(map(str, results.splits["job_key"]))).encode()).hexdigest()[:32]
    if tracker.search_runs([experiment_id], filter_string=f"tags.`{RESULTS_TAG}` = '{digest}'", max_results=1):
        return False
    run = results.run
    engines = sorted(set(results.splits["engine"]) - {""})
    tags = {RUN_TAG: run_id, RESULTS_TAG: digest, "regbench.experiment": experiment, "regbench.dataset": run.dataset,
            "regbench.engine": "+".join(engines), "regbench.score": results.score_name}
    parent = tracker.create_run(experiment_id, run_name=f"{experiment} {run_id}", tags=tags)
    params = [Param(f"setting.{k}", _text(v)) for k, v in dict(run.training).items()]
    params += [Param("splitter", _text(run.splitter)), Param("baseline", _text(results.baseline))]
    tracker.log_batch(parent.info.run_id, params=params)
    if folder is not None and Path(folder).is_dir():
        tracker.log_artifacts(parent.info.run_id, str(folder), artifact_path="report")
    summary = stats.summary(results).set_index("variant")
    now = int(time.time() * 1000)
    splits = results.splits[results.splits["status"] == OK]
    for variant in run.variants:
        child = tracker.create_run(experiment_id, run_name=variant.name,
                                   tags={**tags, "regbench.variant": variant.name, "mlflow.parentRunId": parent.info.run_id})
        config = {k: v for k, v in variant.config().items() if k != "name"}
        mine = splits[splits["variant"] == variant.name].sort_values("split")
        metrics = [Metric("score", float(row.score), now, int(row.split)) for row in mine.itertuples()]
        metrics += [Metric("train_score", float(row.train_score), now, int(row.split)) for row in mine.itertuples()
                    if row.train_score is not None and math.isfinite(row.train_score)]
        if variant.name in summary.index:
            row = summary.loc[variant.name]
            for name, column in (("mean_score", "mean"), ("stdev_score", "stdev"), ("mean_epochs", "mean_epochs"),
                                 ("difference_vs_baseline", "mean_difference"), ("p_corrected", "p_corrected"),
                                 ("p_better", "p_better"), ("failed_splits", "failed")):
                value = row.get(column)
                if value is not None and isinstance(value, (int, float)) and math.isfinite(value):
                    metrics.append(Metric(name, float(value), now, 0))
        tracker.log_batch(child.info.run_id, metrics=metrics,
                          params=[Param(k, _text(v)) for k, v in config.items()])
        tracker.set_terminated(child.info.run_id)
    tracker.set_terminated(parent.info.run_id)
    return True


def _text(value: Any) -> str:
    """A param's value as MLflow keeps it (text of at most 6000 characters)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]
