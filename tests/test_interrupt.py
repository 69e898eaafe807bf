"""Ctrl-C stops a long C++ call between time steps: under Python's default handler at the
first Ctrl-C, in fit at the second (the first finishes the batch), under any other handler
never (the handler runs when the call returns, as Python would run it)."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from rnnkit import ops

pytestmark = [pytest.mark.slow,  # long kernel calls interrupted by signals
              pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32",
                                reason="needs POSIX signals")]


def long_lstm_call(seconds):
    """Arguments of an ops.lstm_forward call that takes about ``seconds`` on this machine
    (calibrated on a short call), so the tests hold on fast and slow machines alike."""
    rng = np.random.default_rng(0)
    # Wide and short: the time loop dominates the call, not the one input projection before
    # it (a single matrix product, which is not interrupted).
    units, features, batch = 512, 8, 2
    weights = ((rng.normal(size=(features, 4 * units)) * 0.1).astype(np.float32),
               (rng.normal(size=(units, 4 * units)) * 0.1).astype(np.float32))
    probe = rng.normal(size=(batch, 400, features)).astype(np.float32)
    start = time.perf_counter()
    ops.lstm_forward(probe, *weights)
    per_step = (time.perf_counter() - start) / 400
    steps = int(min(200_000, max(2_000, seconds / per_step)))
    return (rng.normal(size=(batch, steps, features)).astype(np.float32), *weights), per_step * steps


def send_sigint_after(delay, count=1, gap=0.05):
    def send():
        time.sleep(delay)
        for k in range(count):
            if k:
                time.sleep(gap)
            os.kill(os.getpid(), signal.SIGINT)
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_default_handler_stops_the_call_at_the_next_time_step():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    args, expected = long_lstm_call(seconds=3.0)
    sender = send_sigint_after(0.3)
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        ops.lstm_forward(*args)
    elapsed = time.perf_counter() - start
    sender.join()
    assert elapsed < 0.3 + 0.5, f"stopped after {elapsed:.2f} s of a {expected:.1f} s call"
    # Nothing is left behind: the next call runs to its end, and Ctrl-C outside a call
    # still raises KeyboardInterrupt through Python's own handler.
    x, kernel, recurrent = args
    a = ops.lstm_forward(x[:, :50], kernel, recurrent).h
    b = ops.lstm_forward(x[:, :50], kernel, recurrent).h
    np.testing.assert_array_equal(a, b)
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_other_handlers_see_the_signal_after_the_call_and_the_call_completes():
    args, _ = long_lstm_call(seconds=0.8)
    calls = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        sender = send_sigint_after(0.1)
        result = ops.lstm_forward(*args)
        sender.join()
        time.sleep(0.01)  # the handler runs at the next bytecode
    finally:
        signal.signal(signal.SIGINT, previous)
    assert calls == [signal.SIGINT]
    np.testing.assert_array_equal(result.h, ops.lstm_forward(*args).h)


def test_a_call_in_another_thread_is_not_stopped():
    args, _ = long_lstm_call(seconds=0.8)
    results, errors = [], []

    def work():
        try:
            results.append(ops.lstm_forward(*args).h)
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            errors.append(error)

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.1)
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        worker.join()  # the main thread's wait is what Ctrl-C interrupts
    worker.join()
    assert not errors and len(results) == 1 and np.isfinite(results[0]).all()


CHILD = textwrap.dedent("""
    import signal, sys, time
    import numpy as np
    from rnnkit import LSTM, Dense, Sequential, callbacks
    steps = int(sys.argv[1])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, steps, 8)).astype("float32"), rng.normal(size=(2, 1)).astype("float32")
    model = Sequential([LSTM(512, input_shape=(None, 8)), Dense(1)])
    model.compile("adam", "mse")
    announce = callbacks.LambdaCallback(on_train_batch_begin=lambda b, logs=None: print("batch", flush=True))
    try:
        model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[announce])
        print("finished", flush=True)
    except KeyboardInterrupt as error:
        usable = np.isfinite(model.predict(x[:, :10], verbose=0)).all()
        print("interrupted", model.optimizer.iterations, usable,
              signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)
""")


def test_fit_stops_within_half_a_second_at_the_second_ctrl_c_during_a_long_batch():
    args, _ = long_lstm_call(seconds=1.5)  # the forward pass; the batch takes ~3x as long
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(args[0].shape[1])], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "batch"
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        sent = time.perf_counter()
        out = child.stdout.read().strip()
        elapsed = time.perf_counter() - sent
        child.wait(timeout=60)
    finally:
        child.kill()
    assert out == "interrupted 0 True True", out  # no update applied; handler restored
    assert elapsed < 0.5, f"stopped {elapsed:.2f} s after the second Ctrl-C"
