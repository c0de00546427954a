"""What a tuned variant costs (`make perf-tuning`, or `python -m harness.perf_tuning`).

On one data set of the default suite (breast cancer by default), in this one process, after a
warm-up run that pays for loading TensorFlow and tracing:

1. `tuned`: one tuned L2 variant, a 7-point log grid scored by 3-fold inner CV on each of the 5
   outer splits, refit and scored (7 × 3 × 5 inner fits + 5 refits), on the stacked engine;
2. `fixed`: the same 7 strengths as 7 fixed variants on the same 5 outer splits (35 fits),
   and the tuned variant's fixed-strength counterpart alone: L2 at the grid's middle strength
   (1e-3) on the same 5 outer splits (5 fits);
3. `sklearn`: scikit-learn's `GridSearchCV(MLPClassifier)` over the same 7 values of `alpha`
   with 3-fold inner CV inside `cross_validate` with 5 outer folds, the same 50-25 ReLU network,
   Adam at 1e-3, batches of 32, up to 200 epochs with early stopping (patience 10) on 10% of the
   training rows: what a user would reach for instead. (MLPClassifier's `alpha` scales its L2
   penalty differently from Keras' `l2`, so its chosen strengths are not comparable; its time is.)
4. with `--keras`, the tuned variant again with one `model.fit` per job (slow).

Each is timed end to end (wall clock, planning, training, storing and the report included),
and the ratios printed. Every run uses a fresh store and reports folder under a temporary one.
"""
from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .core import Variant, log_grid, tuned

GRID = log_grid(1e-5, 1e-1, 7)


def _experiment(name: str, variants: Any) -> Any:
    from .registry import resolve

    exp = resolve([name])[0]()
    exp.variants = tuple(variants)
    return exp


def _run(exp: Any, root: Path, label: str, engine: str = "stacked") -> tuple[float, Any]:
    from .runner import run_experiments

    start = time.perf_counter()
    outcomes = run_experiments([exp], db=root / f"{label}.sqlite", reports_dir=root / f"reports-{label}",
                               stream=io.StringIO(), progress=False, lines=False, engine=engine)
    return time.perf_counter() - start, outcomes[0]


def _mean_score(root: Path, label: str, exp: Any) -> float:
    from .store import Store

    with Store(root / f"{label}.sqlite") as store:
        splits = store.results(exp.name, weights=False, data=False).splits
    return float(splits.loc[splits["status"] == "ok", "score"].mean())


def _sklearn(exp: Any, inner: int) -> tuple[float, float, list[float]]:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline

    data = exp.load_data(None)
    pipeline = make_pipeline(exp.preprocessor(data.X), MLPClassifier(
        hidden_layer_sizes=tuple(exp.hidden_units), activation="relu", solver="adam", learning_rate_init=exp.learning_rate,
        batch_size=exp.batch_size, max_iter=exp.epochs, early_stopping=True, validation_fraction=exp.validation_fraction,
        n_iter_no_change=exp.patience, random_state=exp.seed))
    search = GridSearchCV(pipeline, {"mlpclassifier__alpha": list(GRID)},
                          cv=StratifiedKFold(inner, shuffle=True, random_state=exp.seed))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_validate(search, data.X, data.y, cv=exp.make_splitter(), return_estimator=True)
    seconds = time.perf_counter() - start
    chosen = [float(e.best_params_["mlpclassifier__alpha"]) for e in scores["estimator"]]
    return seconds, float(np.mean(scores["test_score"])), chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.perf_tuning", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="breast-cancer", help="a classification experiment of the default suite")
    parser.add_argument("--inner", type=int, default=3, help="inner folds (default 3)")
    parser.add_argument("--keras", action="store_true", help="also time the tuned variant with one model.fit per job")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        warm = _experiment(args.data, [Variant("warm-up", l2=1e-3)])
        warm.epochs = 2
        _run(warm, root, "warm-up")
        tuned_exp = _experiment(args.data, [tuned("L2 (tuned)", l2=GRID, inner_folds=args.inner)])
        fixed_exp = _experiment(args.data, [Variant(f"L2 {v:g}", l2=v) for v in GRID])
        outer = tuned_exp.make_splitter().get_n_splits()
        rows = []
        seconds, _ = _run(tuned_exp, root, "tuned")
        rows.append(("tuned L2, stacked engine", len(GRID) * args.inner * outer + outer, seconds,
                     _mean_score(root, "tuned", tuned_exp)))
        seconds, _ = _run(fixed_exp, root, "fixed")
        rows.append(("7 fixed L2 strengths, stacked engine", len(GRID) * outer, seconds, float("nan")))
        one_exp = _experiment(args.data, [Variant(f"L2 {GRID[len(GRID) // 2]:g}", l2=GRID[len(GRID) // 2])])
        seconds, _ = _run(one_exp, root, "one")
        rows.append((f"one fixed L2 {GRID[len(GRID) // 2]:g}, stacked engine", outer, seconds,
                     _mean_score(root, "one", one_exp)))
        if args.keras:
            seconds, _ = _run(tuned_exp, root, "keras", engine="keras")
            rows.append(("tuned L2, one model.fit per job", len(GRID) * args.inner * outer + outer, seconds,
                         _mean_score(root, "keras", tuned_exp)))
        seconds, score, chosen = _sklearn(tuned_exp, args.inner)
        rows.append(("GridSearchCV(MLPClassifier) in cross_validate", (len(GRID) * args.inner + 1) * outer, seconds,
                     score))
    tuned_seconds = rows[0][2]
    print(f"{args.data}: a 7-point L2 grid ({', '.join(f'{v:g}' for v in GRID)}), {args.inner}-fold inner CV, "
          f"{outer} outer folds, {tuned_exp.epochs} epochs max, patience {tuned_exp.patience}\n")
    print(f"{'what':48s} {'fits':>5s} {'seconds':>8s} {'÷ tuned':>8s} {'mean outer score':>17s}")
    for what, fits, seconds, score in rows:
        shown = "" if np.isnan(score) else f"{score:.4f}"
        print(f"{what:48s} {fits:5d} {seconds:8.1f} {seconds / tuned_seconds:8.2f} {shown:>17s}")
    print(f"\ntuned ÷ one fixed strength: {tuned_seconds / rows[2][2]:.2f}×; tuned ÷ the 7 fixed strengths: "
          f"{tuned_seconds / rows[1][2]:.2f}×; GridSearchCV ÷ tuned: {rows[-1][2] / tuned_seconds:.2f}×"
          f" (GridSearchCV chose alpha {', '.join(f'{a:g}' for a in chosen)})")


if __name__ == "__main__":
    main()
