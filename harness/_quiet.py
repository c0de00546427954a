"""A quiet TensorFlow start: its C++ start-up lines kept off the console and notebook cells.

TensorFlow's native code writes informational lines to the process's stderr (file descriptor
2) while it loads and while it looks for a GPU: absl's "All log messages before
absl::InitializeLog()", oneDNN's note, "Could not find cuda drivers", the CPU-instruction
advice and, on a machine without a GPU, "failed call to cuInit". `TF_CPP_MIN_LOG_LEVEL` no
longer silences them (they come before absl's logging is set up). `install()` puts an import
hook in front of `import tensorflow` (whoever imports it first: Keras, an engine, a worker
process, a notebook): while TensorFlow loads and lists its devices, descriptor 2 goes to a
temporary file; afterwards every captured line that is not one of those known start-up lines
(`START_UP`) is written back to stderr, so real errors still show.

`REGBENCH_VERBOSE=1` (what `regbench run --verbose` sets) leaves TensorFlow's output alone.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from typing import Any

VERBOSE_ENV = "REGBENCH_VERBOSE"

#: the lines TensorFlow's native start-up writes that say nothing wrong on a working install
START_UP = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:. ]+\d+ \S+:\d+\] "  # absl's informational and warning lines while loading
    r"|E\d{4} [\d:. ]+\d+ cuda_(?:platform|executor|diagnostics)\.cc:\d+\] (?:failed call to cuInit|.*kernel driver)"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
    r"|E\d{4} [\d:. ]+\d+ cuda_(?:dnn|fft|blas)\.cc:\d+\] Unable to register cu(?:DNN|FFT|BLAS) factory"
)


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def kept(text: str) -> str:
    """The captured output less the known start-up lines."""
    lines = text.splitlines(keepends=True)
    return "".join(line for line in lines if not START_UP.match(line.strip()))


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile(mode="w+b") as capture:
            os.dup2(capture.fileno(), 2)
            try:
                self.loader.exec_module(module)
                module.config.list_physical_devices("GPU")  # where TensorFlow looks for CUDA, and says so
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                rest = kept(capture.read().decode("utf-8", "replace"))
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the other finders do, and loads it with its start-up lines captured."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "tensorflow" or verbose():
            return None
        sys.meta_path.remove(self)  # once: the first import is the one that loads the native code
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Quiet TensorFlow's start-up in this process (and, through the environment, its workers),
    unless it is loaded already or the user asked for its output."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # what the level still governs: TensorFlow's later logging
    if "tensorflow" in sys.modules or verbose() or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())
