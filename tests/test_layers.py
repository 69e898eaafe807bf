"""Layers: outputs equal the NumPy reference given get_weights(), Keras' weight layout and
parameter counts, states, masking, dropout, and clear errors."""

import numpy as np
import pytest

import rnnkit
from rnnkit import layers

import reference

N, T, F, H = 4, 6, 5, 3
LAYERS = [
    ("simple_rnn", lambda **kw: layers.SimpleRNN(H, **kw), {}),
    ("simple_rnn_relu", lambda **kw: layers.SimpleRNN(H, activation="relu", **kw), {"activation": "relu"}),
    ("lstm", lambda **kw: layers.LSTM(H, **kw), {}),
    ("lstm_peephole", lambda **kw: layers.LSTM(H, peephole=True, peephole_initializer="random_normal", **kw), {}),
    ("lstm_hard_sigmoid", lambda **kw: layers.LSTM(H, recurrent_activation="hard_sigmoid", **kw),
     {"recurrent_activation": "hard_sigmoid"}),
    ("gru", lambda **kw: layers.GRU(H, **kw), {}),
    ("gru_reset_before", lambda **kw: layers.GRU(H, reset_after=False, **kw), {"reset_after": False}),
]


def reference_output(layer, x, options, **kwargs):
    names = [w.name for w in layer.weights]
    weights = dict(zip(names, layer.get_weights()))
    forward = {"SimpleRNN": reference.simple_rnn_forward, "LSTM": reference.lstm_forward,
               "GRU": reference.gru_forward}[type(layer).__name__]
    return forward(x.astype(np.float64), **weights, go_backwards=layer.go_backwards,
                   return_sequences=layer.return_sequences, **options, **kwargs)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("name,make,options", LAYERS, ids=[entry[0] for entry in LAYERS])
def test_layer_output_equals_the_reference(floatx64, name, make, options, return_sequences, go_backwards):
    layer = make(return_sequences=return_sequences, go_backwards=go_backwards,
                 bias_initializer="random_normal")
    x = np.random.default_rng(0).standard_normal((N, T, F))
    y = layer(x)
    np.testing.assert_allclose(y, reference_output(layer, x, options).output, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,make,options", LAYERS, ids=[entry[0] for entry in LAYERS])
def test_float32_layer_output_within_1e5(name, make, options):
    layer = make(return_sequences=True, bias_initializer="random_normal")
    x = np.random.default_rng(1).standard_normal((N, T, F)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32 and all(w.dtype == np.float32 for w in layer.weights)
    np.testing.assert_allclose(y, reference_output(layer, x, options).output, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,make,options", LAYERS, ids=[entry[0] for entry in LAYERS])
def test_masked_call_equals_the_reference(floatx64, name, make, options):
    layer = make(return_sequences=True, bias_initializer="random_normal")
    x = np.random.default_rng(2).standard_normal((N, T, F))
    mask = np.random.default_rng(3).random((N, T)) < 0.7
    np.testing.assert_allclose(layer(x, mask=mask), reference_output(layer, x, options, mask=mask).output,
                               rtol=1e-12, atol=1e-12)


def test_weights_follow_keras_layout_and_parameter_counts():
    cases = [
        (layers.SimpleRNN(H), [(F, H), (H, H), (H,)], F * H + H * H + H),
        (layers.LSTM(H), [(F, 4 * H), (H, 4 * H), (4 * H,)], 4 * (F * H + H * H + H)),
        (layers.GRU(H), [(F, 3 * H), (H, 3 * H), (2, 3 * H)], 3 * (F * H + H * H + 2 * H)),
        (layers.GRU(H, reset_after=False), [(F, 3 * H), (H, 3 * H), (3 * H,)], 3 * (F * H + H * H + H)),
        (layers.LSTM(H, use_bias=False), [(F, 4 * H), (H, 4 * H)], 4 * (F * H + H * H)),
        (layers.LSTM(H, peephole=True), [(F, 4 * H), (H, 4 * H), (4 * H,), (3, H)], 4 * (F * H + H * H + H) + 3 * H),
        (layers.Dense(7), [(F, 7), (7,)], F * 7 + 7),
    ]
    for layer, shapes, count in cases:
        layer.build((None, T, F) if not isinstance(layer, layers.Dense) else (None, F))
        assert [w.shape for w in layer.get_weights()] == shapes, layer.name
        assert layer.count_params() == count
    lstm = cases[1][0]
    assert [w.name for w in lstm.weights] == ["kernel", "recurrent_kernel", "bias"]


def test_default_initializers_are_keras():
    layer = layers.LSTM(8)
    layer.build((None, T, F))
    kernel, recurrent, bias = layer.get_weights()
    limit = np.sqrt(6 / (F + 4 * 8))  # glorot_uniform over (F, 4H)
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.8 * limit
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)  # orthogonal rows
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])  # unit_forget_bias
    no_forget = layers.LSTM(8, unit_forget_bias=False)
    no_forget.build((None, T, F))
    assert not no_forget.get_weights()[2].any()


def test_set_weights_round_trip_and_errors():
    layer = layers.GRU(H)
    layer.build((None, T, F))
    new = [np.full(w.shape, 0.5, np.float32) for w in layer.get_weights()]
    layer.set_weights(new)
    assert all((w == 0.5).all() for w in layer.get_weights())
    with pytest.raises(ValueError, match=r"has 3 weights \(kernel, recurrent_kernel, bias\), got 2 arrays"):
        layer.set_weights(new[:2])
    with pytest.raises(ValueError, match=r"weight 'bias' has shape \(2, 9\), got an array of shape \(9,\)"):
        layer.set_weights(new[:2] + [np.zeros(9)])


def test_return_state_and_initial_state(floatx64):
    x = np.random.default_rng(4).standard_normal((N, T, F))
    lstm = layers.LSTM(H, return_sequences=True, return_state=True)
    output, h, c = lstm(x)
    assert output.shape == (N, T, H) and h.shape == c.shape == (N, H)
    np.testing.assert_array_equal(output[:, -1], h)
    h0, c0 = np.ones((N, H)) * 0.3, np.ones((N, H)) * -0.2
    output2, _, _ = lstm(x, initial_state=[h0, c0])
    expected = reference_output(lstm, x, {}, h0=h0, c0=c0).output
    np.testing.assert_allclose(output2, expected, rtol=1e-12, atol=1e-12)
    gru = layers.GRU(H, return_state=True)
    assert len(gru(x)) == 2
    with pytest.raises(ValueError, match=r"initial_state needs 2 arrays \(h, c\), got 1"):
        lstm(x, initial_state=[h0])


def test_stateful_layer_carries_states_between_calls(floatx64):
    x = np.random.default_rng(5).standard_normal((N, 2 * T, F))
    whole = layers.GRU(H, return_sequences=True)
    expected = whole(x)
    stateful = layers.GRU(H, return_sequences=True, stateful=True)
    stateful.build((N, None, F))  # a stateful layer needs its batch size
    stateful.set_weights(whole.get_weights())
    first, second = stateful(x[:, :T]), stateful(x[:, T:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), expected, rtol=1e-12, atol=1e-12)
    stateful.reset_states()
    np.testing.assert_allclose(stateful(x[:, :T]), first, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="keeps the batch size"):
        stateful(x[:2, :T])


def test_variable_length_input_shape():
    layer = layers.LSTM(H, input_shape=(None, F))
    for steps in (3, 11):
        assert layer(np.zeros((2, steps, F))).shape == (2, H)


def test_dropout_only_while_training():
    x = np.random.default_rng(6).standard_normal((N, T, F)).astype(np.float32)
    layer = layers.LSTM(H, dropout=0.5, recurrent_dropout=0.5, seed=1)
    inference = layer(x)
    np.testing.assert_array_equal(inference, layer(x))
    trained, pullback = layer.forward(x, training=True)
    assert not np.allclose(trained, inference)
    assert pullback(np.ones_like(trained))[0].shape == x.shape
    drop = layers.Dropout(0.5, seed=0)
    ones = np.ones((1000, 4), np.float32)
    dropped, pullback = drop.forward(ones, training=True)
    assert set(np.unique(dropped)) == {0.0, 2.0} and 0.4 < (dropped == 0).mean() < 0.6
    np.testing.assert_array_equal(pullback(ones)[0], dropped)
    np.testing.assert_array_equal(drop(ones), ones)


def test_input_dropout_mask_is_the_same_at_every_step():
    """Keras' dropout: one mask per sample and feature, shared by all time steps."""
    layer = layers.SimpleRNN(2, dropout=0.5, seed=3, activation="linear", use_bias=False,
                             kernel_initializer="ones", recurrent_initializer="zeros", return_sequences=True)
    x = np.ones((50, 4, 6), np.float32)
    y = layer(x, training=True)
    np.testing.assert_array_equal(y, np.repeat(y[:, :1], 4, axis=1))


def test_gradients_of_each_layer(floatx64):
    x = np.random.default_rng(7).standard_normal((2, 4, 3))
    for make in [entry[1] for entry in LAYERS]:
        for layer in (make(return_sequences=True), make(return_state=True, go_backwards=True)):
            # A step of 1e-5 keeps the stencil off the relu and hard_sigmoid kinks.
            assert rnnkit.gradcheck(layer, {"x": x}, order=4, eps=1e-5, rtol=1e-7, atol=1e-10)


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="units must be a positive integer"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match="unknown activation 'mish'; expected one of"):
        layers.GRU(3, activation="mish")
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        layers.SimpleRNN(3, activation="softmax")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        layers.LSTM(3, dropout=1.0)
    with pytest.raises(ValueError, match="unknown initializer 'glorot'; expected one of"):
        layers.Dense(3, kernel_initializer="glorot")
    with pytest.raises(TypeError, match="unexpected keyword arguments: input_shap"):
        layers.Dense(3, input_shap=(3,))
    layer = layers.LSTM(3)
    layer.build((None, None, 4))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, time, 4\), got \(2, 5, 3\)"):
        layer(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, time, 4\), got \(2, 4\)"):
        layer(np.zeros((2, 4)))


def test_automatic_names_follow_keras():
    names = [layers.SimpleRNN(2).name, layers.SimpleRNN(2).name]
    assert names[0].startswith("simple_rnn") and names[0] != names[1]
