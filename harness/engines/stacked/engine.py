"""Planning the stacked engine's work: which jobs can stack (a template per variant and
shape, read once), which stack together (same architecture, optimizer, loss, steps per epoch),
how a group is cut into stacked models of bounded memory, and the trainer that runs them."""
from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Sequence

import keras
import numpy as np

from ...core import INNER, NETWORK, Emit, Variant
from ...experiment import Experiment
from ...jobs import Job
from ...models import built
from ...splits import SplitData
from ..base import Splits, finish
from .reading import MemberSpec, Unsupported, describe_member
from .training import MAX_EPOCH_BYTES, Member, batch_width, train_members

#: members per stacked model: bounds memory (with MAX_EPOCH_BYTES)
MAX_MEMBERS = 256

#: a variant's Keras model, its stackable spec (None when it cannot stack) and why not
Template = tuple[keras.Model, "MemberSpec | None", "str | None"]


@dataclass
class Group:
    """Members that can share one stacked model."""

    key: tuple[Any, ...]
    jobs: list[Job] = field(default_factory=list)


class StackedEngine:
    """Trains the members of one architecture as stacked models; `skip` says why a job cannot
    stack (`--engine auto` then gives it to another trainer, `--engine stacked` refuses).

    Nothing here depends on which experiment ran before: templates are cached per experiment
    object, and what cannot be stacked is reported for the experiment it belongs to.
    """

    name = "stacked"
    kind = NETWORK
    #: a part of a stacked model is a stacked model of the same members, each training the same
    splittable = True

    def __init__(self, max_members: int = MAX_MEMBERS, jit_compile: bool | None = None) -> None:
        self.max_members = max_members
        self.jit_compile = jit_compile
        self._templates: "weakref.WeakKeyDictionary[Experiment, dict[tuple[Any, ...], Template]]" = (
            weakref.WeakKeyDictionary())

    @property
    def numerics(self) -> str:
        """The arithmetic: XLA's kernels round some functions differently from TensorFlow's."""
        forced = {None: "", True: "+xla", False: "+graph"}[self.jit_compile]
        return f"stacked/3{forced}"

    def template(self, exp: Experiment, variant: Variant, fd: SplitData) -> tuple[keras.Model, MemberSpec | None]:
        """The variant's Keras model for this split's shapes, and its stackable spec (None if it
        cannot be stacked: `skip` says why). Built once per experiment, variant and shape."""
        model, spec, _ = self._template(exp, variant, fd)
        return model, spec

    def skip(self, exp: Experiment, splits: Splits, job: Job) -> str | None:
        """Why the job's model cannot be stacked, or None when it can."""
        if job.variant is None:
            return "it is a reference model, not a network"
        return self._template(exp, job.variant, splits[job.data])[2]

    def _template(self, exp: Experiment, variant: Variant, fd: SplitData) -> Template:
        cache = self._templates.setdefault(exp, {})
        key = (variant.config_hash(), fd.n_inputs, fd.n_outputs)
        if key not in cache:
            model = built(exp, variant, fd.n_inputs, fd.n_outputs)
            try:
                cache[key] = (model, describe_member(exp, variant, fd, model), None)
            except Unsupported as exc:
                cache[key] = (model, None, str(exc))
        return cache[key]

    # ------------------------------------------------------------------ planning
    def groups(self, exp: Experiment, splits: Splits, jobs: Sequence[Job]) -> list[Group]:
        """The jobs grouped by what members of one stacked model must share (all must stack)."""
        groups: dict[tuple[Any, ...], Group] = {}
        for job in jobs:
            fd = splits[job.data]
            _, spec = self.template(exp, job.variant, fd)
            if spec is None:
                raise ValueError(f"variant {job.variant.name!r} cannot be stacked: {self.skip(exp, splits, job)}")
            key = (spec.architecture, spec.optimizer_key, spec.loss_kind, fd.steps_per_epoch(exp.batch_size),
                   fd.n_outputs, fd.x_val is not None, fd.w_fit is not None)
            groups.setdefault(key, Group(key)).jobs.append(job)
        return list(groups.values())

    def chunks(self, exp: Experiment, splits: Splits, group: Group) -> list[list[Job]]:
        """A group split so that a stacked model's epoch arrays stay within MAX_EPOCH_BYTES, into
        as few chunks as that takes, of sizes that differ by one at most (360 members: 180 + 180,
        not 256 + 104)."""
        fd = splits[group.jobs[0].data]
        steps = fd.steps_per_epoch(exp.batch_size)
        per_member = steps * batch_width(exp, [splits[job.data] for job in group.jobs]) * (fd.n_inputs + 2) * 4
        size = max(1, min(self.max_members, MAX_EPOCH_BYTES // max(per_member, 1)))
        count = math.ceil(len(group.jobs) / size)
        return [list(chunk) for chunk in np.array_split(np.asarray(group.jobs, dtype=object), count)]

    def tasks(self, exp: Experiment, splits: Splits, jobs: Sequence[Job]) -> list[list[Job]]:
        """The jobs as stacked models, one task each (any part of one is a stacked model too: a
        member trains the same whichever members share its model)."""
        return [chunk for group in self.groups(exp, splits, jobs) for chunk in self.chunks(exp, splits, group)]

    def notes(self, exp: Experiment, splits: Splits, jobs: Sequence[Job]) -> list[str]:
        """What the report says about how this experiment's jobs are trained."""
        if not jobs:
            return []
        total = sum(1 for job in jobs if job.variant is not None and job.role != INNER)
        inner = sum(1 for job in jobs if job.role == INNER)
        tuned = (f" (and the refits of tuned variants once their inner CV has chosen), {inner} members of that inner "
                 "cross-validation (candidate × inner split × outer split)" if inner else "")
        return [f"Engine: stacked. {total} members (variant × split){tuned} trained in stacked Keras models of at most "
                f"{self.max_members} members that share an architecture; each member was scored from the stacked "
                "model's inference pass with its own weights (its own Keras model's outputs to float32 rounding), "
                "then written into the experiment's own Keras model. A member's time is its stacked model's time "
                "divided by its members."]

    # ------------------------------------------------------------------ training
    def run(self, exp: Experiment, dataset: str, splits: Splits, jobs: Sequence[Job], emit: Emit) -> None:
        """Train the jobs in stacked models; records are emitted in job order within each."""
        position = {id(job): i for i, job in enumerate(jobs)}
        for group in self.groups(exp, splits, jobs):
            for chunk in self.chunks(exp, splits, group):
                for job, record in sorted(self.train_chunk(exp, dataset, splits, chunk), key=lambda jr: position[id(jr[0])]):
                    emit(record)

    def train_chunk(self, exp: Experiment, dataset: str, splits: Splits, jobs: Sequence[Job]):
        """Train one stacked model; return (job, SplitRecord) for each of its members."""
        start = time.perf_counter()
        members = []
        for job in jobs:
            template, spec = self.template(exp, job.variant, splits[job.data])
            members.append(Member(job, splits[job.data], spec, template))
        try:
            results = train_members(exp, members, self.jit_compile)
        except Exception as exc:  # a chunk that cannot train fails its members; the run goes on
            reason = f"{type(exc).__name__}: {exc}"
            return [(m.job, finish(exp, dataset, m.job, m.split, None, self.name, error=reason)) for m in members]
        seconds = (time.perf_counter() - start) / len(members)
        return [
            (m.job, finish(exp, dataset, m.job, m.split, result.into(m.template, seconds), self.name))
            for m, result in zip(members, results)
        ]
