"""The results store round-trips every field of a fold record."""
import numpy as np
import pytest

from harness import load_results
from harness.engines.base import FoldRecord, decode_weights
from harness.store import Store


def record(fold, status="ok", **kw):
    base = dict(
        experiment="exp <1>", dataset="data", variant="L2 1e-4", config={"name": "L2 1e-4", "l2": 1e-4},
        config_hash="abc123", fold=fold, seed=1234 + fold, status=status, reason=None if status == "ok" else "NaN loss",
        score=0.5 + fold / 10, train_score=0.9, metrics={"test_accuracy": 0.5 + fold / 10, "test_log_loss": 0.7},
        epochs=12, best_epoch=9, seconds=1.25, loss=[1.0, 0.5, None], val_loss=[1.1, 0.6, 0.65], engine="keras",
    )
    base.update(kw)
    return FoldRecord(**base)


def test_store_round_trip(tmp_path):
    import io
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{"hidden_1/kernel": np.arange(6, dtype="float32").reshape(2, 3)})
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        run_id = store.start_run("exp <1>", "data", {"score": "accuracy", "greater_is_better": True}, "keras")
        written = [record(0, weights=buffer.getvalue()), record(1, status="failed", score=None, train_score=None)]
        for r in written:
            r.run_id = run_id
            store.add_fold(r)
        store.finish_run(run_id)
        runs = store.runs()
    assert runs.loc[0, "status"] == "finished" and runs.loc[0, "settings"]["score"] == "accuracy"
    frame = load_results(db, with_weights=True)
    assert len(frame) == 2
    for r, (_, row) in zip(written, frame.iterrows()):
        for field in ("run_id", "experiment", "dataset", "variant", "config", "config_hash", "fold", "seed",
                      "status", "reason", "metrics", "epochs", "best_epoch", "seconds", "loss", "val_loss", "engine"):
            assert row[field] == getattr(r, field), field
        if r.score is None:
            assert np.isnan(row["score"])
        else:
            assert row["score"] == pytest.approx(r.score)
    weights = decode_weights(frame.loc[0, "weights"])
    np.testing.assert_array_equal(weights["hidden_1/kernel"], np.arange(6).reshape(2, 3))


def test_latest_run_only_by_default(tmp_path):
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        for score in (0.1, 0.2):
            run_id = store.start_run("e", "d", {}, "keras")
            r = record(0, score=score, experiment="e")
            r.run_id = run_id
            store.add_fold(r)
    assert list(load_results(db)["score"]) == [0.2]
    assert sorted(load_results(db, latest=False)["score"]) == [0.1, 0.2]


def test_missing_database_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "nothing.sqlite")
