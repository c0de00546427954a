"""The Python API (`harness.run`, `harness.results`): what a notebook user gets back, checked
against the store's rows and NumPy, and the API's refusals. The fake trainer (tests/fakes.py)
trains: what is under test is what the API returns of a run."""
from __future__ import annotations

import io
import sqlite3
import textwrap

import numpy as np
import pandas as pd
import pytest

import harness
from harness import HarnessError

from .conftest import TinyClassification
from .fakes import ENGINE


def _run(workdir, experiment=None, **kwargs):
    kwargs.setdefault("engine", ENGINE)
    stream = io.StringIO()
    found = harness.run(experiment or TinyClassification(), db=workdir.db, reports_dir=workdir.reports,
                        data_dir=workdir.data, stream=stream, progress=False, **kwargs)
    return found, stream.getvalue()


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    from .conftest import run_paths

    workdir = run_paths(tmp_path_factory.mktemp("api"))
    found, printed = _run(workdir, epochs=4, folds=3)
    return workdir, found, printed


def test_run_returns_the_comparison_and_paired_tables_of_the_stored_rows(ran):
    workdir, found, printed = ran
    # the store's own rows, read with sqlite3, are the independent truth
    with sqlite3.connect(workdir.db) as db:
        rows = pd.read_sql_query("SELECT variant, split, status, score FROM results WHERE run_id = ?", db,
                                 params=(found.run_id,))
    assert len(rows) == 2 * 3 and set(rows["status"]) == {"ok"}
    means = rows.groupby("variant")["score"].mean()
    assert sorted(found.comparison.index) == sorted(means.index)
    assert found.comparison["mean"].is_monotonic_decreasing  # best first (accuracy)
    np.testing.assert_allclose(found.comparison.loc[means.index, "mean"], means, rtol=1e-12)
    np.testing.assert_allclose(found.comparison.loc[means.index, "stdev"],
                               rows.groupby("variant")["score"].agg(lambda s: np.std(s, ddof=0))[means.index])
    assert found.comparison.loc["none", "verdict"] == "baseline"
    assert found.comparison.attrs["score"] == "accuracy" and found.comparison.attrs["baseline"] == "none"

    pivot = rows.pivot(index="split", columns="variant", values="score")
    diff = pivot["L2 1e-3"] - pivot["none"]
    paired = found.paired
    assert list(paired.index) == ["L2 1e-3"]
    assert paired.loc["L2 1e-3", "pairs"] == 3
    assert paired.loc["L2 1e-3", "difference"] == pytest.approx(diff.mean(), abs=1e-12)
    assert paired.loc["L2 1e-3", "wins"] == int((diff > 0).sum())
    assert paired.loc["L2 1e-3", "losses"] == int((diff < 0).sum())
    assert found.comparison.loc["L2 1e-3", "difference"] == pytest.approx(diff.mean(), abs=1e-12)

    # per-split rows, and Heaton's lines printed as the command line prints them
    assert len(found.splits) == 6 and set(found.splits["variant"]) == {"none", "L2 1e-3"}
    assert printed.count("#1: score=") == 2


def test_run_writes_the_page_and_shows_it_inline(ran):
    _, found, _ = ran
    assert found.page is not None and found.page.is_file() and found.page.name == "index.html"
    html = found._repr_html_()
    assert "<table" in html and "data:image/png;base64," in html
    for name in ("none", "L2 1e-3"):
        assert f">{name}<" in html
    assert f"{found.comparison.loc['none', 'mean']:.4f}" in html
    text = repr(found)
    assert "tiny-classification" in text and "6/6 fits ok" in text


def test_results_loads_the_latest_run_and_a_second_run_resumes(ran):
    workdir, found, _ = ran
    loaded = harness.results("tiny-classification", db=workdir.db, reports_dir=workdir.reports)
    assert loaded.run_id == found.run_id and loaded.page == found.page
    pd.testing.assert_frame_equal(loaded.comparison, found.comparison)
    # the same call again trains nothing: every job is found in the store
    again, printed = _run(workdir, epochs=4, folds=3, lines=False)
    assert "6 of 6 jobs found done" in printed
    assert "#1: score=" not in printed
    pd.testing.assert_series_equal(again.comparison["mean"], found.comparison["mean"])
    assert list(harness.results(TinyClassification, db=workdir.db).splits["job_key"]) == list(again.splits["job_key"])


def test_lines_off_keeps_the_summary(workdir):
    _, printed = _run(workdir, lines=False)
    assert "#1: score=" not in printed and "== tiny-classification" not in printed
    assert "tiny-classification: 4 jobs ok, 0 failed" in printed and "report: " in printed


def test_run_takes_a_class_a_file_and_a_built_in_name(workdir, tmp_path):
    found, _ = _run(workdir, TinyClassification, lines=False)
    assert found.experiment == "tiny-classification"
    path = tmp_path / "mine.py"
    path.write_text(textwrap.dedent("""
        from tests.conftest import TinyClassification

        class Mine(TinyClassification):
            name = "mine"
    """))
    assert _run(workdir, str(path), lines=False)[0].experiment == "mine"
    with pytest.raises(HarnessError, match="unknown experiment 'no-such'; 'regbench list' shows"):
        harness.run("no-such")


def test_a_built_in_by_name_and_an_older_run_by_id(workdir):
    first, _ = _run(workdir, "wine", quick=True, epochs=1, folds=2, lines=False)
    # the suite's eight variants on 2 outer splits, four of them tuned: 3 candidates × 3 inner splits each
    assert first.experiment == "wine" and len(first.splits) == 8 * 2 and len(first.inner) == 4 * 3 * 3 * 2
    assert len(first.choices) == 4 * 2
    assert type(first.definition).__module__ == "harness.builtin.sklearn_suite"
    second, _ = _run(workdir, "wine", quick=True, epochs=1, folds=2, lines=False, fresh=True)
    assert second.run_id != first.run_id
    latest = harness.results("wine", db=workdir.db, reports_dir=workdir.reports)
    assert latest.run_id == second.run_id and latest.page == second.page
    assert type(latest.definition).__module__ == "harness.builtin.sklearn_suite"  # its own report sections
    older = harness.results("wine", db=workdir.db, reports_dir=workdir.reports, run_id=first.run_id)
    assert older.run_id == first.run_id and older.page is None  # the page shows the latest run
    with pytest.raises(HarnessError, match="wine has no run 'nope'"):
        harness.results("wine", db=workdir.db, run_id="nope")


@pytest.mark.parametrize("call, message", [
    (lambda w: _run(w, epochs=0), "epochs"),
    (lambda w: _run(w, epoch=3), "unknown option.*'epoch'"),
    (lambda w: _run(w, 42), "cannot run 42"),
    (lambda w: harness.results("tiny-classification", db=w.db), "no results store"),
])
def test_bad_calls_raise_one_line_and_store_nothing(workdir, call, message):
    with pytest.raises(HarnessError, match=message) as raised:
        call(workdir)
    assert "\n" not in str(raised.value)
    assert not workdir.db.exists()


def test_results_of_an_unknown_experiment_names_the_stored_ones(ran):
    workdir, _, _ = ran
    with pytest.raises(HarnessError, match="no stored results of 'other'.*tiny-classification"):
        harness.results("other", db=workdir.db)


def test_a_file_with_two_experiments_asks_for_one(workdir, tmp_path):
    path = tmp_path / "two.py"
    path.write_text(textwrap.dedent("""
        from tests.conftest import TinyClassification

        class One(TinyClassification):
            name = "one"

        class Two(TinyClassification):
            name = "two"
    """))
    with pytest.raises(HarnessError, match="defines 2 experiments"):
        _run(workdir, str(path))
