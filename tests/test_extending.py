"""The extension points as README shows them: a report section on every page, an engine by
name, and the code kept to the shape the project promises."""
import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from harness import Section, load_results
from harness.engines import engines, register_trainer, unregister_trainer
from harness.report import SECTIONS
from tests.conftest import REPO, TinyClassification, run_fake, run_quietly
from harness.core import FAILED
from harness.engines.base import make_record
from tests.fakes import FakeTrainer


def test_a_section_added_to_the_list_appears_on_every_page(workdir):
    def epochs_trained(results):
        table = results.scores().groupby("variant", as_index=False)["epochs"].mean()
        return Section("Epochs <trained>", "Per variant, mean over the splits.", table=table, csv="epochs.csv")

    SECTIONS.append(epochs_trained)
    try:
        run_fake([TinyClassification()], workdir)
    finally:
        SECTIONS.remove(epochs_trained)
    folder = workdir.reports / TinyClassification.name
    page = (folder / "index.html").read_text()
    assert "Epochs &lt;trained&gt;" in page and 'href="epochs.csv"' in page
    stored = load_results(workdir.db)
    expected = stored.groupby("variant")["epochs"].mean()
    exported = pd.read_csv(folder / "epochs.csv").set_index("variant")["epochs"]
    assert exported.to_dict() == expected.to_dict()


class Renamed(FakeTrainer):
    """The fake trainer under another name: a registered engine."""

    name = "renamed"
    numerics = "renamed/1"


def test_a_registered_trainer_is_an_engine_by_name(workdir):
    register_trainer("renamed", Renamed, "the fake trainer, registered again by a test")
    try:
        assert "renamed" in engines()
        run_quietly([TinyClassification()], workdir, engine="renamed")
        mine = load_results(workdir.db).sort_values(["variant", "split"])
        run_fake([TinyClassification()], workdir)
        original = load_results(workdir.db).sort_values(["variant", "split"])
    finally:
        unregister_trainer("renamed")
    assert set(mine["engine"]) == {"renamed"} and set(original["engine"]) == {"fake"}
    assert set(mine["job_key"]).isdisjoint(original["job_key"])  # its own numerics: its own keys
    np.testing.assert_allclose(mine["score"].to_numpy(), original["score"].to_numpy())
    assert "renamed" not in engines()


class Picky(FakeTrainer):
    """A trainer that takes no variant with an L2 penalty."""

    name, numerics = "picky", "picky/1"

    def skip(self, exp, splits, job):
        return "it trains no L2 penalty" if job.variant.l2 else None


class CatchAll(FakeTrainer):
    name, numerics = "catch-all", "catch-all/1"


def test_a_trainer_is_registered_under_its_own_name_and_a_new_factory_is_a_new_trainer(workdir):
    """Records, keys and tasks carry a trainer's own name, so it must be the registered one; and
    a factory registered again under a name that was freed is the one that trains."""
    from harness.errors import HarnessError

    register_trainer("not-its-name", Renamed, "a trainer whose own name is 'renamed'")
    try:
        with pytest.raises(HarnessError, match="registered under another name than its own, 'renamed'"):
            run_quietly([TinyClassification()], workdir, engine="not-its-name")
    finally:
        unregister_trainer("not-its-name")

    class Failing(Renamed):
        def run(self, exp, dataset, splits, jobs, emit):
            for job in jobs:
                emit(make_record(exp, dataset, job, self.name, FAILED, "the second factory"))

    register_trainer("renamed", Renamed, "first")
    try:
        run_quietly([TinyClassification()], workdir, engine="renamed")
    finally:
        unregister_trainer("renamed")
    register_trainer("renamed", Failing, "second")
    try:
        run_quietly([TinyClassification()], workdir, engine="renamed", fresh=True)
    finally:
        unregister_trainer("renamed")
    assert set(load_results(workdir.db)["reason"]) == {"the second factory"}


def test_a_registered_trainer_joins_auto_in_its_rank_and_the_page_says_why_it_passed(workdir):
    """`auto` asks the trainers in rank order; a job one skips goes to the next, and the page
    names the trainer that passed it over and why; no behaviour depends on a trainer's name."""
    register_trainer("picky", Picky, "fake fits, but no L2", auto=1)
    register_trainer("catch-all", CatchAll, "fake fits of anything", auto=2)
    try:
        assert list(engines())[:1] == ["auto"] and "first of picky, catch-all, stacked, keras" in engines()["auto"]
        run_quietly([TinyClassification()], workdir)
    finally:
        unregister_trainer("picky")
        unregister_trainer("catch-all")
    stored = load_results(workdir.db).set_index("variant")
    assert set(stored.loc["none", "engine"]) == {"picky"} and set(stored.loc["L2 1e-3", "engine"]) == {"catch-all"}
    page = (workdir.reports / TinyClassification.name / "index.html").read_text()
    assert "Variant &#39;L2 1e-3&#39; trained with fake fits of anything (catch-all engine), not picky: it trains " \
           "no L2 penalty" in page


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
