"""Where `harness.builtin` (the built-in experiments) comes from.

The experiments live in `experiments/` at the top of the repository. An installed harness
(`pip install .`) carries them as the package `harness.builtin` (pyproject.toml maps the
folder there), so no top-level package named `experiments` is installed. Run from a source
checkout (`python -m harness` in the repository, or the tests), the same folder is imported
under the same name by the finder below, so a class has one module name wherever it runs
(a worker process unpickling a task imports it the same way).
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

NAME = "harness.builtin"
#: experiments/ beside the harness package, in a source checkout
CHECKOUT_EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


class _CheckoutExperiments(importlib.abc.MetaPathFinder):
    """Finds `harness.builtin` as the checkout's experiments/ folder; its modules are then
    found on that package's path as usual. It goes first on `sys.meta_path`, so that the
    harness of a checkout always runs that checkout's experiments, even where another
    checkout is installed in editable mode (whose finder would answer for every `harness.*`)."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102 - importlib's protocol
        if fullname != NAME or not (CHECKOUT_EXPERIMENTS / "__init__.py").is_file():
            return None
        return importlib.util.spec_from_file_location(
            NAME, CHECKOUT_EXPERIMENTS / "__init__.py", submodule_search_locations=[str(CHECKOUT_EXPERIMENTS)])


def install() -> None:
    """Put the finder in place when this harness is a checkout's (an installed copy has its
    own harness/builtin folder and needs none)."""
    installed = (Path(__file__).resolve().parent / "builtin").is_dir()
    if installed or not (CHECKOUT_EXPERIMENTS / "__init__.py").is_file():
        return
    if not any(isinstance(finder, _CheckoutExperiments) for finder in sys.meta_path):
        sys.meta_path.insert(0, _CheckoutExperiments())
