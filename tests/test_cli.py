"""The command line: listing, bad input (one line, exit 2, no traceback), user files by path."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parent.parent

USER_HEADER = """
import numpy as np, pandas as pd
from harness import Dataset, Experiment, Variant

def frame(n, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    y = pd.Series(np.arange(n) % classes, name="label")
    return X, y
"""


def write_user_file(tmp_path, body, name="my_experiment.py"):
    path = tmp_path / name
    path.write_text(USER_HEADER + textwrap.dedent(body))
    return path


def cli(*args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [[], ["run"], ["report"], ["list"]])
def test_help_prints_and_exits_0(command, capsys):
    """Every subcommand's --help renders (a bare '%' in a setting's help once broke argparse)."""
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "usage:" in out
    if command == ["run"]:
        assert "--rope" in out and "1% of the baseline" in out


def test_list_prints_one_experiment_per_line_name_first(capsys):
    code, out, _ = cli("list", capsys=capsys)
    lines = out.strip().splitlines()
    assert code == 0
    names = [line.split()[0] for line in lines]
    assert {"wine", "breast-cancer", "diabetes", "heaton-product", "heaton-age"} <= set(names)
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # a description follows each name


BAD_INPUTS = {
    "negative l1": ("""
        class Neg(Experiment):
            variants = (Variant("neg", l1=-1e-4),)
            def load_data(self, d):
                return Dataset("d", *frame(30), "classification")
        """, "l1 must be a finite number >= 0"),
    "negative l2": ("""
        class Neg(Experiment):
            variants = (Variant("neg", l2=-0.5),)
            def load_data(self, d):
                return Dataset("d", *frame(30), "classification")
        """, "l2 must be a finite number >= 0"),
    "dropout outside [0, 1)": ("""
        class Drop(Experiment):
            variants = (Variant("drop", dropout=1.5),)
            def load_data(self, d):
                return Dataset("d", *frame(30), "classification")
        """, "dropout must be in [0, 1)"),
    "NaN in the target": ("""
        class NaNTarget(Experiment):
            task = "regression"
            def load_data(self, d):
                X, y = frame(30)
                y = y.astype(float)
                y[3] = float("nan")
                return Dataset("d", X, y, "regression")
        """, "missing (NaN) values"),
    "fewer rows than folds": ("""
        class Few(Experiment):
            task = "regression"
            folds = 5
            def load_data(self, d):
                X, y = frame(4)
                return Dataset("d", X, y.astype(float), "regression")
        """, "4 rows is fewer than the 5 folds"),
    "a class smaller than the stratified folds": ("""
        class Rare(Experiment):
            folds = 5
            def load_data(self, d):
                X, y = frame(40, classes=2)
                y[:] = 0
                y[:3] = 1
                return Dataset("d", X, y, "classification")
        """, "class 1 has 3 members, fewer than the 5 that StratifiedKFold needs"),
    "no Experiment subclass": ("""
        class NotAnExperiment:
            pass
        """, "defines no subclass of harness.Experiment"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2(case, tmp_path, capsys):
    body, message = BAD_INPUTS[case]
    path = write_user_file(tmp_path, body)
    code, out, err = cli("run", path, "--db", tmp_path / "r.sqlite", "--reports-dir", tmp_path / "rep", capsys=capsys)
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "rep" / "index.html").exists()  # nothing trained, nothing written


def test_unknown_experiment(tmp_path, capsys):
    # called from Python (a notebook, a test): the installed command is the one to name
    code, _, err = cli("run", "no-such-experiment", capsys=capsys)
    assert code == 2 and err.strip() == (
        "error: unknown experiment 'no-such-experiment'; 'regbench list' shows the known ones")
    # called as python -m harness: that command (tests/test_install.py checks regbench's)
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "no-such-experiment"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == (
        "error: unknown experiment 'no-such-experiment'; 'python -m harness list' shows the known ones")


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path):
    path = write_user_file(tmp_path, BAD_INPUTS["negative l1"][0])
    proc = subprocess.run([sys.executable, "-m", "harness", "run", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in proc.stderr


def test_user_experiment_file_runs_by_path(tmp_path):
    path = write_user_file(tmp_path, """
        class MyStudy(Experiment):
            name = "my-study"
            description = "a user's own experiment"
            hidden_units = (6,)
            variants = (Variant("none"), Variant("strong L2", l2=1e-2))
            def load_data(self, data_dir):
                return Dataset("user data", *frame(45), "classification")
        """)
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(path), "--quick", "--epochs", "2",
         "--db", str(tmp_path / "r.sqlite"), "--reports-dir", str(tmp_path / "rep"), "--no-progress"],
        cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "== my-study · variant: strong L2 ==" in proc.stdout
    assert "#3: score=" in proc.stdout  # --quick: three folds
    page = (tmp_path / "rep" / "my-study" / "index.html").read_text()
    assert "strong L2" in page and "user data" in page
    assert "report: " in proc.stdout


def test_a_bare_name_never_runs_a_file_of_that_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    (tmp_path / "evil").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    code, _, err = cli("run", "evil", "--db", tmp_path / "s.sqlite", capsys=capsys)
    assert code == 2 and "unknown experiment 'evil'" in err and "./evil" in err
    assert not marker.exists()
