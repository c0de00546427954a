"""A benchmarking harness for neural-network regularization with Keras: experiments, variants,
cross-validation, a results store and HTML reports.

From Python or a notebook: `harness.run(experiment, **overrides)` and `harness.results(name)`;
from a shell: `regbench` (or `python -m harness`)."""
from . import _quiet

_quiet.install()  # TensorFlow's C++ start-up lines kept off the console (REGBENCH_VERBOSE=1 shows them)

from . import _builtin  # noqa: E402

_builtin.install()  # `harness.builtin`: the repository's experiments/ when run from a checkout

from .errors import DataUnavailable, HarnessError  # noqa: E402
from .experiment import Experiment  # noqa: E402
from .core import Dataset, Results, Search, Section, Variant, log_grid, standard_variants, tuned  # noqa: E402
from .splitters import Splitter  # noqa: E402
from .store import load_results  # noqa: E402
from .api import results, run  # noqa: E402

__all__ = ["DataUnavailable", "Dataset", "Experiment", "HarnessError", "Results", "Search", "Section", "Splitter",
           "Variant", "load_results", "log_grid", "results", "run", "standard_variants", "tuned"]
