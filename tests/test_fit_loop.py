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


def test_batch_hooks_run_in_fit_and_evaluate_only_for_callbacks_that_have_them():
    """Batch logs are built only when some callback has a batch hook (as Keras skips them);
    one that has the older on_batch_end alias still gets every batch's running means."""
    seen = []

    class Old(callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((batch, dict(logs)))

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(24, 4, 3)).astype(np.float32), rng.normal(size=(24, 1)).astype(np.float32)
    model = rnnkit.Sequential([layers.Input((4, 3)), layers.GRU(3), layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[Old()])
    assert [batch for batch, _ in seen] == [0, 1, 2] and all(set(logs) == {"loss", "mae"} for _, logs in seen)
    tested = []
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True, callbacks=[
        callbacks.LambdaCallback(on_test_batch_end=lambda batch, logs: tested.append(logs["loss"]))])
    assert len(tested) == 3 and tested[-1] == pytest.approx(logs["loss"])


def test_a_layer_frozen_at_an_epoch_start_stays_fixed_for_that_epoch():
    """fit reads the trainable weights at each epoch's start, so freezing a layer in
    on_epoch_begin holds from that epoch on, and the optimizer leaves it alone."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(32, 4, 3)).astype(np.float32), rng.normal(size=(32, 1)).astype(np.float32)
    rnn = layers.LSTM(3)
    model = rnnkit.Sequential([layers.Input((4, 3)), rnn, layers.Dense(1)])
    model.compile("adam", "mse")
    snapshots = []

    def freeze(epoch, logs):
        if epoch == 1:
            rnn.trainable = False
        snapshots.append([w.copy() for w in rnn.get_weights()])

    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[callbacks.LambdaCallback(on_epoch_begin=freeze)])
    assert not all(np.array_equal(a, b) for a, b in zip(snapshots[0], snapshots[1]))  # epoch 0 trained it
    for a, b in zip(snapshots[1], rnn.get_weights()):
        np.testing.assert_array_equal(a, b)
