"""What every network engine shares: the trained-member type and scoring a member.

Engines turn jobs into trained Keras models (`TrainedMember`); `finish` scores those models
the same way whichever engine ran, so nothing downstream knows which engine it was.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence, Union

from ..experiment import Experiment
from ..splits import SplitData
from ..jobs import Job
from ..records import FAILED, OK, Emit, SplitRecord, encode_weights, json_float
from ..scoring import FoldFailed, evaluate, score_outputs

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
    """Trains jobs of one kind ('keras', 'stacked', 'sklearn') and emits one SplitRecord per job
    as soon as it is finished."""

    name: str
    #: the engine's arithmetic, part of every job key it trains (e.g. 'stacked/2')
    numerics: str

    def tasks(self, exp: Experiment, splits: Splits, jobs: Sequence[Job]) -> list[list[Job]]:
        """The jobs cut into tasks: the units one worker trains and the store commits at once."""
        ...

    def run(self, exp: Experiment, dataset: str, splits: Splits, jobs: Sequence[Job], emit: Emit) -> None: ...


def first_nan_epoch(losses: Sequence[float]) -> int | None:
    for epoch, value in enumerate(losses, start=1):
        if value is None or not math.isfinite(value):
            return epoch
    return None


def finish(
    exp: Experiment, dataset: str, job: Job, fd: SplitData, trained: TrainedMember | None,
    engine: str, error: str | None = None,
) -> SplitRecord:
    """Score a trained member (or record why it failed) as a SplitRecord."""
    failure = error or (trained.failure if trained else "not trained")
    metrics: dict[str, float] = {}
    weights = None
    if failure is None:
        try:
            scores = evaluate(exp, trained.model, fd) if trained.outputs is None else score_outputs(exp, fd, trained.outputs)
            metrics = {**scores, "train_rows": len(fd.fit_index),
                       "test_rows": len(fd.test_index)}
            weights = encode_weights(trained.model)
        except FoldFailed as exc:
            failure = str(exc)
    score_key = exp.score_name
    return SplitRecord(
        experiment=exp.name,
        dataset=dataset,
        variant=job.variant.name,
        config=job.variant.config(),
        config_hash=job.variant.config_hash(),
        split=job.split,
        seed=job.seed,
        status=FAILED if failure else OK,
        reason=failure,
        score=metrics.get(f"test_{score_key}"),
        train_score=metrics.get(f"train_{score_key}"),
        metrics=metrics,
        epochs=trained.epochs if trained else 0,
        best_epoch=trained.best_epoch if trained else 0,
        seconds=trained.seconds if trained else 0.0,
        loss=[json_float(v) for v in (trained.loss if trained else [])],
        val_loss=[json_float(v) for v in (trained.val_loss if trained else [])],
        engine=engine,
        weights=weights,
        job_key=job.key or None,
    )
