"""A course notebook's 1-D toy on early stopping, penalties, ensembles and sample size
(shared/seeds/004_4f391a39d47d7e1b.txt).

The notebook: y = x² + N(0, 0.2²) observed at 10 points evenly spaced in [-1, 1], a test set
from the same law (100 points there, far more than the training set "to have converged
validation metrics"), scikit-learn's `MLPRegressor(hidden_layer_sizes=(20,), activation='tanh',
tol=1e-7, max_iter=20000)`: 20 tanh units, linear output, squared error, Adam at 1e-3 on the
whole (≤ 200 rows) training set per step. It asks for the train and test error per iteration
(early stopping), the test error against the L2 coefficient α of C = MSE + α Σ w² and its L1
analogue, how many weights stay clearly non-zero, an ensemble of networks from different
initial weights, and what more data does. It is an exercise: it prints no results; the one
number it implies is the noise floor, a test MSE of 0.2² = 0.04 for the true curve.

Here: the same network in Keras (full-batch Adam steps, MSE, raw x and y), the penalty
α Σ w² (`L2(α)`) or α Σ |w| (`L1(α)`) on both layers' kernels, no early stopping while the
test MSE is recorded after every epoch, 10 initializations per variant on the same data,
1000 test points evenly spaced. Two departures from the notebook, both for time: Adam's
learning rate is 1e-2, not scikit-learn's 1e-3, for 2000 epochs instead of up to 20000
iterations (at 1e-3, 3000 epochs left the unpenalized networks still short of overfitting and
some penalized ones stuck at a constant); and "none" here is no penalty at all, where the
notebook's first MLPRegressor has scikit-learn's default alpha=1e-4 (a penalty of
alpha/(2n) Σ w² added to half the MSE: α = 1e-5 in this file's terms for n = 10).
`toy-1d-more-data` gives every (n, repeat) its own evenly spaced n points with fresh noise.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.preprocessing import FunctionTransformer

from harness import Dataset, Experiment, Section, Variant
from harness.records import decode_weights
from harness.splitters import FixedSplit, TrainingSizeSplit
from harness.stats import kernel_arrays

SOURCE = ("Course notebook \"Neural network regularization and deep learning\" (Deremble, Tantet et al.), "
          "1-D toy problem y = x² (shared/seeds/004_4f391a39d47d7e1b.txt)")
NOISE_SD = 0.2
STRENGTHS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
#: a weight "stays" when its magnitude is above this after training
THRESHOLD = 1e-2


def truth(x: np.ndarray) -> np.ndarray:
    return x ** 2


def noisy_parabola(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points evenly spaced in [-1, 1] with y = x² + N(0, 0.2²)."""
    x = np.linspace(-1.0, 1.0, n)
    return x, truth(x) + rng.normal(0.0, NOISE_SD, n)


def penalty_variants() -> list[Variant]:
    return ([Variant("none")]
            + [Variant(f"L2 {a:g}", l2=a) for a in STRENGTHS]
            + [Variant(f"L1 {a:g}", l1=a) for a in STRENGTHS])


def forward(blob: bytes, x: np.ndarray) -> np.ndarray:
    """A stored tanh network's outputs at x, in NumPy: its weights come in layer order, kernel
    then bias; every layer but the last is tanh."""
    weights = list(decode_weights(blob).values())
    out = x.reshape(-1, 1)
    for i in range(0, len(weights), 2):
        out = out @ weights[i] + weights[i + 1]
        if i + 2 < len(weights):
            out = np.tanh(out)
    return out.ravel()


def kernel_count_above(blob: bytes, threshold: float = THRESHOLD) -> int:
    return int(sum(np.sum(np.abs(w) > threshold) for w in kernel_arrays(decode_weights(blob))))


class Toy1DBase(Experiment):
    abstract = True
    source = SOURCE
    task = "regression"
    score = "rmse"
    standardize_target = False
    hidden_units = (20,)
    activation = "tanh"
    optimizer = "adam"
    learning_rate = 1e-2
    batch_size = 1000  # every training set here fits in one batch: full-batch steps, as MLPRegressor on ≤ 200 rows
    epochs = 2000
    patience = None
    test_curve = True
    quick_epochs = 20
    n_test = 1000
    data_seed = 0

    def preprocessor(self, X):
        return FunctionTransformer()  # raw x, so the stored weights draw the curve directly

    def build_model(self, variant, n_inputs, n_outputs):
        """1-20-1 (`hidden_units`), tanh hidden, linear output, the penalty on every kernel."""
        import keras

        def penalty():
            if variant.l1 and variant.l2:
                return keras.regularizers.L1L2(variant.l1, variant.l2)
            if variant.l1:
                return keras.regularizers.L1(variant.l1)
            return keras.regularizers.L2(variant.l2) if variant.l2 else None

        hidden = [keras.layers.Dense(units, activation=self.activation, kernel_regularizer=penalty())
                  for units in self.hidden_units]
        return keras.Sequential([keras.Input((n_inputs,)), *hidden, keras.layers.Dense(1, kernel_regularizer=penalty())])

    def test_points(self) -> tuple[np.ndarray, np.ndarray]:
        return noisy_parabola(self.n_test, np.random.default_rng([self.data_seed, 1]))


class Toy1D(Toy1DBase):
    name = "toy-1d"
    description = ("1-D toy y = x² + noise, 10 training points, 20 tanh units: early stopping, L2 and L1 "
                   "strength, weights in use, fitted curves and an ensemble of 10 initializations.")
    in_default_suite = True
    n_train = 10
    repeats = 10
    variants = tuple(penalty_variants())

    def load_data(self, data_dir):
        x_train, y_train = noisy_parabola(self.n_train, np.random.default_rng([self.data_seed, 0]))
        x_test, y_test = self.test_points()
        return Dataset(f"y = x² + N(0, 0.2²): {self.n_train} training, {self.n_test} test points",
                       pd.DataFrame({"x": np.concatenate([x_train, x_test])}),
                       pd.Series(np.concatenate([y_train, y_test]), name="y"), "regression")

    def splitter(self):
        return FixedSplit(self.n_train, self.repeats)

    def report_sections(self, folds):
        from harness.report.figures import to_base64

        ok = folds[folds["status"] == "ok"].copy()
        if ok.empty:
            return []
        ok["test_mse"] = ok["score"] ** 2
        ok["weights_above"] = ok["weights"].map(kernel_count_above)
        data = self.load_data(None)
        x_train, y_train = data.X["x"].to_numpy()[: self.n_train], data.y.to_numpy()[: self.n_train]
        x_test, y_test = data.X["x"].to_numpy()[self.n_train:], data.y.to_numpy()[self.n_train:]
        sections = [self._early_stopping(ok, to_base64), self._strengths(ok, to_base64),
                    self._curves(ok, x_train, y_train, to_base64), self._ensemble(ok, x_test, y_test, to_base64)]
        return [section for section in sections if section is not None]

    def _early_stopping(self, ok, to_base64) -> Section | None:
        none = ok[ok["variant"] == "none"]
        if none.empty:
            return None
        train = np.array([c for c in none["loss"]], dtype=float)
        test = np.array([c for c in none["val_loss"]], dtype=float)
        epochs = np.arange(1, train.shape[1] + 1)
        mean_train, mean_test = train.mean(axis=0), test.mean(axis=0)
        best = int(np.nanargmin(mean_test))
        per_init_best = np.nanargmin(test, axis=1) + 1
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(epochs, mean_train, label="training MSE (mean of 10 inits)")
        ax.plot(epochs, mean_test, label="test MSE (mean of 10 inits)")
        ax.axvline(best + 1, color="grey", linestyle="--", label=f"best epoch {best + 1}: test MSE {mean_test[best]:.4f}")
        ax.axhline(NOISE_SD ** 2, color="black", linestyle=":", label="noise floor 0.04")
        ax.set_yscale("log")
        ax.set_xlabel("epoch (one full-batch Adam step)")
        ax.set_ylabel("MSE")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        table = pd.DataFrame({
            "init": none["fold"].to_numpy() + 1, "best epoch": per_init_best,
            "test MSE at best epoch": test.min(axis=1), "test MSE at last epoch": test[:, -1],
            "training MSE at last epoch": train[:, -1],
        })
        return Section(
            "Early stopping: training and test MSE per epoch (no penalty)",
            f"Mean over the 10 initializations; the dashed line marks the epoch with the lowest mean "
            f"test MSE ({best + 1} of {len(epochs)}), where stopping early would have kept the weights. "
            f"Training MSE keeps falling to {mean_train[-1]:.4f} while test MSE ends at {mean_test[-1]:.4f} "
            f"against {mean_test[best]:.4f} at its best and 0.04 for the true curve. The test MSE is only "
            "recorded, never used to stop: every variant trains all epochs.",
            figure=to_base64(fig), table=table, csv="early_stopping.csv",
        )

    def _strengths(self, ok, to_base64) -> Section | None:
        ok = ok.copy()
        ok["penalty"] = np.where(ok["config"].map(lambda c: c["l1"]) > 0, "L1",
                                 np.where(ok["config"].map(lambda c: c["l2"]) > 0, "L2", "none"))
        ok["alpha"] = ok["config"].map(lambda c: max(c["l1"], c["l2"]))
        table = (ok.groupby(["penalty", "alpha"])
                 .agg(test_mse=("test_mse", "mean"), test_mse_sd=("test_mse", "std"),
                      weights_above=("weights_above", "mean"), inits=("fold", "count"))
                 .reset_index())
        grid = table[table["penalty"] != "none"]
        if grid.empty:
            return None
        none = table[table["penalty"] == "none"].iloc[0] if (table["penalty"] == "none").any() else None
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        for penalty, rows in grid.groupby("penalty"):
            left.errorbar(rows["alpha"], rows["test_mse"], yerr=rows["test_mse_sd"], marker="o", capsize=3, label=penalty)
            right.plot(rows["alpha"], rows["weights_above"], marker="o", label=penalty)
        if none is not None:
            left.axhline(none["test_mse"], color="grey", linestyle="--", label=f"none ({none['test_mse']:.4f})")
            right.axhline(none["weights_above"], color="grey", linestyle="--", label="none")
        left.axhline(NOISE_SD ** 2, color="black", linestyle=":", label="noise floor 0.04")
        for ax in (left, right):
            ax.set_xscale("log")
            ax.set_xlabel("α")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        left.set_ylabel("test MSE (mean ± sd over inits)")
        right.set_ylabel(f"kernel weights with |w| > {THRESHOLD:g} (of 40)")
        fig.tight_layout()
        best = grid.loc[grid.groupby("penalty")["test_mse"].idxmin()]
        text = "; ".join(f"best {r.penalty}: α = {r.alpha:g}, test MSE {r.test_mse:.4f}, {r.weights_above:.1f} weights above {THRESHOLD:g}"
                         for r in best.itertuples())
        return Section(
            "Test MSE and weights in use against penalty strength",
            "C = MSE + α Σ w² (L2) or α Σ |w| (L1) over both layers' 40 kernel weights; "
            + (f"no penalty: test MSE {none['test_mse']:.4f} with {none['weights_above']:.1f} weights above "
               f"{THRESHOLD:g}. " if none is not None else "")
            + f"{text}. "
            "The right panel counts the kernel weights whose magnitude stays above the threshold: the "
            "notebook's hint that a penalized network uses fewer units than it has.",
            figure=to_base64(fig), table=table, csv="penalty_strength.csv",
        )

    def _best(self, ok, penalty: str) -> str | None:
        rows = ok[ok["variant"].str.startswith(penalty + " ")]
        return rows.groupby("variant")["test_mse"].mean().idxmin() if len(rows) else None

    def _curves(self, ok, x_train, y_train, to_base64) -> Section:
        grid = np.linspace(-1, 1, 201)
        names = [n for n in ("none", self._best(ok, "L2"), self._best(ok, "L1")) if n]
        fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), sharey=True, squeeze=False)
        for ax, name in zip(axes[0], names):
            for blob in ok[ok["variant"] == name]["weights"]:
                ax.plot(grid, forward(blob, grid), color="#1f77b4", linewidth=0.8, alpha=0.5)
            ax.plot(grid, truth(grid), "k--", label="truth x²")
            ax.plot(x_train, y_train, "o", color="#d62728", label="training points")
            ax.set_title(f"{name}: the 10 initializations", fontsize=10)
            ax.set_xlabel("x")
            ax.grid(alpha=0.3)
        axes[0, 0].set_ylabel("y")
        axes[0, 0].legend(fontsize=8)
        fig.tight_layout()
        return Section("Fitted curves against the truth",
                       "Each thin line is one trained network, drawn from its stored weights, beside the true "
                       "curve and the 10 training points: no penalty, and the L2 and L1 strengths with the "
                       "lowest mean test MSE.", figure=to_base64(fig))

    def _ensemble(self, ok, x_test, y_test, to_base64) -> Section:
        rows = []
        grid = np.linspace(-1, 1, 201)
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, group in ok.groupby("variant", sort=False):
            preds = np.array([forward(blob, x_test) for blob in group["weights"]])
            members = np.mean((preds - y_test) ** 2, axis=1)
            ensemble = float(np.mean((preds.mean(axis=0) - y_test) ** 2))
            rows.append({"variant": name, "members": len(preds), "mean member test MSE": members.mean(),
                         "best member test MSE": members.min(), "ensemble test MSE": ensemble})
            if name == "none":
                curves = np.array([forward(blob, grid) for blob in group["weights"]])
                for curve in curves:
                    ax.plot(grid, curve, color="#1f77b4", linewidth=0.6, alpha=0.4)
                ax.plot(grid, curves.mean(axis=0), color="#ff7f0e", linewidth=2.2, label="ensemble mean (no penalty)")
        ax.plot(grid, truth(grid), "k--", label="truth x²")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        table = pd.DataFrame(rows)
        none = table[table["variant"] == "none"]
        headline = (f"No penalty: mean member test MSE {none.iloc[0]['mean member test MSE']:.4f}, ensemble "
                    f"{none.iloc[0]['ensemble test MSE']:.4f}. " if len(none) else "")
        return Section(
            "Ensemble of initializations",
            f"Per variant, the average of the networks trained from different initial weights on the same "
            f"data, against its members. {headline}(The ensemble's squared error can never exceed the "
            "members' mean, by convexity; the question is by how much it is lower.)",
            figure=to_base64(fig), table=table, csv="ensemble.csv",
        )


class Toy1DMoreData(Toy1DBase):
    name = "toy-1d-more-data"
    description = ("1-D toy y = x² + noise with 10, 30, 100 and 1000 training points, 20 tanh units, "
                   "no penalty vs L2 1e-3: what more data does to overfitting.")
    in_default_suite = True
    sizes = (10, 30, 100, 1000)
    repeats = 5
    variants = (Variant("none"), Variant("L2 0.001", l2=1e-3))

    def load_data(self, data_dir):
        parts = [noisy_parabola(n, np.random.default_rng([self.data_seed, 2, n, r])) for n, r in self.splitter().blocks()]
        x_test, y_test = self.test_points()
        x = np.concatenate([p[0] for p in parts] + [x_test])
        y = np.concatenate([p[1] for p in parts] + [y_test])
        return Dataset(f"y = x² + N(0, 0.2²): {', '.join(map(str, self.sizes))} training points, {self.n_test} test",
                       pd.DataFrame({"x": x}), pd.Series(y, name="y"), "regression")

    def splitter(self):
        return TrainingSizeSplit(self.sizes, self.repeats, self.n_test)

    def report_sections(self, folds):
        from harness.report.figures import to_base64

        ok = folds[folds["status"] == "ok"].copy()
        if ok.empty:
            return []
        ok["n"] = ok["metrics"].map(lambda m: int(m["train_rows"]))
        ok["test MSE"] = ok["score"] ** 2
        ok["training MSE"] = ok["train_score"] ** 2
        table = (ok.groupby(["variant", "n"], sort=False)[["training MSE", "test MSE"]].agg(["mean", "std"]))
        table.columns = [" ".join(c) for c in table.columns]
        table = table.reset_index()
        grid = np.linspace(-1, 1, 201)
        fig, axes = plt.subplots(1, 1 + len(self.sizes), figsize=(4 * (1 + len(self.sizes)), 3.6), squeeze=False)
        ax = axes[0, 0]
        for name, rows in table.groupby("variant", sort=False):
            line, = ax.plot(rows["n"], rows["test MSE mean"], marker="o", label=f"{name}: test")
            ax.plot(rows["n"], rows["training MSE mean"], marker="s", linestyle="--", color=line.get_color(), label=f"{name}: training")
        ax.axhline(NOISE_SD ** 2, color="black", linestyle=":", label="noise floor 0.04")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training points n")
        ax.set_ylabel("MSE (mean over inits)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
        for ax, n in zip(axes[0, 1:], sorted(ok["n"].unique())):
            for blob in ok[(ok["n"] == n) & (ok["variant"] == "none")]["weights"]:
                ax.plot(grid, forward(blob, grid), color="#1f77b4", linewidth=0.8, alpha=0.6)
            ax.plot(grid, truth(grid), "k--")
            ax.set_title(f"n = {n}, no penalty", fontsize=10)
            ax.set_ylim(-0.5, 1.5)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        def by_n(variant):
            rows = table[table["variant"] == variant].set_index("n")
            return ", ".join(f"n = {n}: {test:.4f} (training {train:.4f})"
                             for n, test, train in zip(rows.index, rows["test MSE mean"], rows["training MSE mean"])) or "not run"
        text, text_l2 = by_n("none"), by_n("L2 0.001")
        return [Section(
            "More data",
            f"Test and training MSE against the number of training points, and the unpenalized fits "
            f"(one line per repeat: its own data and initialization). Test MSE without a penalty: {text}; "
            f"with L2 1e-3: {text_l2}; the noise floor is 0.04. The notebook's question: with enough "
            "points, does the 20-unit network still overfit?",
            figure=to_base64(fig), table=table, csv="more_data.csv",
        )]
