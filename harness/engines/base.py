"""What every engine shares: the `Trainer` protocol, the trained-member type, and the one
factory of records.

A trainer declares what it is: its `kind` (NETWORK: it trains variants; REFERENCE: it fits an
experiment's reference models), its `numerics` (part of every key of a job it trains), whether
its tasks may be cut into smaller ones (`splittable`) and, per job, whether it can take it and
why not (`skip`, as benchopt's solvers do). Nothing in the harness depends on a trainer's name.
Engines turn jobs into records with `make_record` (a network's through `finish`, which scores
it the same way whichever engine trained it), so nothing downstream knows which engine ran.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence, Union

from ..core import FAILED, INNER, NETWORK, OK, Emit, SplitRecord, encode_weights
from ..core.records import json_float
from ..core.tuning import candidate_text
from ..experiment import Experiment
from ..jobs import Job
from ..scoring import FoldFailed, evaluate, score_outputs
from ..splits import SplitData

#: an experiment's splits by split index: the list of all of them, or (in a worker) the ones a
#: task needs
Splits = Union[Sequence[SplitData], Mapping[int, SplitData]]


@dataclass
class TrainedMember:
    """One trained network and how its training went."""

    model: Any
    loss: list[float]
    val_loss: list[float]
    epochs: int
    best_epoch: int
    seconds: float
    failure: str | None = None
    #: the model's outputs for `scoring.scored_rows(split)` where the engine computed them (the
    #: stacked engine, for all its members in one pass); None: `finish` runs the model
    outputs: Any = None


class Trainer(Protocol):
    """Trains jobs of one kind and emits one SplitRecord per job as soon as it is finished."""

    #: shown in records, reports and `--engine NAME`
    name: str
    #: its arithmetic, part of every job key it trains (e.g. 'stacked/3'): bumped when a change
    #: of arithmetic must not take stored results for its own
    numerics: str
    #: NETWORK or REFERENCE: the jobs it trains
    kind: str
    #: whether a task of several jobs may be cut into smaller tasks that train each job the
    #: same (the runner cuts large tasks so that every worker has work)
    splittable: bool
    #: whether its tasks build Keras models, whose global state the process lets go after each
    #: task (`executors.release_memory`, ~0.2 s of garbage collection); assumed when absent
    keras: bool

    def skip(self, exp: Experiment, splits: Splits, job: Job) -> str | None:
        """Why it cannot train `job` (one line), or None when it can."""
        ...

    def notes(self, exp: Experiment, splits: Splits, jobs: Sequence[Job]) -> list[str]:
        """What the experiment's page says about how it trains these jobs."""
        ...

    def tasks(self, exp: Experiment, splits: Splits, jobs: Sequence[Job]) -> list[list[Job]]:
        """The jobs cut into tasks: the units one worker trains and the store commits at once."""
        ...

    def run(self, exp: Experiment, dataset: str, splits: Splits, jobs: Sequence[Job], emit: Emit) -> None: ...


def first_nan_epoch(losses: Sequence[float]) -> int | None:
    for epoch, value in enumerate(losses, start=1):
        if value is None or not math.isfinite(value):
            return epoch
    return None


def make_record(exp: Experiment, dataset: str, job: Job, engine: str, status: str, reason: str | None = None,
                metrics: Mapping[str, float] | None = None, trained: TrainedMember | None = None,
                weights: bytes | None = None, seconds: float | None = None) -> SplitRecord:
    """The record of one job (a network or a reference model) trained by trainer `engine`:
    its status and reason, the task's metrics (the score is `test_<score>`), how training went
    (`trained`: epochs, curves, time) and its encoded weights."""
    metrics = dict(metrics or {})
    return SplitRecord(
        experiment=exp.name, dataset=dataset, variant=job.name, config=job.config(), config_hash=job.config_hash(),
        split=job.split, seed=job.seed, status=status, reason=reason,
        score=metrics.get(f"test_{exp.score_name}"), train_score=metrics.get(f"train_{exp.score_name}"),
        metrics=metrics, epochs=trained.epochs if trained else 0, best_epoch=trained.best_epoch if trained else 0,
        seconds=seconds if seconds is not None else (trained.seconds if trained else 0.0),
        loss=[json_float(v) for v in (trained.loss if trained else [])],
        val_loss=[json_float(v) for v in (trained.val_loss if trained else [])],
        engine=engine, weights=weights, job_key=job.key or None, kind=job.kind, role=job.role,
        inner_split=job.inner, candidate=candidate_text(job.candidate),
    )


def finish(exp: Experiment, dataset: str, job: Job, fd: SplitData, trained: TrainedMember | None, engine: str,
           error: str | None = None) -> SplitRecord:
    """Score a trained network (or record why it failed) as a SplitRecord."""
    failure = error or (trained.failure if trained else "not trained")
    metrics: dict[str, float] = {}
    weights = None
    if failure is None:
        try:
            scores = evaluate(exp, trained.model, fd) if trained.outputs is None else score_outputs(exp, fd, trained.outputs)
            metrics = {**scores, "train_rows": len(fd.fit_index), "test_rows": len(fd.test_index)}
            weights = None if job.role == INNER else encode_weights(trained.model)  # an inner fit's are never read
        except FoldFailed as exc:
            failure = str(exc)
    return make_record(exp, dataset, job, engine, FAILED if failure else OK, failure, metrics, trained, weights)


class OneJobPerTask:
    """What trainers that train one job per task share: every job a task of its own, nothing
    to cut, nothing to note beyond their own line."""

    splittable = False

    def skip(self, exp: Experiment, splits: Splits, job: Job) -> str | None:
        return None

    def tasks(self, exp: Experiment, splits: Splits, jobs: Sequence[Job]) -> list[list[Job]]:
        return [[job] for job in jobs]

    def notes(self, exp: Experiment, splits: Splits, jobs: Sequence[Job]) -> list[str]:
        return []


__all__ = ["NETWORK", "OneJobPerTask", "Splits", "TrainedMember", "Trainer", "finish", "first_nan_epoch", "make_record"]
