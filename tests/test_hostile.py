"""Hostile input, generated with hypothesis, the way an attacker or a hurried user would give it.

Every case must end in one line naming the problem and exit status 2 (or HarnessError, the
exception the command line turns into that), never a traceback, a hang (each case runs under
hypothesis' deadline) or a damaged store. The kinds, and how many cases each draws per run
(`EXAMPLES`; 340 in all):

- csv (100): a user's experiment file reading a CSV that is empty, header-only, has text in a
  numeric column, an all-empty or infinite column, a constant or missing target, a single
  class, a class too small to stratify, a non-numeric regression target or is binary garbage;
  run through the command line against a store that must come out unchanged;
- loader (60): `load_data` returning something that is not a Dataset, or a Dataset with
  mismatched lengths, duplicate or empty column names, unhashable cells, mixed-type labels,
  arrays of the wrong shape;
- options (80): every command-line setting given an invalid value (non-finite, negative, zero
  where it must be positive, text, huge), and unknown options;
- attributes (60): the same settings as experiment attributes (`configured`) and variants
  with out-of-range or non-finite rates;
- splitters (40): a user's splitter yielding overlapping, empty, out-of-range, non-integer or no
  splits, or raising.

Markup, formulas and TeX in every user-supplied name are checked after a real run at the end.
"""
from __future__ import annotations

import contextlib
import csv
import io
import math
import string
import textwrap
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness import Dataset, Experiment, HarnessError, Variant, load_results
from harness.cli import main
from harness.runner import prepare
from harness.settings import SETTINGS
from tests.conftest import TinyClassification, run_fake, run_paths, run_quietly

EXAMPLES = {"csv": 100, "loader": 60, "options": 80, "attributes": 60, "splitters": 40}
FAST = dict(deadline=timedelta(seconds=20), database=None, derandomize=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def run_cli(*args) -> tuple[int, str, str]:
    """`python -m harness ...` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) > 12, err


def assert_harness_error(call) -> str:
    with pytest.raises(HarnessError) as caught:
        call()
    message = str(caught.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


# ------------------------------------------------------------------ a store that must survive
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    paths = run_paths(tmp_path_factory.mktemp("hostile"))
    run_fake([TinyClassification()], paths)
    before = load_results(paths.db)
    yield paths
    after = load_results(paths.db)
    pd.testing.assert_frame_equal(before, after)  # nothing lost, nothing added, nothing changed


# ------------------------------------------------------------------ csv
USER_FILE = """
import pandas as pd
from harness import Dataset, Experiment, Variant

class FromCsv(Experiment):
    name = "from-csv"
    task = {task!r}
    folds = 3
    epochs = 2
    variants = (Variant("none"), Variant("L2 1e-3", l2=1e-3))

    def load_data(self, data_dir):
        frame = pd.read_csv({csv!r})
        return Dataset("csv", frame.drop(columns=["target"]), frame["target"], self.task)
"""

DEFECTS = ["empty", "header_only", "text_in_numbers", "all_empty_column", "infinite", "constant_target",
           "missing_target", "single_class", "tiny_class", "text_target", "garbage"]
# text that pandas reads as text (never as NaN, a number or infinity)
WORDS = st.text(alphabet=string.ascii_letters + "<>&\"' é中", min_size=1, max_size=8).map(lambda s: "x" + s)


@st.composite
def hostile_csv(draw) -> tuple[str, bytes]:
    defect = draw(st.sampled_from(DEFECTS))
    task = "regression" if defect in ("constant_target", "text_target") else draw(st.sampled_from(["classification", "regression"]))
    if defect in ("single_class", "tiny_class"):
        task = "classification"
    if defect == "empty":
        return task, b""
    if defect == "garbage":
        return task, draw(st.binary(min_size=1, max_size=200))
    rows = draw(st.integers(12, 30))
    columns = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    frame = pd.DataFrame(rng.normal(size=(rows, columns)), columns=[f"c{i}" for i in range(columns)])
    frame["target"] = np.arange(rows) % 2 if task == "classification" else rng.normal(size=rows)
    if defect == "header_only":
        frame = frame.iloc[:0]
    column = draw(st.sampled_from([f"c{i}" for i in range(columns)]))
    row = draw(st.integers(0, rows - 1))
    if defect == "text_in_numbers":
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = draw(WORDS)
    elif defect == "all_empty_column":
        frame[column] = np.nan
    elif defect == "infinite":
        frame.loc[row, column] = draw(st.sampled_from([np.inf, -np.inf]))
    elif defect == "constant_target":
        frame["target"] = draw(st.floats(-1e6, 1e6, allow_nan=False))
    elif defect == "missing_target":
        frame["target"] = frame["target"].astype(float)
        frame.loc[row, "target"] = np.nan
    elif defect == "single_class":
        frame["target"] = draw(st.integers(0, 5))
    elif defect == "tiny_class":  # a class of 1 or 2 members: too few for stratified 3-fold
        frame.loc[: draw(st.integers(0, 1)), "target"] = 7
    elif defect == "text_target":
        frame["target"] = frame["target"].astype(object)
        frame.loc[row, "target"] = draw(WORDS)
    return task, frame.to_csv(index=False).encode()


@settings(max_examples=EXAMPLES["csv"], **FAST)
@given(case=hostile_csv())
def test_hostile_csv_files_end_in_one_line_and_exit_2(case, store, tmp_path):
    task, content = case
    csv = tmp_path / "data.csv"
    csv.write_bytes(content)
    user = tmp_path / "from_csv.py"
    user.write_text(USER_FILE.format(task=task, csv=str(csv)))
    code, _, err = run_cli("run", user, "--db", store.db, "--reports-dir", store.reports, "--data-dir", store.data,
                           "--no-progress")
    assert_one_line_error(code, err)


# ------------------------------------------------------------------ loader
def frame(rows: int = 12, columns: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(rows * 7 + columns)
    X = pd.DataFrame(rng.normal(size=(rows, columns)), columns=[f"f{i}" for i in range(columns)])
    return X, pd.Series(np.arange(rows) % 2, name="y")


@st.composite
def hostile_return(draw):
    """What a user's load_data might return instead of a usable Dataset (or a call that
    builds one and fails)."""
    kind = draw(st.sampled_from(["not_a_dataset", "lengths", "duplicate_names", "empty_name", "unhashable",
                                 "mixed_labels", "wrong_shape", "no_rows", "no_columns", "bad_task"]))
    X, y = frame(draw(st.integers(6, 20)), draw(st.integers(1, 4)))
    if kind == "not_a_dataset":
        return lambda: draw(st.sampled_from([None, X, (X, y), {"X": X, "y": y}, [1, 2], "data.csv", X.to_numpy(), 3]))
    if kind == "lengths":
        cut = draw(st.integers(1, len(y) - 1))
        return lambda: Dataset("d", X, y.iloc[:cut], "classification")
    if kind == "duplicate_names":
        X.columns = ["same"] * X.shape[1] if X.shape[1] > 1 else ["same"]
        X = pd.concat([X, X.iloc[:, :1]], axis=1)
        return lambda: Dataset("d", X, y, "classification")
    if kind == "empty_name":
        X.columns = [draw(st.sampled_from(["", " ", "\t"]))] + list(X.columns[1:])
        return lambda: Dataset("d", X, y, "classification")
    if kind == "unhashable":
        X["odd"] = [draw(st.sampled_from([[1, 2], {"a": 1}, {1}]))] * len(X)
        return lambda: Dataset("d", X, y, "classification")
    if kind == "mixed_labels":
        labels = y.astype(object)
        labels.iloc[0] = draw(WORDS)
        return lambda: Dataset("d", X, labels, "classification")
    if kind == "wrong_shape":  # features as a 3-D array, or targets as a 2-D one
        if draw(st.booleans()):
            return lambda: Dataset("d", np.zeros((len(y), 2, 2)), y, "classification")
        return lambda: Dataset("d", X, np.zeros((len(y), 2)), "classification")
    if kind == "no_rows":
        return lambda: Dataset("d", X.iloc[:0], y.iloc[:0], "classification")
    if kind == "no_columns":
        return lambda: Dataset("d", X.iloc[:, :0], y, "classification")
    return lambda: Dataset("d", X, y, draw(st.text(max_size=10).filter(lambda t: t not in ("classification", "regression"))))


@settings(max_examples=EXAMPLES["loader"], **FAST)
@given(loader=hostile_return())
def test_hostile_loaders_end_in_one_line(loader, tmp_path):
    class Loaded(TinyClassification):
        name = "loaded"

        def load_data(self, data_dir):
            return loader()

    assert_harness_error(lambda: prepare(Loaded(), tmp_path))


@pytest.mark.parametrize("returned", [None, 0, "a model", "dense layer", "list of layers"])
def test_a_builder_that_returns_no_keras_model_is_refused_in_one_line(returned, workdir):
    import keras

    made = {"dense layer": lambda: keras.layers.Dense(2),
            "list of layers": lambda: [keras.layers.Dense(2)]}.get(returned, lambda: returned)

    class NotAModel(TinyClassification):
        name = "not-a-model"

        def build_model(self, variant, n_inputs, n_outputs):
            return made()

    message = assert_harness_error(lambda: run_fake([NotAModel()], workdir))
    assert "'not-a-model'" in message and "build_model returned" in message and "keras.Model" in message
    assert __file__ in message  # the file that defines the experiment
    assert not workdir.db.exists() or load_results(workdir.db).empty  # refused before anything trains


# ------------------------------------------------------------------ options and attributes
CLI_SETTINGS = [s for s in SETTINGS if s.parse is not None]
TEXT_VALUES = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e400", "-1", "0", "-0.0", "", " ", "abc", "none", "1,2,x",
                     "99999999999999999999999", "0x10", "1/2", "yes please", "é", "<b>1</b>", "=1+1", "$x$"]),
    st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12))


def invalid(setting, text: str) -> bool:
    try:
        value = setting.parse(text)
    except Exception:  # noqa: BLE001 - what argparse refuses
        return True
    try:
        return not setting.valid(value)
    except (TypeError, ValueError):
        return True


@settings(max_examples=EXAMPLES["options"], **FAST)
@given(setting=st.sampled_from(CLI_SETTINGS), text=TEXT_VALUES)
def test_invalid_command_line_settings_end_in_one_line_and_exit_2(setting, text, tmp_path):
    assume(invalid(setting, text) and not text.startswith("-"))  # argparse reads '-…' as an option
    code, _, err = run_cli("run", "wine", f"{setting.option}={text}", "--db", tmp_path / "s.sqlite",
                           "--reports-dir", tmp_path / "r", "--no-progress")
    assert_one_line_error(code, err)
    assert not (tmp_path / "s.sqlite").exists()  # refused before anything was written


@pytest.mark.parametrize("args", [
    ["run", "wine", "--bogus"], ["run", "wine", "--epochs"], ["frobnicate"], ["run", "wine", "--workers", "0"],
    ["run", "wine", "--engine", "warp"], ["run", "no-such-experiment"], ["run"], ["run", "wine", "--suite", "all"],
    ["run", "wine", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], ["report", "--db", "{tmp}/missing.sqlite"]])
def test_unknown_or_contradictory_options_end_in_one_line_and_exit_2(args, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    extra = ["--db", tmp_path / "s.sqlite", "--reports-dir", tmp_path / "r"] if args[0] == "run" and args[-1] != "--epochs" else []
    code, _, err = run_cli(*args, *extra)
    assert_one_line_error(code, err)
    assert not (tmp_path / "s.sqlite").exists()


PYTHON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=3).map(tuple), st.just([]), st.just(object()))


@settings(max_examples=EXAMPLES["attributes"], **FAST)
@given(data=st.data())
def test_invalid_settings_and_variants_are_refused(data):
    if data.draw(st.booleans()):
        setting = data.draw(st.sampled_from(SETTINGS))
        value = data.draw(PYTHON_VALUES)
        try:
            ok = bool(setting.valid(value))
        except (TypeError, ValueError):
            ok = False
        assume(not ok)
        assert_harness_error(lambda: TinyClassification().configured(**{setting.name: value}).check())
    else:
        field = data.draw(st.sampled_from(["l1", "l2", "weight_decay", "dropout", "name"]))
        bad = {"name": st.sampled_from(["", "  ", None, 3]),
               "dropout": st.one_of(st.floats(1.0, 1e9), st.floats(max_value=-1e-9), st.just(math.nan), st.just(math.inf))}
        value = data.draw(bad.get(field, st.one_of(st.floats(max_value=-1e-12), st.just(math.nan), st.just(math.inf),
                                                   st.just(-math.inf), st.text(max_size=3))))
        kwargs = {"name": "v"} | {field: value}
        assert_harness_error(lambda: Variant(**kwargs))


# ------------------------------------------------------------------ splitters
@st.composite
def bad_splits(draw):
    n = 12
    kind = draw(st.sampled_from(["overlap", "empty_train", "empty_test", "out_of_range", "floats", "none",
                                 "two_d", "raises"]))
    train, test = np.arange(0, 8), np.arange(8, n)
    if kind == "overlap":
        shared = draw(st.integers(0, 7))
        test = np.append(test, shared)
    elif kind == "empty_train":
        train = np.array([], dtype=int)
    elif kind == "empty_test":
        test = np.array([], dtype=int)
    elif kind == "out_of_range":
        test = np.append(test, draw(st.one_of(st.integers(n, 10**9), st.integers(-10**9, -1))))
    elif kind == "floats":
        train = train.astype(float) + draw(st.sampled_from([0.0, 0.5]))
    elif kind == "two_d":
        train = train.reshape(2, 4)
    if kind == "none":
        return kind, []
    good = draw(st.integers(0, 2))  # some valid splits first: the bad one is found wherever it is
    return kind, [(np.arange(4, n), np.arange(0, 4))] * good + [(train, test)]


@settings(max_examples=EXAMPLES["splitters"], **FAST)
@given(case=bad_splits())
def test_invalid_splitters_are_refused(case, tmp_path):
    kind, splits = case

    class Bad:
        def get_n_splits(self, X=None, y=None, groups=None):
            return max(len(splits), 1)

        def split(self, X, y=None, groups=None):
            if kind == "raises":
                raise RuntimeError("the user's splitter broke")
            yield from splits

    class WithBadSplitter(TinyClassification):
        name = "bad-splitter"
        patience = None

        def load_data(self, data_dir):
            X, y = frame(12, 3)
            return Dataset("d", X, y, "classification")

        def splitter(self):
            return Bad()

    assert_harness_error(lambda: prepare(WithBadSplitter(), tmp_path))


# ------------------------------------------------------------------ names, after a real run
MARKUP = '<img src=x onerror="alert(1)">'
FORMULA = '=HYPERLINK("http://evil.example","click")'
SQL = "x'); DROP TABLE results; --"


class Named(Experiment):
    name = f"named {MARKUP}"
    description = f"{MARKUP} {FORMULA}"
    folds = 2
    epochs = 2
    hidden_units = (4,)
    variants = (Variant("none"), Variant(FORMULA, l2=1e-3), Variant("cost $5 and $x^{2}$ \\frac{", dropout=0.2,
                                                                       settings={"note": MARKUP}), Variant(SQL, l1=1e-3))

    def load_data(self, data_dir):
        X, y = frame(30, 2)
        X.columns = [f"-{MARKUP}", "@sum"]
        return Dataset(f"data {FORMULA}", X, y.rename(f"+{MARKUP}"), "classification")


def test_markup_formulas_and_tex_in_names_stay_text_everywhere(workdir):
    run_fake([Named()], workdir)
    folder = next(p for p in workdir.reports.iterdir() if p.name.startswith("named"))
    page = (folder / "index.html").read_text()
    assert MARKUP not in page and "&lt;img src=x" in page
    assert "could not be computed" not in page and 'class="error"' not in page  # TeX-like names draw as text
    for path in list(folder.glob("*.csv")) + [workdir.reports / "index.csv"]:
        with open(path, newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert not cell.startswith(("=", "+", "-", "@")) or _number(cell), f"{path.name}: {cell!r}"
    summary = pd.read_csv(folder / "summary.csv")
    assert "'" + FORMULA in set(summary["variant"])
    for svg in folder.glob("*.svg"):
        assert "<img" not in svg.read_text()
    index = (workdir.reports / "index.html").read_text()
    assert MARKUP not in index
    stored = load_results(workdir.db)  # the SQL in a name is data: every table is still there
    assert SQL in set(stored["variant"]) and len(stored) == 2 * len(Named.variants)


def test_a_batch_larger_than_the_data_trains_in_one_batch(workdir):
    """A huge batch size is valid (Keras' fit then takes every row in one batch): it trains on
    both engines instead of allocating the batch."""
    for engine in ("stacked", "keras"):
        outcomes, _ = run_quietly([TinyClassification().configured(batch_size=10**12)], workdir, engine=engine,
                                  fresh=True)
        stored = load_results(workdir.db)
        assert (stored["status"] == "ok").all() and set(stored["engine"]) == {engine}


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def test_the_counts_in_the_docstring_and_readme_are_these():
    from tests.conftest import REPO

    total = sum(EXAMPLES.values())
    assert total >= 300
    assert f"{total} in all" in textwrap.dedent(__doc__)
    assert f"{total} generated cases" in (REPO / "README.md").read_text()
