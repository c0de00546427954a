"""Heaton's Part 5.1 linear models and the harness' scikit-learn baselines, checked against
scikit-learn computed directly: the holdout, and each baseline's fold scores on the harness' own
splits; a baseline that fails, and a baseline named like a variant."""
import shutil

import numpy as np
from scipy import stats as sps
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

import harness.builtin.linear_baselines as lb
from harness import HarnessError, Variant, load_results
from harness.errors import DataUnavailable
from harness.report import write_experiment_report
from harness.runner import prepare
from harness.store import Store
from tests.conftest import TinyClassification, TinyRegression, run_fake


def write_auto_mpg(folder, n=120, seed=0):
    """A file with auto-mpg.csv's columns and kinds of values (not its data), '?' for some
    missing horsepower values as in the real file."""
    rng = np.random.default_rng(seed)
    cylinders = rng.choice([4, 6, 8], n)
    displacement = (cylinders * 40 + rng.normal(0, 20, n)).round()
    horsepower = (displacement * 0.45 + rng.normal(0, 12, n)).round()
    weight = (displacement * 9 + 1200 + rng.normal(0, 250, n)).round()
    year = rng.integers(70, 83, n)
    frame = pd.DataFrame({
        "mpg": (55 - 0.006 * weight - 0.03 * horsepower + 0.6 * (year - 70) + rng.normal(0, 2.5, n)).round(1),
        "cylinders": cylinders,
        "displacement": displacement,
        "horsepower": horsepower.astype(int).astype(object),
        "weight": weight.astype(int),
        "acceleration": rng.normal(15.5, 2.5, n).round(1),
        "year": year,
        "origin": rng.choice([1, 2, 3], n),
        "name": [f"car {i}" for i in range(n)],
    })
    frame.loc[[5, 33, 70, 101], "horsepower"] = "?"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "auto-mpg.csv", index=False)  # the cache's name for AUTO_MPG_URL
    return frame


def notebook_models():
    """Part 5.1's models, written out here as the notebook writes them."""
    return {lb.LINEAR: LinearRegression(), lb.LASSO: Lasso(random_state=0, alpha=0.1),
            lb.RIDGE: Ridge(alpha=1), lb.ELASTIC: ElasticNet(alpha=0.1, l1_ratio=0.1)}


def test_auto_mpg_is_read_from_the_cache_with_question_marks_missing(tmp_path, monkeypatch):
    raw = write_auto_mpg(tmp_path / "data")
    data = lb.HeatonLinearAutoMPG().load_data(tmp_path / "data")
    assert data.name == "auto-mpg" and data.task == "regression" and data.y.name == "mpg"
    assert list(data.X.columns) == lb.AUTO_MPG_FEATURES  # name and mpg are not features
    assert pd.api.types.is_numeric_dtype(data.X["horsepower"])
    assert data.X["horsepower"].isna().sum() == 4 and data.X.drop(columns="horsepower").notna().all().all()
    np.testing.assert_array_equal(data.X["horsepower"].isna(), raw["horsepower"] == "?")
    np.testing.assert_allclose(data.y, raw["mpg"])
    # offline and uncached: DataUnavailable, which the runner turns into "skipped"
    monkeypatch.setattr(lb, "AUTO_MPG_URL", "http://127.0.0.1:9/auto-mpg.csv")
    with pytest.raises(DataUnavailable):
        prepare(lb.HeatonLinearAutoMPG(), tmp_path / "empty")


def test_holdout_matches_scikit_learn_directly(tmp_path):
    write_auto_mpg(tmp_path)
    frame, features, target = lb.HeatonLinearAutoMPG().holdout_data(tmp_path)
    rmse, coefficients = lb.holdout_fit(frame, features, target)

    df = pd.read_csv(tmp_path / "auto-mpg.csv", na_values=["NA", "?"])
    df["horsepower"] = df["horsepower"].fillna(df["horsepower"].median())
    x, y = df[lb.AUTO_MPG_FEATURES].values, df["mpg"].values
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=45)
    assert list(rmse.index) == list(coefficients.columns) == list(notebook_models())
    assert list(coefficients.index) == [*lb.AUTO_MPG_FEATURES, "intercept"]
    for name, model in notebook_models().items():
        model.fit(x_train, y_train)
        expected = np.sqrt(np.mean((model.predict(x_test) - y_test) ** 2))
        assert rmse[name] == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(coefficients[name].drop("intercept"), model.coef_, rtol=1e-12, atol=1e-15)
        assert coefficients.loc["intercept", name] == pytest.approx(model.intercept_, rel=1e-12)
    l1_norm = coefficients.drop(index="intercept").abs().sum()
    assert l1_norm[lb.LASSO] <= l1_norm[lb.LINEAR]  # the L1 penalty's optimum has the smaller sum |w|


class SmallAutoMPG(lb.HeatonLinearAutoMPG):
    name = "small-autompg"
    folds = 3
    epochs = 2
    hidden_units = (4,)
    patience = None  # no validation split: the networks, and so the preprocessor, see every training row
    variants = (Variant("none"),)


def rmse(pred, y):
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def test_baselines_scored_on_the_networks_folds_match_a_pipeline(workdir):
    write_auto_mpg(workdir.data)
    exp = SmallAutoMPG()
    outcomes, printed = run_fake([exp], workdir)
    assert outcomes[0].ok == 3 + 4 * 3 and outcomes[0].failed == 0
    assert "== small-autompg · variant: Ridge alpha=1 ==" in printed
    folds = load_results(workdir.db)
    base = folds[folds["kind"] == "reference model"]
    assert len(base) == 4 * 3 and (base["status"] == "ok").all()
    assert sorted(base.groupby("variant")["split"].apply(sorted).map(tuple)) == [(0, 1, 2)] * 4
    assert (base["epochs"] == 0).all() and not base["loss"].map(len).any()
    assert set(folds.loc[folds["kind"] == "network", "variant"]) == {"none"}

    data = exp.load_data(workdir.data)
    X, y = data.X, data.y.to_numpy(dtype=float)
    matters = {}
    for fold, (train, test) in enumerate(exp.make_splitter().split(X, y)):
        mean, std = y[train].mean(), y[train].std()
        for name, estimator in notebook_models().items():
            row = base[(base["variant"] == name) & (base["split"] == fold)].iloc[0]
            # the experiment's preprocessor and the estimator, fitted on the fold's training rows,
            # on the z-scored target; predictions back in mpg
            model = make_pipeline(exp.preprocessor(X), clone(estimator)).fit(X.iloc[train], (y[train] - mean) / std)
            pred, pred_train = (model.predict(X.iloc[rows]) * std + mean for rows in (test, train))
            assert row["score"] == pytest.approx(rmse(pred, y[test]), rel=1e-5)
            assert row["train_score"] == pytest.approx(rmse(pred_train, y[train]), rel=1e-5)
            assert row["metrics"]["test_mae"] == pytest.approx(np.mean(np.abs(pred - y[test])), rel=1e-5)
            assert row["metrics"]["train_rows"] == len(train)
            # the same on the raw target: equal for least squares and Ridge (linear in y), not for
            # the L1 penalties, whose alpha is on the target's scale
            raw = make_pipeline(exp.preprocessor(X), clone(estimator)).fit(X.iloc[train], y[train])
            matters.setdefault(name, []).append(abs(rmse(raw.predict(X.iloc[test]), y[test]) / row["score"] - 1))
    assert max(matters[lb.LINEAR]) < 1e-5 and max(matters[lb.RIDGE]) < 1e-5
    assert min(matters[lb.LASSO]) > 1e-3 and min(matters[lb.ELASTIC]) > 1e-3

    folder = workdir.reports / "small-autompg"
    page = (folder / "index.html").read_text()
    assert "4 reference models" in page and "Part 5.1 holdout: test RMSE" in page
    assert 'href="coefficients.csv"' in page and 'href="holdout_rmse.csv"' in page
    assert "This section could not be computed" not in page
    coefficients = pd.read_csv(folder / "coefficients.csv")
    assert list(coefficients.columns) == ["feature", *notebook_models(), *(f"{m} (notebook)" for m in notebook_models())]
    notebook = coefficients.set_index("feature")[f"{lb.RIDGE} (notebook)"]
    assert notebook["origin"] == 0.994621 and notebook["intercept"] == pytest.approx(-19.0798007)
    summary = pd.read_csv(folder / "summary.csv").set_index("variant")
    assert set(summary.index) == {"none", *notebook_models()}
    assert summary.loc[lb.LINEAR, "kind"] == "reference model" and summary.loc[lb.LINEAR, "pairs"] == 3
    assert np.isnan(summary.loc["none", "pairs"])  # the networks' unregularized variant is the reference
    # each reference model's p-value with its own test/train ratio (here the networks' too: no
    # validation split)
    stored = load_results(workdir.db)
    none = stored[stored["variant"] == "none"].set_index("split")["score"]
    for name in notebook_models():
        rows = stored[stored["variant"] == name].set_index("split")
        ratio = np.mean([m["test_rows"] / m["train_rows"] for m in rows["metrics"]])
        d = (rows["score"] - none).to_numpy()
        t = d.mean() / np.sqrt((1 / len(d) + ratio) * d.var(ddof=1))
        assert summary.loc[name, "p_corrected"] == pytest.approx(2 * sps.t.sf(abs(t), len(d) - 1))

    # the report is rebuilt from the store alone: the data file gone, the holdout is the same
    holdout = (folder / "holdout_rmse.csv").read_text()
    shutil.rmtree(workdir.data)
    (folder / "holdout_rmse.csv").unlink()
    with Store(workdir.db) as store:
        write_experiment_report(store, exp.name, workdir.reports, definition=SmallAutoMPG())
    assert (folder / "holdout_rmse.csv").read_text() == holdout
    assert "This section could not be computed" not in (folder / "index.html").read_text()


class Exploding(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        raise ValueError("this estimator never fits")

    def predict(self, X):
        return np.zeros(len(X))


class BrokenBaseline(TinyRegression):
    name = "broken-baseline"

    def reference_models(self):
        return {"exploding": Exploding(), "least squares": LinearRegression()}


class LogisticBaseline(TinyClassification):
    name = "logistic-baseline"
    patience = None

    def reference_models(self):
        return {"logistic": LogisticRegression(max_iter=1000)}


@pytest.mark.slow  # ~18 s; a reference model failing on one split is tested under make test in test_hooks.py
def test_a_failing_baseline_is_recorded_and_the_run_goes_on(workdir):
    outcomes, printed = run_fake([BrokenBaseline(), LogisticBaseline()], workdir)
    assert (outcomes[0].ok, outcomes[0].failed) == (2 * 2 + 2, 2)
    folds = load_results(workdir.db)
    broken = folds[folds["experiment"] == "broken-baseline"]
    failed = broken[broken["variant"] == "exploding"]
    assert len(failed) == 2 and (failed["status"] == "failed").all() and failed["score"].isna().all()
    assert (failed["reason"] == "ValueError: this estimator never fits").all()
    assert "FAILED after 0 epochs: ValueError: this estimator never fits" in printed
    others = broken[broken["variant"] != "exploding"]
    assert len(others) == 6 and (others["status"] == "ok").all()
    # early stopping carves a validation split out of each training fold; the baseline still
    # fits on the whole training fold (30 of 60 rows with 2 folds)
    assert [m["train_rows"] for m in others.loc[others["variant"] == "least squares", "metrics"]] == [30, 30]
    assert "this estimator never fits" in (workdir.reports / "broken-baseline" / "index.html").read_text()
    # so its test/train ratio is 30/30, not the networks' 30/27, in its corrected t-test
    summary = pd.read_csv(workdir.reports / "broken-baseline" / "summary.csv").set_index("variant")
    d = (others[others["variant"] == "least squares"].set_index("split")["score"]
         - others[others["variant"] == "none"].set_index("split")["score"]).to_numpy()
    for ratio, expected in ((1.0, True), (30 / 27, False)):
        t = d.mean() / np.sqrt((1 / len(d) + ratio) * d.var(ddof=1))
        p = 2 * sps.t.sf(abs(t), len(d) - 1)
        assert (summary.loc["least squares", "p_corrected"] == pytest.approx(p, rel=1e-9)) == expected

    # a classifier's accuracy and log loss, from its predicted probabilities
    exp = LogisticBaseline()
    data = exp.load_data(None)
    logistic = folds[(folds["experiment"] == "logistic-baseline") & (folds["variant"] == "logistic")]
    assert len(logistic) == 2 and (logistic["status"] == "ok").all()
    X, y = data.X, data.y.to_numpy()
    for fold, (train, test) in enumerate(exp.make_splitter().split(X, y)):
        model = make_pipeline(exp.preprocessor(X), LogisticRegression(max_iter=1000)).fit(X.iloc[train], y[train])
        row = logistic[logistic["split"] == fold].iloc[0]
        assert row["score"] == pytest.approx(np.mean(model.predict(X.iloc[test]) == y[test]))
        proba = model.predict_proba(X.iloc[test])
        log_loss = -np.mean(np.log(proba[np.arange(len(test)), np.searchsorted(model.classes_, y[test])]))
        assert row["metrics"]["test_log_loss"] == pytest.approx(log_loss, rel=1e-4)


@pytest.mark.parametrize("baselines, message", [
    ({"none": LinearRegression()}, "reference model 'none' has the name of a variant"),
    ({"logistic": LogisticRegression()}, "reference model 'logistic' is a classifier but the task is regression"),
    ({"not an estimator": object()}, "is not a scikit-learn estimator"),
])
def test_bad_baselines_stop_the_run_before_anything_trains(tmp_path, baselines, message):
    class Bad(TinyRegression):
        name = "bad-baselines"

        def reference_models(self):
            return baselines

    with pytest.raises(HarnessError, match=message):
        prepare(Bad(), tmp_path)
