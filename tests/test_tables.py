"""One command for a file: `regbench run data.csv --target COLUMN` and `harness.run("data.csv",
target=...)` run the standard variants on a user's table; the task is inferred and said; bad
files, columns and targets are one line with exit 2."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine, make_regression

import harness
from harness.cli import main
from harness.core import suite_variants
from harness.store import Store
from harness.tables import infer_task, table_experiment
from tests.fakes import ENGINE


def wine_table(folder, suffix=".csv", groups=True):
    """scikit-learn's wine with text labels (what a user's file holds) and 30 vineyards."""
    frame = load_wine(as_frame=True).frame
    frame["cultivar"] = frame.pop("target").map({0: "barolo", 1: "grignolino", 2: "barbera"})
    if groups:
        frame["vineyard"] = [f"v{i % 30:02d}" for i in range(len(frame))]
    path = folder / f"wine{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("values, task", [
    (["a", "b", "a", "c"], "classification"),
    ([True, False, True, True], "classification"),
    ([0, 1, 2, 1, 0], "classification"),
    ([0.0, 1.0, 1.0, 0.0], "classification"),
    ([0.5, 1.25, 3.0, 2.0], "regression"),
    (list(range(50)), "regression"),  # 50 whole numbers: a count, not 50 classes
])
def test_the_task_is_inferred_from_the_target_and_the_reason_said(values, task):
    found, why = infer_task(pd.Series(values))
    assert found == task and why


def test_a_csv_runs_the_standard_variants_in_one_call_with_its_groups(tmp_path):
    path = wine_table(tmp_path)
    stream = io.StringIO()
    found = harness.run(str(path), target="cultivar", groups="vineyard", engine=ENGINE, quick=True,
                        db=tmp_path / "r.sqlite", reports_dir=tmp_path / "reports", progress=False, lines=False,
                        stream=stream)
    said = stream.getvalue()
    assert "wine.csv: task inferred as classification from the target 'cultivar'" in said
    assert set(found.splits["variant"]) == {v.name for v in suite_variants()}
    assert found.splits["split"].nunique() == 3 and (found.splits["status"] == "ok").all()
    assert found.page.name == "index.html" and found.page.parent.name == "wine-csv"
    assert "split by &#39;vineyard&#39; (30 groups)" in found.page.read_text()
    with Store(tmp_path / "r.sqlite") as store:
        data = store.dataset(store.results("wine-csv").run.data_fingerprint)
    assert "vineyard" not in data.X.columns and "cultivar" not in data.X.columns and data.X.shape[1] == 13


def test_a_parquet_file_and_an_explicit_task(tmp_path):
    X, y = make_regression(n_samples=60, n_features=3, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(grade=np.round(y - y.min()).astype(int) % 4)
    frame.to_parquet(tmp_path / "grades.parquet")
    cls = table_experiment(tmp_path / "grades.parquet", "grade", task="regression")
    assert cls.task == "regression" and not cls.inferred and cls.name == "grades-parquet"
    assert table_experiment(tmp_path / "grades.parquet", "grade").task == "classification"  # 4 whole numbers


def test_the_command_runs_a_file_and_says_the_task(tmp_path, capsys, monkeypatch):
    path = wine_table(tmp_path, groups=False)
    monkeypatch.chdir(tmp_path)
    code = main(["run", path.name, "--target", "cultivar", "--engine", ENGINE, "--quick", "--no-progress",
                 "--no-lines", "--db", "r.sqlite", "--reports-dir", "reports"])
    out = capsys.readouterr().out
    assert code == 0 and "task inferred as classification" in out
    assert (tmp_path / "reports" / "wine-csv" / "index.html").is_file()


def test_what_cannot_be_run_on_a_file_is_one_line_exit_2(tmp_path, capsys):
    good = wine_table(tmp_path)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all")
    text = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "label": ["a", "b", "a", "b"]})
    text.to_csv(tmp_path / "text.csv", index=False)
    cases = [
        ([str(good)], "name the column to predict"),
        ([str(good), "--target", "colour"], "no target column 'colour'; its columns are"),
        ([str(good), "--target", "cultivar", "--groups", "farm"], "no groups column 'farm'"),
        ([str(tmp_path / "missing.csv"), "--target", "y"], "no such data file"),
        ([str(tmp_path / "empty.csv"), "--target", "y"], "cannot be read as csv"),
        ([str(tmp_path / "garbage.parquet"), "--target", "y"], "cannot be read as parquet"),
        ([str(tmp_path / "text.csv"), "--target", "label", "--task", "regression"], "is not numeric"),
        (["wine", "--target", "y"], "--target apply to a data file"),
    ]
    for argv, words in cases:
        code = main(["run", *argv, "--db", str(tmp_path / "r.sqlite"), "--reports-dir", str(tmp_path / "reports"),
                     "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and words in err and "\n" not in err, (argv, err)
    assert not (tmp_path / "reports").exists()  # nothing trained, nothing written


def test_a_spreadsheets_csv_with_semicolons_and_latin1_reads_as_a_table(tmp_path):
    from harness.tables import read_table

    rows = "\n".join(f"{i};{i % 3};caf\xe9" for i in range(6))
    (tmp_path / "export.csv").write_bytes(f"x;label;\xe9tat\n{rows}\n".encode("latin-1"))
    frame = read_table(tmp_path / "export.csv")
    assert list(frame.columns) == ["x", "label", "\xe9tat"] and len(frame) == 6 and frame["\xe9tat"][0] == "caf\xe9"
