"""The ground floor: the domain types every other part of the harness speaks in.

A `Dataset` and the `Variant`s an experiment compares; what regularizes a variant
(`Regularization`, read from its built model); one finished job's `SplitRecord`; the
`RunRecord` a run writes about itself; and `Results`, a stored run as the statistics and the
report read it, with the `Section`s a report page is made of. Nothing here imports another
part of the harness (only `harness.errors`), TensorFlow or Keras.
"""
from .dataset import Dataset
from .records import (ERROR, FAILED, NETWORK, OK, REFERENCE, Emit, SplitRecord, decode_weights, encode_arrays,
                      encode_weights)
from .regularization import Penalty, Regularization
from .results import Definition, Results, Section
from .run import RunRecord
from .tasks import DEFAULT_SCORE, SCORES, TASKS, is_int, is_real
from .variant import Variant, standard_variants

__all__ = ["DEFAULT_SCORE", "Dataset", "Definition", "ERROR", "Emit", "FAILED", "NETWORK", "OK", "Penalty", "REFERENCE", "Regularization",
           "Results", "RunRecord", "SCORES", "Section", "SplitRecord", "TASKS", "Variant", "decode_weights",
           "encode_arrays", "encode_weights", "is_int", "is_real", "standard_variants"]
