"""Tuned variants: a search space instead of a fixed strength, and the rules that choose from it.

A tuned variant (`Variant(..., search=Search(...))`, or `tuned(...)`) is scored by nested
cross-validation: on each outer split, every candidate of its search is scored by an inner
K-fold CV on that split's training rows only, one candidate is chosen from the inner scores
(`choose`), retrained on the outer split's training rows ("refit") and scored on its test rows.
Everything here is plain data and arithmetic, shared by the runner (which chooses) and the
statistics (which show what was chosen and why).

Search methods:
- `grid`: every point of the grid (the product of its axes), in grid order;
- `random`: `n_candidates` points of the grid drawn without replacement (seeded), kept in grid order;
- `halving`: successive halving with the inner folds as the resource (as scikit-learn's
  `HalvingGridSearchCV` does with rows): every candidate on one inner fold, the best
  1/`factor` of them on `factor` times as many, and so on until one is left or every fold is
  used; the choice is made among the last round's candidates on all the folds they saw.

Rules (`rule`):
- `best`: the candidate with the best mean inner score;
- `1se`: the most regularized candidate whose mean inner score is within one standard error
  of the best one's (glmnet's `lambda.1se`: the standard error is the best candidate's
  sd over inner folds / sqrt(folds)). "Most regularized" is the candidate whose values stand
  highest on their axes (the sum of their positions on the sorted axes; ties: the later one
  in grid order).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import HarnessError
from .tasks import is_int, is_real

METHODS = ("grid", "random", "halving")
RULES = ("best", "1se")
#: grid axes that are the variant's own fields; `l1_l2` sets l1 and l2 to the same value;
#: any other name goes into the variant's `settings` (for a builder of your own)
FIELDS = ("l1", "l2", "dropout", "weight_decay")
BOTH = "l1_l2"


def log_grid(low: float, high: float, points: int = 7) -> tuple[float, ...]:
    """`points` strengths evenly spaced on a log scale from `low` to `high` (both included),
    rounded to 3 significant digits (1e-5, 6.81e-5, …)."""
    if not (is_real(low) and is_real(high) and 0 < low < high) or not is_int(points) or points < 2:
        raise HarnessError(f"log_grid needs 0 < low < high and points >= 2, got {low!r}, {high!r}, {points!r}")
    return tuple(float(f"{v:.3g}") for v in np.logspace(math.log10(low), math.log10(high), int(points)))


@dataclass(frozen=True)
class Search:
    """What a tuned variant searches and how it chooses (see the module docstring)."""

    #: axis name -> its values: l1, l2, l1_l2, dropout, weight_decay, or a setting's name
    grid: Mapping[str, Sequence[Any]]
    method: str = "grid"
    #: `random`: how many points to draw
    n_candidates: int | None = None
    rule: str = "best"
    inner_folds: int = 3
    #: `halving`: the share of candidates kept per round is 1/factor
    factor: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.grid, Mapping) or not self.grid:
            raise HarnessError(f"a search needs a grid of at least one axis, got {self.grid!r}")
        grid: dict[str, tuple[Any, ...]] = {}
        for axis, values in self.grid.items():
            if not isinstance(axis, str) or not axis:
                raise HarnessError(f"search axis names must be non-empty strings, got {axis!r}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise HarnessError(f"search axis {axis!r} needs a non-empty list of values, got {values!r}")
            if axis in FIELDS + (BOTH,):  # strengths and rates; a setting's values stay as given (units=32)
                values = tuple(float(v) if is_real(v) and not isinstance(v, bool) else v for v in values)
            values = tuple(values)
            if len(set(map(repr, values))) != len(values):
                raise HarnessError(f"search axis {axis!r} repeats a value: {list(values)}")
            if axis in FIELDS + (BOTH,):
                bad = [v for v in values if not is_real(v) or v < 0 or (axis == "dropout" and v >= 1)]
                if bad:
                    need = "in [0, 1)" if axis == "dropout" else "finite and >= 0"
                    raise HarnessError(f"search axis {axis!r}: values must be {need}, got {bad[0]!r}")
            grid[axis] = values
        if BOTH in grid and ({"l1", "l2"} & set(grid)):
            raise HarnessError(f"search axis {BOTH!r} sets l1 and l2 together; it cannot be combined with 'l1' or 'l2'")
        object.__setattr__(self, "grid", grid)
        if self.method not in METHODS:
            raise HarnessError(f"search method must be one of {METHODS}, got {self.method!r}")
        if self.rule not in RULES:
            raise HarnessError(f"search rule must be one of {RULES}, got {self.rule!r}")
        if not is_int(self.inner_folds) or self.inner_folds < 2:
            raise HarnessError(f"a search needs inner_folds >= 2, got {self.inner_folds!r}")
        if not is_int(self.factor) or self.factor < 2:
            raise HarnessError(f"a halving search needs factor >= 2, got {self.factor!r}")
        if self.method == "random":
            size = math.prod(len(v) for v in grid.values())
            if not is_int(self.n_candidates) or not 1 <= self.n_candidates <= size:
                raise HarnessError(f"a random search draws n_candidates between 1 and the grid's {size} points, "
                                   f"got {self.n_candidates!r}")
        elif self.n_candidates is not None:
            raise HarnessError(f"n_candidates is for method 'random', not {self.method!r}")

    def points(self) -> list[dict[str, Any]]:
        """Every point of the grid, in grid order (the last axis varies fastest)."""
        axes = list(self.grid)
        return [dict(zip(axes, values)) for values in itertools.product(*self.grid.values())]

    def candidates(self) -> list[dict[str, Any]]:
        """The points this search scores: the whole grid, or the random draw."""
        points = self.points()
        if self.method != "random":
            return points
        # the points with the smallest hashes of (seed, position): a draw without replacement that no
        # library version changes, so a stored run's candidates are drawn again the same
        order = sorted(range(len(points)), key=lambda i: hashlib.sha256(f"{self.seed}:{i}".encode()).hexdigest())
        return [points[i] for i in sorted(order[:self.n_candidates])]

    def complexity(self, candidate: Mapping[str, Any]) -> int:
        """How regularized a candidate is: the sum of its values' positions on their sorted axes
        (higher: more regularized, simpler)."""
        total = 0
        for axis, value in candidate.items():
            order = sorted(self.grid[axis], key=lambda v: (not is_real(v), v if is_real(v) else repr(v)))
            total += order.index(value)
        return total

    def config(self) -> dict[str, Any]:
        return {"grid": {k: list(v) for k, v in self.grid.items()}, "method": self.method,
                "n_candidates": self.n_candidates, "rule": self.rule, "inner_folds": self.inner_folds,
                "factor": self.factor, "seed": self.seed}

    def describe(self) -> str:
        axes = "; ".join(f"{axis} in {{{', '.join(f'{v:g}' if is_real(v) else repr(v) for v in values)}}}"
                         for axis, values in self.grid.items())
        how = {"grid": "every point", "random": f"{self.n_candidates} random points",
               "halving": f"successive halving (factor {self.factor}, inner folds as the resource)"}[self.method]
        rule = "the best mean inner score" if self.rule == "best" else "the most regularized within one standard error of the best"
        return f"{axes}: {how} scored by {self.inner_folds}-fold inner CV; chosen: {rule}"


def candidate_label(candidate: Mapping[str, Any]) -> str:
    """'l2=0.001', or 'l1=0.0001, dropout=0.2'."""
    return ", ".join(f"{k}={v:g}" if is_real(v) and not isinstance(v, bool) else f"{k}={v!r}"
                     for k, v in candidate.items())


def candidate_text(candidate: Mapping[str, Any] | None) -> str | None:
    """A candidate as the store keeps it (JSON, keys in grid order)."""
    return None if candidate is None else json.dumps(dict(candidate))


def halving_rounds(search: Search) -> list[int]:
    """The inner folds each round of a search uses (grid and random: one round of all)."""
    if search.method != "halving":
        return [search.inner_folds]
    folds, rounds = 1, []
    while True:
        rounds.append(folds)
        if folds >= search.inner_folds:
            return rounds
        folds = min(search.inner_folds, folds * search.factor)


def next_round(search: Search, scores: Mapping[tuple[int, int], float | None],
               greater_is_better: bool = True) -> list[tuple[int, int]] | None:
    """The (candidate index, inner fold) pairs still to score, given the scores so far
    (`scores[(candidate, fold)]`: a number, or None for a fit that failed); None when the
    search is complete. Deterministic in the scores, so a resumed run asks for the same."""
    signed = _signed(scores, greater_is_better)
    alive = list(range(len(search.candidates())))
    for folds in halving_rounds(search):
        todo = [(c, f) for c in alive for f in range(folds) if (c, f) not in signed]
        if todo:
            return todo
        if folds >= search.inner_folds:
            return None
        alive = _survivors(search, signed, alive, folds)
        if len(alive) == 1:
            return None
    return None


def _survivors(search: Search, signed: Mapping[tuple[int, int], float | None], alive: list[int], folds: int) -> list[int]:
    """The best 1/factor of a halving round's candidates (at least one)."""
    keep = math.ceil(len(alive) / search.factor)
    ranked = inner_table(search, signed, alive, folds).sort_values("rank")
    passed = ranked[ranked["ok"]]
    return sorted((passed if len(passed) else ranked).index[:keep])  # a candidate that failed never goes on


def final_round(search: Search, signed: Mapping[tuple[int, int], float | None]) -> tuple[list[int], int]:
    """The candidates the choice is made among, and the folds they all saw (`signed`: scores
    where greater is better)."""
    alive = list(range(len(search.candidates())))
    for folds in halving_rounds(search):
        if folds >= search.inner_folds:
            return alive, folds
        alive = _survivors(search, signed, alive, folds)
        if len(alive) == 1:
            return alive, folds
    return alive, search.inner_folds


def inner_table(search: Search, scores: Mapping[tuple[int, int], float | None], candidates: Sequence[int],
                folds: int, greater_is_better: bool = True) -> pd.DataFrame:
    """Per candidate (index): mean, sd, se and n of its inner scores over the first `folds` folds,
    `ok` (every fold scored) and `rank` (1 = best mean; failed candidates last, ties to the
    more regularized). Used to rank halving rounds (which take greater_is_better from the
    scores' sign, see `choose`)."""
    points = search.candidates()
    rows = []
    for c in candidates:
        values = [scores.get((c, f)) for f in range(folds)]
        got = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
        ok = len(got) == folds
        mean = float(got.mean()) if len(got) else math.nan
        sd = float(got.std(ddof=1)) if len(got) > 1 else math.nan
        rows.append({"candidate": c, "mean": mean, "sd": sd, "se": sd / math.sqrt(len(got)) if len(got) > 1 else math.nan,
                     "n": len(got), "ok": ok, "complexity": search.complexity(points[c])})
    table = pd.DataFrame(rows).set_index("candidate")
    signed = table["mean"] if greater_is_better else -table["mean"]
    order = sorted(table.index, key=lambda c: (not table.at[c, "ok"], -signed[c] if table.at[c, "ok"] else 0.0,
                                              -table.at[c, "complexity"], -c))
    table["rank"] = [order.index(c) + 1 for c in table.index]
    return table


@dataclass(frozen=True)
class Choice:
    """What the inner CV chose on one outer split: the candidate (index and values), or None when
    every candidate failed (`reason` says so), with the table it was chosen from."""

    index: int | None
    candidate: dict[str, Any] | None
    table: pd.DataFrame = field(compare=False, repr=False)
    reason: str | None = None


def choose(search: Search, scores: Mapping[tuple[int, int], float | None], greater_is_better: bool) -> Choice:
    """The candidate the search's rule chooses from the inner scores (`scores[(candidate,
    fold)]`, None for a failed fit). A candidate is eligible only when every fold of the final
    round scored it."""
    alive, folds = final_round(search, _signed(scores, greater_is_better))
    table = inner_table(search, scores, alive, folds, greater_is_better)
    eligible = table[table["ok"]]
    if eligible.empty:
        return Choice(None, None, table, f"every candidate failed on some inner fold ({len(table)} tried)")
    best = int(eligible["rank"].idxmin())
    if search.rule == "1se":
        se = table.at[best, "se"]
        se = 0.0 if not math.isfinite(se) else se
        bound = table.at[best, "mean"] - se if greater_is_better else table.at[best, "mean"] + se
        within = eligible[eligible["mean"] >= bound] if greater_is_better else eligible[eligible["mean"] <= bound]
        best = int(max(within.index, key=lambda c: (within.at[c, "complexity"], c)))
    return Choice(best, search.candidates()[best], table)


def _signed(scores: Mapping[tuple[int, int], float | None], greater_is_better: bool) -> dict[tuple[int, int], float | None]:
    """Scores turned so that greater is better (halving rounds rank by them)."""
    if greater_is_better:
        return dict(scores)
    return {k: (None if v is None else -v) for k, v in scores.items()}
