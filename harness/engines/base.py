"""What every engine shares: the trained-member type, the fold record, scoring a member.

Engines turn jobs into trained Keras models (`TrainedMember`); `finish` scores those models
the same way whichever engine ran, so nothing downstream knows which engine it was.
"""
from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from ..experiment import Experiment
from ..folds import FoldData, Job
from ..scoring import FoldFailed, evaluate


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


@dataclass
class FoldRecord:
    """One (variant, fold) result, as the store keeps it."""

    experiment: str
    dataset: str
    variant: str
    config: dict[str, Any]
    config_hash: str
    fold: int
    seed: int
    status: str
    reason: str | None
    score: float | None
    train_score: float | None
    metrics: dict[str, float]
    epochs: int
    best_epoch: int
    seconds: float
    loss: list[float]
    val_loss: list[float]
    engine: str
    weights: bytes | None = None
    run_id: str = ""
    created_at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


Emit = Callable[[FoldRecord], None]


class Engine(Protocol):
    """Trains jobs and emits one FoldRecord per job as soon as it is finished."""

    name: str

    def plan(self, exp: Experiment, folds: Sequence[FoldData], jobs: Sequence[Job]) -> list[str]:
        """Notes for the report on how the jobs will be trained (grouping, fallbacks)."""
        ...

    def run(
        self,
        exp: Experiment,
        dataset: str,
        folds: Sequence[FoldData],
        jobs: Sequence[Job],
        emit: Emit,
    ) -> None: ...


def first_nan_epoch(losses: Sequence[float]) -> int | None:
    for epoch, value in enumerate(losses, start=1):
        if value is None or not math.isfinite(value):
            return epoch
    return None


def encode_weights(model: Any) -> bytes:
    """All the model's weights as a compressed .npz, keyed by variable path."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{v.path: np.asarray(v.numpy()) for v in model.weights})
    return buffer.getvalue()


def decode_weights(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob)) as archive:
        return {name: archive[name] for name in archive.files}


def finish(
    exp: Experiment, dataset: str, job: Job, fd: FoldData, trained: TrainedMember | None,
    engine: str, error: str | None = None,
) -> FoldRecord:
    """Score a trained member (or record why it failed) as a FoldRecord."""
    failure = error or (trained.failure if trained else "not trained")
    metrics: dict[str, float] = {}
    weights = None
    if failure is None:
        try:
            metrics = {**evaluate(exp, trained.model, fd), "train_rows": len(fd.fit_index)}
            weights = encode_weights(trained.model)
        except FoldFailed as exc:
            failure = str(exc)
    score_key = exp.score_name
    return FoldRecord(
        experiment=exp.name,
        dataset=dataset,
        variant=job.variant.name,
        config=job.variant.config(),
        config_hash=job.variant.config_hash(),
        fold=job.fold,
        seed=job.seed,
        status="failed" if failure else "ok",
        reason=failure,
        score=metrics.get(f"test_{score_key}"),
        train_score=metrics.get(f"train_{score_key}"),
        metrics=metrics,
        epochs=trained.epochs if trained else 0,
        best_epoch=trained.best_epoch if trained else 0,
        seconds=trained.seconds if trained else 0.0,
        loss=[_json_float(v) for v in (trained.loss if trained else [])],
        val_loss=[_json_float(v) for v in (trained.val_loss if trained else [])],
        engine=engine,
        weights=weights,
    )


def _json_float(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
