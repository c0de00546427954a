"""The extension points as README shows them: a report section on every page, an engine by
name, and the code kept to the shape the project promises."""
import ast
from pathlib import Path

import numpy as np
import pandas as pd

import harness
from harness import Section, load_results
from harness.engines import ENGINES, TRAINERS, register_trainer
from harness.engines.keras_fit import KerasFitEngine
from harness.report import SECTIONS
from tests.conftest import REPO, TinyClassification, run_quietly


def test_a_section_added_to_the_list_appears_on_every_page(workdir):
    def epochs_trained(results):
        table = results.scores().groupby("variant", as_index=False)["epochs"].mean()
        return Section("Epochs <trained>", "Per variant, mean over the splits.", table=table, csv="epochs.csv")

    SECTIONS.append(epochs_trained)
    try:
        run_quietly([TinyClassification()], workdir)
    finally:
        SECTIONS.remove(epochs_trained)
    folder = workdir.reports / TinyClassification.name
    page = (folder / "index.html").read_text()
    assert "Epochs &lt;trained&gt;" in page and 'href="epochs.csv"' in page
    stored = load_results(workdir.db)
    expected = stored.groupby("variant")["epochs"].mean()
    exported = pd.read_csv(folder / "epochs.csv").set_index("variant")["epochs"]
    assert exported.to_dict() == expected.to_dict()


class Renamed(KerasFitEngine):
    """The plain Keras trainer under another name: a registered engine."""

    name = "plain-fit"
    numerics = "plain-fit/1"


def test_a_registered_trainer_is_an_engine_by_name(workdir):
    register_trainer("plain-fit", Renamed, "one model.fit per split, registered by a test")
    try:
        run_quietly([TinyClassification()], workdir, engine="plain-fit")
        mine = load_results(workdir.db).sort_values(["variant", "split"])
        run_quietly([TinyClassification()], workdir, engine="keras")
        plain = load_results(workdir.db).sort_values(["variant", "split"])
    finally:
        TRAINERS.pop("plain-fit")
        ENGINES.pop("plain-fit")
    assert set(mine["engine"]) == {"plain-fit"} and set(plain["engine"]) == {"keras"}
    np.testing.assert_allclose(mine["score"].to_numpy(), plain["score"].to_numpy())


def _functions(root: Path):
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(REPO), node.name, node.end_lineno - node.lineno + 1


def test_no_function_is_longer_than_sixty_lines():
    found = [(str(path), name, n) for root in ("harness", "experiments")
             for path, name, n in _functions(REPO / root)]
    assert len(found) > 300  # the walk sees the code
    assert [f for f in found if f[2] > 60] == []


def test_every_public_name_is_documented_in_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert [name for name in harness.__all__ if f"`{name}" not in readme] == []
