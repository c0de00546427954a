"""The stacked engine against plain Keras: same losses, same weights, same early stopping."""
import math

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from harness import Variant, load_results
from harness.engines.keras_fit import build_member, loss_for, targets_for
from harness.engines.stacked import training as stacked
from harness.engines.stacked import Member, StackedEngine, member_order, train_members
from harness.engines.stacked.layers import StackedDropout
from harness.errors import HarnessError
from harness.runner import prepare
from tests.conftest import TinyClassification, TinyRegression, run_quietly


class Equivalence(TinyClassification):
    """Small enough to train in seconds; folds of unequal size (61 rows, 3 folds)."""

    name = "equivalence"
    folds = 3
    epochs = 6
    batch_size = 16  # training folds of 40 and 41 rows: 3 steps each, last batches of 8 and 9
    hidden_units = (7, 5)
    activation = "relu"
    patience = None
    learning_rate = 0.01

    def load_data(self, data_dir):
        from tests.conftest import tiny_classification
        return tiny_classification(n=61)


_REFERENCE_FITS: dict = {}


def reference_fit(exp, variant, fd, seed):
    """A plain Keras model.fit of the member's own model, fed the member's batches in the same
    order, with Keras' own EarlyStopping when the experiment has a patience. Fitted once per
    (settings, variant, split, seed): the tests that train the same members several ways (in
    TensorFlow's executor and in XLA, across calls of many epochs or few) share it."""
    from harness.jobs import split_fingerprint

    key = (type(exp).__qualname__, repr(sorted(exp.settings().items())), variant.config_hash(), split_fingerprint(fd),
           seed)
    if key not in _REFERENCE_FITS:
        _REFERENCE_FITS[key] = _reference_fit(exp, variant, fd, seed)
    return _REFERENCE_FITS[key]


def member_batches(exp, fd, seed, y, sample_weight=None):
    """The member's training batches, epoch after epoch, in the order the stacked engine feeds
    it (`member_order`), as a dataset for `model.fit`, with each row's weight as a third element
    where given; and its steps per epoch."""
    steps = math.ceil(len(fd.x_fit) / exp.batch_size)

    def batches():
        for epoch in range(exp.epochs):
            rows = member_order(seed, epoch, len(fd.x_fit))
            for s in range(steps):
                take = rows[s * exp.batch_size:(s + 1) * exp.batch_size]
                yield (fd.x_fit[take], y[take]) + (() if sample_weight is None else (sample_weight[take],))

    spec = (tf.TensorSpec((None, fd.n_inputs), tf.float32), tf.TensorSpec((None,), tf.as_dtype(y.dtype)))
    if sample_weight is not None:
        spec += (tf.TensorSpec((None,), tf.float32),)
    return tf.data.Dataset.from_generator(batches, output_signature=spec), steps


def _reference_fit(exp, variant, fd, seed):
    model = build_member(exp, variant, fd, seed)
    n_out = int(model.outputs[0].shape[-1])
    model.compile(optimizer=exp.make_optimizer(variant), loss=loss_for(exp, n_out))
    data, steps = member_batches(exp, fd, seed, targets_for(fd.y_fit, n_out))
    callbacks, validation = [], None
    if exp.patience is not None:
        stopper = keras.callbacks.EarlyStopping(patience=exp.patience, min_delta=exp.min_delta, restore_best_weights=True)
        callbacks.append(stopper)
        validation = (fd.x_val, targets_for(fd.y_val, n_out))
    history = model.fit(data, steps_per_epoch=steps, epochs=exp.epochs, validation_data=validation,
                        shuffle=False, verbose=0, callbacks=callbacks).history
    best = callbacks[0].best_epoch + 1 if callbacks else len(history["loss"])
    return model, history, best


def stacked_members(exp, tmp_path):
    prepared = prepare(exp, tmp_path)
    engine = StackedEngine()
    members = []
    for job in prepared.jobs:
        fd = prepared.splits[job.split]
        template, spec = engine.template(exp, job.variant, fd)
        members.append(Member(job, fd, spec, template))
    return members


def assert_same_training(exp, members, trained, rtol=2e-5, atol=2e-5):
    for member, result in zip(members, trained):
        model, history, best = reference_fit(exp, member.job.variant, member.split, member.job.seed)
        assert result.epochs == len(history["loss"]), member.job.variant.name
        assert result.best_epoch == best
        np.testing.assert_allclose(result.loss, history["loss"], rtol=rtol, atol=atol)
        if "val_loss" in history:
            np.testing.assert_allclose(result.val_loss, history["val_loss"], rtol=rtol, atol=atol)
        for own, ref in zip(result.weights, model.get_weights()):
            np.testing.assert_allclose(own, ref, rtol=rtol, atol=atol, err_msg=f"{member.job.variant.name} fold {member.job.split}")


VARIANTS = (
    Variant("none"),
    Variant("L1", l1=3e-3),
    Variant("L2", l2=1e-2),
    Variant("L1L2", l1=2e-3, l2=5e-3),
    Variant("weight decay", weight_decay=0.05),
    Variant("per-layer", settings={"layer_l1": [1e-2, 0.0], "layer_l2": [0.0, 2e-2]}),
)


@pytest.mark.parametrize("jit_compile", [None, True])
def test_members_match_plain_fit_without_early_stopping(tmp_path, jit_compile):
    """In TensorFlow's executor (what a run this small chooses) and as one XLA program."""
    exp = Equivalence()
    exp.variants = VARIANTS
    members = stacked_members(exp, tmp_path)
    assert len({len(m.split.x_fit) for m in members}) > 1  # folds of different sizes share the stack
    trained = train_members(exp, members, jit_compile=jit_compile)
    assert len(trained) == len(VARIANTS) * 3
    assert_same_training(exp, members, trained)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_tanh_regression_members_match_plain_fit(tmp_path, jit_compile):
    """tanh, MSE, with and without XLA. Batched and plain matmuls (and XLA's tanh) round an ulp
    apart; Adam divides each gradient by its running magnitude, so for weights whose gradient is
    near zero that ulp grows to ~1e-4 within a few epochs: the tolerance. Measured on this
    setup: the same member agrees to 1.2e-7; a 10% wrong L2 differs by 1.1e-2 and another batch
    order by 6.4e-2, so the check still tells a right member from a wrong one."""
    exp = Equivalence()
    exp.task, exp.load_data, exp.activation = "regression", TinyRegression().load_data, "tanh"
    exp.variants = VARIANTS[:3]
    members = stacked_members(exp, tmp_path)
    assert_same_training(exp, members, train_members(exp, members, jit_compile=jit_compile), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("epochs_per_call, jit_compile, compact", [(128, None, False), (4, True, False), (4, None, True)])
def test_members_stop_early_at_their_own_epochs_with_their_own_best_weights(tmp_path, monkeypatch, epochs_per_call,
                                                                            jit_compile, compact):
    """Early stopping decided inside the compiled loop, whether a member's patience runs out
    within one call or across calls of 4 epochs, in TensorFlow's executor and in XLA, and with
    the stopped members dropped from the stacked model after every call that stopped one."""
    monkeypatch.setattr(stacked, "EPOCHS_PER_CALL_STOPPING", epochs_per_call)
    compactions = []
    if compact:
        def always(stage, active, remaining):
            compactions.append(len(active))  # the members of the stacked model that ran this call
            return not active.all()

        monkeypatch.setattr(stacked, "worth_compacting", always)
    exp = Equivalence()
    exp.variants = (Variant("none"), Variant("L2", l2=3e-2), Variant("L1", l1=1e-2))
    exp.epochs, exp.patience, exp.learning_rate = 60, 3, 0.05
    members = stacked_members(exp, tmp_path)
    trained = train_members(exp, members, jit_compile=jit_compile)
    epochs = [t.epochs for t in trained]
    assert len(set(epochs)) > 1 and min(epochs) < exp.epochs  # they really stopped, and apart
    if compact:  # the stacked model really shrank as its members stopped
        assert compactions == sorted(compactions, reverse=True) and compactions[-1] < compactions[0]
    assert_same_training(exp, members, trained, rtol=1e-4, atol=1e-4)


def test_compaction_changes_nothing_when_every_dropout_member_has_left(tmp_path, monkeypatch):
    """Dropping stopped members must not change how the others train, also once the last
    member that drops out has stopped, when the smaller stacked model has no dropout layer
    at all (its variables then no longer line up with the larger model's: a run of
    madelon-like once failed every job there)."""
    monkeypatch.setattr(stacked, "EPOCHS_PER_CALL_STOPPING", 4)
    exp = Equivalence()
    exp.variants = (Variant("none"), Variant("dropout", dropout=0.3), Variant("L2", l2=3e-2))
    exp.epochs, exp.patience, exp.learning_rate = 40, 3, 0.05
    members = stacked_members(exp, tmp_path)
    monkeypatch.setattr(stacked, "worth_compacting", lambda stage, active, remaining: False)
    whole = train_members(exp, members)
    lost_dropout = []
    compacted = stacked.Stage.compacted

    def spy(stage, exp, keep):
        new = compacted(stage, exp, keep)
        had, has = (any(isinstance(layer, StackedDropout) for layer in s.model.stack_layers) for s in (stage, new))
        lost_dropout.append(had and not has)
        return new

    monkeypatch.setattr(stacked.Stage, "compacted", spy)
    monkeypatch.setattr(stacked, "worth_compacting", lambda stage, active, remaining: not active.all())
    shrunk = train_members(exp, members)
    assert any(lost_dropout)  # the case this test is for happened
    for a, b in zip(whole, shrunk):
        assert a.failure is None and b.failure is None
        assert a.epochs == b.epochs
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5, atol=1e-6)
        for wa, wb in zip(a.weights, b.weights):
            np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_a_member_trains_the_same_alone_or_beside_others(tmp_path):
    """Nothing couples members: not other penalties, dropout, decay, nor a member gone NaN."""
    exp = Equivalence()
    exp.variants = (Variant("target", l2=1e-3),)
    alone = stacked_members(exp, tmp_path)[:1]
    result_alone = train_members(exp, alone)[0]
    exp.variants = (Variant("target", l2=1e-3), Variant("dropout", dropout=0.5), Variant("decay", weight_decay=0.3),
                    Variant("exploding", l2=1e38))
    crowd = [m for m in stacked_members(exp, tmp_path) if m.job.split == 0]
    results = train_members(exp, crowd)
    assert results[3].failure and "NaN" in results[3].failure
    np.testing.assert_allclose(results[0].loss, result_alone.loss, rtol=1e-6)
    for a, b in zip(results[0].weights, result_alone.weights):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


class WithPReLU(TinyClassification):
    name = "with-prelu"
    variants = (Variant("none"), Variant("prelu", settings={"prelu": True}))

    def build_model(self, variant, n_inputs, n_outputs):
        if not variant.settings.get("prelu"):
            return super().build_model(variant, n_inputs, n_outputs)
        return keras.Sequential([keras.Input((n_inputs,)), keras.layers.Dense(8), keras.layers.PReLU(),
                                 keras.layers.Dense(n_outputs, activation="softmax")])


class PReLUByName(TinyClassification):
    """A variant named 'prelu' that is an ordinary, stackable MLP."""

    name = "prelu-by-name"
    variants = (Variant("none"), Variant("prelu", l2=1e-3))


def test_auto_falls_back_to_one_fit_per_fold_and_says_why_for_that_experiment_only(workdir):
    run_quietly([WithPReLU(), PReLUByName()], workdir, engine="auto")
    folds = load_results(workdir.db)
    engines = folds.groupby(["experiment", "variant"])["engine"].agg(set).to_dict()
    assert engines == {("with-prelu", "none"): {"stacked"}, ("with-prelu", "prelu"): {"keras"},
                       ("prelu-by-name", "none"): {"stacked"}, ("prelu-by-name", "prelu"): {"stacked"}}
    assert (folds["status"] == "ok").all()
    page = (workdir.reports / "with-prelu" / "index.html").read_text()
    assert "Variant &#39;prelu&#39; trained with one model.fit per split" in page and "PReLU" in page
    other = (workdir.reports / "prelu-by-name" / "index.html").read_text()
    assert "one model.fit per split" not in other  # a note describes its own experiment's variants


def test_engine_stacked_refuses_what_it_cannot_stack(workdir):
    with pytest.raises(HarnessError, match="cannot train variant 'prelu'.*PReLU"):
        run_quietly([WithPReLU()], workdir, engine="stacked")


class DropoutAgreement(TinyClassification):
    name = "dropout-agreement"
    folds = 5
    epochs = 30
    batch_size = 32
    hidden_units = (32, 16)
    patience = None
    variants = (Variant("none"), Variant("dropout 0.5", dropout=0.5))

    def load_data(self, data_dir):
        from tests.conftest import tiny_classification
        return tiny_classification(n=400, seed=self.seed)


@pytest.mark.slow
def test_with_dropout_both_engines_agree_statistically(workdir):
    """The engines draw batch orders and dropout masks from different random streams, so a
    member's numbers differ between them; over 4 seeds × 5 folds the stacked engine's final
    training loss and test log loss must match one model.fit per fold in distribution (paired
    t-test at 1%, means within 5%), with and without dropout."""
    from scipy import stats

    frames = []
    for seed in range(4):
        for engine in ("keras", "stacked"):
            exp = DropoutAgreement().configured(seed=seed)
            run_quietly([exp], workdir, engine=engine)
            frames.append(load_results(workdir.db).assign(data_seed=seed))  # the run just made
    folds = pd.concat(frames)
    assert set(folds["engine"]) == {"keras", "stacked"}
    assert (folds["status"] == "ok").all()
    folds["final_loss"] = folds["loss"].map(lambda losses: losses[-1])
    folds["test_log_loss"] = folds["metrics"].map(lambda m: m["test_log_loss"])
    wide = folds.pivot_table(index=["variant", "data_seed", "split"], columns="engine",
                             values=["final_loss", "test_log_loss"])
    none, dropout = wide.loc["none"], wide.loc["dropout 0.5"]
    assert len(dropout) == 20
    for variant, table in (("none", none), ("dropout", dropout)):
        for column in ("final_loss", "test_log_loss"):
            keras_values, stacked_values = table[(column, "keras")], table[(column, "stacked")]
            p_value = stats.ttest_rel(stacked_values, keras_values).pvalue
            ratio = stacked_values.mean() / keras_values.mean()
            print(f"{variant} {column}: stacked/keras mean {ratio:.4f}, paired t-test p={p_value:.3f}")
            assert p_value > 0.01, (variant, column)
            assert abs(ratio - 1) < 0.05, (variant, column)
    # the check has power: dropout 0.5 raises the training loss well above no dropout's
    for engine in ("keras", "stacked"):
        assert dropout[("final_loss", engine)].mean() > 1.3 * none[("final_loss", engine)].mean()


class FunctionalChain(Equivalence):
    """How many users write Keras: keras.Input → Dense → BatchNormalization → … as a functional
    model, with an activity penalty and LayerNormalization."""

    name = "functional-chain"

    def build_model(self, variant, n_inputs, n_outputs):
        penalty = keras.regularizers.L1L2(l1=variant.l1, l2=variant.l2) if (variant.l1 or variant.l2) else None
        activity = variant.settings.get("activity")
        inputs = keras.Input((n_inputs,))
        x = keras.layers.Dense(7, activation="relu", kernel_regularizer=penalty,
                               activity_regularizer=keras.regularizers.L1L2(*activity) if activity else None)(inputs)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.Dense(5, activation="tanh")(x)
        x = keras.layers.LayerNormalization()(x)
        outputs = keras.layers.Dense(n_outputs, activation="softmax")(x)
        return keras.Model(inputs, outputs)


CHAIN_VARIANTS = (
    Variant("none"),
    Variant("L2", l2=1e-2),
    Variant("activity", settings={"activity": (1e-3, 1e-2)}),
)


@pytest.mark.parametrize("patience", [None, 3])
def test_functional_chain_with_normalization_and_activity_penalty_matches_plain_fit(tmp_path, patience):
    """BatchNormalization's batch statistics are each member's own unmasked rows (folds of 40
    and 41 rows: short last batches); its moving averages are restored with the best weights."""
    exp = FunctionalChain()
    exp.variants = CHAIN_VARIANTS
    exp.patience = patience
    if patience is not None:
        exp.epochs, exp.learning_rate = 40, 0.05
    members = stacked_members(exp, tmp_path)
    assert all(m.spec is not None for m in members)
    trained = train_members(exp, members)
    if patience is not None:
        assert min(t.epochs for t in trained) < exp.epochs
    assert_same_training(exp, members, trained, rtol=1e-4, atol=1e-4)


def test_what_is_not_a_chain_or_not_stackable_says_why():
    from harness.engines.stacked import Unsupported, describe_model

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3)(inputs)
    branched = keras.Model(inputs, keras.layers.Add()([hidden, keras.layers.Dense(3)(inputs)]))
    with pytest.raises(Unsupported, match="not a chain"):
        describe_model(branched)
    with pytest.raises(Unsupported, match="PReLU.*is not one the stacked engine stacks"):
        describe_model(keras.Model(inputs, keras.layers.PReLU()(hidden)))
    skip = keras.layers.Dense(4)
    twice = keras.Model(inputs, skip(keras.layers.Dense(4)(skip(inputs))))
    with pytest.raises(Unsupported, match="not a chain"):
        describe_model(twice)
    with pytest.raises(Unsupported, match="activity regularizer"):
        describe_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                                         keras.layers.Activation("relu", activity_regularizer="l2"),
                                         keras.layers.Dense(1)]))


class Noisy(Equivalence):
    name = "noisy"
    patience = None

    def build_model(self, variant, n_inputs, n_outputs):
        return keras.Sequential([keras.Input((n_inputs,)), keras.layers.GaussianNoise(variant.settings.get("noise", 0.0)),
                                 keras.layers.Dense(7, activation="relu"), keras.layers.Dense(n_outputs, activation="softmax")])


def test_gaussian_noise_is_each_members_own_and_standard_normal(tmp_path):
    """Keras' noise comes from its own generator, so a noisy member cannot match a plain fit
    draw for draw; what must hold: with stddev 0 it is that fit, a member's noise does not
    depend on its neighbours, and the draws are N(0, 1) (Kolmogorov–Smirnov at 1%)."""
    from scipy import stats

    from harness.engines.stacked.layers import member_normal

    exp = Noisy()
    exp.variants = (Variant("silent", settings={"noise": 0.0}),)
    members = stacked_members(exp, tmp_path)
    assert_same_training(exp, members, train_members(exp, members))
    exp.variants = (Variant("target", settings={"noise": 0.3}),)
    alone = train_members(exp, stacked_members(exp, tmp_path)[:1])[0]
    exp.variants = (Variant("target", settings={"noise": 0.3}), Variant("other", settings={"noise": 0.3}))
    crowd = train_members(exp, [m for m in stacked_members(exp, tmp_path) if m.job.split == 0])[0]
    np.testing.assert_allclose(crowd.loss, alone.loss, rtol=1e-6)
    assert alone.loss != train_members(Equivalence(), stacked_members(Equivalence(), tmp_path)[:1])[0].loss
    draws = member_normal(tf.constant([7, 8], tf.uint32), tf.constant(3), (2, 100, 50)).numpy()
    for member in draws:
        assert stats.kstest(member.ravel(), "norm").pvalue > 0.01
    assert abs(np.corrcoef(draws[0].ravel(), draws[1].ravel())[0, 1]) < 0.05


def test_a_group_is_cut_into_the_fewest_chunks_of_even_size(tmp_path):
    exp = Equivalence()
    exp.variants = VARIANTS  # 6 variants × 3 folds: 18 members of one architecture
    prepared = prepare(exp, tmp_path)
    engine = StackedEngine(max_members=4)
    [group] = engine.groups(exp, prepared.splits, prepared.jobs)
    chunks = engine.chunks(exp, prepared.splits, group)
    assert [len(c) for c in chunks] == [4, 4, 4, 3, 3]
    assert [job for chunk in chunks for job in chunk] == group.jobs


@pytest.mark.parametrize("experiment, variants", [(Equivalence, VARIANTS), (FunctionalChain, CHAIN_VARIANTS)])
def test_members_are_scored_as_their_own_keras_models_score_them(tmp_path, monkeypatch, experiment, variants):
    """The stacked engine scores every member in one inference pass of the stacked model, with
    each member's chosen (best-epoch) weights, also for members dropped from the stacked model
    when they stopped; the scores must be those of the member's own Keras model."""
    from harness.scoring import evaluate, score_outputs

    monkeypatch.setattr(stacked, "EPOCHS_PER_CALL_STOPPING", 4)
    monkeypatch.setattr(stacked, "worth_compacting", lambda stage, active, remaining: not active.all())
    exp = experiment()
    exp.variants = variants
    exp.epochs, exp.patience, exp.learning_rate = 40, 3, 0.05
    members = stacked_members(exp, tmp_path)
    trained = train_members(exp, members)
    assert min(t.epochs for t in trained) < exp.epochs
    for member, result in zip(members, trained):
        member.template.set_weights(result.weights)
        expected = evaluate(exp, member.template, member.split)
        got = score_outputs(exp, member.split, result.outputs)
        assert got.keys() == expected.keys()
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=1e-5, abs=1e-6), (member.job.variant.name, name)
