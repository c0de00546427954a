"""`make perf`'s arithmetic: the grid's floating-point operations against a hand count, and a
tiny run of the whole script (its timings are quoted in README, never asserted)."""
import contextlib
import io
import re

from harness import perf
from harness.perf_fused import fused_fit
from harness.runner import prepare


def test_grid_flops_counts_forward_and_backward_passes_by_hand():
    exp = perf.PerfGrid().configured(epochs=3)
    exp.variants = perf.grid_variants(2)
    prepared = prepare(exp, "/nonexistent")
    # 10→50→25→4: 500 + 1250 + 100 multiply-adds per row; 5-fold CV of 1000 rows, no validation split
    macs = 10 * 50 + 50 * 25 + 25 * 4
    per_member = 3 * 800 * (6 * macs - 2 * 10 * 50) + 200 * 2 * macs
    assert perf.grid_flops(prepared, prepared.jobs) == len(prepared.jobs) * per_member == 10 * per_member


def test_the_perf_script_prints_the_floor_and_the_multiples():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert perf.main(["--variants", "2", "--wide-variants", "--epochs", "2", "--keras-fits", "1",
                          "--sklearn-fits", "1", "--repeats", "1"]) == 0
    text = out.getvalue()
    assert "GFLOP/s" in text and "stacked ÷ floor" in text and "keras ÷ floor" in text and "sklearn ÷ floor" in text
    assert "stacked ÷ fused" in text and "fused ÷ floor" in text


def test_the_fused_loop_learns_the_grid_and_its_penalty_shrinks():
    """The hand-written loop trains what the stacked engine trains: on the 4-class grid, 20
    epochs reach the accuracy the engine reaches (chance is 0.25), and a strong L2 member
    scores worse than unpenalized members on the same split and order."""
    exp = perf.PerfGrid().configured(epochs=20)
    exp.variants = perf.grid_variants(2)
    prepared = prepare(exp, "/nonexistent")
    splits = [prepared.splits[0]] * 3
    _, scores = fused_fit(splits, [0.0, 0.0, 1.0], [7, 7, 7], exp.hidden_units, exp.epochs, exp.batch_size,
                          exp.learning_rate)
    assert min(scores[:2]) > 0.85
    assert scores[2] < min(scores[:2]) - 0.1


def test_the_gpu_check_refuses_in_one_line_without_a_gpu(capsys):
    """CI never has a GPU: the check says so and exits 2; nothing else needs one."""
    from harness import gpu_check

    assert gpu_check.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no CUDA device is visible to TensorFlow") and "\n" not in err


def test_the_wide_first_layer_forms_compute_the_batched_gradient():
    """`python -m harness.perf_wide`: each wide form is the per-member product regrouped, so its
    kernels' gradient equals the batched one's (the script prints the difference; here it must
    be float32 rounding), in the executor and under XLA."""
    from harness.perf_wide import measure

    rows = measure(members=6, group=3, features=7, units=4, batch=5, repeats=1)
    assert [(name, where) for name, where, _, _ in rows] == [
        (name, where) for where in ("executor", "XLA") for name in ("batched", "wide, kernels moved", "wide, kernels kept wide")]
    assert all(diff < 1e-5 for _, _, _, diff in rows)
    assert all(ms > 0 for _, _, ms, _ in rows)


def test_the_stage_clock_splits_a_real_run_into_its_parts(capsys):
    """`python -m harness.perf_stages NAME`: a real stacked run, its engine time split into
    build, compile, train and score; every stacked model counted once as first or compacted
    and once as XLA or executor; nothing left wrapped afterwards."""
    from harness.engines.stacked import loop, training
    from harness.perf_stages import main

    before = (training.Stage.__init__, training.Stage.outcomes, loop.EpochLoop.__call__)
    clock = main(["mccaffrey-l2-demo"])
    out = capsys.readouterr().out
    assert (training.Stage.__init__, training.Stage.outcomes, loop.EpochLoop.__call__) == before
    head = out.splitlines()[0]
    counts = re.search(r"over (\d+) stacked models \((\d+) first, (\d+) compacted; (\d+) under XLA, (\d+) in the executor\)",
                       head)
    assert counts, head
    stages, first, compacted, xla, executor = map(int, counts.groups())
    assert stages >= 1 and first + compacted == stages == xla + executor
    assert [line.split()[0] for line in out.splitlines()[1:5]] == ["build", "compile", "train", "score"]
    assert all(clock.seconds[part] > 0 for part in ("build", "compile", "train", "score"))  # each part was timed
    assert clock.counts["stages"] == stages and len(clock.shapes) == stages
    assert "whose shapes an earlier one had" in out
