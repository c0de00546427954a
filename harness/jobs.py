"""Jobs and their keys.

A job is one (variant, split) network or one (reference model, split) fit: a pure description that
any engine, in any process, turns into one `SplitRecord`. Its key is a stable hash of what
determines its result, so a finished job is found in the store and never trained twice:
the experiment's name, a fingerprint of the data as loaded, the training settings, the
splitter's configuration, the split's index, rows and preprocessed arrays, the variant's
configuration with the Keras model and optimizer it builds (or the reference model's estimator), the
job's seed, and the numerical identity of the engine that trains it (the keras and stacked
engines give the same distribution of results, not the same bits, so their keys differ) with
the versions of the libraries that compute it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .core import NETWORK, REFERENCE, Dataset, Variant
from .experiment import Experiment
from .keras_private import nested_layers
from .splits import SplitData, derive_seed
from .splitters import splitter_params

if TYPE_CHECKING:  # pragma: no cover
    import keras



@dataclass(frozen=True)
class Job:
    """Train one variant (or fit one reference model) on one split with one seed."""

    experiment: str
    variant: Variant | None
    split: int
    seed: int
    #: a reference model's name and unfitted scikit-learn estimator (then `variant` is None)
    reference: str | None = None
    estimator: Any = field(default=None, compare=False, repr=False)
    #: the name of the trainer that runs it (set when planned)
    engine: str = ""
    #: the stable hash of what determines its result (set when planned)
    key: str = ""
    #: "" (an ordinary job), INNER (a candidate on inner split `inner` of outer split `split`)
    #: or REFIT (a tuned variant's chosen candidate retrained on outer split `split`)
    role: str = ""
    inner: int | None = None
    #: the candidate's values (INNER and REFIT jobs), in grid order
    candidate: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def data(self) -> Any:
        """Which prepared split it trains on: the outer split's index, or (outer, inner)."""
        return self.split if self.inner is None else (self.split, self.inner)

    @property
    def name(self) -> str:
        """The variant's or the reference model's name."""
        return self.variant.name if self.variant is not None else str(self.reference)

    @property
    def kind(self) -> str:
        """What it trains: NETWORK (a variant) or REFERENCE (a reference model)."""
        return NETWORK if self.variant is not None else REFERENCE

    def config(self) -> dict[str, Any]:
        """What its record stores as its configuration (JSON-able)."""
        return self.variant.config() if self.variant is not None else reference_config(self.name, self.estimator)

    def config_hash(self) -> str:
        """A stable short hash of `config()`."""
        if self.variant is not None:
            return self.variant.config_hash()
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode()).hexdigest()[:16]


def reference_config(name: str, estimator: Any) -> dict[str, Any]:
    """A reference model's configuration as records and the run keep it (JSON-able)."""
    cls = type(estimator)
    return {"name": name, "kind": REFERENCE, "estimator": repr(estimator), "class": f"{cls.__module__}.{cls.__qualname__}"}


def job_seed(exp: Experiment, name: str, split: int) -> int:
    """The seed of the job training `name` (a variant or a reference model) on `split`: the split's own
    seed in a paired design, else one mixed with the name."""
    if exp.paired_seeds:
        return derive_seed(exp.seed, split)
    return derive_seed(exp.seed, split, name)


def make_jobs(exp: Experiment, n_splits: int) -> list[Job]:
    """Every (fixed variant, split) pair, variant-major so a variant's splits print together (a
    tuned variant's outer jobs are its refits, planned once its inner CV has chosen)."""
    return [
        Job(exp.name, variant, split, job_seed(exp, variant.name, split))
        for variant in exp.variants if variant.search is None
        for split in range(n_splits)
    ]


def reference_jobs(exp: Experiment, references: Mapping[str, Any], n_splits: int) -> list[Job]:
    """Every (reference model, split) pair, model-major, after the variants' jobs."""
    return [
        Job(exp.name, None, split, job_seed(exp, name, split), reference=name, estimator=estimator)
        for name, estimator in references.items()
        for split in range(n_splits)
    ]


# ---------------------------------------------------------------------- fingerprints
def _text(value: Any) -> str:
    """repr without memory addresses (`<function f at 0x7f…>` differs in every process)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=_text)
    return hashlib.sha256(text.encode()).hexdigest()


def data_fingerprint(data: Dataset) -> str:
    """A hash of the data as loaded: every value, the index, column names, dtypes, the target and
    the groups (where there are any)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([data.name, data.task, list(map(str, data.X.columns)),
                              [str(t) for t in data.X.dtypes], str(data.y.name), str(data.y.dtype)]).encode())
    digest.update(pd.util.hash_pandas_object(data.X, index=True).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(data.y, index=True).to_numpy().tobytes())
    if data.groups is not None:  # data without groups keeps the fingerprint it had before groups existed
        digest.update(pd.util.hash_pandas_object(data.groups.astype(str), index=True).to_numpy().tobytes())
    if data.sample_weight is not None:  # likewise for sample weights
        digest.update(b"sample_weight;" + np.ascontiguousarray(data.sample_weight.to_numpy("float64")).tobytes())
    return digest.hexdigest()


def splitter_config(splitter: Any) -> dict[str, Any]:
    """The splitter's class and the parameters that identify its splits."""
    cls = type(splitter)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "params": splitter_params(splitter)}


def split_fingerprint(fd: SplitData) -> str:
    """A hash of a split as the networks see it: the rows it trains on, validates on and is
    scored on, and their arrays after the experiment's preprocessing (fitted on the split's
    training rows), so that any change of the preprocessor that changes a value changes it."""
    digest = hashlib.sha256()
    arrays = (fd.fit_index, fd.val_index, fd.test_index, fd.x_fit, fd.y_fit, fd.x_val, fd.y_val, fd.x_test,
              fd.y_test, fd.y_fit_raw, fd.y_test_raw, np.asarray([fd.target_mean, fd.target_std, fd.n_outputs]))
    if fd.w_fit is not None:  # an unweighted split keeps the fingerprint it had before weights existed
        arrays += (fd.w_fit,)
    for array in arrays:
        if array is None:
            digest.update(b"none;")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def model_config(model: "keras.Model") -> Any:
    """The model's Keras config with layer names replaced by their positions (Keras numbers
    unnamed layers by how many were built before, which must not change a key)."""
    layers = nested_layers(model)
    names = {layer.name: f"layer-{i}" for i, layer in enumerate(layers)}
    names[model.name] = "model"

    def canonical(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, str):
            return names.get(value, value)
        return value

    try:
        return canonical(model.get_config())
    except Exception:  # noqa: BLE001 - a custom layer without get_config: its structure
        return [[type(layer).__qualname__, [list(w.shape) for w in layer.weights]] for layer in layers]


def estimator_config(estimator: Any) -> dict[str, Any]:
    """A reference model's class and every parameter (deep), as text."""
    cls = type(estimator)
    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else {}
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "params": {k: _text(v) for k, v in params.items()}}


def library_versions() -> dict[str, str]:
    """The versions of the libraries whose arithmetic a job's result depends on."""
    import keras
    import sklearn
    import tensorflow

    return {"tensorflow": tensorflow.__version__, "keras": keras.__version__,
            "scikit-learn": sklearn.__version__, "numpy": np.__version__}


class KeyMaker:
    """Keys the jobs of one prepared experiment. Models and optimizers are built once per
    (variant, input width, output width)."""

    def __init__(self, exp: Experiment, data: Dataset, splitter: Any, splits: Sequence[SplitData],
                 inner: Mapping[tuple[int, int], SplitData] | None = None) -> None:
        self.exp, self.splits = exp, splits
        #: every prepared split by `Job.data`: the outer splits, and the inner splits of tuned variants
        self.table: dict[Any, SplitData] = {**dict(enumerate(splits)), **dict(inner or {})}
        settings = exp.keyed_settings()
        #: the data's fingerprint, which the run also records (its data is stored under it)
        self.data_key = data_fingerprint(data)
        self.common = _digest({
            "experiment": exp.name,
            "data": self.data_key,
            "settings": settings,
            "splitter": splitter_config(splitter),
            "versions": library_versions(),
        })
        self._split_keys: dict[Any, str] = {}
        self._configs: dict[tuple[Any, ...], str] = {}

    def split_key(self, data: Any) -> str:
        if data not in self._split_keys:
            self._split_keys[data] = split_fingerprint(self.table[data])
        return self._split_keys[data]

    def network_config(self, variant: Variant, fd: SplitData) -> str:
        cache_key = (variant.config_hash(), fd.n_inputs, fd.n_outputs)
        if cache_key not in self._configs:
            from .models import built

            model = built(self.exp, variant, fd.n_inputs, fd.n_outputs)  # the build the engines share
            optimizer = self.exp.make_optimizer(variant)
            settings = optimizer.get_config()
            settings.pop("name", None)  # numbered by how many optimizers were made before
            self._configs[cache_key] = _digest({
                "variant": variant.config(),
                "model": model_config(model),
                "optimizer": [type(optimizer).__qualname__, settings],
            })
        return self._configs[cache_key]

    def key(self, job: Job, numerics: str) -> str:
        """The job's key; `numerics` names its trainer's arithmetic (e.g. 'stacked/3'). An
        inner or refit job's key adds its role and inner split (an ordinary job's is as it was)."""
        fd = self.table[job.data]
        if job.variant is not None:
            config = self.network_config(job.variant, fd)
        else:
            config = _digest({"reference": job.reference, "estimator": estimator_config(job.estimator)})
        parts = {"common": self.common, "config": config, "split": [job.split, self.split_key(job.data)],
                 "seed": job.seed, "engine": numerics}
        if job.role:
            parts["role"] = [job.role, job.inner]
        return _digest(parts)[:32]


def with_key(job: Job, engine: str, key: str) -> Job:
    return dataclasses.replace(job, engine=engine, key=key)
