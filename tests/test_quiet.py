"""A quiet start: TensorFlow's C++ start-up lines stay off the console unless asked for
(`--verbose`, REGBENCH_VERBOSE=1), and whatever else is written while it loads still shows."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from harness._quiet import kept

REPO = Path(__file__).resolve().parent.parent

#: what TensorFlow's native start-up writes (see harness._quiet)
START_UP_MARKS = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers", "cuInit",
                  "rebuild TensorFlow with the appropriate compiler flags")

EXPERIMENT = textwrap.dedent('''
    from harness import Experiment, Variant
    from tests.conftest import tiny_classification

    class QuietStart(Experiment):
        name = "quiet-start"
        folds, epochs, hidden_units = 2, 2, (4,)
        variants = (Variant("none"), Variant("L2", l2=1e-3))

        def load_data(self, data_dir):
            return tiny_classification()
''')


def _run(tmp_path, store, *flags):
    """The experiment run from the command line on a store of its own (so that it trains)."""
    (tmp_path / "quiet_start.py").write_text(EXPERIMENT)
    command = [sys.executable, "-m", "harness", "run", str(tmp_path / "quiet_start.py"), "--no-progress",
               "--db", str(tmp_path / store), "--reports-dir", str(tmp_path / "reports"), *flags]
    environment = {key: value for key, value in os.environ.items() if key != "REGBENCH_VERBOSE"}
    environment["PYTHONPATH"] = str(REPO)
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=300)


def test_the_command_line_prints_no_tensorflow_start_up_lines_unless_asked(tmp_path):
    quiet = _run(tmp_path, "quiet.sqlite")
    assert quiet.returncode == 0, quiet.stderr
    assert not [mark for mark in START_UP_MARKS if mark in quiet.stderr + quiet.stdout], quiet.stderr
    # they are there to hide: --verbose shows them
    loud = _run(tmp_path, "loud.sqlite", "--verbose")
    assert loud.returncode == 0, loud.stderr
    assert "absl::InitializeLog" in loud.stderr and "oneDNN" in loud.stderr


FAKE_TENSORFLOW = textwrap.dedent('''
    import os

    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"I0000 00:00:1796479572.282597   13134 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\\n")
    os.write(2, b"E0000 00:00:1796479575.910917   13134 some_kernel.cc:52] a real error while loading\\n")

    class config:
        @staticmethod
        def list_physical_devices(kind):
            os.write(2, b"E0000 00:00:1796479575.910917   13134 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\\n")
            return []
''')


def test_what_is_not_a_start_up_line_still_shows(tmp_path):
    """A stand-in `tensorflow` package writes start-up lines and a real error to descriptor 2 as
    it loads: only the error reaches stderr, after the import; the Python program goes on."""
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(FAKE_TENSORFLOW)
    script = "import harness, sys; import tensorflow; print('after', file=sys.stderr)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    env.pop("REGBENCH_VERBOSE", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["E0000 00:00:1796479575.910917   13134 some_kernel.cc:52] a real error while loading",
                                        "after"]
    loud = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**env, "REGBENCH_VERBOSE": "1"}, timeout=120)
    assert "absl::InitializeLog" in loud.stderr and "Could not find cuda drivers" in loud.stderr


def test_the_filter_drops_known_lines_only():
    text = ("I0000 00:00:1.2   13 port.cc:153] oneDNN custom operations are on.\n"
            "Traceback (most recent call last):\n"
            "W0000 00:00:1.2   13 cuda_blas.cc:1] Unable to register cuBLAS factory\n"
            "E0000 00:00:1.2   13 cuda_dnn.cc:8] Unable to register cuDNN factory: attempted twice\n"
            "E0000 00:00:1.2   13 op_kernel.cc:8] OOM when allocating tensor\n")
    assert kept(text) == "Traceback (most recent call last):\nE0000 00:00:1.2   13 op_kernel.cc:8] OOM when allocating tensor\n"


def test_a_notebook_cell_shows_no_tensorflow_start_up_lines(tmp_path):
    """ipykernel forwards what the kernel process writes to descriptor 2 into the cell (the
    second cell's own line shows it does); importing the harness and Keras adds nothing."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import harness, keras\nkeras.layers.Dense(2)(keras.ops.zeros((1, 3)))\n"
                                                "import time; time.sleep(1)"),
                      nbformat.v4.new_code_cell("import os, time; os.write(2, b'written to fd 2\\n'); time.sleep(1)")]
    # ipykernel forwards descriptor 2 except under pytest (it looks for PYTEST_CURRENT_TEST)
    env = {key: value for key, value in os.environ.items() if key not in ("REGBENCH_VERBOSE", "PYTEST_CURRENT_TEST")}
    env["PYTHONPATH"] = str(REPO)
    spec = tmp_path / "jupyter" / "kernels" / "regbench-quiet"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                           "{connection_file}"], "display_name": "quiet", "language": "python"}))
    env["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    os.environ["JUPYTER_PATH"], before = env["JUPYTER_PATH"], os.environ.get("JUPYTER_PATH")
    try:
        NotebookClient(notebook, timeout=300, kernel_name="regbench-quiet").execute(env=env)
    finally:
        os.environ.pop("JUPYTER_PATH") if before is None else os.environ.__setitem__("JUPYTER_PATH", before)
    first, second = ("".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream") for cell in notebook.cells)
    assert "written to fd 2" in second
    assert not [mark for mark in START_UP_MARKS if mark in first + second], first


def test_tensorflows_retracing_warning_is_dropped_and_its_other_warnings_kept(tmp_path):
    """Every stacked model traces a loop of its own on purpose; TensorFlow's heuristic calls that
    retracing and warned four times in a `make benchmark`. Only that warning goes."""
    script = ("import harness.engines.stacked.loop, tensorflow as tf\n"
              "tf.get_logger().warning('5 out of the last 5 calls to <f> triggered tf.function retracing. Tracing is expensive')\n"
              "tf.get_logger().warning('a real warning')\n")
    env = {key: value for key, value in os.environ.items() if key != "REGBENCH_VERBOSE"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "a real warning" in done.stderr and "retracing" not in done.stderr
