"""Keras programs run with only the import lines changed."""

import numpy as np

from rnnkit.layers import LSTM, Dense, SimpleRNN
from rnnkit.models import Sequential


def test_sequence_tagging_example_with_validation_data():
    rng = np.random.default_rng(0)
    x_train = rng.random((96, 12, 100)).astype("float32")
    y_train = (x_train[:, :, :1] > 0.5).astype("float32")  # per-step labels
    x_val, y_val = x_train[:32], y_train[:32]

    model = Sequential()
    model.add(LSTM(50, input_shape=(None, 100), return_sequences=True))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=3, batch_size=32, validation_data=(x_val, y_val), verbose=0)

    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x_val[:, :7], verbose=0).shape == (32, 7, 1)  # any sequence length


def test_mnist_style_rows_example_with_validation_split_then_evaluate():
    rng = np.random.default_rng(1)
    x_train = rng.random((200, 28, 28)).astype("float32")
    y_train = rng.integers(0, 10, size=200)
    x_test, y_test = x_train[:50], y_train[:50]

    model = Sequential([SimpleRNN(64, input_shape=(28, 28)), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.1, verbose=0)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)

    assert np.isfinite(test_loss) and 0.0 <= test_acc <= 1.0
    assert model.predict(x_test, verbose=0).shape == (50, 10)
