"""rnnkit's functional API against numbers made by real Keras 3, from the same weights.

tests/fixtures/make_keras_functional_parity.py built a two-input, two-output functional
model in Keras 3 (TensorFlow backend, CPU, float64 throughout)::

    input_a (6, 3) -> [Masking(0.0), "masking"] -> LSTM(4), "lstm" --+
    input_b (5,)   -> Dense(4, tanh), "branch_b" --------------------+-> Concatenate, "concat"
        -> Dense(3, tanh), "shared_trunk" -> Dense(2), "out_reg"                (loss "mse")
                                          -> Dense(1, sigmoid), "out_cls"  (loss "binary_crossentropy")

(with and without the Masking layer), set its weights from a seeded NumPy generator (in
Keras' ``get_weights()`` order), stored ``predict`` for a batch of 8, then compiled it with
``Adam(learning_rate=0.01)``, ``loss={"out_reg": "mse", "out_cls": "binary_crossentropy"}``
and ``loss_weights={"out_reg": 1.0, "out_cls": 0.5}``, ran ONE ``train_on_batch(x, y,
return_dict=True)`` and stored the dict it returned and every weight after the step
(tests/fixtures/keras_functional_parity.npz and .json; the script's docstring says how to
re-make them). This test needs only NumPy and rnnkit, never Keras.

It builds the same graph with ``rnnkit.layers`` / ``rnnkit.models.Model`` (the same layer
names), loads the weights, and checks, in float64:

* the weight order of ``model.get_weights()`` is Keras' (layer by layer, in the graph's
  order, LSTM kernel / recurrent_kernel / bias);
* ``model.predict([x_a, x_b])`` returns the two outputs Keras gave (rtol 1e-10);
* ``train_on_batch(return_dict=True)`` reports the same keys as Keras - ``"loss"`` (the
  weighted total) and ``"out_reg_loss"``, ``"out_cls_loss"`` (unweighted, as Keras 3's
  ``CompileLoss`` records them) - and the same values (rtol 1e-10);
* the step of the Adam update (rtol 1e-5; Keras 3's Adam puts epsilon outside the
  square root and folds the bias corrections into the step size). On the TensorFlow backend
  Keras' float64 Adam also rounds beta_1 and beta_2 to float32 in those bias corrections
  (``ops.cast(self.beta_1, "float64")`` is ``tf.cast`` of a Python float, which goes through
  a float32 constant): its first step is ``1 - 6.6757e-6`` times the exact formula's.
  test_adam_step_up_to_keras_float32_betas takes that factor out and checks the rest to 1e-9;
* ``model.layers`` in Keras' order (test_layer_order).
"""

import json
import os

import numpy as np
import pytest

import rnnkit

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
with open(os.path.join(FIXTURES, "keras_functional_parity.json")) as _f:
    META = json.load(_f)
CASES = {case["id"]: case for case in META["cases"]}
PREDICT_TOL = dict(rtol=1e-10, atol=1e-12)
LOSS_TOL = dict(rtol=1e-10, atol=0)


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(FIXTURES, "keras_functional_parity.npz"), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def case_data(arrays, case):
    cid = case["id"]
    get = lambda key: arrays[f"{cid}/{key}"]  # noqa: E731
    return {
        "x": [get("x_a"), get("x_b")],
        "mask": get("mask"),
        "y": {"out_reg": get("y_reg"), "out_cls": get("y_cls")},
        "pred": [get("pred_out_reg"), get("pred_out_cls")],
        "weights": [get(f"w{i}") for i in range(case["n_weights"])],
        "after": [get(f"w_after{i}") for i in range(case["n_weights"])],
    }


def build_model(case):
    """The case's graph in rnnkit: every node is ``cls(name=..., **kwargs)`` called on the
    named tensors, as the generator did in Keras."""
    from rnnkit.layers import Input
    from rnnkit.models import Model

    tensors = {}
    for spec in case["layers"]:
        if spec["class"] == "Input":
            tensors[spec["name"]] = Input(tuple(spec["kwargs"]["shape"]), name=spec["name"])
            continue
        layer = getattr(rnnkit.layers, spec["class"])(name=spec["name"], **spec["kwargs"])
        inputs = spec["inputs"]
        tensors[spec["name"]] = layer([tensors[n] for n in inputs] if isinstance(inputs, list) else tensors[inputs])
    return Model([tensors[n] for n in case["inputs"]], [tensors[n] for n in case["outputs"]], name=case["id"])


def set_keras_weights(model, case, weights):
    """Loads the Keras-ordered weights layer by layer (by the owning layer's name), so the
    numeric checks do not depend on the model-level weight order (tested on its own)."""
    for name in dict.fromkeys(case["weight_layers"]):
        model.get_layer(name).set_weights([w for w, owner in zip(weights, case["weight_layers"]) if owner == name])


def weights_by_layer(model, case):
    """The model's weights, in Keras' order (per owning layer, in each layer's own order)."""
    per_layer = {name: list(model.get_layer(name).get_weights()) for name in dict.fromkeys(case["weight_layers"])}
    return [per_layer[owner].pop(0) for owner in case["weight_layers"]]


def compile_like_keras(model, case):
    spec = case["compile"]
    assert spec["optimizer"]["class"] == "Adam"
    optimizer = rnnkit.optimizers.Adam(learning_rate=spec["optimizer"]["learning_rate"], **spec["optimizer"]["config"])
    model.compile(optimizer=optimizer, loss=dict(spec["loss"]), loss_weights=dict(spec["loss_weights"]))


def test_fixtures_complete(arrays):
    assert META["floatx"] == "float64"
    assert META["backend"] == "tensorflow"
    for cid, case in CASES.items():
        data = case_data(arrays, case)
        x_a, x_b = data["x"]
        assert x_a.shape == (8, 6, 3) and x_b.shape == (8, 5)
        assert data["mask"].shape == (8, 6) and data["mask"].dtype == bool
        np.testing.assert_array_equal(data["mask"], np.any(x_a != 0, axis=-1))
        assert case["masked"] == (not data["mask"].all())
        assert [list(w.shape) for w in data["weights"]] == case["weight_shapes"]
        assert [list(w.shape) for w in data["after"]] == case["weight_shapes"]
        assert len(case["weight_names"]) == len(case["weight_layers"]) == case["n_weights"]
        assert set(case["train_on_batch_logs"]) == {"loss", "out_reg_loss", "out_cls_loss"}, cid
        for a in data["x"] + list(data["y"].values()) + data["pred"] + data["weights"] + data["after"]:
            assert a.dtype == np.float64, cid
        assert set(np.unique(data["y"]["out_cls"])) <= {0.0, 1.0}
        # The step moved every weight (no weight is untouched by the gradient).
        assert all(not np.array_equal(w, v) for w, v in zip(data["weights"], data["after"])), cid


@pytest.mark.parametrize("case_id", list(CASES))
def test_model_structure(case_id, floatx64):
    """Names and weight order as in Keras: ``model.get_weights()`` can take Keras' list as is."""
    case = CASES[case_id]
    model = build_model(case)
    assert model.output_names == case["keras_output_names"]
    assert [list(np.shape(w)) for w in model.get_weights()] == case["weight_shapes"]
    layer_names = list(dict.fromkeys(case["weight_layers"]))
    owners = [name for v in model.weights for name in layer_names
              if any(v is w for w in model.get_layer(name).weights)]
    assert owners == case["weight_layers"]


@pytest.mark.parametrize("case_id", list(CASES))
def test_layer_order(case_id, floatx64):
    """``model.layers`` in Keras' order. Keras 3 (``keras.src.ops.function.map_graph``) sorts
    the layers by depth (the longest path to an output), deepest first, ties in graph-traversal
    order; it does not put every InputLayer first: with Masking on input_a it gives
    input_a, masking, input_b, lstm, ..."""
    case = CASES[case_id]
    assert [layer.name for layer in build_model(case).layers] == case["keras_layer_order"]


@pytest.mark.parametrize("case_id", list(CASES))
def test_predict(case_id, arrays, floatx64):
    case = CASES[case_id]
    data = case_data(arrays, case)
    model = build_model(case)
    set_keras_weights(model, case, data["weights"])
    outputs = model.predict(data["x"], verbose=0)
    assert isinstance(outputs, (list, tuple)) and len(outputs) == 2
    for name, got, want in zip(case["outputs"], outputs, data["pred"]):
        got = np.asarray(got)
        assert got.dtype == np.float64, f"{name} is {got.dtype}"
        np.testing.assert_allclose(got, want, err_msg=f"{case_id}: {name}", **PREDICT_TOL)
    # x as a dict by Input name gives the same numbers.
    by_name = model.predict(dict(zip(case["inputs"], data["x"])), verbose=0)
    for got, want in zip(by_name, outputs):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("case_id", list(CASES))
def test_set_weights_in_keras_order(case_id, arrays, floatx64):
    """``model.set_weights`` with Keras' ``get_weights()`` list gives Keras' predictions."""
    case = CASES[case_id]
    data = case_data(arrays, case)
    model = build_model(case)
    model.set_weights(data["weights"])
    for name, got, want in zip(case["outputs"], model.predict(data["x"], verbose=0), data["pred"]):
        np.testing.assert_allclose(got, want, err_msg=f"{case_id}: {name}", **PREDICT_TOL)


@pytest.mark.parametrize("case_id", list(CASES))
def test_train_on_batch(case_id, arrays, floatx64):
    case = CASES[case_id]
    data = case_data(arrays, case)
    model = build_model(case)
    set_keras_weights(model, case, data["weights"])
    compile_like_keras(model, case)
    logs = model.train_on_batch(data["x"], data["y"], return_dict=True)
    want = case["train_on_batch_logs"]
    assert set(logs) == set(want), f"log keys {sorted(logs)} differ from Keras' {sorted(want)}"
    for key in sorted(want):
        np.testing.assert_allclose(logs[key], want[key], err_msg=f"{case_id}: {key}", **LOSS_TOL)
    assert model.optimizer.iterations == 1
    after = weights_by_layer(model, case)
    for path, got, before, expected in zip(case["weight_names"], after, data["weights"], data["after"]):
        assert got.dtype == np.float64, path
        # Keras' float64 Adam rounds its betas to float32 in the bias corrections, so its step is
        # 1 - 6.7e-6 times the exact one; the step agrees to 1e-5 here and, with that factor
        # taken out, to 1e-9 (test_adam_step_up_to_keras_float32_betas).
        np.testing.assert_allclose(got - before, expected - before, rtol=1e-5, atol=1e-15,
                                   err_msg=f"{case_id}: {path}, the step of one Adam update")


def keras_tf_bias_correction_factor(beta_1, beta_2, step=1):
    """Keras 3's Adam computes ``ops.cast(self.beta_1, variable.dtype) ** t``; on the
    TensorFlow backend ``tf.cast`` of a Python float first makes a float32 constant, so in
    float64 the bias corrections use ``float32(beta_1)`` and ``float32(beta_2)`` (the moment
    updates use the exact ``1 - beta``). Keras' step over the exact formula's step."""
    b1, b2 = float(np.float32(beta_1)), float(np.float32(beta_2))
    exact = np.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
    return np.sqrt(1 - b2 ** step) / (1 - b1 ** step) / exact


@pytest.mark.parametrize("case_id", list(CASES))
def test_adam_step_up_to_keras_float32_betas(case_id, arrays, floatx64):
    """Diagnostic for test_train_on_batch: with the one difference in Keras' float64 Adam taken
    out (its bias corrections use float32-rounded betas, a factor 1 - 6.6757e-6 on every
    step), rnnkit's step equals Keras' to 1e-9 - so gradients, losses and the rest of the
    update agree, and only that constant factor separates the weights after the step."""
    case = CASES[case_id]
    data = case_data(arrays, case)
    model = build_model(case)
    set_keras_weights(model, case, data["weights"])
    compile_like_keras(model, case)
    model.train_on_batch(data["x"], data["y"], return_dict=True)
    config = case["compile"]["optimizer"]["config"]
    factor = keras_tf_bias_correction_factor(config["beta_1"], config["beta_2"])
    assert abs(factor - 1 + 6.6757e-6) < 1e-9
    for path, got, before, expected in zip(case["weight_names"], weights_by_layer(model, case), data["weights"],
                                           data["after"]):
        np.testing.assert_allclose((got - before) * factor, expected - before, rtol=1e-9, atol=1e-15,
                                   err_msg=f"{case_id}: the Adam step of {path}")
