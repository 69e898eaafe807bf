"""Bad input raises a clear ValueError or TypeError naming the argument, and never crashes."""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rnnkit import _core, ops

from cells import CELL_IDS, CELLS

N, T, F, H = 2, 3, 4, 5


def inputs(cell):
    return cell.inputs(np.random.default_rng(0), N, T, F, H)


def raises(exc, pattern, fn, **kwargs):
    with pytest.raises(exc, match=pattern):
        fn(**kwargs)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
class TestRecurrentArguments:
    def test_x_of_wrong_rank(self, cell):
        a = inputs(cell) | {"x": np.zeros((N, F))}
        raises(ValueError, re.escape("'x' must be 3-D (batch, time, features), got shape (2, 4)"), cell.bind(), **a)

    def test_features_do_not_match_kernel(self, cell):
        a = inputs(cell) | {"x": np.zeros((N, T, F + 1))}
        g = cell.gates
        expected = f"'kernel' must have shape (features, {f'{g}*' if g > 1 else ''}units) = ({F + 1}, {g * H}), got ({F}, {g * H})"
        raises(ValueError, re.escape(expected), cell.bind(), **a)

    def test_recurrent_kernel_not_square_in_units(self, cell):
        a = inputs(cell) | {"recurrent_kernel": np.zeros((H, cell.gates * H + 1))}
        raises(ValueError, r"'recurrent_kernel' must have shape \(units, .*units\)", cell.bind(), **a)

    def test_bias_of_wrong_shape(self, cell):
        a = inputs(cell) | {"bias": np.zeros(cell.gates * H + 1)}
        raises(ValueError, r"'bias' must have shape", cell.bind(), **a)

    def test_initial_state_of_wrong_batch(self, cell):
        a = inputs(cell) | {"h0": np.zeros((N + 1, H))}
        raises(ValueError, re.escape(f"'h0' must have shape (batch, units) = ({N}, {H}), got ({N + 1}, {H})"), cell.bind(), **a)

    def test_integer_x(self, cell):
        a = inputs(cell) | {"x": np.zeros((N, T, F), dtype=np.int64)}
        raises(TypeError, "'x' must have dtype float32 or float64, got int64", cell.bind(), **a)

    def test_mixed_float_dtypes(self, cell):
        a = inputs(cell)
        a["kernel"] = a["kernel"].astype(np.float32)
        raises(TypeError, "'kernel' must have dtype float64 like 'x', got float32", cell.bind(), **a)

    def test_float16(self, cell):
        a = {k: v.astype(np.float16) for k, v in inputs(cell).items()}
        raises(TypeError, "got float16", cell.bind(), **a)

    @pytest.mark.parametrize("shape", [(0, T, F), (N, 0, F)], ids=["empty batch", "no time steps"])
    def test_empty(self, cell, shape):
        a = inputs(cell) | {"x": np.zeros(shape)}
        raises(ValueError, "at least one sample, time step and feature", cell.bind(), **a)

    @pytest.mark.parametrize("name", ["x", "kernel", "h0"])
    @pytest.mark.parametrize("value", [np.nan, np.inf])
    def test_non_finite(self, cell, name, value):
        a = inputs(cell)
        a[name] = a[name].copy()
        a[name].flat[1] = value
        raises(ValueError, f"'{name}' contains NaN or infinity", cell.bind(), **a)

    def test_lengths_out_of_range(self, cell):
        raises(ValueError, re.escape(f"'lengths' must lie in [0, time] = [0, {T}], got values from 1 to {T + 1}"),
               cell.bind(lengths=np.array([1, T + 1])), **inputs(cell))
        raises(ValueError, "got values from -1", cell.bind(lengths=np.array([-1, 2])), **inputs(cell))

    def test_lengths_of_wrong_shape_or_dtype(self, cell):
        raises(ValueError, re.escape("'lengths' must have shape (batch,) = (2,), got (3,)"),
               cell.bind(lengths=np.array([1, 2, 3])), **inputs(cell))
        raises(TypeError, "'lengths' must hold integers, got dtype float64",
               cell.bind(lengths=np.array([1.0, 2.0])), **inputs(cell))

    def test_mask_and_lengths_together(self, cell):
        raises(ValueError, "either 'mask' or 'lengths'",
               cell.bind(lengths=np.array([1, 2]), mask=np.ones((N, T), bool)), **inputs(cell))

    def test_mask_of_wrong_shape_or_dtype(self, cell):
        raises(ValueError, re.escape(f"'mask' must have shape (batch, time) = ({N}, {T}), got ({T}, {N})"),
               cell.bind(mask=np.ones((T, N), bool)), **inputs(cell))
        raises(TypeError, "'mask' must have dtype bool or uint8, got float64",
               cell.bind(mask=np.ones((N, T))), **inputs(cell))

    def test_unknown_activation_lists_the_valid_ones(self, cell):
        raises(ValueError, "unknown activation 'swish'; expected one of 'linear', 'tanh', 'sigmoid'",
               cell.bind(activation="swish"), **inputs(cell))

    def test_softmax_is_not_a_cell_activation(self, cell):
        raises(ValueError, "'softmax' is not supported by recurrent cells", cell.bind(activation="softmax"), **inputs(cell))

    def test_output_gradient_of_wrong_shape(self, cell):
        result = cell.bind()(**inputs(cell))
        with pytest.raises(ValueError, match=re.escape(f"'dy' must have shape (batch, time, units) = ({N}, {T}, {H})")):
            result.backward(np.zeros((N, T + 1, H)))
        with pytest.raises(ValueError, match="'dh' must have shape"):
            result.backward(dh=np.zeros((N, H + 1)))

    def test_not_an_array(self, cell):
        raises(TypeError, "'x' must have dtype float32 or float64", cell.bind(), **(inputs(cell) | {"x": "text"}))


def test_gru_bias_shape_follows_reset_after():
    cell = next(c for c in CELLS if c.name == "gru_reset_after")
    a = inputs(cell) | {"bias": np.zeros(3 * H)}
    raises(ValueError, re.escape(f"'bias' must have shape (2, 3*units) = (2, {3 * H}), got ({3 * H},)"), cell.bind(), **a)
    a = inputs(cell)
    raises(ValueError, re.escape(f"'bias' must have shape (3*units,) = ({3 * H},), got (2, {3 * H})"),
           cell.bind(reset_after=False), **a)


def test_cell_state_gradient_for_a_cell_without_one():
    cell = next(c for c in CELLS if c.name == "gru_reset_after")
    with pytest.raises(ValueError, match="has no cell state"):
        cell.bind()(**inputs(cell)).backward(dc=np.zeros((N, H)))


def test_tampered_cache_is_rejected():
    cell = next(c for c in CELLS if c.name == "lstm")
    a = inputs(cell)
    y, h, c, cache = _core.lstm_forward(a["x"], a["kernel"], a["recurrent_kernel"], a["bias"])
    args = (a["x"], a["kernel"], a["recurrent_kernel"], a["bias"], None, None, None)
    with pytest.raises(ValueError, match="'cache' has no field 'cell'"):
        _core.lstm_backward(*args, {k: v for k, v in cache.items() if k != "cell"})
    with pytest.raises(ValueError, match=re.escape(f"'gates' must have shape (batch, time, 4*units) = ({N}, {T}, {4 * H})")):
        _core.lstm_backward(*args, cache | {"gates": cache["gates"][:, :1]})
    with pytest.raises(TypeError, match="'cache' must be the dict returned by the forward call"):
        _core.lstm_backward(*args, [1, 2])


def test_dense_arguments():
    x, w = np.zeros((3, 4)), np.zeros((4, 2))
    raises(ValueError, re.escape("'x' must be at least 2-D (batch, ..., features), got shape (4,)"), ops.dense_forward,
           x=np.zeros(4), kernel=w)
    raises(ValueError, re.escape("'kernel' must have shape (features, units) with features = 5"), ops.dense_forward,
           x=np.zeros((3, 5)), kernel=w)
    raises(ValueError, re.escape("'bias' must have shape (units,) = (2,), got (3,)"), ops.dense_forward,
           x=x, kernel=w, bias=np.zeros(3))
    raises(ValueError, "'x' must not be empty", ops.dense_forward, x=np.zeros((0, 4)), kernel=w)
    raises(ValueError, "unknown activation 'gelu'", ops.dense_forward, x=x, kernel=w, activation="gelu")
    result = ops.dense_forward(x, w)
    with pytest.raises(ValueError, match=re.escape("'dy' must have shape (batch, ..., units) = (3, 2)")):
        result.backward(np.zeros((3, 3)))


def test_step_needs_two_dimensional_x():
    with pytest.raises(ValueError, match=re.escape("'x' must be 2-D (batch, features) for one step")):
        ops.lstm_step(np.zeros((N, T, F)), np.zeros((N, H)), np.zeros((N, H)),
                      np.zeros((F, 4 * H)), np.zeros((H, 4 * H)))


def test_random_malformed_calls_never_crash_the_process():
    """Thousands of calls with random shapes, dtypes and None straight into the binding: each
    must end in a Python exception or a result, in a child process that exits normally."""
    script = textwrap.dedent("""
        import itertools, numpy as np
        from rnnkit import _core
        rng = np.random.default_rng(0)
        def arg():
            kind = rng.integers(0, 6)
            if kind == 0: return None
            if kind == 1: return "junk"
            dims = tuple(int(d) for d in rng.integers(0, 4, size=rng.integers(0, 4)))
            dtype = [np.float32, np.float64, np.int32, np.bool_][rng.integers(0, 4)]
            a = np.ones(dims, dtype=dtype)
            return a[..., ::2] if kind == 5 and a.ndim else a
        functions = [f for f in dir(_core) if f.endswith(("forward", "backward"))]
        outcomes = {"ok": 0, "error": 0}
        for k in range(4000):
            fn = getattr(_core, functions[k % len(functions)])
            try:
                fn(*(arg() for _ in range(6)))
                outcomes["ok"] += 1
            except (ValueError, TypeError):
                outcomes["error"] += 1
        print(outcomes)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "error" in run.stdout
