"""The offline default suite: eight data sets scored under the suite's variants (no penalty; L1,
L2, L1L2 and dropout each tuned by nested cross-validation; three fixed strengths beside them).

Three are small real data sets that ship with scikit-learn (wine, breast cancer, diabetes),
where an unregularized network with early stopping already does well; five are built so that
an unregularized network overfits (few rows for the features, many useless features, noisy
labels), the cases regularization is meant for. Every data set is made or loaded here from a
fixed seed with no network, so `make benchmark` runs offline and every run sees the same rows.
"""
import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.model_selection import train_test_split

from harness import Dataset, Experiment
from harness.core import suite_variants
from harness.data import sklearn_dataset


def _frame(X: np.ndarray, y: np.ndarray, name: str, task: str) -> Dataset:
    columns = [f"x{i:03d}" for i in range(X.shape[1])]
    return Dataset(name, pd.DataFrame(X, columns=columns), pd.Series(y, name="target"), task)


#: rows of scikit-learn's 1797 digits each digits data set of the suites takes, in this order,
#: from one seeded stratified shuffle: no row is in two of them (the tests across data sets
#: assume independent data sets)
DIGITS_PARTS = {"digits-small": 250, "digits-noisy-labels": 600, "digits-cnn": 500}


def _digits_subset(part: str, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """The rows of `part` (see DIGITS_PARTS): a stratified sample of scikit-learn's 1797 8×8
    digits (64 pixel features) disjoint from the other parts'."""
    bunch = datasets.load_digits(as_frame=True)
    X, y = bunch.data, bunch.target
    start = 0
    for name, rows in DIGITS_PARTS.items():
        rest_X, part_X, rest_y, part_y = train_test_split(X, y, test_size=rows, stratify=y, random_state=seed + start)
        if name == part:
            return part_X.reset_index(drop=True), part_y.reset_index(drop=True).rename("target")
        X, y, start = rest_X, rest_y, start + 1
    raise KeyError(part)


class SuiteExperiment(Experiment):
    """What every experiment of the suites shares: the suite's variants (`suite_variants`),
    5-fold CV repeated twice (10 paired splits), 200 epochs with early stopping (patience 10) on a
    tenth of each split's training rows."""

    abstract = True
    in_default_suite = True
    epochs = 200
    cv_repeats = 2
    variants = tuple(suite_variants())


class Wine(SuiteExperiment):
    name = "wine"
    description = ("Wine cultivars (178 rows, 13 features, 3 classes), accuracy; source: scikit-learn's load_wine. In the suite as an easy real data "
                   "set: three well-separated classes, where an unregularized network already scores high and a regularizer has little room to help.")
    task = "classification"

    def load_data(self, data_dir):
        return sklearn_dataset("wine")


class BreastCancer(SuiteExperiment):
    name = "breast-cancer"
    description = ("Wisconsin breast cancer (569 rows, 30 features, 2 classes), accuracy; source: scikit-learn's "
                   "load_breast_cancer. In the suite as a real "
                   "data set with enough rows for its features, where regularization has little to correct.")
    task = "classification"

    def load_data(self, data_dir):
        return sklearn_dataset("breast_cancer")


class Diabetes(SuiteExperiment):
    name = "diabetes"
    description = ("Diabetes progression (442 rows, 10 features), RMSE; source: scikit-learn's load_diabetes. In the suite as a real regression with a "
                   "weak signal (R² ≈ 0.5 at best), where a network's variance, not its bias, limits the score.")
    task = "regression"

    def load_data(self, data_dir):
        return sklearn_dataset("diabetes")


class DigitsSmall(SuiteExperiment):
    name = "digits-small"
    description = ("Handwritten digits on a small share of its rows (250 of 1797, 64 pixel features, 10 classes), "
                   "accuracy; source: scikit-learn's load_digits (rows disjoint from digits-noisy-labels'). In the suite because each split trains ~180 rows for a network with ~4,800 weights: "
                   "an unregularized network fits its training rows perfectly and overfits.")
    task = "classification"

    def load_data(self, data_dir):
        X, y = _digits_subset(self.name)
        return Dataset("digits (250 of 1797 rows)", X, y, "classification")


class MadelonLike(SuiteExperiment):
    name = "madelon-like"
    description = ("A Madelon-style problem (600 rows, 500 features: 5 informative, 15 linear combinations of "
                   "them, 480 pure noise; 2 classes, 1% labels flipped), accuracy, built with make_classification "
                   "as Guyon built Madelon for the NIPS 2003 feature-selection challenge. In the suite because an "
                   "unregularized network fits the noise features: sparsity (L1) and dropout should pay here.")
    task = "classification"
    label_noise = 0.01  # make_classification's flip_y: 1% of labels drawn at random

    def load_data(self, data_dir):
        X, y = datasets.make_classification(
            n_samples=600, n_features=500, n_informative=5, n_redundant=15, n_repeated=0, n_clusters_per_class=2,
            class_sep=1.0, flip_y=0.01, shuffle=True, random_state=1)
        return _frame(X, y, "madelon-like (make_classification)", "classification")


class DigitsNoisyLabels(SuiteExperiment):
    name = "digits-noisy-labels"
    description = ("Digits (600 of 1797 rows) with 30% of the labels replaced by another class at random, accuracy "
                   "against those noisy labels (so ~70% is the ceiling); source: scikit-learn's load_digits (rows disjoint from "
                   "digits-small's). In the suite because a network that "
                   "memorizes the wrong labels generalizes worse: the regularizers should resist memorizing.")
    task = "classification"
    noise = 0.3
    label_noise = noise

    def load_data(self, data_dir):
        X, y = _digits_subset(self.name)
        labels = y.to_numpy().copy()
        rng = np.random.default_rng(0)
        flip = rng.random(len(labels)) < self.noise
        labels[flip] = (labels[flip] + rng.integers(1, 10, int(flip.sum()))) % 10  # always a different class
        return Dataset("digits (600 rows, 30% noisy labels)", X, pd.Series(labels, name="target"), "classification")


class Friedman1Small(SuiteExperiment):
    name = "friedman1-small"
    description = ("Friedman's #1 regression (200 rows, 10 features of which 5 are used: "
                   "10 sin(πx₁x₂) + 20(x₃ − ½)² + 10x₄ + 5x₅ + N(0, 1) noise), RMSE. In the suite as a small-N "
                   "nonlinear regression, where a 50-25 network can fit the noise of ~140 training rows.")
    task = "regression"

    def load_data(self, data_dir):
        X, y = datasets.make_friedman1(n_samples=200, n_features=10, noise=1.0, random_state=0)
        return _frame(X, y, "friedman1 (make_friedman1)", "regression")


class WideRegression(SuiteExperiment):
    name = "wide-regression"
    description = ("A wide linear regression (200 rows, 400 features of which 10 are informative, noise σ = 20), "
                   "RMSE, built with make_regression. In the suite because there are more features than training "
                   "rows: without a penalty the network fits noise, and L1 should find the 10 that matter.")
    task = "regression"

    def load_data(self, data_dir):
        X, y = datasets.make_regression(n_samples=200, n_features=400, n_informative=10, noise=20.0, random_state=0)
        return _frame(X, y, "wide regression (make_regression)", "regression")
