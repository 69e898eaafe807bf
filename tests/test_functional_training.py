"""compile/fit/evaluate/predict of functional models with several inputs and outputs: a loss,
a loss weight and metrics per output (lists and dicts by output name), Keras 3's log names,
the total loss as the weighted sum of the unweighted per-output losses, and inputs/targets as
lists or dicts keyed by Input and output names."""

import numpy as np
import pytest

from rnnkit import layers as L
from rnnkit.models import Model

N, T = 6, 3
W_REG, W_CLS = 0.25, 3.0


def build(dict_outputs=False):
    seq = L.Input((T, 2), name="seq")
    feat = L.Input((3,), name="feat")
    h = L.LSTM(3, name="lstm")(seq)
    joined = L.Concatenate(name="concat")([h, L.Dense(2, name="dense")(feat)])
    reg = L.Dense(2, name="reg")(joined)
    cls = L.Dense(1, activation="sigmoid", name="cls")(h)
    outputs = {"score": reg, "label": cls} if dict_outputs else [reg, cls]
    return Model([seq, feat], outputs, name="two_heads")


def data(seed=0):
    r = np.random.default_rng(seed)
    x = [r.standard_normal((N, T, 2)), r.standard_normal((N, 3))]
    y = [r.standard_normal((N, 2)), (r.random((N, 1)) > 0.5).astype(np.float64)]
    return x, y


def mse(y, p):
    return float(np.mean((y - p) ** 2))


def bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def accuracy(y, p):
    return float(np.mean((p > 0.5) == (y > 0.5)))


COMPILES = {
    "lists": dict(loss=["mse", "binary_crossentropy"], loss_weights=[W_REG, W_CLS],
                  metrics=[["mae"], ["accuracy"]]),
    "dicts": dict(loss={"reg": "mse", "cls": "binary_crossentropy"}, loss_weights={"reg": W_REG, "cls": W_CLS},
                  metrics={"reg": ["mae"], "cls": "accuracy"}),
}
EXPECTED_KEYS = {"loss", "reg_loss", "cls_loss", "reg_mae", "cls_accuracy"}


@pytest.mark.parametrize("style", sorted(COMPILES))
def test_history_keys_and_weighted_total(floatx64, style):
    model = build()
    model.compile(optimizer="sgd", **COMPILES[style])
    x, y = data()
    xv, yv = data(1)
    reg, cls = model.predict(x, verbose=0)
    history = model.fit(x, y, batch_size=N, epochs=1, shuffle=False, validation_data=(xv, yv), verbose=0).history
    assert set(history) == EXPECTED_KEYS | {f"val_{k}" for k in EXPECTED_KEYS}
    # One batch: the logged losses are those of the weights before the step, per output unweighted.
    np.testing.assert_allclose(history["reg_loss"][0], mse(y[0], reg), rtol=1e-12)
    np.testing.assert_allclose(history["cls_loss"][0], bce(y[1], cls), rtol=1e-12)
    np.testing.assert_allclose(history["loss"][0], W_REG * mse(y[0], reg) + W_CLS * bce(y[1], cls), rtol=1e-12)
    np.testing.assert_allclose(history["reg_mae"][0], np.mean(np.abs(y[0] - reg)), rtol=1e-12)
    np.testing.assert_allclose(history["cls_accuracy"][0], accuracy(y[1], cls), rtol=1e-12)
    # Validation after the step, as evaluate gives it.
    reg_v, cls_v = model.predict(xv, verbose=0)
    np.testing.assert_allclose(history["val_reg_loss"][0], mse(yv[0], reg_v), rtol=1e-12)
    np.testing.assert_allclose(history["val_cls_loss"][0], bce(yv[1], cls_v), rtol=1e-12)
    np.testing.assert_allclose(history["val_loss"][0],
                               W_REG * history["val_reg_loss"][0] + W_CLS * history["val_cls_loss"][0], rtol=1e-12)


def test_list_and_dict_compiles_train_identically(floatx64):
    x, y = data()
    results = []
    for style in ("lists", "dicts"):
        model = build()
        if results:
            model.set_weights(results[0][0])
        start = model.get_weights()
        model.compile(optimizer="adam", **COMPILES[style])
        history = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0).history
        results.append((start, model.get_weights(), history))
    assert results[0][2] == results[1][2]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_total_is_the_weighted_sum_over_several_batches(floatx64):
    model = build()
    model.compile(optimizer="adam", **COMPILES["lists"])
    x, y = data()
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history  # batches of 4 and 2
    for epoch in range(2):
        np.testing.assert_allclose(history["loss"][epoch], W_REG * history["reg_loss"][epoch]
                                   + W_CLS * history["cls_loss"][epoch], rtol=1e-12)


def test_evaluate_keys_values_and_list_form(floatx64):
    model = build()
    model.compile(optimizer="sgd", **COMPILES["dicts"])
    x, y = data()
    reg, cls = model.predict(x, verbose=0)
    logs = model.evaluate(x, y, batch_size=4, return_dict=True, verbose=0)
    assert set(logs) == EXPECTED_KEYS
    np.testing.assert_allclose(logs["reg_loss"], mse(y[0], reg), rtol=1e-12)
    np.testing.assert_allclose(logs["cls_loss"], bce(y[1], cls), rtol=1e-12)
    np.testing.assert_allclose(logs["loss"], W_REG * logs["reg_loss"] + W_CLS * logs["cls_loss"], rtol=1e-12)
    np.testing.assert_allclose(logs["reg_mae"], np.mean(np.abs(y[0] - reg)), rtol=1e-12)
    np.testing.assert_allclose(logs["cls_accuracy"], accuracy(y[1], cls), rtol=1e-12)
    values = model.evaluate(x, y, batch_size=4, verbose=0)
    assert model.metrics_names[0] == "loss" and set(model.metrics_names) == EXPECTED_KEYS
    assert values == [logs[name] for name in model.metrics_names]


def test_metrics_dict_with_several_metrics_for_one_output(floatx64):
    model = build()
    model.compile(optimizer="sgd", loss="mse", metrics={"cls": ["accuracy", "mse"]})
    x, y = data()
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert set(logs) == {"loss", "reg_loss", "cls_loss", "cls_accuracy", "cls_mse"}
    np.testing.assert_allclose(logs["loss"], logs["reg_loss"] + logs["cls_loss"], rtol=1e-12)
    np.testing.assert_allclose(logs["cls_mse"], logs["cls_loss"], rtol=1e-12)


def test_predict_returns_the_outputs_structure(floatx64):
    x, _ = data()
    listed = build()
    out = listed.predict(x, verbose=0)
    assert isinstance(out, list) and [o.shape for o in out] == [(N, 2), (N, 1)]
    assert listed.output_names == ["reg", "cls"]

    named = build(dict_outputs=True)
    named.set_weights(listed.get_weights())
    out_named = named.predict(x, batch_size=4, verbose=0)
    assert isinstance(out_named, dict) and list(out_named) == ["score", "label"]
    assert named.output_names == ["score", "label"]
    np.testing.assert_array_equal(out_named["score"], out[0])
    np.testing.assert_array_equal(out_named["label"], out[1])


def test_dict_outputs_name_the_losses_and_metrics_by_key(floatx64):
    model = build(dict_outputs=True)
    model.compile(optimizer="sgd", loss={"score": "mse", "label": "binary_crossentropy"},
                  loss_weights={"score": W_REG, "label": W_CLS}, metrics={"label": ["accuracy"]})
    x, y = data()
    history = model.fit(x, {"label": y[1], "score": y[0]}, batch_size=N, shuffle=False, verbose=0,
                        validation_data=(x, {"score": y[0], "label": y[1]})).history
    keys = {"loss", "score_loss", "label_loss", "label_accuracy"}
    assert set(history) == keys | {f"val_{k}" for k in keys}
    np.testing.assert_allclose(history["loss"][0], W_REG * history["score_loss"][0]
                               + W_CLS * history["label_loss"][0], rtol=1e-12)


def test_dict_inputs_and_targets_by_name_equal_lists(floatx64):
    x, y = data()
    x_dict = {"feat": x[1], "seq": x[0]}  # keyed by Input name, not in the model's order
    y_dict = {"cls": y[1], "reg": y[0]}
    a, b = build(), build()
    b.set_weights(a.get_weights())
    for model in (a, b):
        model.compile(optimizer="adam", **COMPILES["lists"])
    for p, q in zip(a.predict(x, verbose=0), b.predict(x_dict, verbose=0)):
        np.testing.assert_array_equal(p, q)
    assert a.evaluate(x, y, return_dict=True, verbose=0) == b.evaluate(x_dict, y_dict, return_dict=True, verbose=0)
    ha = a.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=(x, y)).history
    hb = b.fit(x_dict, y_dict, batch_size=4, epochs=2, shuffle=False, verbose=0,
               validation_data=(x_dict, y_dict)).history
    assert ha == hb
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)
    for p, q in zip(a.train_on_batch(x, y), b.train_on_batch(x_dict, y_dict)):
        assert p == q


def test_loss_weights_scale_only_the_total_and_the_gradient(floatx64):
    """Doubling every loss weight doubles the total and the first SGD step, leaves per-output
    logs unchanged."""
    x, y = data()
    runs = []
    for scale in (1.0, 2.0):
        model = build()
        if runs:
            model.set_weights(runs[0][0])
        start = model.get_weights()
        model.compile(optimizer="sgd", loss=["mse", "binary_crossentropy"],
                      loss_weights=[W_REG * scale, W_CLS * scale])
        history = model.fit(x, y, batch_size=N, epochs=1, shuffle=False, verbose=0).history
        runs.append((start, model.get_weights(), history))
    (s0, w0, h0), (_, w1, h1) = runs
    assert h1["reg_loss"] == h0["reg_loss"] and h1["cls_loss"] == h0["cls_loss"]
    np.testing.assert_allclose(h1["loss"][0], 2 * h0["loss"][0], rtol=1e-12)
    for start, a, b in zip(s0, w0, w1):
        np.testing.assert_allclose(b - start, 2 * (a - start), rtol=1e-9, atol=1e-15)


def test_dict_compile_survives_save_and_load_and_training_resumes(floatx64, tmp_path):
    from rnnkit.models import load_model

    model = build(dict_outputs=True)
    model.compile(optimizer="adam", loss={"score": "mse", "label": "binary_crossentropy"},
                  loss_weights={"score": W_REG, "label": W_CLS}, metrics={"label": ["accuracy"], "score": ["mae"]})
    x, y = data()
    x = {"seq": x[0], "feat": x[1]}
    y = {"score": y[0], "label": y[1]}
    model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    model.save(str(tmp_path / "m.keras"))
    loaded = load_model(str(tmp_path / "m.keras"))
    assert loaded.evaluate(x, y, return_dict=True, verbose=0) == model.evaluate(x, y, return_dict=True, verbose=0)
    h1 = model.fit(x, y, batch_size=4, shuffle=False, verbose=0).history
    h2 = loaded.fit(x, y, batch_size=4, shuffle=False, verbose=0).history
    assert set(h2) == {"loss", "score_loss", "label_loss", "score_mae", "label_accuracy"}
    assert h1 == h2
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
