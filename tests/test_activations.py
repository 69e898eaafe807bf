"""Keras' activations in every layer that takes one: the C++ kernels against the NumPy reference
(tests/reference.py, from Keras' definitions), their gradients against finite differences
(gelu and silu in the recurrent layers through the pre-activations they keep for them), and
the error for softmax, which the recurrent kernels cannot run."""

import numpy as np
import pytest

import rnnkit
from rnnkit import activations, layers, ops

import reference as ref

NEW = ["elu", "selu", "softplus", "softsign", "exponential", "leaky_relu", "relu6", "gelu", "silu"]
RECURRENT = NEW


@pytest.mark.parametrize("name", activations.DENSE_ACTIVATIONS)
def test_dense_kernel_and_activation_layer_equal_the_reference(name):
    x = np.linspace(-8, 8, 4 * 33).reshape(4, 33)
    out = ops.dense_forward(x, np.eye(33), None, activation=name).output
    expected = ref.activation(name)(x)
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(layers.Activation(name, dtype="float64")(x), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(getattr(activations, name)(x), expected, rtol=1e-13, atol=1e-15)
    big = ops.dense_forward(np.array([[-1e4, 1e4]]), np.eye(2), activation=name).output
    assert name == "exponential" or np.isfinite(big).all()  # no overflow but exp's own


@pytest.mark.parametrize("name", NEW)
def test_dense_and_activation_layer_gradients(name):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(5, 4))
    x[np.abs(x) < 0.05] = 0.3  # away from the kinks at 0 (and 6 for relu6, out of range)
    dense = layers.Dense(3, activation=name, dtype="float64")
    dense.build((None, 4))
    rnnkit.gradcheck(dense, {"x": x}, order=4, rtol=1e-8, atol=1e-10)
    rnnkit.gradcheck(layers.Activation(name, dtype="float64"), {"x": x}, order=4, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", RECURRENT)
@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_recurrent_layers_run_them_as_the_reference(cell, name):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 6, 4)) * 0.7
    mask = np.arange(6)[None, :] < np.array([6, 4, 2])[:, None]
    make = {"simple_rnn": lambda **k: layers.SimpleRNN(5, return_sequences=True, dtype="float64", **k),
            "lstm": lambda **k: layers.LSTM(5, return_sequences=True, dtype="float64", **k),
            "gru": lambda **k: layers.GRU(5, return_sequences=True, dtype="float64", **k)}[cell]
    variants = [{"activation": name}] + ([{"recurrent_activation": name}] if cell != "simple_rnn" else [])
    for options in variants:
        layer = make(**options)
        layer.build((None, 6, 4))
        scale = 0.15 if name == "exponential" else 0.4  # exp grows: small weights keep 6 steps finite
        layer.set_weights([rng.normal(0, scale, w.shape) for w in layer.get_weights()])
        forward = {"simple_rnn": ref.simple_rnn_forward, "lstm": ref.lstm_forward, "gru": ref.gru_forward}[cell]
        expected = forward(x, *layer.get_weights(), mask=mask, **options)
        np.testing.assert_allclose(layer(x, mask=mask), expected.output, rtol=1e-11, atol=1e-13)
        # Kinks at 0 (and 6), and softsign's second derivative jumping at 0, spoil the 5-point
        # stencil's wide steps near them; a tiny 3-point step seldom straddles one.
        if name in ("relu6", "leaky_relu", "selu", "softsign"):
            rnnkit.gradcheck(layer, {"x": x}, order=2, eps=1e-7, rtol=1e-5, atol=1e-7)
        else:
            rnnkit.gradcheck(layer, {"x": x}, order=4, rtol=1e-7, atol=1e-9)


def test_recurrent_layers_refuse_softmax():
    with pytest.raises(ValueError, match="softmax normalizes a whole row"):
        layers.LSTM(3, activation="softmax")
    with pytest.raises(ValueError, match="'softmax' is not supported by recurrent cells"):
        ops.gru_forward(np.ones((1, 2, 2)), np.ones((2, 6)), np.ones((2, 6)), activation="softmax")


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_pre_activations_are_kept_only_where_needed(name):
    x = np.random.default_rng(0).normal(size=(2, 3, 2))
    w, u = np.ones((2, 8)) * 0.1, np.ones((2, 8)) * 0.1
    kept = ops.lstm_forward(x, w, u, recurrent_activation=name)
    assert kept.cache["pre_gates"].shape == (2, 3, 8)
    assert "pre_gates" not in ops.lstm_forward(x, w, u).cache
    with ops.no_backward():
        assert "pre_gates" not in ops.lstm_forward(x, w, u, activation=name).cache
    damaged = dict(kept.cache)
    del damaged["pre_gates"]
    with pytest.raises(ValueError, match="pre_gates"):
        rnnkit._core.lstm_backward(x, w, u, None, None, None, None, damaged, recurrent_activation=name)
    with pytest.raises(ValueError, match="unknown activation 'mish'"):
        layers.Dense(3, activation="mish")


def test_functions_and_aliases_as_keras_takes_them():
    dense = layers.Dense(2, activation=rnnkit.activations.gelu)
    assert dense.activation == "gelu" and dense.get_config()["activation"] == "gelu"
    assert layers.Dense(2, activation="swish").activation == "silu"
    assert layers.GRU(2, activation=rnnkit.activations.softsign).cell.activation == "softsign"
    assert layers.LSTM(2, activation="swish").cell.activation == "silu"
    assert rnnkit.activations.swish is rnnkit.activations.silu
    with pytest.raises(TypeError, match=r"rnnkit\.activations"):
        layers.Dense(2, activation=np.tanh)
    model = rnnkit.Sequential([layers.Input((4, 3)), layers.LSTM(5, activation="elu", recurrent_activation="softsign"),
                               layers.Dense(2, activation="gelu")])
    again = rnnkit.models.model_from_json(model.to_json())
    assert again.layers[0].cell.activation == "elu" and again.layers[1].activation == "gelu"
