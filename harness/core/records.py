"""The split record: one finished job's result as the store keeps it, and its weight codec.

Engines produce records, the store writes them, statistics and reports read them back; none
of those needs to know which engine ran: a record says what kind of model it holds (a network
variant or a reference model) and which trainer made it, by name, only for the reader.
"""
from __future__ import annotations

import io
import math
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import HarnessError

#: a job's status: trained and scored; failed by itself (a NaN loss, an error in the model: the
#: same job fails the same way again, so a resumed run counts it as done); or not trained
#: because of where it ran (its worker died, the worker's libraries differ: a resumed run
#: trains it again)
OK, FAILED, ERROR = "ok", "failed", "error"
#: what a job trains: a network variant, or one of the experiment's reference models (a
#: scikit-learn estimator scored on the same splits)
NETWORK, REFERENCE = "network", "reference model"
#: a job's role in a tuned variant's nested cross-validation: one candidate on one inner split of
#: an outer split's training rows, or the chosen candidate retrained on the outer split ("" for
#: every other job)
INNER, REFIT = "inner", "refit"


@dataclass
class SplitRecord:
    """One (variant or reference model, split) result, as the store keeps it."""

    experiment: str
    dataset: str
    variant: str
    config: dict[str, Any]
    config_hash: str
    split: int
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
    #: the trainer that made it, by name (shown; nothing reads behaviour from it)
    engine: str
    weights: bytes | None = None
    run_id: str = ""
    #: the job's key (`harness.jobs`): what determines this result, hashed; unique in the store
    job_key: str | None = None
    created_at: float = field(default_factory=time.time)
    #: NETWORK or REFERENCE
    kind: str = NETWORK
    #: "" (an ordinary job), INNER or REFIT; `split` is then the outer split
    role: str = ""
    #: an INNER job's inner split (0-based)
    inner_split: int | None = None
    #: an INNER job's candidate, or the candidate a REFIT job retrained, as JSON
    candidate: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK


Emit = Callable[[SplitRecord], None]


def encode_arrays(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Named arrays as a compressed .npz, in the mapping's order."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: np.asarray(value) for name, value in arrays.items()})
    return buffer.getvalue()


def encode_weights(model: Any) -> bytes:
    """All a Keras model's weights as a compressed .npz, keyed by variable path."""
    return encode_arrays({v.path: np.asarray(v.numpy()) for v in model.weights})


def decode_weights(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays `encode_weights` stored, by variable path, in the model's weight order."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:  # arrays only: never unpickle
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise HarnessError(f"stored weights cannot be read as plain arrays ({exc}); the store may be damaged") from None


def json_float(value: float) -> float | None:
    """A float as JSON keeps it: NaN and infinities become None."""
    value = float(value)
    return value if math.isfinite(value) else None
