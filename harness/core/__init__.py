"""The ground floor: the domain types every other part of the harness speaks in.

A `Dataset` and the `Variant`s an experiment compares; what regularizes a variant
(`Regularization`, read from its built model); one finished job's `SplitRecord`; the
`RunRecord` a run writes about itself; and `Results`, a stored run as the statistics and the
report read it, with the `Section`s a report page is made of. Nothing here imports another
part of the harness (only `harness.errors`), TensorFlow or Keras.
"""
from .dataset import Dataset
from .records import (ERROR, FAILED, INNER, NETWORK, OK, REFERENCE, REFIT, Emit, SplitRecord, decode_weights, encode_arrays,
                      encode_weights)
from .regularization import Penalty, Regularization
from .results import Definition, Results, Section
from .run import RunRecord
from .tasks import DEFAULT_SCORE, REGRESSION_SCORERS, SCORES, TASKS, is_int, is_real, is_score, score_label
from .tuning import Choice, Search, candidate_label, choose, log_grid
from .variant import Variant, standard_variants, suite_variants, tuned

__all__ = ["Choice", "DEFAULT_SCORE", "Dataset", "Definition", "ERROR", "Emit", "FAILED", "INNER", "NETWORK", "OK",
           "Penalty", "REFERENCE", "REFIT", "REGRESSION_SCORERS", "Regularization", "Results", "RunRecord", "SCORES",
           "Search", "Section", "SplitRecord", "TASKS", "Variant", "candidate_label", "choose", "decode_weights",
           "encode_arrays", "encode_weights", "is_int", "is_real", "is_score", "log_grid", "score_label",
           "standard_variants", "suite_variants", "tuned"]
