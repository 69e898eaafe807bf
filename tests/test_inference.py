"""Inference writes no backward cache: forward calls inside ops.no_backward() (layer(x),
predict, evaluate) give the same outputs and gates, bit for bit, and store only the gates."""

import numpy as np
import pytest

from rnnkit import LSTM, Dense, Sequential, ops

RNG = np.random.default_rng(11)
N, T, F, H = 3, 6, 4, 5


def arguments(cell, dtype):
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    args = {"x": RNG.standard_normal((N, T, F)), "kernel": RNG.standard_normal((F, gates * H)) * 0.5,
            "recurrent_kernel": RNG.standard_normal((H, gates * H)) * 0.5,
            "bias": RNG.standard_normal((2, 3 * H) if cell == "gru" else (gates * H,)),
            "h0": RNG.standard_normal((N, H))}
    args = {k: v.astype(dtype) for k, v in args.items()}
    if cell == "lstm":
        args["c0"] = RNG.standard_normal((N, H)).astype(dtype)
        args["peephole_kernel"] = RNG.standard_normal((3, H)).astype(dtype)
    return args


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cell, options", [("simple_rnn", {}), ("lstm", {}), ("gru", {"reset_after": True}),
                                           ("gru", {"reset_after": False})])
def test_a_forward_pass_without_backward_gives_the_same_outputs_and_keeps_only_the_gates(
        cell, options, go_backwards, dtype):
    forward = getattr(ops, f"{cell}_forward")
    args = arguments(cell, dtype)
    if not options.get("reset_after", True):
        args["bias"] = args["bias"][0]
    mask = RNG.random((N, T)) < 0.7
    full = forward(**args, **options, mask=mask, go_backwards=go_backwards)
    with ops.no_backward():
        lean = forward(**args, **options, mask=mask, go_backwards=go_backwards)
    assert set(lean.cache) == {"gates"} and set(full.cache) >= {"gates", "h_prev"}
    for a, b in zip(full.outputs, lean.outputs):
        np.testing.assert_array_equal(a, b)
    for name in full.gates:
        np.testing.assert_array_equal(full.gates[name], lean.gates[name])
    assert lean.cell_states is None
    with pytest.raises(ValueError, match=r"computed inside ops.no_backward\(\), which keeps no cache"):
        lean.backward(np.ones_like(lean.output))


def test_predict_matches_a_training_forward_pass():
    model = Sequential([LSTM(H, return_sequences=True, input_shape=(T, F)), Dense(2)])
    x = RNG.standard_normal((N, T, F)).astype(np.float32)
    trained_forward, _ = model.forward(x, training=True)
    np.testing.assert_array_equal(model.predict(x, verbose=0), trained_forward)
