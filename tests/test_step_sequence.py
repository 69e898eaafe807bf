"""One step at a time equals the whole sequence, forward and backward (BPTT by hand)."""

import numpy as np
import pytest

from rnnkit import ops

from cells import CELL_IDS, CELLS

STEPS = {ops.simple_rnn_forward: ops.simple_rnn_step, ops.lstm_forward: ops.lstm_step,
         ops.gru_forward: ops.gru_step}
WEIGHTS = ("kernel", "recurrent_kernel", "bias", "peephole_kernel")


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_steps_equal_the_sequence(cell, go_backwards):
    rng = np.random.default_rng(11)
    N, T, F, H = 3, 6, 4, 5
    a = cell.inputs(rng, N, T, F, H)
    weights = {k: a[k] for k in WEIGHTS if k in a}
    step = STEPS[cell.forward]
    step_options = dict(cell.options)
    sequence = cell.bind(go_backwards=go_backwards)(**a)
    dy = rng.standard_normal(sequence.output.shape)
    dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    grads = sequence.backward(dy, dh, dc if cell.has_cell_state else None)

    # Forward, one step at a time, in processing order.
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    state = {"h_prev": a["h0"]} | ({"c_prev": a["c0"]} if cell.has_cell_state else {})
    results = []
    for s, t in enumerate(order):
        r = step(a["x"][:, t], **state, **weights, **step_options)
        np.testing.assert_allclose(r.h, sequence.output[:, s], rtol=1e-13, atol=1e-14)
        for name, gate in r.gates.items():
            np.testing.assert_allclose(gate, sequence.gates[name][:, s], rtol=1e-13, atol=1e-14)
        state = {"h_prev": r.h} | ({"c_prev": r.c} if cell.has_cell_state else {})
        results.append((t, r))
    np.testing.assert_allclose(results[-1][1].h, sequence.h, rtol=1e-13, atol=1e-14)

    # Backward through time by hand: the state gradients flow from step to step.
    carry_h, carry_c = dh, dc
    total = {k: np.zeros_like(v) for k, v in weights.items()}
    dx = np.zeros_like(a["x"])
    for s in range(T - 1, -1, -1):
        t, r = results[s]
        g = r.backward(carry_h + dy[:, s], carry_c if cell.has_cell_state else None)
        dx[:, t] = g["x"]
        for k in total:
            total[k] += g[k]
        carry_h, carry_c = g["h_prev"], g.get("c_prev")
    np.testing.assert_allclose(dx, grads["x"], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(carry_h, grads["h0"], rtol=1e-12, atol=1e-13)
    if cell.has_cell_state:
        np.testing.assert_allclose(carry_c, grads["c0"], rtol=1e-12, atol=1e-13)
    for k, v in total.items():
        np.testing.assert_allclose(v, grads[k], rtol=1e-12, atol=1e-13, err_msg=k)
