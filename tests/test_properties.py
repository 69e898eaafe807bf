"""Property-based tests: rnnkit.ops against the independent reference (tests/reference.py)
over random shapes (every size may be 1), masks, lengths, directions and options, in float64.

The forward passes must agree with the reference to 1e-12 (absolute, or relative for
values above 1); the backward passes must agree
with a central difference of the forward along a random direction of every input at once
(one scalar per example: cheap, and it involves every entry of every gradient).

The number of examples comes from the Hypothesis profile loaded in conftest.py: a small
one by default, a derandomized one when the CI environment variable is set, and
HYPOTHESIS_PROFILE=thorough for a long search.
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from rnnkit import ops  # noqa: E402

import reference  # noqa: E402

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
FORWARD = {"simple_rnn": ops.simple_rnn_forward, "lstm": ops.lstm_forward, "gru": ops.gru_forward}
REFERENCE = {"simple_rnn": reference.simple_rnn_forward, "lstm": reference.lstm_forward,
             "gru": reference.gru_forward}
ACTIVATIONS = ["tanh", "sigmoid", "linear", "relu", "hard_sigmoid"]
GATE_ACTIVATIONS = ["sigmoid", "hard_sigmoid", "tanh"]  # bounded, as gates are
SMOOTH = ["tanh", "sigmoid", "linear"]  # no kinks: central differences are exact to O(eps^2)
SMOOTH_GATES = ["sigmoid", "tanh"]

# The autouse seed fixture of conftest.py is harmless here: every example draws its own data.
examples = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def problems(draw, activations=ACTIVATIONS, gate_activations=GATE_ACTIVATIONS, dropout=False):
    """A recurrent call: its function name, the float64 inputs and the options (keyword
    arguments valid for both rnnkit.ops and the reference, unless ``dropout``)."""
    cell = draw(st.sampled_from(["simple_rnn", "lstm", "gru_reset_after", "gru_reset_before"]))
    family = cell.split("_reset")[0]
    N, T, F, H = (draw(st.integers(1, 4), label=name) for name in "NTFH")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    scale = draw(st.sampled_from([0.1, 0.5, 1.0]), label="scale")
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.standard_normal(shape) * scale

    G = GATES[family]
    arrays = {"x": normal(N, T, F), "kernel": normal(F, G * H), "recurrent_kernel": normal(H, G * H)}
    options = {"go_backwards": draw(st.booleans(), label="go_backwards"),
               "return_sequences": draw(st.booleans(), label="return_sequences"),
               "activation": draw(st.sampled_from(activations), label="activation")}
    if family != "simple_rnn":
        options["recurrent_activation"] = draw(st.sampled_from(gate_activations), label="recurrent_activation")
    if family == "gru":
        options["reset_after"] = cell == "gru_reset_after"
    if draw(st.booleans(), label="bias"):
        arrays["bias"] = normal(2, 3 * H) if options.get("reset_after") else normal(G * H)
    if draw(st.booleans(), label="initial state"):
        arrays["h0"] = normal(N, H)
        if family == "lstm":
            arrays["c0"] = normal(N, H)
    if family == "lstm" and draw(st.booleans(), label="peephole"):
        arrays["peephole_kernel"] = normal(3, H)
    masking = draw(st.sampled_from(["none", "mask", "lengths"]), label="masking")
    if masking == "mask":
        options["mask"] = np.array(draw(st.lists(st.booleans(), min_size=N * T, max_size=N * T)),
                                   dtype=bool).reshape(N, T)
    elif masking == "lengths":
        options["lengths"] = np.array(draw(st.lists(st.integers(0, T), min_size=N, max_size=N)), dtype=np.int64)
    if dropout and draw(st.booleans(), label="recurrent dropout"):
        options["recurrent_dropout_mask"] = (rng.random((N, H)) < 0.7) / 0.7
    return family, arrays, options


@examples
@given(problems())
def test_forward_matches_the_reference(problem):
    family, arrays, options = problem
    got = FORWARD[family](**arrays, **options)
    want = REFERENCE[family](**arrays, **options)

    N, T = arrays["x"].shape[:2]
    H = arrays["recurrent_kernel"].shape[0]
    assert got.output.dtype == np.float64
    assert got.output.shape == ((N, T, H) if options["return_sequences"] else (N, H))
    # 1e-12 absolute; and relative, for the large values of unbounded (linear, relu) cells.
    close = dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.output, want.output, **close)
    np.testing.assert_allclose(got.h, want.h, **close)
    if family == "lstm":
        np.testing.assert_allclose(got.c, want.c, **close)
    else:
        assert got.c is None
    # Gates (and LSTM cell states) where a step was taken; both are in processing order.
    valid = want.valid
    for name, gate in want.gates.items():
        np.testing.assert_allclose(got.gates[name][valid], gate[valid], err_msg=f"gate {name}", **close)
    if family == "lstm":
        np.testing.assert_allclose(got.cell_states[valid], want.cell_states[valid], **close)


def scalar(result, weights):
    return sum(float(np.sum(w * o)) for w, o in zip(weights, result.outputs))


@examples
@given(problems(activations=SMOOTH, gate_activations=SMOOTH_GATES, dropout=True), st.integers(0, 2**32 - 1))
def test_backward_matches_a_directional_derivative(problem, seed):
    """<grad L, V> = dL(theta + t V)/dt at t = 0, for L = sum_k <R_k, output_k> and a random V
    over every float input."""
    family, arrays, options = problem
    forward = FORWARD[family]
    rng = np.random.default_rng(seed)
    result = forward(**arrays, **options)
    weights = [rng.standard_normal(o.shape) for o in result.outputs]
    gradients = result.backward(*weights)
    assert set(gradients) >= set(arrays) and set(gradients) - set(arrays) <= {"h0", "c0"}
    for name, g in gradients.items():
        expected_shape = arrays[name].shape if name in arrays else arrays["x"].shape[:1] + (
            arrays["recurrent_kernel"].shape[0],)
        assert g.shape == expected_shape, name

    direction = {name: rng.standard_normal(a.shape) for name, a in arrays.items()}
    analytic = sum(float(np.sum(gradients[name] * direction[name])) for name in arrays)
    eps = 1e-6

    def along(t):
        return scalar(forward(**{n: a + t * direction[n] for n, a in arrays.items()}, **options), weights)

    numerical = (along(eps) - along(-eps)) / (2 * eps)
    assert analytic == pytest.approx(numerical, rel=1e-6, abs=1e-7)

    # Zero initial states: their gradients are there anyway (the pullback of zeros).
    if "h0" not in arrays:
        assert np.isfinite(gradients["h0"]).all()


@examples
@given(problems(), st.data())
def test_lengths_are_the_mask_they_stand_for(problem, data):
    family, arrays, options = problem
    N, T = arrays["x"].shape[:2]
    options.pop("mask", None)
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=N, max_size=N), label="lengths"))
    by_lengths = FORWARD[family](**arrays, **(options | {"lengths": lengths}))
    by_mask = FORWARD[family](**arrays, **(options | {"lengths": None, "mask": np.arange(T) < lengths[:, None]}))
    for a, b in zip(by_lengths.outputs, by_mask.outputs):
        np.testing.assert_array_equal(a, b)
    # A sample of length 0 keeps its initial state; one of full length is unmasked.
    h0 = arrays.get("h0", np.zeros((N, arrays["recurrent_kernel"].shape[0])))
    np.testing.assert_array_equal(by_lengths.h[lengths == 0], h0[lengths == 0])
