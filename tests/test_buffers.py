"""The arrays the core allocates (outputs, caches, gradients, and its own scratch arrays):
every one starts on a 64-byte boundary, and those of 128 KiB and more are kept for reuse
when freed. These sizes put the caches and the backward pass's dgates past 2 MiB; the results
must be those of the reference equations and a directional finite difference, on fresh and
on reused buffers alike."""

import numpy as np
import pytest

import reference
from cells import CELLS

LARGE = {"simple_rnn_tanh": 160, "lstm": 64, "gru_reset_after": 64, "gru_reset_before": 64}
N, T, F = 64, 48, 8


@pytest.mark.parametrize("cell", [c for c in CELLS if c.name in LARGE], ids=lambda c: c.name)
def test_results_in_large_buffers(cell):
    H = LARGE[cell.name]
    rng = np.random.default_rng(11)
    inputs = cell.inputs(rng, N, T, F, H, scale=0.1)
    forward = cell.bind(return_sequences=True)
    result = forward(**inputs)
    expected = getattr(reference, cell.forward.__name__)(**inputs, **cell.options, return_sequences=True)
    np.testing.assert_allclose(result.output, expected.output, rtol=1e-12, atol=1e-12)

    dout = rng.standard_normal(result.output.shape)
    grads = result.backward(doutput=dout)
    made = [result.output, result.h, *result.cache.values(), *grads.values()]
    assert any(a.nbytes >= 1 << 21 for a in result.cache.values())
    for array in made:
        assert array.ctypes.data % 64 == 0

    # <dL/dW, V> against (L(W + eV) - L(W - eV)) / 2e, L = sum(output * dout), for W the
    # kernel and the recurrent kernel (their gradients come from dgates, N*T rows).
    def loss(name, step):
        shifted = dict(inputs, **{name: inputs[name] + step})
        return float(np.sum(forward(**shifted).output * dout))

    for name in ("kernel", "recurrent_kernel"):
        direction = rng.standard_normal(inputs[name].shape)
        eps = 1e-6
        numeric = (loss(name, eps * direction) - loss(name, -eps * direction)) / (2 * eps)
        analytic = float(np.sum(grads[name] * direction))
        assert analytic == pytest.approx(numeric, rel=1e-7), name


@pytest.mark.parametrize("cell", [c for c in CELLS if c.name in LARGE], ids=lambda c: c.name)
def test_freed_buffers_are_reused_and_fully_rewritten(cell):
    """A freed buffer of 128 KiB and more is handed to the next request of its size, not given
    back to the system; what the last call left in it must not show through (masked steps,
    zeroed outputs and all)."""
    from cells import mask_options

    H = LARGE[cell.name]
    rng = np.random.default_rng(12)
    forward = cell.bind(return_sequences=True, go_backwards=True)
    first = forward(**cell.inputs(rng, N, T, F, H, scale=2.0))
    first.backward(doutput=np.ones_like(first.output))
    addresses = {a.ctypes.data for a in (first.output, *first.cache.values())}
    del first
    inputs = cell.inputs(rng, N, T, F, H, scale=0.1)
    options = mask_options("holes", N, T, rng)
    second = forward(**inputs, **options)
    assert {a.ctypes.data for a in (second.output, *second.cache.values())} & addresses
    expected = getattr(reference, cell.forward.__name__)(**inputs, **cell.options, **options,
                                                          return_sequences=True, go_backwards=True)
    np.testing.assert_allclose(second.output, expected.output, rtol=1e-12, atol=1e-12)
