"""Finding experiments: the built-in ones under experiments/, and user files given by path."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

from .errors import HarnessError, one_line, program
from .experiment import Experiment


def experiment_classes(module: ModuleType) -> list[type[Experiment]]:
    """Concrete Experiment subclasses defined in `module` (not imported into it), in source order.

    A class that sets `abstract = True` in its own body is a base for others and is skipped.
    """
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Experiment)
        and obj is not Experiment
        and obj.__module__ == module.__name__
        and not obj.__dict__.get("abstract", False)
    ]
    return sorted(found, key=_source_line)


def _source_line(cls: type) -> float:
    """Where a class is defined in its file; a class made by a function (a generated grid's)
    has no source of its own and keeps its place after the others (the sort is stable)."""
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return float("inf")


def builtin() -> dict[str, type[Experiment]]:
    """name -> class for every experiment in the package `harness.builtin` (the repository's
    experiments/ folder; see harness._builtin)."""
    package = importlib.import_module("harness.builtin")
    registry: dict[str, type[Experiment]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"harness.builtin.{info.name}")
        for cls in experiment_classes(module):
            if cls.name in registry:
                raise HarnessError(f"two experiments are named {cls.name!r}: {registry[cls.name].__name__} and {cls.__name__}")
            registry[cls.name] = cls
    return registry


def default_suite() -> list[type[Experiment]]:
    """What `--suite default` (`make benchmark`) runs: every built-in experiment marked
    `in_default_suite` (the default suite's data sets and the literature experiments)."""
    return [cls for cls in builtin().values() if cls.in_default_suite]


def suites() -> dict[str, tuple[str, ...]]:
    """The declared suites (experiments/suites.py's SUITES): name -> the experiments whose data
    sets the suite compares across. Each name is checked against the built-in experiments."""
    try:
        declared = importlib.import_module("harness.builtin.suites").SUITES
    except ModuleNotFoundError:
        return {}
    known = builtin()
    found: dict[str, tuple[str, ...]] = {}
    for name, members in declared.items():
        unknown = [m for m in members if m not in known]
        if unknown or len(set(members)) != len(members):
            raise HarnessError(f"suite {name!r} names unknown or repeated experiments: {unknown or sorted(members)}")
        found[name] = tuple(members)
    return found


def suite(name: str) -> list[type[Experiment]]:
    """The experiments `--suite NAME` runs: the default suite's (see `default_suite`), or a
    declared suite's members in their order."""
    declared = suites()
    if name not in declared:
        raise HarnessError(f"unknown suite {name!r}; the suites are {', '.join(sorted(declared))}")
    if name == "default":
        return default_suite()
    known = builtin()
    return [known[member] for member in declared[name]]


def known_to_reports() -> tuple[dict[str, Experiment], dict[str, tuple[str, ...]]]:
    """What a report of stored runs needs to know of the built-in experiments: an instance of
    each by name (its own report sections) and the declared suites (name -> experiments).
    Empty when experiments/ cannot be imported: a broken experiment module must not stop the reports."""
    try:
        classes = builtin()
        declared = suites()
    except Exception:  # noqa: BLE001 - the reports of stored runs do not depend on it
        return {}, {}
    return {name: cls() for name, cls in classes.items()}, declared


def load_file(path: Path) -> list[type[Experiment]]:
    """The experiments a user's .py file defines."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"no such experiment file: {path}")
    module_name = f"user_experiment_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise HarnessError(f"cannot load {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except HarnessError:
        raise
    except Exception as exc:  # the user's code: report it in one line
        raise HarnessError(f"cannot load {path}: {one_line(exc)}") from None
    classes = experiment_classes(module)
    if not classes:
        raise HarnessError(f"{path} defines no subclass of harness.Experiment")
    return classes


def resolve(specs: list[str]) -> list[type[Experiment]]:
    """Experiment classes from names or paths, in the order given, without repeats."""
    classes: list[type[Experiment]] = []
    known: dict[str, type[Experiment]] | None = None
    for spec in specs:
        # a path runs that file's code; a bare name only ever looks in experiments/
        if spec.endswith(".py") or "/" in spec or os.sep in spec:
            found = load_file(Path(spec))
        else:
            known = known if known is not None else builtin()
            if spec not in known:
                hint = f" (to run the file {spec!r}, give its path: ./{spec})" if Path(spec).is_file() else ""
                raise HarnessError(f"unknown experiment {spec!r}; '{program()} list' shows the known ones{hint}")
            found = [known[spec]]
        classes.extend(cls for cls in found if cls not in classes)
    return classes
