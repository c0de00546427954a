"""What a run prints while it trains: Heaton's line per finished split under a header per
(experiment, variant), each experiment's summary line, and a tqdm bar over the jobs to train."""
from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

import numpy as np
from tqdm.auto import tqdm

from ..core import ERROR, INNER, OK, REFIT, SplitRecord
from ..report.formatting import hms
from ..stats import pstdev

#: places in the order of progress lines that are not jobs (job keys are hex digests)
_NOTES, _SUMMARY = "notes:", "summary:"


def refit_slot(variant: str, split: int) -> str:
    """A tuned variant's place in the order of lines: its refit's key is known only once chosen."""
    return f"refit:{variant}:{split}"


class Progress:
    """Heaton-style lines per finished split, under a header per (experiment, variant), beside a
    tqdm bar over the jobs to train. Lines come out in plan order (experiments in turn, each
    one's jobs in order, then its summary line) whatever order the jobs finish in, so a run on
    many workers prints what a run in one process prints. Jobs found done in the store count
    in the running means without a line of their own. With `lines` False the per-split lines
    and their headers are left out (notes, summaries and the bar remain)."""

    def __init__(self, total: int, stream: TextIO, show_bar: bool, lines: bool = True) -> None:
        self.stream = stream
        self.lines = lines
        self.bar = tqdm(total=total, unit="fit", disable=not show_bar, file=sys.stderr, dynamic_ncols=True)
        self.current: tuple[str, str] | None = None
        self.history: dict[tuple[str, str], tuple[list[float], list[int]]] = {}
        self._order: list[tuple[str, str]] = []
        self._next = 0
        self._ready: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()  # summaries come from the report thread

    def write(self, text: str) -> None:
        tqdm.write(text, file=self.stream)
        self.stream.flush()

    def expect(self, item: Any) -> None:
        """An experiment's jobs in report order (a tuned variant's by the refits to come), then
        its summary; jobs found done are accounted."""
        name = item.exp.name
        by_variant: dict[str, list[str]] = {}
        for job in item.planned:
            by_variant.setdefault(job.name, []).append(job.key)
        slots = []
        for variant in item.exp.variants:
            if variant.search is not None:
                slots += [refit_slot(variant.name, split) for split in range(len(item.splits))]
            else:
                slots += by_variant.pop(variant.name, [])
        slots += [key for keys in by_variant.values() for key in keys]  # the reference models
        self._order += [(name, _NOTES)] + [(name, slot) for slot in slots] + [(name, _SUMMARY)]
        # why some variants fall back to one fit per split, and how the rest are trained
        self._ready[(name, _NOTES)] = "\n".join(f"{name}: {note}" for note in item.notes) or None
        self._ready.update({(name, key): ("stored", *found) for key, found in item.found.items()})
        with self._lock:
            self._flush()

    def found(self, item: Any, jobs: Any) -> None:
        """Refits found done in the store (known once the inner CV has chosen)."""
        with self._lock:
            for job in jobs:
                self._ready[(item.exp.name, refit_slot(job.name, job.split))] = ("stored", *item.found[job.key])
            self._flush()

    def more(self, jobs: int) -> None:
        """Jobs added to the run (a wave planned once the one before it was done)."""
        with self._lock:
            self.bar.total = (self.bar.total or 0) + jobs
            self.bar.refresh()

    def note(self, experiment: str, text: str) -> None:
        """A line printed at once (what a tuned variant's inner CV chose)."""
        with self._lock:
            self.write(text)

    def record(self, record: SplitRecord) -> None:
        with self._lock:
            self.bar.update(1)
            if record.role == INNER:  # the inner CV's fits move the bar; they print no line
                return
            slot = refit_slot(record.variant, record.split) if record.role == REFIT else record.job_key
            self._ready[(record.experiment, slot)] = record
            self._flush()

    def summary(self, experiment: str, text: str) -> None:
        """The line that closes an experiment, printed after its jobs' lines."""
        with self._lock:
            self._ready[(experiment, _SUMMARY)] = text
            self._flush()

    def _flush(self) -> None:
        while self._next < len(self._order) and self._order[self._next] in self._ready:
            experiment, _ = self._order[self._next]
            entry = self._ready.pop(self._order[self._next])
            self._next += 1
            if entry is None:
                continue
            if isinstance(entry, str):
                self.write(entry)
            elif isinstance(entry, tuple):  # found done: (stored, variant, split, status, score, epochs)
                _, variant, _, status, score, epochs = entry
                if status == OK:
                    scores, all_epochs = self.history.setdefault((experiment, variant), ([], []))
                    scores.append(float(score))
                    all_epochs.append(int(epochs))
            else:
                self._line(entry)

    def _line(self, record: SplitRecord) -> None:
        key = (record.experiment, record.variant)
        if not self.lines:
            return
        if key != self.current:
            self.write(f"\n== {record.experiment} · variant: {record.variant} ==")
            self.current = key
        scores, epochs = self.history.setdefault(key, ([], []))
        if record.ok:
            scores.append(float(record.score))
            epochs.append(int(record.epochs))
            self.write(
                f"#{record.split + 1}: score={record.score:.6f}, mean score={np.mean(scores):.6f}, "
                f"stdev={pstdev(scores):.6f}, epochs={record.epochs}, mean epochs={int(np.mean(epochs))}, "
                f"time={hms(record.seconds)}"
            )
        elif record.status == ERROR:
            self.write(f"#{record.split + 1}: NOT TRAINED: {record.reason} (the next run tries it again)")
        else:
            self.write(f"#{record.split + 1}: FAILED after {record.epochs} epochs: {record.reason}")

    def close(self) -> None:
        self.bar.close()
