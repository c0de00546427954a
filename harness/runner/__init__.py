"""The run: plan jobs → drop finished ones → hand the rest to an executor → store → report.

- `orchestrate`: preparing experiments (load, check, split, preprocess), planning and keying
  their jobs, resuming from the store, cutting tasks, running them on an executor, storing
  each finished task and writing each report when its experiment is done;
- `metadata`: the record a run writes about itself when it starts (`harness.core.RunRecord`);
- `progress`: what a run prints while it trains.
"""
from .metadata import input_names, run_record
from ..options import RunOptions
from .orchestrate import Outcome, Prepared, plan, prepare, run_experiments
from .progress import Progress

__all__ = ["Outcome", "Prepared", "Progress", "RunOptions", "input_names", "plan", "prepare", "run_experiments",
           "run_record"]
