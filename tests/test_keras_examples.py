"""Keras programs run with only the import lines changed, and learn what Keras would learn.

The thresholds below were measured over seeds 0-9 (data and weights) and set with a clear
margin under the worst seed; the tests themselves run one fixed seed, so they are
deterministic. Each takes about a second.
"""

import numpy as np
import pytest

from rnnkit.layers import LSTM, Dense, SimpleRNN
from rnnkit.models import Sequential


def test_sequence_tagging_example_with_validation_data():
    rng = np.random.default_rng(0)
    x_train = rng.random((96, 12, 100)).astype("float32")
    y_train = (x_train[:, :, :1] > 0.5).astype("float32")  # per-step labels
    x_val = rng.random((32, 12, 100)).astype("float32")  # unseen sequences, same rule
    y_val = (x_val[:, :, :1] > 0.5).astype("float32")

    model = Sequential()
    model.add(LSTM(50, input_shape=(None, 100), return_sequences=True))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    epochs = 20
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=8, validation_data=(x_val, y_val), verbose=0)

    h = history.history
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == epochs for v in h.values())
    assert history.epoch == list(range(epochs))
    assert model.history is history
    assert all(np.isfinite(v).all() for v in h.values())
    # Seeds 0-9: the loss falls from 0.69-0.71 (chance is ln 2) to 0.37-0.41 and the training
    # accuracy reaches 0.88-0.92; on the unseen sequences the loss falls from 0.68-0.72 to
    # 0.45-0.53 and the accuracy reaches 0.74-0.83 (chance 0.5: 96 sequences of 100 features
    # are few, and the model overfits some).
    assert 0.6 < h["loss"][0] < 0.8
    assert h["loss"][-1] < 0.5 and h["loss"][-1] < 0.75 * h["loss"][0]
    assert h["accuracy"][-1] >= 0.8
    assert h["val_loss"][-1] < 0.62 and h["val_loss"][-1] < h["val_loss"][0] - 0.07
    assert h["val_accuracy"][-1] >= 0.68

    # The last epoch's validation numbers are those of evaluate() on the trained model.
    val_loss, val_acc = model.evaluate(x_val, y_val, verbose=0)
    np.testing.assert_allclose([val_loss, val_acc], [h["val_loss"][-1], h["val_accuracy"][-1]], rtol=1e-4)

    # Any sequence length, and causal: the first 7 steps do not depend on the later ones.
    full = model.predict(x_val, verbose=0)
    short = model.predict(x_val[:, :7], verbose=0)
    assert full.shape == (32, 12, 1) and short.shape == (32, 7, 1)
    assert full.dtype == np.float32
    np.testing.assert_allclose(short, full[:, :7], rtol=1e-5, atol=1e-6)
    assert ((full > 0) & (full < 1)).all()
    assert np.mean((full > 0.5) == (y_val > 0.5)) == pytest.approx(val_acc, abs=1e-6)


def test_mnist_style_rows_example_with_validation_split_then_evaluate():
    rng = np.random.default_rng(1)
    # Ten classes, each a fixed 28x28 "digit" under as much uniform noise: learnable, and the
    # classifier must use the rows it reads one at a time.
    templates = rng.random((10, 28, 28))
    y_train = rng.integers(0, 10, size=200)
    x_train = (0.5 * templates[y_train] + 0.5 * rng.random((200, 28, 28))).astype("float32")
    y_test = rng.integers(0, 10, size=50)
    x_test = (0.5 * templates[y_test] + 0.5 * rng.random((50, 28, 28))).astype("float32")

    model = Sequential([SimpleRNN(64, input_shape=(28, 28)), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    epochs = 10
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_split=0.1, verbose=0)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)

    h = history.history
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == epochs for v in h.values())
    # Seeds 0-9: the first epoch's loss is 2.30-2.52 (chance is ln 10 = 2.30), the last
    # 0.33-0.48; validation accuracy ends at 1.0, test accuracy at 0.94-1.0 with a test loss
    # of 0.37-0.54.
    assert 2.0 < h["loss"][0] < 3.0
    assert h["loss"][-1] < 0.8 and h["loss"][-1] < 0.3 * h["loss"][0]
    assert h["val_accuracy"][-1] >= 0.85
    assert test_acc >= 0.9
    assert test_loss < 0.8

    probabilities = model.predict(x_test, verbose=0)
    assert probabilities.shape == (50, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # evaluate() reports the cross-entropy and accuracy of the predictions.
    expected_loss = -np.mean(np.log(probabilities[np.arange(50), y_test].astype(np.float64)))
    np.testing.assert_allclose(test_loss, expected_loss, rtol=1e-4)
    assert test_acc == pytest.approx(np.mean(probabilities.argmax(axis=1) == y_test), abs=1e-6)
