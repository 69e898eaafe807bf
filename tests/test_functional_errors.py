"""Bad functional-API use gets a clear error, at model construction or at the call: unused
inputs, disconnected graphs, wrong input counts/names, mismatched batch sizes, incompatible
symbolic shapes, duplicate layer names, Model() without inputs/outputs, bad loss dicts."""

import numpy as np
import pytest

from rnnkit import layers as L
from rnnkit.models import Model, Sequential

X3 = np.ones((2, 3))


def two_input_model():
    a, b = L.Input((3,), name="a"), L.Input((3,), name="b")
    return Model([a, b], L.Dense(1, name="out")(L.Add()([a, b])))


# ---------------------------------------------------------------------- graph construction
def test_an_input_the_outputs_do_not_depend_on():
    a, b = L.Input((3,), name="a"), L.Input((3,), name="b_unused")
    with pytest.raises(ValueError, match=r"outputs do not depend on the input 'b_unused'"):
        Model([a, b], L.Dense(2)(a))


def test_an_output_that_does_not_depend_on_the_inputs():
    a, b = L.Input((3,), name="a"), L.Input((3,), name="b_missing")
    with pytest.raises(ValueError, match=r"graph is disconnected.*'b_missing'.*not among the model's inputs"):
        Model(a, L.Dense(2)(b))
    with pytest.raises(ValueError, match=r"graph is disconnected.*'b_missing'"):
        Model(a, L.Add()([L.Dense(3)(a), b]))  # partly connected
    with pytest.raises(ValueError, match=r"graph is disconnected.*'b_missing'"):
        Model(a, [L.Dense(1)(a), L.Dense(1)(b)])  # one of two outputs


def test_duplicate_layer_names():
    c = L.Input((3,), name="c")
    with pytest.raises(ValueError, match=r"several layers named 'same'; names must be unique"):
        Model(c, L.Dense(2, name="same")(L.Dense(3, name="same")(c)))
    q1, q2 = L.Input((3,), name="q"), L.Input((3,), name="q")
    with pytest.raises(ValueError, match=r"several layers named 'q'"):
        Model([q1, q2], L.Add()([q1, q2]))


@pytest.mark.parametrize("kwargs", [{}, {"inputs": "in"}, {"outputs": "out"}])
def test_model_without_inputs_or_outputs(kwargs):
    x = L.Input((3,))
    given = {k: (x if v == "in" else L.Dense(1)(x)) for k, v in kwargs.items()}
    with pytest.raises(TypeError, match=r"Model takes inputs and outputs"):
        Model(**given)


def test_inputs_and_outputs_must_be_symbolic_and_flat():
    a = L.Input((3,), name="a")
    with pytest.raises(TypeError, match=r"outputs must be symbolic tensors"):
        Model(a, X3)
    with pytest.raises(ValueError, match=r"inputs must come from rnnkit.layers.Input"):
        d = L.Dense(2)(a)
        Model(d, L.Dense(1)(d))
    with pytest.raises(ValueError, match=r"flat list or a flat dict"):
        Model([[a]], L.Dense(1)(a))
    with pytest.raises(TypeError, match=r"mix of symbolic tensors and arrays"):
        L.Add()([a, X3])


# ---------------------------------------------------------------------- incompatible shapes
def test_a_built_dense_called_on_fewer_features():
    dense = L.Dense(2, name="dense_4")
    dense(L.Input((4,)))
    with pytest.raises(ValueError, match=r"dense_4: it was built for inputs of shape \(None, 4\).*\(None, 3\)"):
        dense(L.Input((3,)))


def test_a_built_dense_called_on_a_sequence_of_other_features():
    """Dense(…) built for 4 features, called on a (None, 5, 3) tensor: 3 features are not 4,
    whatever the rank, so the symbolic call must refuse it (as Keras' input spec does)."""
    dense = L.Dense(2, name="dense_4b")
    dense(L.Input((4,)))
    with pytest.raises(ValueError, match=r"dense_4b.*4"):
        dense(L.Input((5, 3)))


def test_a_built_lstm_called_on_a_tensor_without_time_axis():
    lstm = L.LSTM(2, name="lstm_built")
    lstm(L.Input((3, 2)))
    with pytest.raises(ValueError, match=r"lstm_built.*(\(None, 3, 2\)|\(batch, time)"):
        lstm(L.Input((2,)))


def test_a_built_lstm_called_on_other_features():
    lstm = L.LSTM(2, name="lstm_f")
    lstm(L.Input((3, 2)))
    with pytest.raises(ValueError, match=r"lstm_f: it was built for inputs of shape \(None, 3, 2\)"):
        lstm(L.Input((3, 5)))


def test_a_nested_model_called_on_other_features():
    i = L.Input((3,))
    inner = Model(i, L.Dense(2)(i), name="inner_model")
    with pytest.raises(ValueError, match=r"inner_model: it was built for inputs of shape \(None, 3\)"):
        inner(L.Input((4,)))
    seq = Sequential([L.Input((3,)), L.Dense(2)], name="inner_seq")
    with pytest.raises(ValueError, match=r"inner_seq: it was built for inputs of shape \(None, 3\)"):
        seq(L.Input((4,)))


@pytest.mark.parametrize("make,shapes,message", [
    (L.Add, [(3,), (4,)], r"add.*must have the same shape.*\(None, 3\), \(None, 4\)"),
    (L.Multiply, [(2, 3), (3, 3)], r"must have the same shape"),
    (L.Subtract, [(3,)] * 3, r"Subtract needs exactly 2 inputs, got 3"),
    (L.Average, [(3,)], r"Average needs a list of at least 2 inputs"),
    (lambda: L.Concatenate(axis=1), [(2, 3), (2, 4)], r"must match except along axis 1"),
    (L.Concatenate, [(3,), (2, 3)], r"different ranks cannot be concatenated"),
    (lambda: L.Concatenate(axis=0), [(3,), (3,)], r"cannot concatenate along axis 0"),
    (lambda: L.Dot(axes=1), [(3,), (4,)], r"dot axes have sizes 3 and 4"),
    (lambda: L.Dot(axes=3), [(3,), (3,)], r"axes 3 do not fit inputs of ranks"),
])
def test_merge_of_incompatible_symbolic_tensors(make, shapes, message):
    with pytest.raises(ValueError, match=message):
        make()([L.Input(s) for s in shapes])


def test_merge_of_a_single_tensor():
    with pytest.raises(ValueError, match=r"Add needs a list of at least 2 inputs"):
        L.Add()(L.Input((3,)))


def test_initial_state_of_the_wrong_count_or_size_is_refused_by_the_call():
    x, h = L.Input((3, 2)), L.Input((2,))
    with pytest.raises(ValueError, match=r"initial_state needs 2 arrays"):
        model = Model([x, h], L.LSTM(2)(x, initial_state=[h]))
        model.predict([np.ones((2, 3, 2)), np.ones((2, 2))], verbose=0)
    x, h, c = L.Input((3, 2)), L.Input((3,)), L.Input((3,))
    with pytest.raises(ValueError, match=r"initial state 0 must have shape \(batch, units\)"):
        model = Model([x, h, c], L.LSTM(2)(x, initial_state=[h, c]))
        model.predict([np.ones((2, 3, 2)), np.ones((2, 3)), np.ones((2, 3))], verbose=0)


# ---------------------------------------------------------------------- calling a model
@pytest.mark.parametrize("call", ["predict", "call", "forward"])
def test_wrong_number_of_inputs(call):
    model = two_input_model()
    run = {"predict": lambda x: model.predict(x, verbose=0), "call": model, "forward": model.forward}[call]
    with pytest.raises(ValueError, match=r"takes 2 input\(s\) \(a, b\), got a list of 1"):
        run([X3])
    with pytest.raises(ValueError, match=r"takes 2 input\(s\) \(a, b\), got a list of 3"):
        run([X3, X3, X3])
    with pytest.raises(ValueError, match=r"takes 2 inputs \(a, b\): pass a list or a dict"):
        run(X3)


@pytest.mark.parametrize("call", ["predict", "call"])
def test_wrong_input_names_in_a_dict(call):
    model = two_input_model()
    run = {"predict": lambda x: model.predict(x, verbose=0), "call": model}[call]
    with pytest.raises(ValueError, match=r"inputs are named \['a', 'b'\]; got \['a', 'c'\] \(missing \['b'\]\)"):
        run({"a": X3, "c": X3})
    with pytest.raises(ValueError, match=r"inputs are named \['a', 'b'\]; got \['a'\] \(missing \['b'\]\)"):
        run({"a": X3})
    with pytest.raises(ValueError, match=r"inputs are named \['a', 'b'\]; got \['a', 'b', 'z'\]"):
        run({"a": X3, "b": X3, "z": X3})


def test_mismatched_batch_sizes_across_inputs():
    model = two_input_model()
    model.compile("sgd", "mse")
    x4 = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"same number of samples: x\[0\] has 2, x\[1\] has 4"):
        model.predict([X3, x4], verbose=0)
    with pytest.raises(ValueError, match=r"same number of samples: x\[0\] has 2, x\[1\] has 4"):
        model.fit([X3, x4], np.ones((2, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"same number of samples.*y has 4"):
        model.evaluate([X3, X3], np.ones((4, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"same batch size: 'a' has 2, 'b' has 4"):
        model([X3, x4])
    with pytest.raises(ValueError, match=r"same batch size: 'a' has 2, 'b' has 4"):
        model.forward({"a": X3, "b": x4})


def test_an_input_array_of_the_wrong_shape():
    model = two_input_model()
    with pytest.raises(ValueError, match=r"input 'b' expects arrays of shape \(None, 3\), got \(2, 4\)"):
        model.predict([X3, np.ones((2, 4))], verbose=0)


# ---------------------------------------------------------------------- compile and targets
def two_output_model():
    a = L.Input((3,), name="a")
    return Model(a, [L.Dense(1, name="o1")(a), L.Dense(2, name="o2")(a)])


@pytest.mark.parametrize("argument,value,message", [
    ("loss", {"o1": "mse", "o3": "mse"}, r"loss: unknown output name\(s\) \['o3'\]; the outputs are \['o1', 'o2'\]"),
    ("loss", ["mse"], r"loss: the model has 2 output\(s\) \(o1, o2\), got a list of 1"),
    ("loss_weights", {"zz": 1.0}, r"loss_weights: unknown output name\(s\) \['zz'\]"),
    ("loss_weights", 0.5, r"loss_weights: the model has 2 outputs"),
    ("metrics", {"zz": ["mae"]}, r"metrics: unknown output name\(s\) \['zz'\]"),
    ("metrics", [["mae"]], r"metrics: the model has 2 output\(s\)"),
])
def test_compile_arguments_naming_unknown_outputs(argument, value, message):
    model = two_output_model()
    kwargs = {"loss": "mse", argument: value}
    with pytest.raises(ValueError, match=message):
        model.compile("sgd", **kwargs)
    assert not model.compiled


def test_targets_naming_unknown_outputs_or_of_the_wrong_count_or_shape():
    model = two_output_model()
    model.compile("sgd", "mse")
    y1, y2 = np.ones((2, 1)), np.ones((2, 2))
    with pytest.raises(ValueError, match=r"y: unknown output name\(s\) \['oops'\]"):
        model.fit(X3, {"o1": y1, "oops": y2}, verbose=0)
    with pytest.raises(ValueError, match=r"y: the model has 2 output\(s\) \(o1, o2\), got a list of 1"):
        model.fit(X3, [y1], verbose=0)
    with pytest.raises(ValueError, match=r"y of shape \(2, 3\) does not fit the model's output shape \(None, 2\)"):
        model.evaluate(X3, [y1, np.ones((2, 3))], verbose=0)
