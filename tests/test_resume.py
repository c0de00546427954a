"""Resume: every job has a stable key; a run trains only the jobs the store does not hold."""
import subprocess
import sys

import pandas as pd
import pytest

from harness import Variant, load_results
from harness.core import RunRecord, SplitRecord
from harness.runner import plan, prepare
from harness.store import Store
from tests.conftest import REPO, FakeFailing, TinyClassification, run_fake


def planned_keys(exp, tmp_path, engine="auto"):
    item = prepare(exp, tmp_path)
    plan(item, engine)
    return [job.key for job in item.planned]


def test_keys_are_stable_across_processes_and_follow_what_determines_a_result(tmp_path):
    import keras

    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])  # Keras now numbers layer names from here
    keys = planned_keys(TinyClassification(), tmp_path)
    assert len(set(keys)) == len(keys) == 4
    code = ("import sys; sys.path.insert(0, '.'); from pathlib import Path; "
            "from tests.test_resume import planned_keys; from tests.conftest import TinyClassification; "
            f"print(' '.join(planned_keys(TinyClassification(), Path({str(tmp_path)!r}))))")
    other = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert other.stdout.split() == keys  # a fresh interpreter builds its models anew: same keys

    def differs(exp, engine="auto"):
        return set(planned_keys(exp, tmp_path, engine)).isdisjoint(keys)

    assert differs(TinyClassification(), engine="keras")  # same distribution, not the same bits
    assert differs(TinyClassification().configured(epochs=4))
    assert differs(TinyClassification().configured(seed=1))

    class OtherData(TinyClassification):
        name = "tiny-classification"

        def load_data(self, data_dir):
            data = super().load_data(data_dir)
            data.X.iloc[0, 0] += 1e-9
            return data

    assert differs(OtherData())

    class OtherModel(TinyClassification):
        name = "tiny-classification"
        hidden_units = (9,)

    assert differs(OtherModel())

    class OneMoreVariant(TinyClassification):
        name = "tiny-classification"
        variants = TinyClassification.variants + (Variant("L1 1e-3", l1=1e-3),)

    assert planned_keys(OneMoreVariant(), tmp_path)[:4] == keys


def test_a_second_run_trains_nothing_and_reports_the_same_rows(workdir):
    run_fake([TinyClassification()], workdir)
    first = load_results(workdir.db, with_weights=True)
    outcomes, printed = run_fake([TinyClassification()], workdir)
    assert (outcomes[0].ok, outcomes[0].failed, outcomes[0].found_done) == (0, 0, 4)
    assert "tiny-classification: 4 of 4 jobs found done in the store; training the other 0" in printed
    second = load_results(workdir.db, with_weights=True)
    pd.testing.assert_frame_equal(first, second)  # the very same rows, not retrained copies
    assert len(load_results(workdir.db, latest=False)) == 4
    with Store(workdir.db) as store:
        runs = store.runs()
    assert list(runs["status"]) == ["finished", "finished"]
    assert runs.iloc[0]["settings"]["jobs"] == {"planned": 4, "found_done": 4}


class Changed(TinyClassification):
    name = "tiny-classification"
    variants = (Variant("none"), Variant("L2 1e-3", l2=2e-3))


def test_changing_one_variant_reruns_only_its_jobs_and_epochs_rerun_all(workdir):
    run_fake([TinyClassification()], workdir)
    before = load_results(workdir.db).set_index(["variant", "split"])
    outcomes, printed = run_fake([Changed()], workdir)
    assert (outcomes[0].ok, outcomes[0].found_done) == (2, 2)
    after = load_results(workdir.db).set_index(["variant", "split"])
    assert (after.loc["none", "created_at"] == before.loc["none", "created_at"]).all()
    assert (after.loc["L2 1e-3", "created_at"] > before["created_at"].max()).all()
    assert all(config["l2"] == 2e-3 for config in after.loc["L2 1e-3", "config"])
    outcomes, _ = run_fake([Changed().configured(epochs=4)], workdir)
    assert (outcomes[0].ok, outcomes[0].found_done) == (4, 0)


def test_failed_jobs_count_as_done_until_retry_failed_and_fresh_retrains_all(workdir):
    outcomes, _ = run_fake([FakeFailing()], workdir)
    assert (outcomes[0].ok, outcomes[0].failed) == (2, 2)
    outcomes, printed = run_fake([FakeFailing()], workdir)
    assert (outcomes[0].ok, outcomes[0].failed, outcomes[0].found_done) == (0, 0, 4)
    assert "(2 of them failed; --retry-failed trains those again)" in printed
    outcomes, _ = run_fake([FakeFailing()], workdir, retry_failed=True)
    assert (outcomes[0].ok, outcomes[0].failed, outcomes[0].found_done) == (0, 2, 2)
    outcomes, printed = run_fake([FakeFailing()], workdir, fresh=True)
    assert (outcomes[0].ok, outcomes[0].failed, outcomes[0].found_done) == (2, 2, 0)
    assert "--fresh: training all 4 jobs again (4 stored results will be replaced)" in printed
    stored = load_results(workdir.db, latest=False)
    assert len(stored) == 4 and stored["job_key"].is_unique  # replaced, never duplicated


def test_a_job_key_is_stored_once_and_a_rerun_replaces_it(tmp_path):
    def record(score):
        return SplitRecord(experiment="e", dataset="d", variant="v", config={}, config_hash="h", split=0, seed=1,
                          status="ok", reason=None, score=score, train_score=score, metrics={}, epochs=1,
                          best_epoch=1, seconds=0.1, loss=[1.0], val_loss=[], engine="keras", job_key="k1")

    with Store(tmp_path / "r.sqlite") as store:
        run_id = store.start_run(RunRecord("e", "d"), plan=["k1"])
        store.add_records([record(0.5)])
        store.add_records([record(0.7)])
        store.finish_run(run_id)
        rows = store.rows(latest=False)
        assert store.integrity() == "ok"
    assert list(rows["score"]) == [0.7]


def test_the_report_shows_the_latest_complete_run_not_a_newer_fragment(workdir):
    run_fake([TinyClassification()], workdir)
    complete = load_results(workdir.db)
    with Store(workdir.db) as store:  # a newer run killed after one of its jobs
        keys = [f"other-{i}" for i in range(4)]
        store.start_run(RunRecord("tiny-classification", "tiny-classification", greater_is_better=True), plan=keys)
        fragment = SplitRecord(experiment="tiny-classification", dataset="tiny-classification", variant="none",
                              config={}, config_hash="h", split=0, seed=1, status="ok", reason=None, score=0.1,
                              train_score=0.1, metrics={}, epochs=1, best_epoch=1, seconds=0.1, loss=[1.0],
                              val_loss=[], engine="keras", job_key="other-0")
        store.add_records([fragment])
        shown = store.latest_run_ids()["tiny-classification"]
    assert shown == complete["run_id"].iloc[0]
    from harness.cli import main

    assert main(["report", "--db", str(workdir.db), "--reports-dir", str(workdir.reports)]) == 0
    index = (workdir.reports / "index.html").read_text()
    assert "1 of 4 jobs stored" in index  # the fragment is named, not shown as the result


def test_jobs_not_trained_because_of_where_they_ran_are_trained_by_the_next_run(workdir):
    import sqlite3

    run_fake([TinyClassification()], workdir)
    with sqlite3.connect(workdir.db) as connection:  # as a task whose worker died would have left it
        connection.execute("UPDATE results SET status = 'error', reason = 'its worker died' WHERE split = 1 "
                           "AND variant = 'none'")
    outcomes, printed = run_fake([TinyClassification()], workdir)
    assert (outcomes[0].ok, outcomes[0].found_done) == (1, 3)
    assert (load_results(workdir.db)["status"] == "ok").all()


def test_two_experiments_of_one_name_are_refused(workdir):
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="two experiments of this run are named 'tiny-classification'"):
        run_fake([TinyClassification(), Changed()], workdir)


@pytest.mark.parametrize("workers", [0, -1])
def test_workers_must_be_positive(workdir, workers):
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="--workers must be at least 1"):
        run_fake([TinyClassification()], workdir, workers=workers)
