"""Brownlee, weight regularization for neural networks (shared/seeds/002_e2ddc2368db12b36.txt).

The post recommends standardized inputs, L1, L2 or both together, a grid search of the penalty
strength on a log scale ("0.1, 0.001, and 0.0001", then refine), and per-layer penalties (e.g.
L1 on the inputs, L2 elsewhere). It reports no figures of its own. Here: L1, L2 and L1L2
(both coefficients equal) at 1e-1 … 1e-6 on every hidden kernel of a 128-64 ReLU MLP, trained
300 epochs without early stopping on a small noisy two-moons problem that overfits, stratified
5-fold; plus a per-layer variant (L1 on the first hidden layer, L2 on the second).
"""
from __future__ import annotations

import pandas as pd
from sklearn.datasets import make_moons

from harness import Dataset, Experiment, Results, Section, Variant
from harness.report.figures import against_strength

SOURCE = ("J. Brownlee, \"Use Weight Regularization to Reduce Overfitting of Deep Learning Models\", "
          "Machine Learning Mastery (shared/seeds/002_e2ddc2368db12b36.txt)")
STRENGTHS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
PENALTIES = ("L1", "L2", "L1L2")
NOT_RECORDED = ("This run was stored before the harness read each variant's penalty and strength from the model it "
                "builds, which the grid is drawn from. Run the experiment again: its jobs are found in the store, "
                "nothing is trained, and the new run records them.")


def grid_variants() -> list[Variant]:
    variants = [Variant("none")]
    for penalty in PENALTIES:
        for strength in STRENGTHS:
            l1 = strength if "L1" in penalty else 0.0
            l2 = strength if penalty in ("L2", "L1L2") else 0.0
            variants.append(Variant(f"{penalty} {strength:.0e}", l1=l1, l2=l2))
    variants.append(Variant("per-layer: L1 1e-4 first, L2 1e-3 second",
                            settings={"layer_l1": [1e-4, 0.0], "layer_l2": [0.0, 1e-3]}))
    return variants


def grid_table(results: Results) -> pd.DataFrame:
    """Mean and standard deviation of the test score per (penalty, strength) over the
    successful splits, for the variants whose every hidden kernel carries one penalty of one
    strength (what regularizes each is read from its built model; the per-layer variant
    mixes two and is left out)."""
    scores = results.scores()
    grid = scores[scores["penalty"].isin(PENALTIES) & scores["strength"].notna()]
    table = grid.groupby(["penalty", "strength"])["score"].agg(["mean", "std", "count"]).reset_index()
    return table.sort_values(["penalty", "strength"], ascending=[True, False], ignore_index=True)


class BrownleeGrid(Experiment):
    name = "brownlee-penalty-grid"
    description = ("Brownlee's penalty grid: L1, L2, L1L2 at 1e-1..1e-6 and a per-layer penalty, "
                   "128-64 MLP on noisy two moons (200 rows), stratified 5-fold, 300 epochs.")
    source = SOURCE
    in_default_suite = True
    task = "classification"
    hidden_units = (128, 64)
    epochs = 300
    patience = None
    quick_epochs = 10
    n_rows = 200
    variants = tuple(grid_variants())

    def load_data(self, data_dir):
        X, y = make_moons(n_samples=self.n_rows, noise=0.3, random_state=1)
        return Dataset(f"two moons ({self.n_rows} rows, noise 0.3)", pd.DataFrame(X, columns=["x1", "x2"]),
                       pd.Series(y, name="moon"), "classification")

    def report_sections(self, results):
        if not results.regularization_recorded:
            return [Section("Score against penalty strength", NOT_RECORDED)]
        table = grid_table(results)
        if table.empty:
            return []
        none = results.ok("none")["score"].mean()
        figure = against_strength(table, "strength", "mean", "penalty", yerr="std", reference=none,
                                  xlabel="penalty strength (coefficient on Σ|w| and/or Σw²)",
                                  ylabel="mean test accuracy ± sd over splits")
        best = table.loc[table["mean"].idxmax()]
        text = (f"Mean test score against penalty strength, one line per penalty, bars one standard "
                f"deviation over the splits; the dashed line is no penalty "
                f"({none:.4f}). Best grid point: {best['penalty']} at {best['strength']:.0e} "
                f"({best['mean']:.4f}). The source reports no numbers; it advises a log-scale search "
                "such as 0.1, 0.001, 0.0001, then a finer one around the best.")
        return [Section("Score against penalty strength", text, figure=figure,
                        table=table.rename(columns={"mean": "mean score", "std": "sd", "count": "splits"}),
                        csv="penalty_grid.csv")]
