"""The stacked engine trains thousands of members in bounded memory: it cuts a grid into
stacked models of at most `max_members` (and within its per-epoch byte budget), so 2000 tiny
members take little more memory than 200 (#15 item 7). Each size runs in its own process,
whose peak resident memory is what is compared."""
import json
import subprocess
import sys
import textwrap

import numpy as np

from tests.conftest import REPO

SCRIPT = textwrap.dedent("""
    import json, resource, sys
    sys.path.insert(0, {repo!r})
    from harness import Variant
    from harness.engines.stacked import StackedEngine
    from harness.runner import prepare
    from tests.conftest import TinyClassification

    class Many(TinyClassification):
        name = "many"
        folds = 5
        epochs = 2
        patience = None
        variants = tuple(Variant(f"L2 {{i}}", l2=1e-6 * (i + 1)) for i in range({members} // 5))

    prepared = prepare(Many(), "/nonexistent")
    engine = StackedEngine()
    groups = engine.groups(prepared.exp, prepared.splits, prepared.jobs)
    chunks = [len(c) for g in groups for c in engine.chunks(prepared.exp, prepared.splits, g)]
    records = []
    engine.run(prepared.exp, "d", prepared.splits, prepared.jobs, records.append)
    print(json.dumps({{"members": len(prepared.jobs), "ok": sum(r.ok for r in records), "chunks": chunks,
                      "max_members": engine.max_members,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
""")


def run(members: int) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(repo=str(REPO), members=members)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_thousand_members_train_in_bounded_memory():
    small, large = run(200), run(2000)
    assert small["ok"] == small["members"] == 200 and large["ok"] == large["members"] == 2000
    assert max(large["chunks"]) <= large["max_members"] and sum(large["chunks"]) == 2000 and len(large["chunks"]) >= 8
    # measured here: 854 MB for 200 members, 960 MB for 2000 (most of it TensorFlow itself)
    assert large["peak_mb"] < small["peak_mb"] + 0.4 * small["peak_mb"], (small, large)


def test_members_that_share_a_split_hold_its_rows_once(monkeypatch):
    """The variants of a paired design train on the same splits: a stacked model holds each
    split's training rows once (S·N rows, not M·N), and each member still trains and is scored
    on its own split's rows (what the equivalence tests of test_stacked.py check against Keras)."""
    from harness import Variant
    from harness.engines.stacked import StackedEngine, training
    from harness.runner import prepare
    from tests.conftest import TinyClassification

    class Shared(TinyClassification):
        name = "shared"
        folds = 3
        variants = tuple(Variant(f"L2 {i}", l2=1e-4 * (i + 1)) for i in range(4))

    stages = []
    build = training.Stage.__init__

    def spy(self, *args, **kwargs):
        build(self, *args, **kwargs)
        stages.append(self)

    monkeypatch.setattr(training.Stage, "__init__", spy)
    prepared = prepare(Shared(), "/nonexistent")
    records = []
    StackedEngine().run(prepared.exp, "d", prepared.splits, prepared.jobs, records.append)
    assert len(records) == 12 and all(r.ok for r in records)
    stage = stages[0]
    splits = {id(m.split): m.split for m in stage.members}
    assert len(stage.members) == 12 and len(splits) == 3
    longest = max(len(fd.x_fit) for fd in splits.values())
    assert tuple(stage.model.x_train.shape) == (3 * longest, prepared.splits[0].x_fit.shape[1])
    # member m's row r is its own split's row r
    for i, member in enumerate(stage.members):
        base = int(stage.model.row_base[i, 0])
        np.testing.assert_array_equal(stage.model.x_train.numpy()[base : base + len(member.split.x_fit)],
                                      member.split.x_fit.astype("float32"))


def test_a_calls_batch_orders_stay_within_their_byte_bound():
    """A compiled call's batch orders (members × epochs × rows, int32) are held three times
    over; their size per call is bounded (ORDER_BYTES), down to one epoch per call."""
    from types import SimpleNamespace

    from harness.engines.stacked import training

    for members, width, epochs, patience in [(256, 1600, 500, None), (12, 64, 500, None), (180, 3000, 200, 5),
                                             (256, 2**20, 10, None)]:
        exp = SimpleNamespace(epochs=epochs, patience=patience)
        per_call = training.epochs_per_call(exp, members, width)
        assert 1 <= per_call <= epochs
        assert per_call == 1 or per_call * members * width * 4 <= training.ORDER_BYTES
        most = training.EPOCHS_PER_CALL if patience is None else training.EPOCHS_PER_CALL_STOPPING
        # as many epochs as the bound allows: one more would pass it (or the cap)
        assert per_call in (epochs, most) or (per_call + 1) * members * width * 4 > training.ORDER_BYTES
