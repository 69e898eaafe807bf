"""LSTM and GRU really learn: on generated data they beat naive baselines by a wide margin
within a few seconds of training."""

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import GRU, LSTM, Dense
from rnnkit.models import Sequential


def noisy_sine(n=1200, steps=20, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n + steps + 1) * 0.2
    series = np.sin(t) + 0.5 * np.sin(0.37 * t) + 0.05 * rng.standard_normal(len(t))
    windows = np.lib.stride_tricks.sliding_window_view(series, steps + 1)[:n]
    x, y = windows[:, :steps, None].astype("float32"), windows[:, steps:].astype("float32")
    return x, y


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_forecasting_beats_the_persistence_baseline(cell):
    rnnkit.utils.set_random_seed(0)
    x, y = noisy_sine()
    split = 1000
    model = Sequential([cell(32, input_shape=(None, 1)), Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x[:split], y[:split], epochs=8, batch_size=32, validation_data=(x[split:], y[split:]),
                        verbose=0)
    persistence = float(np.mean((x[split:, -1] - y[split:]) ** 2))  # "tomorrow equals today"
    assert history.history["val_loss"][-1] < 0.3 * persistence


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_sequence_classification_beats_chance(cell):
    rnnkit.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    n, steps = 900, 15
    labels = rng.integers(0, 3, size=n)
    t = np.arange(steps)
    patterns = np.stack([np.sin(0.5 * t), np.sign(np.sin(0.9 * t)), t / steps - 0.5])  # three shapes
    x = (patterns[labels] + 0.3 * rng.standard_normal((n, steps)))[:, :, None].astype("float32")
    model = Sequential([cell(16, input_shape=(steps, 1)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:700], labels[:700], epochs=10, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x[700:], labels[700:], verbose=0)
    assert accuracy > 0.9  # chance is 1/3
