"""End to end: each engine's reproducibility, early-stopping epochs and failed folds, with real
training; the report's names and versions, with the fake trainer (tests/fakes.py)."""
import re

import keras
import numpy as np
import pandas as pd
import pytest

from harness import Variant, load_results
from tests.conftest import TinyClassification, TinyRegression, run_fake, run_quietly


@pytest.mark.parametrize("engine", [pytest.param("keras", marks=pytest.mark.slow), "stacked"])  # keras: ~30 s, test-all
def test_same_seed_gives_identical_fold_scores(workdir, engine):
    run_quietly([TinyClassification(), TinyRegression()], workdir, engine=engine)
    first = load_results(workdir.db)
    run_quietly([TinyClassification(), TinyRegression()], workdir, engine=engine, fresh=True)  # train again
    second = load_results(workdir.db)
    assert first["run_id"].iloc[0] != second["run_id"].iloc[0]
    assert (second["created_at"] > first["created_at"].max()).all()
    assert set(first["engine"]) == {engine}
    assert len(first) == 8 and (first["status"] == "ok").all()
    cols = ["experiment", "variant", "split", "seed", "score", "train_score", "epochs"]
    pd.testing.assert_frame_equal(first[cols].reset_index(drop=True), second[cols].reset_index(drop=True))
    assert first["loss"].tolist() == second["loss"].tolist()


def test_every_jobs_seed_follows_the_experiment_seed(workdir):
    run_fake([TinyClassification()], workdir)
    first = load_results(workdir.db)
    run_fake([TinyClassification().configured(seed=7)], workdir)
    other = load_results(workdir.db, experiment="tiny-classification")
    assert len(other) == len(first) and set(other["seed"]).isdisjoint(first["seed"])


class EarlyStopped(TinyClassification):
    name = "early-stopped"
    epochs = 40
    patience = 2
    min_delta = 0.02  # gains under 0.02 do not count, so stopping fires whatever the batch order
    learning_rate = 0.05
    variants = (Variant("none"),)


class NeverStops(EarlyStopped):
    name = "never-stops"
    epochs = 4
    patience = 50
    min_delta = 0.0


def keras_best_epoch(val_loss, min_delta=0.0):
    """EarlyStopping's rule: an epoch is best when it improves on the best by more than min_delta
    (Keras' MonitorCallback negates min_delta for a loss: value + min_delta < best)."""
    best, best_epoch = None, 0
    for epoch, value in enumerate(val_loss, start=1):
        if best is None or value + min_delta < best:
            best, best_epoch = value, epoch
    return best_epoch


@pytest.mark.parametrize("engine", ["keras", "stacked"])
def test_epochs_trained_and_best_epoch(workdir, engine):
    run_quietly([EarlyStopped(), NeverStops()], workdir, engine=engine)
    folds = load_results(workdir.db)
    for _, row in folds.iterrows():
        assert row["epochs"] == len(row["loss"]) == len(row["val_loss"])
        min_delta = EarlyStopped.min_delta if row["experiment"] == "early-stopped" else 0.0
        assert row["best_epoch"] == keras_best_epoch(row["val_loss"], min_delta)
        if row["experiment"] == "never-stops":
            assert row["epochs"] == 4  # early stopping never fired: every epoch trained
        elif row["epochs"] < 40:
            assert row["epochs"] - row["best_epoch"] == 2  # stopped after `patience` epochs without gain
    assert (folds.query("experiment == 'early-stopped'")["epochs"] < 40).any()


class NaNVariant(TinyClassification):
    """A variant whose model produces NaN, beside one that trains normally."""

    name = "nan-fold"
    variants = (Variant("fine"), Variant("poisoned", settings={"poison": True}))

    def build_model(self, variant, n_inputs, n_outputs):
        model = super().build_model(variant, n_inputs, n_outputs)
        if not variant.settings.get("poison"):
            return model
        inputs = keras.Input((n_inputs,))
        poisoned = keras.layers.Lambda(lambda x: x * float("nan"))(inputs)
        return keras.Model(inputs, model(poisoned))


def test_nan_fold_is_recorded_failed_and_the_run_goes_on(workdir):
    outcomes, printed = run_quietly([NaNVariant(), TinyRegression()], workdir)
    folds = load_results(workdir.db)
    poisoned = folds[folds["variant"] == "poisoned"]
    assert len(poisoned) == 2 and (poisoned["status"] == "failed").all()
    assert poisoned["reason"].str.contains("NaN").all()
    assert (folds[folds["variant"] != "poisoned"]["status"] == "ok").all()
    assert {o.experiment for o in outcomes} == {"nan-fold", "tiny-regression"}
    assert "FAILED" in printed
    page = (workdir.reports / "nan-fold" / "index.html").read_text()
    assert "Failed splits" in page and "NaN" in page


class Hostile(TinyClassification):
    name = "hostile"
    variants = (Variant("none"), Variant("<script>alert(1)</script>", l2=1e-3))


def test_report_lists_every_variant_and_escapes_names(workdir):
    run_fake([Hostile(), TinyRegression()], workdir)
    page = (workdir.reports / "hostile" / "index.html").read_text()
    assert "<script>alert(1)" not in page and page.count("<script>") == 1  # the page's own table sorting
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    comparison = page.split("<h2>Comparison of variants</h2>")[1].split("<h2>")[0]
    for name in ("none", "&lt;script&gt;alert(1)&lt;/script&gt;"):
        assert f'<td class="name">{name}</td>' in comparison
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)  # figures beside the page, nothing from the network
    assert images and all((workdir.reports / "hostile" / src).is_file() and ":" not in src for src in images)
    index = (workdir.reports / "index.html").read_text()
    assert 'href="hostile/index.html"' in index and 'href="tiny-regression/index.html"' in index
    folds_csv = pd.read_csv(workdir.reports / "hostile" / "folds.csv")
    assert {"variant", "split", "score"} <= set(folds_csv.columns) and len(folds_csv) == 4
    summary_csv = pd.read_csv(workdir.reports / "hostile" / "summary.csv")
    assert set(summary_csv["variant"]) == {"none", "<script>alert(1)</script>"}
    stored = load_results(workdir.db, experiment="hostile")
    for variant, group in stored.groupby("variant"):
        row = summary_csv.set_index("variant").loc[variant]
        assert row["mean"] == pytest.approx(group["score"].mean())
        assert row["stdev"] == pytest.approx(group["score"].std(ddof=0))


class TestCurve(TinyRegression):
    name = "test-curve"
    epochs = 4
    patience = None
    test_curve = True
    standardize_target = False
    variants = (Variant("none"),)


@pytest.mark.parametrize("engine", ["keras", "stacked"])
def test_test_curve_records_the_scored_splits_loss_every_epoch(workdir, engine):
    """val_loss after the last epoch is the final model's MSE on the scored split: score² when the
    target is not standardized; every member trains every epoch (nothing stops it)."""
    run_quietly([TestCurve()], workdir, engine=engine)
    folds = load_results(workdir.db)
    assert (folds["status"] == "ok").all() and (folds["epochs"] == TestCurve.epochs).all()
    for _, fold in folds.iterrows():
        assert len(fold["val_loss"]) == TestCurve.epochs
        np.testing.assert_allclose(fold["val_loss"][-1], fold["score"] ** 2, rtol=1e-4)
    page = (workdir.reports / "test-curve" / "index.html").read_text()
    assert "recorded after every epoch for the learning curves only" in page


def test_test_curve_with_early_stopping_is_refused():
    from harness.errors import HarnessError

    class Stopping(TestCurve):
        patience = 3

    with pytest.raises(HarnessError, match="test_curve .* needs patience=None"):
        Stopping().check()


class LongOne(TinyClassification):
    name = "long-one"
    full_settings = {"epochs": 6, "hidden_units": (16,)}


def test_full_applies_full_settings_and_the_report_says_which_version(workdir):
    from harness.errors import HarnessError

    reduced, full = LongOne().configured(), LongOne().configured(full=True)
    assert (reduced.epochs, reduced.full, reduced.version) == (3, False, "reduced")
    assert (full.epochs, full.hidden_units, full.full, full.version) == (6, (16,), True, "full")
    assert LongOne().configured(full=True, epochs=2).epochs == 2  # explicit overrides win over --full
    assert TinyClassification().configured(full=True).version is None

    class Broken(LongOne):
        full_settings = {"epoch": 6}

    with pytest.raises(HarnessError, match="unknown attribute 'epoch'"):
        Broken().configured(full=True)
    run_fake([reduced], workdir)
    page = (workdir.reports / "long-one" / "index.html").read_text()
    assert "Reduced version" in page and "--full" in page and "epochs = 6" in page
