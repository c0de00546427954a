"""Errors the user can act on: the CLI prints them as one line and exits with status 2; and
the name of the command the messages tell the user to run."""
import sys
from pathlib import Path
from typing import Any


class HarnessError(Exception):
    """Bad input or configuration, described in one line that names the problem."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what Slurm, Kubernetes, systemd and `docker stop` send), raised where the main
    thread is, so that a run stops as Ctrl-C stops it: what finished is kept, the run is marked
    interrupted, and the worker processes it started are shut down (`cli.main`)."""


class DataUnavailable(HarnessError):
    """A dataset is neither cached nor downloadable (offline): the experiment is skipped."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line: its type and the first line of its message, shortened."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def experiment_label(exp: Any) -> str:
    """How a message names a user's experiment: its name and, where Python knows it, the file
    that defines its class (`experiment 'mine' (/home/me/mine.py)`)."""
    import inspect

    try:
        file = inspect.getsourcefile(type(exp))
    except (TypeError, OSError):  # a class defined where Python keeps no file (a notebook cell, python -c)
        file = None
    where = f" ({file})" if file else ""
    return f"experiment {getattr(exp, 'name', None)!r}{where}"


def program() -> str:
    """The command to name in messages: `python -m harness` when that is how we were called,
    else `regbench` (the console command, and what a notebook's user has installed)."""
    called = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return "python -m harness" if called.name == "__main__.py" and called.parent.name == "harness" else "regbench"
