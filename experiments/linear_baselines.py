"""Heaton, T81-558 Part 5.1, "Introduction to Regularization: Ridge and Lasso"
(shared/seeds/001_ad1e82c8c6b18430.txt).

Part 5.1 fits four linear models to auto-mpg (cylinders, displacement, horsepower, weight,
acceleration, year, origin -> mpg): LinearRegression, Lasso(alpha=0.1, random_state=0),
Ridge(alpha=1) and ElasticNet(alpha=0.1, l1_ratio=0.1), on raw (unscaled) features after filling
horsepower's missing values with the column's median over the whole file, with one split
`train_test_split(x, y, test_size=0.25, random_state=45)`, and prints each model's test RMSE
and its coefficients (`report_coef`: sorted, a bar chart coloured by sign).

Here, each experiment does two things:
- its report reproduces that holdout exactly (`holdout_fit`), RMSE beside the notebook's,
  coefficients as a table, a CSV and Heaton's bar charts;
- the four models run as scikit-learn reference models (`Experiment.reference_models`) beside a few
  regularized networks, on the same K folds, scored in the target's units. In the K-fold
  comparison every model sees the harness' per-fold preprocessing (median imputation and
  standardized features) and, like the networks, a z-scored target, so the penalties' alphas act
  on another scale than in the holdout (Ridge's predictions do not depend on the target's
  scale; Lasso's and ElasticNet's do).
`heaton-linear-autompg` follows the notebook on auto-mpg (fetched once into the data cache;
skipped offline and uncached); `linear-diabetes` runs the same family on scikit-learn's diabetes
data, offline.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
from sklearn.model_selection import KFold, train_test_split

from harness import Dataset, Experiment, Section, Variant
from harness.data import cached_csv, sklearn_dataset
from harness.report.figures import panels

SOURCE = ("J. Heaton, T81-558 Applications of Deep Neural Networks, Part 5.1: Introduction to "
          "Regularization: Ridge and Lasso (shared/seeds/001_ad1e82c8c6b18430.txt)")
AUTO_MPG_URL = "https://data.heatonresearch.com/data/t81-558/auto-mpg.csv"
AUTO_MPG_FEATURES = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "year", "origin"]
AUTO_MPG_TARGET = "mpg"
#: Part 5.1's split
TEST_SIZE, SPLIT_SEED = 0.25, 45

LINEAR = "LinearRegression"
LASSO = "Lasso alpha=0.1"
RIDGE = "Ridge alpha=1"
ELASTIC = "ElasticNet alpha=0.1 l1_ratio=0.1"
#: what the notebook printed as "Final score (RMSE)"; Ridge's line lacks the f-string prefix
#: and prints "{score}" literally
NOTEBOOK_RMSE: dict[str, float | None] = {
    LINEAR: 3.0019345985860784,
    LASSO: 3.0604021904033303,
    RIDGE: None,
    ELASTIC: 3.0450899960775013,
}
#: the coefficients (and intercept) the notebook printed with `report_coef`, Ridge's included
NOTEBOOK_COEF: dict[str, dict[str, float]] = {
    LINEAR: {"cylinders": -0.427721, "displacement": 0.020166, "horsepower": -0.005491, "weight": -0.007255,
             "acceleration": 0.138575, "year": 0.783047, "origin": 1.003762, "intercept": -19.101231042200112},
    LASSO: {"cylinders": -0.012995, "displacement": 0.011601, "horsepower": -0.002715, "weight": -0.007328,
            "acceleration": 0.114391, "year": 0.777480, "origin": 0.708222, "intercept": -18.506677982383252},
    RIDGE: {"cylinders": -0.421393, "displacement": 0.020006, "horsepower": -0.005385, "weight": -0.007257,
            "acceleration": 0.138470, "year": 0.782889, "origin": 0.994621, "intercept": -19.07980074425469},
    ELASTIC: {"cylinders": -0.274010, "displacement": 0.016194, "horsepower": -0.003231, "weight": -0.007303,
              "acceleration": 0.132348, "year": 0.777482, "origin": 0.782781, "intercept": -18.389355690429767},
}
NOTEBOOK_NOTES = {RIDGE: "not printed: the notebook's print lacks the f prefix and shows \"{score}\""}


def part51_models() -> dict[str, Any]:
    """Part 5.1's four models, unfitted, with the notebook's arguments."""
    return {
        LINEAR: LinearRegression(),
        LASSO: Lasso(random_state=0, alpha=0.1),
        RIDGE: Ridge(alpha=1),
        ELASTIC: ElasticNet(alpha=0.1, l1_ratio=0.1),
    }


def holdout_fit(
    frame: pd.DataFrame, features: list[str], target: str, models: dict[str, Any] | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """Part 5.1's holdout: missing feature values filled with their column's median over the
    whole frame (the notebook does this for horsepower, the only column with gaps), raw
    features, `train_test_split(x, y, test_size=0.25, random_state=45)`, each model fitted on
    the training part. Returns (test RMSE per model, coefficients: one column per model, one
    row per feature plus 'intercept')."""
    models = part51_models() if models is None else models
    df = frame.copy()
    df[features] = df[features].fillna(df[features].median())
    x = df[features].values
    y = df[target].values
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=TEST_SIZE, random_state=SPLIT_SEED)
    rmse, coefficients = {}, {}
    for name, model in models.items():
        model.fit(x_train, y_train)
        pred = model.predict(x_test)
        rmse[name] = float(np.sqrt(np.mean((pred - y_test) ** 2)))
        coefficients[name] = [*np.ravel(model.coef_), float(np.ravel(model.intercept_)[0])]
    table = pd.DataFrame(coefficients, index=pd.Index([*features, "intercept"], name="feature")) + 0.0  # no -0.0
    return pd.Series(rmse, name="test RMSE"), table


def coefficient_figure(coefficients: pd.DataFrame):
    """Heaton's `report_coef` chart for every model: horizontal bars of the coefficients sorted
    by value, blue when >= 0 and red when negative (intercept left out, as in the notebook)."""
    coefs = coefficients.drop(index="intercept")
    fig, axes = panels(len(coefs.columns), cols=len(coefs.columns), width=3.4, height=0.32 * len(coefs) + 1.4)
    for ax, name in zip(axes, coefs.columns):
        values = coefs[name].sort_values()
        ax.barh(values.index, values.to_numpy(), color=np.where(values.to_numpy() >= 0, "b", "r"))
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


class LinearBaselines(Experiment):
    """Part 5.1's linear models as reference models beside a few regularized networks, and the
    notebook's holdout in the report. Subclasses say which data (`holdout_data`)."""

    abstract = True
    source = SOURCE
    task = "regression"
    in_default_suite = True
    epochs = 200
    variants = (
        Variant("none"),
        Variant("L1 1e-3", l1=1e-3),
        Variant("L2 1e-3", l2=1e-3),
        Variant("dropout 0.2", dropout=0.2),
    )
    #: filled in by the subclass: the notebook's figures, or None where the source has none
    notebook_rmse: dict[str, float | None] = {}
    #: filled in by the subclass: the notebook's printed coefficients per model, or empty
    notebook_coef: dict[str, dict[str, float]] = {}
    #: what the holdout's features are like (they are used as loaded, unscaled)
    feature_note: str = ""

    def holdout_data(self, data_dir: Path) -> tuple[pd.DataFrame, list[str], str]:
        """(frame, feature columns, target column), as loaded, missing values kept."""
        raise NotImplementedError

    def load_data(self, data_dir):
        frame, features, target = self.holdout_data(data_dir)
        return Dataset(self.dataset_name, frame[features], frame[target], "regression")

    def splitter(self):
        return KFold(n_splits=self.folds, shuffle=True, random_state=self.seed)

    def reference_models(self):
        return part51_models()

    def report_sections(self, results):
        """The holdout on the data the run recorded (the file as loaded: features and target)."""
        if results.data is None:
            return [Section("Part 5.1 holdout", error="the run's data is not in the results store; run it again")]
        data = results.data
        target, features = str(data.y.name), list(data.X.columns)
        frame = data.X.assign(**{target: data.y})
        rmse, coefficients = holdout_fit(frame, features, target)
        n_train, n_test = (len(part) for part in train_test_split(np.arange(len(frame)), test_size=TEST_SIZE, random_state=SPLIT_SEED))
        models = part51_models()
        table = pd.DataFrame({"model": rmse.index, "estimator": [repr(models[n]) for n in rmse.index],
                              "test RMSE (this run)": rmse.to_numpy()})
        if self.notebook_rmse:
            reported = [self.notebook_rmse.get(n) for n in rmse.index]
            table["notebook"] = [np.nan if r is None else r for r in reported]
            table["difference"] = table["test RMSE (this run)"] - table["notebook"]
            table["note"] = [NOTEBOOK_NOTES.get(n, "") for n in rmse.index]
        kfold = results.ok().groupby("variant")["score"].mean()
        table["K-fold mean RMSE (this run)"] = [kfold.get(n, np.nan) for n in rmse.index]
        missing = int(frame[features].isna().sum().sum())
        text = (f"Part 5.1's protocol on {self.dataset_name} ({len(frame)} rows): "
                f"{missing} missing feature value(s) filled with their column's median over the whole "
                f"file before splitting (as the notebook does for horsepower), the features as loaded, "
                f"unscaled ({self.feature_note}), train_test_split(test_size={TEST_SIZE}, random_state={SPLIT_SEED}): "
                f"{n_train} training and {n_test} test rows; test RMSE in the target's units. ")
        if self.notebook_rmse:
            text += "The notebook's printed scores are beside this run's (the CSV keeps every digit). "
        else:
            text += "The notebook ran this on auto-mpg only; there is nothing to set beside these. "
        text += ("The last column is the same model's mean over the K-fold splits of the comparison above, "
                 "where it sees standardized features and a z-scored target.")
        coef_text = ("Each model's coefficients on the raw features (one column per model, and the "
                     "intercept), and Heaton's report_coef chart per model: coefficients sorted by value, "
                     "blue positive, red negative (intercept not drawn). On unscaled features a "
                     "coefficient's size depends on its feature's units.")
        coef_table = coefficients.reset_index()
        if self.notebook_coef:
            for name in coefficients.columns:
                printed = self.notebook_coef.get(name, {})
                coef_table[f"{name} (notebook)"] = [printed.get(f, np.nan) for f in coef_table["feature"]]
            worst = max(abs(coefficients[name] - pd.Series(self.notebook_coef[name])).max()
                        for name in coefficients.columns if name in self.notebook_coef)
            coef_text += (" Beside them, the coefficients the notebook printed (6 decimals), Ridge's too, "
                          f"whose RMSE line it never printed: the largest difference is {worst:.2g}.")
        return [
            Section("Part 5.1 holdout: test RMSE", text, table=table, csv="holdout_rmse.csv"),
            Section("Part 5.1 holdout: coefficients", coef_text, figure=coefficient_figure(coefficients),
                    table=coef_table, csv="coefficients.csv"),
        ]


class HeatonLinearAutoMPG(LinearBaselines):
    name = "heaton-linear-autompg"
    description = ("Heaton 5.1: auto-mpg, LinearRegression, Lasso, Ridge and ElasticNet as reference models "
                   "beside a 50-25 MLP (none, L1, L2, dropout), 5-fold; the notebook's holdout in the report.")
    dataset_name = "auto-mpg"
    notebook_rmse = NOTEBOOK_RMSE
    notebook_coef = NOTEBOOK_COEF
    feature_note = "weight in pounds, displacement in cubic inches, year as two digits, origin coded 1-3"

    def holdout_data(self, data_dir):
        frame = cached_csv(AUTO_MPG_URL, Path(data_dir), na_values=["NA", "?"])
        return frame, list(AUTO_MPG_FEATURES), AUTO_MPG_TARGET

    def source_results(self):
        note = ("the notebook's one 25% holdout (random_state=45); here the mean over the K folds. "
                "The exact holdout is reproduced in its own section below")
        return [
            {"what": f"Part 5.1, {name}: test RMSE", "reported": value, "variant": name, "stat": "mean", "note": note}
            for name, value in NOTEBOOK_RMSE.items() if value is not None
        ]


class LinearDiabetes(LinearBaselines):
    name = "linear-diabetes"
    description = ("Heaton 5.1's linear models on diabetes (442 rows, 10 features) as reference models beside a "
                   "50-25 MLP (none, L1, L2, dropout), 5-fold; Part 5.1's holdout in the report.")
    dataset_name = "diabetes"
    epochs = 150
    feature_note = ("as scikit-learn ships them: every column mean-centred and scaled to unit L2 norm, values "
                    "around ±0.1, so the same alphas shrink much harder than on auto-mpg")

    def holdout_data(self, data_dir):
        data = sklearn_dataset("diabetes")
        return data.X.assign(**{data.y.name: data.y}), list(data.X.columns), str(data.y.name)
