"""Datasets: the download cache with its checksum, offline skipping, Heaton's preprocessing."""
import hashlib

import numpy as np
import pandas as pd
import pytest

import harness.builtin.heaton as heaton
from harness import HarnessError, load_results
from harness.data import CHECKSUMS, cached_file, sklearn_dataset
from harness.errors import DataUnavailable
from harness.runner import prepare
from tests.conftest import TinyRegression, run_fake

UNREACHABLE = "http://127.0.0.1:9/jh-simple-dataset.csv"


def write_jh_simple(folder, n=140, seed=0):
    """A file with jh-simple-dataset.csv's columns and kinds of values (not its data)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "id": np.arange(1, n + 1),
        "job": rng.choice(["vv", "kd", "pe", "11", "e2"], n),
        "area": rng.choice(list("abcd"), n),
        "income": rng.normal(50000, 12000, n).round(1),
        "aspect": rng.normal(50, 10, n),
        "subscriptions": rng.integers(0, 3, n),
        "dist_healthy": rng.random(n),
        "save_rate": rng.integers(0, 100, n),
        "dist_unhealthy": rng.random(n),
        "age": rng.integers(18, 80, n),
        "pop_dense": rng.random(n),
        "retail_dense": rng.random(n),
        "crime": rng.random(n),
        "product": np.array(list("abcdefg"))[np.arange(n) % 7],
    })
    frame["income"] = frame["income"].astype(object)
    frame.loc[[3, 10, 50], "income"] = "NA"
    frame.loc[[20], "income"] = "?"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "jh-simple-dataset.csv", index=False)
    return frame


def test_heaton_preprocessing_on_a_local_copy(tmp_path):
    raw = write_jh_simple(tmp_path)
    exp = heaton.HeatonProduct().configured(folds=3)
    prepared = prepare(exp, tmp_path)
    data = prepared.data
    assert data.task == "classification" and "product" not in data.X and "id" not in data.X
    assert data.X["income"].isna().sum() == 4  # 'NA' and '?' read as missing
    fd = prepared.splits[0]
    # 5 job + 4 area one-hot, income, 4 z-scored (aspect, save_rate, subscriptions, age), 5 passed through
    assert fd.n_inputs == 5 + 4 + 1 + 4 + 5
    assert fd.n_outputs == 7
    onehot = fd.x_fit[:, :9]
    assert set(np.unique(onehot)) <= {0.0, 1.0} and (onehot.sum(axis=1) == 2).all()
    zscored = fd.x_fit[:, 9:14]
    np.testing.assert_allclose(zscored.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(zscored.std(axis=0), 1, atol=1e-4)
    passthrough = fd.x_fit[:, 14:]
    expected = raw.loc[data.X.index[fd.fit_index], ["dist_healthy", "dist_unhealthy", "pop_dense", "retail_dense", "crime"]]
    np.testing.assert_allclose(passthrough, expected.to_numpy(), rtol=1e-6)
    assert (tmp_path / CHECKSUMS).read_text().split()[0] == hashlib.sha256(
        (tmp_path / "jh-simple-dataset.csv").read_bytes()).hexdigest()


def test_heaton_regression_target_is_raw_age_with_product_one_hot(tmp_path):
    raw = write_jh_simple(tmp_path)
    prepared = prepare(heaton.HeatonAge().configured(folds=3), tmp_path)
    fd = prepared.splits[0]
    assert fd.n_outputs == 1 and fd.target_mean == 0.0 and fd.target_std == 1.0
    np.testing.assert_allclose(fd.y_fit, raw["age"].to_numpy()[fd.fit_index])
    assert fd.n_inputs == 5 + 4 + 7 + 1 + 3 + 5  # job, area, product one-hot; income; 3 z-scored; 5 raw


def test_checksum_mismatch_is_an_error(tmp_path):
    write_jh_simple(tmp_path)
    cached_file(UNREACHABLE, tmp_path)  # records the checksum
    with open(tmp_path / "jh-simple-dataset.csv", "a") as handle:
        handle.write("9999,vv,a,1,1,1,0.5,1,0.5,30,0.5,0.5,0.5,a\n")
    with pytest.raises(HarnessError, match="SHA-256"):
        cached_file(UNREACHABLE, tmp_path)


def test_offline_and_uncached_is_skipped_and_the_rest_runs(workdir, monkeypatch):
    monkeypatch.setattr(heaton, "JH_SIMPLE_URL", UNREACHABLE)
    with pytest.raises(DataUnavailable, match="--data-dir"):
        heaton.HeatonAge().load_data(workdir.data)
    outcomes, printed = run_fake([heaton.HeatonAge().configured(quick=True), TinyRegression()], workdir)
    skipped = [line for line in printed.splitlines() if line.startswith("skipped heaton-age:")]
    assert len(skipped) == 1
    assert [o.experiment for o in outcomes if o.skipped] == ["heaton-age"]
    assert set(load_results(workdir.db)["experiment"]) == {"tiny-regression"}


@pytest.mark.parametrize("name,rows,task", [("wine", 178, "classification"), ("breast_cancer", 569, "classification"),
                                            ("diabetes", 442, "regression")])
def test_bundled_datasets_need_no_network(name, rows, task):
    data = sklearn_dataset(name)
    assert len(data.X) == rows and data.task == task


def test_heaton_age_is_compared_with_the_pooled_out_of_fold_rmse(workdir):
    """Part 5.2 prints one RMSE over all out-of-fold predictions: the report's figure pools
    the splits' RMSEs by their test rows, and K-fold scores every row once."""
    write_jh_simple(workdir.data)
    exp = heaton.HeatonAge().configured(folds=3, epochs=2)
    run_fake([exp], workdir)
    rows = load_results(workdir.db)
    rows = rows[rows["variant"] == "none"]
    n = np.array([m["test_rows"] for m in rows["metrics"]], dtype=float)
    assert n.sum() == len(exp.load_data(workdir.data).X)
    pooled = np.sqrt(np.sum(n * rows["score"].to_numpy() ** 2) / n.sum())
    summary = pd.read_csv(workdir.reports / "heaton-age" / "summary.csv").set_index("variant")
    assert summary.loc["none", "pooled_rmse"] == pytest.approx(pooled)
    page = (workdir.reports / "heaton-age" / "index.html").read_text()
    assert "pooled over the folds" in page and f"{pooled:.4f}" in page


@pytest.fixture
def server(tmp_path):
    """A local HTTP server (127.0.0.1) serving tmp_path/served/, whose /broken.csv promises
    1000 bytes and sends 10 before it hangs up."""
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.endswith("/broken.csv"):
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"a,b\n1,2\n3,")
                self.wfile.flush()
                self.close_connection = True
                return
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_pinned_download_lands_only_when_its_sha256_matches(server, tmp_path):
    import hashlib

    served, base = server
    (served / "good.csv").write_text("a,b\n1,2\n")
    pin = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    cache = tmp_path / "cache"
    path = cached_file(f"{base}/good.csv", cache, sha256=pin)
    assert path.read_text() == "a,b\n1,2\n"
    # the server's copy changes: the pinned cached copy is still used, without a download
    (served / "good.csv").write_text("a,b\n6,6\n")
    assert cached_file(f"{base}/good.csv", cache, sha256=pin).read_text() == "a,b\n1,2\n"
    # a new pin the server's copy does not match: refused with both hashes, the old copy kept
    wrong = "0" * 64
    with pytest.raises(HarnessError) as refused:
        cached_file(f"{base}/good.csv", cache, sha256=wrong)
    served_hash = hashlib.sha256(b"a,b\n6,6\n").hexdigest()
    message = str(refused.value)
    assert "\n" not in message and served_hash in message and wrong in message and "kept" in message
    assert path.read_text() == "a,b\n1,2\n"
    assert sorted(p.name for p in cache.iterdir()) == ["good.csv"]  # no partial or temporary file
    # uncached, a download that does not match the pin never lands
    with pytest.raises(HarnessError, match=served_hash):
        cached_file(f"{base}/good.csv", tmp_path / "fresh", sha256=pin)
    assert not any((tmp_path / "fresh").iterdir())


def test_a_broken_download_never_lands_in_the_cache(server, tmp_path):
    served, base = server
    cache = tmp_path / "cache"
    with pytest.raises(DataUnavailable) as unavailable:
        cached_file(f"{base}/broken.csv", cache)
    assert "\n" not in str(unavailable.value)
    assert not cache.exists() or not any(cache.iterdir())  # neither the file nor a temporary one
