"""The built-in optimizers' rules run in the C++ core, one call per step for every variable:
the call's own checks, bit-for-bit reproducibility whatever the arrays' alignment, mixed
dtypes, and user subclasses that keep their own Python rule. The rules themselves are checked
against their published formulas in test_optimizers.py."""

import re

import numpy as np
import pytest

from rnnkit import _core
from rnnkit.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from rnnkit.variables import Variable

MAKERS = {
    "sgd": lambda: SGD(0.1),
    "sgd_nesterov": lambda: SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(0.01),
    "adamw_amsgrad": lambda: AdamW(0.01, amsgrad=True),
    "rmsprop_centered_momentum": lambda: RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: Adagrad(0.1),
}


def _offset_copy(array, offset):
    """A C-contiguous copy of ``array`` whose data starts ``offset`` bytes past a 64-byte boundary."""
    raw = np.empty(array.nbytes + 128, dtype=np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    view = raw[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    view[...] = array
    assert view.flags.c_contiguous and view.ctypes.data % 64 == offset
    return view


@pytest.mark.parametrize("case", sorted(MAKERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_update_is_bit_identical_whatever_the_alignment(case, dtype):
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(37, 53)).astype(dtype)  # not a multiple of any vector width
    grads = [rng.normal(size=w0.shape).astype(dtype) for _ in range(3)]
    results = []
    for aligned in (True, False):
        variable = Variable(w0, "kernel", "dense/kernel")
        if not aligned:  # one element past a SIMD boundary: a vector loop peels a scalar head here
            variable.value = _offset_copy(variable.value, variable.value.itemsize)
        optimizer = MAKERS[case]()
        for g in grads:
            optimizer.apply([g], [variable])
        results.append(variable.value.copy())
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("case", sorted(MAKERS))
def test_an_update_split_across_threads_is_bit_identical(case):
    """At two and three threads the core splits the variables' elements, laid end to end,
    into shares that begin and end inside variables (the sizes add up to a few 2^15-element
    grains); every element must still get the one-thread result."""
    import rnnkit

    rng = np.random.default_rng(5)
    shapes = [(150, 200), (7,), (301, 97), (25_013,)]
    start = [rng.normal(size=shape) for shape in shapes]
    grads = [[rng.normal(size=shape) for shape in shapes] for _ in range(3)]
    before = rnnkit.config.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            rnnkit.config.set_num_threads(threads)
            variables = [Variable(w, f"w{k}", f"layer/w{k}") for k, w in enumerate(start)]
            optimizer = MAKERS[case]()
            for step in grads:
                optimizer.apply(step, variables)
            results.append([v.value.copy() for v in variables])
    finally:
        rnnkit.config.set_num_threads(before)
    for split in results[1:]:
        for got, expected in zip(split, results[0]):
            np.testing.assert_array_equal(got, expected)


def test_variables_of_two_dtypes_are_updated_in_one_step():
    a = Variable(np.ones((2, 3), np.float32), "kernel", "a/kernel")
    b = Variable(np.ones((4,), np.float64), "bias", "b/bias")
    optimizer = Adam(0.1)
    optimizer.apply([np.full((2, 3), 0.5), np.full((4,), -0.5)], [a, b])
    assert a.value.dtype == np.float32 and b.value.dtype == np.float64
    np.testing.assert_allclose(a.value, 1 - 0.1, rtol=1e-5)  # Adam's first step is about lr * sign(g)
    np.testing.assert_allclose(b.value, 1 + 0.1, rtol=1e-5)


def test_update_step_is_the_rule_without_weight_decay():
    rng = np.random.default_rng(0)
    w0, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    by_step, by_apply = Variable(w0, "kernel", "d/kernel"), Variable(w0, "kernel", "d/kernel")
    stepped, applied = AdamW(0.01, weight_decay=0.5), Adam(0.01)
    stepped.build([by_step])
    stepped.update_step(g, by_step, 0.01)
    applied.apply([g], [by_apply])
    np.testing.assert_array_equal(by_step.value, by_apply.value)


class _SignSGD(SGD):
    """A user optimizer with its own rule: w -= lr * sign(g)."""

    def update_step(self, gradient, variable, learning_rate):
        variable.value -= learning_rate * np.sign(gradient)


def test_a_subclass_with_its_own_update_step_runs_it():
    variable = Variable(np.zeros(3), "bias", "d/bias")
    optimizer = _SignSGD(0.5, weight_decay=None)
    optimizer.apply([np.array([2.0, -3.0, 0.0])], [variable])
    np.testing.assert_array_equal(variable.value, [-0.5, 0.5, 0.0])


def _adam_call(values, gradients, slots, **settings):
    step = _core.OptimizerStep(learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **settings)
    _core.optimizer_update("adam", values, gradients, slots, [False] * len(values), step)


def test_the_core_call_checks_its_arrays():
    w, g, m, v = (np.zeros(4) for _ in range(4))
    with pytest.raises(ValueError, match=re.escape("optimizer_update: 'rule' must be one of 'sgd', 'adam'")):
        _core.optimizer_update("adabelief", [w], [g], [[m, v, None]], [False], _core.OptimizerStep(learning_rate=0.1))
    with pytest.raises(ValueError, match=re.escape("one entry per variable, got 1, 2, 1 and 1")):
        _adam_call([w], [g, g], [[m, v, None]])
    with pytest.raises(ValueError, match=re.escape("'slots[0][1]' must be an array for rule 'adam'")):
        _adam_call([w], [g], [[m, None, None]])
    with pytest.raises(ValueError, match=re.escape("'slots[0][2]' must be None for rule 'adam'")):
        _adam_call([w], [g], [[m, v, np.zeros(4)]])
    with pytest.raises(ValueError, match=re.escape("'slots[0][2]' must be an array for rule 'adam'")):
        _adam_call([w], [g], [[m, v, None]], amsgrad=True)
    with pytest.raises(ValueError, match=re.escape("'values[0]' must be a writeable, aligned, C-contiguous array")):
        _adam_call([np.zeros((4, 2))[:, 0]], [g], [[m, v, None]])
    with pytest.raises(ValueError, match=re.escape("'values[0]' must be a writeable, aligned, C-contiguous array")):
        _adam_call([_offset_copy(np.zeros(4), 4)], [g], [[m, v, None]])  # float64 4 bytes off
    frozen = np.zeros(4)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=re.escape("'slots[0][0]' must be a writeable, aligned, C-contiguous array")):
        _adam_call([w], [g], [[frozen, v, None]])
    with pytest.raises(TypeError, match=re.escape("'slots[0][1]' must have dtype float64 and shape (4,), got "
                                                  "float32 (4,)")):
        _adam_call([w], [g], [[m, np.zeros(4, np.float32), None]])
    with pytest.raises(ValueError, match=re.escape("'gradients[0]' must have shape")):
        _adam_call([w], [np.zeros(5)], [[m, v, None]])
    with pytest.raises(ValueError, match=re.escape("the arrays of variable [0] must not overlap")):
        _adam_call([w], [g], [[m, m, None]])
    with pytest.raises(TypeError, match=re.escape("'values[0]' must have dtype float32 or float64, got int64")):
        _adam_call([np.zeros(4, np.int64)], [g], [[m, v, None]])
    np.testing.assert_array_equal(w, 0)  # nothing was updated by a refused call


def test_a_misaligned_gradient_is_read_from_an_aligned_copy():
    w, m, v = np.zeros(4), np.zeros(4), np.zeros(4)
    _adam_call([w], [_offset_copy(np.array([1.0, -2.0, 3.0, -4.0]), 4)], [[m, v, None]])
    np.testing.assert_allclose(w, [-0.1, 0.1, -0.1, 0.1], rtol=1e-5)


def test_a_non_contiguous_gradient_is_read_as_given():
    w, m, v = np.zeros(4), np.zeros(4), np.zeros(4)
    g = np.arange(8.0)[::2]
    _adam_call([w], [g], [[m, v, None]])
    np.testing.assert_allclose(w[1:], -0.1, rtol=1e-5)  # about lr * sign(g) on the first step
    assert w[0] == 0
