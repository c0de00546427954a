"""`make perf`: the same grid trained three ways, in one process, timed per member-fit.

A member is one (variant, split) network. The grid: a synthetic 10-feature, 4-class problem
(1000 rows, so 800 training rows per split of 5-split CV), a 10→50→25→4 ReLU MLP, batch 32,
a fixed number of epochs with no early stopping, variants 'none' and L2 penalties. Ways:
- stacked: the stacked engine, the whole path (build, train, write weights back, score);
- keras: one `model.fit` per member (the keras engine, same path);
- scikit-learn: `MLPClassifier` (adam, same batch size, epochs, hidden sizes, L2 as `alpha`)
  on the same preprocessed splits;
- fused: a hand-written XLA training loop of the same arithmetic (`harness.perf_fused`), the
  practical limit on this CPU; `stacked ÷ fused` is what the engine's generality costs.

Beside them, the floor: the grid's floating-point operations (forward and backward passes of
every member over every epoch, and the scoring pass) divided by this machine's peak
matrix-multiply throughput, measured in the same process with a large float32 GEMM. Each way's
time is also given as a multiple of that floor. A wider grid (64→256→256→10) shows the scaling
where the arithmetic, not the per-step overhead, dominates.
"""
from __future__ import annotations

import argparse
import time
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from .core import Dataset, Variant
from .experiment import Experiment
from .jobs import Job
from .perf_fused import fused_fit


class PerfGrid(Experiment):
    name = "perf-grid"
    description = "timing grid"
    task = "classification"
    hidden_units = (50, 25)
    batch_size = 32
    patience = None
    splits = 5
    n_rows = 1000
    n_features = 10
    n_classes = 4

    def load_data(self, data_dir):
        X, y = make_classification(n_samples=self.n_rows, n_features=self.n_features, n_informative=6,
                                   n_classes=self.n_classes, n_clusters_per_class=1, random_state=self.seed)
        return Dataset(f"synthetic {self.n_features}-feature, {self.n_classes} classes",
                       pd.DataFrame(X).add_prefix("x"), pd.Series(y), "classification")


class WideGrid(PerfGrid):
    """A network whose arithmetic dominates its per-step overhead: 64→256→256→10."""

    name = "perf-grid-wide"
    hidden_units = (256, 256)
    n_features = 64
    n_classes = 10


def peak_gflops(n: int = 2048, repeats: int = 8, library: str = "tensorflow") -> float:
    """This machine's matrix-multiply peak: the best of `repeats` timed n × n float32 GEMMs
    (2n³ floating-point operations each), in this process, through TensorFlow (oneDNN; the
    floor) or NumPy (its BLAS: the reference issue #15 quoted, 86-94 GFLOP/s here)."""
    if library == "numpy":
        rng = np.random.default_rng(1)
        a, b = rng.random((n, n), dtype="float32"), rng.random((n, n), dtype="float32")
        multiply = np.matmul
    else:
        import tensorflow as tf

        a = tf.random.normal((n, n), seed=1)
        b = tf.random.normal((n, n), seed=2)
        product = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
        multiply = lambda x, y: product(x, y).numpy()  # noqa: E731
    multiply(a, b)  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        multiply(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def grid_flops(prepared, jobs: Sequence[Job]) -> float:
    """Floating-point operations the grid cannot avoid: per member and epoch, each training
    row's forward pass (2 per multiply-add of every Dense layer) and backward pass (4 per
    multiply-add: the gradients of the weights and of the layer's input, except the first
    layer's input, which needs none); then one forward pass over the test rows. Biases,
    activations, the loss and the optimizer's update are left out, so the floor is a lower
    bound."""
    exp = prepared.exp
    flops = 0.0
    for job in jobs:
        fd = prepared.splits[job.split]
        sizes = [fd.n_inputs, *exp.hidden_units, fd.n_outputs]
        macs = [a * b for a, b in zip(sizes, sizes[1:])]
        per_row = 6 * sum(macs) - 2 * macs[0]
        flops += exp.epochs * len(fd.x_fit) * per_row + len(fd.x_test) * 2 * sum(macs)
    return flops


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
    parser.add_argument("--variants", type=int, nargs="+", default=[4, 9, 18, 36, 72],
                        help="grid sizes, in variants (× 5 splits)")
    parser.add_argument("--wide-variants", type=int, nargs="*", default=[9],
                        help="grid sizes of the wide network (64→256→256→10); none to skip it")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--keras-fits", type=int, default=6,
                        help="one-fit-per-split members timed per network (each fit is independent of the others, "
                             "so its time per member does not depend on the grid size: measured once per network)")
    parser.add_argument("--sklearn-fits", type=int, default=15, help="MLPClassifier members timed per network")
    parser.add_argument("--repeats", type=int, default=3, help="stacked runs per grid (the median is reported)")
    args = parser.parse_args(argv)

    peak = peak_gflops()
    numpy_peak = peak_gflops(library="numpy")
    print(f"peak: a 2048 × 2048 float32 GEMM runs at {peak:.1f} GFLOP/s here through TensorFlow (best of 8), "
          f"the floor's peak; through NumPy's BLAS at {numpy_peak:.1f} GFLOP/s", flush=True)
    rows = []
    singles: dict[str, tuple[float, float, float, float]] = {}
    grids = [(PerfGrid, n) for n in args.variants] + [(WideGrid, n) for n in args.wide_variants]
    for grid, n_variants in grids:
        rows.append(time_grid(grid, n_variants, args, peak, singles))
        rows[-1]["stacked ÷ numpy floor"] = rows[-1]["stacked ÷ floor"] * numpy_peak / peak
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=_fmt), flush=True)
    table = pd.DataFrame(rows)
    print(
        f"\nmedian seconds per member-fit (stacked: whole grid ÷ members, {args.repeats} runs; keras: "
        f"{args.keras_fits} single fits; scikit-learn: {args.sklearn_fits} single fits, both once per network), "
        f"the floor (the grid's FLOPs ÷ the {peak:.1f} GFLOP/s peak, per member), each way as a multiple of the "
        f"floor (and the stacked engine's against the floor at NumPy's {numpy_peak:.1f} GFLOP/s), the "
        "stacked engine's speed-ups, mean test accuracy:"
    )
    print(table.to_string(index=False, float_format=_fmt))
    return 0


def _fmt(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 0.1 else f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"


def time_grid(grid: type[PerfGrid], n_variants: int, args: argparse.Namespace, peak: float,
              singles: dict[str, tuple[float, float, float, float]]) -> dict[str, object]:
    """One grid's row: the three ways' seconds per member, the floor, and their ratios."""
    from .engines.keras_fit import KerasFitEngine
    from .engines.stacked import StackedEngine
    from .runner import prepare

    exp = grid().configured(epochs=args.epochs)
    exp.variants = grid_variants(n_variants)
    prepared = prepare(exp, "/nonexistent")
    jobs = prepared.jobs
    network = "→".join(str(n) for n in [prepared.splits[0].n_inputs, *exp.hidden_units, prepared.splits[0].n_outputs])
    print(f"grid: {len(jobs)} members ({n_variants} variants × {exp.folds} splits) of {network}, {exp.epochs} epochs",
          flush=True)
    stacked = [time_engine(StackedEngine(), prepared, jobs) for _ in range(args.repeats)]
    stacked_s = float(np.median([seconds for seconds, _ in stacked])) / len(jobs)
    fused = [fused_fit([prepared.splits[job.split] for job in jobs], [job.variant.l2 for job in jobs],
                       [job.seed for job in jobs], exp.hidden_units, exp.epochs, exp.batch_size, exp.learning_rate)
             for _ in range(args.repeats)]
    fused_s = float(np.median([seconds for seconds, _ in fused])) / len(jobs)
    if network not in singles:  # one fit per member costs the same whatever the grid: measure once per network
        keras = [time_engine(KerasFitEngine(), prepared, [job]) for job in spread(jobs, args.keras_fits)]
        sk = [time_sklearn(prepared, job) for job in spread(jobs, args.sklearn_fits)]
        singles[network] = (float(np.median([s for s, _ in keras])), float(np.median([s for s, _ in sk])),
                            float(np.mean([x for _, xs in keras for x in xs])), float(np.mean([x for _, x in sk])))
    keras_s, sk_s, keras_acc, sk_acc = singles[network]
    floor_s = grid_flops(prepared, jobs) / (peak * 1e9) / len(jobs)
    return {
        "network": network, "members": len(jobs), "epochs": exp.epochs,
        "floor s/member": floor_s, "fused s/member": fused_s, "stacked s/member": stacked_s, "keras s/member": keras_s,
        "sklearn s/member": sk_s, "fused ÷ floor": fused_s / floor_s, "stacked ÷ floor": stacked_s / floor_s,
        "stacked ÷ fused": stacked_s / fused_s, "keras ÷ floor": keras_s / floor_s, "sklearn ÷ floor": sk_s / floor_s,
        "keras ÷ stacked": keras_s / stacked_s, "sklearn ÷ stacked": sk_s / stacked_s,
        "stacked GFLOP/s": grid_flops(prepared, jobs) / (stacked_s * len(jobs)) / 1e9,
        "acc stacked": np.mean(stacked[0][1]), "acc fused": np.mean(fused[0][1]), "acc keras": keras_acc,
        "acc sklearn": sk_acc,
    }


if __name__ == "__main__":
    raise SystemExit(main())
