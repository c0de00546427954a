"""Nested cross-validation of tuned variants, as jobs: the inner splits of every outer split's
training rows, the inner jobs of each search round, and the refit jobs of the choices.

Nothing of an outer split's test rows reaches its inner splits: they are made from, and
preprocessed on, that split's training rows only (`inner_splits`), and the choice
(`harness.core.tuning.choose`) reads the inner scores alone. The runner asks `next_jobs`
after each round until every search is complete, then `refit_jobs` for the outer splits.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .core import ERROR, INNER, OK, REFIT, Dataset, Variant
from .core.tuning import Choice, choose, next_round
from .errors import HarnessError, one_line
from .experiment import Experiment
from .jobs import Job
from .splits import SplitData, derive_seed, prepare_split
from .splitters import split_rows


def tuned_variants(exp: Experiment) -> list[Variant]:
    return [v for v in exp.variants if v.search is not None]


def inner_folds(exp: Experiment) -> int:
    """The number of inner splits its tuned variants share (0: nothing tuned); `Experiment.check`
    has refused tuned variants that ask for different numbers."""
    return next((v.search.inner_folds for v in tuned_variants(exp)), 0)


def inner_splits(exp: Experiment, data: Dataset, divisions: Sequence[tuple[np.ndarray, np.ndarray]],
                 ordered: bool = False) -> dict[tuple[int, int], SplitData]:
    """The inner splits of every outer split, keyed (outer, inner): the experiment's
    `inner_splitter` applied to the outer split's training rows alone (with their groups, and
    in time order where the outer splits are: `ordered`), each preprocessed on its own
    training rows (as an outer split is)."""
    k = inner_folds(exp)
    if not k:
        return {}
    groups = data.group_codes
    table: dict[tuple[int, int], SplitData] = {}
    for outer, (train, _test) in enumerate(divisions):
        train = np.sort(np.asarray(train))
        if type(exp).inner_splitter is Experiment.inner_splitter:
            splitter = exp.inner_splitter(k, outer, grouped=groups is not None, ordered=ordered)
        else:
            splitter = exp.inner_splitter(k, outer)
        try:
            parts = list(split_rows(splitter, data.X.iloc[train], data.y.to_numpy()[train],
                                    None if groups is None else groups[train]))
        except Exception as exc:  # noqa: BLE001 - too few rows of a class for the inner folds, a user's splitter
            raise HarnessError(f"{exp.name}: outer split {outer}: its {len(train)} training rows cannot be cut into "
                               f"{k} inner splits: {one_line(exc)}") from None
        if len(parts) != k:
            raise HarnessError(f"{exp.name}: the inner splitter made {len(parts)} splits, not the {k} asked for")
        for inner, (tr, te) in enumerate(parts):
            tr, te = np.asarray(tr), np.asarray(te)
            if (not tr.size or not te.size or not np.issubdtype(tr.dtype, np.integer) or not np.issubdtype(te.dtype, np.integer)
                    or min(tr.min(), te.min()) < 0 or max(tr.max(), te.max()) >= len(train) or np.intersect1d(tr, te).size):
                raise HarnessError(f"{exp.name}: inner split {inner} of outer split {outer} is not a split of its "
                                   f"{len(train)} training rows (empty, out of range, or scoring rows it trains on)")
            if groups is not None and np.intersect1d(groups[train[tr]], groups[train[te]]).size:
                raise HarnessError(f"{exp.name}: inner split {inner} of outer split {outer} has groups on both "
                                   "sides; the inner splitter must split by groups")
            table[(outer, inner)] = prepare_split(exp, data, (outer, inner), train[np.asarray(tr)], train[np.asarray(te)],
                                                  ordered)
    return table


def inner_seed(exp: Experiment, name: str, outer: int, inner: int) -> int:
    """An inner job's seed: shared by every candidate (and tuned variant) on an inner split in a
    paired design, so that candidates differ by their values alone."""
    if exp.paired_seeds:
        return derive_seed(exp.seed, outer, "inner", inner)
    return derive_seed(exp.seed, outer, "inner", inner, name)


def inner_job(exp: Experiment, variant: Variant, outer: int, candidate: int, inner: int) -> Job:
    point = variant.search.candidates()[candidate]
    return Job(exp.name, variant.candidate(point), outer, inner_seed(exp, variant.name, outer, inner), role=INNER,
               inner=inner, candidate=point)


class Tuning:
    """The state of an experiment's nested cross-validation: the inner scores seen so far
    (from the store and from this run), the jobs of the next round, and the choices."""

    def __init__(self, exp: Experiment, n_outer: int) -> None:
        self.exp = exp
        self.variants = tuned_variants(exp)
        self.n_outer = n_outer
        #: (variant, outer) -> {(candidate, inner): score or None (failed)}
        self.scores: dict[tuple[str, int], dict[tuple[int, int], float | None]] = {
            (v.name, outer): {} for v in self.variants for outer in range(n_outer)}
        #: inner jobs that came back ERROR once (retried in the next round)
        self._retried: set[tuple[Any, ...]] = set()
        self._index = {v.name: {_frozen(p): i for i, p in enumerate(v.search.candidates())} for v in self.variants}

    def add(self, job: Job, status: str, score: float | None) -> None:
        """A finished (or found) inner job's outcome."""
        if job.role != INNER:
            return
        candidate = self._index[job.variant.name][_frozen(job.candidate)]
        slot = (job.variant.name, job.split, candidate, job.inner)
        if status == ERROR and slot not in self._retried:
            self._retried.add(slot)  # not trained where it ran (a worker died): the next round trains it again, once
            return
        ok = status == OK and score is not None and np.isfinite(score)
        self.scores[(job.variant.name, job.split)][(candidate, job.inner)] = float(score) if ok else None

    def next_jobs(self) -> list[Job]:
        """The inner jobs of every search's next round (none: every search is complete)."""
        jobs = []
        for variant in self.variants:
            for outer in range(self.n_outer):
                todo = next_round(variant.search, self.scores[(variant.name, outer)], self.exp.greater_is_better) or []
                jobs += [inner_job(self.exp, variant, outer, c, f) for c, f in todo]
        return jobs

    def choices(self) -> dict[tuple[str, int], Choice]:
        return {(v.name, outer): choose(v.search, self.scores[(v.name, outer)], self.exp.greater_is_better)
                for v in self.variants for outer in range(self.n_outer)}

    def refit_jobs(self, seed_of: Any) -> tuple[list[Job], dict[tuple[str, int], str]]:
        """Each tuned variant's chosen candidate on each outer split, in variant then split order;
        and, where nothing could be chosen, why ((variant, outer) -> reason: its refit job
        carries the tuned variant itself and fails without training)."""
        jobs, failures = [], {}
        for (name, outer), choice in self.choices().items():
            variant = next(v for v in self.variants if v.name == name)
            seed = seed_of(self.exp, name, outer)
            if choice.candidate is None:
                jobs.append(Job(self.exp.name, variant, outer, seed, role=REFIT))
                failures[(name, outer)] = f"nothing to refit: {choice.reason}"
            else:
                jobs.append(Job(self.exp.name, variant.candidate(choice.candidate), outer, seed, role=REFIT,
                                candidate=choice.candidate))
        return jobs, failures


def _frozen(point: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple((k, repr(v)) for k, v in (point or {}).items())
