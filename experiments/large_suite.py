"""The large offline suite (`regbench run --suite large`): the default suite's eight data sets,
sixteen more real tabular data sets that ship with statsmodels and scikit-learn, and a designed
grid of eighteen generated problems, 42 independent data sets in all, each scored like the
default suite's (the suite's variants, 5-fold cross-validation repeated twice).

Every real data set here is read from the CSV files its package installs (statsmodels'
`load_pandas`, scikit-learn's `load_*`): nothing is downloaded and nothing is unpickled. Their
licences are those statsmodels and scikit-learn state for them (public domain, or included with
the author's permission, as each description's source says); statsmodels' `cancer`, whose
licence statsmodels gives as unknown ("???"), is left out. The grid generalizes Sjöo's
design (one problem, the training-set size varied) to three factors crossed: training rows per
weight, the share of labels that are wrong, and the share of the features that are informative,
so that the suite spans problems from easy to hopeless.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from sklearn import datasets

from harness import Dataset

from .sklearn_suite import SuiteExperiment, _frame


class LargeSuiteExperiment(SuiteExperiment):
    """An experiment of the large suite only (`make benchmark` does not run it)."""

    abstract = True
    in_default_suite = False


def _statsmodels(name: str) -> pd.DataFrame:
    """A statsmodels data set as the DataFrame its package ships (read from its CSV file)."""
    import importlib

    return importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data.copy()


def _sample(frame: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """A seeded sample of `rows` rows (all of them when there are fewer)."""
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def _dataset(label: str, frame: pd.DataFrame, target: str, task: str, drop: tuple[str, ...] = ()) -> Dataset:
    X = frame.drop(columns=[target, *drop]).reset_index(drop=True)
    return Dataset(label, X, frame[target].reset_index(drop=True).rename("target"), task)


# ---------------------------------------------------------------------- real data sets
class Iris(LargeSuiteExperiment):
    name = "iris"
    description = ("Fisher's iris (150 rows, 4 features, 3 classes), accuracy; source: scikit-learn's load_iris. "
                   "In the suite as the easiest real problem: few weights are needed and almost nothing overfits.")

    def load_data(self, data_dir):
        bunch = datasets.load_iris(as_frame=True)
        return Dataset("iris (scikit-learn)", bunch.data, bunch.target.rename("target"), "classification")


class Anes96Vote(LargeSuiteExperiment):
    name = "anes96-vote"
    description = ("1996 American National Election Study (944 rows, 9 features: party ID, self-placement, age, "
                   "education, income, …), whether the respondent voted for Dole, accuracy; source: "
                   "statsmodels.datasets.anes96 (public domain). In the suite as a real survey with a strong "
                   "signal in a few features and some irreducible noise.")

    def load_data(self, data_dir):
        return _dataset("anes96 vote (statsmodels)", _statsmodels("anes96"), "vote", "classification", ("logpopul",))


class FairAffairs(LargeSuiteExperiment):
    name = "fair-affairs"
    description = ("Fair's 1974 survey of women (1,500 of 6,366 rows, seeded sample; 8 features), whether any "
                   "affair was reported, accuracy; source: statsmodels.datasets.fair (included with the author's "
                   "permission). In the suite as a real problem with a weak signal and noisy labels.")

    def load_data(self, data_dir):
        frame = _sample(_statsmodels("fair"), 1500)
        frame["affairs"] = (frame["affairs"] > 0).astype(int)
        return _dataset("fair affairs > 0 (statsmodels)", frame, "affairs", "classification")


class ModeChoice(LargeSuiteExperiment):
    name = "mode-choice"
    description = ("Travel mode between Sydney and Melbourne (210 rows, one per traveller; 18 features: each mode's waiting "
                   "time, cost, in-vehicle time and generalized cost, income, party size; 4 classes), accuracy; "
                   "source: statsmodels.datasets.modechoice (public domain). In the suite as a small real "
                   "multi-class problem where the features are the alternatives' attributes.")

    def load_data(self, data_dir):
        long = _statsmodels("modechoice")
        wide = long.pivot(index="individual", columns="mode", values=["ttme", "invc", "invt", "gc"])
        wide.columns = [f"{attribute}_{int(mode)}" for attribute, mode in wide.columns]
        first = long.groupby("individual")[["hinc", "psize"]].first()
        chosen = long[long["choice"] == 1].set_index("individual")["mode"].astype(int) - 1
        frame = wide.join(first).join(chosen.rename("mode")).reset_index(drop=True)
        return _dataset("mode choice (statsmodels)", frame, "mode", "classification")


class SpectorGrade(LargeSuiteExperiment):
    name = "spector-grade"
    description = ("Spector and Mazzeo's economics students (32 rows, 3 features: GPA, TUCE score, the PSI "
                   "teaching method), whether the grade improved, accuracy; source: statsmodels.datasets.spector "
                   "(included with the author's permission). In the suite at the hopeless end: 25 training rows "
                   "per split for a network of ~1,500 weights.")

    def load_data(self, data_dir):
        return _dataset("spector grade (statsmodels)", _statsmodels("spector"), "GRADE", "classification")


class Star98(LargeSuiteExperiment):
    name = "star98"
    description = ("California school districts' 1998 test results (303 rows, 20 features), the share of "
                   "students above the national median in maths, RMSE; source: statsmodels.datasets.star98 "
                   "(included with the author's permission). In the suite as a real regression with many "
                   "correlated (interaction) features for its rows.")
    task = "regression"

    def load_data(self, data_dir):
        frame = _statsmodels("star98")
        frame["share_above"] = frame["NABOVE"] / (frame["NABOVE"] + frame["NBELOW"])
        return _dataset("star98 share above median (statsmodels)", frame, "share_above", "regression", ("NABOVE", "NBELOW"))


class RandHIE(LargeSuiteExperiment):
    name = "rand-hie"
    description = ("RAND Health Insurance Experiment (1,500 of 20,190 rows, seeded sample; 9 features), "
                   "the number of outpatient visits, RMSE; source: statsmodels.datasets.randhie (public domain). "
                   "In the suite as a real count regression dominated by noise.")
    task = "regression"

    def load_data(self, data_dir):
        return _dataset("randhie visits (statsmodels)", _sample(_statsmodels("randhie"), 1500), "mdvis", "regression")


class GrunfeldInvestment(LargeSuiteExperiment):
    name = "grunfeld-invest"
    description = ("Grunfeld's investment data (220 rows: 11 US firms × 20 years; value, capital, year and the "
                   "firm one-hot encoded), gross investment, RMSE; source: statsmodels.datasets.grunfeld (public "
                   "domain). In the suite as a real panel regression with a strong, nearly linear signal.")
    task = "regression"

    def load_data(self, data_dir):
        frame = _statsmodels("grunfeld")
        frame["firm"] = frame["firm"].astype(str)
        return _dataset("grunfeld investment (statsmodels)", frame, "invest", "regression")


class CreditCardSpending(LargeSuiteExperiment):
    name = "ccard-spending"
    description = ("Greene's credit-card data (72 rows, 4 features: age, income, income², home owner), average "
                   "monthly spending, RMSE; source: statsmodels.datasets.ccard (included with the author's "
                   "permission). In the suite as a tiny real regression.")
    task = "regression"

    def load_data(self, data_dir):
        return _dataset("ccard spending (statsmodels)", _statsmodels("ccard"), "AVGEXP", "regression")


class StateCrime(LargeSuiteExperiment):
    name = "state-crime"
    description = ("US states' 2009 crime statistics (51 rows, 5 features: high-school graduates, poverty, "
                   "single parents, white, urban), the murder rate, RMSE; source: statsmodels.datasets.statecrime "
                   "(public domain). In the suite at the small end: ~37 training rows per split.")
    task = "regression"

    def load_data(self, data_dir):
        return _dataset("state crime murder rate (statsmodels)", _statsmodels("statecrime"), "murder", "regression",
                        ("violent",))


class EngelFood(LargeSuiteExperiment):
    name = "engel-food"
    description = ("Engel's 1857 Belgian household budgets (235 rows, 1 feature: income), food expenditure, "
                   "RMSE; source: statsmodels.datasets.engel (public domain). In the suite as a one-feature "
                   "regression, where a 50-25 network has far more weights than the problem needs.")
    task = "regression"

    def load_data(self, data_dir):
        return _dataset("engel food expenditure (statsmodels)", _statsmodels("engel"), "foodexp", "regression")


class MacroInvestment(LargeSuiteExperiment):
    name = "macro-investment"
    description = ("US quarterly macroeconomic data 1959–2009 (203 rows, 11 features), real private investment, "
                   "RMSE; source: statsmodels.datasets.macrodata (public domain). In the suite as a real regression "
                   "of strongly collinear series (the quarters are shuffled into folds, so it measures "
                   "interpolation, not forecasting).")
    task = "regression"

    def load_data(self, data_dir):
        return _dataset("macrodata real investment (statsmodels)", _statsmodels("macrodata"), "realinv", "regression",
                        ("quarter",))


class ElNinoDecember(LargeSuiteExperiment):
    name = "elnino-december"
    description = ("Sea-surface temperatures off South America 1950–2010 (61 rows, 12 features: the year and "
                   "January–November), December's temperature, RMSE; source: statsmodels.datasets.elnino (public "
                   "domain). In the suite as a small regression whose answer is mostly in one feature (November).")
    task = "regression"

    def load_data(self, data_dir):
        return _dataset("el niño December (statsmodels)", _statsmodels("elnino"), "DEC", "regression")


class ScotlandVote(LargeSuiteExperiment):
    name = "scotland-vote"
    description = ("Scotland's 1997 devolution referendum by council area (32 rows, 7 features), the share voting "
                   "yes, RMSE; source: statsmodels.datasets.scotland (included with the author's permission). In "
                   "the suite at the hopeless end: 25 training rows per split.")
    task = "regression"

    def load_data(self, data_dir):
        return _dataset("scotland yes vote (statsmodels)", _statsmodels("scotland"), "YES", "regression")


class StrikeDuration(LargeSuiteExperiment):
    name = "strike-duration"
    description = ("Kennan's contract strikes (62 rows, 1 feature: industrial production), strike duration in "
                   "days, RMSE; source: statsmodels.datasets.strikes (public domain). In the suite as a real "
                   "problem with almost no signal: the best a network can do is predict the mean.")
    task = "regression"

    def load_data(self, data_dir):
        return _dataset("strike duration (statsmodels)", _statsmodels("strikes"), "duration", "regression")


class StackLoss(LargeSuiteExperiment):
    name = "stack-loss"
    description = ("Brownlee's stack loss of an ammonia plant (21 rows, 3 features: air flow, water temperature, "
                   "acid concentration), the ammonia lost, RMSE; source: statsmodels.datasets.stackloss (public "
                   "domain). In the suite at the hopeless end: ~15 training rows per split, though the relation is "
                   "nearly linear.")
    task = "regression"

    def load_data(self, data_dir):
        return _dataset("stack loss (statsmodels)", _statsmodels("stackloss"), "STACKLOSS", "regression")


# ---------------------------------------------------------------------- the designed grid
#: the grid's factors: rows (training rows per weight follow from them: the network has ~3,400
#: weights for 40 inputs), the share of labels replaced by the other class, and the share of
#: the 40 features that carry the signal (the rest are noise)
GRID_ROWS = (150, 500, 1500)
GRID_NOISE = (0.0, 0.1, 0.25)
GRID_INFORMATIVE = (0.1, 0.5)
GRID_FEATURES = 40


class GridProblem(LargeSuiteExperiment):
    """One cell of the designed grid: a binary make_classification problem with GRID_FEATURES
    features, `informative` of them informative, `rows` rows, and a `label_noise` share of the
    labels flipped to the other class (exactly that share, seeded)."""

    abstract = True
    rows: int = 500
    informative: float = 0.5

    def load_data(self, data_dir):
        seed = GRID_ROWS.index(self.rows) * 100 + GRID_NOISE.index(self.label_noise) * 10 + GRID_INFORMATIVE.index(self.informative)
        useful = max(1, round(self.informative * GRID_FEATURES))
        X, y = datasets.make_classification(
            n_samples=self.rows, n_features=GRID_FEATURES, n_informative=useful, n_redundant=0, n_repeated=0,
            n_clusters_per_class=2, class_sep=1.0, flip_y=0.0, random_state=1000 + seed)
        rng = np.random.default_rng(seed)
        flip = rng.permutation(self.rows)[: round(self.label_noise * self.rows)]
        y[flip] = 1 - y[flip]
        return _frame(X, y, f"grid: {self.rows} rows, {self.label_noise:.0%} noisy labels, {useful} of {GRID_FEATURES} "
                            "features informative", "classification")


def _grid_class(rows: int, noise: float, informative: float) -> type[GridProblem]:
    name = f"grid-n{rows}-noise{round(noise * 100):02d}-inf{round(informative * 100):02d}"
    useful = max(1, round(informative * GRID_FEATURES))
    description = (f"Generated (make_classification, seeded): {rows} rows, {GRID_FEATURES} features of which {useful} "
                   f"are informative, 2 classes, {noise:.0%} of the labels flipped, accuracy against those labels. "
                   "In the suite as one cell of the designed grid (rows × label noise × informative share).")
    cls_name = "Grid" + name.replace("grid-", "").replace("-", "_").title().replace("_", "")
    cls = type(cls_name, (GridProblem,), {"name": name, "description": description, "rows": rows,
                                          "label_noise": noise, "informative": informative, "__module__": __name__})
    cls.__qualname__ = cls_name
    return cls


GRID = [_grid_class(rows, noise, informative)
        for rows, noise, informative in itertools.product(GRID_ROWS, GRID_NOISE, GRID_INFORMATIVE)]
globals().update({cls.__name__: cls for cls in GRID})  # importable by name, so worker processes can unpickle them
