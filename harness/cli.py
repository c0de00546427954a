"""Command line: `regbench list | run | report` (installed), or `python -m harness …`."""
from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Sequence

from .engines import ENGINES
from .errors import HarnessError
from .settings import SETTINGS, Setting
from .store import DEFAULT_DB


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (`error: …`, exit status 2), like the harness's own."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def program() -> str:
    """The command to name in messages: `python -m harness` when that is how we were called,
    else `regbench` (the console command, and what a notebook's user has installed)."""
    called = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return "python -m harness" if called.name == "__main__.py" and called.parent.name == "harness" else "regbench"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=program(), description="Benchmark regularization of Keras networks by cross-validation.")
    sub = parser.add_subparsers(parser_class=_Parser, dest="command", required=True)
    sub.add_parser("list", help="list the built-in experiments, one per line")

    run = sub.add_parser("run", help="run experiments by name or by path to a .py file")
    run.add_argument("experiments", nargs="*", metavar="NAME|PATH", help="experiment names or files defining Experiment subclasses")
    run.add_argument("--suite", choices=["default"], help="run the default suite (what `make benchmark` runs)")
    run.add_argument("--full", action="store_true", help="the full version of long experiments (their full_settings); the reduced one otherwise")
    run.add_argument("--quick", action="store_true", help="every variant, but 3 folds and a few epochs: a smoke test")
    run.add_argument("--data-dir", type=Path, metavar="DIR", help="cache folder for downloaded datasets (default $HARNESS_DATA_DIR or ~/.cache/regbench)")
    run.add_argument("--engine", default="auto", metavar="NAME",
                     help="; ".join(f"{name}: {text}" for name, text in ENGINES.items()) + " (default: auto)")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="train in N worker processes on this machine (default 1: in this process)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="train on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://10.0.0.5:8786)")
    run.add_argument("--fresh", action="store_true", help="ignore stored results: train every job again")
    run.add_argument("--retry-failed", action="store_true",
                     help="train jobs again whose stored result failed (by default they count as done)")
    _store_options(run)
    _setting_options(run.add_argument_group("training settings (instead of each experiment's own)"))
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--no-lines", action="store_true",
                     help="no line per split (Heaton's); each experiment's summary line and the report path remain")

    rep = sub.add_parser("report", help="rewrite every report from the results store")
    _store_options(rep)
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


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    parser.add_argument("--reports-dir", type=Path, default=Path("reports"), help="where reports are written (default reports/)")


def _list() -> int:
    from .registry import builtin

    for name, cls in builtin().items():
        suite = " [default suite]" if cls.in_default_suite else ""
        print(f"{name}  {cls.description}{suite}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from .registry import default_suite, resolve

    if not args.experiments and not args.suite:
        raise HarnessError("name at least one experiment (or a .py file), or pass --suite default")
    classes = (default_suite() if args.suite else []) + resolve(args.experiments)
    experiments = [
        cls().configured(quick=args.quick, full=args.full,
                         **{s.name: getattr(args, s.name) for s in SETTINGS if hasattr(args, s.name)})
        for cls in dict.fromkeys(classes)
    ]
    from .runner import run_experiments

    run_experiments(
        experiments, db=args.db, reports_dir=args.reports_dir, data_dir=args.data_dir,
        engine=args.engine, progress=False if args.no_progress else None, lines=not args.no_lines, workers=args.workers,
        scheduler=args.scheduler, fresh=args.fresh, retry_failed=args.retry_failed,
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from . import report
    from .store import Store

    if not args.db.exists():
        raise HarnessError(f"no results database at {args.db}; run an experiment first")
    with Store(args.db) as store:
        page = report.write_all(store, args.reports_dir)
    print(f"report: {page.resolve()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "run":
            return _run(args)
        return _report(args)
    except HarnessError as exc:
        message = str(exc).replace("\r", "\\r").replace("\n", "\\n")  # one line, whatever a name holds
        print(f"error: {message}", file=sys.stderr)
        return 2
    except sqlite3.OperationalError as exc:  # locked by another writer too long, a full disk, a read-only file
        print(f"error: the results store {getattr(args, 'db', '')}: {exc}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:  # a page of the store went bad after it opened
        print(f"error: the results store {getattr(args, 'db', '')} is damaged ({exc}); finished jobs stored before the damage "
              "may be recovered with sqlite3's .recover", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished jobs are in the store; the same command resumes the run", file=sys.stderr)
        return 130


def console() -> None:
    """The `regbench` console command (pyproject.toml's entry point)."""
    sys.exit(main())
