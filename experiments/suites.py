"""The suites: declared lists of independent data sets (experiments), each compared across its
data sets on a page of its own.

- `default`: the eight data sets `make benchmark` compares (it also runs the literature
  experiments, each on its own page);
- `large`: those eight, the sixteen more real data sets and the eighteen cells of the designed
  grid of `large_suite` (42 data sets).

A data set may be in a suite only if no row of it is in another of the suite's (the tests
across data sets assume independent data sets; tests/test_suites.py checks it), and a suite's
membership is this list alone: what happens to be stored or cached does not change it.
"""
from .large_suite import GRID

DEFAULT = ("wine", "breast-cancer", "diabetes", "digits-small", "madelon-like", "digits-noisy-labels",
           "friedman1-small", "wide-regression")

REAL = ("iris", "anes96-vote", "fair-affairs", "mode-choice", "spector-grade", "star98", "rand-hie",
        "grunfeld-invest", "ccard-spending", "state-crime", "engel-food", "macro-investment", "elnino-december",
        "scotland-vote", "strike-duration", "stack-loss")

SUITES = {
    "default": DEFAULT,
    "large": DEFAULT + REAL + tuple(cls.name for cls in GRID),
}
