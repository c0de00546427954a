"""Tuned variants by nested cross-validation: the search space, the choice rules against
scikit-learn and hand computations, the inner splits never touching an outer test row, the
runner's waves, the store's roles, the page, resuming, and a real stacked run."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import HarnessError, Variant, log_grid, tuned
from harness.core import OK, REFIT
from harness.core.tuning import Search, choose, halving_rounds, next_round
from harness.store import Store
from tests.conftest import REPO, TinyClassification, TinyRegression, run_fake, run_paths

GRID = (1e-4, 1e-3, 1e-2, 1e-1)


class TunedRegression(TinyRegression):
    name = "tuned-regression"
    folds = 3
    variants = (Variant("none"), tuned("L2 (tuned)", l2=GRID), Variant("L2 1e-3", l2=1e-3))


# ---------------------------------------------------------------------- the search space
def test_a_search_is_refused_in_one_line_when_it_cannot_work():
    for bad, message in [({}, "at least one axis"), ({"l2": []}, "non-empty list"), ({"l2": [1e-3, -1.0]}, ">= 0"),
                         ({"dropout": [0.2, 1.0]}, "[0, 1)"), ({"l2": [1e-3, 1e-3]}, "repeats"),
                         ({"l1_l2": [1e-3], "l2": [1e-3]}, "cannot be combined")]:
        with pytest.raises(HarnessError, match=re_escape(message)):
            Search(bad)
    with pytest.raises(HarnessError, match="method"):
        Search({"l2": GRID}, method="bayes")
    with pytest.raises(HarnessError, match="inner_folds"):
        Search({"l2": GRID}, inner_folds=1)
    with pytest.raises(HarnessError, match="n_candidates"):
        Search({"l2": GRID}, method="random", n_candidates=9)
    with pytest.raises(HarnessError, match="different inner_folds"):
        exp = TinyClassification()
        exp.variants = (tuned("a", l2=GRID, inner_folds=3), tuned("b", l1=GRID, inner_folds=4))
        exp.check()


def re_escape(text):
    import re

    return re.escape(text)


def test_candidates_are_the_grid_or_a_seeded_draw_and_keep_the_variants_other_fields():
    variant = tuned("L1L2 + dropout", l1_l2=GRID, fixed={"dropout": 0.2})
    assert [(c.l1, c.l2, c.dropout, c.name) for c in variant.candidates()] == [
        (v, v, 0.2, "L1L2 + dropout") for v in GRID]
    both = Search({"l1": GRID, "dropout": (0.1, 0.5)})
    assert both.points() == [{"l1": a, "dropout": b} for a in GRID for b in (0.1, 0.5)]
    drawn = Search({"l1": GRID, "dropout": (0.1, 0.5)}, method="random", n_candidates=3, seed=7)
    assert drawn.candidates() == Search({"l1": GRID, "dropout": (0.1, 0.5)}, method="random", n_candidates=3,
                                        seed=7).candidates()
    assert len(drawn.candidates()) == 3 and all(c in both.points() for c in drawn.candidates())
    # a variant's configuration survives JSON (a run record keeps it) and a fixed one's is as before
    assert Variant(**json.loads(json.dumps(variant.config()))) == variant
    assert "search" not in Variant("L2", l2=1e-3).config()
    assert log_grid(1e-4, 1e-1, 4) == GRID


# ---------------------------------------------------------------------- the rules
def test_the_best_rule_and_the_one_standard_error_rule_on_a_hand_made_table():
    """Means 0.80, 0.84, 0.85, 0.83 (accuracy) with inner-fold spreads chosen by hand: the best
    is candidate 2; its standard error is sd/sqrt(3) = 0.03/sqrt(3) = 0.01732, so the bound is
    0.83268 and the most regularized candidate within it is 3 (mean 0.83333)."""
    folds = {0: [0.79, 0.80, 0.81], 1: [0.83, 0.84, 0.85], 2: [0.82, 0.85, 0.88], 3: [0.83, 0.83, 0.84]}
    scores = {(c, f): v for c, values in folds.items() for f, v in enumerate(values)}
    best = choose(Search({"l2": GRID}), scores, greater_is_better=True)
    assert best.index == 2 and best.candidate == {"l2": 1e-2}
    means = {c: np.mean(v) for c, v in folds.items()}
    se = np.std(folds[2], ddof=1) / math.sqrt(3)
    assert math.isclose(best.table.at[2, "se"], se)
    within = [c for c in folds if means[c] >= means[2] - se]
    one_se = choose(Search({"l2": GRID}, rule="1se"), scores, greater_is_better=True)
    assert one_se.index == max(within) == 3
    # an error score: lower is better, the bound is above the best
    errors = {k: 1 - v for k, v in scores.items()}
    assert choose(Search({"l2": GRID}), errors, greater_is_better=False).index == 2
    assert choose(Search({"l2": GRID}, rule="1se"), errors, greater_is_better=False).index == 3
    # a candidate that failed on a fold is not eligible; nothing eligible: no choice, and why
    failed = {**scores, (2, 1): None}
    assert choose(Search({"l2": GRID}), failed, greater_is_better=True).index == 1
    nothing = choose(Search({"l2": GRID}), {k: None for k in scores}, greater_is_better=True)
    assert nothing.candidate is None and "failed" in nothing.reason


def test_successive_halving_keeps_the_best_third_and_gives_them_every_fold():
    search = Search({"l2": log_grid(1e-6, 1e-0, 7)}, method="halving", inner_folds=3, factor=3)
    assert halving_rounds(search) == [1, 3]
    first = next_round(search, {})
    assert first == [(c, 0) for c in range(7)]
    scores = {(c, 0): 0.9 - abs(c - 4) * 0.01 for c in range(7)}  # best 4, then 3 and 5
    second = next_round(search, scores)
    assert sorted({c for c, _ in second}) == [3, 4, 5] and {f for _, f in second} == {1, 2}
    scores.update({(c, f): 0.9 - abs(c - 3) * 0.01 for c in (3, 4, 5) for f in (1, 2)})
    assert next_round(search, scores) is None
    # 3 on folds 0..2: 0.89, 0.90, 0.90 beats 4: 0.90, 0.89, 0.89
    assert choose(search, scores, greater_is_better=True).index == 3


def test_the_choice_is_what_gridsearchcv_picks_from_the_same_inner_scores(workdir):
    """The harness's inner scores (stored) handed to scikit-learn's GridSearchCV through an
    estimator whose score is the stored score of its parameter on that inner split: the
    best_params_ of every outer split is the candidate the harness retrained."""
    from sklearn.base import BaseEstimator
    from sklearn.model_selection import GridSearchCV

    exp = TunedRegression()
    run_fake([exp], workdir)
    with Store(workdir.db) as store:
        results = store.results(exp.name)
    data = exp.load_data(None)
    refits = results.splits[results.splits["role"] == REFIT].set_index("split")
    assert len(refits) == exp.folds and (refits["status"] == OK).all()
    for outer, (train, _test) in enumerate(exp.make_splitter().split(data.X, data.y)):
        train = np.sort(train)
        inner = list(exp.inner_splitter(3, outer).split(data.X.iloc[train], data.y.to_numpy()[train]))
        stored = results.inner[results.inner["split"] == outer]
        table = {(json.loads(c)["l2"], int(i)): s for c, i, s in zip(stored["candidate"], stored["inner_split"],
                                                                     stored["score"])}
        fold_of = {int(te[0]): i for i, (_, te) in enumerate(inner)}

        class Stored(BaseEstimator):
            def __init__(self, l2=0.0):
                self.l2 = l2

            def fit(self, X, y):
                return self

            def score(self, X, y):  # RMSE: lower is better, GridSearchCV maximizes
                return -table[(self.l2, fold_of[int(X[0, 0])])]

        rows = np.arange(len(train))[:, None]
        search = GridSearchCV(Stored(), {"l2": list(GRID)}, cv=[(tr, te) for tr, te in inner], refit=False)
        search.fit(rows, np.zeros(len(train)))
        assert json.loads(refits.at[outer, "candidate"]) == search.best_params_


# ---------------------------------------------------------------------- no outer test row inside
SPLITTERS = ["KFold", "StratifiedKFold", "ShuffleSplit", "RepeatedStratifiedKFold", "StratifiedShuffleSplit"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.integers(45, 90), kind=st.sampled_from(SPLITTERS), inner=st.integers(2, 4),
       seed=st.integers(0, 1000), task=st.sampled_from(["classification", "regression"]))
def test_no_outer_test_row_is_ever_in_an_inner_split(rows, kind, inner, seed, task):
    from sklearn import model_selection

    from harness.splits import make_splits
    from harness.tuning import inner_splits

    stratified = "Stratified" in kind
    if stratified and task == "regression":
        task = "classification"
    base = TinyClassification if task == "classification" else TinyRegression
    cls = getattr(model_selection, kind)
    splitter = (cls(n_splits=3, n_repeats=2, random_state=seed) if "Repeated" in kind
                else cls(n_splits=3, test_size=0.25, random_state=seed) if "Shuffle" in kind
                else cls(n_splits=3, shuffle=True, random_state=seed))

    class Exp(base):
        variants = (Variant("none"), tuned("L2 (tuned)", l2=GRID, inner_folds=inner))

        def load_data(self, data_dir):
            from tests.conftest import tiny_classification, tiny_regression

            return (tiny_classification if task == "classification" else tiny_regression)(n=rows, seed=seed)

        def splitter(self):
            return splitter

    exp = Exp()
    exp.seed = seed
    data = exp.load_data(None)
    divisions = make_splits(exp, data, splitter)
    table = inner_splits(exp, data, divisions)
    assert set(table) == {(o, i) for o in range(len(divisions)) for i in range(inner)}
    for (outer, _), fd in table.items():
        train, test = divisions[outer]
        seen = np.concatenate([fd.fit_index, fd.test_index] + ([fd.val_index] if fd.val_index is not None else []))
        assert np.isin(seen, train).all() and not np.isin(seen, test).any()
        assert not np.intersect1d(fd.fit_index, fd.test_index).size


# ---------------------------------------------------------------------- the run, the store, the page
def test_a_tuned_run_stores_inner_and_refit_jobs_and_its_page_is_rebuilt_from_the_store(workdir):
    from harness.report import write_experiment_report

    exp = TunedRegression()
    outcomes, text = run_fake([exp], workdir)
    assert "L2 (tuned): the inner CV chose" in text
    with Store(workdir.db) as store:
        results = store.results(exp.name)
        rows = store.rows(experiment=exp.name)
        # 3 outer splits × 4 candidates × 3 inner splits, keyed, planned and stored with their role
        assert (rows["role"] == "inner").sum() == 3 * 4 * 3 and (rows["role"] == REFIT).sum() == 3
        assert rows["job_key"].is_unique and set(results.splits["variant"]) == {"none", "L2 (tuned)", "L2 1e-3"}
        assert outcomes[0].ok == 9  # outer jobs: 3 variants × 3 splits; the inner fits are not counted
        # what the inner CV saw on outer split 1
        seen = results.inner[results.inner["split"] == 1]
        assert len(seen) == 12 and set(seen["inner_split"]) == {0, 1, 2}
        (workdir.reports / exp.name / "index.html").unlink()
        page = write_experiment_report(store, exp.name, workdir.reports)  # no definition: the store alone
    html = page.read_text()
    assert "Tuned variants: what the inner cross-validation chose" in html and "l2=" in html
    from harness.stats import tuning

    picked = tuning.choices(results)
    assert picked["agrees"].all() and len(picked) == 3
    curves = tuning.inner_curves(results)
    assert len(curves) == 3 * 4 and curves.groupby("split")["chosen"].sum().eq(1).all()
    assert tuning.stability(results).iloc[0]["splits"] == 3
    # what regularizes it is read from its most regularized candidate's model, and says it is tuned
    found = results.regularization("L2 (tuned)")
    assert found.family == "L2, tuned" and found.penalty_strength == 0.1 and "l2 in {" in found.describe()
    assert results.baseline == "none"


def test_a_second_run_finds_every_inner_and_refit_job_and_trains_nothing(workdir):
    run_fake([TunedRegression()], workdir)
    outcomes, text = run_fake([TunedRegression()], workdir)
    assert outcomes[0].ok == 0 and outcomes[0].found_done == 3 * 3 and "found done" in text  # 6 fixed + 3 refits


def test_halving_and_random_searches_run_end_to_end(workdir):
    class Searches(TunedRegression):
        name = "searches"
        variants = (Variant("none"), tuned("halving", l2=log_grid(1e-6, 1e0, 7), method="halving"),
                    tuned("random", l2=log_grid(1e-6, 1e0, 7), method="random", n_candidates=3, seed=1))

    run_fake([Searches()], workdir)
    with Store(workdir.db) as store:
        results = store.results("searches")
    per_outer = results.inner.groupby(["variant", "split"]).size()
    assert (per_outer.loc["halving"] == 7 * 1 + 3 * 2).all()  # 7 on one fold, the best 3 on two more
    assert (per_outer.loc["random"] == 3 * 3).all()
    assert results.splits[results.splits["role"] == REFIT].groupby("variant").size().to_dict() == {
        "halving": 3, "random": 3}


def test_every_candidate_failing_is_a_failed_refit_with_the_reason(workdir):
    class Failing(TunedRegression):
        name = "all-fail"
        variants = (Variant("none"), tuned("broken", l2=GRID[:2], settings={"fake_failure": "diverged"}))

    outcomes, _ = run_fake([Failing()], workdir)
    with Store(workdir.db) as store:
        refits = store.results("all-fail").splits.query("role == 'refit'")
    assert len(refits) == 3 and (refits["status"] == "failed").all()
    assert refits["reason"].str.contains("every candidate failed").all()


def test_the_api_gives_the_choices_as_a_dataframe(workdir):
    import harness

    res = harness.run(TunedRegression(), engine="fake", db=workdir.db, reports_dir=workdir.reports,
                      data_dir=workdir.data, lines=False, progress=False)
    assert list(res.choices["split"]) == [0, 1, 2] and set(res.choices["l2"]) <= set(GRID)
    assert "L2 (tuned)" in set(res.comparison.index) | set(res.comparison.get("variant", []))


# ---------------------------------------------------------------------- resume after a kill
KILLED = textwrap.dedent('''
    from harness import Variant, tuned
    from tests.conftest import TinyRegression
    import tests.fakes  # registers the fake trainer

    class KillTuned(TinyRegression):
        name = "kill-tuned"
        folds = 3
        variants = (Variant("none"), tuned("L2 (tuned)", l2=(1e-4, 1e-3, 1e-2, 1e-1)))
''')


@pytest.mark.slow  # ~25 s; resuming after a kill is tested under make test in test_kill.py and test_liveness.py
def test_a_run_killed_in_the_middle_of_an_inner_grid_resumes_it(tmp_path):
    """Each candidate's nine inner jobs are one task of the fake trainer (0.2 s a job); the run is
    killed once some but not all of the 36 inner jobs are stored; the same command finishes
    with the rows of an uninterrupted run, training only what was missing."""
    import sqlite3
    import time

    from harness import load_results

    (tmp_path / "kill_tuned.py").write_text(KILLED)
    paths = run_paths(tmp_path / "killed")

    def command(where, seconds):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "HARNESS_FAKE_SECONDS": str(seconds),
               "PYTHONPATH": str(REPO)}
        return subprocess.Popen(
            [sys.executable, "-m", "harness", "run", str(tmp_path / "kill_tuned.py"), "--no-progress", "--engine",
             "fake", "--db", str(where.db), "--reports-dir", str(where.reports), "--data-dir", str(where.data)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stored():
        if not paths.db.exists():
            return 0
        with sqlite3.connect(paths.db, timeout=30) as connection:
            try:
                return connection.execute("SELECT COUNT(*) FROM results WHERE role = 'inner'").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    process = command(paths, 0.2)
    deadline = time.monotonic() + 120
    while stored() < 9:
        assert time.monotonic() < deadline and process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    kept = stored()
    assert 9 <= kept < 36
    resumed = command(paths, 0.0)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert f"{kept} of" in out and "found done" in out
    whole = run_paths(tmp_path / "whole")
    straight = command(whole, 0.0)
    straight.communicate(timeout=300)
    columns = ["job_key", "variant", "split", "role", "inner_split", "candidate", "score", "status"]
    a = load_results(paths.db)[columns].sort_values("job_key").reset_index(drop=True)
    b = load_results(whole.db)[columns].sort_values("job_key").reset_index(drop=True)
    assert len(a) == 3 + 36 + 3  # none on 3 outer splits, 4 candidates × 3 inner × 3 outer, 3 refits
    pd.testing.assert_frame_equal(a, b)


def test_the_stacked_engine_trains_inner_and_refit_members_of_a_real_network(workdir):
    """Inner splits (keyed by (outer, inner)) through the real stacked engine: every inner and
    refit member trains and is scored, and a refit scores as the same candidate trained as a
    fixed variant on the same split does (same seed, same rows: the same member)."""
    from tests.conftest import run_quietly

    class Real(TinyClassification):
        name = "tuned-stacked"
        variants = (Variant("none"), tuned("L2 (tuned)", l2=(1e-3, 1e-1)), Variant("L2 (tuned)x", l2=1e-1))

    _, text = run_quietly([Real()], workdir, engine="stacked")
    assert "4 members (variant × split) (and the refits" in text and "12 members of that inner cross-validation" in text
    with Store(workdir.db) as store:
        results = store.results("tuned-stacked")
    assert (results.inner["status"] == OK).all() and len(results.inner) == 2 * 2 * 3
    assert (results.splits["status"] == OK).all()
    refits = results.splits[results.splits["role"] == REFIT]
    fixed = results.splits[results.splits["variant"] == "L2 (tuned)x"].set_index("split")["score"]
    for row in refits.itertuples():
        if json.loads(row.candidate) == {"l2": 1e-1}:
            assert row.score == pytest.approx(fixed[row.split], abs=1e-6)


def test_an_inner_fit_not_trained_where_it_ran_is_trained_again_in_the_same_run(workdir, tmp_path):
    """A task of inner fits that comes back 'error' (its worker died) is not a failed candidate:
    the next round trains it again, and the choice is made from every fold."""
    flag = tmp_path / "raised"

    class Flaky(TunedRegression):
        name = "flaky"
        variants = (Variant("none"), tuned("L2 (tuned)", l2=GRID, settings={"fake_error_once": str(flag)}))

    run_fake([Flaky()], workdir)
    assert flag.exists()
    with Store(workdir.db) as store:
        results = store.results("flaky")
    assert (results.inner["status"] == OK).all() and len(results.inner) == 4 * 3 * 3
    refits = results.splits.query("role == 'refit'")
    assert (refits["status"] == OK).all()


def test_review_cases_of_the_search_space():
    # a setting's values keep their type (a layer's units must stay an int)
    assert Search({"units": [32, 64]}).grid["units"] == (32, 64)
    # halving never carries a candidate that failed into the next round while others passed
    search = Search({"l2": GRID + (1.0, 10.0)}, method="halving", factor=3)
    scores = {(c, 0): (None if c < 5 else 0.5) for c in range(6)}
    assert next_round(search, scores) is None  # one candidate passed: it is the last one standing
    assert choose(search, scores, greater_is_better=True).index == 5
    scores = {(c, 0): (None if c < 4 else 0.5 + c / 100) for c in range(6)}
    assert {c for c, _ in next_round(search, scores)} == {4, 5}
    # a random draw is the same whatever the library versions: it hashes (seed, position)
    drawn = Search({"l2": GRID}, method="random", n_candidates=2, seed=3).candidates()
    assert drawn == Search({"l2": GRID}, method="random", n_candidates=2, seed=3).candidates() and len(drawn) == 2


def test_an_inner_splitter_that_does_not_split_the_training_rows_is_one_line(workdir):
    class Bad(TunedRegression):
        name = "bad-inner"

        def inner_splitter(self, n_splits, outer_split):
            class Broken:
                def split(self, X, y=None, groups=None):
                    for _ in range(n_splits):
                        yield np.arange(len(X)), np.arange(3)  # scores rows it trains on

            return Broken()

    with pytest.raises(HarnessError, match="inner split 0 of outer split 0 is not a split") as raised:
        run_fake([Bad()], workdir)
    assert "\n" not in str(raised.value)


def test_a_tuned_experiments_outer_wave_does_not_wait_for_another_experiments_tasks(workdir, monkeypatch):
    """Waves are per experiment: a tuned experiment's outer jobs and refits are submitted as
    soon as its own inner CV is stored, not when every experiment's current wave has finished.
    Here the executor runs the other experiment's tasks only when nothing else is queued: the
    tuned experiment's outer wave must come before them (under global waves it came after)."""
    from harness.executors import InProcess, Serial, execute
    from harness.runner import orchestrate

    ran: list[tuple[str, str]] = []

    class OthersLast(Serial):
        def __iter__(self):
            while self.queue:
                task = next((t for t in self.queue if t.exp.name != "other"), self.queue[0])
                self.queue.remove(task)
                ran.append((task.exp.name, task.jobs[0].role))
                yield task, execute(task)

    class Executor(InProcess):
        def stream(self):
            return OthersLast()

    class Other(TinyClassification):
        name = "other"

    monkeypatch.setattr(orchestrate, "make_executor", lambda *args, **kwargs: Executor())
    outcomes, _ = run_fake([Other(), TunedRegression()], workdir)
    assert [o.ok for o in outcomes] == [4, 9]
    roles = [role for name, role in ran if name == TunedRegression.name]
    assert roles[0] == "inner" and roles[-1] != "inner"  # its inner CV, then its outer wave
    first_other = next(i for i, (name, _) in enumerate(ran) if name == "other")
    assert all(name != TunedRegression.name for name, _ in ran[first_other:])  # all of it before the other's
