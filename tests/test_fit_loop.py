"""The fit loop's steps trust the arrays they pass to the kernels (the data were checked once,
before the first batch): weights that training turned to NaN give a NaN loss, as in Keras, and
TerminateOnNaN stops the run; outside fit, every call still checks its arrays."""

import numpy as np
import pytest

import rnnkit
from rnnkit import callbacks, layers, ops


def _diverging_model():
    model = rnnkit.Sequential([layers.Input((4, 3)), layers.SimpleRNN(4, activation="relu"), layers.Dense(1)])
    model.compile(rnnkit.optimizers.SGD(learning_rate=1e6), "mse")
    return model


def test_weights_that_diverge_give_a_non_finite_loss_and_terminate_on_nan_stops():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4, 3)).astype(np.float32), rng.normal(size=(64, 1)).astype(np.float32) * 100
    model = _diverging_model()
    with np.errstate(all="ignore"):
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert not np.isfinite(history.history["loss"][-1])
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    assert not all(np.isfinite(w).all() for w in model.get_weights())


def test_calls_outside_fit_still_check_their_arrays():
    x = np.zeros((2, 3, 4))
    kernel, recurrent = np.zeros((4, 8)), np.full((2, 8), np.nan)
    with pytest.raises(ValueError, match="'recurrent_kernel' contains NaN or infinity"):
        ops.lstm_forward(x, kernel, recurrent)
    with ops.trusted_arrays():
        result = ops.lstm_forward(x, kernel, recurrent)
    assert np.isnan(result.output).all()
    with pytest.raises(ValueError, match="'x' contains NaN or infinity"):
        rnnkit.Sequential([layers.Input((3, 4)), layers.LSTM(2)]).predict(np.full((2, 3, 4), np.nan), verbose=0)


def test_trusted_arrays_are_not_copied_for_the_backward_pass():
    x, kernel, recurrent = np.ones((2, 3, 4)), np.ones((4, 8)) * 0.1, np.ones((2, 8)) * 0.1
    with ops.trusted_arrays():
        result = ops.lstm_forward(x, kernel, recurrent)
    kernel *= 2  # the trusted promise broken on purpose: the backward pass sees the change
    changed = result.backward(np.ones_like(result.output))["x"]
    kernel /= 2
    expected = ops.lstm_forward(x, kernel, recurrent)
    unchanged = expected.backward(np.ones_like(expected.output))["x"]
    assert not np.allclose(changed, unchanged)
