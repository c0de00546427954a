"""The run: prepare every experiment (data, checks, folds), train its jobs, store, report.

All inputs are checked before anything trains, so bad input stops the run with nothing lost;
a fold that fails while training is recorded as failed and the run goes on.
"""
from __future__ import annotations

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
from .engines.base import FoldRecord
from .errors import DataUnavailable
from .experiment import Dataset, Experiment
from .folds import FoldData, Job, check_dataset, make_jobs, make_splits, prepare_fold
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


def _n_jobs(exp: Experiment) -> int:
    try:
        return len(exp.variants) * exp.make_splitter().get_n_splits()
    except Exception:
        return 0


def prepare(exp: Experiment, data_dir: Path) -> Prepared:
    """Load, check and split one experiment; raises HarnessError on bad input."""
    exp.check()
    data = exp.load_data(Path(data_dir))
    splitter = exp.make_splitter()
    check_dataset(exp, data, splitter)
    splits = make_splits(exp, data, splitter)
    folds = [prepare_fold(exp, data, i, train, test) for i, (train, test) in enumerate(splits)]
    return Prepared(exp, data, splitter, folds, make_jobs(exp, len(folds)))


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
        "test_train_ratio": ratio,
        "greater_is_better": exp.greater_is_better,
        "variant_order": [v.name for v in exp.variants],
        "variant_configs": [v.config() for v in exp.variants],
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
    bar = Progress(sum(_n_jobs(p.exp) for p in prepared), stream, show_bar)
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
    except BaseException:
        store.finish_run(run_id, "interrupted")
        raise
    store.finish_run(run_id)
    outcome.seconds = time.perf_counter() - start
    outcome.page = report.write_experiment_report(store, exp.name, reports_dir, run_id, exp)
    bar.write(f"{exp.name}: {outcome.ok} folds ok, {outcome.failed} failed, {outcome.seconds:.1f} s → {outcome.page}")
    return outcome
