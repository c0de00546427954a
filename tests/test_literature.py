"""Experiments that follow the literature, and the report sections they add."""
import keras
import numpy as np
import pandas as pd

from harness import Results, Section, Variant, load_results
from harness.store import Store
from harness.core import RunRecord, decode_weights
from harness.core.run import TrainingSettings
from tests.conftest import TinyClassification, run_quietly

from harness.builtin import mccaffrey


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
    assert (folds["status"] == "ok").all() and folds["split"].nunique() == exp.repeats
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

    def report_sections(self, results):
        table = results.ok().groupby("variant", as_index=False)["score"].mean()
        return [Section("Mean <score>", "per variant", table=table, csv="means.csv")]


class BrokenSections(TinyClassification):
    name = "broken-sections"

    def report_sections(self, results):
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
    from harness.builtin import brownlee

    variants = brownlee.grid_variants()
    assert len(variants) == 1 + 3 * 6 + 1 and len({v.name for v in variants}) == len(variants)
    rng = np.random.default_rng(0)
    rows = []
    for variant in variants:
        for split in range(5):
            rows.append({"variant": variant.name, "config": variant.config(), "split": split,
                         "status": "failed" if (variant.name == "L2 1e-03" and split == 0) else "ok",
                         "score": rng.uniform(0.7, 0.9), "train_score": 1.0, "epochs": 1, "best_epoch": 1,
                         "seconds": 0.0, "metrics": {}, "weights": None})
    from harness.regularizers import regularization_of

    exp = brownlee.BrownleeGrid()  # what regularizes each variant, read from the model it builds
    read = {v.name: regularization_of(exp.build_model(v, 2, 2)) for v in variants}
    assert read["per-layer: L1 1e-4 first, L2 1e-3 second"].penalty_kind == "mixed"
    run = RunRecord("grid", "moons", TrainingSettings({"score": "accuracy"}), variants=variants, regularization=read)
    splits = pd.DataFrame(rows).drop(columns="config").assign(kind="network")
    table = brownlee.grid_table(Results("grid", "run", "moons", 0.0, "finished", run, splits))
    assert len(table) == 18 and set(table["penalty"]) == {"L1", "L2", "L1L2"}
    for penalty, strength, l1, l2 in (("L1", 1e-1, 1e-1, 0.0), ("L2", 1e-3, 0.0, 1e-3), ("L1L2", 1e-6, 1e-6, 1e-6)):
        picked = [r["score"] for r in rows if r["config"]["l1"] == l1 and r["config"]["l2"] == l2
                  and not r["config"]["settings"] and r["status"] == "ok"]
        row = table[(table["penalty"] == penalty) & (table["strength"] == strength)].iloc[0]
        assert row["count"] == len(picked)
        np.testing.assert_allclose([row["mean"], row["std"]], [np.mean(picked), np.std(picked, ddof=1)])


# ---------------------------------------------------------------- Sjöo: λ* against N
def test_sjoo_clouds_have_the_thesis_geometry():
    from harness.builtin import sjoo

    x, y = sjoo.gaussian_clouds(40_000, np.random.default_rng(0))
    assert x.shape == (40_000, 10) and y.mean() == 0.5
    centres = np.array([x[y == k].mean(axis=0) for k in (0, 1)])
    assert abs(np.linalg.norm(centres[1] - centres[0]) - 13.86) < 0.3
    spread = np.concatenate([x[y == k] - centres[k] for k in (0, 1)]).std(axis=0)
    np.testing.assert_allclose(spread, 8.0, rtol=0.03)


def test_sjoo_grid_is_the_thesis_fourteen_strengths():
    from harness.builtin import sjoo

    assert len(sjoo.LAMBDAS) == 14 and min(sjoo.LAMBDAS) == 1e-5 and np.isclose(max(sjoo.LAMBDAS), 0.02)
    assert np.allclose(sjoo.LAMBDAS[:4], [1e-5, 2e-5, 4e-5, 8e-5])
    assert len(sjoo.FULL_SIZES) == 10 and sjoo.FULL_SIZES[0] == 108 and sjoo.FULL_SIZES[-1] == 3300


def _fake_results(points):
    """Results as the store gives them, from (split, N, penalty, λ, validation loss)."""
    from harness.builtin import sjoo

    variants = sjoo.sjoo_variants(["L2"], [1.0])
    by_lambda = {v.settings["lam"]: v.name for v in variants}
    rows = pd.DataFrame([{"variant": by_lambda[lam], "split": split, "status": "ok", "score": loss,
                          "train_score": loss, "epochs": 1, "best_epoch": 1, "seconds": 0.0,
                          "metrics": {"train_rows": n}, "weights": None, "kind": "network"}
                         for split, n, penalty, lam, loss in points])
    run = RunRecord("sjoo", "clouds", TrainingSettings({"score": "log_loss"}), variants=variants)
    return Results("sjoo", "run", "clouds", 0.0, "finished", run, rows)


def test_sjoo_best_lambda_per_grid_and_slope_against_numpy():
    """λ* is each split's argmin within each grid; the slope is NumPy's least-squares fit of
    log10 λ* on log10 N, and a 1/N law gives b = -1 inside its confidence interval."""
    from harness.builtin import sjoo

    rng = np.random.default_rng(1)
    points, truth_star = [], {}
    for fold, n in enumerate([100, 100, 300, 300, 1000, 1000, 3000, 3000]):
        star = sjoo.LAMBDAS[int(np.argmin(np.abs(np.log(np.array(sjoo.LAMBDAS) / (2.0 / n)))))]
        truth_star[fold] = star
        for lam in sjoo.LAMBDAS + sjoo.EXTENSION:
            loss = 0.4 + (np.log(lam / star)) ** 2 + rng.uniform(0, 1e-3)
            points.append((fold, n, "L2", lam, loss))
    points.append((0, 100, "L2", 0.8, 0.1))  # split 0's best on the extended grid only
    points = [p for p in points if not (p[0] == 0 and p[3] == 0.8 and p[4] != 0.1)]
    best = sjoo.best_lambdas(_fake_results(points))
    thesis = best[best["grid"].str.startswith("thesis")]
    extended = best[best["grid"].str.startswith("extended")]
    assert dict(zip(thesis["split"], thesis["lambda_star"])) == truth_star
    assert extended.set_index("split").loc[0, "lambda_star"] == 0.8
    table = sjoo.slope_table(best)
    row = table[table["grid"].str.startswith("thesis")].iloc[0]
    b, a = np.polyfit(np.log10(thesis["N"]), np.log10(thesis["lambda_star"]), 1)
    assert np.isclose(row["slope"], b) and np.isclose(row["intercept"], a)
    assert row["ci_low"] <= -1 <= row["ci_high"] and row["thesis_slope"] == -0.79
    # the CI and the test of b = -1 by hand: residual variance, slope SE, Student t with n-2 df
    from scipy import stats as sps

    x, y = np.log10(thesis["N"].to_numpy()), np.log10(thesis["lambda_star"].to_numpy())
    residual = y - (a + b * x)
    se = np.sqrt(np.sum(residual ** 2) / (len(x) - 2) / np.sum((x - x.mean()) ** 2))
    t = sps.t.ppf(0.975, len(x) - 2)
    assert np.isclose(row["slope_se"], se) and np.isclose(row["ci_low"], b - t * se) and np.isclose(row["ci_high"], b + t * se)
    assert np.isclose(row["p_slope_is_minus_one"], 2 * sps.t.sf(abs(b + 1) / se, len(x) - 2))
    assert table[table["grid"].str.startswith("extended")].iloc[0]["at_grid_edge"] == 1


def test_sjoo_initial_weights_follow_the_variance_scale():
    """Weights drawn as both engines draw them have variance scale/fan_in."""
    from harness.engines.keras_fit import initial_weights

    from harness.builtin import sjoo

    exp = sjoo.SjooLambdaVsN()
    for scale in (0.1, 10.0):
        variant = sjoo.sjoo_variants(["L2"], [scale], [1e-3])[0]
        kernel = initial_weights(exp.build_model(variant, 400, 2), seed=3)[0]
        assert kernel.shape == (400, 15)
        np.testing.assert_allclose(kernel.var(), scale / 400, rtol=0.1)


class TinySjoo:
    @staticmethod
    def make():
        from harness.builtin import sjoo

        class Tiny(sjoo.SjooLambdaVsN):
            name = "tiny-sjoo"
            sizes = (16, 48)
            repeats = 2
            n_validation = 300
            epochs = 3
            penalties = ("L2",)

        return Tiny()


def test_sjoo_run_writes_the_slope_table(workdir):
    exp = TinySjoo.make()
    run_quietly([exp], workdir)
    folds = load_results(workdir.db)
    assert len(folds) == len(exp.variants) * 4 and (folds["status"] == "ok").all()
    assert sorted(folds.groupby("split")["metrics"].first().map(lambda m: m["train_rows"])) == [16, 16, 48, 48]
    slopes = pd.read_csv(workdir.reports / exp.name / "slopes.csv")
    assert "slope" in slopes.columns and len(slopes) == 2 and slopes["points"].tolist() == [4, 4]


# ---------------------------------------------------------------- the 1-D toy
def test_toy_curves_come_from_the_stored_weights(workdir):
    """The report draws curves from stored weights in NumPy: they must equal the Keras model
    with those weights; the ensemble's MSE is never above its members' mean."""
    from harness.builtin import toy1d

    class Tiny(toy1d.Toy1D):
        name = "tiny-toy"
        epochs = 30
        repeats = 3
        n_test = 200
        variants = (Variant("none"), Variant("L2 0.001", l2=1e-3), Variant("L1 0.001", l1=1e-3))

    exp = Tiny()
    run_quietly([exp], workdir)
    folds = load_results(workdir.db, with_weights=True)
    assert (folds["status"] == "ok").all() and len(folds) == 9
    x = np.linspace(-1, 1, 17)
    for _, fold in folds.iterrows():
        model = exp.build_model(Variant("none"), 1, 1)
        model.set_weights(list(decode_weights(fold["weights"]).values()))
        weights = decode_weights(fold["weights"])
        np.testing.assert_allclose(toy1d.forward(weights, x), np.asarray(model(x.reshape(-1, 1))).ravel(), atol=1e-5)
        kernels = [w for name, w in weights.items() if name.endswith("kernel")]
        assert toy1d.kernel_count_above(weights) == sum(int((np.abs(k) > toy1d.THRESHOLD).sum()) for k in kernels)
    # the report reads the data from the store, exactly as the run loaded it
    with Store(workdir.db) as store:
        stored = store.results(exp.name).data
    loaded = exp.load_data(None)
    pd.testing.assert_frame_equal(stored.X, loaded.X)
    pd.testing.assert_series_equal(stored.y, loaded.y)
    folder = workdir.reports / exp.name
    ensemble = pd.read_csv(folder / "ensemble.csv").set_index("variant")
    for name, group in folds.groupby("variant"):  # NumPy curves on the test rows vs the stored scores
        np.testing.assert_allclose(ensemble.loc[name, "mean member test MSE"], np.mean(group["score"] ** 2), rtol=1e-4)
    stopping = pd.read_csv(folder / "early_stopping.csv")
    none = folds[folds["variant"] == "none"].sort_values("split")
    np.testing.assert_allclose(stopping["test MSE at best epoch"], [min(c) for c in none["val_loss"]], rtol=1e-6)
    np.testing.assert_allclose(stopping["test MSE at last epoch"], none["score"] ** 2, rtol=1e-4)
    assert set(pd.read_csv(folder / "penalty_strength.csv")["penalty"]) == {"none", "L1", "L2"}
