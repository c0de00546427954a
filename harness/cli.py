"""Command line: `regbench list | run | report` (installed), or `python -m harness …`."""
from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Iterator, Sequence

from ._quiet import VERBOSE_ENV
from .errors import HarnessError, Terminated, program
from .options import RunOptions
from .settings import SETTINGS, Setting
from .store import DEFAULT_DB


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (`error: …`, exit status 2), like the harness's own."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=program(), description="Benchmark regularization of Keras networks by cross-validation.")
    sub = parser.add_subparsers(parser_class=_Parser, dest="command", required=True)
    sub.add_parser("list", help="list the built-in experiments, one per line")

    run = sub.add_parser("run", help="run experiments by name or by path to a .py file, or the standard "
                         "comparison on a CSV or Parquet file")
    run.add_argument("experiments", nargs="*", metavar="NAME|PATH", help="experiment names, files defining Experiment "
                     "subclasses, or data files (.csv, .tsv, .parquet) to run the standard variants on")
    table = run.add_argument_group("a data file (regbench run data.csv --target COLUMN)")
    table.add_argument("--target", metavar="COLUMN", help="the column to predict")
    table.add_argument("--task", dest="table_task", choices=("classification", "regression"),
                       help="what the target is (default: inferred from its values, and said)")
    table.add_argument("--groups", metavar="COLUMN", help="a column whose rows belong together (a patient, a subject): "
                       "the splits keep each group whole")
    table.add_argument("--sample-weight", metavar="COLUMN", help="a column of row weights for the training loss")
    run.add_argument("--suite", metavar="NAME", help="run a suite: default (what `make benchmark` runs) or large "
                     "(42 data sets; see README)")
    run.add_argument("--verbose", action="store_true", help="show TensorFlow's own start-up lines (CUDA, oneDNN, "
                     "absl), which are kept off the console otherwise; so does REGBENCH_VERBOSE=1")
    RunOptions.add_arguments(run)
    _setting_options(run.add_argument_group("training settings (instead of each experiment's own)"))

    rep = sub.add_parser("report", help="rewrite every report from the results store")
    RunOptions.add_arguments(rep, store_only=True)
    runs = sub.add_parser("runs", help="list the runs in the results store: finished, interrupted, running "
                          "(its process alive, beating) or died (its process gone: running it again resumes it)")
    runs.add_argument("--db", type=Path, default=DEFAULT_DB, metavar="PATH",
                      help=f"the results store (default: {DEFAULT_DB})")
    return parser


def _setting_options(group: argparse._ArgumentGroup) -> None:
    """An option per declared training setting (`harness.settings.SETTINGS`), e.g. --batch-size."""
    for setting in SETTINGS:
        if setting.parse is not None:
            group.add_argument(setting.option, dest=setting.name, type=_reader(setting), metavar=setting.metavar,
                               default=argparse.SUPPRESS,
                               help=setting.help.replace("%", "%%"))  # argparse formats help with %


def _reader(setting: Setting):
    def read(text: str):
        try:
            return setting.parse(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"cannot read {text!r} as {setting.rule}") from None

    read.__name__ = setting.name
    return read


def _list() -> int:
    from .registry import builtin, suites

    declared = suites()
    for name, cls in builtin().items():
        member = [s for s, names in declared.items() if name in names] or (["default"] if cls.in_default_suite else [])
        suite = f" [{', '.join(member)} suite{'s' if len(member) > 1 else ''}]" if member else ""
        print(f"{name}  {cls.description}{suite}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from .registry import resolve, suite

    from .tables import is_table, table_experiment

    if args.verbose:  # before TensorFlow loads, here and in every worker process
        os.environ[VERBOSE_ENV] = "1"
    if not args.experiments and not args.suite:
        raise HarnessError("name at least one experiment (or a .py file, or a data file), or pass --suite default")
    tables = [spec for spec in args.experiments if is_table(spec)]
    given = [flag for flag, value in (("--target", args.target), ("--task", args.table_task), ("--groups", args.groups),
                                      ("--sample-weight", args.sample_weight)) if value]
    if given and not tables:
        raise HarnessError(f"{', '.join(given)} apply to a data file (regbench run data.csv --target COLUMN); none was given")
    made = [table_experiment(spec, args.target, args.table_task, args.groups, args.sample_weight) for spec in tables]
    for cls in made:
        if cls.inferred:
            print(cls.inferred)
    classes = (suite(args.suite) if args.suite else []) + resolve([s for s in args.experiments if not is_table(s)]) + made
    options = RunOptions.from_arguments(args, {s.name: getattr(args, s.name) for s in SETTINGS if hasattr(args, s.name)})
    from .runner import run_experiments

    run_experiments([cls() for cls in dict.fromkeys(classes)], options)
    return 0


def _report(args: argparse.Namespace) -> int:
    from . import report
    from .registry import known_to_reports
    from .store import Store

    options = RunOptions.from_arguments(args)
    if not options.db.exists():
        raise HarnessError(f"no results database at {options.db}; run an experiment first")
    definitions, suite = known_to_reports()
    report.atomic.check_folder(options.reports_dir)
    with Store(options.db) as store:
        page = report.write_all(store, options.reports_dir, definitions, suite)
    print(f"report: {page.resolve()}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    import math
    import time

    from .store import Store

    if not args.db.exists():
        raise HarnessError(f"no results database at {args.db}; run an experiment first")
    with Store(args.db) as store:
        progress = store.run_progress()
    now = time.time()
    lines = [("run", "experiment", "started", "jobs stored", "status")]
    for row in progress.itertuples():
        status = row.status
        if status == "running":
            status += f" (pid {row.pid} on {row.host}, last heartbeat {now - row.heartbeat:.0f} s ago)"
        elif status == "died":
            last = "never recorded" if math.isnan(row.heartbeat) else \
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.heartbeat))
            status += f" (last heartbeat {last}; running it again resumes it)"
        lines.append((row.run_id, row.experiment, time.strftime("%Y-%m-%d %H:%M", time.localtime(row.started_at)),
                      f"{row.stored} of {row.planned}", status))
    widths = [max(len(str(line[i])) for line in lines) for i in range(4)]
    for line in lines:
        print("  ".join(str(value).ljust(width) for value, width in zip(line, widths)) + "  " + line[4])
    return 0


def _on_signal(signum: int, frame: object) -> None:
    """The first SIGINT or SIGTERM stops the run where it is (KeyboardInterrupt, or Terminated),
    so that what finished is kept and the run's workers are shut down; a second one, while that
    happens, stops the process at once, with the worker processes it started."""
    signal.signal(signal.SIGINT, _at_once)
    signal.signal(signal.SIGTERM, _at_once)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _at_once(signum: int, frame: object) -> None:
    import multiprocessing

    for child in multiprocessing.active_children():
        child.kill()
    os._exit(128 + signum)


@contextlib.contextmanager
def _signals_handled() -> Iterator[None]:
    """SIGINT and SIGTERM as `_on_signal` says, while the command runs (the handlers before it
    are put back after it); only in the main thread, the only one where Python handles signals."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in before:
        signal.signal(signum, _on_signal)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with _signals_handled():
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "list":
            return _list()
        if args.command == "run":
            return _run(args)
        if args.command == "runs":
            return _runs(args)
        return _report(args)
    except HarnessError as exc:
        message = str(exc).replace("\r", "\\r").replace("\n", "\\n")  # one line, whatever a name holds
        print(f"error: {message}", file=sys.stderr)
        return 2
    except sqlite3.OperationalError as exc:  # locked by another writer too long, a full disk, a read-only file
        print(f"error: the results store {getattr(args, 'db', DEFAULT_DB)}: {exc}{_resumes(args, exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a report that cannot be written: a full disk, a file system gone read-only
        if exc.errno not in _CANNOT_WRITE:
            raise
        print(f"error: cannot write {exc.filename or 'a report'}: {exc.strerror}{_resumes(args, exc)}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:  # a page of the store went bad after it opened
        print(f"error: the results store {getattr(args, 'db', DEFAULT_DB)} is damaged ({exc}); finished jobs stored before the damage "
              "may be recovered with sqlite3's .recover", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"{what}: finished jobs are in the store; the same command resumes the run", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


#: what an OSError says when a file cannot be written: no space, over quota, a read-only file
#: system, no permission, an I/O error
_CANNOT_WRITE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def _resumes(args: argparse.Namespace, exc: Exception) -> str:
    """What a run stopped by a store or report it could not write keeps, and how it goes on."""
    if args.command != "run":
        return ""
    space = " free some space, and" if "full" in str(exc) or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) \
        else ""
    return f": the jobs stored before are kept;{space} the same command resumes the run"


def console() -> None:
    """The `regbench` console command (pyproject.toml's entry point)."""
    sys.exit(main())
