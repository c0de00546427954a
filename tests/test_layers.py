"""The architecture stays as drawn: pyproject.toml's import contract (import-linter) holds for
harness/ and experiments/, and it is a contract that can break: the same check on a copy of
the harness with one upward import, or one import cycle, fails and names it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` with the repository's pyproject.toml, importing the packages under `root`."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_import_contract_holds():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "harness", root / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "experiments", root / "experiments", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_an_upward_import_breaks_the_layers(tmp_path):
    root = _copy(tmp_path)
    with open(root / "harness" / "core" / "tasks.py", "a") as handle:  # the ground floor reaching for the runner
        handle.write("\n\ndef _upward():\n    from ..runner import plan\n    return plan\n")
    result = lint_imports(root)
    assert result.returncode == 1
    assert "harness.core.tasks -> harness.runner" in result.stdout


def test_an_import_cycle_breaks_the_contract(tmp_path):
    root = _copy(tmp_path)
    with open(root / "harness" / "stats" / "summary.py", "a") as handle:  # summary <-> across inside stats
        handle.write("\n\ndef _cycle():\n    from .across import rank_table\n    return rank_table\n")
    result = lint_imports(root)
    assert result.returncode == 1
    assert "in harness.stats" in result.stdout and ".summary -> .across" in result.stdout


def test_experiments_only_define(tmp_path):
    root = _copy(tmp_path)
    with open(root / "experiments" / "toy1d.py", "a") as handle:
        handle.write("\n\nfrom harness.runner import run_experiments  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode == 1 and "experiments.toy1d -> harness.runner" in result.stdout


def test_listing_experiments_loads_no_tensorflow():
    """The light commands stay light: keras and TensorFlow load where a model is built (a run
    loads them when it plans, after its data is loaded and checked)."""
    code = ("import sys; import harness.runner; from harness.cli import main; main(['list']); "
            "print('LOADED', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0 and "LOADED []" in result.stdout, result.stdout[-500:] + result.stderr[-2000:]
