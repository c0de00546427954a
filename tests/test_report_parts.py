"""The report's weight analysis, loss curves and exports, against NumPy computations on the
stored weights and curves."""
import numpy as np
import pandas as pd
import pytest

from harness import Section, Variant, load_results
from harness.core import decode_weights
from harness.report import Exports, render_section
from harness.report import figures
from harness.stats.weights import dense_kernels, zeroed_inputs
from tests.conftest import TinyClassification, run_paths, run_quietly


class WeightsExperiment(TinyClassification):
    name = "weights-exp"
    variants = (Variant("none"), Variant("L1 1e-2", l1=1e-2), Variant("L2 1e-2", l2=1e-2))
    epochs = 6


class WithBatchNorm(WeightsExperiment):
    name = "with-batchnorm"
    variants = (Variant("none"), Variant("L2 1e-2", l2=1e-2))

    def build_model(self, variant, n_inputs, n_outputs):
        import keras

        from harness.regularizers import kernel_penalty

        return keras.Sequential([
            keras.Input((n_inputs,)),
            keras.layers.Dense(6, activation="relu", kernel_regularizer=kernel_penalty(variant.l1, variant.l2), name="first"),
            keras.layers.BatchNormalization(name="norm"),
            keras.layers.Dense(n_outputs, activation="softmax", name="out"),
        ])


@pytest.fixture(scope="module")
def weights_run(tmp_path_factory):
    paths = run_paths(tmp_path_factory.mktemp("weights"))
    run_quietly([WeightsExperiment()], paths)
    return paths


def test_per_layer_norms_are_numpy_norms_of_the_stored_kernels(weights_run):
    folder = weights_run.reports / "weights-exp"
    table = pd.read_csv(folder / "weights-per-layer.csv")
    rows = load_results(weights_run.db, with_weights=True)
    for (variant, layer), got in table.set_index(["variant", "layer"]).iterrows():
        kernels = [dense_kernels(decode_weights(blob))[0][layer].astype("float64")
                   for blob in rows[(rows["variant"] == variant) & (rows["status"] == "ok")]["weights"]]
        l1 = [np.abs(k).sum() for k in kernels]
        l2 = [np.sqrt((k ** 2).sum()) for k in kernels]
        near = [np.mean(np.abs(k) < 1e-3) for k in kernels]
        np.testing.assert_allclose([got["L1 norm"], got["L1 sd"]], [np.mean(l1), np.std(l1)], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose([got["L2 norm"], got["L2 sd"]], [np.mean(l2), np.std(l2)], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(got["max |w|"], np.mean([np.abs(k).max() for k in kernels]), rtol=1e-5)
        np.testing.assert_allclose(got["|w| < 1e-3"], np.mean(near), atol=1e-12)
        assert got["splits"] == len(kernels) == 2
    assert set(table["variant"]) == {"none", "L1 1e-2", "L2 1e-2"}
    assert set(table["layer"]) == {"hidden_1", "output"}


def test_weight_per_input_is_the_first_kernels_mean_magnitude_per_row(weights_run):
    folder = weights_run.reports / "weights-exp"
    matrix = pd.read_csv(folder / "input-weights.csv").set_index("variant")
    assert list(matrix.columns) == ["f0", "f1", "f2", "f3", "f4"]  # the inputs' own names
    rows = load_results(weights_run.db, with_weights=True)
    for variant, got in matrix.iterrows():
        firsts = [np.abs(decode_weights(blob)["mlp/hidden_1/kernel"]).mean(axis=1)
                  for blob in rows[(rows["variant"] == variant) & (rows["status"] == "ok")]["weights"]]
        np.testing.assert_allclose(got.to_numpy(dtype=float), np.mean(firsts, axis=0), rtol=1e-5)
    page = (folder / "index.html").read_text()
    assert "Weight per input" in page and "Distribution of |w|" in page and "Not analysed" not in page


def test_zeroed_inputs_separate_sparsity_from_uniform_shrinkage():
    """An input is driven to zero below 0.05 × the variant's own largest input weight; `scale` is
    its median input weight over the baseline's. Shrinking every input to 8% zeroes none (scale
    0.08); a sparse variant keeping one input zeroes the rest."""
    inputs = pd.DataFrame({"a": [0.10, 0.0004, 0.008, 0.2], "b": [0.12, 0.05, 0.0096, 0.0001],
                           "c": [0.08, 0.001, 0.0064, 0.1]}, index=["none", "L1", "shrunk", "L2"])
    table = zeroed_inputs(inputs, "none").set_index("variant")
    assert table.loc["L1", "zeroed"] == 2 and table.loc["L1", "zeroed inputs"] == "a, c"  # below 0.05 × 0.05
    assert table.loc["L1", "kept inputs"] == "b"
    assert table.loc["shrunk", "zeroed"] == 0 and table.loc["shrunk", "scale"] == pytest.approx(0.08)
    assert table.loc["L2", "zeroed inputs"] == "b" and table.loc["none", "zeroed"] == 0
    assert table.loc["none", "scale"] == pytest.approx(1.0)


def test_layers_that_are_not_dense_are_named_as_skipped(workdir):
    run_quietly([WithBatchNorm()], workdir)
    page = (workdir.reports / "with-batchnorm" / "index.html").read_text()
    assert "Not analysed (not Dense): norm." in page
    table = pd.read_csv(workdir.reports / "with-batchnorm" / "weights-per-layer.csv")
    assert set(table["layer"]) == {"first", "out"}


def test_band_draws_the_mean_and_one_std_of_the_splits_still_running():
    import matplotlib.pyplot as plt

    table = np.array([[4.0, 3.0, 2.0, 1.0], [2.0, 1.0, np.nan, np.nan]])
    fig, ax = plt.subplots()
    figures.band(ax, table, "x")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 2.0, 2.0, 1.0])
    upper = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(upper, 4.0).any() and np.isclose(upper, 2.0).any()  # mean ± std = 3 ± 1 at epoch 1
    figures._stops(ax, table, [4, 2], "red")
    np.testing.assert_allclose(ax.collections[-1].get_offsets(), [[4, 1.0], [2, 1.0]])
    plt.close(fig)


def test_every_table_and_figure_is_exported_under_a_unique_name(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    table = pd.DataFrame({"variant": ["none"], "score": [0.5]})
    section = Section("Same title", figure=fig, table=table,
                      subsections=[Section("Same title", table=table), Section("Same title", table=table)])
    exports = Exports(tmp_path)
    rendered = render_section(section, tmp_path, exports=exports)
    names = [rendered["csv"], rendered["figure"]["png"], rendered["figure"]["svg"]] + [s["csv"] for s in rendered["subsections"]]
    assert names == ["same-title.csv", "same-title.png", "same-title.svg", "same-title-same-title.csv",
                     "same-title-same-title-2.csv"]
    for name in names:
        assert (tmp_path / name).stat().st_size > 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "same-title-same-title-2.csv"), table)
    assert (tmp_path / "same-title.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_layers_are_matched_by_place_whatever_keras_numbered_them():
    from types import SimpleNamespace

    from harness.stats.weights import layer_summary

    rng = np.random.default_rng(0)
    rows = []
    for split, names in enumerate([("dense", "dense_1"), ("dense_2", "dense_3")]):
        weights = {f"sequential_{split}/{names[0]}/kernel": rng.normal(size=(3, 4)),
                   f"sequential_{split}/{names[0]}/bias": np.zeros(4),
                   f"sequential_{split}/{names[1]}/kernel": rng.normal(size=(4, 2))}
        rows.append({"variant": "none", "split": split, "weights": weights})
    results = SimpleNamespace(networks=["none"], ok=lambda: pd.DataFrame(rows))
    table = layer_summary(results)
    assert list(table["layer"]) == ["dense", "dense_1"] and list(table["splits"]) == [2, 2]


def test_input_names_strip_only_a_column_transformers_own_prefixes(tmp_path):
    from sklearn.preprocessing import StandardScaler

    from harness.runner import input_names, prepare

    class Underscored(TinyClassification):
        name = "underscored"

        def load_data(self, data_dir):
            data = super().load_data(data_dir)
            data.X.columns = ["left__x", "right__x", "z", "a", "b"]
            return data

    class Scaled(Underscored):
        name = "scaled"

        def preprocessor(self, X):
            return StandardScaler()

    assert input_names(prepare(Scaled(), tmp_path)) == ["left__x", "right__x", "z", "a", "b"]
    assert input_names(prepare(Underscored(), tmp_path)) == ["left__x", "right__x", "z", "a", "b"]


def test_csv_exports_neutralise_formulas_in_every_text_column(tmp_path):
    from harness.report import write_csv

    frame = pd.DataFrame({"=name": pd.Categorical(["=HYPERLINK(1)", "ok"]), "text": ["+1+1", "@x"],
                          "number": [-1.5, 2.0]})
    write_csv(frame, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv")
    assert list(back.columns) == ["'=name", "text", "number"]
    assert list(back["'=name"]) == ["'=HYPERLINK(1)", "ok"] and list(back["text"]) == ["'+1+1", "'@x"]
    assert list(back["number"]) == [-1.5, 2.0]


def test_log_axes_label_ticks_as_plain_numbers_not_unparsed_tex(tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, (ax, other) = plt.subplots(1, 2)
    ax.plot([1, 2, 3], [1e-3, 1e-1, 10])
    ax.set_yscale("log")
    fig.colorbar(other.imshow([[1e-4, 1.0]], norm=LogNorm()), ax=other)  # a log colour bar too
    figures.save(fig, tmp_path / "f.png", tmp_path / "f.svg")
    svg = (tmp_path / "f.svg").read_text()  # matplotlib keeps each text as a comment beside its outline
    assert "mathdefault" not in svg and "$" not in svg
    assert "<!-- 0.001 -->" in svg and "<!-- 10 -->" in svg


def test_log_axes_over_decades_label_only_what_matplotlib_labels(tmp_path):
    """Over 2.3 decades matplotlib labels the decades, not the minor ticks between them (every
    minor label once crowded toy-1d's MSE axis: 0.02 0.03 … 0.09 on top of each other)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2], [0.002, 0.4])
    ax.set_yscale("log")
    figures.save(fig, tmp_path / "f.png", tmp_path / "f.svg")
    svg = (tmp_path / "f.svg").read_text()
    assert "<!-- 0.01 -->" in svg and "<!-- 0.1 -->" in svg
    assert "<!-- 0.03 -->" not in svg and "<!-- 0.005 -->" not in svg


def test_a_page_of_one_split_repeated_says_its_p_values_measure_seed_noise(workdir):
    """FixedSplit trains every split on the same rows with another seed: its paired tests say
    that they measure training's seed-to-seed spread on one draw of the data; a K-fold page
    does not say so."""
    from harness.splitters import FixedSplit
    from tests.conftest import TinyClassification, run_fake

    class Repeated(TinyClassification):
        name = "one-split-repeated"

        def splitter(self):
            return FixedSplit(40, 3)

    run_fake([Repeated(), TinyClassification()], workdir)
    repeated = (workdir.reports / "one-split-repeated" / "index.html").read_text()
    kfold = (workdir.reports / "tiny-classification" / "index.html").read_text()
    assert "seed to seed on this one draw of the data" in repeated
    assert "seed to seed on this one draw of the data" not in kfold


def test_a_learning_curves_paired_tests_compare_within_each_training_size(workdir):
    """TrainingSizeSplit: the page keeps the pooled table but adds one per training-set size, whose
    p-values are the paired t-test of that size's splits alone (computed here with scipy)."""
    from scipy import stats as sps

    from harness.splitters import TrainingSizeSplit
    from harness.store import Store
    from tests.conftest import run_fake, tiny_regression

    class Curve(TinyClassification):
        name = "curve"
        task = "regression"
        patience = None
        standardize_target = False

        def load_data(self, data_dir):
            return tiny_regression(n=30 * 3 + 60 * 3 + 40)

        def splitter(self):
            return TrainingSizeSplit([30, 60], repeats=3, n_test=40)

    run_fake([Curve()], workdir)
    page = (workdir.reports / "curve" / "index.html").read_text()
    assert "train on 2 different numbers of rows (30, 60)" in page
    with Store(workdir.db) as store:
        results = store.results("curve", weights=False)
    for size, first in ((30, 0), (60, 3)):
        table = pd.read_csv(workdir.reports / "curve" / f"paired-{size}-rows.csv").set_index("variant")
        ok = results.splits[results.splits["split"].between(first, first + 2)]
        scores = ok.pivot(index="split", columns="variant", values="score")
        p = sps.ttest_rel(scores["L2 1e-3"], scores["none"]).pvalue
        assert table.at["L2 1e-3", "p"] == pytest.approx(p, rel=1e-3, abs=1e-4)


def test_long_curves_are_pixels_in_the_svg_and_short_ones_stay_vectors(tmp_path, monkeypatch):
    """A 2000-epoch loss curve (toy-1d's) is drawn as an image inside the SVG, its axes and text
    still vector, and the file is a fraction of the all-vector one; a 100-epoch curve stays a path."""
    rng = np.random.default_rng(0)

    def svg_of(epochs, name):
        decay = np.exp(-np.arange(epochs) / (epochs / 5))
        curves = {f"v{i}": (decay + 0.01 * rng.random((5, epochs)), decay + 0.02 * rng.random((5, epochs)),
                            [epochs // 2] * 5) for i in range(4)}
        figures.save(figures.loss_curves(curves), tmp_path / f"{name}.png", tmp_path / f"{name}.svg")
        return (tmp_path / f"{name}.svg").read_text()

    short, long = svg_of(100, "short"), svg_of(2000, "long")
    assert "<image" not in short and "<image" in long and "<path" in long  # axes, ticks and text stay vector
    monkeypatch.setattr(figures, "DENSE_POINTS", 10**9)
    vector = svg_of(2000, "vector")
    assert "<image" not in vector and len(long) < len(vector) / 3


def test_a_report_file_is_replaced_whole_or_not_at_all(tmp_path):
    """harness/report/atomic.py: a write that fails leaves the previous file and no temporary
    file; a new file gets the permissions a plain write gives (not mkstemp's 0600)."""
    from harness.report import atomic

    page = tmp_path / "index.html"
    atomic.write_text(page, "<html>old</html>")
    with pytest.raises(RuntimeError), atomic.replacing(page) as temporary:
        temporary.write_text("<html>half")
        raise RuntimeError("killed halfway")
    assert page.read_text() == "<html>old</html>" and [p.name for p in tmp_path.iterdir()] == ["index.html"]
    (tmp_path / "plain.html").write_text("x")
    assert page.stat().st_mode == (tmp_path / "plain.html").stat().st_mode


def test_temporary_files_a_killed_report_left_are_removed_when_their_folder_is_written(tmp_path):
    import os

    from harness.report import atomic

    stale, fresh, other = (tmp_path / name for name in (".a.svg.0123abcd.tmp", ".b.csv.89abcdef.tmp", ".keep.tmp"))
    for path in (stale, fresh, other):
        path.write_text("partial")
    os.utime(stale, (atomic._STARTED - 60, atomic._STARTED - 60))  # left by a process before this one
    os.utime(other, (atomic._STARTED - 60, atomic._STARTED - 60))  # not a name the report gives
    atomic.write_bytes(tmp_path / "f.png", b"png")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".b.csv.89abcdef.tmp", ".keep.tmp", "f.png"]
