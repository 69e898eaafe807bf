"""Every gradient of every cell against central finite differences in float64.

Tolerance, as the core issue asks: 1e-7 relative with a 1e-10 absolute floor, reached with
the 5-point stencil. Cells with kinks (relu, hard_sigmoid) take a step of 1e-5 instead of
1e-3, so that no perturbation crosses a kink, under the same tolerance.
"""

import zlib

import numpy as np
import pytest

import rnnkit
from rnnkit import ops

from cells import CELL_IDS, CELLS, mask_options

SMOOTH = dict(order=4, eps=1e-3, rtol=1e-7, atol=1e-10)
KINKED = dict(order=4, eps=1e-5, rtol=1e-7, atol=1e-10)


def check(cell, inputs, **options):
    tolerance = SMOOTH if cell.smooth else KINKED
    report = rnnkit.gradcheck(cell.bind(**options), inputs, **tolerance)
    assert report.passed
    return report


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_mode", ["none", "lengths", "holes"])
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_every_gradient_matches_finite_differences(cell, mask_mode, go_backwards, return_sequences):
    rng = np.random.default_rng(zlib.crc32(f"{cell.name}-{mask_mode}".encode()))
    N, T, F, H = 3, 5, 4, 3
    inputs = cell.inputs(rng, N, T, F, H)
    report = check(cell, inputs, go_backwards=go_backwards, return_sequences=return_sequences,
                   **mask_options(mask_mode, N, T, rng))
    assert {c.name for c in report.checks} == set(inputs)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_gradients_without_bias(cell):
    rng = np.random.default_rng(1)
    inputs = cell.inputs(rng, 2, 3, 2, 3)
    del inputs["bias"]
    check(cell, inputs)
    assert "bias" not in cell.bind()(**inputs).backward(dh=np.ones((2, 3)))


@pytest.mark.parametrize("shape", [(1, 1, 3, 2), (1, 4, 2, 3), (4, 1, 2, 3)], ids=["1x1", "batch1", "time1"])
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_gradients_at_edge_sizes(cell, shape):
    N, T, F, H = shape
    check(cell, cell.inputs(np.random.default_rng(2), N, T, F, H))


@pytest.mark.parametrize("cell", [c for c in CELLS if c.smooth], ids=[c.name for c in CELLS if c.smooth])
def test_gradients_at_a_wide_size_along_random_directions(cell):
    """13 samples, 70 units: past the packed recurrent product's panels, register tiles and
    depth blocks (the backward product runs over 4 * 70 = 280 gate columns), where checking
    every coordinate would take minutes. For random directions v of all inputs at once, the
    gradient's projection <g, v> matches the 5-point difference quotient of the loss."""
    rng = np.random.default_rng(4)
    inputs = cell.inputs(rng, 13, 4, 5, 70, scale=0.2)
    forward = cell.bind(lengths=np.arange(13) % 5, return_sequences=True)
    weight = rng.standard_normal(forward(**inputs).output.shape)

    def loss(values):
        return float(np.sum(forward(**values).output * weight))

    grads = forward(**inputs).backward(weight)
    eps = 1e-3
    for _ in range(3):
        direction = {name: rng.standard_normal(value.shape) for name, value in inputs.items()}
        norm = np.sqrt(sum(float(np.sum(v * v)) for v in direction.values()))
        direction = {name: v / norm for name, v in direction.items()}  # a unit step in all inputs
        along = lambda t, direction=direction: loss({n: inputs[n] + t * direction[n] for n in inputs})  # noqa: E731
        quotient = (8 * (along(eps) - along(-eps)) - (along(2 * eps) - along(-2 * eps))) / (12 * eps)
        projected = sum(float(np.sum(grads[name] * direction[name])) for name in inputs)
        assert projected == pytest.approx(quotient, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("cell", [c for c in CELLS if c.smooth], ids=[c.name for c in CELLS if c.smooth])
def test_gradients_through_a_long_sequence(cell):
    """T=300: gradients that vanish through time still match (the absolute floor is 1e-10)."""
    rng = np.random.default_rng(3)
    inputs = cell.inputs(rng, 1, 300, 1, 2)
    check(cell, inputs, lengths=np.array([280]))


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "hard_sigmoid", "softmax"])
def test_dense_gradients(activation, ndim):
    rng = np.random.default_rng(4)
    shape = (3, 4, 5) if ndim == 3 else (3, 5)
    inputs = {"x": rng.standard_normal(shape), "kernel": rng.standard_normal((5, 4)) * 0.5,
              "bias": rng.standard_normal(4) * 0.5}
    smooth = activation not in ("relu", "hard_sigmoid")
    tolerance = SMOOTH if smooth else KINKED

    def dense(**a):
        return ops.dense_forward(**a, activation=activation)

    assert rnnkit.gradcheck(dense, inputs, **tolerance).passed


def test_worst_gradient_error_per_cell(capsys):
    """Prints the worst absolute error of each cell (read into the issue's note)."""
    rng = np.random.default_rng(5)
    lines = []
    for cell in CELLS:
        inputs = cell.inputs(rng, 3, 6, 4, 3)
        report = check(cell, inputs, lengths=np.array([6, 2, 4]))
        worst = max(report.checks, key=lambda c: c.max_abs_error)
        lines.append(f"{cell.name:<20} worst abs {worst.max_abs_error:.1e} ({worst.name}), "
                     f"worst rel {max(c.max_rel_error for c in report.checks):.1e}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
