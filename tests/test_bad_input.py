"""Bad input raises a clear ValueError or TypeError naming the argument, and never crashes."""

import json
import re
import subprocess
import sys
from pathlib import Path

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
        expected = (f"'kernel' must have shape (features, {f'{g}*' if g > 1 else ''}units) = ({F + 1}, {g * H}), "
                    f"got ({F}, {g * H})")
        raises(ValueError, re.escape(expected), cell.bind(), **a)

    def test_recurrent_kernel_not_square_in_units(self, cell):
        a = inputs(cell) | {"recurrent_kernel": np.zeros((H, cell.gates * H + 1))}
        raises(ValueError, r"'recurrent_kernel' must have shape \(units, .*units\)", cell.bind(), **a)

    def test_bias_of_wrong_shape(self, cell):
        a = inputs(cell) | {"bias": np.zeros(cell.gates * H + 1)}
        raises(ValueError, r"'bias' must have shape", cell.bind(), **a)

    def test_initial_state_of_wrong_batch(self, cell):
        a = inputs(cell) | {"h0": np.zeros((N + 1, H))}
        raises(ValueError, re.escape(f"'h0' must have shape (batch, units) = ({N}, {H}), got ({N + 1}, {H})"),
               cell.bind(), **a)

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
        raises(ValueError, "'softmax' is not supported by recurrent cells", cell.bind(activation="softmax"),
               **inputs(cell))

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
    raises(ValueError, re.escape(f"'bias' must have shape (2, 3*units) = (2, {3 * H}), got ({3 * H},)"),
           cell.bind(), **a)
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
    *_, cache = _core.lstm_forward(a["x"], a["kernel"], a["recurrent_kernel"], a["bias"])
    args = (a["x"], a["kernel"], a["recurrent_kernel"], a["bias"], None, None, None)
    with pytest.raises(ValueError, match="'cache' has no field 'cell'"):
        _core.lstm_backward(*args, {k: v for k, v in cache.items() if k != "cell"})
    expected = f"'gates' must have shape (batch, time, 4*units) = ({N}, {T}, {4 * H})"
    with pytest.raises(ValueError, match=re.escape(expected)):
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
    raises(ValueError, "unknown activation 'mish'", ops.dense_forward, x=x, kernel=w, activation="mish")
    result = ops.dense_forward(x, w)
    with pytest.raises(ValueError, match=re.escape("'dy' must have shape (batch, ..., units) = (3, 2)")):
        result.backward(np.zeros((3, 3)))


def test_step_needs_two_dimensional_x():
    with pytest.raises(ValueError, match=re.escape("'x' must be 2-D (batch, features) for one step")):
        ops.lstm_step(np.zeros((N, T, F)), np.zeros((N, H)), np.zeros((N, H)),
                      np.zeros((F, 4 * H)), np.zeros((H, 4 * H)))


FUZZ = Path(__file__).with_name("fuzz_core.py")
@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_read_only_cache_is_accepted_by_the_backward_functions(cell):
    """The cache is only read by the backward pass (it is unchanged after it), so a read-only
    copy (np.load(mmap_mode="r"), a frozen array) must give the same gradients."""
    spec = next(c for c in CELLS if c.name.startswith(cell))
    result = spec.bind()(**inputs(spec))
    dy = np.random.default_rng(1).standard_normal(result.output.shape)
    expected = result.backward(dy)
    for array in result.cache.values():
        array.flags.writeable = False
    got = result.backward(dy)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


def test_fuzz_reads_the_real_arity_of_every_function():
    sys.path.insert(0, str(FUZZ.parent))
    try:
        import fuzz_core
    finally:
        sys.path.remove(str(FUZZ.parent))
    table = fuzz_core.functions()
    assert {f for f in table if f.endswith(("forward", "backward"))} >= {
        f"{cell}_{direction}" for cell in ("simple_rnn", "lstm", "gru", "dense")
        for direction in ("forward", "backward")}
    arity = {name: (sum(r for _, _, r in params), len(params)) for name, (_, params) in table.items()}
    assert arity["lstm_backward"] == (8, 15)
    assert arity["gru_backward"] == (7, 14)
    assert arity["simple_rnn_backward"] == (7, 12)
    assert arity["dense_backward"] == (5, 6)
    assert arity["lstm_forward"] == (3, 14)
    names = [name for name, _, _ in table["lstm_backward"][1]]
    assert names[:8] == ["x", "kernel", "recurrent_kernel", "bias", "peephole_kernel", "mask",
                         "recurrent_dropout_mask", "cache"]


def test_random_malformed_calls_never_crash_the_process(tmp_path):
    """Thousands of calls straight into the binding, each with its function's real number of
    arguments: mostly valid calls (real caches for the backward functions) with one or two
    arguments spoiled (shape, rank, dtype, NaN, layout, type, a cache missing a field or
    from another call), some wholly random. Each must return or raise ValueError, TypeError
    or MemoryError, in a child process that exits normally (tests/fuzz_core.py)."""
    log = tmp_path / "calls.log"
    run = subprocess.run([sys.executable, str(FUZZ), "--seed", "0", "--calls", "5000", "--log", str(log)],
                         capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        lines = log.read_text().splitlines() if log.exists() else []
        last = lines[-1] if lines else "(no call logged)"
        raise AssertionError(f"the fuzzing process exited with {run.returncode} during call\n{last}\n"
                             f"(reproduce: python {FUZZ} --seed 0 --calls {len(lines)})\n{run.stderr[-5000:]}")
    summary = json.loads(run.stdout)
    assert summary["unexpected_count"] == 0, json.dumps(summary["unexpected"], indent=1)
    for name, outcome in summary["functions"].items():
        # The argument checks themselves were reached, with many different complaints ...
        assert outcome["checked"] > 100, (name, outcome)
        assert outcome["distinct_checks"] >= (1 if name == "set_num_threads" else 30), (name, outcome)
        # ... and every message names the function and an argument.
        for message in outcome["messages"]:
            assert message.startswith(f"{name}: "), (name, message)
        # Valid calls went through, and pybind's own dispatch errors (a str or bool argument
        # of the wrong type) are the exception, not the rule.
        assert outcome["ok"] > 0, (name, outcome)
        if name != "set_num_threads":  # its one int argument is mostly given non-ints
            assert outcome["arity"] < outcome["checked"] / 2, (name, outcome)
    assert {f for f in summary["functions"] if f.endswith("backward")} == {
        "simple_rnn_backward", "lstm_backward", "gru_backward", "dense_backward"}


def test_unpickled_and_byte_swapped_arrays():
    """An array that went through pickle (a process pool, Dask, Ray) carries its own copy of its
    dtype: the core takes it as float32. A big-endian array is refused, saying so."""
    import pickle

    import rnnkit

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype("float32") for shape in ((2, 3, 4), (4, 12), (4, 12), (2, 12))]
    unpickled = pickle.loads(pickle.dumps(arrays))
    assert unpickled[0].dtype is not np.dtype("float32")
    np.testing.assert_array_equal(ops.gru_forward(*unpickled).outputs[0], ops.gru_forward(*arrays).outputs[0])
    model = rnnkit.Sequential([rnnkit.layers.GRU(4, input_shape=(3, 4)), rnnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(unpickled[0], pickle.loads(pickle.dumps(np.zeros((2, 1), "float32"))), epochs=1, verbose=0)
    with pytest.raises(TypeError, match=r"'x' must have dtype float32 or float64, got >f4"):
        ops.gru_forward(arrays[0].astype(">f4"), *arrays[1:])
