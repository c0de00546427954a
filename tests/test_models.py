"""The default builder: penalties on hidden kernels only, dropout after hidden layers."""
import keras
import numpy as np
import pytest

from harness import HarnessError, Variant
from harness.models import mlp
from tests.conftest import TinyClassification


def numpy_penalty(model, l1s, l2s):
    """l1·Σ|w| + l2·Σw² over each hidden layer's kernel, from the weights as NumPy arrays."""
    total = 0.0
    for i, (l1, l2) in enumerate(zip(l1s, l2s), start=1):
        kernel = model.get_layer(f"hidden_{i}").kernel.numpy().astype("float64")
        total += l1 * np.abs(kernel).sum() + l2 * np.square(kernel).sum()
    return total


@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (1e-2, 0.0), (0.0, 1e-2), (3e-3, 5e-2)])
def test_penalty_matches_numpy_over_hidden_kernels_only(l1, l2):
    keras.utils.set_random_seed(3)
    model = mlp(6, 3, hidden=(7, 5), l1=l1, l2=l2)
    model(np.zeros((1, 6), dtype="float32"))
    penalty = float(sum(float(loss) for loss in model.losses))
    expected = numpy_penalty(model, [l1, l1], [l2, l2])
    assert penalty == pytest.approx(expected, rel=1e-5, abs=1e-12)
    assert model.get_layer("output").kernel_regularizer is None
    for i in (1, 2):
        assert model.get_layer(f"hidden_{i}").bias_regularizer is None
    if l1 or l2:
        assert expected > 0  # the check above compared a real penalty, not two zeros


def test_per_layer_penalties_and_dropout():
    keras.utils.set_random_seed(4)
    model = mlp(4, 2, hidden=(6, 3), layer_l1=[0.0, 1e-2], layer_l2=[2e-2, 0.0], layer_dropout=[0.5, 0.0])
    model(np.zeros((1, 4), dtype="float32"))
    assert float(sum(float(v) for v in model.losses)) == pytest.approx(
        numpy_penalty(model, [0.0, 1e-2], [2e-2, 0.0]), rel=1e-5)
    names = [layer.name for layer in model.layers]
    assert names == ["hidden_1", "dropout_1", "hidden_2", "output"]
    assert model.get_layer("dropout_1").rate == 0.5


def test_dropout_follows_every_hidden_layer():
    model = mlp(4, 2, hidden=(6, 3), dropout=0.2)
    assert [layer.name for layer in model.layers] == ["hidden_1", "dropout_1", "hidden_2", "dropout_2", "output"]


def test_experiment_builder_reads_variant():
    exp = TinyClassification()
    model = exp.build_model(Variant("v", l2=1e-3, settings={"hidden": (4, 4)}), 5, 3)
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [4, 4, 3]
    assert model.layers[-1].activation.__name__ == "softmax"


@pytest.mark.parametrize("kwargs,message", [
    ({"l1": -1e-3}, "l1 must be a finite number >= 0"),
    ({"l2": -1.0}, "l2 must be a finite number >= 0"),
    ({"dropout": 1.0}, "dropout must be in [0, 1)"),
    ({"dropout": -0.1}, "dropout must be in [0, 1)"),
    ({"weight_decay": float("nan")}, "weight_decay must be a finite number >= 0"),
])
def test_variant_rejects_bad_settings(kwargs, message):
    with pytest.raises(HarnessError, match=message.replace("[", r"\[").replace(")", r"\)")):
        Variant("bad", **kwargs)


def test_the_penalty_kind_is_read_from_the_built_model_and_the_hash_follows_the_config():
    from harness.regularizers import regularization_of

    def kind(variant):
        return regularization_of(TinyClassification().build_model(variant, 4, 3)).penalty_kind

    assert kind(Variant("a", l1=1e-4, l2=1e-4)) == "L1L2"
    assert kind(Variant("a", l2=1e-4)) == "L2"
    assert kind(Variant("a")) == "none"
    assert kind(Variant("a", settings={"layer_l1": [1e-4]})) == "L1"  # however the variant asks for it
    assert Variant("a", l2=1e-4).config_hash() == Variant("a", l2=1e-4).config_hash()
    assert Variant("a", l2=1e-4).config_hash() != Variant("a", l2=1e-3).config_hash()


def test_members_that_share_a_seed_share_their_initial_draws_and_get_what_they_would_draw_alone():
    """`initial_weights` with a dict kept across models (what a stacked model's build does):
    every model gets exactly the values it draws on its own, and two variants that share a
    seed and layer shapes (a paired design's variants on one split) draw once, not twice."""
    from harness.engines.keras_fit import initial_weights

    plain = mlp(5, 3, hidden=(6, 4))
    penalized = mlp(5, 3, hidden=(6, 4), l2=1e-2, dropout=0.3)  # same shapes, other variant
    wider = mlp(5, 3, hidden=(8, 4))
    drawn: dict = {}
    shared = [initial_weights(model, seed, drawn) for model, seed in ((plain, 7), (penalized, 7), (plain, 8), (wider, 7))]
    alone = [initial_weights(model, seed) for model, seed in ((plain, 7), (penalized, 7), (plain, 8), (wider, 7))]
    for got, expected in zip(shared, alone):
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
    kernels = len(plain.layers)  # seeded (Glorot); the biases' zeros take no seed and are not lent
    # seed 7 drawn once for both variants, seed 8 anew, and the wider model's two kernels of other shapes anew
    assert len(drawn) == 2 * kernels + 2
    assert not np.array_equal(shared[0][0], shared[2][0])  # another seed, other values
    np.testing.assert_array_equal(shared[0][0], shared[1][0])
