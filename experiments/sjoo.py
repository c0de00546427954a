"""Sjöo, "Investigating Relations between Regularization and Weight Initialization in Artificial
Neural Networks", LU-TP 22-30 (shared/seeds/003_607a2717daa3b9cd.txt).

The thesis asks whether the best L2 strength λ* scales as 1/N with the number N of training
patterns (the prior's term in the mean loss is divided by N). Its set-up: two equally large
spherical Gaussian clouds in 10 dimensions, centres 13.86 apart, standard deviation 8 per
dimension; an MLP with one hidden layer of 15 units and one output, cross-entropy, 500 epochs,
learning rate 0.1; λ on the grid 1, 2, 4, 8 × 10^k from 1e-5 to 0.02 (14 values); for each N
and data seed, λ* is the λ with the lowest validation error; log λ* is regressed on log N.
It reports slopes -0.685 (first test, N = 8 … 3240), -1.31, -0.79 and -0.11 for initial weight
variance 1/K scaled by 0.1, 1 and 10 (N = 108 … 3300), and L1 with "close to equal" slope to L2.

Here: Ω = ½Σw² (Keras `L2(λ/2)`) or Σ|w| (`L1(λ)`) on both layers' kernels, tanh hidden units
and a sigmoid output (the thesis names neither activation nor batch size), plain SGD at
learning rate 0.1 in mini-batches of 128 (the thesis gives no batch size; in a trial with L2,
N = 108, 330, 1000, 3300 and 2-3 seeds, batches of 32, 128 and full-batch training gave mean λ*
within one grid step of each other), inputs standardized on each training set, weights drawn
from N(0, scale/fan_in), biases zero. Each (N, seed) trains on its own freshly generated N rows and is
scored on one shared validation set of 10 000 rows. λ* is also taken on the grid continued to
0.8, since at small N it sits on the thesis' upper end. The slope is fitted to log λ* of every
(N, seed), and the figure shows geometric means; the thesis plots arithmetic means.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from harness import Dataset, Experiment, Results, Section, Variant
from harness.report.figures import against_strength, panels
from harness.splitters import TrainingSizeSplit

SOURCE = ("R. Sjöo, \"Investigating Relations between Regularization and Weight Initialization in "
          "Artificial Neural Networks\", Lund University LU-TP 22-30 (shared/seeds/003_607a2717daa3b9cd.txt)")
#: 1, 2, 4, 8 × 10^k from 1e-5 to 0.02: the thesis' 14 strengths
LAMBDAS = tuple(m * 10.0 ** k for k in range(-5, -1) for m in (1, 2, 4, 8) if m * 10.0 ** k <= 0.02 + 1e-12)
#: the same pattern continued to 0.8: at small N the optimum lies above the thesis' 0.02
EXTENSION = (0.04, 0.08, 0.1, 0.2, 0.4, 0.8)
#: N on a log scale from 108 to 3300 in 10 steps, as in the thesis' initialization and L1 tests
FULL_SIZES = tuple(int(round(n)) for n in np.geomspace(108, 3300, 10))
#: slopes the thesis reports, by (penalty, init scale)
THESIS_SLOPES = {("L2", 0.1): -1.31, ("L2", 1.0): -0.79, ("L2", 10.0): -0.11}
DIMENSIONS, CENTRE_DISTANCE, SPREAD = 10, 13.86, 8.0


def gaussian_clouds(n_rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two equally large spherical Gaussian clouds in 10-D, centres 13.86 apart along the
    diagonal, standard deviation 8 per dimension; classes alternate row by row."""
    y = np.arange(n_rows) % 2
    offset = CENTRE_DISTANCE / 2 / math.sqrt(DIMENSIONS)
    centres = np.where(y[:, None] == 1, offset, -offset)
    return centres + rng.normal(0.0, SPREAD, size=(n_rows, DIMENSIONS)), y


def sjoo_variants(penalties, init_scales, lambdas=LAMBDAS + EXTENSION) -> list[Variant]:
    return [
        Variant(f"{penalty} init×{scale:g} λ={lam:.0e}", settings={"penalty": penalty, "init_scale": float(scale), "lam": lam})
        for penalty in penalties for scale in init_scales for lam in lambdas
    ]


GRIDS = {"thesis (1e-5 … 0.02)": LAMBDAS, "extended (1e-5 … 0.8)": LAMBDAS + EXTENSION}


def annotated(results: Results) -> pd.DataFrame:
    """The successful splits with each one's penalty, init scale, λ (the variant's settings)
    and training-set size N as columns."""
    scores = results.scores()
    return scores.assign(N=scores["train_rows"].astype(int)) if len(scores) else scores


def best_lambdas(results: Results) -> pd.DataFrame:
    """One row per (grid, penalty, init scale, split): N, the λ of the grid with the lowest
    validation loss and that loss. A strength that failed on a split is left out there."""
    columns = ["grid", "penalty", "init_scale", "split", "N", "lambda_star", "val_loss", "grid_min", "grid_max"]
    ok = annotated(results)
    if ok.empty:
        return pd.DataFrame(columns=columns)
    parts = []
    for grid, lambdas in GRIDS.items():
        rows = ok[ok["lam"].map(lambda lam: any(math.isclose(lam, g) for g in lambdas))]
        if rows.empty:
            continue
        best = rows.loc[rows.groupby(["penalty", "init_scale", "split"])["score"].idxmin()].copy()
        best["grid"], best["grid_min"], best["grid_max"] = grid, rows["lam"].min(), rows["lam"].max()
        parts.append(best)
    best = pd.concat(parts).rename(columns={"lam": "lambda_star", "score": "val_loss"})
    best["grid"] = pd.Categorical(best["grid"], categories=list(GRIDS))  # thesis grid first
    best = best[columns].sort_values(["grid", "penalty", "init_scale", "N", "split"], ignore_index=True)
    return best.astype({"grid": str})


def slope_table(best: pd.DataFrame) -> pd.DataFrame:
    """Least-squares fit of log10 λ* = a + b·log10 N over every (N, seed) point, per (penalty,
    init scale): b with its standard error and 95% confidence interval, the t-test of b = -1,
    and how many λ* sit on an end of the grid (there the true optimum may lie beyond it)."""
    rows = []
    for (grid, penalty, scale), group in best.groupby(["grid", "penalty", "init_scale"], sort=False):
        edges = (group["lambda_star"] <= group["grid_min"]) | (group["lambda_star"] >= group["grid_max"])
        row = {"grid": grid, "penalty": penalty, "init_scale": scale, "points": len(group),
               "sizes": group["N"].nunique(), "at_grid_edge": int(edges.sum())}
        if group["N"].nunique() >= 2 and len(group) >= 3:
            fit = sps.linregress(np.log10(group["N"]), np.log10(group["lambda_star"]))
            t = sps.t.ppf(0.975, len(group) - 2)
            se = fit.stderr
            p_minus_one = 2 * sps.t.sf(abs((fit.slope + 1) / se), len(group) - 2) if se > 0 else float("nan")
            row.update(slope=fit.slope, slope_se=se, ci_low=fit.slope - t * se, ci_high=fit.slope + t * se,
                       intercept=fit.intercept, p_slope_is_minus_one=p_minus_one)
        else:
            row.update(slope=np.nan, slope_se=np.nan, ci_low=np.nan, ci_high=np.nan, intercept=np.nan,
                       p_slope_is_minus_one=np.nan)
        row["thesis_slope"] = THESIS_SLOPES.get((penalty, scale), np.nan)
        rows.append(row)
    columns = ["grid", "penalty", "init_scale", "slope", "slope_se", "ci_low", "ci_high", "p_slope_is_minus_one",
               "thesis_slope", "intercept", "points", "sizes", "at_grid_edge"]
    return pd.DataFrame(rows, columns=columns)


class SjooLambdaVsN(Experiment):
    name = "sjoo-lambda-vs-n"
    description = ("Sjöo's optimal penalty strength against training-set size: 10-D Gaussian clouds, "
                   "15 tanh units, λ* by validation loss over the thesis’ 14 strengths (and 6 more up to 0.8), slope of log λ* on log N.")
    source = SOURCE
    in_default_suite = True
    task = "classification"
    score = "log_loss"
    optimizer = "sgd"
    learning_rate = 0.1
    batch_size = 128
    epochs = 500
    patience = None
    quick_epochs = 10
    hidden_units = (15,)
    activation = "tanh"

    # the reduced version; `--full` applies full_settings
    sizes: tuple[int, ...] = (108, 330, 1000, 3300)
    repeats = 3
    penalties: tuple[str, ...] = ("L2", "L1")
    init_scales: tuple[float, ...] = (1.0,)
    n_validation = 10_000
    data_seed = 2022
    full_settings = {"sizes": FULL_SIZES, "repeats": 5, "init_scales": (0.1, 1.0, 10.0)}

    @property
    def variants(self):
        return tuple(sjoo_variants(self.penalties, self.init_scales))

    def load_data(self, data_dir):
        """One fresh block of clouds per (N, seed) split, from its own seed, then the validation set."""
        split = self.splitter()
        parts = [gaussian_clouds(n, np.random.default_rng([self.data_seed, n, r])) for n, r in split.blocks()]
        parts.append(gaussian_clouds(self.n_validation, np.random.default_rng([self.data_seed, 0, 10**6])))
        x = np.vstack([part[0] for part in parts])
        y = np.concatenate([part[1] for part in parts])
        return Dataset(f"Gaussian clouds 10-D ({split.get_n_splits()} training sets, {self.n_validation} validation rows)",
                       pd.DataFrame(x, columns=[f"x{i}" for i in range(DIMENSIONS)]), pd.Series(y, name="cloud"),
                       "classification")

    def splitter(self):
        return TrainingSizeSplit(self.sizes, self.repeats, self.n_validation)

    def build_model(self, variant, n_inputs, n_outputs):
        """`hidden_units` (15) tanh units, one sigmoid output; the penalty on every kernel; N(0, scale/fan_in) weights."""
        import keras

        lam = variant.settings["lam"]
        scale = variant.settings["init_scale"]

        def layer(units, activation):
            return keras.layers.Dense(
                units, activation=activation,
                kernel_initializer=keras.initializers.VarianceScaling(scale, mode="fan_in", distribution="untruncated_normal"),
                kernel_regularizer=keras.regularizers.L2(lam / 2) if variant.settings["penalty"] == "L2" else keras.regularizers.L1(lam),
            )

        hidden = [layer(units, self.activation) for units in self.hidden_units]
        return keras.Sequential([keras.Input((n_inputs,)), *hidden, layer(1, "sigmoid")])

    def report_sections(self, results):
        best = best_lambdas(results)
        if best.empty:
            return []
        slopes = slope_table(best)
        per_n = lambda_star_per_n(best)
        sections = [
            Section("Optimal strength λ* against N", LAMBDA_STAR_TEXT + "; ".join(slope_lines(slopes)) + ". " + THESIS_TEXT,
                    figure=lambda_star_figure(per_n, slopes), table=slopes, csv="slopes.csv"),
            Section("λ* per training-set size",
                    "Per N over data seeds: the mean and standard error of log10 λ* (what the fit uses; "
                    "10^mean is the geometric mean plotted above) and the arithmetic mean of λ*.",
                    table=per_n[["grid", "penalty", "init_scale", "N", "seeds", "log_mean", "log_se",
                                 "geometric mean", "mean"]].rename(columns={
                        "log_mean": "mean log10 λ*", "log_se": "SE of log10 λ*", "geometric mean": "geometric mean λ*",
                        "mean": "arithmetic mean λ*"}),
                    csv="lambda_star.csv"),
        ]
        return sections + [validation_curve(results)]


LAMBDA_STAR_TEXT = (
    "For each (N, data seed) and each penalty and initialization, λ* is the strength with the lowest validation "
    "cross-entropy, chosen among the thesis' 14 (1e-5 … 0.02, dashed line) and among the grid extended to 0.8; "
    "points are the geometric mean of λ* over seeds with bars one standard error of log λ*, lines the "
    "least-squares fit of log λ* = a + b·log N over all (N, seed) points (each split trains on its own fresh "
    "data, so the points are independent given the validation set; λ* is a grid value, so they are also "
    "coarse), the dotted line the 1/N hypothesis (b = -1). The thesis plots arithmetic means of λ* and appears "
    "to fit those; on log axes the two agree when the seeds agree. ")
THESIS_TEXT = (
    "The thesis reports b = -0.685 in its first test and, for the initialization variance scaled by 0.1, 1 and "
    "10, b = -1.31, -0.79 and -0.11; L1 'close to equal' to L2 with a different intercept (no number). "
    "at_grid_edge counts λ* at an end of its grid, where the optimum may lie outside it and the fit is biased "
    "towards flat.")


def lambda_star_per_n(best: pd.DataFrame) -> pd.DataFrame:
    """Per (grid, penalty, init scale, N) over data seeds: mean and standard error of log10 λ*,
    the geometric and arithmetic mean of λ*."""
    best = best.assign(log_lambda=np.log10(best["lambda_star"]))
    per_n = (best.groupby(["grid", "penalty", "init_scale", "N"], sort=False)
             .agg(log_mean=("log_lambda", "mean"),
                  log_se=("log_lambda", lambda v: v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else np.nan),
                  mean=("lambda_star", "mean"), seeds=("lambda_star", "count")).reset_index())
    per_n["geometric mean"] = 10 ** per_n["log_mean"]
    return per_n


def slope_lines(slopes: pd.DataFrame) -> list[str]:
    lines = []
    for row in slopes.itertuples():
        if np.isfinite(row.slope):
            thesis = f"; the thesis reports {row.thesis_slope:+.2f}" if np.isfinite(row.thesis_slope) else ""
            lines.append(f"{row.grid.split()[0]} grid, {row.penalty}, init ×{row.init_scale:g}: b = {row.slope:+.2f} "
                         f"(95% CI {row.ci_low:+.2f} … {row.ci_high:+.2f}; p = {row.p_slope_is_minus_one:.2g} "
                         f"against b = -1){thesis}")
    return lines


def lambda_star_figure(per_n: pd.DataFrame, slopes: pd.DataFrame):
    """λ* against N on log axes, a panel per (penalty, init scale): geometric means ± SE per grid,
    the fitted lines, the thesis' grid end and the 1/N slope."""
    groups = list(per_n.groupby(["penalty", "init_scale"], sort=False))
    fig, axes = panels(len(groups), cols=len(set(per_n["init_scale"])), width=4.6, height=3.9, sharey=True)
    n = np.geomspace(per_n["N"].min(), per_n["N"].max(), 20)
    for ax, ((penalty, scale), rows) in zip(axes, groups):
        for (grid, points), offset in zip(rows.groupby("grid", sort=False), (0.97, 1.03)):
            se, centre = points["log_se"].fillna(0), points["geometric mean"]
            drawn = ax.errorbar(points["N"] * offset, centre, fmt="o", capsize=3,
                                yerr=[centre - 10 ** (points["log_mean"] - se), 10 ** (points["log_mean"] + se) - centre],
                                label=f"{grid.split()[0]} grid: geometric mean λ* ± SE")
            fit = slopes[(slopes["grid"] == grid) & (slopes["penalty"] == penalty) & (slopes["init_scale"] == scale)].iloc[0]
            if np.isfinite(fit["slope"]):
                ax.plot(n, 10 ** (fit["intercept"] + fit["slope"] * np.log10(n)), color=drawn[0].get_color(),
                        label=f"fit: b = {fit['slope']:.2f}")
        ax.axhline(max(LAMBDAS), color="grey", linewidth=0.8, linestyle="--")
        ax.plot(n, max(LAMBDAS) * (n / n[0]) ** -1.0, color="grey", linestyle=":", label="slope -1 (1/N)")
        ax.set(xscale="log", yscale="log", xlabel="training patterns N", ylabel="λ* (lowest validation loss)")
        ax.set_title(f"{penalty}, init variance ×{scale:g}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def validation_curve(results: Results) -> Section:
    """The thesis' figure 1: training and validation loss against λ at the largest N."""
    scores = annotated(results)
    largest = scores[scores["N"] == scores["N"].max()].assign(
        label=lambda t: [f"{p} init ×{s:g}" for p, s in zip(t["penalty"], t["init_scale"])],
        training=lambda t: t["train_log_loss"])
    means = largest.groupby(["label", "lam"])[["score", "training"]].mean().reset_index()
    figure = against_strength(means.rename(columns={"score": "validation"}), "lam", "validation", "label",
                              dashed="training", xlabel="λ", ylabel="cross-entropy (mean over seeds)")
    return Section(f"Training and validation loss against λ at N = {int(largest['N'].max())}",
                   "As the thesis' figure 1 (there N = 3240): the λ with the lowest validation loss is λ*. "
                   "Training loss here is the data term only, without the penalty.", figure=figure)
