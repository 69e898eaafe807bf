"""Recurrent dropout in the kernels: each step reads h_{t-1} * m (Keras), padded steps carry
the undropped state, and every gradient still matches finite differences."""

import numpy as np
import pytest

import rnnkit

from cells import CELL_IDS, CELLS
from test_gradients import KINKED, SMOOTH
from test_step_sequence import STEPS, WEIGHTS


def dropout_mask(rng, N, H, rate=0.4):
    return (rng.random((N, H)) >= rate) / (1 - rate)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_each_step_reads_the_dropped_state(cell):
    rng = np.random.default_rng(21)
    N, T, F, H = 3, 5, 4, 3
    a = cell.inputs(rng, N, T, F, H)
    m = dropout_mask(rng, N, H)
    lengths = np.array([5, 3, 0])
    sequence = cell.bind(recurrent_dropout_mask=m, lengths=lengths)(**a)
    weights = {k: a[k] for k in WEIGHTS if k in a}
    h, c = a["h0"], a.get("c0")
    for t in range(T):
        state = {"h_prev": h * m} | ({"c_prev": c} if cell.has_cell_state else {})
        step = STEPS[cell.forward](a["x"][:, t], **state, **weights, **cell.options)
        valid = (t < lengths)[:, None]
        h = np.where(valid, step.h, h)  # padded steps carry the undropped state
        if cell.has_cell_state:
            c = np.where(valid, step.c, c)
        np.testing.assert_allclose(sequence.output[:, t], h, rtol=1e-13, atol=1e-14)
    if cell.has_cell_state:
        np.testing.assert_allclose(sequence.c, c, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_gradients_under_recurrent_dropout(cell, go_backwards):
    rng = np.random.default_rng(22)
    N, T, F, H = 3, 5, 4, 3
    inputs = cell.inputs(rng, N, T, F, H)
    fn = cell.bind(recurrent_dropout_mask=dropout_mask(rng, N, H), lengths=np.array([5, 2, 4]),
                   go_backwards=go_backwards)
    assert rnnkit.gradcheck(fn, inputs, **(SMOOTH if cell.smooth else KINKED)).passed


def test_mask_of_ones_changes_nothing():
    cell = CELLS[4]
    a = cell.inputs(np.random.default_rng(23), 2, 4, 3, 5)
    plain = cell.bind()(**a)
    ones = cell.bind(recurrent_dropout_mask=np.ones((2, 5)))(**a)
    np.testing.assert_allclose(plain.output, ones.output, rtol=1e-14, atol=1e-15)


def test_mask_shape_and_dtype_are_checked():
    cell = CELLS[4]
    a = cell.inputs(np.random.default_rng(24), 2, 4, 3, 5)
    with pytest.raises(ValueError, match=r"'recurrent_dropout_mask' must have shape \(batch, units\) = \(2, 5\)"):
        cell.bind(recurrent_dropout_mask=np.ones((2, 4)))(**a)
    with pytest.raises(TypeError, match="'recurrent_dropout_mask' must have dtype float64"):
        cell.bind(recurrent_dropout_mask=np.ones((2, 5), np.float32))(**a)
    with pytest.raises(ValueError, match="'recurrent_dropout_mask' contains NaN"):
        cell.bind(recurrent_dropout_mask=np.full((2, 5), np.nan))(**a)
