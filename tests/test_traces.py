"""model.trace / layer.trace: per-step gates, states and state gradients of the recurrent layers.

The gates and states are held to the NumPy reference (tests/reference.py), the state gradients
to dL/dh_t and dL/dc_t obtained by chaining the single-step backward passes by hand, in float64.
"""

import numpy as np
import pytest

import rnnkit
from rnnkit import layers, ops

import reference as ref

TOL = dict(rtol=1e-12, atol=1e-12)

STEP = {"simple_rnn": ops.simple_rnn_step, "lstm": ops.lstm_step, "gru": ops.gru_step}
SEQUENCE = {"simple_rnn": ops.simple_rnn_forward, "lstm": ops.lstm_forward, "gru": ops.gru_forward}
REFERENCE = {"simple_rnn": ref.simple_rnn_forward, "lstm": ref.lstm_forward, "gru": ref.gru_forward}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
VARIANTS = [("simple_rnn", {}), ("lstm", {}), ("lstm", {"peephole_kernel": True}),
            ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]


def _weights(rng, cell, F, H, options):
    w = {"kernel": rng.normal(0, 0.5, (F, GATES[cell] * H)),
         "recurrent_kernel": rng.normal(0, 0.5, (H, GATES[cell] * H))}
    w["bias"] = rng.normal(0, 0.3, (2, 3 * H) if options.get("reset_after", cell == "gru") else (GATES[cell] * H,))
    kwargs = {k: v for k, v in options.items() if k != "peephole_kernel"}
    if options.get("peephole_kernel"):
        kwargs["peephole_kernel"] = rng.normal(0, 0.5, (3, H))
    return w, kwargs


def _chained_state_gradients(cell, x, w, kwargs, mask, dy, go_backwards):
    """dL/dh_t (and dL/dc_t) for L = sum(dy * outputs), by chaining one-step forward and backward
    passes in Python, with Keras' masking (a masked step carries the states)."""
    N, T, _ = x.shape
    H = w["recurrent_kernel"].shape[0]
    order = list(range(T))[::-1] if go_backwards else list(range(T))
    h, c = np.zeros((N, H)), np.zeros((N, H))
    steps, valid = [], []
    for t in order:
        state = (h, c) if cell == "lstm" else (h,)
        step = STEP[cell](x[:, t], *state, **w, **kwargs)
        keep = np.ones((N, 1), bool) if mask is None else mask[:, t][:, None]
        h = np.where(keep, step.h, h)
        if cell == "lstm":
            c = np.where(keep, step.c, c)
        steps.append(step)
        valid.append(keep)
    dh_steps, dc_steps = np.zeros((N, T, H)), np.zeros((N, T, H))
    carry_h, carry_c = np.zeros((N, H)), np.zeros((N, H))
    for s in reversed(range(T)):
        step, keep = steps[s], valid[s]
        dh = dy[:, s] + carry_h
        dh_steps[:, s] = dh
        grads = step.backward(dh=dh, dc=carry_c if cell == "lstm" else None)
        if cell == "lstm":  # h_t = o * tanh(c_t): the gradient reaching c_t through h_t, plus the carried one
            o, tanh_c = step.gates["o"], np.tanh(step.c)
            dc_steps[:, s] = np.where(keep, carry_c + dh * o * (1 - tanh_c ** 2), carry_c)
            carry_c = np.where(keep, grads["c_prev"], carry_c)
        carry_h = np.where(keep, grads["h_prev"], dh)
    return dh_steps, dc_steps


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cell,options", VARIANTS)
def test_state_gradients_equal_chained_step_backward(cell, options, masked, go_backwards):
    rng = np.random.default_rng(7)
    N, T, F, H = 3, 6, 4, 5
    x = rng.normal(size=(N, T, F))
    w, kwargs = _weights(rng, cell, F, H, options)
    mask = np.arange(T)[None, :] < np.array([6, 3, 1])[:, None] if masked else None
    dy = rng.normal(size=(N, T, H))
    result = SEQUENCE[cell](x, **w, **kwargs, mask=mask, go_backwards=go_backwards)
    grads = result.backward(dy, state_gradients=True)
    dh_expected, dc_expected = _chained_state_gradients(cell, x, w, kwargs, mask, dy, go_backwards)
    np.testing.assert_allclose(grads["h_steps"], dh_expected, **TOL)
    if cell == "lstm" and "peephole_kernel" not in kwargs:  # the peephole adds a path from c_t to o
        np.testing.assert_allclose(grads["c_steps"], dc_expected, **TOL)
    assert ("c_steps" in grads) == (cell == "lstm")
    # Asking for the state gradients changes none of the others.
    plain = SEQUENCE[cell](x, **w, **kwargs, mask=mask, go_backwards=go_backwards).backward(dy)
    for name, value in plain.items():
        np.testing.assert_array_equal(grads[name], value)


def test_state_gradients_of_the_final_state_alone():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 3))
    w, kwargs = _weights(rng, "lstm", 3, 4, {})
    result = ops.lstm_forward(x, **w, return_sequences=False)
    dh = rng.normal(size=(2, 4))
    grads = result.backward(dh, state_gradients=True)
    dh_expected, _ = _chained_state_gradients("lstm", x, w, kwargs, None,
                                              np.concatenate([np.zeros((2, 4, 4)), dh[:, None]], axis=1), False)
    np.testing.assert_allclose(grads["h_steps"], dh_expected, **TOL)
    np.testing.assert_array_equal(grads["h_steps"][:, -1], dh)


def _layer(cell, units, options, **layer_kwargs):
    classes = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
    kwargs = {"reset_after": options["reset_after"]} if "reset_after" in options else {}
    if options.get("peephole_kernel"):
        kwargs["peephole"] = True
    return classes[cell](units, dtype="float64", **kwargs, **layer_kwargs)


def _reference_of(layer_trace, cell, x, weights, options, mask=None, go_backwards=False):
    names = ["kernel", "recurrent_kernel", "bias"] + (["peephole_kernel"] if options.get("peephole_kernel") else [])
    kwargs = {"reset_after": options["reset_after"]} if "reset_after" in options else {}
    return REFERENCE[cell](x, **dict(zip(names, weights)), **kwargs, mask=mask, go_backwards=go_backwards)


def _assert_matches_reference(layer_trace, expected):
    valid = expected.valid[..., None]
    for name, gate in layer_trace.gates.items():
        np.testing.assert_allclose(np.where(valid, gate, 0), np.nan_to_num(expected.gates[name]), **TOL)
    np.testing.assert_allclose(layer_trace.hidden, expected.sequence, **TOL)
    if expected.cell_states is not None:
        np.testing.assert_allclose(layer_trace.cell_state, expected.cell_states, **TOL)
    else:
        assert layer_trace.cell_state is None


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cell,options", VARIANTS)
def test_layer_trace_equals_the_reference(cell, options, go_backwards):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 7, 4))
    mask = np.arange(7)[None, :] < np.array([7, 4, 2])[:, None]
    layer = _layer(cell, 5, options, go_backwards=go_backwards, return_sequences=True)
    layer.build((None, 7, 4))
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])  # peepholes start at zero
    trace = layer.trace(x, mask=mask)
    assert list(trace) == [layer.name]
    traced = trace[layer.name]
    assert (traced.cell, traced.units, traced.time_steps, traced.go_backwards) == (cell, 5, 7, go_backwards)
    np.testing.assert_array_equal(traced.mask, mask[:, ::-1] if go_backwards else mask)
    _assert_matches_reference(traced, _reference_of(traced, cell, x, layer.get_weights(), options, mask, go_backwards))
    assert traced.grad_hidden is None
    with pytest.raises(ValueError, match=r"trace\(x, y\)"):
        traced.gradient_norms()


def test_layer_trace_with_output_gradients_is_the_ops_backward():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 6, 3))
    layer = layers.LSTM(5, return_sequences=True, dtype="float64")
    d_outputs = rng.normal(size=(4, 6, 5))
    traced = layer.trace(x, d_outputs=d_outputs)[layer.name]
    grads = ops.lstm_forward(x, *layer.get_weights()).backward(d_outputs, state_gradients=True)
    np.testing.assert_array_equal(traced.grad_hidden, grads["h_steps"])
    np.testing.assert_array_equal(traced.grad_cell_state, grads["c_steps"])
    norms = traced.gradient_norms()
    np.testing.assert_allclose(norms["h"], np.linalg.norm(grads["h_steps"], axis=(0, 2)), rtol=1e-13)
    np.testing.assert_allclose(norms["c"], np.linalg.norm(grads["c_steps"], axis=(0, 2)), rtol=1e-13)


def _stacked_model():
    model = rnnkit.Sequential([
        layers.Input((8, 3), dtype="float64"),
        layers.LSTM(6, return_sequences=True, dtype="float64"),
        layers.GRU(4, return_sequences=True, dtype="float64"),
        layers.Dense(2, dtype="float64"),
    ])
    model.compile("adam", "mse")
    return model


def test_model_trace_chains_the_layers_and_leaves_the_weights():
    rng = np.random.default_rng(11)
    model = _stacked_model()
    x, y = rng.normal(size=(5, 8, 3)), rng.normal(size=(5, 8, 2))
    before = [w.copy() for w in model.get_weights()]
    lstm, gru = model.layers[0], model.layers[1]
    traced = model.trace(x, y)
    assert list(traced) == [lstm.name, gru.name]
    trace = {"lstm": traced[lstm.name], "gru": traced[gru.name]}
    _assert_matches_reference(trace["lstm"], _reference_of(trace["lstm"], "lstm", x, lstm.get_weights(), {}))
    _assert_matches_reference(trace["gru"],
                              _reference_of(trace["gru"], "gru", trace["lstm"].hidden, gru.get_weights(), {}))
    assert traced.loss == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-12)
    for w, w0 in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, w0)
    # The top recurrent layer's dL/dh_t is the ops backward of the gradient reaching its outputs.
    dense_kernel, dense_bias = model.layers[2].get_weights()
    y_pred = trace["gru"].hidden @ dense_kernel + dense_bias
    d_pred = 2 * (y_pred - y) / y.size
    expected = ops.gru_forward(trace["lstm"].hidden, *gru.get_weights()).backward(
        d_pred @ dense_kernel.T, state_gradients=True)["h_steps"]
    np.testing.assert_allclose(trace["gru"].grad_hidden, expected, rtol=1e-12, atol=1e-15)
    norms = traced.gradient_norms()
    assert list(norms) == [lstm.name, gru.name]
    assert set(norms[lstm.name]) == {"h", "c"} and set(norms[gru.name]) == {"h"}
    assert all(v.shape == (8,) and np.all(v > 0) for n in norms.values() for v in n.values())


def test_model_trace_without_targets_is_forward_only():
    rng = np.random.default_rng(2)
    model = _stacked_model()
    trace = model.trace(rng.normal(size=(2, 8, 3)))
    assert trace.loss is None and trace[model.layers[1].name].grad_hidden is None


def test_trace_with_targets_needs_a_compiled_model():
    model = rnnkit.Sequential([layers.Input((4, 2)), layers.GRU(3)])
    x = np.zeros((2, 4, 2), np.float32)
    assert list(model.trace(x)) == [model.layers[0].name]
    with pytest.raises(ValueError, match="compile"):
        model.trace(x, np.zeros((2, 3), np.float32))


def test_trace_of_bidirectional_masked_embedding_model():
    rng = np.random.default_rng(4)
    model = rnnkit.Sequential([
        layers.Input((6,), dtype="int64"),
        layers.Embedding(10, 3, mask_zero=True, dtype="float64"),
        layers.Bidirectional(layers.LSTM(4, dtype="float64"), dtype="float64"),
        layers.Dense(1, dtype="float64"),
    ])
    model.compile("sgd", "mse")
    ids = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6], [7, 0, 0, 0, 0, 0]])
    trace = model.trace(ids, rng.normal(size=(3, 1)))
    wrapper = model.layers[1]
    forward_name = f"{wrapper.name}/{wrapper.forward_layer.name}"
    backward_name = f"{wrapper.name}/{wrapper.backward_layer.name}"
    assert list(trace) == [forward_name, backward_name]
    mask = ids != 0
    embedded = model.layers[0].get_weights()[0][ids]
    for name, layer, backwards in ((forward_name, wrapper.forward_layer, False),
                                   (backward_name, wrapper.backward_layer, True)):
        traced = trace[name]
        assert traced.go_backwards is backwards
        np.testing.assert_array_equal(traced.mask, mask[:, ::-1] if backwards else mask)
        _assert_matches_reference(traced, _reference_of(traced, "lstm", embedded, layer.get_weights(), {}, mask,
                                                        backwards))
        # A masked step passes the gradient through unchanged to the step before it.
        for n in range(3):
            valid = np.flatnonzero(traced.mask[n])
            assert np.all(np.isfinite(traced.grad_hidden[n]))
            assert np.abs(traced.grad_hidden[n, valid]).sum() > 0


def test_trace_of_stacked_cells_and_of_a_shared_layer():
    rng = np.random.default_rng(6)
    stacked = layers.RNN([layers.LSTMCell(3, dtype="float64"), layers.GRUCell(2, dtype="float64")],
                         return_sequences=True, dtype="float64")
    x = rng.normal(size=(2, 5, 4))
    trace = stacked.trace(x, d_outputs=np.ones((2, 5, 2)))
    first, second = stacked.cell.cells
    assert list(trace) == [f"{stacked.name}/{first.name}", f"{stacked.name}/{second.name}"]
    np.testing.assert_allclose(trace[f"{stacked.name}/{second.name}"].hidden, stacked(x), **TOL)
    assert trace[f"{stacked.name}/{first.name}"].grad_cell_state is not None

    shared = layers.GRU(3, dtype="float64")
    a, b = layers.Input((5, 4), dtype="float64"), layers.Input((5, 4), dtype="float64")
    model = rnnkit.Model([a, b], layers.Concatenate()([shared(a), shared(b)]))
    trace = model.trace([x, 2 * x])
    assert list(trace) == [shared.name, f"{shared.name}:1"]
    np.testing.assert_allclose(trace[f"{shared.name}:1"].hidden[:, -1], shared(2 * x), **TOL)


def test_untraced_layers_give_an_empty_trace():
    layer = layers.Dense(3, dtype="float64")
    assert layer.trace(np.ones((2, 4))) == {}


def test_state_gradients_flag_is_checked():
    result = ops.gru_forward(np.ones((1, 2, 2)), np.ones((2, 6)), np.ones((2, 6)))
    with pytest.raises(TypeError, match="state_gradients must be a bool"):
        result.backward(np.ones((1, 2, 2)), state_gradients="yes")


def test_float32_trace_keeps_the_dtype():
    model = rnnkit.Sequential([layers.Input((5, 2)), layers.LSTM(3)])
    model.compile("adam", "mse")
    traced = model.trace(np.ones((2, 5, 2)), np.ones((2, 3)))[model.layers[0].name]
    assert traced.hidden.dtype == traced.gates["i"].dtype == traced.grad_hidden.dtype == np.float32
    assert traced.gradient_norms()["h"].dtype == np.float64


def test_plots_of_gates_and_gradient_norms(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnkit import plotting

    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(3, 8, 3)), rng.normal(size=(3, 1))
    mask = np.arange(8)[None, :] < np.array([8, 5, 3])[:, None]
    traces = {}
    for cell in (layers.SimpleRNN, layers.LSTM, layers.GRU):
        model = rnnkit.Sequential([layers.Input((8, 3), dtype="float64"), cell(4, dtype="float64"),
                                   layers.Dense(1, dtype="float64")])
        model.compile("sgd", "mse")
        traced = model.trace(x, y)[model.layers[0].name]
        traced.mask = mask
        fig = plotting.plot_gates(traced, sample=1, path=tmp_path / f"{cell.__name__}.png")
        expected = {"SimpleRNN": ["h (state)"],
                    "LSTM": ["i (input gate)", "f (forget gate)", "c~ (candidate)", "o (output gate)",
                             "c (cell state)"],
                    "GRU": ["z (update gate)", "r (reset gate)", "h~ (candidate)"]}[cell.__name__]
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        assert titles == expected
        image = fig.axes[0].images[0].get_array()
        values = np.ma.filled(np.ma.asarray(image, dtype=np.float64), np.nan)
        assert values.shape == (4, 8)  # (units, time)
        assert np.isnan(values[:, 5:]).all() and np.isfinite(values[:, :5]).all()  # sample 1 has 5 valid steps
        assert (tmp_path / f"{cell.__name__}.png").stat().st_size > 0
        plt.close(fig)
        traces[cell.__name__] = traced
    fig = plotting.plot_gradient_norms(traces, path=tmp_path / "norms.png")
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["SimpleRNN", "LSTM", "GRU"]
    np.testing.assert_allclose(lines[1].get_ydata(), traces["LSTM"].gradient_norms()["h"])
    plt.close(fig)
    fig = plotting.plot_gradient_norms(traces, state="c")
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["LSTM"]
    plt.close(fig)
    with pytest.raises(ValueError, match="sample must lie in"):
        plotting.plot_gates(traces["GRU"], sample=3)
    with pytest.raises(TypeError, match="LayerTrace"):
        plotting.plot_gates({"gru": traces["GRU"]})
    with pytest.raises(ValueError, match="state must be 'h' or 'c'"):
        plotting.plot_gradient_norms(traces, state="x")
    with pytest.raises(ValueError, match="no traced layer has a gradient of 'c'"):
        plotting.plot_gradient_norms({"GRU": traces["GRU"]}, state="c")


def test_summary_breaks_parameters_down_per_gate():
    model = rnnkit.Sequential([
        layers.Input((10, 8)),
        layers.Bidirectional(layers.LSTM(32, return_sequences=True, peephole=True)),
        layers.RNN([layers.GRUCell(16, reset_after=False), layers.SimpleRNNCell(4)]),
    ])
    lines = []
    model.summary(print_fn=lines.append, gates=True)
    text = "\n".join(lines)
    wrapper, stacked = model.layers
    gru_cell, rnn_cell = stacked.cell.cells
    for path in (f"{wrapper.name}/{wrapper.forward_layer.name}", f"{wrapper.name}/{wrapper.backward_layer.name}",
                 f"{stacked.name}/{gru_cell.name}", f"{stacked.name}/{rnn_cell.name}"):
        assert f"Parameters per gate of {path} (" in text
    table = [line.split() for line in lines if line.startswith("   ")]
    totals = [int(row[-1].replace(",", "")) for row in table if row[0] != "gate"]
    assert sum(totals) == model.count_params()
    # LSTM(32) on 8 features: each gate has 8*32 + 32*32 + 32 (+ 32 peephole for i, f and o).
    assert ["i", "(input", "gate)", "256", "1,024", "32", "32", "1,344"] in table
    assert ["c~", "(candidate)", "256", "1,024", "32", "0", "1,312"] in table
    # GRU with reset_after=False: one bias row.
    assert ["z", "(update", "gate)", "1,024", "256", "16", "1,296"] in table
    lines.clear()
    model.summary(print_fn=lines.append)
    assert not any("Parameters per gate" in line for line in lines)
    with pytest.raises(TypeError, match="gates must be a bool"):
        model.summary(gates="yes")
