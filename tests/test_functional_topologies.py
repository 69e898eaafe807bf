"""Functional-API topologies (two inputs, two outputs, a shared layer, nested models, an
encoder-decoder passing states, Bidirectional in a graph) against the NumPy reference and
finite differences, and their round trips through save/load_model, to_json/model_from_json,
get_config/from_config and clone_model, including resumed training."""

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import rnnkit
from rnnkit import layers as L
from rnnkit.layers.base import InputLayer
from rnnkit.models import Model, clone_model, load_model, model_from_json

import functional_cases as cases
from functional_cases import BUILDERS, as_list, model_x, model_y

TOPOLOGIES = sorted(BUILDERS)


@pytest.fixture(params=TOPOLOGIES)
def case(request, floatx64):
    return BUILDERS[request.param]()


def assert_outputs_equal(actual, expected):
    actual, expected = as_list(actual), as_list(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(a, e)


# ---------------------------------------------------------------------- forward and gradients
def test_forward_matches_numpy_reference(case):
    expected = case.reference(case.model, case.x)
    for outputs in (case.model.predict(model_x(case), verbose=0), case.model(model_x(case)),
                    case.model.forward(model_x(case), training=True)[0]):
        outputs = as_list(outputs)
        assert len(outputs) == len(expected)
        for got, want in zip(outputs, expected):
            assert got.dtype == np.float64
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_gradcheck(case):
    x = [a[:2] for a in case.x]  # two samples are enough for the check
    report = rnnkit.gradcheck(case.model, {"x": x if len(x) > 1 else x[0]}, order=4, rtol=1e-7, atol=1e-9)
    checked = {c.name for c in report.checks}
    assert {v.path for v in case.model.weights} <= checked
    assert ({f"x[{k}]" for k in range(len(x))} if len(x) > 1 else {"x"}) <= checked
    assert report.passed


def test_gradcheck_with_dict_inputs_by_name(floatx64):
    case = cases.encoder_decoder()
    x = {"enc_in": case.x[0][:2], "dec_in": case.x[1][:2]}
    report = rnnkit.gradcheck(case.model, {"x": x}, order=4, rtol=1e-7, atol=1e-9)
    assert {"x[enc_in]", "x[dec_in]"} <= {c.name for c in report.checks}


def test_pullback_d_inputs_mirror_dict_inputs(floatx64):
    """The layer contract: d_inputs mirrors inputs, so inputs given as a dict by Input name get
    their gradients back as a dict with the same keys."""
    case = cases.encoder_decoder()
    x = {"dec_in": case.x[1], "enc_in": case.x[0]}
    y, pullback = case.model.forward(x, training=True)
    d_inputs, _ = pullback(np.ones_like(y))
    _, list_pullback = case.model.forward(case.x, training=True)
    (d_enc, d_dec), _ = list_pullback(np.ones_like(y))
    assert isinstance(d_inputs, dict) and set(d_inputs) == {"enc_in", "dec_in"}
    np.testing.assert_array_equal(d_inputs["enc_in"], d_enc)
    np.testing.assert_array_equal(d_inputs["dec_in"], d_dec)


def test_layers_start_with_the_input_layers(case):
    layers = case.model.layers
    n = len(case.x)
    assert all(isinstance(layer, InputLayer) for layer in layers[:n])
    assert not any(isinstance(layer, InputLayer) for layer in layers[n:])
    assert [layer.name for layer in layers[:n]] == case.model.input_names
    assert len({id(layer) for layer in layers}) == len(layers)  # a shared layer is listed once


# ---------------------------------------------------------------------- a shared layer's gradient
@pytest.mark.parametrize("kind", ["dense", "lstm"])
def test_shared_layer_gradient_is_the_sum_over_its_uses(floatx64, kind):
    def make(layer):
        return L.Dense(3, activation="tanh", name=layer) if kind == "dense" else L.LSTM(3, name=layer)

    shape = (4,) if kind == "dense" else (3, 2)
    r = np.random.default_rng(7)
    xa, xb = r.standard_normal((2,) + shape), r.standard_normal((2,) + shape)

    a, b = L.Input(shape, name="a"), L.Input(shape, name="b")
    shared_layer = make("shared")
    head = L.Dense(2, name="head")
    shared_model = Model([a, b], head(L.Concatenate()([shared_layer(a), shared_layer(b)])))

    a2, b2 = L.Input(shape, name="a2"), L.Input(shape, name="b2")
    first, second = make("first"), make("second")
    head2 = L.Dense(2, name="head2")
    separate_model = Model([a2, b2], head2(L.Concatenate()([first(a2), second(b2)])))
    first.set_weights(shared_layer.get_weights())
    second.set_weights(shared_layer.get_weights())
    head2.set_weights(head.get_weights())
    assert len(shared_model.weights) == len(separate_model.weights) - len(shared_layer.weights)

    dy = r.standard_normal((2, 2))
    y_shared, pullback = shared_model.forward([xa, xb], training=True)
    y_separate, pullback2 = separate_model.forward([xa, xb], training=True)
    np.testing.assert_array_equal(y_shared, y_separate)
    (dxa, dxb), grads = pullback(dy)
    (dxa2, dxb2), grads2 = pullback2(dy)
    np.testing.assert_allclose(dxa, dxa2, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dxb, dxb2, rtol=1e-13, atol=1e-15)
    for v, v1, v2 in zip(shared_layer.weights, first.weights, second.weights):
        np.testing.assert_allclose(grads[v], grads2[v1] + grads2[v2], rtol=1e-13, atol=1e-15)
        assert not np.allclose(grads2[v1], 0) and not np.allclose(grads2[v2], 0)
    for v, v2 in zip(head.weights, head2.weights):
        np.testing.assert_allclose(grads[v], grads2[v2], rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------- summary
def test_summary_has_a_connected_to_column():
    case = cases.two_inputs()
    lines = []
    case.model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in lines[2]
    row = next(line for line in lines if line.lstrip("│| ").startswith("concat (Concatenate)"))
    assert "lstm[0][0]" in row and "dense[0][0]" in row
    assert "seq[0][0]" in next(line for line in lines if "lstm (LSTM)" in line)
    assert "Total params:" in text


def test_summary_names_the_second_call_of_a_shared_layer():
    case = cases.shared()
    lines = []
    case.model.summary(print_fn=lines.append)
    row = next(line for line in lines if "concat (Concatenate)" in line)
    assert "shared[0][0]" in row and "shared[1][0]" in row


def test_summary_names_the_state_outputs_of_an_encoder():
    case = cases.encoder_decoder()
    lines = []
    case.model.summary(print_fn=lines.append)
    start = next(k for k, line in enumerate(lines) if "decoder (LSTM)" in line)
    end = next(k for k in range(start, len(lines)) if lines[k].startswith(("├", "└")))
    row = " ".join(line.split("│")[4].strip() for line in lines[start:end])  # a long cell wraps
    assert "dec_in[0][0]" in row and "encoder[0][1]" in row and "encoder[0][2]" in row


# ---------------------------------------------------------------------- round trips
def _fresh_weights_differ(original, clone):
    assert {id(v) for v in original.weights}.isdisjoint({id(v) for v in clone.weights})
    kernels = [(a, b) for a, b in zip(original.get_weights(), clone.get_weights()) if a.ndim == 2]
    assert any(not np.array_equal(a, b) for a, b in kernels)


def _same_structure(original, rebuilt):
    assert type(rebuilt) is Model
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in original.layers]
    assert rebuilt.input_names == original.input_names
    assert rebuilt.output_names == original.output_names
    assert [v.path for v in rebuilt.weights] == [v.path for v in original.weights]
    assert [v.shape for v in rebuilt.weights] == [v.shape for v in original.weights]


def test_get_config_from_config_round_trip(case):
    config = case.model.get_config()
    json.dumps(config)  # plain JSON data
    rebuilt = Model.from_config(config)
    _same_structure(case.model, rebuilt)
    _fresh_weights_differ(case.model, rebuilt)
    rebuilt.set_weights(case.model.get_weights())
    assert_outputs_equal(rebuilt.predict(model_x(case), verbose=0), case.model.predict(model_x(case), verbose=0))
    assert rebuilt.get_config() == config


def test_to_json_model_from_json_round_trip(case):
    rebuilt = model_from_json(case.model.to_json())
    _same_structure(case.model, rebuilt)
    rebuilt.set_weights(case.model.get_weights())
    assert_outputs_equal(rebuilt.predict(model_x(case), verbose=0), case.model.predict(model_x(case), verbose=0))
    for got, want in zip(as_list(rebuilt.predict(model_x(case), verbose=0)), case.reference(rebuilt, case.x)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_clone_model_has_fresh_weights_and_the_same_function(case):
    clone = clone_model(case.model)
    _same_structure(case.model, clone)
    _fresh_weights_differ(case.model, clone)
    for got, want in zip(as_list(clone.predict(model_x(case), verbose=0)), case.reference(clone, case.x)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    clone.set_weights(case.model.get_weights())
    assert_outputs_equal(clone.predict(model_x(case), verbose=0), case.model.predict(model_x(case), verbose=0))


def test_save_load_model_round_trip_and_resumed_training(case, tmp_path):
    model = case.model
    model.compile(optimizer="adam", loss="mse")
    x, y = model_x(case), model_y(case)
    model.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = load_model(path)
    _same_structure(model, loaded)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_outputs_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for got, want in zip(as_list(loaded.predict(x, verbose=0)), case.reference(loaded, case.x)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)

    before = model.get_weights()
    h1 = model.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0)
    h2 = loaded.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0)
    assert h1.history == h2.history
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- more graphs
def test_bidirectional_states_passed_to_a_decoder(floatx64, tmp_path):
    """Bidirectional(LSTM(return_state=True)) gives [out, h_f, c_f, h_b, c_b]; the joined
    states start a wider decoder."""
    import reference as ref

    enc, dec = L.Input((3, 2), name="enc"), L.Input((2, 2), name="dec")
    outs = L.Bidirectional(L.LSTM(2, return_state=True), name="bi")(enc)
    assert [o.shape for o in outs] == [(None, 4)] + [(None, 2)] * 4
    _, hf, cf, hb, cb = outs
    h, c = L.Concatenate(name="h")([hf, hb]), L.Concatenate(name="c")([cf, cb])
    d = L.LSTM(4, return_sequences=True, name="dec_lstm")(dec, initial_state=[h, c])
    model = Model([enc, dec], L.Dense(1, name="head")(d))
    r = np.random.default_rng(8)
    xs = [r.standard_normal((2, 3, 2)), r.standard_normal((2, 2, 2))]

    def reference(m):
        bi = m.get_layer("bi")
        f = ref.lstm_forward(xs[0], *bi.forward_layer.get_weights(), return_sequences=False)
        b = ref.lstm_forward(xs[0], *bi.backward_layer.get_weights(), go_backwards=True, return_sequences=False)
        out = ref.lstm_forward(xs[1], *m.get_layer("dec_lstm").get_weights(), h0=np.concatenate([f.h, b.h], -1),
                               c0=np.concatenate([f.c, b.c], -1)).output
        return ref.dense_forward(out, *m.get_layer("head").get_weights())

    np.testing.assert_allclose(model.predict(xs, verbose=0), reference(model), rtol=1e-12, atol=1e-12)
    rnnkit.gradcheck(model, {"x": xs}, order=4, rtol=1e-7, atol=1e-9)
    model.save(str(tmp_path / "m.keras"))
    loaded = load_model(str(tmp_path / "m.keras"))
    np.testing.assert_array_equal(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0))


def test_a_nested_model_used_twice_shares_its_weights(floatx64, tmp_path):
    e_in = L.Input((3,), name="e_in")
    encoder = Model(e_in, L.Dense(2, activation="tanh", name="e_dense")(e_in), name="encoder")
    x1, x2 = L.Input((3,), name="x1"), L.Input((3,), name="x2")
    model = Model([x1, x2], L.Dot(axes=1, normalize=True, name="cosine")([encoder(x1), encoder(x2)]))
    assert [layer.name for layer in model.layers] == ["x1", "x2", "encoder", "cosine"]
    assert len(model.weights) == 2
    r = np.random.default_rng(9)
    xs = [r.standard_normal((3, 3)), r.standard_normal((3, 3))]
    rnnkit.gradcheck(model, {"x": xs}, order=4, rtol=1e-7, atol=1e-9)
    lines = []
    model.summary(print_fn=lines.append)
    assert "encoder[0][0], encoder[1][0]" in next(line for line in lines if "cosine (Dot)" in line)
    for rebuilt in (Model.from_config(model.get_config()), clone_model(model)):
        assert len(rebuilt.weights) == 2
        rebuilt.set_weights(model.get_weights())
        np.testing.assert_array_equal(rebuilt.predict(xs, verbose=0), model.predict(xs, verbose=0))
    model.save(str(tmp_path / "m.keras"))
    np.testing.assert_array_equal(load_model(str(tmp_path / "m.keras")).predict(xs, verbose=0),
                                  model.predict(xs, verbose=0))
