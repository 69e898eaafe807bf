"""Sequence layers in models: stateful RNNs, config and saving round trips, Keras behaviours,
and a layer called twice. Companion of tests/test_sequence_layers_api.py."""

import json
import re
import zipfile

import numpy as np
import pytest

import rnnkit
from rnnkit import layers as L
from rnnkit.models import Sequential, load_model

from user_cell import MinimalRNNCell

B, T, F, U = 2, 4, 3, 5


def rng(seed=0):
    return np.random.default_rng(seed)


def float64():
    rnnkit.config.set_floatx("float64")  # conftest restores float32 after each test


# ---------------------------------------------------------------- 5. stateful models
def stateful_model(**lstm_kwargs):
    return Sequential([L.Input((T, F), batch_size=B), L.LSTM(U, stateful=True, **lstm_kwargs), L.Dense(1)])


def plain_model(time, weights):
    model = Sequential([L.Input((time, F)), L.LSTM(U), L.Dense(1)])
    model.set_weights(weights)
    return model


def test_stateful_carries_state_across_calls():
    float64()
    model = stateful_model()
    x = rng().normal(size=(B, T, F))
    first = model.predict_on_batch(x)
    second = model.predict_on_batch(x)
    assert not np.allclose(first, second)
    reference = plain_model(2 * T, model.get_weights())
    np.testing.assert_allclose(second, reference.predict_on_batch(np.concatenate([x, x], axis=1)),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(first, plain_model(T, model.get_weights()).predict_on_batch(x), rtol=1e-12, atol=1e-12)
    model.reset_states()
    np.testing.assert_array_equal(model.predict_on_batch(x), first)
    model.predict_on_batch(x)
    model.layers[0].reset_state()
    np.testing.assert_array_equal(model.predict_on_batch(x), first)


def test_stateful_float32_tolerance():
    model = stateful_model()
    x = rng().normal(size=(B, T, F)).astype("float32")
    model.predict_on_batch(x)
    second = model.predict_on_batch(x)
    reference = plain_model(2 * T, model.get_weights())
    np.testing.assert_allclose(second, reference.predict_on_batch(np.concatenate([x, x], axis=1)),
                               rtol=1e-6, atol=1e-6)


def test_stateful_batch_input_shape():
    float64()
    model = Sequential([L.LSTM(U, stateful=True, batch_input_shape=(B, T, F)), L.Dense(1)])
    assert model.input_shape == (B, T, F)
    x = rng().normal(size=(B, T, F))
    first, second = model.predict_on_batch(x), model.predict_on_batch(x)
    reference = plain_model(2 * T, model.get_weights())
    np.testing.assert_allclose(second, reference.predict_on_batch(np.concatenate([x, x], axis=1)),
                               rtol=1e-12, atol=1e-12)
    model.reset_states()
    np.testing.assert_array_equal(model.predict_on_batch(x), first)


def test_stateful_fit_carries_states_across_batches():
    float64()
    model = stateful_model()
    lstm = model.layers[0]
    model.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=0.0), loss="mse")
    x = rng().normal(size=(2 * B, T, F))
    y = rng(1).normal(size=(2 * B, 1))
    model.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    assert lstm.states is not None and len(lstm.states) == 2
    # sample k of the second batch continues sample k of the first batch
    manual = L.LSTM(U, return_state=True)
    manual(x[:B])
    manual.set_weights(lstm.get_weights())
    _, h, c = manual(np.concatenate([x[:B], x[B:]], axis=1))
    np.testing.assert_allclose(lstm.states[0], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lstm.states[1], c, rtol=1e-12, atol=1e-12)


def test_stateful_fit_equals_train_on_batch_sequence():
    float64()
    a, b = stateful_model(), stateful_model()
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=0.1), loss="mse")
    x = rng().normal(size=(3 * B, T, F))
    y = rng(1).normal(size=(3 * B, 1))
    a.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    for k in range(3):
        b.train_on_batch(x[k * B:(k + 1) * B], y[k * B:(k + 1) * B])
    for s, t in zip(a.layers[0].states, b.layers[0].states):
        np.testing.assert_allclose(s, t, rtol=1e-12, atol=1e-12)
    for w, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(w, v, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- 6. config and saving


def _seq(layers, shape=(T, F), batch_size=None, dtype=None):
    return lambda: Sequential([L.Input(shape, batch_size=batch_size, dtype=dtype), *layers()])


MODELS = {
    "masking": _seq(lambda: [L.Masking(0.0), L.LSTM(U), L.Dense(2)]),
    "embedding_mask_zero": _seq(lambda: [L.Embedding(9, 4, mask_zero=True), L.GRU(U), L.Dense(1)],
                                shape=(T,), dtype="int32"),
    **{f"bidirectional_{m}": _seq(lambda m=m: [L.Masking(), L.Bidirectional(L.LSTM(U, return_sequences=True),
                                                                           merge_mode=m), L.Flatten()])
       for m in ["concat", "sum", "mul", "ave"]},
    "bidirectional_backward_layer": _seq(lambda: [L.Bidirectional(
        L.LSTM(U), backward_layer=L.GRU(U, go_backwards=True)), L.Dense(1)]),
    "time_distributed_dense": _seq(lambda: [L.TimeDistributed(L.Dense(3)), L.SimpleRNN(2)]),
    "time_distributed_sequential": _seq(lambda: [L.TimeDistributed(Sequential(
        [L.Dense(4, activation="relu"), L.Dense(2)])), L.LSTM(3)]),
    "repeat_flatten_reshape_activation": _seq(lambda: [L.Flatten(), L.Dense(6), L.RepeatVector(3),
                                                       L.Reshape((-1, 3)), L.Activation("softmax"), L.LSTM(2)]),
    "rnn_lstm_cell": _seq(lambda: [L.RNN(L.LSTMCell(U), return_sequences=True), L.Activation("relu")]),
    "rnn_stacked_cells": _seq(lambda: [L.RNN([L.LSTMCell(4), L.GRUCell(3)]), L.Dense(1)]),
    "stateful": _seq(lambda: [L.LSTM(U, stateful=True), L.Dense(1)], batch_size=B),
}


def _inputs(name, n=B):
    if name == "embedding_mask_zero":
        ids = rng().integers(0, 9, size=(n, T)).astype("int32")
        ids[:, -1] = 0
        return ids
    x = rng().normal(size=(n, T, F)).astype("float32")
    if "masking" in name or ("bidirectional_" in name and "backward_layer" not in name):
        x[0, -1] = 0
    return x


@pytest.mark.parametrize("name", sorted(MODELS))
def test_get_config_from_config(name):
    model = MODELS[name]()
    x = _inputs(name)
    clone = Sequential.from_config(model.get_config())
    assert [type(layer).__name__ for layer in clone.layers] == [type(layer).__name__ for layer in model.layers]
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert [w.path for w in clone.weights] == [w.path for w in model.weights]  # optimizer state is keyed by path
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict_on_batch(x), model.predict_on_batch(x))
    assert json.loads(json.dumps(clone.get_config())) == json.loads(json.dumps(model.get_config()))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_load_round_trip(name, tmp_path):
    model = MODELS[name]()
    x = _inputs(name)
    out_shape = model.output_shape
    y = rng(2).normal(size=(B,) + tuple(out_shape[1:])).astype("float32")
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=B, epochs=2, verbose=0, shuffle=False)
    model.reset_states()
    path = tmp_path / "model.rnnkit"
    model.save(path)
    loaded = load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
    np.testing.assert_array_equal(loaded.predict(x, batch_size=B, verbose=0), model.predict(x, batch_size=B, verbose=0))
    assert loaded.compiled and type(loaded.optimizer) is type(model.optimizer)
    assert type(loaded.loss) is type(model.loss)
    assert loaded.optimizer.learning_rate == model.optimizer.learning_rate
    state, loaded_state = model.optimizer.get_state(), loaded.optimizer.get_state()
    assert sorted(state) == sorted(loaded_state) and int(state["iterations"]) == 2
    for key in state:
        np.testing.assert_array_equal(state[key], loaded_state[key], err_msg=key)
    # one more step gives the same weights
    model.reset_states()
    loaded.reset_states()
    assert model.train_on_batch(x, y) == loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.namelist() if m.endswith(".npy")]
        assert members
        for member in members:
            with archive.open(member) as f:
                np.load(f, allow_pickle=False)


def test_user_cell_round_trip(tmp_path):
    float64()
    model = Sequential([L.Input((T, F)), L.RNN(MinimalRNNCell(4), return_sequences=True), L.Dense(1)])
    x = rng().normal(size=(B, T, F))
    mask_free = model.predict_on_batch(x)
    assert mask_free.shape == (B, T, 1)
    config = model.get_config()
    with pytest.raises(ValueError, match=r"unknown layer class 'MinimalRNNCell'.*known:.*'LSTM'"):
        Sequential.from_config(config)
    clone = Sequential.from_config(config, custom_objects={"MinimalRNNCell": MinimalRNNCell})
    assert isinstance(clone.layers[0].cell, MinimalRNNCell)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict_on_batch(x), mask_free)
    model.compile("sgd", "mse")
    model.fit(x, np.ones((B, T, 1)), epochs=1, verbose=0)
    model.save(tmp_path / "cell.rnnkit")
    with pytest.raises(ValueError, match=r"MinimalRNNCell"):
        load_model(tmp_path / "cell.rnnkit")
    loaded = load_model(tmp_path / "cell.rnnkit", custom_objects={"MinimalRNNCell": MinimalRNNCell})
    np.testing.assert_array_equal(loaded.predict_on_batch(x), model.predict_on_batch(x))
    # the user cell's backward is correct
    rnnkit.gradcheck(L.RNN(MinimalRNNCell(3), return_sequences=True), {"x": x})  # raises GradcheckError on a mismatch
    mask = np.array([[False, True, True, False], [True, True, True, True]])
    rnnkit.gradcheck(L.RNN(MinimalRNNCell(3), return_sequences=True), {"x": x, "mask": mask})


def test_bidirectional_backward_layer_of_other_width():
    """A backward layer with other units: either a clear error up front, or an output shape
    that matches what the layer computes (5 + 3 for concat), so the next layer builds right."""
    try:
        bi = L.Bidirectional(L.LSTM(5), backward_layer=L.GRU(3, go_backwards=True))
    except ValueError as error:
        assert re.search(r"units|width|size", str(error)), error
        return
    x = rng().normal(size=(B, T, F)).astype("float32")
    assert bi(x).shape == (B, 8)
    assert bi.compute_output_shape((None, T, F)) == (None, 8)
    model = Sequential([L.Input((T, F)), bi, L.Dense(1)])
    assert model.predict(x, verbose=0).shape == (B, 1)


def test_unknown_class_name_lists_known():
    config = {"class_name": "NoSuchLayer", "config": {}}
    with pytest.raises(ValueError, match=r"unknown layer class 'NoSuchLayer'; known: \[.*'Bidirectional'.*'Embedding'"):
        L.deserialize(config)
    model_config = Sequential([L.Input((T, F)), L.LSTM(2)]).get_config()
    model_config["layers"][1]["class_name"] = "os.system"
    with pytest.raises(ValueError, match=r"unknown layer class 'os.system'.*known"):
        Sequential.from_config(model_config)


# ---------------------------------------------------------------- 7. Keras behaviours
def test_dense_activation_none_after_construction():
    dense = L.Dense(3, activation="relu")
    x = rng().normal(size=(4, 2)).astype("float32")
    dense(x)
    dense.activation = None
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(dense(x), x @ kernel + bias, rtol=1e-6, atol=1e-6)
    assert (dense(x) < 0).any()


def test_optimizer_variables_order():
    model = Sequential([L.Input((T, F)), L.LSTM(2), L.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.Adam(learning_rate=0.01), loss="mse")
    model.train_on_batch(rng().normal(size=(B, T, F)), np.zeros((B, 1)))
    variables = model.optimizer.variables
    assert int(variables[0]) == 1 and np.ndim(variables[0]) == 0  # iterations
    assert float(variables[1]) == pytest.approx(0.01) and np.ndim(variables[1]) == 0  # learning_rate
    slots = variables[2:]
    assert len(slots) == 2 * len(model.trainable_weights)  # Adam: momentum and velocity per variable
    assert {s.shape for s in slots} == {w.shape for w in model.trainable_weights}


class MeanSquare(rnnkit.losses.Loss):
    def call_and_backward(self, y_true, y_pred):
        values = np.mean(y_pred ** 2, axis=-1)

        def backward(upstream):
            return np.asarray(upstream)[..., None] * 2 * y_pred / y_pred.shape[-1]

        return values, backward


def test_train_on_batch_without_y():
    float64()
    model = Sequential([L.Input((T, F)), L.LSTM(3), L.Dense(2)])
    model.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss=MeanSquare())
    x = rng().normal(size=(B, T, F))
    expected = float(np.mean(model.predict_on_batch(x) ** 2))
    first = model.train_on_batch(x)
    assert first == pytest.approx(expected, rel=1e-12)
    assert model.train_on_batch(x) < first
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"(mse|mean_squared_error).*needs targets.*y"):
        model.train_on_batch(x)


# ---------------------------------------------------------------- 8. a layer called twice
def test_layer_called_twice_pullbacks_independent():
    float64()
    x1, x2 = rng(1).normal(size=(2, 5, 3)), rng(2).normal(size=(3, 4, 3))
    d1, d2 = rng(3).normal(size=(2, 4)), rng(4).normal(size=(3, 4))
    lstm = L.LSTM(4)
    y1, pullback1 = lstm.forward(x1)
    y2, pullback2 = lstm.forward(x2)
    separate = [L.LSTM(4), L.LSTM(4)]
    expected = []
    for layer, x, d in zip(separate, (x1, x2), (d1, d2)):
        layer(x)
        layer.set_weights(lstm.get_weights())
        y, pullback = layer.forward(x)
        dx, grads = pullback(d)
        expected.append((y, dx, [grads[w] for w in layer.weights]))
    np.testing.assert_array_equal(y1, expected[0][0])
    np.testing.assert_array_equal(y2, expected[1][0])
    for order in ([(pullback2, 1, d2), (pullback1, 0, d1)], [(pullback1, 0, d1), (pullback2, 1, d2)]):
        for pullback, k, d in order:
            dx, grads = pullback(d)
            np.testing.assert_allclose(dx, expected[k][1], rtol=1e-12, atol=1e-14)
            for w, g in zip(lstm.weights, expected[k][2]):
                np.testing.assert_allclose(grads[w], g, rtol=1e-12, atol=1e-14)
    total = rnnkit.layers.base.accumulate(dict(pullback1(d1)[1]), pullback2(d2)[1])
    for w, g1, g2 in zip(lstm.weights, expected[0][2], expected[1][2]):
        np.testing.assert_allclose(total[w], g1 + g2, rtol=1e-12, atol=1e-14)
