"""The core's threads: results do not depend on how the work is split.

The other tests use shapes too small for the core to split anything, so these sizes are
chosen to make it split: at 2 and 3 threads the time loop runs in 2 and 3 slices of the
batch (a slice carries at least 2^21 multiply-adds, so T*H*G >= 2^19 gives slices of 4
samples), and the products before and after the loop are split by rows or columns.
"""

import numpy as np
import pytest

import rnnkit
from rnnkit import ops

import reference
from cells import CELL_IDS, CELLS, mask_options

N, T, F, H = 12, 32, 64, 128


@pytest.fixture
def restore_threads():
    before = rnnkit.config.get_num_threads()
    yield
    rnnkit.config.set_num_threads(before)


def _run(cell, inputs, options, threads):
    rnnkit.config.set_num_threads(threads)
    result = cell.bind(**options)(**inputs)
    rng = np.random.default_rng(7)
    grads = result.backward(doutput=rng.standard_normal(result.output.shape), dh=rng.standard_normal(result.h.shape))
    return result, grads


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_split_batch_gives_the_unsplit_results(cell, restore_threads):
    rng = np.random.default_rng(0)
    inputs = cell.inputs(rng, N, T, F, H, scale=0.1)
    options = {"return_sequences": True, "go_backwards": True, **mask_options("holes", N, T, rng)}
    whole, whole_grads = _run(cell, inputs, options, threads=1)

    ref_forward = getattr(reference, cell.forward.__name__)
    expected = ref_forward(**inputs, **{**cell.options, **options})
    np.testing.assert_allclose(whole.output, expected.output, rtol=1e-12, atol=1e-12)

    for threads in (2, 3):
        split, split_grads = _run(cell, inputs, options, threads)
        np.testing.assert_allclose(split.output, whole.output, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(split.h, whole.h, rtol=1e-12, atol=1e-13)
        assert split_grads.keys() == whole_grads.keys()
        for name, grad in whole_grads.items():
            np.testing.assert_allclose(split_grads[name], grad, rtol=1e-11, atol=1e-12, err_msg=name)


def test_split_dense_equals_numpy(restore_threads):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N * T * 4, F))
    kernel = rng.standard_normal((F, 256))
    bias = rng.standard_normal(256)
    dy = rng.standard_normal((N * T * 4, 256))
    for threads in (1, 2, 3):
        rnnkit.config.set_num_threads(threads)
        result = ops.dense_forward(x, kernel, bias)
        np.testing.assert_allclose(result.output, x @ kernel + bias, rtol=1e-12, atol=1e-12)
        grads = result.backward(dy)
        np.testing.assert_allclose(grads["x"], dy @ kernel.T, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grads["kernel"], x.T @ dy, rtol=1e-12, atol=1e-11)


def test_thread_count_is_validated_and_kept(restore_threads):
    rnnkit.config.set_num_threads(3)
    assert rnnkit.config.get_num_threads() == 3
    with pytest.raises(ValueError, match="at least 1"):
        rnnkit.config.set_num_threads(0)
    with pytest.raises(TypeError, match="integer"):
        rnnkit.config.set_num_threads(2.0)


def test_concurrent_calls_from_python_threads_agree_with_serial_ones(restore_threads):
    """The workers serve one call at a time; a call that finds them busy uses threads of its own."""
    from concurrent.futures import ThreadPoolExecutor

    rnnkit.config.set_num_threads(2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    kernel = rng.standard_normal((F, 4 * H)).astype(np.float32) * 0.1
    recurrent = rng.standard_normal((H, 4 * H)).astype(np.float32) * 0.1
    serial = ops.lstm_forward(x, kernel, recurrent).output
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(lambda _: ops.lstm_forward(x, kernel, recurrent).output, range(16)))
    for output in outputs:
        np.testing.assert_array_equal(output, serial)


def test_calls_reach_workers_that_spin_and_workers_that_sleep(restore_threads):
    """Between calls a worker spins for a while, then sleeps: calls in quick succession find
    it spinning, a call after a pause must wake it; both give the serial result."""
    import time

    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, T, F))
    kernel, recurrent = rng.standard_normal((F, 4 * H)) * 0.1, rng.standard_normal((H, 4 * H)) * 0.1
    rnnkit.config.set_num_threads(1)
    serial = ops.lstm_forward(x, kernel, recurrent).output
    rnnkit.config.set_num_threads(2)
    for pause in (0.0, 0.0, 0.02, 0.0, 0.05):
        time.sleep(pause)
        np.testing.assert_allclose(ops.lstm_forward(x, kernel, recurrent).output, serial, rtol=1e-12, atol=1e-13)


def test_a_forked_child_splits_calls_with_workers_of_its_own():
    """The parent's workers do not exist in a child made by fork(): the child must not wait
    for them (it would hang), and must still get the same numbers."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import os, signal, sys
        import numpy as np
        import rnnkit
        from rnnkit import ops
        rnnkit.config.set_num_threads(2)
        rng = np.random.default_rng(0)
        x = rng.standard_normal(({N}, {T}, {F}))
        kernel, recurrent = rng.standard_normal(({F}, {4 * H})) * 0.1, rng.standard_normal(({H}, {4 * H})) * 0.1
        parent = ops.lstm_forward(x, kernel, recurrent).output  # starts the parent's workers
        pid = os.fork()
        if pid == 0:
            signal.alarm(30)  # a hang ends the child with SIGALRM
            child = ops.lstm_forward(x, kernel, recurrent).output
            os._exit(0 if np.array_equal(child, parent) else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
