"""rnnkit.conversion against real PyTorch numbers (tests/fixtures/torch_conversion.npz, made by
tests/fixtures/make_torch_conversion.py with PyTorch 2.13): outputs, final states and every
gradient of nn.RNN, nn.LSTM and nn.GRU, and exact round trips. PyTorch is not needed here."""

import json
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit import conversion, layers

FIXTURES = Path(__file__).parent / "fixtures"
META = json.loads((FIXTURES / "torch_conversion.json").read_text())
CASES = sorted(META["cases"])
TOL = {"float32": dict(rtol=1e-6, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-12)}


@pytest.fixture(scope="module")
def arrays():
    with np.load(FIXTURES / "torch_conversion.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def case_arrays(arrays, case):
    prefix = case + "/"
    return {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}


def torch_part(values, part):
    return {key[len(part) + 1:]: value for key, value in values.items() if key.startswith(part + "/")}


def batch_major(array, kwargs):
    return array if kwargs.get("batch_first") else array.transpose(1, 0, 2)


@pytest.mark.parametrize("case", CASES)
def test_outputs_states_and_gradients_equal_pytorch(arrays, case):
    spec = META["cases"][case]
    kwargs, dtype = spec["kwargs"], case.split("/")[1]
    values = case_arrays(arrays, case)
    state_dict = torch_part(values, "state_dict")
    model = conversion.from_torch(state_dict, spec["module"], nonlinearity=kwargs.get("nonlinearity", "tanh"))
    assert model.dtype == dtype
    x = batch_major(values["x"], kwargs)
    output, pullback = model.forward(x)
    np.testing.assert_allclose(output, batch_major(values["output"], kwargs), **TOL[dtype])

    # Final states, through model.trace: one entry per layer and direction, in PyTorch's h_n order.
    trace = model.trace(x)
    assert len(trace) == len(values["h_n"])
    for k, traced in enumerate(trace.values()):
        np.testing.assert_allclose(traced.hidden[:, -1], values["h_n"][k], **TOL[dtype])
        if "c_n" in values:
            np.testing.assert_allclose(traced.cell_state[:, -1], values["c_n"][k], **TOL[dtype])

    # Gradients of sum(output * probe): the input's and every parameter's, in PyTorch's layout.
    dx, grads = pullback(batch_major(values["probe"], kwargs))
    np.testing.assert_allclose(dx, batch_major(values["dx"], kwargs), **TOL[dtype])
    expected = torch_part(values, "grad")
    got = {}
    for index, layer in enumerate(model.layers):
        directions = [layer.forward_layer, layer.backward_layer] if kwargs.get("bidirectional") else [layer]
        for direction, rnn in enumerate(directions):
            suffix = f"_l{index}" + ("_reverse" if direction else "")
            as_torch = conversion._torch_weights(spec["module"], [grads[v] for v in rnn.cell.weights], rnn.cell.units)
            for name, value in as_torch.items():
                got[name + suffix] = value
            if kwargs.get("bias", True) and spec["module"] != "GRU":  # one bias: both of PyTorch's get its gradient
                got["bias_hh" + suffix] = got["bias_ih" + suffix]
    assert sorted(got) == sorted(expected)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("case", CASES)
def test_round_trips(arrays, case):
    spec = META["cases"][case]
    kwargs = spec["kwargs"]
    state_dict = torch_part(case_arrays(arrays, case), "state_dict")
    model = conversion.from_torch(state_dict, spec["module"], nonlinearity=kwargs.get("nonlinearity", "tanh"))
    back, module_kwargs = conversion.to_torch(model)
    expected_kwargs = {"mode": spec["module"], "num_layers": 1, "bias": True, "bidirectional": False,
                       **kwargs, "batch_first": True}
    if spec["module"] == "RNN":
        expected_kwargs.setdefault("nonlinearity", "tanh")
    assert module_kwargs == expected_kwargs
    assert sorted(back) == sorted(state_dict)
    for name, value in back.items():
        assert value.dtype == state_dict[name].dtype and value.flags.c_contiguous
        if spec["module"] != "GRU" and name.startswith("bias_"):
            continue  # one bias in rnnkit: the sum is kept, checked below
        np.testing.assert_array_equal(value, state_dict[name], err_msg=name)  # PyTorch -> rnnkit -> PyTorch: exact
    for name in back:
        if spec["module"] != "GRU" and name.startswith("bias_ih"):
            other = name.replace("bias_ih", "bias_hh")
            np.testing.assert_array_equal(back[name] + back[other], state_dict[name] + state_dict[other])
            assert not back[other].any()
    # rnnkit -> PyTorch -> rnnkit gives back the very same arrays.
    again = conversion.from_torch(back, module_kwargs["mode"], nonlinearity=module_kwargs.get("nonlinearity", "tanh"))
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_one_layer_at_a_time(arrays):
    values = case_arrays(arrays, "lstm_2layers_bidirectional/float64")
    state_dict = torch_part(values, "state_dict")
    first = layers.Bidirectional(layers.LSTM(4, return_sequences=True, dtype="float64"), dtype="float64")
    second = layers.Bidirectional(layers.LSTM(4, return_sequences=True, dtype="float64"), dtype="float64")
    first.build((None, 6, 3))
    second.build((None, 6, 8))
    conversion.set_torch_layer_weights(first, state_dict, 0)
    conversion.set_torch_layer_weights(second, state_dict, index=1)
    np.testing.assert_allclose(second(first(values["x"])), values["output"], rtol=1e-12, atol=1e-12)
    entries = conversion.torch_layer_weights(second, 1)
    assert sorted(entries) == sorted(k for k in state_dict if "_l1" in k)
    np.testing.assert_array_equal(entries["weight_hh_l1_reverse"], state_dict["weight_hh_l1_reverse"])


def test_a_keras_built_model_goes_to_pytorch_layout():
    model = rnnkit.Sequential([layers.Input((5, 3)), layers.GRU(4, return_sequences=True), layers.GRU(4)])
    state_dict, kwargs = conversion.to_torch(model)
    assert kwargs == {"mode": "GRU", "input_size": 3, "hidden_size": 4, "num_layers": 2, "bias": True,
                      "bidirectional": False, "batch_first": True}
    assert state_dict["weight_ih_l1"].shape == (12, 4) and state_dict["bias_hh_l0"].shape == (12,)
    # z, r, h in rnnkit are r, z, n in PyTorch: the first two blocks swap.
    kernel = model.layers[0].get_weights()[0]
    np.testing.assert_array_equal(state_dict["weight_ih_l0"][:4], kernel[:, 4:8].T)
    np.testing.assert_array_equal(state_dict["weight_ih_l0"][4:8], kernel[:, :4].T)


def test_bad_state_dicts_say_what_is_wrong(arrays):
    state_dict = torch_part(case_arrays(arrays, "lstm_2layers_bidirectional/float64"), "state_dict")
    missing = {k: v for k, v in state_dict.items() if k != "bias_hh_l1_reverse"}
    with pytest.raises(ValueError, match="missing bias_hh_l1_reverse"):
        conversion.from_torch(missing, "LSTM")
    with pytest.raises(ValueError, match=r"unexpected keys .*'fc\.weight'"):
        conversion.from_torch(state_dict | {"fc.weight": np.zeros((2, 2))}, "LSTM")
    with pytest.raises(ValueError, match="proj_size"):
        conversion.from_torch(state_dict | {"weight_hr_l0": np.zeros((2, 4))}, "LSTM")
    wrong = dict(state_dict, weight_ih_l1=np.zeros((16, 5)))
    with pytest.raises(ValueError, match=r"weight_ih_l1 must have shape \(16, 8\) .* got \(16, 5\)"):
        conversion.from_torch(wrong, "LSTM")
    with pytest.raises(ValueError, match=r"weight_hh_l0 of a GRU must have shape \(3\*hidden_size"):
        conversion.from_torch(state_dict, "GRU")
    with pytest.raises(ValueError, match="mode must be 'RNN', 'LSTM' or 'GRU'"):
        conversion.from_torch(state_dict, "Transformer")
    with pytest.raises(TypeError, match="non-empty mapping"):
        conversion.from_torch([1, 2], "LSTM")
    with pytest.raises(TypeError, match="must hold floats"):
        conversion.from_torch(dict(state_dict, weight_ih_l0=np.zeros((16, 3), np.int64)), "LSTM")
    with pytest.raises(ValueError, match=r"nonlinearity applies to nn\.RNN only"):
        conversion.from_torch(state_dict, "LSTM", nonlinearity="relu")
    with pytest.raises(ValueError, match="lacks weight_ih_l0"):
        layer = layers.LSTM(4, return_sequences=True, dtype="float64")
        layer.build((None, 6, 3))
        conversion.set_torch_layer_weights(layer, {"weight_hh_l0": state_dict["weight_hh_l0"]})


@pytest.mark.parametrize("layer,message", [
    (lambda: layers.GRU(3, reset_after=False), "reset_after=False GRU"),
    (lambda: layers.LSTM(3, peephole=True), "no peepholes"),
    (lambda: layers.SimpleRNN(3, activation="sigmoid"), "tanh or relu"),
    (lambda: layers.Bidirectional(layers.LSTM(3), merge_mode="sum"), "merge_mode='sum'"),
    (lambda: layers.Dense(3), "expected a SimpleRNN, LSTM or GRU layer"),
])
def test_layers_pytorch_cannot_express(layer, message):
    model = rnnkit.Sequential([layers.Input((4, 2)), layer()])
    with pytest.raises(ValueError, match=message):
        conversion.to_torch(model)


def test_stacks_pytorch_cannot_express():
    mixed = rnnkit.Sequential([layers.Input((4, 2)), layers.LSTM(3, return_sequences=True), layers.LSTM(5)])
    with pytest.raises(ValueError, match="layers differ"):
        conversion.to_torch(mixed)
    last_only = rnnkit.Sequential([layers.Input((4, 2)), layers.GRU(3), layers.RepeatVector(4), layers.GRU(3)])
    with pytest.raises(ValueError):
        conversion.to_torch(last_only)
    not_sequences = [layers.GRU(3), layers.GRU(3)]
    for layer in not_sequences:
        layer.build((None, 4, 3))
    with pytest.raises(ValueError, match="must return sequences"):
        conversion.to_torch(not_sequences)


def test_torch_init_draws_from_pytorchs_distributions():
    model = rnnkit.Sequential([layers.Input((5,), dtype="int64"), layers.Embedding(20, 6),
                               layers.LSTM(16, return_sequences=True), layers.Bidirectional(layers.GRU(25)),
                               layers.Dense(4)])
    conversion.torch_init(model, seed=0)
    embedding, lstm, wrapper, dense = model.layers
    assert abs(embedding.get_weights()[0].std() - 1) < 0.25  # N(0, 1)
    for rnn, units in ((lstm, 16), (wrapper.forward_layer, 25), (wrapper.backward_layer, 25)):
        for w in rnn.get_weights():
            assert np.abs(w).max() <= 1 / np.sqrt(units) and np.abs(w).max() > 0.9 / np.sqrt(units)
    for w in dense.get_weights():
        assert np.abs(w).max() <= 1 / np.sqrt(50)
    again = rnnkit.models.clone_model(model)
    again.set_weights(model.get_weights())
    conversion.torch_init(again, seed=0)
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)  # seeded
    with pytest.raises(ValueError, match="not built"):
        conversion.torch_init(layers.GRU(3))
