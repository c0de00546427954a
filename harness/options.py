"""How to run: one options object for the command line (`regbench run --fresh …`), the notebook
API (`harness.run(..., fresh=True)`) and `run_experiments(..., fresh=True)`.

Each field is declared once, with what the command line needs to offer it (`Option`): the
command line's parser is built from these declarations, and `harness.run` and
`run_experiments` take the same names as keywords. The training settings (`--epochs`,
`epochs=`) are declared in `harness.settings.SETTINGS` and travel here in `settings`.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

from .errors import HarnessError
from .settings import BY_NAME
from .store import DEFAULT_DB

#: the default report folder, beside the store (both relative to the working folder)
DEFAULT_REPORTS = Path("reports")

#: where --mlflow logs when it names no tracking URI
DEFAULT_MLFLOW = "./mlruns"


@dataclass(frozen=True)
class Option:
    """How the command line offers a field: its flag, help and metavar; `negated`: a flag that
    sets the field False (`--no-lines` for `lines`); `store`: the `report` command offers it
    too (where results and reports live)."""

    flag: str
    help: str | Callable[[], str]
    metavar: str | None = None
    negated: bool = False
    store: bool = False
    #: the value of the flag given without one (`--mlflow` alone); None: the flag needs a value
    const: str | None = None


def _option(default: Any, flag: str, help: str | Callable[[], str], metavar: str | None = None, negated: bool = False,
            store: bool = False, const: str | None = None) -> Any:
    return field(default=default, metadata={"option": Option(flag, help, metavar, negated, store, const)})


@dataclass(frozen=True)
class RunOptions:
    """What a run does besides its experiments' own definitions (see the module docstring)."""

    quick: bool = _option(False, "--quick", "every variant, but 3 folds and a few epochs: a smoke test")
    full: bool = _option(False, "--full", "the full version of long experiments (their full_settings); the reduced "
                                          "one otherwise")
    data_dir: Path | None = _option(None, "--data-dir", "cache folder for downloaded datasets (default "
                                                        "$HARNESS_DATA_DIR or ~/.cache/regbench)", "DIR")
    engine: str = _option("auto", "--engine", lambda: _engines_help(), "NAME")
    workers: int = _option(1, "--workers", "train in N worker processes on this machine (default 1: in this "
                                           "process)", "N")
    scheduler: str | None = _option(None, "--scheduler", "train on the Dask cluster whose scheduler is at ADDRESS "
                                                         "(e.g. tcp://10.0.0.5:8786)", "ADDRESS")
    fresh: bool = _option(False, "--fresh", "ignore stored results: train every job again")
    retry_failed: bool = _option(False, "--retry-failed", "train jobs again whose stored result failed (by default "
                                                          "they count as done)")
    db: Path = _option(DEFAULT_DB, "--db", f"results database (default {DEFAULT_DB})", "PATH", store=True)
    reports_dir: Path = _option(DEFAULT_REPORTS, "--reports-dir", "where reports are written (default reports/)",
                                "DIR", store=True)
    progress: bool | None = _option(None, "--no-progress", "no progress bar (default: one in a terminal or a "
                                                           "Jupyter kernel)", negated=True)
    lines: bool = _option(True, "--no-lines", "no line per split (Heaton's); each experiment's summary line and "
                                              "the report path remain", negated=True)
    mlflow: str | None = _option(None, "--mlflow", f"log each experiment's run, a nested run per variant, to MLflow "
                                                   f"at URI (default {DEFAULT_MLFLOW}); needs regbench[mlflow]", "URI",
                                 const=DEFAULT_MLFLOW)
    #: training settings by name, instead of each experiment's own (`epochs=20`, `--epochs 20`)
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: a `dask.distributed.Client` to train on (Python only)
    client: Any = None
    #: where progress lines go (Python only; default standard output)
    stream: TextIO | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise HarnessError(f"--workers must be at least 1, got {self.workers}")
        if self.workers > 1 and (self.client is not None or self.scheduler):
            raise HarnessError("--workers and --scheduler exclude each other: the Dask cluster's workers train")
        unknown = sorted(set(self.settings) - set(BY_NAME))
        if unknown:
            raise HarnessError(f"unknown setting(s) {unknown}; the settings are {sorted(BY_NAME)}")

    @classmethod
    def from_keywords(cls, **keywords: Any) -> "RunOptions":
        """Options from keywords as `harness.run` takes them: the options by name, and any
        training setting by name (`epochs=20`); anything else is refused in one line."""
        names = {f.name for f in dataclasses.fields(cls)} - {"settings"}
        unknown = sorted(k for k in keywords if k not in names and k not in BY_NAME)
        if unknown:
            raise HarnessError(f"unknown option(s) {unknown}: the options are {sorted(names)}, and the training "
                               f"settings {sorted(BY_NAME)}")
        settings = {k: v for k, v in keywords.items() if k not in names}
        return cls(**{k: v for k, v in keywords.items() if k in names}, settings=settings)

    def configure(self, exp: Any) -> Any:
        """The experiment with `quick`, `full` and the settings applied (`Experiment.configured`)."""
        if not (self.quick or self.full or self.settings):
            return exp
        return exp.configured(quick=self.quick, full=self.full, **self.settings)

    # ------------------------------------------------------------------ the command line
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, store_only: bool = False) -> None:
        """Add every option the command line offers (`store_only`: those of the `report` command)."""
        for f in dataclasses.fields(cls):
            option: Option | None = f.metadata.get("option")
            if option is None or (store_only and not option.store):
                continue
            text = (option.help() if callable(option.help) else option.help).replace("%", "%%")
            if isinstance(f.default, bool) or option.negated:
                parser.add_argument(option.flag, dest=f.name, action="store_false" if option.negated else "store_true",
                                    default=argparse.SUPPRESS, help=text)
            else:
                kind = Path if "Path" in str(f.type) else int if f.type in ("int", int) else str
                optional = {"nargs": "?", "const": option.const} if option.const is not None else {}
                parser.add_argument(option.flag, dest=f.name, type=kind, metavar=option.metavar,
                                    default=argparse.SUPPRESS, help=text, **optional)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace, settings: Mapping[str, Any] | None = None) -> "RunOptions":
        """The options the command line was given (the others keep their defaults)."""
        given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
        return cls(**given, settings=dict(settings or {}))


def _engines_help() -> str:
    from .engines import engines

    return "; ".join(f"{name}: {text}" for name, text in engines().items()) + " (default: auto)"
