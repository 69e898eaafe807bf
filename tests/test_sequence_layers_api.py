"""The sequence layers' Keras 3 API: names, defaults, weights, shapes, masks, Embedding and bad input.

Companion file: tests/test_sequence_layers_models.py (stateful models, saving, Keras
behaviours, a layer called twice).
"""


import numpy as np
import pytest

import rnnkit
from rnnkit import layers as L
from rnnkit.models import Sequential

from tracing import traced


def rng(seed=0):
    return np.random.default_rng(seed)


def float64():
    rnnkit.config.set_floatx("float64")  # conftest restores float32 after each test


# ---------------------------------------------------------------- 1. names, defaults, weights, shapes
def test_embedding_params_and_weight_names():
    emb = L.Embedding(1000, 64)
    assert (emb.input_dim, emb.output_dim, emb.mask_zero) == (1000, 64, False)
    assert emb.get_config()["embeddings_initializer"] is not None
    model = Sequential([L.Input((5,), dtype="int32"), emb])
    assert emb.count_params() == 64_000 == model.count_params()
    assert [w.name for w in emb.weights] == ["embeddings"]
    assert emb.weights[0].shape == (1000, 64)
    values = emb.get_weights()[0]  # Keras' "uniform": U(-0.05, 0.05)
    assert values.min() >= -0.05 and values.max() <= 0.05 and values.std() > 0.01
    assert model.output_shape == (None, 5, 64)


def test_bidirectional_lstm_params_and_weight_order():
    bi = L.Bidirectional(L.LSTM(32))
    assert bi.merge_mode == "concat"
    Sequential([L.Input((10, 16)), bi])
    assert bi.count_params() == 2 * 4 * (32 * (16 + 32) + 32) == 12544
    names = [w.name for w in bi.weights]
    assert names == ["kernel", "recurrent_kernel", "bias"] * 2
    assert [w.shape for w in bi.weights] == [(16, 128), (32, 128), (128,)] * 2
    paths = [w.path for w in bi.weights]
    assert all("forward" in p for p in paths[:3]) and all("backward" in p for p in paths[3:]), paths
    assert bi.weights[:3] == bi.forward_layer.weights and bi.weights[3:] == bi.backward_layer.weights
    assert bi.backward_layer.go_backwards and not bi.forward_layer.go_backwards


@pytest.mark.parametrize("merge_mode,width", [("concat", 64), ("sum", 32), ("mul", 32), ("ave", 32)])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_output_shapes(merge_mode, width, return_sequences):
    bi = L.Bidirectional(L.LSTM(32, return_sequences=return_sequences), merge_mode=merge_mode)
    model = Sequential([L.Input((10, 16)), bi])
    expected = (None, 10, width) if return_sequences else (None, width)
    assert bi.compute_output_shape((None, 10, 16)) == expected == model.output_shape
    lines = []
    model.summary(print_fn=lines.append)
    assert any(str(expected) in line and "12,544" in line for line in lines), lines
    x = rng().normal(size=(3, 10, 16)).astype("float32")
    assert model.predict(x, verbose=0).shape == (3,) + expected[1:]


def test_bidirectional_merge_none_gives_two_outputs():
    bi = L.Bidirectional(L.LSTM(32), merge_mode=None)
    assert bi.compute_output_shape((None, 10, 16)) == [(None, 32), (None, 32)]
    x = rng().normal(size=(3, 10, 16)).astype("float32")
    out = bi(x)
    assert isinstance(out, list) and [o.shape for o in out] == [(3, 32), (3, 32)]
    concat = L.Bidirectional(L.LSTM(32))
    concat(x)
    concat.set_weights(bi.get_weights())
    np.testing.assert_array_equal(concat(x), np.concatenate(out, axis=-1))


def test_rnn_of_lstm_cell_equals_lstm():
    x = rng().normal(size=(3, 6, 5)).astype("float32")
    lstm, rnn = L.LSTM(8, return_sequences=True), L.RNN(L.LSTMCell(8), return_sequences=True)
    lstm(x)
    rnn(x)
    assert rnn.count_params() == lstm.count_params() == 4 * (8 * (5 + 8) + 8)
    assert [w.name for w in rnn.weights] == [w.name for w in lstm.weights] == ["kernel", "recurrent_kernel", "bias"]
    rnn.set_weights(lstm.get_weights())
    np.testing.assert_array_equal(rnn(x), lstm(x))
    assert rnn.compute_output_shape((None, 6, 5)) == lstm.compute_output_shape((None, 6, 5)) == (None, 6, 8)


def test_rnn_of_stacked_cells_param_count():
    lstm_cell, gru_cell = L.LSTMCell(4), L.GRUCell(3)
    rnn = L.RNN([lstm_cell, gru_cell])
    model = Sequential([L.Input((6, 2)), rnn])
    expected_lstm = 4 * (4 * (2 + 4) + 4)
    expected_gru = 3 * 3 * (4 + 3) + 2 * 3 * 3  # reset_after=True: bias (2, 3*units)
    assert lstm_cell.count_params() == expected_lstm and gru_cell.count_params() == expected_gru
    assert rnn.count_params() == expected_lstm + expected_gru == model.count_params()
    assert model.output_shape == (None, 3)
    assert rnn.cell.state_size == [4, 4, 3]  # h, c of the LSTM cell, then h of the GRU cell


def test_time_distributed_dense():
    td = L.TimeDistributed(L.Dense(5))
    model = Sequential([L.Input((7, 3)), td])
    assert model.output_shape == (None, 7, 5) == td.compute_output_shape((None, 7, 3))
    assert td.count_params() == 20
    x = rng().normal(size=(2, 7, 3)).astype("float32")
    kernel, bias = td.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ kernel + bias, rtol=1e-6, atol=1e-6)


def test_repeat_vector_forward_and_pullback():
    x = rng().normal(size=(2, 4)).astype("float32")
    layer = L.RepeatVector(3)
    assert layer.compute_output_shape((None, 4)) == (None, 3, 4)
    y, pullback = layer.forward(x)
    assert y.shape == (2, 3, 4)
    for k in range(3):
        np.testing.assert_array_equal(y[:, k], x)
    dy = rng(1).normal(size=(2, 3, 4))
    dx, grads = pullback(dy)
    np.testing.assert_allclose(dx, dy.sum(axis=1), rtol=1e-6)
    assert grads == {}


def _fd_check(layer, x, objective_weights, eps=1e-6):
    """The pullback of sum(w * layer(x)) against central differences, in float64."""
    y, pullback = layer.forward(x)
    dx, _ = pullback(objective_weights)
    numeric = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (np.sum(objective_weights * layer(plus))
                          - np.sum(objective_weights * layer(minus))) / (2 * eps)
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)
    return y


def test_flatten_reshape_values_and_gradients():
    float64()
    x = rng().normal(size=(2, 3, 4))
    flat = L.Flatten()
    assert flat.compute_output_shape((None, 3, 4)) == (None, 12)
    y = _fd_check(flat, x, rng(1).normal(size=(2, 12)))
    np.testing.assert_array_equal(y, x.reshape(2, 12))
    reshape = L.Reshape((-1, 2))
    assert reshape.compute_output_shape((None, 3, 4)) == (None, 6, 2)
    y = _fd_check(reshape, x, rng(2).normal(size=(2, 6, 2)))
    np.testing.assert_array_equal(y, x.reshape(2, 6, 2))


@pytest.mark.parametrize("name", ["relu", "softmax"])
def test_activation_values_and_gradients(name):
    float64()
    x = rng().normal(size=(3, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep relu away from its kink
    layer = L.Activation(name)
    y = _fd_check(layer, x, rng(1).normal(size=(3, 5)))
    if name == "relu":
        expected = np.maximum(x, 0)
    else:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        expected = e / e.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- 2. masks
def test_masking_compute_mask():
    x = np.array([[[1.0, 2.0], [-1.0, -1.0], [-1.0, 0.0]], [[-1.0, -1.0], [3.0, 3.0], [-1.0, -1.0]]], "float32")
    mask = L.Masking(mask_value=-1.0).compute_mask(x)
    np.testing.assert_array_equal(mask, [[True, False, True], [False, True, False]])
    assert mask.dtype == bool
    y = L.Masking(mask_value=-1.0)(x)
    np.testing.assert_array_equal(y[~mask], 0)
    np.testing.assert_array_equal(y[mask], x[mask])


def test_embedding_mask_zero():
    ids = np.array([[3, 0, 5, 0], [0, 0, 1, 2]])
    emb = L.Embedding(10, 4, mask_zero=True)
    np.testing.assert_array_equal(emb.compute_mask(ids), ids != 0)
    assert L.Embedding(10, 4).compute_mask(ids) is None


@pytest.mark.parametrize("make", [lambda: L.Dense(3), lambda: L.Dropout(0.5), lambda: L.Activation("relu"),
                                  lambda: L.TimeDistributed(L.Dense(3))],
                         ids=["Dense", "Dropout", "Activation", "TimeDistributed"])
def test_mask_passes_through(make):
    x = rng().normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, False], [False, True, True, True]])
    layer = make()
    np.testing.assert_array_equal(layer.compute_mask(x, mask), mask)
    _, out_mask, _ = layer.propagate(x, mask, True)
    np.testing.assert_array_equal(out_mask, mask)
    model = Sequential([L.Input((4, 3)), L.Masking(0.0), make()])
    x[~mask] = 0
    _, model_mask, _ = model.propagate(x, None, False)
    np.testing.assert_array_equal(model_mask, mask)


@pytest.mark.parametrize("cls", [L.LSTM, L.GRU, L.SimpleRNN])
def test_recurrent_mask_output(cls):
    x = rng().normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, False], [False, True, True, True]])
    assert cls(5).compute_mask(x, mask) is None
    np.testing.assert_array_equal(cls(5, return_sequences=True).compute_mask(x, mask), mask)
    _, out_mask, _ = cls(5).propagate(x, mask, False)
    assert out_mask is None


def test_bidirectional_compute_mask():
    x = rng().normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, False], [False, True, True, True]])
    assert L.Bidirectional(L.LSTM(5)).compute_mask(x, mask) is None
    np.testing.assert_array_equal(L.Bidirectional(L.LSTM(5, return_sequences=True)).compute_mask(x, mask), mask)
    both = L.Bidirectional(L.LSTM(5, return_sequences=True), merge_mode=None).compute_mask(x, mask)
    assert isinstance(both, list) and len(both) == 2
    for m in both:
        np.testing.assert_array_equal(m, mask)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_masked_gradcheck(merge_mode, return_sequences):
    float64()
    x = rng().normal(size=(2, 4, 3))
    mask = np.array([[True, True, False, False], [False, True, True, True]])
    layer = L.Bidirectional(L.LSTM(3, return_sequences=return_sequences), merge_mode=merge_mode)
    rnnkit.gradcheck(layer, {"x": x, "mask": mask})  # raises GradcheckError on a mismatch


def test_embedding_mask_zero_model_gradcheck():
    float64()
    model = Sequential([L.Input((4,), dtype="int32"), L.Embedding(6, 3, mask_zero=True),
                        L.Bidirectional(L.GRU(2)), L.Dense(1)])
    rnnkit.gradcheck(model, {"x": np.array([[1, 2, 0, 0], [3, 4, 5, 1]])})


MASK = np.array([[False, True, True, False, False], [True, True, True, True, False], [False, False, True, True, True]])


@pytest.mark.parametrize("cls", [L.LSTM, L.GRU, L.SimpleRNN])
def test_zero_output_for_mask(cls):
    float64()
    x = rng().normal(size=(3, 5, 2))
    layer = cls(4, return_sequences=True, zero_output_for_mask=True)
    y = layer(x, mask=MASK)
    np.testing.assert_array_equal(y[~MASK], 0)
    assert np.all(np.abs(y[MASK]).sum(axis=-1) > 0)


@pytest.mark.parametrize("cls", [L.LSTM, L.GRU, L.SimpleRNN])
def test_masked_outputs_repeat_last_valid(cls):
    float64()
    x = rng().normal(size=(3, 5, 2))
    layer = cls(4, return_sequences=True)
    y = layer(x, mask=MASK)
    last = layer.__class__.from_config(layer.get_config() | {"return_sequences": False, "name": "last"})
    last(x)
    last.set_weights(layer.get_weights())
    final = last(x, mask=MASK)
    for n in range(3):
        valid = np.flatnonzero(MASK[n])
        first, end = valid[0], valid[-1]
        np.testing.assert_array_equal(y[n, :first], 0)  # leading masked steps: zeros
        for t in range(end + 1, 5):  # trailing masked steps repeat the last valid output
            np.testing.assert_array_equal(y[n, t], y[n, end])
        np.testing.assert_array_equal(final[n], y[n, end])
    # a valid step's output equals running only the valid part
    np.testing.assert_allclose(y[0, 2], last(x[:1, 1:3])[0], rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- 3. Embedding
def test_embedding_id_dtypes_identical():
    emb = L.Embedding(50, 6)
    base = rng().integers(0, 50, size=(3, 7))
    ids = {d: base.astype(d) for d in ["int8", "int16", "int32", "int64", "uint8"]}
    reference = emb(ids["int64"])
    np.testing.assert_array_equal(reference, emb.get_weights()[0][base])
    dy = rng(1).normal(size=reference.shape).astype("float32")
    ref_grad = emb.forward(ids["int64"])[1](dy)[1][emb.embeddings]
    for dtype, values in ids.items():
        y, pullback = emb.forward(values)
        np.testing.assert_array_equal(y, reference, err_msg=dtype)
        d_ids, grads = pullback(dy)
        assert d_ids is None
        np.testing.assert_array_equal(grads[emb.embeddings], ref_grad, err_msg=dtype)


def test_embedding_lstm_model_learns_and_predicts():
    T, V = 6, 8
    data = rng()
    x = data.integers(1, V, size=(96, T)).astype("int32")
    y = (x == 3).any(axis=1, keepdims=True).astype("float32")  # does token 3 occur?
    model = Sequential([L.Input((T,), dtype="int32"), L.Embedding(V, 8), L.LSTM(8), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.03), loss="binary_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses
    pred = model.predict(x, verbose=0)
    assert pred.shape == (96, 1) and np.all((pred > 0) & (pred < 1))
    assert np.mean((pred > 0.5) == (y > 0.5)) > 0.8


def test_embedding_backward_is_scatter_add():
    float64()
    V, D = 5, 3
    emb = L.Embedding(V, D)
    ids = np.array([[1, 1, 4, 1], [0, 4, 4, 2]])
    _, pullback = emb.forward(ids)
    dy = rng().normal(size=(2, 4, D))
    _, grads = pullback(dy)
    one_hot = np.eye(V)[ids]  # (N, T, V)
    dense = one_hot.reshape(-1, V).T @ dy.reshape(-1, D)
    np.testing.assert_allclose(grads[emb.embeddings], dense, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads[emb.embeddings][1], dy[0, 0] + dy[0, 1] + dy[0, 3], rtol=1e-12)
    np.testing.assert_array_equal(grads[emb.embeddings][3], 0)


def test_embedding_training_step_memory():
    V, D, B, T = 20000, 64, 64, 200
    model = Sequential([L.Input((T,), dtype="int32"), L.Embedding(V, D), L.LSTM(4), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    data = rng()
    x = data.integers(0, V, size=(B, T)).astype("int32")
    y = data.normal(size=(B, 1)).astype("float32")
    model.train_on_batch(x, y)  # warm up: optimizer slots and any one-off caches
    with traced() as trace:
        model.train_on_batch(x, y)
    assert trace.peak < 100 * 2**20, \
        f"peak {trace.peak / 2**20:.1f} MB (a one-hot would be {B * T * V * 4 / 2**30:.1f} GB)"


# ---------------------------------------------------------------- 4. bad input
X = np.zeros((2, 5, 3), "float32")
BAD_MASK = np.ones((2, 6), bool)


@pytest.mark.parametrize("make,name", [(lambda: L.LSTM(4, name="my_lstm"), "my_lstm"),
                                       (lambda: L.Bidirectional(L.LSTM(4), name="my_bi"), "my_bi"),
                                       (lambda: L.TimeDistributed(L.Dense(4), name="my_td"), "my_td")],
                         ids=["LSTM", "Bidirectional", "TimeDistributed"])
def test_mask_of_wrong_shape(make, name):
    with pytest.raises(ValueError, match=rf"{name}.*mask.*\(batch, time\).*\(2, 5\).*got \(2, 6\)"):
        make()(X, mask=BAD_MASK)
    with pytest.raises(ValueError, match=rf"{name}.*mask.*\(2, 5\).*got \(2, 5, 3\)"):
        make()(X, mask=np.ones((2, 5, 3), bool))


@pytest.mark.parametrize("make,name", [(lambda: L.LSTM(4, name="my_lstm"), "my_lstm"),
                                       (lambda: L.Bidirectional(L.LSTM(4), name="my_bi"), "my_bi"),
                                       (lambda: L.TimeDistributed(L.Dense(4), name="my_td"), "my_td")],
                         ids=["LSTM", "Bidirectional", "TimeDistributed"])
def test_mask_of_float_dtype(make, name):
    with pytest.raises(TypeError, match=rf"{name}.*mask.*boolean.*got dtype float32"):
        make()(X, mask=np.ones((2, 5), "float32"))


def test_embedding_fractional_ids():
    emb = L.Embedding(10, 2, name="emb_frac")
    with pytest.raises(TypeError, match=r"emb_frac.*ids must be integers.*float64"):
        emb(np.array([[1.0, 2.5]]))
    np.testing.assert_array_equal(emb(np.array([[1.0, 2.0]])), emb(np.array([[1, 2]])))  # whole floats: cast


@pytest.mark.parametrize("bad,where", [(-1, r"\(0, 1\)"), (10, r"\(0, 1\)"), (11, r"\(0, 1\)")])
def test_embedding_ids_out_of_range(bad, where):
    emb = L.Embedding(10, 2, name="emb_range")
    with pytest.raises(ValueError, match=rf"emb_range.*id {bad}\b.*index {where}.*input_dim.*10"):
        emb(np.array([[1, bad, 3]]))


def test_bidirectional_around_dense():
    with pytest.raises(ValueError, match=r"Bidirectional.*recurrent layer.*got Dense"):
        L.Bidirectional(L.Dense(3))
    with pytest.raises(ValueError, match=r"Bidirectional.*backward_layer.*recurrent.*got Dense"):
        L.Bidirectional(L.LSTM(3), backward_layer=L.Dense(3))


def test_bidirectional_bad_merge_mode():
    with pytest.raises(ValueError, match=r"Bidirectional.*merge_mode.*'concat'.*got 'max'"):
        L.Bidirectional(L.LSTM(3), merge_mode="max")


def test_stateful_without_batch_size():
    with pytest.raises(ValueError, match=r"lstm_sf.*stateful.*fixed batch size.*batch_size"):
        Sequential([L.Input((5, 3)), L.LSTM(4, stateful=True, name="lstm_sf")])
    with pytest.raises(ValueError, match=r"stateful.*batch size"):
        Sequential([L.LSTM(4, stateful=True, input_shape=(5, 3))])


def test_stateful_other_batch_size():
    model = Sequential([L.Input((5, 3), batch_size=2), L.LSTM(4, stateful=True, name="lstm_b2")])
    model.predict_on_batch(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(ValueError, match=r"lstm_b2.*batch size it was built for, 2; got a batch of 3"):
        model.predict_on_batch(np.zeros((3, 5, 3), "float32"))


def test_stateful_fit_samples_not_dividing():
    model = Sequential([L.Input((5, 3), batch_size=2), L.LSTM(4, stateful=True), L.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"stateful.*5 samples.*batches of 2"):
        model.fit(np.zeros((5, 5, 3), "float32"), np.zeros((5, 1), "float32"), batch_size=2, verbose=0)


def test_rnn_with_non_cell():
    with pytest.raises(TypeError, match=r"RNN needs a cell.*state_size.*got Dense"):
        L.RNN(L.Dense(3))
    with pytest.raises(TypeError, match=r"RNN needs a cell.*got str"):
        L.RNN("lstm")


def test_initial_state_wrong_shape():
    lstm = L.LSTM(4, name="lstm_init")
    x = np.zeros((2, 5, 3), "float32")
    with pytest.raises(ValueError, match=r"lstm_init.*initial state 0.*\(2, 4\).*got \(2, 5\)"):
        lstm(x, initial_state=[np.zeros((2, 5)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"lstm_init.*initial state 1.*\(2, 4\).*got \(3, 4\)"):
        lstm(x, initial_state=[np.zeros((2, 4)), np.zeros((3, 4))])
    with pytest.raises(ValueError, match=r"lstm_init.*initial_state needs 2 arrays \(h, c\), got 1"):
        lstm(x, initial_state=[np.zeros((2, 4))])
