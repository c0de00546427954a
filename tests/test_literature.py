"""Experiments that follow the literature, and the report sections they add."""
import keras
import numpy as np
import pandas as pd

from harness import Section, Variant, load_results
from harness.engines.base import decode_weights
from tests.conftest import TinyClassification, run_quietly

from experiments import mccaffrey


def test_mccaffrey_labels_are_the_generator_networks_argmax():
    """The generator as an ordinary Keras 10-15-4 network with the demo's weights must label
    every row as make_data does."""
    ih, hb, ho, ob = mccaffrey.generator_weights(3)
    flat = np.concatenate([ih.ravel(), hb, ho.ravel(), ob])
    assert len(flat) == 10 * 15 + 15 + 15 * 4 + 4 and np.abs(flat).max() <= 9.9
    generator = keras.Sequential([keras.Input((10,)), keras.layers.Dense(15, activation="tanh"),
                                  keras.layers.Dense(4, activation="softmax")])
    generator.set_weights([ih, hb, ho, ob])
    x, y = mccaffrey.make_data(200, inputs_seed=11)
    assert x.shape == (200, 10) and x.min() >= -10 and x.max() <= 10
    np.testing.assert_array_equal(y, np.asarray(generator(x.astype("float32"))).argmax(axis=1))
    x_again, _ = mccaffrey.make_data(200, inputs_seed=11)
    np.testing.assert_array_equal(x, x_again)


def test_mccaffrey_demo_reports_weight_magnitudes_of_the_stored_weights(workdir):
    exp = mccaffrey.McCaffreyDemo().configured(quick=True)
    run_quietly([exp], workdir)
    folds = load_results(workdir.db, with_weights=True)
    assert (folds["status"] == "ok").all() and folds["fold"].nunique() == exp.repeats
    table = pd.read_csv(workdir.reports / exp.name / "weight_magnitudes.csv")
    assert list(table["variant"]) == [v.name for v in exp.variants]
    for _, row in table.iterrows():
        norms = [np.sqrt(sum(float(np.sum(w.astype("float64") ** 2)) for name, w in decode_weights(blob).items()
                             if name.endswith("kernel")))
                 for blob in folds[folds["variant"] == row["variant"]]["weights"]]
        np.testing.assert_allclose(row["L2 norm mean"], np.mean(norms), rtol=1e-5)
    page = (workdir.reports / exp.name / "index.html").read_text()
    assert "Weight magnitudes" in page and "What the source reported" in page and "191 of 200" in page


class WithSections(TinyClassification):
    name = "with-sections"
    variants = (Variant("none"), Variant("<b>bold</b>", l2=1e-3))

    def report_sections(self, folds):
        table = folds.groupby("variant", as_index=False)["score"].mean()
        return [Section("Mean <score>", "per variant", table=table, csv="means.csv")]


class BrokenSections(TinyClassification):
    name = "broken-sections"

    def report_sections(self, folds):
        raise ValueError("no such column")


def test_report_sections_render_escaped_export_csv_and_survive_errors(workdir):
    run_quietly([WithSections(), BrokenSections()], workdir)
    page = (workdir.reports / "with-sections" / "index.html").read_text()
    assert "<h2>Mean &lt;score&gt;</h2>" in page and "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page
    exported = pd.read_csv(workdir.reports / "with-sections" / "means.csv")
    folds = load_results(workdir.db, experiment="with-sections")
    expected = folds.groupby("variant")["score"].mean()
    assert dict(zip(exported["variant"], exported["score"])) == expected.to_dict()
    broken = (workdir.reports / "broken-sections" / "index.html").read_text()
    assert "could not be computed: ValueError: no such column" in broken
    assert "Comparison of variants" in broken  # the rest of the report is still there


def test_brownlee_grid_table_matches_a_direct_computation():
    from experiments import brownlee

    variants = brownlee.grid_variants()
    assert len(variants) == 1 + 3 * 6 + 1 and len({v.name for v in variants}) == len(variants)
    rng = np.random.default_rng(0)
    rows = []
    for variant in variants:
        for fold in range(5):
            rows.append({"variant": variant.name, "config": variant.config(), "fold": fold,
                         "status": "failed" if (variant.name == "L2 1e-03" and fold == 0) else "ok",
                         "score": rng.uniform(0.7, 0.9)})
    folds = pd.DataFrame(rows)
    table = brownlee.grid_table(folds)
    assert len(table) == 18 and set(table["penalty"]) == {"L1", "L2", "L1L2"}
    for penalty, strength, l1, l2 in (("L1", 1e-1, 1e-1, 0.0), ("L2", 1e-3, 0.0, 1e-3), ("L1L2", 1e-6, 1e-6, 1e-6)):
        picked = [r["score"] for r in rows if r["config"]["l1"] == l1 and r["config"]["l2"] == l2
                  and not r["config"]["settings"] and r["status"] == "ok"]
        row = table[(table["penalty"] == penalty) & (table["strength"] == strength)].iloc[0]
        assert row["count"] == len(picked)
        np.testing.assert_allclose([row["mean"], row["std"]], [np.mean(picked), np.std(picked, ddof=1)])
