"""Weight constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm) against Keras' formulas, applied
after each optimizer step; activity regularizers in the loss and its gradient."""

import numpy as np
import pytest

import rnnkit
from rnnkit import constraints, layers, optimizers, regularizers
from rnnkit.variables import Variable

EPS = 1e-7


def test_constraints_follow_keras_formulas():
    w = np.array([[3.0, 0.1], [4.0, -0.2]])  # column norms 5 and sqrt(0.05)
    norms = np.sqrt((w ** 2).sum(axis=0, keepdims=True))
    np.testing.assert_allclose(constraints.MaxNorm(2.0)(w), w * np.minimum(norms, 2) / (EPS + norms), rtol=1e-15)
    np.testing.assert_allclose(constraints.UnitNorm()(w), w / (EPS + norms), rtol=1e-15)
    np.testing.assert_array_equal(constraints.NonNeg()(w), [[3.0, 0.1], [4.0, 0.0]])
    desired = 0.5 * np.clip(norms, 0.5, 1.0) + 0.5 * norms
    np.testing.assert_allclose(constraints.MinMaxNorm(0.5, 1.0, rate=0.5)(w), w * desired / (EPS + norms), rtol=1e-15)
    rows = constraints.MaxNorm(1.0, axis=1)(w)
    np.testing.assert_allclose(np.sqrt((rows ** 2).sum(axis=1)), [1.0, 1.0], rtol=1e-6)
    assert constraints.MaxNorm(2.0)(w.astype(np.float32)).dtype == np.float32
    for name, cls in (("max_norm", constraints.MaxNorm), ("non_neg", constraints.NonNeg),
                      ("unit_norm", constraints.UnitNorm), ("min_max_norm", constraints.MinMaxNorm)):
        made = constraints.get(name)
        assert type(made) is cls
        assert constraints.deserialize(constraints.serialize(made)).get_config() == made.get_config()
    with pytest.raises(ValueError, match="unknown constraint 'radial'"):
        constraints.get("radial")


def test_optimizers_apply_constraints_after_each_step():
    variable = Variable(np.array([[1.0], [1.0]]), name="w", constraint=constraints.MaxNorm(1.0))
    optimizers.SGD(1.0).apply([np.array([[-2.0], [-2.0]])], [variable])  # (3, 3), norm 4.24 -> 1
    np.testing.assert_allclose(variable.value, [[1 / np.sqrt(2)], [1 / np.sqrt(2)]], rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: layers.Dense(4, kernel_constraint="non_neg", bias_constraint=constraints.NonNeg()),
    lambda: layers.LSTM(4, kernel_constraint="non_neg", recurrent_constraint="non_neg", bias_constraint="non_neg"),
    lambda: layers.GRU(4, kernel_constraint="non_neg", recurrent_constraint="non_neg", bias_constraint="non_neg"),
    lambda: layers.SimpleRNN(4, kernel_constraint="non_neg", recurrent_constraint="non_neg",
                             bias_constraint="non_neg"),
])
def test_layers_keep_their_weights_constrained_through_fit(make):
    rng = np.random.default_rng(0)
    layer = make()
    inputs = (5,) if isinstance(layer, layers.Dense) else (6, 3)
    model = rnnkit.Sequential([layers.Input(inputs), layer, layers.Dense(1)])
    model.compile(optimizers.SGD(0.05), "mse")
    x = rng.normal(size=(32,) + inputs).astype(np.float32)
    model.fit(x, rng.normal(size=(32, 1)), epochs=2, batch_size=8, verbose=0)
    for weight in layer.weights:
        assert weight.value.min() >= 0
    config = layer.get_config()
    assert any(config.get(k) == {"class_name": "NonNeg", "config": {}} for k in config if k.endswith("constraint"))
    again = type(layer).from_config(config)
    assert type(again.cell.kernel_constraint if hasattr(again, "cell") else again.kernel_constraint) is \
        constraints.NonNeg


def test_embedding_takes_a_constraint():
    embedding = layers.Embedding(10, 3, embeddings_constraint=constraints.UnitNorm(axis=1))
    model = rnnkit.Sequential([layers.Input((4,), dtype="int64"), embedding, layers.GRU(2), layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.arange(40).reshape(10, 4) % 10, np.ones((10, 1)), epochs=1, verbose=0)
    np.testing.assert_allclose(np.linalg.norm(embedding.get_weights()[0], axis=1), 1.0, rtol=1e-5)


def test_activity_regularizer_adds_to_the_loss_and_its_gradient():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 5, 2)), rng.normal(size=(8, 1))

    def build(activity):
        rnnkit.utils.set_random_seed(0)
        model = rnnkit.Sequential([layers.Input((5, 2), dtype="float64"),
                                   layers.GRU(3, activity_regularizer=activity, dtype="float64"),
                                   layers.Dense(1, dtype="float64")])
        model.compile(optimizers.SGD(0.1), "mse")
        return model

    plain, regularized = build(None), build(regularizers.L2(0.3))
    hidden = layers.GRU(3, dtype="float64")
    hidden.build((None, 5, 2))
    hidden.set_weights(regularized.layers[0].get_weights())
    penalty = 0.3 * np.sum(hidden(x) ** 2)
    assert regularized.evaluate(x, y, verbose=0) == pytest.approx(plain.evaluate(x, y, verbose=0) + penalty,
                                                                  rel=1e-12)
    # The gradient of the penalty reaches the GRU: one step of SGD moves its weights differently.
    plain.train_on_batch(x, y)
    regularized.train_on_batch(x, y)
    before = hidden.get_weights()
    moved_plain = [a - b for a, b in zip(plain.layers[0].get_weights(), before)]
    moved_regularized = [a - b for a, b in zip(regularized.layers[0].get_weights(), before)]
    assert not np.allclose(moved_plain[0], moved_regularized[0])
    # ... by exactly the gradient of the penalty: checked against finite differences.
    check = layers.GRU(3, activity_regularizer=regularizers.L2(0.3), dtype="float64")
    check.build((None, 5, 2))
    check.set_weights(before)
    from rnnkit.layers.base import activity_losses

    def loss_of(weights):
        check.set_weights(weights)
        with activity_losses() as collected:
            check.forward(x)
        return sum(collected)

    with activity_losses():
        _, pullback = check.forward(x)
        _, grads = pullback(None)
    analytic = grads[check.cell.kernel]
    numerical = np.zeros_like(before[0])
    for index in np.ndindex(*before[0].shape):
        shifted = [w.copy() for w in before]
        shifted[0][index] += 1e-6
        up = loss_of(shifted)
        shifted[0][index] -= 2e-6
        numerical[index] = (up - loss_of(shifted)) / 2e-6
    np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-9)
    assert regularized.layers[0].get_config()["activity_regularizer"] == {"class_name": "L2", "config": {"l2": 0.3}}
