"""MLflow: `--mlflow [URI]` logs each experiment's run with a nested run per variant, read back
here with MLflow's own `search_runs` from a tracking folder the test starts empty."""
from __future__ import annotations

import sys

import pytest

from harness import HarnessError
from harness.cli import _parser
from harness.store import Store
from tests.conftest import TinyClassification, run_fake

mlflow = pytest.importorskip("mlflow")


def _runs(uri, experiment):
    import os

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment])


def test_a_run_is_logged_with_a_nested_run_per_variant_and_read_back(workdir, tmp_path):
    folder = tmp_path / "mlruns"
    assert not folder.exists()
    outcomes, text = run_fake([TinyClassification()], workdir, mlflow=str(folder))
    assert "mlflow: 1 run(s) logged to" in text
    found = _runs(folder.resolve().as_uri(), TinyClassification.name)
    with Store(workdir.db) as store:
        results = store.results(TinyClassification.name)
    parent = found[found["tags.mlflow.parentRunId"].isna()]
    children = found[found["tags.mlflow.parentRunId"].notna()]
    assert len(parent) == 1 and len(children) == len(results.variants)
    assert parent.iloc[0]["tags.regbench.run_id"] == outcomes[0].run_id
    assert parent.iloc[0]["params.setting.epochs"] == str(TinyClassification.epochs)
    assert set(children["tags.mlflow.parentRunId"]) == {parent.iloc[0]["run_id"]}
    assert set(children["tags.regbench.engine"]) == {"fake"}
    client = mlflow.MlflowClient(folder.resolve().as_uri())
    for _, row in children.iterrows():
        stored = results.splits[results.splits["variant"] == row["tags.regbench.variant"]].sort_values("split")
        history = sorted(client.get_metric_history(row["run_id"], "score"), key=lambda m: m.step)
        assert [m.step for m in history] == list(stored["split"])
        assert [m.value for m in history] == pytest.approx(list(stored["score"]))
        assert row["metrics.mean_score"] == pytest.approx(stored["score"].mean())
    l2 = children[children["tags.regbench.variant"] == "L2 1e-3"].iloc[0]
    assert float(l2["params.l2"]) == 1e-3
    artifacts = [a.path for a in client.list_artifacts(parent.iloc[0]["run_id"], "report")]
    assert "report/index.html" in artifacts and "report/summary.csv" in artifacts
    # the same command again trains nothing and logs nothing twice
    _, text = run_fake([TinyClassification()], workdir, mlflow=str(folder))
    assert "mlflow: 0 run(s) logged" in text and "(1 logged before)" in text
    assert len(_runs(folder.resolve().as_uri(), TinyClassification.name)) == len(found)


def test_without_mlflow_installed_the_run_is_refused_before_training(workdir, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    with pytest.raises(HarnessError, match=r"--mlflow needs MLflow: pip install 'regbench\[mlflow\]'"):
        run_fake([TinyClassification()], workdir, mlflow="./mlruns")
    assert not workdir.db.exists() and not workdir.reports.exists()


def test_the_flag_alone_logs_to_mlruns_beside_the_store():
    parser = _parser()
    assert parser.parse_args(["run", "wine", "--mlflow"]).mlflow == "./mlruns"
    assert parser.parse_args(["run", "wine", "--mlflow", "http://host:5000"]).mlflow == "http://host:5000"
    assert not hasattr(parser.parse_args(["run", "wine"]), "mlflow")
