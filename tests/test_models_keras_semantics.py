"""Keras semantics found in review: metric functions, class and sample weights, weighted
metrics, target shapes up front, argument checks, steps, dtypes, pop, summary encoding."""

import io
import sys

import numpy as np
import pytest

from rnnkit import losses, metrics, optimizers
from rnnkit.layers import GRU, LSTM, Dense, Input
from rnnkit.models import Sequential, load_model


def regression(n=16):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 5, 3)).astype("float32"), rng.standard_normal((n, 1)).astype("float32")


def regressor(**compile_kwargs):
    model = Sequential([Input((5, 3)), LSTM(4), Dense(1)])
    model.compile(**({"optimizer": "adam", "loss": "mse"} | compile_kwargs))
    return model


def classifier():
    model = Sequential([Input((5, 2)), GRU(4), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(1)
    return model, rng.standard_normal((100, 5, 2)).astype("float32"), rng.integers(0, 2, 100)


def rmse(y_true, y_pred):
    return np.sqrt(np.mean((y_true - y_pred) ** 2, axis=-1))


def test_metric_functions_compile_fit_and_survive_saving(tmp_path):
    x, y = regression()
    model = regressor(metrics=[rmse])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert "rmse" in history.history
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", custom_objects={"rmse": rmse})
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == model.evaluate(x, y, verbose=0, return_dict=True)


def test_class_weights_touch_only_the_training_samples():
    model, x, y = classifier()
    history = model.fit(x, y, epochs=1, validation_split=0.2, class_weight={0: 1.0, 1: 10.0}, verbose=0)
    held_out = model.evaluate(x[80:], y[80:], verbose=0, return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(held_out["loss"], rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(held_out["accuracy"], rel=1e-6)


def test_class_weight_defaults_to_one_and_excludes_sample_weight():
    model, x, y = classifier()
    model.compile(optimizers.SGD(0.0), "binary_crossentropy")  # a step that changes nothing
    expected = model.test_on_batch(x, y, sample_weight=np.where(y == 0, 3.0, 1.0))
    assert model.train_on_batch(x, y, class_weight={0: 3.0}) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="`class_weight` and `sample_weight` at the same time"):
        model.fit(x, y, class_weight={1: 5.0}, sample_weight=np.ones(100), verbose=0)


def test_metrics_ignore_sample_weights_and_weighted_metrics_use_them():
    model, x, y = classifier()
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"], weighted_metrics=["accuracy"])
    correct = ((model.predict(x, verbose=0)[:, 0] > 0.5) == y).astype(float)
    logs = model.evaluate(x, y, sample_weight=correct, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(correct.mean())
    assert logs["weighted_accuracy"] == pytest.approx(1.0)


def test_loss_weights_scale_the_loss():
    x, y = regression()
    model = regressor(loss_weights=0.5)
    mse = np.mean((model.predict(x, verbose=0).astype(np.float64) - y) ** 2)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(0.5 * mse, rel=1e-5)


def test_targets_that_do_not_fit_are_refused_before_training():
    x, y = regression()
    model = regressor()
    with pytest.raises(ValueError, match=r"y of shape \(16, 2\) does not fit the model's output shape \(None, 1\)"):
        model.fit(x, y, epochs=3, validation_data=(x, np.zeros((16, 2))), verbose=0)
    assert model.optimizer.iterations == 0
    onehot = Sequential([Input((5, 3)), LSTM(4), Dense(3, activation="softmax")])
    onehot.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match="does not fit the model's output shape"):
        onehot.fit(x, np.zeros(16), verbose=0)


def test_ignore_class_labels_pass_the_label_check():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 5, 3)), rng.integers(0, 3, (8, 5))
    y[:, -2:] = -1
    model = Sequential([Input((5, 3)), LSTM(4, return_sequences=True), Dense(3, activation="softmax")])
    model.compile("adam", losses.SparseCategoricalCrossentropy(ignore_class=-1))
    assert np.isfinite(model.fit(x, y, verbose=0).history["loss"][0])


@pytest.mark.parametrize("kwargs,name", [({"batch_size": -1}, "batch_size"), ({"batch_size": 0}, "batch_size"),
                                         ({"batch_size": 2.5}, "batch_size"),
                                         ({"steps_per_epoch": 0}, "steps_per_epoch"),
                                         ({"validation_freq": 0}, "validation_freq"), ({"epochs": -1}, "epochs")])
def test_counts_are_checked(kwargs, name):
    x, y = regression()
    with pytest.raises(ValueError, match=f"'{name}' must be a whole number of at least"):
        regressor().fit(x, y, verbose=0, validation_split=0.25, **kwargs)


def test_steps_limit_evaluate_and_predict():
    x, y = regression()
    model = regressor()
    assert model.predict(x, steps=1, batch_size=2, verbose=0).shape == (2, 1)
    assert model.evaluate(x, y, steps=1, batch_size=2, verbose=0) == pytest.approx(
        model.evaluate(x[:2], y[:2], verbose=0), rel=1e-6)


def test_layers_of_different_dtypes_train_together():
    model = Sequential([Input((5, 3)), LSTM(4, dtype="float64"), Dense(1)])
    model.compile("adam", "mse")
    x, y = regression()
    assert np.isfinite(model.fit(x, y, verbose=0).history["loss"][0])
    assert model.predict(x, verbose=0).dtype == np.float32


def test_pop_rebuilds_the_model():
    model = Sequential([Input((5, 3)), LSTM(4), Dense(2)])
    model.pop()
    assert model.output_shape == (None, 4)
    lines = []
    model.summary(print_fn=lines.append)
    assert any("lstm" in line for line in lines)


def test_summary_falls_back_to_ascii(monkeypatch):
    stream = io.TextIOWrapper(io.BytesIO(), encoding="cp1252")
    monkeypatch.setattr(sys, "stdout", stream)
    Sequential([Input((5, 3)), LSTM(4), Dense(2)]).summary()
    stream.flush()
    text = stream.buffer.getvalue().decode("cp1252")
    assert "Total params" in text and "+" in text and "━" not in text


def test_stateful_batches_must_divide_the_data_up_front():
    model = Sequential([Input((5, 3), batch_size=4), LSTM(8, stateful=True), Dense(1)])
    model.compile("adam", "mse")
    x, y = regression(n=10)
    with pytest.raises(ValueError, match="10 samples do not split into batches of 4"):
        model.fit(x, y, batch_size=4, verbose=0)
    assert model.optimizer.iterations == 0


def test_metrics_must_be_a_list():
    with pytest.raises(ValueError, match="Expected `metrics` argument to be a list or tuple"):
        regressor(metrics="mae")
    assert isinstance(metrics.get("mae"), metrics.Metric)
