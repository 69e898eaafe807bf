"""Hardening of rnnkit.ops and the layers: flags must be bools, backward passes never read arrays
changed after the forward call, sizes are checked before allocating, and messages name the
function, layer and argument at fault. Every error test checks the type and the message."""

import re

import numpy as np
import pytest

import rnnkit
from rnnkit import layers as L, ops, optimizers
from rnnkit.layers import base
from rnnkit.models import data

from tracing import traced

N, T, F, H = 2, 3, 4, 5


def raises(exc, message):
    """pytest.raises matching ``message`` literally (not as a regex)."""
    return pytest.raises(exc, match=re.escape(message))


# ----------------------------------------------------------------------------- flags are bools
FLAG_CASES = [
    ("GRU", lambda **kw: L.GRU(4, **kw), "reset_after"),
    ("GRUCell", lambda **kw: L.GRUCell(4, **kw), "reset_after"),
    ("LSTM", lambda **kw: L.LSTM(4, **kw), "unit_forget_bias"),
    ("LSTM", lambda **kw: L.LSTM(4, **kw), "peephole"),
    ("LSTMCell", lambda **kw: L.LSTMCell(4, **kw), "peephole"),
    ("LSTMCell", lambda **kw: L.LSTMCell(4, **kw), "unit_forget_bias"),
    ("SimpleRNN", lambda **kw: L.SimpleRNN(4, **kw), "use_bias"),
    ("SimpleRNNCell", lambda **kw: L.SimpleRNNCell(4, **kw), "use_bias"),
    ("GRU", lambda **kw: L.GRU(4, **kw), "use_bias"),
    ("Dense", lambda **kw: L.Dense(4, **kw), "use_bias"),
    ("Embedding", lambda **kw: L.Embedding(10, 4, **kw), "mask_zero"),
    ("Dot", lambda **kw: L.Dot(1, **kw), "normalize"),
    ("Dense", lambda **kw: L.Dense(4, **kw), "trainable"),
    ("LSTM", lambda **kw: L.LSTM(4, **kw), "trainable"),
    ("Masking", lambda **kw: L.Masking(**kw), "trainable"),
] + [
    (kind, make, flag)
    for kind, make in (("LSTM", lambda **kw: L.LSTM(4, **kw)),
                       ("RNN", lambda **kw: L.RNN(L.GRUCell(3), **kw)))
    for flag in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask")
]


@pytest.mark.parametrize("kind, make, flag", FLAG_CASES, ids=[f"{c[0]}-{c[2]}" for c in FLAG_CASES])
@pytest.mark.parametrize("value", ["no", "False", 1, 0, None, 1.0, [True]], ids=repr)
def test_a_flag_that_is_not_a_bool_is_refused(kind, make, flag, value):
    with raises(TypeError, f"{kind}: {flag} must be a bool (True or False), got {value!r} of type "
                           f"{type(value).__name__}"):
        make(**{flag: value})


def test_gru_reset_after_no_is_refused_not_read_as_true():
    with raises(TypeError, "GRU: reset_after must be a bool (True or False), got 'no' of type str"):
        L.GRU(4, reset_after="no")


@pytest.mark.parametrize("kind, make, flag", FLAG_CASES, ids=[f"{c[0]}-{c[2]}" for c in FLAG_CASES])
def test_numpy_bools_are_accepted_as_python_bools(kind, make, flag):
    layer = make(**{flag: np.bool_(True)})
    value = getattr(layer, flag)  # an RNN reads its cell's settings (reset_after, use_bias, ...) through
    assert value is True and type(value) is bool


def test_a_bool_flag_round_trips_through_the_config():
    layer = L.GRU(4, reset_after=np.bool_(False), return_sequences=np.bool_(True))
    config = layer.get_config()
    assert config["reset_after"] is False and config["return_sequences"] is True
    clone = L.GRU.from_config(config)
    assert clone.cell.reset_after is False and clone.return_sequences is True


def test_add_weight_trainable_must_be_a_bool():
    layer = L.Dense(2)
    with raises(TypeError, "Dense: trainable must be a bool (True or False), got 'yes' of type str"):
        layer.add_weight("w", (2, 2), trainable="yes")


# ----------------------------------------------------------------------------- sizes are ints, not bools
@pytest.mark.parametrize("kind, make", [
    ("LSTM", lambda v: L.LSTM(v)), ("GRU", lambda v: L.GRU(v)), ("SimpleRNN", lambda v: L.SimpleRNN(v)),
    ("LSTMCell", lambda v: L.LSTMCell(v)), ("Dense", lambda v: L.Dense(v)),
])
@pytest.mark.parametrize("value", [True, False, 0, -3, 2.0, "4", None], ids=repr)
def test_units_must_be_a_positive_integer_not_a_bool(kind, make, value):
    with raises(ValueError, f"{kind}: units must be a positive integer, got {value!r}"):
        make(value)


@pytest.mark.parametrize("name", ["input_dim", "output_dim"])
@pytest.mark.parametrize("value", [True, 0, 2.5], ids=repr)
def test_embedding_sizes_must_be_positive_integers(name, value):
    sizes = {"input_dim": 10, "output_dim": 3} | {name: value}
    with raises(ValueError, f"Embedding: {name} must be a positive integer, got {value!r}"):
        L.Embedding(**sizes)


@pytest.mark.parametrize("value", [True, 0, 1.5], ids=repr)
def test_repeat_vector_n_must_be_a_positive_integer(value):
    with raises(ValueError, f"RepeatVector: n must be a positive integer, got {value!r}"):
        L.RepeatVector(value)


@pytest.mark.parametrize("name", ["input_dim", "batch_size"])
@pytest.mark.parametrize("value", [True, 0, -1, 2.0], ids=repr)
def test_layer_input_dim_and_batch_size_must_be_positive_integers(name, value):
    with raises(ValueError, f"Dense: {name} must be a positive integer or None, got {value!r}"):
        L.Dense(2, **{name: value})


def test_numpy_integer_sizes_are_accepted():
    layer = L.LSTM(np.int64(3), input_shape=(np.int64(5), np.int32(2)))
    assert layer.units == 3 and layer.input_shape_arg == (5, 2)
    assert all(type(d) is int for d in layer.input_shape_arg)


# ----------------------------------------------------------------------------- input shapes
@pytest.mark.parametrize("shape", [(5, -1), (5, 0), (5, 2.5), (5, True), (5, "3")], ids=repr)
def test_input_shape_entries_must_be_positive_integers_or_none(shape):
    with raises(ValueError, f"LSTM: input_shape must hold positive integers or None (an unknown size), "
                            f"got {shape!r}"):
        L.LSTM(4, input_shape=shape)


def test_input_shape_with_a_negative_size_names_the_layer_not_numpy():
    with raises(ValueError, "LSTM: input_shape must hold positive integers or None (an unknown size), got (5, -1)"):
        rnnkit.Sequential([L.LSTM(4, input_shape=(5, -1))])


def test_batch_input_shape_entries_are_checked():
    with raises(ValueError, "GRU: batch_input_shape must hold positive integers or None (an unknown size), "
                            "got (0, 5, 3)"):
        L.GRU(4, batch_input_shape=(0, 5, 3))
    with raises(ValueError, "GRU: batch_input_shape must start with the batch size, got ()"):
        L.GRU(4, batch_input_shape=())
    layer = L.GRU(4, batch_input_shape=(2, None, 3))
    assert layer.batch_size_arg == 2 and layer.input_shape_arg == (None, 3)


def test_input_shape_that_is_not_a_sequence():
    with raises(TypeError, "Dense: input_shape must be a tuple of positive integers or None, got 5"):
        L.Dense(2, input_shape=5)


def test_input_shape_check_of_input():
    with raises(ValueError, "Input: shape must hold positive integers or None (an unknown size), got (5, -1)"):
        L.Input((5, -1))
    with raises(ValueError, "Input: batch_size must be a positive integer or None, got 0"):
        L.Input((5, 2), batch_size=0)
    with raises(TypeError, "Input: shape is required: the shape of one sample, without the batch axis"):
        L.Input(None)
    assert L.Input((None, 3)).shape == (None, None, 3)


# ----------------------------------------------------------------------------- dropout rates
@pytest.mark.parametrize("kind, make, name", [
    ("LSTM", lambda v: L.LSTM(4, dropout=v), "dropout"),
    ("LSTM", lambda v: L.LSTM(4, recurrent_dropout=v), "recurrent_dropout"),
    ("GRUCell", lambda v: L.GRUCell(4, dropout=v), "dropout"),
    ("Dropout", lambda v: L.Dropout(v), "rate"),
])
def test_a_rate_that_is_not_a_number_is_a_type_error_naming_it(kind, make, name):
    with raises(TypeError, f"{kind}: {name} must be a number in [0, 1), got 'a' of type str"):
        make("a")
    with raises(TypeError, f"{kind}: {name} must be a number in [0, 1), got None of type NoneType"):
        make(None)
    with raises(TypeError, f"{kind}: {name} must be a number in [0, 1), got True of type bool"):
        make(True)
    with raises(ValueError, f"{kind}: {name} must be in [0, 1), got 1.0"):
        make(1.0)
    with raises(ValueError, f"{kind}: {name} must be in [0, 1), got nan"):
        make(float("nan"))


def test_masking_value_must_be_a_number():
    with raises(TypeError, "Masking: mask_value must be a number, got 'a' of type str"):
        L.Masking("a")
    assert L.Masking(np.float32(-1)).mask_value == -1.0


# ----------------------------------------------------------------------------- step messages
def _lstm_step_arguments(rng):
    return dict(x=rng.standard_normal((N, F)), h_prev=np.zeros((N, H)), c_prev=np.zeros((N, H)),
                kernel=rng.standard_normal((F, 4 * H)), recurrent_kernel=rng.standard_normal((H, 4 * H)),
                bias=np.zeros(4 * H))


def test_step_errors_name_the_step_function_and_its_arguments():
    rng = np.random.default_rng(0)
    a = _lstm_step_arguments(rng)
    with raises(ValueError, f"lstm_step: 'h_prev' must have shape (batch, units) = ({N}, {H}), got ({N}, {H + 1})"):
        ops.lstm_step(**(a | {"h_prev": np.zeros((N, H + 1))}))
    with raises(ValueError, f"lstm_step: 'c_prev' must have shape (batch, units) = ({N}, {H}), got ({N + 1}, {H})"):
        ops.lstm_step(**(a | {"c_prev": np.zeros((N + 1, H))}))
    with raises(TypeError, "lstm_step: 'h_prev' must have dtype float64 like 'x', got float32"):
        ops.lstm_step(**(a | {"h_prev": np.zeros((N, H), np.float32)}))
    with raises(ValueError, "lstm_step: 'c_prev' contains NaN or infinity"):
        ops.lstm_step(**(a | {"c_prev": np.full((N, H), np.nan)}))
    with raises(ValueError, f"lstm_step: 'kernel' must have shape (features, 4*units) = ({F}, {4 * H}), "
                            f"got ({F}, {4 * H - 1})"):
        ops.lstm_step(**(a | {"kernel": np.zeros((F, 4 * H - 1))}))
    with raises(ValueError, "lstm_step: 'x' must be 2-D (batch, features) for one step, got shape (2, 1, 4)"):
        ops.lstm_step(**(a | {"x": np.zeros((N, 1, F))}))
    gru = dict(x=a["x"], h_prev=np.zeros((N, H + 1)), kernel=np.zeros((F, 3 * H)),
               recurrent_kernel=np.zeros((H, 3 * H)), bias=np.zeros((2, 3 * H)))
    with raises(ValueError, f"gru_step: 'h_prev' must have shape (batch, units) = ({N}, {H}), got ({N}, {H + 1})"):
        ops.gru_step(**gru)
    with raises(ValueError, f"simple_rnn_step: 'h_prev' must have shape (batch, units) = ({N}, {H}), "
                            f"got ({N}, {H + 1})"):
        ops.simple_rnn_step(a["x"], np.zeros((N, H + 1)), np.zeros((F, H)), np.zeros((H, H)))
    with raises(ValueError, "simple_rnn_step: 'activation': unknown activation 'swish'"):
        ops.simple_rnn_step(a["x"], np.zeros((N, H)), np.zeros((F, H)), np.zeros((H, H)), activation="swish")


def test_step_backward_errors_name_the_step():
    rng = np.random.default_rng(0)
    result = ops.lstm_step(**_lstm_step_arguments(rng))
    with raises(ValueError, f"lstm_step backward: 'dh' must have shape (batch, units) = ({N}, {H}), "
                            f"got ({N}, {H + 1})"):
        result.backward(dh=np.zeros((N, H + 1)))
    gru = ops.gru_step(rng.standard_normal((N, F)), np.zeros((N, H)), np.zeros((F, 3 * H)),
                       np.zeros((H, 3 * H)), np.zeros((2, 3 * H)))
    with raises(ValueError, "gru_step backward: gru has no cell state; 'dc' must be None"):
        gru.backward(dc=np.zeros((N, H)))


def test_sequence_errors_keep_their_names():
    rng = np.random.default_rng(0)
    with raises(ValueError, f"lstm_forward: 'h0' must have shape (batch, units) = ({N}, {H}), got ({N}, {H + 1})"):
        ops.lstm_forward(rng.standard_normal((N, T, F)), np.zeros((F, 4 * H)), np.zeros((H, 4 * H)),
                         h0=np.zeros((N, H + 1)))


# ----------------------------------------------------------------------------- stale inputs
def _recurrent_case(cell, rng):
    gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell]
    a = {"x": rng.standard_normal((N, T, F)), "kernel": rng.standard_normal((F, gates * H)) * 0.5,
         "recurrent_kernel": rng.standard_normal((H, gates * H)) * 0.5,
         "bias": rng.standard_normal((2, 3 * H) if cell == "gru" else (gates * H,)),
         "h0": rng.standard_normal((N, H)), "mask": np.array([[True, True, False], [True, True, True]]),
         "recurrent_dropout_mask": rng.uniform(0.5, 1.5, (N, H))}
    if cell == "lstm":
        a |= {"c0": rng.standard_normal((N, H)), "peephole_kernel": rng.standard_normal((3, H))}
    return a


FORWARDS = {"lstm": ops.lstm_forward, "gru": ops.gru_forward, "simple_rnn": ops.simple_rnn_forward}
STALE_CASES = [(cell, name) for cell in FORWARDS for name in _recurrent_case(cell, np.random.default_rng(0))]


@pytest.mark.parametrize("cell, name", STALE_CASES, ids=[f"{c}-{n}" for c, n in STALE_CASES])
def test_changing_an_input_after_the_forward_call_does_not_change_the_gradients(cell, name):
    rng = np.random.default_rng(1)
    a = _recurrent_case(cell, rng)
    forward = FORWARDS[cell]
    expected_result = forward(**{k: v.copy() for k, v in a.items()})
    d_output = rng.standard_normal(expected_result.output.shape)
    expected = expected_result.backward(d_output)

    result = forward(**a)
    a[name][...] = True if name == "mask" else 0  # in place, after the forward call
    got = result.backward(d_output)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_an_optimizer_step_between_forward_and_backward_does_not_change_the_gradients():
    rng = np.random.default_rng(2)
    a = _recurrent_case("lstm", rng)
    expected = ops.lstm_forward(**{k: v.copy() for k, v in a.items()}).backward(np.ones((N, T, H)))
    result = ops.lstm_forward(**a)
    for name in ("kernel", "recurrent_kernel", "peephole_kernel"):
        a[name] -= 0.1 * expected[name]  # an SGD step, in place
    got = result.backward(np.ones((N, T, H)))
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_lengths_and_views_are_protected_too():
    rng = np.random.default_rng(3)
    a = _recurrent_case("gru", rng)
    del a["mask"]
    big = np.concatenate([a["x"], a["x"]], axis=1)
    view = big[:, ::2]  # a strided view of the caller's array
    expected = ops.gru_forward(**(a | {"x": view.copy()}), lengths=np.array([2, 3])).backward(np.ones((N, T, H)))
    result = ops.gru_forward(**(a | {"x": view}), lengths=np.array([2, 3]))
    big[...] = 0
    got = result.backward(np.ones((N, T, H)))
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


@pytest.mark.parametrize("activation", ["linear", "tanh", "softmax", "relu"])
@pytest.mark.parametrize("changed", ["x", "kernel", "bias", "output"])
def test_dense_backward_reads_the_forward_values(activation, changed):
    rng = np.random.default_rng(4)
    a = {"x": rng.standard_normal((N, T, F)), "kernel": rng.standard_normal((F, H)), "bias": rng.standard_normal(H)}
    d_output = rng.standard_normal((N, T, H))
    expected = ops.dense_forward(**{k: v.copy() for k, v in a.items()}, activation=activation).backward(d_output)
    result = ops.dense_forward(**a, activation=activation)
    (result.output if changed == "output" else a[changed])[...] = 0.25
    got = result.backward(d_output)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_step_backward_reads_the_forward_values():
    rng = np.random.default_rng(5)
    a = _lstm_step_arguments(rng)
    expected = ops.lstm_step(**{k: v.copy() for k, v in a.items()}).backward(dh=np.ones((N, H)))
    result = ops.lstm_step(**a)
    a["x"][...] = 0
    a["kernel"][...] = 0
    got = result.backward(dh=np.ones((N, H)))
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_arrays_nobody_else_can_change_are_not_copied():
    x = np.zeros((N, T, F))
    frozen = x.copy()
    frozen.flags.writeable = False
    assert ops._may_change(x, x)
    assert ops._may_change(x[:, 1:], x[:, 1:])  # a view of writeable memory
    assert not ops._may_change(frozen, frozen)
    readonly_view = x[:, 1:]
    readonly_view.flags.writeable = False  # read-only itself, but its base is still writeable
    assert ops._may_change(readonly_view, readonly_view)
    nested = x.tolist()
    assert not ops._may_change(nested, np.asarray(nested))
    assert ops._keep(frozen) is frozen
    assert ops._keep(x) is not x and np.array_equal(ops._keep(x), x)


def test_no_backward_keeps_references_and_is_restored():
    x = np.zeros((N, T, F))
    with ops.no_backward():
        assert ops._keep(x) is x
    assert ops._keep(x) is not x


@pytest.mark.parametrize("make", [lambda: L.LSTM(H, return_sequences=True, peephole=True),
                                  lambda: L.GRU(H, return_sequences=True, reset_after=False),
                                  lambda: L.SimpleRNN(H, return_sequences=True),
                                  lambda: L.Dense(H, activation="tanh")],
                         ids=["LSTM", "GRU", "SimpleRNN", "Dense"])
def test_a_layer_pullback_after_the_inputs_and_weights_changed(make, floatx64):
    rng = np.random.default_rng(6)
    layer = make()
    x = rng.standard_normal((N, T, F))
    y, pullback = layer.forward(x.copy())
    dy = rng.standard_normal(y.shape)
    expected_dx, expected_grads = pullback(dy)

    y, pullback = layer.forward(x)
    x[...] = 0  # the caller reuses its buffer
    optimizers.SGD(learning_rate=0.5).apply([expected_grads[v] for v in layer.trainable_weights],
                                           layer.trainable_weights)  # weights updated in place
    dx, grads = pullback(dy)
    np.testing.assert_array_equal(dx, expected_dx)
    for variable in expected_grads:
        np.testing.assert_array_equal(grads[variable], expected_grads[variable], err_msg=variable.path)


@pytest.mark.parametrize("make", [lambda name=name: L.Activation(name) for name in
                                  ("tanh", "sigmoid", "hard_sigmoid", "relu", "softmax")] +
                         [L.Multiply, L.Add, L.Subtract, L.Average, L.Maximum, L.Minimum, L.Concatenate,
                          lambda: L.Dot(axes=2), lambda: L.Dot(axes=2, normalize=True)],
                         ids=["tanh", "sigmoid", "hard_sigmoid", "relu", "softmax", "Multiply", "Add", "Subtract",
                              "Average", "Maximum", "Minimum", "Concatenate", "Dot", "Dot-normalize"])
def test_activation_and_merge_pullbacks_after_the_inputs_changed(make, floatx64):
    rng = np.random.default_rng(8)
    layer = make()
    unary = isinstance(layer, L.Activation)
    fresh = lambda: (4 * rng.standard_normal((N, T, F)) if unary else  # noqa: E731 - spans hard_sigmoid's kinks
                     [rng.standard_normal((N, T, F)) for _ in range(2)])
    inputs = fresh()
    copies = lambda: inputs.copy() if unary else [a.copy() for a in inputs]  # noqa: E731
    y, pullback = layer.forward(copies())
    dy = rng.standard_normal(y.shape)
    expected = pullback(dy)[0]
    y, pullback = layer.forward(inputs)
    for a in ([inputs] if unary else inputs):
        a[...] = 0.5  # the caller reuses its buffers
    got = pullback(dy)[0]
    for e, g in zip([expected] if unary else expected, [got] if unary else got):
        np.testing.assert_array_equal(g, e)


def test_an_embedding_pullback_after_the_ids_changed():
    layer = L.Embedding(10, 3)
    ids = np.array([[1, 2, 3], [4, 5, 5]], dtype=np.intp)
    _, pullback = layer.forward(ids)
    ids[...] = 0
    _, grads = pullback(np.ones((2, 3, 3)))
    counts = grads[layer.embeddings][:, 0]
    np.testing.assert_array_equal(counts, [0, 1, 1, 1, 1, 2, 0, 0, 0, 0])


def test_a_python_cell_pullback_after_the_inputs_changed(floatx64):
    import user_cell
    rng = np.random.default_rng(7)
    layer = L.RNN(user_cell.MinimalRNNCell(3), return_sequences=True)
    x = rng.standard_normal((N, T, F))
    y, pullback = layer.forward(x.copy())
    expected_dx, expected_grads = pullback(np.ones_like(y))
    y, pullback = layer.forward(x)
    x[...] = 0
    dx, grads = pullback(np.ones_like(y))
    np.testing.assert_array_equal(dx, expected_dx)
    for variable in expected_grads:
        np.testing.assert_array_equal(grads[variable], expected_grads[variable])


# ----------------------------------------------------------------------------- sizes before allocating
def _peak_megabytes(fn):
    """The peak of the memory NumPy and Python allocated while ``fn`` ran, in MiB, and the
    exception it raised (or None)."""
    error = None
    with traced() as trace:
        try:
            fn()
        except Exception as raised:  # noqa: BLE001 - returned for the caller to check
            error = raised
    return trace.peak / 2**20, error


def test_a_huge_lstm_is_refused_before_allocating():
    layer = L.LSTM(10**9)
    with raises(ValueError, f"LSTMCell '{layer.name}/lstm_cell': weight 'kernel' of shape (3, 4000000000) "
                            "would take 44.7 GiB in float32 (89.4 GiB while its initializer draws it in float64), "
                            "more than the 16.0 GiB a weight may take (rnnkit.layers.base.MAX_WEIGHT_BYTES)"):
        layer(np.zeros((1, 2, 3), np.float32))
    assert not layer.cell.built and layer.cell.weights == []


def test_a_huge_feature_size_is_refused_before_allocating():
    with raises(ValueError, "weight 'kernel' of shape (1000000000, 16) would take 59.6 GiB in float32"):
        rnnkit.Sequential([L.Input((5, 10**9)), L.LSTM(4)])


def test_every_weight_of_a_cell_is_checked_before_any_is_allocated(monkeypatch):
    monkeypatch.setattr(base, "MAX_WEIGHT_BYTES", 8 * 4 * 40)  # the kernel fits; the recurrent kernel does not
    cell = L.LSTMCell(10, name="big")
    with raises(ValueError, "LSTMCell 'big': weight 'recurrent_kernel' of shape (10, 40) would take 1.6 KiB in "
                            "float32 (3.1 KiB while its initializer draws it in float64), more than the 1.2 KiB"):
        cell.build((None, 4))
    assert cell.weights == []


def test_the_limit_counts_the_float64_draw(monkeypatch):
    monkeypatch.setattr(base, "MAX_WEIGHT_BYTES", 1024)
    L.Dense(16, name="fits").build((None, 8))  # 128 values: 1024 bytes drawn in float64
    with raises(ValueError, "Dense 'too_big': weight 'kernel' of shape (8, 17) would take 544 bytes in float32 "
                            "(1.1 KiB while its initializer draws it in float64), more than the 1.0 KiB"):
        L.Dense(17, name="too_big").build((None, 8))
    with raises(ValueError, "Dense 'too_big64': weight 'kernel' of shape (8, 17) would take 1.1 KiB in float64, "
                            "more than the 1.0 KiB"):
        L.Dense(17, name="too_big64", dtype="float64").build((None, 8))


@pytest.mark.parametrize("make, shape, message", [
    (lambda: L.Dense(10**9, name="wide"), (None, 100), "Dense 'wide': weight 'kernel' of shape (100, 1000000000)"),
    (lambda: L.Embedding(10**9, 100, name="vocab"), (None, 5),
     "Embedding 'vocab': weight 'embeddings' of shape (1000000000, 100)"),
    (lambda: L.GRU(2**40, name="g"), (None, 3, 2), "GRUCell 'g/gru_cell': weight 'kernel' of shape (2, 3298534883328)"),
])
def test_huge_weights_are_refused_with_the_layer_weight_and_size(make, shape, message):
    layer = make()
    peak, error = _peak_megabytes(lambda: layer.build(shape))
    assert isinstance(error, ValueError) and message in str(error) and "more than the 16.0 GiB" in str(error)
    assert peak < 1


# ----------------------------------------------------------------------------- NaN checks in blocks
LAYOUTS = {
    "C": lambda a: a,
    "F": lambda a: a.T,  # a Fortran-ordered view
    "transposed": lambda a: a.transpose(2, 0, 1),
    "reversed": lambda a: a[:, ::-1],
    "strided": lambda a: a[::2, :, ::2],
    "1-D": lambda a: a.reshape(-1),
    "0-D": lambda a: a[1, 2, 3],
}


@pytest.mark.parametrize("block", [1, 4, 45, 10**6])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_first_nonfinite_in_blocks_agrees_with_numpy(monkeypatch, block, layout):
    monkeypatch.setattr(ops, "_FINITE_BLOCK", block)
    rng = np.random.default_rng(8)
    memory = rng.standard_normal((7, 9, 5))
    array = LAYOUTS[layout](memory)
    if layout == "0-D":
        array = memory[1:2, 2, 3].reshape(())
    assert ops._first_nonfinite(array) is None and ops._all_finite(array)
    for value in (np.nan, np.inf, -np.inf):
        memory = rng.standard_normal((7, 9, 5))
        view = LAYOUTS[layout](memory) if layout != "0-D" else memory[1:2, 2, 3].reshape(())
        for flat in rng.choice(view.size, size=min(2, view.size), replace=False):
            view[np.unravel_index(flat, view.shape)] = value  # written through the view, into memory
        expected = tuple(int(i) for i in np.argwhere(~np.isfinite(view))[0]) if view.ndim else ()
        assert ops._first_nonfinite(view) == expected
        assert not ops._all_finite(view)


def test_overflowing_sums_are_not_taken_for_nan():
    x = np.full((3, 2), 3e38, np.float32)
    assert ops._all_finite(x)
    np.testing.assert_array_equal(ops.dense_forward(x, np.zeros((2, 1), np.float32)).output, np.zeros((3, 1)))


def test_a_large_input_is_checked_without_a_temporary_of_its_size():
    x = np.full((1, 12 * 2**20, 1), 3e38, np.float32)  # 48 MiB whose float32 sum overflows
    peak, error = _peak_megabytes(lambda: ops._all_finite(x))
    assert error is None and peak < 4, f"the finite check allocated {peak:.1f} MiB"
    x[0, -3, 0] = np.nan
    peak, error = _peak_megabytes(lambda: data.as_array("x", x))
    assert isinstance(error, ValueError) and peak < 4
    assert str(error) == f"'x' contains NaN or infinity (first at index (0, {x.shape[1] - 3}, 0))"
    peak, error = _peak_megabytes(lambda: ops._first_nonfinite(x[:, ::-1]))
    assert error is None and peak < 4


def test_a_nan_at_the_end_of_a_large_sequence_is_found():
    x = np.zeros((1, 2**21 + 3, 1))
    x[0, -1, 0] = np.inf
    with raises(ValueError, "'x' contains NaN or infinity"):
        ops.simple_rnn_forward(x, np.zeros((1, 1)), np.zeros((1, 1)))


def test_a_copy_that_does_not_fit_names_the_function_and_argument(monkeypatch):
    x = np.zeros((N, T, F))
    real_array = np.array

    def array(value, *args, **kwargs):
        if value is x and kwargs.get("copy"):
            raise MemoryError("Unable to allocate")
        return real_array(value, *args, **kwargs)

    monkeypatch.setattr(np, "array", array)
    with raises(MemoryError, f"lstm_forward: not enough memory for a C-contiguous copy of 'x' of shape {x.shape}"):
        ops.lstm_forward(x, np.zeros((F, 4 * H)), np.zeros((H, 4 * H)))
    with raises(MemoryError, f"dense_forward: not enough memory for a C-contiguous copy of 'x' of shape {x.shape}"):
        ops.dense_forward(x, np.zeros((F, H)))


# ----------------------------------------------------------------------------- settings checked up front
@pytest.mark.parametrize("make, error, words", [
    (lambda: optimizers.SGD(momentum=0.5, nesterov="no"), TypeError, "`nesterov` must be a bool"),
    (lambda: optimizers.Adam(amsgrad="no"), TypeError, "`amsgrad` must be a bool"),
    (lambda: optimizers.RMSprop(centered=1), TypeError, "`centered` must be a bool"),
    (lambda: optimizers.SGD(0.1, clipnorm=-1.0), ValueError, "`clipnorm` must be in (0.0, inf)"),
    (lambda: optimizers.Adam(clipvalue=-1.0), ValueError, "`clipvalue` must be in (0.0, inf)"),
    (lambda: optimizers.Adam(beta_1=1.0), ValueError, "`beta_1` must be in [0.0, 1.0)"),
    (lambda: optimizers.Adam(beta_1=-0.5), ValueError, "`beta_1` must be in [0.0, 1.0)"),
    (lambda: optimizers.Adam(beta_2=1.5), ValueError, "`beta_2` must be in [0.0, 1.0)"),
    (lambda: optimizers.Adam(epsilon=-1.0), ValueError, "`epsilon` must be in [0.0, inf)"),
    (lambda: optimizers.Adam(epsilon="tiny"), TypeError, "`epsilon` must be a number"),
    (lambda: optimizers.AdamW(weight_decay="a"), TypeError, "`weight_decay` must be a number"),
    (lambda: optimizers.RMSprop(rho=1.5), ValueError, "`rho` must be in [0.0, 1.0)"),
    (lambda: optimizers.RMSprop(momentum=-1.0), ValueError, "`momentum` must be in [0.0, 1.0]"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1.0), ValueError, "`initial_accumulator_value`"),
    (lambda: optimizers.SGD(learning_rate=float("nan")), ValueError, "`learning_rate` must be a finite number"),
    (lambda: optimizers.SGD(learning_rate=float("inf")), ValueError, "`learning_rate` must be a finite number"),
    (lambda: L.LSTM(4, name=123), TypeError, "LSTM: name must be a str"),
    (lambda: rnnkit.config.set_epsilon(-1.0), ValueError, "set_epsilon: value must be a number > 0"),
    (lambda: rnnkit.config.set_epsilon("tiny"), TypeError, "set_epsilon: value must be a number > 0"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_settings_that_would_silently_misbehave_are_refused(make, error, words):
    with pytest.raises(error, match=re.escape(words)):
        make()


def test_compile_without_an_optimizer_is_refused():
    model = rnnkit.Sequential([L.Dense(1, input_shape=(3,))])
    with pytest.raises(ValueError, match="compile: 'optimizer' must be a name"):
        model.compile(optimizer=None, loss="mse")


# ----------------------------------------------------------------------------- arguments named in errors
def _sequence_args(cell):
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(0)
    return (rng.normal(size=(N, T, F)), rng.normal(size=(F, gates * H)), rng.normal(size=(H, gates * H)))


@pytest.mark.parametrize("call, words", [
    (lambda: ops.gru_forward(*_sequence_args("gru"), reset_after="no"),
     "gru_forward: 'reset_after' must be a bool (True or False), got 'no' of type str"),
    (lambda: ops.gru_forward(*_sequence_args("gru"), return_sequences="yes"),
     "gru_forward: 'return_sequences' must be a bool (True or False), got 'yes'"),
    (lambda: ops.lstm_forward(*_sequence_args("lstm"), go_backwards="no"),
     "lstm_forward: 'go_backwards' must be a bool"),
    (lambda: ops.simple_rnn_forward(*_sequence_args("simple_rnn"), go_backwards=None),
     "simple_rnn_forward: 'go_backwards' must be a bool (True or False), got None of type NoneType"),
    (lambda: ops.simple_rnn_forward(*_sequence_args("simple_rnn"), activation=3),
     "simple_rnn_forward: 'activation' must be an activation name (a str such as 'tanh'), got 3 of type int"),
    (lambda: ops.lstm_forward(*_sequence_args("lstm"), recurrent_activation=None),
     "lstm_forward: 'recurrent_activation' must be an activation name"),
    (lambda: ops.dense_forward(np.ones((2, 3)), np.ones((3, 2)), activation=None),
     "dense_forward: 'activation' must be an activation name (a str such as 'tanh'), got None"),
    (lambda: rnnkit._core.gru_backward(*_sequence_args("gru"), None, None, None, {}, go_backwards="x"),
     "gru_backward: 'go_backwards' must be a bool"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_core_flags_and_activation_names_are_checked_by_name(call, words):
    with raises(TypeError, words):
        call()


def test_core_flags_take_numpy_bools():
    x, kernel, recurrent = _sequence_args("gru")
    plain = ops.gru_forward(x, kernel, recurrent, reset_after=False, return_sequences=True).output
    numpy_bools = ops.gru_forward(x, kernel, recurrent, reset_after=np.False_, return_sequences=np.True_).output
    np.testing.assert_array_equal(plain, numpy_bools)


def test_a_ragged_nested_list_names_the_argument():
    ragged = [[[0.0] * F] * T, [[0.0] * F] * (T - 1)]
    with raises(ValueError, "'x' must be a rectangular array (nested lists of equal lengths)"):
        ops.lstm_forward(ragged, *_sequence_args("lstm")[1:])
    model = rnnkit.Sequential([L.Input((T, F)), L.LSTM(2)])
    model.compile("sgd", "mse")
    with raises(ValueError, "'x' must be a rectangular array"):
        model.fit(ragged, np.zeros((2, 2)), verbose=0)


def _compiled(units=2, classes=None):
    model = rnnkit.Sequential([L.Input((T, F)), L.LSTM(units)])
    model.compile("sgd", "mse" if classes is None else "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("class_weight, error, words", [
    ([1.0, 2.0], TypeError, "class_weight must be a dict {class: weight}, got list"),
    ("balanced", TypeError, "class_weight must be a dict {class: weight}, got str"),
    ({"a": 1.0}, TypeError, "class_weight: the classes must be whole numbers, got 'a'"),
    ({0: "heavy"}, TypeError, "class_weight: the weight of class 0 must be a number, got 'heavy'"),
    ({0: -1.0}, ValueError, "class_weight: the weight of class 0 must be finite and at least 0, got -1.0"),
    ({0: float("nan")}, ValueError, "class_weight: the weight of class 0 must be finite"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_class_weight_is_checked_by_fit_and_train_on_batch(class_weight, error, words):
    model = _compiled(units=3, classes=3)
    x, y = np.zeros((4, T, F), np.float32), np.array([0, 1, 2, 0])
    with raises(error, words):
        model.fit(x, y, class_weight=class_weight, verbose=0)
    with raises(error, words):
        model.train_on_batch(x, y, class_weight=class_weight)


def test_class_weight_with_numpy_keys_and_values_weighs_the_loss():
    model = _compiled(units=3, classes=3)
    x, y = np.random.default_rng(1).normal(size=(4, T, F)).astype(np.float32), np.array([0, 1, 2, 0])
    plain = model.test_on_batch(x, y)
    weighted = data.class_sample_weights(y, data.check_class_weight({np.int64(0): np.float32(0.0)}))
    np.testing.assert_array_equal(weighted, [0.0, 1.0, 1.0, 0.0])
    assert np.isfinite(plain)


@pytest.mark.parametrize("split", ["0.2", None, True, 1.0, -0.1])
def test_validation_split_must_be_a_number_in_range(split):
    model = _compiled()
    with raises(ValueError, f"validation_split must be a number in [0, 1), got {split!r}"):
        model.fit(np.zeros((4, T, F)), np.zeros((4, 2)), validation_split=split, verbose=0)


def test_a_sequential_model_refuses_several_arrays_or_unknown_keys():
    model = rnnkit.Sequential([L.Input((T, F), name="sequences"), L.LSTM(2)])
    model.compile("sgd", "mse")
    x, y = np.zeros((4, T, F), np.float32), np.zeros((4, 2), np.float32)
    with raises(ValueError, "a Sequential model takes one input array, got a list of 2 arrays"):
        model.fit([x, x], y, verbose=0)
    with raises(ValueError, "a Sequential model takes one input array (or {'sequences': array}), got a dict "
                            "with keys ['wrong']"):
        model.fit({"wrong": x}, y, verbose=0)
    np.testing.assert_array_equal(model.predict([x], verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(model.predict({"sequences": x}, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("make, error, words", [
    (lambda: L.Reshape("abc"), TypeError, "Reshape: target_shape must be a tuple of integers, got 'abc'"),
    (lambda: L.Reshape(None), TypeError, "Reshape: target_shape must be a tuple of integers, got None"),
    (lambda: L.Reshape((2.5,)), TypeError, "Reshape: target_shape must be a tuple of integers, got (2.5,)"),
    (lambda: L.Dropout(0.5, noise_shape="abc"), TypeError,
     "Dropout: noise_shape must be a tuple of integers or None, got 'abc'"),
    (lambda: L.Concatenate(axis="last"), TypeError, "Concatenate: axis must be an integer, got 'last' of type str"),
    (lambda: L.Dot("x"), TypeError, "Dot: axes must be an integer, got 'x' of type str"),
    (lambda: L.Dot((1, 2, 3)), ValueError, "Dot: axes must be one axis or a pair (one per input), got (1, 2, 3)"),
    (lambda: L.SimpleRNN(4, seed=-1), ValueError, "SimpleRNN: seed must be None or an integer >= 0, got -1"),
    (lambda: L.Dropout(0.5, seed="x"), TypeError, "Dropout: seed must be an integer, got 'x'"),
    (lambda: rnnkit.initializers.GlorotUniform(seed=-3), ValueError, "GlorotUniform: seed must be None or an integer"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_layer_arguments_are_checked_by_name(make, error, words):
    with raises(error, words):
        make()


def test_a_noise_shape_that_does_not_broadcast_names_the_layer():
    layer = L.Dropout(0.5, noise_shape=(5, 5, 5), name="drop")
    with raises(ValueError, "drop: noise_shape (5, 5, 5) does not broadcast against inputs of shape (8, 5, 3)"):
        layer(np.ones((8, 5, 3), np.float32), training=True)
    kept = L.Dropout(0.5, noise_shape=[None, 1, None], seed=0)(np.ones((8, 5, 3), np.float32), training=True)
    assert (kept == kept[:, :1]).all()  # one mask over the time axis


def test_set_weights_refuses_text():
    model = rnnkit.Sequential([L.Input((3,)), L.Dense(2, name="dense")])
    with raises(TypeError, "weight 'kernel' must be numeric, got dtype <U3 (dense/kernel)"):
        model.set_weights([np.full(w.shape, "abc") for w in model.get_weights()])
    with raises(TypeError, "layer 'dense': weight 'bias' must be numeric, got dtype <U3"):
        model.layers[0].set_weights(model.get_weights()[:1] + [np.full((2,), "abc")])


def test_misaligned_inputs_are_read_from_aligned_copies():
    """A float64 array 4 bytes off its alignment (a view of a byte buffer) is copied before the
    core reads it: reading a misaligned double is undefined behaviour in C++."""
    x, kernel, recurrent = _sequence_args("lstm")
    raw = np.zeros(x.nbytes + 16, np.uint8)
    start = (-raw.ctypes.data) % 8 + 4
    shifted = raw[start:start + x.nbytes].view(np.float64).reshape(x.shape)
    shifted[...] = x
    assert not shifted.flags.aligned
    np.testing.assert_array_equal(ops.lstm_forward(shifted, kernel, recurrent).output,
                                  ops.lstm_forward(x, kernel, recurrent).output)
