"""A fake trainer for the tests of the runner, store, resume, kill, distributed and report
paths, which need records, not training.

Registered through the public engine API (`harness.engines.register_trainer`) as `fake`, it
gives each network job the record a network would give, computed in NumPy in milliseconds: a
ridge fit of the split's fit rows (classes one-hot encoded), its strength growing with the
variant's penalties and dropout, perturbed by the job's seed; scored by the harness's own
scoring on the same rows as a network; loss curves that fall and turn, with the early-stopping
epochs a patience would give; weights named as Dense layers' are. It is deterministic in the
job's seed and the split's arrays, so a resumed run, a run on workers and a run in one process
give the same bits. A variant with `settings={"fake_failure": "why"}` fails with that reason; one with
`settings={"fake_exit_worker": True}` ends the process of a Dask worker that trains it; one with
`settings={"fake_error_once": PATH}` makes the first task of it raise (its jobs come back 'error')
and creates PATH, so that the next try trains it;
$HARNESS_FAKE_SECONDS makes each job take that long (to kill a run mid-training);
$HARNESS_FAKE_LOG names a file to which each job trained appends its key and its process's id.
"""
from __future__ import annotations

import os
import time
from typing import Any, Sequence

import numpy as np

from harness.core import FAILED, NETWORK, OK, encode_arrays
from harness.engines import TRAINERS, register_trainer
from harness.engines.base import TrainedMember, make_record
from harness.scoring import score_outputs, scored_rows

NAME = "fake"


class FakeTrainer:
    """Network jobs in NumPy: one task per variant (a task of several jobs, cut as a stacked
    model is when workers need work)."""

    name = NAME
    numerics = "fake/1"
    kind = NETWORK
    splittable = True
    keras = False  # NumPy only: no Keras state to let go after a task

    def skip(self, exp: Any, splits: Any, job: Any) -> str | None:
        return None if job.variant is not None else "a reference model is not a network"

    def notes(self, exp: Any, splits: Any, jobs: Sequence[Any]) -> list[str]:
        return [f"Engine: fake ({len(jobs)} jobs): NumPy ridge fits standing in for networks, for the tests."]

    def tasks(self, exp: Any, splits: Any, jobs: Sequence[Any]) -> list[list[Any]]:
        by_variant: dict[str, list[Any]] = {}
        for job in jobs:  # a tuned variant's candidates are variants of their own
            by_variant.setdefault(job.variant.config_hash(), []).append(job)
        return list(by_variant.values())

    def run(self, exp: Any, dataset: str, splits: Any, jobs: Sequence[Any], emit: Any) -> None:
        delay = float(os.environ.get("HARNESS_FAKE_SECONDS", "0"))
        once = next((job.variant.settings.get("fake_error_once") for job in jobs
                     if job.variant.settings.get("fake_error_once")), None)
        if once and not os.path.exists(once):  # the task's jobs come back ERROR, as when a worker dies
            open(once, "w").close()
            raise RuntimeError("fake_error_once: not trained this time")
        for job in jobs:
            time.sleep(delay)
            if job.variant.settings.get("fake_exit_worker") and on_a_dask_worker():
                os._exit(1)
            if os.environ.get("HARNESS_FAKE_LOG"):
                with open(os.environ["HARNESS_FAKE_LOG"], "a") as log:
                    log.write(f"{job.key} {os.getpid()}\n")
            emit(fake_record(exp, dataset, splits[job.data], job, self.name))


def on_a_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False


def fake_record(exp: Any, dataset: str, fd: Any, job: Any, engine: str = NAME) -> Any:
    variant = job.variant
    rng = np.random.default_rng(job.seed)
    strength = 1e-2 + 10 * (variant.l1 + variant.l2) + variant.dropout + variant.weight_decay
    epochs, best = curve_shape(exp, job.seed)
    loss = [float(1 / (e + 1) + strength) for e in range(epochs)]
    val_loss = [float(abs(e - best + 1) * 0.05 + 0.5 + strength) for e in range(epochs)] if fd.x_val is not None else []
    trained = TrainedMember(None, loss, val_loss, epochs, best if val_loss else epochs, 0.001 * epochs)
    failure = variant.settings.get("fake_failure")
    if failure:
        return make_record(exp, dataset, job, engine, FAILED, str(failure), trained=trained)
    x = fd.x_fit.astype("float64")
    y = np.eye(fd.n_outputs)[fd.y_fit] if exp.task == "classification" else fd.y_fit.astype("float64")[:, None]
    kernel = np.linalg.solve(x.T @ x + strength * len(x) * np.eye(x.shape[1]), x.T @ y)
    kernel += rng.normal(0.0, 1e-3, kernel.shape)
    raw = scored_rows(fd).astype("float64") @ kernel
    if exp.task == "classification":
        exp_scores = np.exp(3 * (raw - raw.max(axis=1, keepdims=True)))
        outputs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    else:
        outputs = raw[:, 0]
    metrics = {**score_outputs(exp, fd, outputs), "train_rows": len(fd.fit_index), "test_rows": len(fd.test_index)}
    weights = encode_arrays({"fake/hidden_1/kernel": kernel.astype("float32"),
                             "fake/hidden_1/bias": np.zeros(kernel.shape[1], "float32")})
    return make_record(exp, dataset, job, engine, OK, metrics=metrics, trained=trained, weights=weights)


def curve_shape(exp: Any, seed: int) -> tuple[int, int]:
    """(epochs trained, best epoch): every epoch without a patience, else stopped `patience`
    epochs after a best epoch drawn from the seed, as early stopping would."""
    if exp.patience is None:
        return exp.epochs, exp.epochs
    best = 1 + seed % max(1, exp.epochs - exp.patience)
    return min(exp.epochs, best + exp.patience), best


def register() -> str:
    """Register the fake trainer once; its name, for `engine=`."""
    if NAME not in TRAINERS:
        register_trainer(NAME, FakeTrainer, "NumPy ridge fits standing in for networks (the tests' fake trainer)")
    return NAME


ENGINE = register()
