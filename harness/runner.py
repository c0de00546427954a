"""The run: prepare every experiment (data, checks, folds), train its jobs, store, report.

All inputs are checked before anything trains, so bad input stops the run with nothing lost;
a fold that fails while training is recorded as failed and the run goes on. An experiment's
scikit-learn baselines (`Experiment.baselines`) are fitted and scored here, on the same
preprocessed folds as the networks, and stored as rows of their own (engine "sklearn").
"""
from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, TextIO

import numpy as np
from tqdm.auto import tqdm

from . import report
from .data import default_data_dir
from .engines import get_engine
from .engines.base import Emit, FoldRecord
from .errors import DataUnavailable, HarnessError
from .experiment import Dataset, Experiment
from .folds import FoldData, Job, check_dataset, job_seed, make_jobs, make_splits, prepare_fold
from .scoring import FoldFailed, score_outputs, scored_rows
from .stats import pstdev
from .store import DEFAULT_DB, Store


@dataclass
class Prepared:
    """An experiment with its data loaded, checked and split into preprocessed folds."""

    exp: Experiment
    data: Dataset
    splitter: Any
    folds: list[FoldData]
    jobs: list[Job] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: name -> unfitted scikit-learn estimator, checked (`check_baselines`)
    baselines: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    experiment: str
    run_id: str | None = None
    skipped: str | None = None
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    page: Path | None = None


class Progress:
    """Heaton-style lines per finished split, under a header per (experiment, variant), beside a
    tqdm bar over all jobs."""

    def __init__(self, total: int, stream: TextIO, show_bar: bool) -> None:
        self.stream = stream
        self.bar = tqdm(total=total, unit="fit", disable=not show_bar, file=sys.stderr, dynamic_ncols=True)
        self.current: tuple[str, str] | None = None
        self.history: dict[tuple[str, str], tuple[list[float], list[int]]] = {}

    def write(self, text: str) -> None:
        tqdm.write(text, file=self.stream)
        self.stream.flush()

    def record(self, record: FoldRecord) -> None:
        key = (record.experiment, record.variant)
        if key != self.current:
            self.write(f"\n== {record.experiment} · variant: {record.variant} ==")
            self.current = key
        scores, epochs = self.history.setdefault(key, ([], []))
        if record.ok:
            scores.append(float(record.score))
            epochs.append(int(record.epochs))
            self.write(
                f"#{record.fold + 1}: score={record.score:.6f}, mean score={np.mean(scores):.6f}, "
                f"stdev={pstdev(scores):.6f}, epochs={record.epochs}, mean epochs={int(np.mean(epochs))}, "
                f"time={report._hms(record.seconds)}"
            )
        else:
            self.write(f"#{record.fold + 1}: FAILED after {record.epochs} epochs: {record.reason}")
        self.bar.update(1)

    def skip(self, n_jobs: int) -> None:
        if self.bar.total:
            self.bar.total -= n_jobs
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _n_jobs(item: Prepared) -> int:
    """Fits the progress bar counts for one experiment: networks and baselines."""
    return len(item.jobs) + len(item.baselines) * len(item.folds)


def prepare(exp: Experiment, data_dir: Path) -> Prepared:
    """Load, check and split one experiment; raises HarnessError on bad input."""
    exp.check()
    baselines = check_baselines(exp)
    data = exp.load_data(Path(data_dir))
    splitter = exp.make_splitter()
    check_dataset(exp, data, splitter)
    splits = make_splits(exp, data, splitter)
    folds = [prepare_fold(exp, data, i, train, test) for i, (train, test) in enumerate(splits)]
    return Prepared(exp, data, splitter, folds, make_jobs(exp, len(folds)), baselines=baselines)


# ---------------------------------------------------------------- scikit-learn baselines
BASELINE_ENGINE = "sklearn"


def check_baselines(exp: Experiment) -> dict[str, Any]:
    """`exp.baselines()`, checked before anything trains: names are non-empty strings that no
    variant uses, values are scikit-learn estimators (fit, predict, clonable) of the task's kind."""
    from sklearn.base import clone, is_classifier, is_regressor

    try:
        baselines = dict(exp.baselines() or {})
    except HarnessError:
        raise
    except Exception as exc:  # the user's code: report it in one line
        raise HarnessError(f"{exp.name}: baselines() failed: {type(exc).__name__}: {exc}") from None
    variants = {v.name for v in exp.variants}
    for name, estimator in baselines.items():
        if not isinstance(name, str) or not name.strip():
            raise HarnessError(f"{exp.name}: baseline names must be non-empty strings, got {name!r}")
        if name in variants:
            raise HarnessError(f"{exp.name}: baseline {name!r} has the name of a variant; give it another name")
        if not (callable(getattr(estimator, "fit", None)) and callable(getattr(estimator, "predict", None))):
            raise HarnessError(f"{exp.name}: baseline {name!r} is not a scikit-learn estimator (no fit/predict): {estimator!r}")
        try:
            clone(estimator)
        except Exception as exc:  # noqa: BLE001 - any reason clone refuses it
            raise HarnessError(f"{exp.name}: baseline {name!r} cannot be cloned: {exc}") from None
        wrong = is_classifier(estimator) if exp.task == "regression" else is_regressor(estimator)
        if wrong:
            kind = "classifier" if exp.task == "regression" else "regressor"
            raise HarnessError(f"{exp.name}: baseline {name!r} is a {kind} but the task is {exp.task}")
    return baselines


def baseline_config(name: str, estimator: Any) -> dict[str, Any]:
    """What the store keeps as a baseline's configuration (JSON-able)."""
    cls = type(estimator)
    return {"name": name, "kind": "baseline", "estimator": repr(estimator),
            "class": f"{cls.__module__}.{cls.__qualname__}"}


def baseline_training_rows(exp: Experiment, fd: FoldData) -> tuple[np.ndarray, np.ndarray]:
    """A baseline's training rows: the fold's fit rows plus the validation rows carved out of
    the training fold, if any (baselines do not stop early, so they get the whole training
    fold); in training units. Validation rows that are scored rows (protocol 'heaton') are
    left out."""
    x, y = [fd.x_fit], [fd.y_fit]
    carved = fd.x_val is not None and fd.val_index is not None
    if carved and not np.isin(fd.val_index, fd.test_index).any():
        x.append(fd.x_val)
        y.append(fd.y_val)
    target = np.concatenate(y)
    return np.concatenate(x).astype("float64"), target.astype("float64" if exp.task == "regression" else "int64")


def baseline_outputs(exp: Experiment, estimator: Any, x: np.ndarray, n_outputs: int) -> tuple[np.ndarray, bool]:
    """A fitted estimator's outputs in the networks' form: the prediction in training units
    (regression) or one probability column per class. Returns (outputs, has_probabilities): a
    classifier without `predict_proba` gives one-hot predictions."""
    if exp.task == "regression":
        return np.asarray(estimator.predict(x), dtype="float64").reshape(-1), True
    classes = np.asarray(estimator.classes_).astype(int)
    outputs = np.zeros((len(x), n_outputs))
    if hasattr(estimator, "predict_proba"):
        outputs[:, classes] = estimator.predict_proba(x)
        return outputs, True
    outputs[np.arange(len(x)), np.asarray(estimator.predict(x)).astype(int)] = 1.0
    return outputs, False


def fit_baseline(exp: Experiment, dataset: str, name: str, estimator: Any, fd: FoldData) -> FoldRecord:
    """Clone, fit and score one baseline on one fold, as a FoldRecord (failed, with the reason,
    when the estimator raises). Scored exactly as the networks are (`score_outputs`): on the
    test rows and, for the training score, the fit rows, in the target's own units. A
    `random_state` left at None gets the fold's seed, so runs repeat."""
    from sklearn.base import clone

    seed = job_seed(exp, name, fd.fold)
    config = baseline_config(name, estimator)
    metrics: dict[str, float] = {}
    failure = None
    start = time.perf_counter()
    try:
        model = clone(estimator)
        if "random_state" in model.get_params(deep=False) and model.get_params(deep=False)["random_state"] is None:
            model.set_params(random_state=seed)
        x, y = baseline_training_rows(exp, fd)
        model.fit(x, y)
        outputs, has_probabilities = baseline_outputs(exp, model, scored_rows(fd).astype("float64"), fd.n_outputs)
        if not has_probabilities and exp.score_name == "log_loss":
            raise FoldFailed(f"{type(model).__name__} has no predict_proba; the log loss needs probabilities")
        metrics = score_outputs(exp, fd, outputs)
        if not has_probabilities:  # one-hot predictions have no meaningful log loss
            metrics = {k: v for k, v in metrics.items() if not k.endswith("log_loss")}
        metrics["train_rows"] = len(x)
    except FoldFailed as exc:
        failure = str(exc)
    except Exception as exc:  # noqa: BLE001 - a baseline that fails is recorded and the run goes on
        failure = f"{type(exc).__name__}: {exc}"
    return FoldRecord(
        experiment=exp.name,
        dataset=dataset,
        variant=name,
        config=config,
        config_hash=hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16],
        fold=fd.fold,
        seed=seed,
        status="failed" if failure else "ok",
        reason=failure,
        score=None if failure else metrics.get(f"test_{exp.score_name}"),
        train_score=None if failure else metrics.get(f"train_{exp.score_name}"),
        metrics={} if failure else metrics,
        epochs=0,
        best_epoch=0,
        seconds=time.perf_counter() - start,
        loss=[],
        val_loss=[],
        engine=BASELINE_ENGINE,
        weights=None,
    )


def run_baselines(item: Prepared, emit: Emit) -> None:
    """Every (baseline, fold), baseline-major like the variants, each emitted as it finishes."""
    for name, estimator in item.baselines.items():
        for fd in item.folds:
            emit(fit_baseline(item.exp, item.data.name, name, estimator, fd))


def versions() -> dict[str, str]:
    import keras
    import pandas
    import sklearn
    import tensorflow

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
    }


def model_summary(model: Any) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda text, line_break=False: lines.append(text))
    return "\n".join(lines)


def run_settings(prepared: Prepared, engine_notes: Sequence[str] = ()) -> dict[str, Any]:
    """What the report's settings section shows, recorded with the run."""
    import keras

    exp, folds = prepared.exp, prepared.folds
    summaries = {}
    for variant in exp.variants:
        keras.utils.set_random_seed(0)
        summaries[variant.name] = model_summary(exp.build_model(variant, folds[0].n_inputs, folds[0].n_outputs))
    ratio = float(np.mean([len(f.test_index) / len(f.fit_index) for f in folds]))
    # splitters whose splits do not share training rows with each other (or share all of them:
    # repeats of one split) say so; their paired tests need no Nadeau-Bengio correction
    corrected = bool(getattr(prepared.splitter, "resampling_correction", True))
    return {
        **exp.settings(),
        "description": exp.description,
        "source": exp.source,
        "source_results": exp.source_results(),
        "splitter": repr(prepared.splitter),
        "preprocessor": repr(exp.preprocessor(prepared.data.X)),
        "protocol_text": exp.protocol_description(),
        "n_rows": len(prepared.data.X),
        "n_features": folds[0].n_inputs,
        "test_train_ratio": ratio if corrected else 0.0,
        "resampling_correction": corrected,
        "greater_is_better": exp.greater_is_better,
        "variant_order": [v.name for v in exp.variants],
        "variant_configs": [v.config() for v in exp.variants],
        "baselines": [baseline_config(name, est) for name, est in prepared.baselines.items()],
        "model_summaries": summaries,
        "versions": versions(),
        "engine_notes": list(engine_notes),
    }


def run_experiments(
    experiments: Sequence[Experiment],
    *,
    db: str | Path = DEFAULT_DB,
    reports_dir: str | Path = "reports",
    data_dir: str | Path | None = None,
    engine: str = "auto",
    stream: TextIO | None = None,
    progress: bool | None = None,
) -> list[Outcome]:
    """Run every experiment, store each fold as it finishes, write the reports and the index."""
    stream = stream or sys.stdout
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    outcomes: list[Outcome] = []
    prepared: list[Prepared] = []
    for exp in experiments:
        try:
            prepared.append(prepare(exp, data_dir))
        except DataUnavailable as exc:
            stream.write(f"skipped {exp.name}: {exc}\n")
            outcomes.append(Outcome(exp.name, skipped=str(exc)))
    trainer = get_engine(engine)
    for item in prepared:  # an engine that cannot train an experiment says so before anything trains
        item.notes = trainer.plan(item.exp, item.folds, item.jobs)
    show_bar = progress if progress is not None else stream.isatty() or sys.stderr.isatty()
    bar = Progress(sum(_n_jobs(p) for p in prepared), stream, show_bar)
    store = Store(db)
    try:
        for item in prepared:
            outcomes.append(_train(item, trainer, store, bar, Path(reports_dir)))
        index = report.write_index(store, Path(reports_dir))
    finally:
        bar.close()
        store.close()
    stream.write(f"\nreport: {index.resolve()}\n")
    return outcomes


def _train(item: Prepared, trainer: Any, store: Store, bar: Progress, reports_dir: Path) -> Outcome:
    exp = item.exp
    run_id = store.start_run(exp.name, item.data.name, run_settings(item, item.notes), trainer.name)
    outcome = Outcome(exp.name, run_id=run_id)
    for note in item.notes:  # why some variants fall back to one fit per split
        bar.write(f"{exp.name}: {note}")
    start = time.perf_counter()

    def emit(record: FoldRecord) -> None:
        record.run_id = run_id
        store.add_fold(record)
        bar.record(record)
        if record.ok:
            outcome.ok += 1
        else:
            outcome.failed += 1

    try:
        trainer.run(exp, item.data.name, item.folds, item.jobs, emit)
        run_baselines(item, emit)
    except BaseException:
        store.finish_run(run_id, "interrupted")
        raise
    store.finish_run(run_id)
    outcome.seconds = time.perf_counter() - start
    outcome.page = report.write_experiment_report(store, exp.name, reports_dir, run_id, exp)
    bar.write(f"{exp.name}: {outcome.ok} folds ok, {outcome.failed} failed, {outcome.seconds:.1f} s → {outcome.page}")
    return outcome
