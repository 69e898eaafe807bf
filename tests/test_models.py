"""Sequential: building, summary, compile/fit/evaluate/predict conventions, whole-model
gradients, reproducibility, Ctrl-C, and bad input caught before any C++ work."""

import os
import re
import signal

import numpy as np
import pytest

import rnnkit
from rnnkit import callbacks, config, optimizers, regularizers
from rnnkit.layers import GRU, LSTM, Dense, Input, SimpleRNN
from rnnkit.models import Sequential


def regression_data(n=64, steps=6, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, steps, features)).astype(np.float32)
    y = x[:, :, :1].mean(axis=1) + 0.1 * rng.standard_normal((n, 1)).astype(np.float32)
    return x, y


def small_model(**compile_kwargs):
    model = Sequential([LSTM(4, input_shape=(6, 3)), Dense(1)])
    model.compile(**({"optimizer": "adam", "loss": "mse"} | compile_kwargs))
    return model


def test_ways_to_declare_the_input_shape():
    a = Sequential([Input(shape=(None, 3)), LSTM(4), Dense(2)])
    b = Sequential([LSTM(4, input_shape=(None, 3)), Dense(2)])
    c = Sequential()
    c.add(LSTM(4))
    c.add(Dense(2))
    assert a.built and b.built and not c.built
    c.build((None, None, 3))
    for model in (a, b, c):
        assert len(model.layers) == 2 and model.count_params() == 4 * (3 * 4 + 16 + 4) + 4 * 2 + 2
        assert model.output_shape == (None, 2)


def test_summary_matches_keras_layout_and_counts():
    model = Sequential([LSTM(50, input_shape=(None, 100), return_sequences=True, name="lstm"),
                        GRU(8, name="gru"), Dense(1, name="dense")], name="sequential")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "sequential"'
    lstm, gru, dense = 4 * (100 * 50 + 50 * 50 + 50), 3 * (50 * 8 + 8 * 8 + 2 * 8), 8 + 1
    assert re.search(rf"lstm \(LSTM\)\s+│ \(None, None, 50\)\s+│\s+{lstm:,} │", text)
    assert re.search(rf"gru \(GRU\)\s+│ \(None, 8\)\s+│\s+{gru:,} │", text)
    assert re.search(rf"dense \(Dense\)\s+│ \(None, 1\)\s+│\s+{dense} │", text)
    assert f"Total params: {lstm + gru + dense:,} (" in text
    assert f"Trainable params: {lstm + gru + dense:,} (" in text and "Non-trainable params: 0 (0.00 B)" in text
    assert "┏" in text and "└" in text


def test_fit_returns_keras_history_names():
    x, y = regression_data()
    model = small_model(metrics=["mae"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert model.history is history


def test_validation_split_holds_out_the_last_samples():
    x, y = regression_data(n=40)
    model = small_model()
    history = model.fit(x, y, epochs=1, batch_size=8, validation_split=0.25, verbose=0, shuffle=False)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[30:], y[30:], verbose=0), rel=1e-6)


def test_evaluate_and_on_batch_return_conventions():
    x, y = regression_data()
    plain = small_model()
    assert isinstance(plain.evaluate(x, y, verbose=0), float)
    with_metrics = small_model(metrics=["mae", "mse"])
    values = with_metrics.evaluate(x, y, verbose=0)
    assert isinstance(values, list) and len(values) == 3
    as_dict = with_metrics.evaluate(x, y, verbose=0, return_dict=True)
    assert list(as_dict) == ["loss", "mae", "mse"] and as_dict["loss"] == pytest.approx(values[0])
    assert as_dict["mse"] == pytest.approx(as_dict["loss"], rel=1e-5)
    assert len(with_metrics.train_on_batch(x[:8], y[:8])) == 3
    assert isinstance(plain.train_on_batch(x[:8], y[:8]), float)
    assert set(with_metrics.test_on_batch(x[:8], y[:8], return_dict=True)) == {"loss", "mae", "mse"}
    assert plain.predict(x, verbose=0).shape == (64, 1)
    np.testing.assert_allclose(plain.predict_on_batch(x[:5]), plain.predict(x[:5], verbose=0), rtol=1e-6)


def test_predict_handles_any_batch_size_and_length():
    model = Sequential([GRU(3, input_shape=(None, 2)), Dense(1)])
    x = np.random.default_rng(0).standard_normal((70, 9, 2))
    full = model.predict(x, batch_size=70, verbose=0)
    np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0), full, rtol=1e-6)
    assert model.predict(x[:, :4], verbose=0).shape == (70, 1)


def test_dense_applies_per_time_step():
    model = Sequential([SimpleRNN(3, input_shape=(5, 2), return_sequences=True), Dense(4)])
    y = model.predict(np.ones((2, 5, 2)), verbose=0)
    assert y.shape == (2, 5, 4)


def test_zero_sample_weights_leave_sgd_weights_unchanged():
    x, y = regression_data(n=8)
    model = small_model(optimizer=optimizers.SGD(0.1))
    before = model.get_weights()
    model.train_on_batch(x, y, sample_weight=np.zeros(8))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_class_weight_scales_the_loss():
    x, _ = regression_data(n=16)
    y = np.array([0, 1] * 8)
    model = Sequential([LSTM(3, input_shape=(6, 3)), Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    plain = model.test_on_batch(x, y)
    w = {0: 2.0, 1: 2.0}
    model.compile(optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    assert model.train_on_batch(x, y, class_weight=w) == pytest.approx(2 * plain, rel=1e-5)


def test_regularization_is_part_of_the_loss():
    x, y = regression_data(n=16)
    model = Sequential([LSTM(3, input_shape=(6, 3), kernel_regularizer=regularizers.L2(0.5)), Dense(1)])
    model.compile("sgd", "mse")
    kernel = model.layers[0].kernel.value
    mse = np.mean((model.predict(x, verbose=0) - y) ** 2)
    penalty = 0.5 * np.sum(kernel.astype(np.float64) ** 2)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(mse + penalty, rel=1e-5)


@pytest.mark.parametrize("stack", ["lstm_gru_dense", "gru_simple_rnn_dense", "simple_rnn_lstm_seq_dense"])
def test_whole_model_gradients(stack):
    config.set_floatx("float64")
    try:
        model = {
            "lstm_gru_dense": lambda: Sequential([LSTM(3, return_sequences=True), GRU(2),
                                                  Dense(2, activation="softmax")]),
            "gru_simple_rnn_dense": lambda: Sequential([GRU(3, return_sequences=True, reset_after=False),
                                                        SimpleRNN(2, go_backwards=True),
                                                        Dense(1, activation="sigmoid")]),
            "simple_rnn_lstm_seq_dense": lambda: Sequential([SimpleRNN(3, return_sequences=True),
                                                             LSTM(2, return_sequences=True, peephole=True), Dense(2)]),
        }[stack]()
        x = np.random.default_rng(1).standard_normal((2, 4, 3))
        report = rnnkit.gradcheck(model, {"x": x}, order=4, rtol=1e-7, atol=1e-10)
        assert len(report.checks) == 1 + len(model.weights)
    finally:
        config.set_floatx("float32")


def test_same_seed_same_weights_and_losses():
    x, y = regression_data()

    def run():
        rnnkit.utils.set_random_seed(123)
        model = Sequential([GRU(4, input_shape=(6, 3), dropout=0.2, recurrent_dropout=0.2), Dense(1)])
        model.compile("adam", "mse")
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        return model.get_weights(), history.history["loss"]

    (w1, l1), (w2, l2) = run(), run()
    assert l1 == l2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_stops_between_batches_and_leaves_the_model_usable():
    x, y = regression_data(n=64)
    model = small_model()

    def interrupt(batch, logs=None):
        if batch == 2:
            os.kill(os.getpid(), signal.SIGINT)  # arrives during batch 2

    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, epochs=5, verbose=0,
                  callbacks=[callbacks.LambdaCallback(on_train_batch_begin=interrupt)])
    assert model.optimizer.iterations == 3  # batch 2 finished: no half-applied update
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.predict(x, verbose=0)).all()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # and it trains on
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_bad_input_is_caught_before_any_cpp_work():
    x, y = regression_data()
    uncompiled = Sequential([LSTM(4, input_shape=(6, 3)), Dense(1)])
    with pytest.raises(ValueError, match=r"You must call `compile\(\)`"):
        uncompiled.fit(x, y, verbose=0)
    model = small_model()
    with pytest.raises(ValueError, match="same number of samples: x has 64, y has 60"):
        model.fit(x, y[:60], verbose=0)
    with pytest.raises(ValueError, match=r"expects inputs of rank 3, shape \(None, 6, 3\), got shape \(64, 3\)"):
        model.fit(x[:, 0], y, verbose=0)
    with pytest.raises(ValueError, match=r"axis 2 is 4, expected 3"):
        model.predict(np.zeros((2, 6, 4)), verbose=0)
    bad = x.copy()
    bad[3, 2, 1] = np.nan
    with pytest.raises(ValueError, match=r"'x' contains NaN or infinity \(first at index \(3, 2, 1\)\)"):
        model.fit(bad, y, verbose=0)
    with pytest.raises(ValueError, match="'y' contains NaN or infinity"):
        model.fit(x, np.full_like(y, np.inf), verbose=0)
    classifier = Sequential([LSTM(4, input_shape=(6, 3)), Dense(3, activation="softmax")])
    classifier.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\).*got 3"):
        classifier.fit(x, np.array([0, 1, 2, 3] * 16), verbose=0)
    with pytest.raises(ValueError, match="adamm"):
        model.compile("adamm", "mse")
    with pytest.raises(ValueError, match="msee"):
        model.compile("adam", "msee")
    with pytest.raises(ValueError, match="accuracyy"):
        model.compile("adam", "mse", metrics=["accuracyy"])
    with pytest.raises(ValueError, match="unknown activation 'rellu'"):
        Dense(2, activation="rellu")
    with pytest.raises(ValueError, match="return_state"):
        Sequential([LSTM(2, return_state=True)])
