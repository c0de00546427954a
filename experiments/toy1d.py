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

from harness import Dataset, Experiment, Results, Section, Variant
from harness.report.figures import against_strength, curves, panels
from harness.regularizers import kernel_penalty
from harness.splitters import FixedSplit, TrainingSizeSplit
from harness.stats import kernel_arrays

SOURCE = ("Course notebook \"Neural network regularization and deep learning\" (Deremble, Tantet et al.), "
          "1-D toy problem y = x² (shared/seeds/004_4f391a39d47d7e1b.txt)")
NOISE_SD = 0.2
STRENGTHS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
#: a weight "stays" when its magnitude is above this after training
THRESHOLD = 1e-2
NOT_RECORDED = ("This run was stored before the harness read each variant's penalty and strength from the model it "
                "builds, which these figures are drawn from. Run the experiment again: its jobs are found in the "
                "store, nothing is trained, and the new run records them.")


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


def forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """A stored tanh network's outputs at x, in NumPy: its weights come in layer order, kernel
    then bias; every layer but the last is tanh."""
    arrays = list(weights.values())
    out = x.reshape(-1, 1)
    for i in range(0, len(arrays), 2):
        out = out @ arrays[i] + arrays[i + 1]
        if i + 2 < len(arrays):
            out = np.tanh(out)
    return out.ravel()


def kernel_count_above(weights: dict[str, np.ndarray], threshold: float = THRESHOLD) -> int:
    return int(sum(np.sum(np.abs(w) > threshold) for w in kernel_arrays(weights)))


def fits_figure(ax, weights: list[dict[str, np.ndarray]], title: str, points=None) -> None:
    """Each trained network's curve on [-1, 1] beside the truth (and the training points)."""
    grid = np.linspace(-1, 1, 201)
    for w in weights:
        ax.plot(grid, forward(w, grid), color="#1f77b4", linewidth=0.8, alpha=0.5)
    ax.plot(grid, truth(grid), "k--", label="truth x²")
    if points is not None:
        ax.plot(*points, "o", color="#d62728", label="training points")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)


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

        hidden = [keras.layers.Dense(units, activation=self.activation,
                                     kernel_regularizer=kernel_penalty(variant.l1, variant.l2))
                  for units in self.hidden_units]
        output = keras.layers.Dense(1, kernel_regularizer=kernel_penalty(variant.l1, variant.l2))
        return keras.Sequential([keras.Input((n_inputs,)), *hidden, output])

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

    def report_sections(self, results):
        scores = results.scores()
        if scores.empty:
            return []
        if results.data is None:
            return [Section("Fitted curves and ensembles", error="the run's data is not in the results store "
                            "(it was recorded before runs kept their data); run it again")]
        scores["test_mse"] = scores["score"] ** 2
        scores["weights_above"] = scores["weights"].map(kernel_count_above)
        x, y = results.data.X["x"].to_numpy(), results.data.y.to_numpy()
        train, test = (x[: self.n_train], y[: self.n_train]), (x[self.n_train:], y[self.n_train:])
        by_strength = [strengths(scores), fitted_curves(results, scores, train)] if results.regularization_recorded \
            else [Section("Test MSE and weights in use against penalty strength", NOT_RECORDED)]
        sections = [early_stopping(results), *by_strength, ensemble(results, *test)]
        return [section for section in sections if section is not None]


def early_stopping(results: Results) -> Section | None:
    train, test = results.curve("none", "loss"), results.curve("none", "val_loss")
    if not train.size:
        return None
    mean_train, mean_test = train.mean(axis=0), test.mean(axis=0)
    best = int(np.nanargmin(mean_test))
    fig, ax = plt.subplots(figsize=(7, 4))
    curves(ax, train, "training MSE (mean of the inits)", "#1f77b4", faint=False)
    curves(ax, test, "test MSE (mean of the inits)", "#ff7f0e", faint=False)
    ax.axvline(best + 1, color="grey", linestyle="--", label=f"best epoch {best + 1}: test MSE {mean_test[best]:.4f}")
    ax.axhline(NOISE_SD ** 2, color="black", linestyle=":", label="noise floor 0.04")
    ax.set(yscale="log", xlabel="epoch (one full-batch Adam step)", ylabel="MSE")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    table = pd.DataFrame({
        "init": results.ok("none")["split"].to_numpy() + 1, "best epoch": np.nanargmin(test, axis=1) + 1,
        "test MSE at best epoch": np.nanmin(test, axis=1), "test MSE at last epoch": test[:, -1],
        "training MSE at last epoch": train[:, -1],
    })
    return Section(
        "Early stopping: training and test MSE per epoch (no penalty)",
        f"Mean over the {len(train)} initializations; the dashed line marks the epoch with the lowest mean "
        f"test MSE ({best + 1} of {train.shape[1]}), where stopping early would have kept the weights. "
        f"Training MSE keeps falling to {mean_train[-1]:.4f} while test MSE ends at {mean_test[-1]:.4f} "
        f"against {mean_test[best]:.4f} at its best and 0.04 for the true curve. The test MSE is only "
        "recorded, never used to stop: every variant trains all epochs.",
        figure=fig, table=table, csv="early_stopping.csv",
    )


def strengths(scores: pd.DataFrame) -> Section | None:
    scores = scores.assign(alpha=scores["strength"].fillna(0.0))  # the penalty's α, read from the model; 0: none
    table = (scores.groupby(["penalty", "alpha"])
             .agg(test_mse=("test_mse", "mean"), test_mse_sd=("test_mse", "std"),
                  weights_above=("weights_above", "mean"), inits=("split", "count")).reset_index())
    grid, none = table[table["penalty"] != "none"], table[table["penalty"] == "none"]
    if grid.empty:
        return None
    none = none.iloc[0] if len(none) else None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    against_strength(grid, "alpha", "test_mse", "penalty", yerr="test_mse_sd", ax=left,
                     reference=None if none is None else none["test_mse"], floor=NOISE_SD ** 2,
                     floor_label="noise floor 0.04", xlabel="α", ylabel="test MSE (mean ± sd over inits)")
    against_strength(grid, "alpha", "weights_above", "penalty", ax=right,
                     reference=None if none is None else none["weights_above"], xlabel="α",
                     ylabel=f"kernel weights with |w| > {THRESHOLD:g} (of 40)")
    best = grid.loc[grid.groupby("penalty")["test_mse"].idxmin()]
    text = "; ".join(f"best {r.penalty}: α = {r.alpha:g}, test MSE {r.test_mse:.4f}, {r.weights_above:.1f} weights "
                     f"above {THRESHOLD:g}" for r in best.itertuples())
    return Section(
        "Test MSE and weights in use against penalty strength",
        "C = MSE + α Σ w² (L2) or α Σ |w| (L1) over both layers' 40 kernel weights; "
        + (f"no penalty: test MSE {none['test_mse']:.4f} with {none['weights_above']:.1f} weights above "
           f"{THRESHOLD:g}. " if none is not None else "")
        + f"{text}. The right panel counts the kernel weights whose magnitude stays above the threshold: the "
        "notebook's hint that a penalized network uses fewer units than it has.",
        figure=fig, table=table, csv="penalty_strength.csv",
    )


def best_of(scores: pd.DataFrame, penalty: str) -> str | None:
    rows = scores[scores["penalty"] == penalty]
    return rows.groupby("variant")["test_mse"].mean().idxmin() if len(rows) else None


def fitted_curves(results: Results, scores: pd.DataFrame, train: tuple[np.ndarray, np.ndarray]) -> Section:
    names = [n for n in ("none", best_of(scores, "L2"), best_of(scores, "L1")) if n]
    fig, axes = panels(len(names), width=4.2, height=3.6, sharey=True)
    for ax, name in zip(axes, names):
        fits_figure(ax, results.weights(name), f"{name}: the {len(results.weights(name))} initializations", train)
    axes[0].set_ylabel("y")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return Section("Fitted curves against the truth",
                   "Each thin line is one trained network, drawn from its stored weights, beside the true "
                   "curve and the training points: no penalty, and the L2 and L1 strengths with the "
                   "lowest mean test MSE.", figure=fig)


def ensemble(results: Results, x_test: np.ndarray, y_test: np.ndarray) -> Section:
    rows = []
    for name in results.networks:
        preds = np.array([forward(w, x_test) for w in results.weights(name)])
        if not len(preds):
            continue
        members = np.mean((preds - y_test) ** 2, axis=1)
        rows.append({"variant": name, "members": len(preds), "mean member test MSE": members.mean(),
                     "best member test MSE": members.min(),
                     "ensemble test MSE": float(np.mean((preds.mean(axis=0) - y_test) ** 2))})
    grid = np.linspace(-1, 1, 201)
    fig, ax = plt.subplots(figsize=(7, 4))
    fits_figure(ax, results.weights("none"), "")
    members = np.array([forward(w, grid) for w in results.weights("none")])
    if len(members):
        ax.plot(grid, members.mean(axis=0), color="#ff7f0e", linewidth=2.2, label="ensemble mean (no penalty)")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)
    table = pd.DataFrame(rows)
    none = table[table["variant"] == "none"] if len(table) else table
    headline = (f"No penalty: mean member test MSE {none.iloc[0]['mean member test MSE']:.4f}, ensemble "
                f"{none.iloc[0]['ensemble test MSE']:.4f}. " if len(none) else "")
    return Section(
        "Ensemble of initializations",
        f"Per variant, the average of the networks trained from different initial weights on the same "
        f"data, against its members. {headline}(The ensemble's squared error can never exceed the "
        "members' mean, by convexity; the question is by how much it is lower.)",
        figure=fig, table=table, csv="ensemble.csv",
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

    def report_sections(self, results):
        scores = results.scores()
        if scores.empty:
            return []
        scores = scores.assign(n=scores["train_rows"].astype(int), **{"test MSE": scores["score"] ** 2,
                                                                      "training MSE": scores["train_score"] ** 2})
        table = scores.groupby(["variant", "n"], sort=False)[["training MSE", "test MSE"]].agg(["mean", "std"])
        table.columns = [" ".join(c) for c in table.columns]
        table = table.reset_index()
        sizes = sorted(scores["n"].unique())
        fig, axes = panels(1 + len(sizes), cols=1 + len(sizes), width=4, height=3.6)
        against_strength(table.rename(columns={"test MSE mean": "test", "training MSE mean": "training"}), "n",
                         "test", "variant", dashed="training", floor=NOISE_SD ** 2, floor_label="noise floor 0.04",
                         logy=True, xlabel="training points n", ylabel="MSE (mean over inits)", ax=axes[0])
        for ax, n in zip(axes[1:], sizes):
            fits_figure(ax, list(scores[(scores["variant"] == "none") & (scores["n"] == n)]["weights"]),
                        f"n = {n}, no penalty")
            ax.set_ylim(-0.5, 1.5)
        fig.tight_layout()

        def by_n(variant):
            rows = table[table["variant"] == variant].set_index("n")
            return ", ".join(f"n = {n}: {test:.4f} (training {train:.4f})"
                             for n, test, train in zip(rows.index, rows["test MSE mean"], rows["training MSE mean"])) or "not run"

        return [Section(
            "More data",
            f"Test and training MSE against the number of training points, and the unpenalized fits "
            f"(one line per repeat: its own data and initialization). Test MSE without a penalty: {by_n('none')}; "
            f"with L2 1e-3: {by_n('L2 0.001')}; the noise floor is 0.04. The notebook's question: with enough "
            "points, does the 20-unit network still overfit?",
            figure=fig, table=table, csv="more_data.csv",
        )]
