"""The package as users install it: pyproject.toml's ranges hold the tested pins and every
library the code imports, and `pip install` (regular and editable) in a fresh virtual
environment gives a `regbench` command that runs a user's experiment file from another folder,
writing the store and reports/ there, with the built-in experiments inside the harness."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _declared() -> dict[str, Requirement]:
    project = PYPROJECT["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [Requirement(text) for text in extra]
    declared: dict[str, Requirement] = {}
    for requirement in requirements:
        declared.setdefault(canonicalize_name(requirement.name), requirement)
    return declared


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pins


def test_every_pin_lies_within_pyproject_ranges():
    declared = _declared()
    build_only = {"setuptools"}  # the build backend: [build-system] requires it
    for name, version in _pins().items():
        if name in build_only:
            assert any(Requirement(r).specifier.contains(version) for r in PYPROJECT["build-system"]["requires"]
                       if canonicalize_name(Requirement(r).name) == name), name
            continue
        assert name in declared, f"{name} is pinned in requirements.txt but not declared in pyproject.toml"
        assert declared[name].specifier.contains(version), f"{name}=={version} is outside {declared[name]}"


def _imported_modules(folder: Path) -> set[str]:
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_every_library_the_package_imports_is_a_runtime_dependency():
    modules = _imported_modules(REPO / "harness") | _imported_modules(REPO / "experiments")
    third_party = sorted(m for m in modules if m not in sys.stdlib_module_names and m not in ("harness", "__future__"))
    runtime = set()
    # an optional extra's library, imported only when asked for (--mlflow), counts as declared
    optional = PYPROJECT["project"]["optional-dependencies"]["mlflow"]
    for text in PYPROJECT["project"]["dependencies"] + optional:
        requirement = Requirement(text)
        # dask[distributed] brings the distribution of that name
        runtime |= {canonicalize_name(requirement.name)} | {canonicalize_name(e) for e in requirement.extras}
    distributions = packages_distributions()
    for module in third_party:
        names = {canonicalize_name(d) for d in distributions.get(module, [])}
        assert names, f"{module} is imported but no installed distribution provides it"
        # keras is provided by both keras and tensorflow's own copy; one declared is enough
        assert names & runtime, f"{module} ({', '.join(sorted(names))}) is imported but not in [project] dependencies"


def _fresh_venv(where: Path) -> Path:
    """A new virtual environment whose own site-packages come first, seeing this one's
    libraries through a .pth file (so no download: the harness itself is what it installs)."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, capture_output=True)
    python = where / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _source_copy(where: Path) -> Path:
    """What `pip install <path>` reads, copied, so that the build writes nothing in the repository."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, where / name)
    for name in ("harness", "experiments"):
        shutil.copytree(REPO / name, where / name, ignore=shutil.ignore_patterns("__pycache__"))
    return where


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def _pip_install(python: Path, *args: str) -> None:
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                           "--no-build-isolation", "--no-index", *args], capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]


USER_FILE = """
    import numpy as np
    import pandas as pd

    from harness import Dataset, Experiment, Variant


    class Mine(Experiment):
        name = "users-own"
        description = "a user's experiment, outside the repository"
        folds = 2
        epochs = 2
        hidden_units = (4,)
        variants = [Variant("none"), Variant("dropout", dropout=0.2)]

        def load_data(self, data_dir):
            rng = np.random.default_rng(0)
            X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
            return Dataset("noise", X, pd.Series(np.arange(40) % 2, name="y"), "classification")
"""


@pytest.mark.parametrize("editable", [False, pytest.param(True, marks=pytest.mark.slow)],  # -e: under make test-all
                         ids=["pip install", "pip install -e"])
def test_installed_console_command_runs_a_users_file_from_another_folder(tmp_path, editable):
    (tmp_path / "src").mkdir()
    source = _source_copy((tmp_path / "src").resolve())
    python = _fresh_venv(tmp_path / "venv")
    _pip_install(python, *(["-e", str(source)] if editable else [str(source)]))
    regbench = python.parent / "regbench"
    project = tmp_path / "project"
    project.mkdir()
    (project / "mine.py").write_text(textwrap.dedent(USER_FILE))

    listed = subprocess.run([regbench, "list"], cwd=project, capture_output=True, text=True, env=_env())
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert {"wine", "toy-1d", "heaton-product"} <= {line.split()[0] for line in listed.stdout.splitlines()}

    # the built-in experiments live inside the harness; no top-level `experiments` package exists
    # without the checkout's own finder: the installed mapping alone must find harness.builtin
    where = subprocess.run([python, "-c", textwrap.dedent("""
        import importlib.util, sys, harness
        from harness import _builtin
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _builtin._CheckoutExperiments)]
        import harness.builtin.sklearn_suite as suite
        print(harness.__file__); print(suite.__file__); print(importlib.util.find_spec("experiments"))
    """)], cwd=project, capture_output=True, text=True, env=_env())
    assert where.returncode == 0, where.stderr[-2000:]
    harness_file, suite_file, top_level = where.stdout.split()
    if editable:
        assert Path(suite_file) == source / "experiments" / "sklearn_suite.py"
        assert Path(harness_file) == source / "harness" / "__init__.py"
    else:
        assert "site-packages" in suite_file and Path(suite_file).parent.name == "builtin"
        assert "site-packages" in harness_file
    assert top_level == "None"

    ran = subprocess.run([regbench, "run", "mine.py", "--no-progress", "--no-lines"], cwd=project, capture_output=True,
                         text=True, env=_env(), timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "users-own: 4 jobs ok, 0 failed" in ran.stdout
    assert "#1: score=" not in ran.stdout  # --no-lines: no line per split
    assert (project / "reports" / "results.sqlite").is_file()
    assert (project / "reports" / "users-own" / "index.html").is_file()
    assert (project / "reports" / "index.html").is_file()

    refused = subprocess.run([regbench, "run", "no-such"], cwd=project, capture_output=True, text=True, env=_env())
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: unknown experiment 'no-such'; 'regbench list' shows the known ones"
