"""examples/quickstart.ipynb runs top to bottom on a fresh kernel (nbclient), in a folder of
its own, and shows what the store holds."""
from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel imports the harness from this checkout (the notebook's own text says to pip-install it)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "HARNESS_DATA_DIR": str(folder / "data")}
    # a kernel of this interpreter, whatever kernels the machine's Jupyter knows (JUPYTER_PATH comes first)
    spec = folder / "jupyter" / "kernels" / "regbench-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "regbench test", "language": "python"}))
    before = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(folder / "jupyter")
    try:
        client = NotebookClient(notebook, timeout=600, kernel_name="regbench-test",
                                resources={"metadata": {"path": str(folder)}})
        client.execute(env=env)  # raises CellExecutionError on any error
    finally:
        if before is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = before
    return folder, notebook


def _outputs(notebook, kind):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
            if output.output_type == kind]


def test_the_notebook_runs_without_errors_and_writes_in_its_own_folder(executed):
    folder, notebook = executed
    assert not _outputs(notebook, "error")
    assert (folder / "reports" / "results.sqlite").is_file()
    assert (folder / "reports" / "quickstart-breast-cancer" / "index.html").is_file()
    # no stray outputs: Keras' captured model summary once showed as empty HTML blocks
    assert not any("<pre" in output.get("data", {}).get("text/html", "") for output in _outputs(notebook, "display_data"))


def test_the_results_show_inline_with_the_stored_scores(executed):
    folder, notebook = executed
    shown = [output["data"]["text/html"] for output in _outputs(notebook, "execute_result")
             if "regbench-results" in output["data"].get("text/html", "")]
    assert len(shown) == 1
    html = shown[0]
    assert "data:image/png;base64," in html and "<table" in html
    with sqlite3.connect(folder / "reports" / "results.sqlite") as db:
        rows = pd.read_sql_query("SELECT variant, split, score FROM results WHERE status = 'ok'", db)
    assert len(rows) == 4 * 3  # 4 variants × 3 quick folds
    for variant, mean in rows.groupby("variant")["score"].mean().items():
        assert f">{variant}<" in html and f">{mean:.4f}<" in html
    # the last cell reads the store again: the same means, to the digits pandas prints
    last = _outputs(notebook, "execute_result")[-1]["data"]["text/plain"]
    for variant, mean in rows.groupby("variant")["score"].mean().items():
        assert any(line.split()[0] == variant and abs(float(line.split()[-1]) - mean) < 1e-6
                   for line in last.splitlines() if line.split() and line.split()[0] == variant)
