"""`make perf`: the same grid trained three ways, in one process, timed per member-fit.

A member is one (variant, split) network. The grid: a synthetic 10-feature, 4-class problem
(1000 rows, so 800 training rows per split of 5-split CV), a 10→50→25→4 ReLU MLP, batch 32,
a fixed number of epochs with no early stopping, variants 'none' and L2 penalties. Ways:
- stacked: the stacked engine, the whole path (build, train, write weights back, score);
- keras: one `model.fit` per member (the keras engine, same path);
- scikit-learn: `MLPClassifier` (adam, same batch size, epochs, hidden sizes, L2 as `alpha`)
  on the same preprocessed splits.
"""
from __future__ import annotations

import argparse
import os
import time
import warnings
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402

from .experiment import Dataset, Experiment, Variant  # noqa: E402
from .jobs import Job  # noqa: E402


class PerfGrid(Experiment):
    name = "perf-grid"
    description = "timing grid"
    task = "classification"
    hidden_units = (50, 25)
    batch_size = 32
    patience = None
    splits = 5
    n_rows = 1000

    def load_data(self, data_dir):
        X, y = make_classification(n_samples=self.n_rows, n_features=10, n_informative=6, n_classes=4,
                                   n_clusters_per_class=1, random_state=self.seed)
        return Dataset("synthetic 10-feature, 4 classes", pd.DataFrame(X).add_prefix("x"), pd.Series(y), "classification")


def grid_variants(n: int) -> list[Variant]:
    """'none' then L2 penalties on a log grid: n variants."""
    return [Variant("none")] + [Variant(f"L2 {l2:.3g}", l2=float(l2)) for l2 in np.logspace(-5, -2, n - 1)]


def time_engine(engine, prepared, jobs: Sequence[Job]) -> tuple[float, list[float]]:
    """Seconds for the engine's whole path over `jobs` (build, train, write back, score)."""
    records = []
    start = time.perf_counter()
    engine.run(prepared.exp, prepared.data.name, prepared.splits, jobs, records.append)
    elapsed = time.perf_counter() - start
    if not all(r.ok for r in records):
        raise RuntimeError(f"failed members: {[r.reason for r in records if not r.ok]}")
    return elapsed, [r.score for r in records]


def time_sklearn(prepared, job: Job) -> tuple[float, float]:
    """Seconds to fit and score one member with MLPClassifier, and its test accuracy."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    exp, fd = prepared.exp, prepared.splits[job.split]
    start = time.perf_counter()
    model = MLPClassifier(
        hidden_layer_sizes=tuple(exp.hidden_units), activation="relu", solver="adam",
        alpha=job.variant.l2, batch_size=exp.batch_size, learning_rate_init=exp.learning_rate,
        max_iter=exp.epochs, n_iter_no_change=exp.epochs + 1, tol=0.0, shuffle=True, random_state=job.seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(fd.x_fit, fd.y_fit)
    score = float(np.mean(model.predict(fd.x_test) == fd.y_test))
    return time.perf_counter() - start, score


def spread(jobs: Sequence[Job], n: int) -> list[Job]:
    """n jobs spread evenly over the grid (variants and splits)."""
    return list(jobs[:: max(1, len(jobs) // n)][:n])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.perf", description=__doc__.split("\n")[0])
    parser.add_argument("--variants", type=int, nargs="+", default=[4, 9, 18], help="grid sizes, in variants (× 5 splits)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--keras-fits", type=int, default=6,
                        help="one-fit-per-split members timed per grid (each fit is independent of the others, "
                             "so its time per member does not depend on the grid size)")
    parser.add_argument("--sklearn-fits", type=int, default=15, help="MLPClassifier members timed per grid")
    parser.add_argument("--repeats", type=int, default=3, help="stacked runs per grid (the median is reported)")
    args = parser.parse_args(argv)

    from .engines.keras_fit import KerasFitEngine
    from .engines.stacked import StackedEngine
    from .runner import prepare

    rows = []
    for n_variants in args.variants:
        exp = PerfGrid().configured(epochs=args.epochs)
        exp.variants = grid_variants(n_variants)
        prepared = prepare(exp, "/nonexistent")
        jobs = prepared.jobs
        print(f"grid: {len(jobs)} members ({n_variants} variants × {exp.folds} splits), {exp.epochs} epochs", flush=True)
        stacked = [time_engine(StackedEngine(fallback=False), prepared, jobs) for _ in range(args.repeats)]
        stacked_s = float(np.median([seconds for seconds, _ in stacked])) / len(jobs)
        keras = [time_engine(KerasFitEngine(), prepared, [job]) for job in spread(jobs, args.keras_fits)]
        sk = [time_sklearn(prepared, job) for job in spread(jobs, args.sklearn_fits)]
        keras_s = float(np.median([seconds for seconds, _ in keras]))
        sk_s = float(np.median([seconds for seconds, _ in sk]))
        rows.append({
            "members": len(jobs), "epochs": exp.epochs,
            "stacked s/member": stacked_s, "keras s/member": keras_s, "sklearn s/member": sk_s,
            "keras ÷ stacked": keras_s / stacked_s, "sklearn ÷ stacked": sk_s / stacked_s,
            "acc stacked": np.mean(stacked[0][1]),
            "acc keras": np.mean([score for _, scores in keras for score in scores]),
            "acc sklearn": np.mean([score for _, score in sk]),
        })
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    table = pd.DataFrame(rows)
    print(
        f"\nmedian seconds per member-fit (stacked: whole grid ÷ members, {args.repeats} runs; keras: "
        f"{args.keras_fits} single fits; scikit-learn: {args.sklearn_fits} single fits), speed-ups of the "
        "stacked engine, mean test accuracy:"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
