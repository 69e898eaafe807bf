"""rnnkit against numbers made by real Keras 3, from the same weights.

tests/fixtures/make_keras_parity.py built each case's model in Keras 3 (TensorFlow
backend, CPU, float64 throughout), set its weights from a seeded NumPy generator
(``rng.normal(0, 0.5)``, in Keras' ``get_weights()`` order) and stored the input, the
weights and Keras' outputs in tests/fixtures/keras_parity.npz; tests/fixtures/
keras_parity.json describes each case: the layers (Keras class names and the keyword
arguments they were given), how the model is called, the Keras weight paths and shapes,
the output shapes, and the Keras and TensorFlow versions. The script's docstring says
how to re-make them; this test needs only NumPy and rnnkit, never Keras.

The cases cover masking (Masking with right, left and hole padding; Embedding with
``mask_zero``), LSTM and GRU (``reset_after`` both ways), ``return_sequences``,
Bidirectional with every ``merge_mode`` and with ``return_state``, and a Dense or
TimeDistributed(Dense) head. Keras' masking semantics that they pin down:

* a masked step carries the state through; an RNN's output there is the carried output,
  which is zero at leading masked steps (nothing has run yet);
* Bidirectional with ``return_sequences=True`` sets ``zero_output_for_mask`` on both
  directions, so its outputs at masked steps are zero, and the backward sequence is
  flipped back to input order before merging;
* a Dense after a masked sequence is applied to the carried outputs (it does not zero them).

Each case builds the same architecture in rnnkit, loads the stored weights with
``set_weights`` and compares at ``rtol=1e-10, atol=1e-12``. Models are run with
``model.predict``; a layer with several outputs (``merge_mode=None``, ``return_state``)
is called directly, ``layer(x, mask=mask)``, with the mask from ``Masking().compute_mask``.
"""

import json
import os

import numpy as np
import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
with open(os.path.join(FIXTURES, "keras_parity.json")) as _f:
    META = json.load(_f)
CASES = {case["id"]: case for case in META["cases"]}
TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def arrays():
    with np.load(os.path.join(FIXTURES, "keras_parity.npz"), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def make_layer(spec):
    """An rnnkit layer from a json spec: Keras' class name and keyword arguments; wrappers
    (Bidirectional, TimeDistributed) hold the inner layer's spec under ``"layer"``."""
    import rnnkit.layers

    cls = getattr(rnnkit.layers, spec["class"])
    if "layer" in spec:
        return cls(make_layer(spec["layer"]), **spec["kwargs"])
    return cls(**spec["kwargs"])


def case_arrays(arrays, case):
    cid = case["id"]
    weights = [arrays[f"{cid}/w{i}"] for i in range(case["n_weights"])]
    expected = [arrays[f"{cid}/y{i}"] for i in range(case["n_outputs"])]
    return arrays[f"{cid}/x"], arrays[f"{cid}/mask"], weights, expected


def check_weight_shapes(target, case):
    shapes = [list(np.shape(w)) for w in target.get_weights()]
    assert shapes == case["weight_shapes"], f"weight shapes differ from Keras' {case['weight_names']}"


def run_model(case, x, weights):
    from rnnkit.layers import Input
    from rnnkit.models import Sequential

    model = Sequential([Input(tuple(case["input"]["shape"]), dtype=case["input"]["dtype"])]
                       + [make_layer(spec) for spec in case["layers"]])
    check_weight_shapes(model, case)
    model.set_weights(weights)
    return [model.predict(x, verbose=0)]


def run_layer(case, x, mask_expected, weights):
    layer = make_layer(case["layers"][0])
    kwargs = {}
    if case["mask_layer"] is not None:
        mask = make_layer(case["mask_layer"]).compute_mask(x)
        np.testing.assert_array_equal(np.asarray(mask), mask_expected)
        kwargs["mask"] = mask
    layer(x, **kwargs)  # builds the weights, as in Keras
    check_weight_shapes(layer, case)
    layer.set_weights(weights)
    outputs = layer(x, **kwargs)
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def test_fixtures_complete(arrays):
    assert META["floatx"] == "float64"
    for cid, case in CASES.items():
        x, mask, weights, expected = case_arrays(arrays, case)
        assert mask.shape == x.shape[:2]
        assert [list(w.shape) for w in weights] == case["weight_shapes"]
        assert len(case["weight_names"]) == case["n_weights"]
        assert [list(y.shape) for y in expected] == case["output_shapes"]
        assert all(y.dtype == np.float64 for y in weights + expected), cid


@pytest.mark.parametrize("case_id", list(CASES))
def test_keras_parity(case_id, arrays, floatx64):
    case = CASES[case_id]
    x, mask, weights, expected = case_arrays(arrays, case)
    outputs = run_model(case, x, weights) if case["call"] == "model" else run_layer(case, x, mask, weights)
    assert len(outputs) == len(expected)
    for i, (got, want) in enumerate(zip(outputs, expected)):
        got = np.asarray(got)
        assert got.dtype == np.float64, f"output {i} is {got.dtype}"
        np.testing.assert_allclose(got, want, err_msg=f"{case_id}: output {i}", **TOL)
