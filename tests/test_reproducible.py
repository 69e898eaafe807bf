"""Bit-identical results for identical inputs, wherever NumPy happened to place them."""

import numpy as np
import pytest

from rnnkit import ops

from cells import CELL_IDS, CELLS


def placed_at(array, offset_bytes):
    """A copy of `array` whose data starts `offset_bytes` past a 64-byte boundary."""
    buffer = np.empty(array.nbytes + 128, np.uint8)
    start = (-buffer.ctypes.data) % 64 + offset_bytes
    copy = buffer[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    copy[...] = array
    return copy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_results_do_not_depend_on_where_the_inputs_sit(cell, dtype):
    rng = np.random.default_rng(0)
    inputs = {k: v.astype(dtype) for k, v in cell.inputs(rng, 8, 6, 5, 7).items()}
    dy = rng.standard_normal((8, 6, 7)).astype(dtype)
    runs = []
    for offset in (0, 8, 16, 24, 32, 48):
        placed = {k: placed_at(v, offset) for k, v in inputs.items()}
        result = cell.bind(lengths=np.array([6, 3, 0, 6, 1, 2, 5, 4]))(**placed)
        runs.append((result.outputs, result.backward(placed_at(dy, offset))))
    outputs, grads = runs[0]
    for other_outputs, other_grads in runs[1:]:
        for a, b in zip(outputs, other_outputs):
            np.testing.assert_array_equal(a, b)
        for name in grads:
            np.testing.assert_array_equal(grads[name], other_grads[name], err_msg=name)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "tanh"])
def test_dense_results_do_not_depend_on_placement(activation):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((9, 7, 5)), rng.standard_normal((5, 11)), rng.standard_normal(11)
    first = ops.dense_forward(x, w, b, activation=activation)
    for offset in (8, 24, 40):
        other = ops.dense_forward(placed_at(x, offset), placed_at(w, offset), placed_at(b, offset),
                                  activation=activation)
        np.testing.assert_array_equal(first.output, other.output)
        grads, other_grads = first.backward(np.ones_like(first.output)), other.backward(np.ones_like(first.output))
        for name in grads:
            np.testing.assert_array_equal(grads[name], other_grads[name])
