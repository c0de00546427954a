"""Shared fixtures: tiny datasets and experiments that train in seconds."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from harness import Dataset, Experiment, Variant

REPO = Path(__file__).resolve().parent.parent


def tiny_classification(n: int = 60, seed: int = 0) -> Dataset:
    X, y = make_classification(n_samples=n, n_features=5, n_informative=3, n_redundant=0,
                               n_classes=3, n_clusters_per_class=1, random_state=seed)
    return Dataset("tiny-classification", pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]),
                   pd.Series(y, name="label"), "classification")


def tiny_regression(n: int = 60, seed: int = 0) -> Dataset:
    X, y = make_regression(n_samples=n, n_features=4, noise=5.0, random_state=seed)
    return Dataset("tiny-regression", pd.DataFrame(X, columns=[f"f{i}" for i in range(4)]),
                   pd.Series(y * 10 + 100, name="target"), "regression")


class TinyClassification(Experiment):
    name = "tiny-classification"
    description = "a test experiment"
    task = "classification"
    folds = 2
    epochs = 3
    hidden_units = (8,)
    variants = (Variant("none"), Variant("L2 1e-3", l2=1e-3))

    def load_data(self, data_dir):
        return tiny_classification()


class TinyRegression(TinyClassification):
    name = "tiny-regression"
    task = "regression"

    def load_data(self, data_dir):
        return tiny_regression()


def run_paths(root: Path) -> SimpleNamespace:
    """A run's store, reports and data cache under `root` (what `run_quietly` takes)."""
    return SimpleNamespace(db=root / "results.sqlite", reports=root / "reports", data=root / "data")


@pytest.fixture
def workdir(tmp_path):
    """Paths for a run's store, reports and data cache inside pytest's tmp dir."""
    return run_paths(tmp_path)


def run_quietly(experiments, workdir, **kwargs):
    import io

    from harness.runner import run_experiments

    stream = io.StringIO()
    outcomes = run_experiments(experiments, db=workdir.db, reports_dir=workdir.reports,
                               data_dir=workdir.data, stream=stream, progress=False, **kwargs)
    return outcomes, stream.getvalue()


def run_fake(experiments, workdir, **kwargs):
    """`run_quietly` with the fake trainer (tests/fakes.py) training the networks: for the tests
    of what surrounds training (the runner, the store, resuming, reports), in milliseconds."""
    from tests.fakes import ENGINE

    return run_quietly(experiments, workdir, engine=ENGINE, **kwargs)


class FakeFailing(TinyClassification):
    """A variant whose every split fails (with the fake trainer), beside one that trains."""

    name = "fake-failing"
    variants = (Variant("fine"), Variant("broken", settings={"fake_failure": "training loss became NaN at epoch 2"}))
