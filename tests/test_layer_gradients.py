"""Gradients of the layer API against finite differences (rnnkit.gradcheck, 5-point stencil,
float64), with masks, wrappers, stacked and user-written cells, carried and initial states,
and weights used more than once (the pullbacks' gradients must add up)."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import rnnkit
from rnnkit import layers as L
from rnnkit.layers.base import accumulate
from rnnkit.models import Sequential
from rnnkit.variables import Variable

import reference as ref
from user_cell import MinimalRNNCell

N, T, F, H = 3, 4, 2, 3
TOL = dict(order=4, rtol=1e-7, atol=1e-9)

# Sample 0: full; 1: left padded with a hole; 2: right padded (first and last steps masked
# in one direction or the other, so zero outputs before the first valid step are covered).
MASK = np.array([[1, 1, 1, 1],
                 [0, 1, 0, 1],
                 [1, 1, 0, 0]], dtype=bool)


pytestmark = pytest.mark.usefixtures("floatx64")


def randomize(layer, rng, scale=0.6):
    layer.set_weights([rng.standard_normal(w.shape) * scale for w in layer.get_weights()])


def inputs(seed, shape=(N, T, F)):
    return np.random.default_rng(seed).standard_normal(shape)


def check(target, feed):
    """gradcheck, plus: something was checked and every checked gradient is not all zero."""
    report = rnnkit.gradcheck(target, feed, **TOL)
    assert report.passed
    names = [c.name for c in report.checks]
    weights = [w.path for w in target.weights]
    assert set(weights) <= set(names), (weights, names)
    return report


# ---------------------------------------------------------------------------- masked models
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_gradcheck_masked_lstm_dense_model(go_backwards):
    rng = np.random.default_rng(0)
    model = Sequential([L.Input((T, F)), L.LSTM(H, return_sequences=True, go_backwards=go_backwards),
                        L.Dense(2, activation="tanh")])
    randomize(model, rng)
    report = check(model, {"x": inputs(1), "mask": MASK})
    assert "x" in [c.name for c in report.checks]


def test_gradcheck_embedding_mask_zero_gru_model():
    rng = np.random.default_rng(2)
    ids = np.array([[3, 1, 4, 1], [0, 0, 2, 3], [2, 0, 4, 0]], dtype=np.int32)
    model = Sequential([L.Input((T,), dtype="int32"), L.Embedding(5, F, mask_zero=True),
                        L.GRU(H, return_sequences=True), L.Dense(2)])
    randomize(model, rng)
    report = check(model, {"x": ids})
    assert "x" not in [c.name for c in report.checks]  # integer ids: weights only
    # The padding id's row gets exactly zero gradient (it only appears at masked steps).
    y, pullback = model.forward(ids, training=True)
    d_ids, grads = pullback(rng.standard_normal(y.shape))
    assert d_ids is None
    embeddings = model.layers[0].embeddings
    assert np.all(grads[embeddings][0] == 0.0)
    assert np.all(grads[embeddings][1:] != 0.0)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_gradcheck_bidirectional_masked(rnn, merge_mode, return_sequences):
    rng = np.random.default_rng(3)
    inner = (L.LSTM if rnn == "lstm" else L.GRU)(H, return_sequences=return_sequences)
    bi = L.Bidirectional(inner, merge_mode=merge_mode)
    bi.build((None, T, F))
    randomize(bi, rng)
    check(bi, {"x": inputs(4), "mask": MASK})


def test_gradcheck_time_distributed_after_masked_rnn():
    rng = np.random.default_rng(5)
    model = Sequential([L.Input((T, F)), L.SimpleRNN(H, return_sequences=True),
                        L.TimeDistributed(L.Dense(2, activation="sigmoid"))])
    randomize(model, rng)
    check(model, {"x": inputs(6), "mask": MASK})
    _, out_mask, _ = model.propagate(inputs(6), MASK)
    assert np.array_equal(out_mask, MASK)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_stacked_cells_match_reference_and_gradcheck(go_backwards, return_sequences):
    rng = np.random.default_rng(7)
    layer = L.RNN([L.LSTMCell(H), L.GRUCell(2)], return_sequences=return_sequences,
                  go_backwards=go_backwards, return_state=True)
    layer.build((None, T, F))
    randomize(layer, rng)
    x = inputs(8)
    outputs = layer(x, mask=MASK)
    assert [o.shape for o in outputs[1:]] == [(N, H), (N, H), (N, 2)]  # states flattened in order

    W1, U1, b1, W2, U2, b2 = layer.get_weights()
    first = ref.lstm_forward(x, W1, U1, b1, mask=MASK, go_backwards=go_backwards)
    order_mask = MASK[:, ::-1] if go_backwards else MASK  # the first cell's outputs are in processing order
    second = ref.gru_forward(first.output, W2, U2, b2, mask=order_mask, return_sequences=return_sequences)
    expected = second.output
    if return_sequences:  # Keras: zeros before the first valid step
        expected = expected * np.logical_or.accumulate(order_mask, axis=1)[..., None]
    np.testing.assert_allclose(outputs[0], expected, rtol=0, atol=1e-12)
    for got, want in zip(outputs[1:], (first.h, first.c, second.h)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)

    check(layer, {"x": x, "mask": MASK})


def test_gradcheck_stateful_lstm_after_a_batch():
    rng = np.random.default_rng(9)
    lstm = L.LSTM(H, stateful=True, return_sequences=True)
    model = Sequential([L.Input((T, F), batch_size=N), lstm, L.Dense(2)])
    randomize(model, rng)
    model.predict(inputs(10), batch_size=N, verbose=0)
    carried = [s.copy() for s in lstm.states]
    assert all(np.abs(s).min() > 1e-4 for s in carried)

    x = inputs(11)
    check(model, {"x": x})
    # gradcheck restored the carried states exactly.
    for before, after in zip(carried, lstm.states):
        assert np.array_equal(before, after)

    # The carried states are used: the same as a plain LSTM started from them.
    plain = L.LSTM(H, return_sequences=True)
    plain.build((None, T, F))
    plain.set_weights(lstm.get_weights())
    dense = model.layers[-1]
    expected = dense(plain(x, initial_state=carried))
    np.testing.assert_allclose(model.predict(x, batch_size=N, verbose=0), expected, rtol=0, atol=1e-12)
    zero_start = dense(plain(x))
    assert np.abs(expected - zero_start).max() > 1e-3


def test_gradcheck_stateful_lstm_float32_model_after_a_batch():
    """The documented use: a default (float32) model; gradcheck runs it in float64, so the
    float32 states carried from the previous batch must be used in float64 as well."""
    rnnkit.config.set_floatx("float32")
    lstm = L.LSTM(H, stateful=True, return_sequences=True)
    model = Sequential([L.Input((T, F), batch_size=N), lstm, L.Dense(2)])
    model.predict(inputs(26).astype(np.float32), batch_size=N, verbose=0)
    carried = [s.copy() for s in lstm.states]
    assert carried[0].dtype == np.float32 and np.abs(carried[0]).max() > 1e-3
    check(model, {"x": inputs(27), "mask": MASK})
    assert all(w.dtype == np.float32 for w in model.get_weights())
    for before, after in zip(carried, lstm.states):
        assert after.dtype == np.float32 and np.array_equal(before, after)


def test_gradcheck_stateful_bidirectional_after_a_batch():
    rng = np.random.default_rng(28)
    bi = L.Bidirectional(L.LSTM(H, stateful=True, return_sequences=True))
    model = Sequential([L.Input((T, F), batch_size=N), bi, L.Dense(2)])
    randomize(model, rng)
    model.predict(inputs(29), batch_size=N, verbose=0)
    carried = [[s.copy() for s in inner.states] for inner in (bi.forward_layer, bi.backward_layer)]
    assert all(np.abs(s).max() > 1e-3 for states in carried for s in states)
    check(model, {"x": inputs(30), "mask": MASK})
    for inner, states in zip((bi.forward_layer, bi.backward_layer), carried):
        for before, after in zip(states, inner.states):
            assert np.array_equal(before, after)


# ---------------------------------------------------------------------------- initial_state
# Sample 1 is masked throughout: its final states are its initial states.
INIT_MASK = np.array([[1, 1, 1, 1],
                      [0, 0, 0, 0],
                      [0, 1, 1, 0]], dtype=bool)


def initial_state_function(layer, state_names, mask=INIT_MASK):
    """fn(x, <states>, <weights>) -> (outputs, backward), for rnnkit.gradcheck."""
    variables = {v.name: v for v in layer.weights}

    def fn(x, **arrays):
        for name, variable in variables.items():
            variable.value = arrays[name]
        states = [arrays[s] for s in state_names]
        y, pullback = layer.forward(x, mask=mask, training=True, initial_state=states)
        outputs = tuple(y) if isinstance(y, list) else (y,)

        def backward(*d_outputs):
            d_inputs, grads = pullback(list(d_outputs) if isinstance(y, list) else d_outputs[0])
            assert len(d_inputs) == 1 + len(state_names)
            found = {"x": d_inputs[0], **dict(zip(state_names, d_inputs[1:]))}
            return found | {name: grads[v] for name, v in variables.items()}

        return outputs, backward

    return fn


@pytest.mark.parametrize("return_state", [False, True], ids=["output", "with_states"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_gradcheck_initial_state(kind, return_state):
    rng = np.random.default_rng(12)
    cls = {"lstm": L.LSTM, "gru": L.GRU, "simple_rnn": L.SimpleRNN}[kind]
    layer = cls(H, return_sequences=True, return_state=return_state)
    layer.build((None, T, F))
    randomize(layer, rng)
    state_names = ["h0", "c0"] if kind == "lstm" else ["h0"]
    feed = {"x": inputs(13)} | {s: rng.standard_normal((N, H)) for s in state_names}
    feed |= {v.name: v.value.copy() for v in layer.weights}
    report = rnnkit.gradcheck(initial_state_function(layer, state_names), feed, **TOL)
    assert {c.name for c in report.checks} == set(feed)
    # The initial states do reach the outputs.
    _, backward = initial_state_function(layer, state_names)(**feed)
    found = backward(*[np.ones((N, T, H))] + [np.ones((N, H))] * (len(state_names) if return_state else 0))
    assert all(np.abs(found[s]).max() > 1e-3 for s in state_names)
    if return_state:  # the fully masked sample passes its initial states straight through
        outputs, _ = initial_state_function(layer, state_names)(**feed)
        for state, name in zip(outputs[1:], state_names):
            np.testing.assert_array_equal(state[1], feed[name][1])
        assert np.all(outputs[0][1] == 0.0)  # and outputs zeros, as Keras


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_gradcheck_python_cell_initial_state_and_return_state(go_backwards):
    rng = np.random.default_rng(22)
    layer = L.RNN(MinimalRNNCell(H, list_grads=True), return_sequences=True, return_state=True,
                  go_backwards=go_backwards)
    layer.build((None, T, F))
    randomize(layer, rng)
    feed = {"x": inputs(23), "h0": rng.standard_normal((N, H))}
    feed |= {v.name: v.value.copy() for v in layer.weights}
    report = rnnkit.gradcheck(initial_state_function(layer, ["h0"]), feed, **TOL)
    assert {c.name for c in report.checks} == set(feed)
    # The same as the built-in SimpleRNN from the same initial state.
    builtin = L.SimpleRNN(H, use_bias=False, return_sequences=True, return_state=True, go_backwards=go_backwards)
    builtin.build((None, T, F))
    builtin.set_weights(layer.get_weights())
    for got, want in zip(layer(feed["x"], mask=INIT_MASK, initial_state=[feed["h0"]]),
                         builtin(feed["x"], mask=INIT_MASK, initial_state=[feed["h0"]])):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------- user-written cell


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_python_cell_matches_simple_rnn_and_gradcheck(go_backwards, return_sequences):
    rng = np.random.default_rng(14)
    options = dict(return_sequences=return_sequences, go_backwards=go_backwards)
    custom = L.RNN(MinimalRNNCell(H, list_grads=True), **options)
    custom.build((None, T, F))
    randomize(custom, rng)
    builtin = L.SimpleRNN(H, use_bias=False, **options)
    builtin.build((None, T, F))
    builtin.set_weights(custom.get_weights())

    x = inputs(15)
    y_custom, pull_custom = custom.forward(x, mask=MASK, training=True)
    y_builtin, pull_builtin = builtin.forward(x, mask=MASK, training=True)
    np.testing.assert_allclose(y_custom, y_builtin, rtol=0, atol=1e-12)
    W, U = custom.get_weights()
    expected = ref.simple_rnn_forward(x, W, U, None, mask=MASK, **options).output
    if return_sequences:
        order_mask = MASK[:, ::-1] if go_backwards else MASK
        expected = expected * np.logical_or.accumulate(order_mask, axis=1)[..., None]
    np.testing.assert_allclose(y_custom, expected, rtol=0, atol=1e-12)

    dy = rng.standard_normal(y_custom.shape)
    dx_c, g_c = pull_custom(dy)
    dx_b, g_b = pull_builtin(dy)
    np.testing.assert_allclose(dx_c, dx_b, rtol=0, atol=1e-12)
    assert np.all(dx_c[~MASK] == 0.0)
    for v_c, v_b in zip(custom.weights, builtin.weights):
        np.testing.assert_allclose(g_c[v_c], g_b[v_b], rtol=0, atol=1e-12)

    check(custom, {"x": x, "mask": MASK})


# ---------------------------------------------------------------------------- shared weights
def test_accumulate_sums_per_variable():
    a, b, c = (Variable(np.zeros((2,)), name=n) for n in "abc")
    ga, gb = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    total = {a: ga}
    out = accumulate(total, {a: np.array([0.5, 0.25]), b: gb, c: None})
    assert out is total
    assert set(total) == {a, b}  # None means zero and adds no entry
    np.testing.assert_array_equal(total[a], [1.5, 2.25])
    np.testing.assert_array_equal(total[b], gb)
    np.testing.assert_array_equal(ga, [1.0, 2.0])  # the caller's arrays are not modified
    accumulate(total, {b: gb})
    np.testing.assert_array_equal(total[b], [20.0, 40.0])
    np.testing.assert_array_equal(gb, [10.0, 20.0])
    # Same name, different variables: keyed by identity, not by name.
    a2 = Variable(np.zeros((2,)), name="a")
    accumulate(total, {a2: np.ones(2)})
    np.testing.assert_array_equal(total[a], [1.5, 2.25])
    np.testing.assert_array_equal(total[a2], [1.0, 1.0])


def test_gradcheck_embedding_bidirectional_gru_model():
    rng = np.random.default_rng(24)
    ids = np.array([[3, 1, 4, 1], [0, 0, 2, 3], [2, 0, 4, 0]], dtype=np.int32)
    model = Sequential([L.Input((T,), dtype="int32"), L.Embedding(5, F, mask_zero=True),
                        L.Bidirectional(L.GRU(H, return_sequences=True), merge_mode="sum"),
                        L.TimeDistributed(L.Dense(2))])
    randomize(model, rng)
    check(model, {"x": ids})


def test_gradcheck_dense_called_twice():
    rng = np.random.default_rng(16)
    dense = L.Dense(H, activation="tanh")
    dense.build((None, F))
    randomize(dense, rng)
    kernel, bias = dense.kernel, dense.bias

    def fn(x1, x2, kernel_value, bias_value):
        kernel.value, bias.value = kernel_value, bias_value
        y1, pull1 = dense.forward(x1)
        y2, pull2 = dense.forward(x2)

        def backward(dy):
            dx1, g1 = pull1(dy)
            dx2, g2 = pull2(dy)
            grads = accumulate(accumulate({}, g1), g2)
            return {"x1": dx1, "x2": dx2, "kernel_value": grads[kernel], "bias_value": grads[bias]}

        return y1 + y2, backward

    feed = {"x1": rng.standard_normal((4, F)), "x2": rng.standard_normal((4, F)),
            "kernel_value": kernel.value.copy(), "bias_value": bias.value.copy()}
    report = rnnkit.gradcheck(fn, feed, **TOL)
    assert len(report.checks) == 4

    # Each call alone gives only part of the gradient.
    _, pull1 = dense.forward(feed["x1"])
    _, g1 = pull1(np.ones((4, H)))
    _, pull2 = dense.forward(feed["x2"])
    _, g2 = pull2(np.ones((4, H)))
    total = accumulate(accumulate({}, g1), g2)
    np.testing.assert_array_equal(total[kernel], g1[kernel] + g2[kernel])
    assert np.abs(g2[kernel]).max() > 1e-3


def test_gradcheck_masked_lstm_called_twice():
    """One LSTM on two sequences with different masks: the weight gradients add up."""
    rng = np.random.default_rng(17)
    lstm = L.LSTM(H)
    lstm.build((None, T, F))
    randomize(lstm, rng)
    variables = lstm.weights
    other_mask = ~MASK | np.eye(N, T, dtype=bool)

    def fn(x1, x2, **weights):
        for v in variables:
            v.value = weights[v.name]
        y1, pull1 = lstm.forward(x1, mask=MASK, training=True)
        y2, pull2 = lstm.forward(x2, mask=other_mask, training=True)

        def backward(dy):
            dx1, g1 = pull1(dy * y2)  # product rule
            dx2, g2 = pull2(dy * y1)
            grads = accumulate(accumulate({}, g1), g2)
            return {"x1": dx1, "x2": dx2} | {v.name: grads[v] for v in variables}

        return y1 * y2, backward

    feed = {"x1": inputs(18), "x2": inputs(19)} | {v.name: v.value.copy() for v in variables}
    rnnkit.gradcheck(fn, feed, **TOL)


def test_gradcheck_layer_shared_by_two_nested_models():
    """The same Dense instance in two sub-models of one model: one variable, summed gradient."""
    rng = np.random.default_rng(20)
    shared = L.Dense(F, activation="tanh")
    model = Sequential([L.Input((T, F)), Sequential([shared], name="first"), L.LSTM(H, return_sequences=True),
                        Sequential([L.Dense(F)], name="proj"), Sequential([shared], name="second")])
    randomize(model, rng)
    assert len(model.weights) == len({id(w) for w in model.weights})
    assert sum(w is shared.kernel for w in model.weights) == 1
    x = inputs(21)
    check(model, {"x": x, "mask": MASK})

    # The shared kernel's gradient is the sum over its two uses.
    y, pullback = model.forward(x, mask=MASK, training=True)
    dy = rng.standard_normal(y.shape)
    _, grads = pullback(dy)
    _, pull_last = shared.forward(model.layers[-2](model.layers[1](model.layers[0](x), mask=MASK)), training=True)
    _, g_last = pull_last(dy)
    assert np.abs(grads[shared.kernel] - g_last[shared.kernel]).max() > 1e-6
