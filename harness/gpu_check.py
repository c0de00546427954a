"""`make gpu-check` (`python -m harness.gpu_check`): `make perf`'s grids and the default suite on
a CUDA device, timed, with the same table `make perf` prints, for the day a GPU is lent.

It needs TensorFlow built with CUDA (`pip install "tensorflow[and-cuda]"` at the version
requirements.txt pins) and a visible GPU; without one it says so in one line and exits with
status 2, so nothing else in the project needs a GPU. Sized to finish in under 8 minutes on one
data-centre GPU: the grids of `make perf` once each (`--repeats 1`), then the default suite in
one process on a fresh store. `--cpu` runs the same steps on the CPU (smaller, for checking the
script itself)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Sequence

from .errors import HarnessError


def device_name() -> str:
    """The first GPU TensorFlow sees, by name; HarnessError when there is none."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        raise HarnessError("no CUDA device is visible to TensorFlow (tf.config.list_physical_devices('GPU') is "
                           "empty); this check needs one and TensorFlow built with CUDA")
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"{details.get('device_name', gpus[0].name)} (compute capability {details.get('compute_capability')})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU, smaller (checks the script, not a GPU)")
    parser.add_argument("--suite", default="default", help="the suite to time after the grids (default: default)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # the suite's processes share the device
    try:
        where = "CPU (--cpu)" if args.cpu else device_name()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"device: {where}", flush=True)
    from . import perf

    grids = (["--variants", "2", "--wide-variants", "--epochs", "2", "--keras-fits", "1", "--sklearn-fits", "1"]
             if args.cpu else ["--variants", "4", "9", "18", "36", "72", "--wide-variants", "9", "--keras-fits", "3",
                               "--sklearn-fits", "3"])
    start = time.perf_counter()
    perf.main([*grids, "--repeats", "1"])
    grids_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "harness", "run", "--suite", args.suite, "--no-progress", "--no-lines",
                   "--db", os.path.join(folder, "results.sqlite"), "--reports-dir", os.path.join(folder, "reports")]
        if args.cpu:
            command.append("--quick")
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL)
        suite_s = time.perf_counter() - start
    print(f"\n{where}: make perf's grids in {grids_s:.0f} s; the {args.suite} suite"
          f"{' (--quick)' if args.cpu else ''} from an empty store in {suite_s:.0f} s"
          f"{'' if done.returncode == 0 else f' (exit status {done.returncode})'}; together {grids_s + suite_s:.0f} s")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
