"""What a run records about itself (`harness.core.RunRecord`), written once, when it starts:
the experiment's description and training settings, the splitter and preprocessor, the data's
shape, the correction its paired tests need, each variant with what regularizes it (read from
its built model), model summaries and library versions."""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from ..core import Regularization, RunRecord
from ..core.run import ReferenceModel, TrainingSettings

from ..errors import HarnessError, one_line
from ..jobs import library_versions, reference_config
from ..keras_private import summary_text
from ..models import built, structure
from ..regularizers import regularization_of
from ..splitters import traits


def versions() -> dict[str, str]:
    """The versions the report shows: Python, pandas, and those a job's key includes."""
    import platform

    import pandas

    return {"python": platform.python_version(), **library_versions(), "pandas": pandas.__version__}


def plain(value: Any) -> Any:
    """JSON-able form of a setting (tuples to lists, other objects to their repr)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def input_names(prepared: Any) -> list[str] | None:
    """The network's input columns after preprocessing (the transformer fitted on the first
    split's training rows, as that split's was), e.g. 'x003' or 'colour_red'; None where the
    preprocessor cannot name them."""
    from sklearn.base import clone

    first = prepared.splits[0]
    try:
        transformer = clone(prepared.exp.preprocessor(prepared.data.X))
        transformer.fit(prepared.data.X.iloc[first.fit_index])
        names = [str(n) for n in transformer.get_feature_names_out()]
    except Exception:  # noqa: BLE001 - a custom preprocessor need not name its outputs
        return None
    prefixes = {f"{name}__" for name, *_ in getattr(transformer, "transformers_", [])}  # a ColumnTransformer's
    names = [next((n[len(p):] for p in prefixes if n.startswith(p)), n) for n in names]
    return names if len(names) == first.n_inputs else None


def built_models(prepared: Any) -> dict[str, Any]:
    """Each variant's Keras model for the first split's shapes (the build every part of the
    run shares); a builder that fails is one line naming the variant."""
    import keras

    exp, first = prepared.exp, prepared.splits[0]
    models = {}
    for variant in exp.variants:
        keras.utils.set_random_seed(0)
        try:
            models[variant.name] = built(exp, representative(variant), first.n_inputs, first.n_outputs)
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - the builder with the user's settings (a bad activation, no memory)
            raise HarnessError(f"{exp.name}: cannot build the model of variant {variant.name!r}: {one_line(exc)}") from None
    return models


def representative(variant: Any) -> Any:
    """The variant whose model stands for it: itself, or a tuned variant's most regularized candidate."""
    if variant.search is None:
        return variant
    points = variant.search.candidates()
    top = max(range(len(points)), key=lambda i: (variant.search.complexity(points[i]), i))
    return variant.candidate(points[top])


def regularization_of_variant(exp: Any, variant: Any, model: Any) -> Regularization:
    """What regularizes a variant, read from its model (a tuned one's: with its search)."""
    found = regularization_of(model, exp.make_optimizer(representative(variant)))
    return dataclasses.replace(found, search=variant.search.describe()) if variant.search is not None else found


def baseline_of(exp: Any, regularization: dict[str, Regularization]) -> str:
    """The experiment's `baseline`, else its first variant with nothing regularizing it, else
    its first variant."""
    if exp.baseline is not None:
        return exp.baseline
    plain_networks = [v.name for v in exp.variants if not regularization[v.name].families]
    return plain_networks[0] if plain_networks else exp.variants[0].name


def run_record(prepared: Any, engine_notes: Sequence[str] = ()) -> RunRecord:
    """The record the run writes when it starts (`prepared`: a planned experiment)."""
    exp, splits = prepared.exp, prepared.splits
    models = built_models(prepared)
    summaries: dict[str, str] = {}
    by_structure: dict[tuple[Any, ...], str] = {}  # one summary per architecture, not per variant
    for name, model in models.items():
        key = structure(model)
        if key not in by_structure:
            by_structure[key] = summary_text(model)
        summaries[name] = by_structure[key]
    regularization = {v.name: regularization_of_variant(exp, v, models[v.name]) for v in exp.variants}
    ratio = float(np.mean([len(f.test_index) / len(f.fit_index) for f in splits]))
    corrected = traits(prepared.splitter).resampling_correction
    references = [reference_config(name, estimator) for name, estimator in prepared.reference_models.items()]
    return RunRecord(
        experiment=exp.name, dataset=prepared.data.name, training=TrainingSettings(exp.settings()),
        description=exp.description, source=exp.source, source_results=exp.source_results(),
        quick=exp.quick, version=exp.version, full_settings={k: plain(v) for k, v in exp.full_settings.items()},
        protocol_text=exp.protocol_description() + _split_respects(prepared), splitter=repr(prepared.splitter),
        preprocessor=repr(exp.preprocessor(prepared.data.X)), n_rows=len(prepared.data.X),
        n_features=splits[0].n_inputs, input_names=input_names(prepared),
        test_train_ratio=ratio if corrected else 0.0, resampling_correction=corrected,
        training_overlap=traits(prepared.splitter).training_overlap,
        greater_is_better=exp.greater_is_better, variants=list(exp.variants),
        baseline=baseline_of(exp, regularization), regularization=regularization,
        reference_models=[ReferenceModel(r["name"], r["estimator"], r["class"]) for r in references],
        model_summaries=summaries, versions=versions(), data_fingerprint=prepared.data_key or None,
        engine_notes=list(engine_notes), planned=len(prepared.planned),
        parameters={name: int(model.count_params()) for name, model in models.items()},
        train_rows=float(np.mean([len(f.fit_index) for f in splits])), label_noise=exp.label_noise,
        found_done=sum(1 for job in prepared.planned if job.key in prepared.found),
    )


def _split_respects(prepared: Any) -> str:
    """What the splits keep whole, for the page's protocol line: the data's groups, time order."""
    found = traits(prepared.splitter)
    text = ""
    if found.grouped and prepared.data.groups is not None:
        groups = prepared.data.groups
        text += (f"; split by {groups.name!r} ({groups.nunique()} groups): no group is on both sides of a split, "
                 "of the validation carve or of an inner split, and the resampling correction's n_test/n_train is "
                 "the mean over splits, whose sizes vary with the groups' sizes")
    if found.ordered and prepared.exp.uses_validation_split:
        text += (f"; in time order: the validation rows are the latest {prepared.exp.validation_fraction:.0%} of each "
                 "split's training rows, after every row fitted on and before every row scored")
    return text
