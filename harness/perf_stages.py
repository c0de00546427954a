"""`python -m harness.perf_stages [NAME ...]`: where the stacked engine's time goes, stage by stage.

Runs the named built-in experiments (default: the default suite) in this one process on a fresh
store and reports folder under a temporary one, and splits the stacked engine's time into its
parts, summed over every stacked model ("stage": a chunk's first model and each compacted one):

- `build`: building the stacked model, its members' initial weights, data and loop;
- `compile`: tracing the epoch loop and compiling it (XLA) or optimizing its graph, timed as a
  call of zero epochs before the first real call (it trains nothing);
- `train`: the calls that train, epochs and steps;
- `score`: the best weights restored and each member's outputs from one inference pass;

and, before anything trains, the run's `prepare` (load, check, split, preprocess every split,
the inner splits of tuned variants included) and `plan` (every job's trainer and key).

It also counts the stages (first and compacted, under XLA or not) and the stages whose shapes
repeat an earlier one's (same architecture, members, rows, validation rows, steps, batch
width and epochs per call: what a compiled loop reused across stacked models would need).
The wall time includes planning, storing and the reports, which run as in `regbench run`.
"""
from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Sequence


class StageClock:
    """Times the stacked engine's parts by wrapping `Stage` and `EpochLoop` for as long as it is
    installed (`install`, `uninstall`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        #: the run's preparation (load, check, split, preprocess) and planning (keys, templates), before training
        self.planning: dict[str, float] = defaultdict(float)
        self.counts: Counter = Counter()
        self.shapes: list[tuple[Any, ...]] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, owner: Any, name: str, wrapper: Any) -> None:
        original = getattr(owner, name)
        self._saved.append((owner, name, original))
        setattr(owner, name, wrapper(original))

    def _timed(self, into: dict[str, float], part: str) -> Any:
        """A wrapper adding each call's seconds to `into[part]`."""
        def wrapper(original):
            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    into[part] += time.perf_counter() - start
            return timed
        return wrapper

    def install(self) -> "StageClock":
        from .engines.stacked import loop, training
        from .runner import orchestrate

        clock = self

        def counted(original):
            def build(stage, *args, **kwargs):
                original(stage, *args, **kwargs)
                clock.counts["stages"] += 1
                clock.counts["XLA" if stage.jit_compile else "executor"] += 1
            return build

        def compacting(original):
            def compacted(stage, *args, **kwargs):
                clock.counts["compacted"] += 1
                return original(stage, *args, **kwargs)
            return compacted

        def timed_call(original):
            def call(epoch_loop, indices, row_mask, epochs):
                if not getattr(epoch_loop, "_timed", False):
                    epoch_loop._timed = True
                    start = time.perf_counter()
                    original(epoch_loop, indices, row_mask, 0)
                    clock.seconds["compile"] += time.perf_counter() - start
                    clock.shapes.append(clock.shape(epoch_loop))
                start = time.perf_counter()
                result = original(epoch_loop, indices, row_mask, epochs)
                clock.seconds["train"] += time.perf_counter() - start
                return result
            return call

        self._wrap(orchestrate, "prepare", self._timed(self.planning, "prepare"))
        self._wrap(orchestrate, "plan", self._timed(self.planning, "plan"))
        self._wrap(training.Stage, "__init__", counted)
        self._wrap(training.Stage, "__init__", self._timed(self.seconds, "build"))
        self._wrap(training.Stage, "compacted", compacting)
        self._wrap(loop.EpochLoop, "__call__", timed_call)
        self._wrap(training.Stage, "outcomes", self._timed(self.seconds, "score"))
        return self

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    @staticmethod
    def shape(epoch_loop: Any) -> tuple[Any, ...]:
        model = epoch_loop.model
        validation = None if epoch_loop.validation is None else tuple(epoch_loop.validation[0].shape)
        return (tuple(type(layer).__name__ for layer in model.stack_layers),
                tuple(tuple(v.shape) for v in epoch_loop.variables), tuple(model.x_train.shape), validation,
                epoch_loop.steps, epoch_loop.batch, epoch_loop.epochs_per_call)

    def repeated(self) -> int:
        """Stages whose shapes an earlier stage had."""
        seen: set[tuple[Any, ...]] = set()
        repeats = 0
        for shape in self.shapes:
            repeats += shape in seen
            seen.add(shape)
        return repeats


def main(argv: Sequence[str] | None = None) -> StageClock:
    parser = argparse.ArgumentParser(prog="python -m harness.perf_stages", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="built-in experiments (default: the default suite)")
    args = parser.parse_args(argv)
    from .registry import resolve, suite
    from .runner import run_experiments

    classes = resolve(args.names) if args.names else suite("default")
    experiments = [cls() for cls in classes]
    clock = StageClock().install()
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as root:
            outcomes = run_experiments(experiments, db=Path(root) / "results.sqlite", reports_dir=Path(root) / "reports",
                            stream=io.StringIO(), progress=False, lines=False)
    finally:
        clock.uninstall()
    wall = time.perf_counter() - start
    failed = sum(outcome.failed for outcome in outcomes)
    if failed:
        raise SystemExit(f"{failed} job(s) failed: the timings would not be the engine's")
    engine = sum(clock.seconds.values())
    c = clock.counts
    print(f"{len(experiments)} experiment(s) in one process: {wall:.1f} s end to end; the stacked engine {engine:.1f} s "
          f"over {c['stages']} stacked models ({c['stages'] - c['compacted']} first, {c['compacted']} compacted; "
          f"{c['XLA']} under XLA, {c['executor']} in the executor)")
    for part in ("build", "compile", "train", "score"):
        seconds = clock.seconds[part]
        print(f"  {part:8s} {seconds:7.2f} s  {100 * seconds / engine if engine else 0:5.1f}%  "
              f"{seconds / max(c['stages'], 1):6.2f} s per stacked model")
    print(f"  before any training: prepare {clock.planning['prepare']:.1f} s (load, check, split, preprocess), "
          f"plan {clock.planning['plan']:.1f} s (keys, Keras models, the first plan loads TensorFlow)")
    print(f"  stacked models whose shapes an earlier one had (a compiled loop could be reused): "
          f"{clock.repeated()} of {len(clock.shapes)}")
    return clock


if __name__ == "__main__":
    main()
