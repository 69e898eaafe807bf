"""When the core cannot make a contiguous copy of an input, the call raises MemoryError naming
the function and the argument, and never crashes (each case in a subprocess with 4 GiB of
address space, as the hardening issue's repro)."""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # a subprocess per case

CALLS = {
    "lstm_forward": "ops.lstm_forward(x, np.zeros((256, 4)), np.zeros((1, 4)))",
    "gru_forward": "ops.gru_forward(x, np.zeros((256, 3)), np.zeros((1, 3)), reset_after=False)",
    "simple_rnn_forward": "ops.simple_rnn_forward(x, np.zeros((256, 1)), np.zeros((1, 1)))",
    "dense_forward": "ops.dense_forward(x[0], np.zeros((256, 1)))",
}


@pytest.mark.parametrize("function", sorted(CALLS))
def test_a_copy_that_does_not_fit_in_memory_raises_memory_error(function):
    script = textwrap.dedent(f"""
        import resource
        import numpy as np
        from rnnkit import ops
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        x = np.broadcast_to(np.float64(0.0), (1, 4_000_000, 256))  # 8 GB once made contiguous
        try:
            {CALLS[function]}
        except MemoryError as error:
            print("MemoryError:", error)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.startswith("MemoryError:"), run.stdout + run.stderr[-2000:]
    assert "'x'" in run.stdout and function in run.stdout


LAYER_CALLS = {
    "Dense": ("L.Dense(2, name='probe')(np.broadcast_to(0.5, (10**9, 3)))", "probe"),
    "Embedding": ("L.Embedding(10, 8, name='probe')(np.broadcast_to(np.int64(3), (1, 10**9)))", "probe"),
    "RepeatVector": ("L.RepeatVector(10**9, name='probe')(np.ones((1, 4), np.float32))", "probe"),
    "Masking": ("L.Masking(name='probe')(np.broadcast_to(np.float32(1), (1, 10**9, 8)))", "probe"),
    "Bidirectional": ("L.Bidirectional(L.LSTM(2, name='inner'), name='outer')("
                      "np.broadcast_to(np.float32(1), (1, 10**9, 3)))", "forward_inner"),
    "predict": ("rnnkit.Sequential([L.Input((None, 3)), L.LSTM(4, name='probe')]).predict("
                "np.broadcast_to(np.float32(0.5), (1, 10**9, 3)), verbose=0)", "probe"),
}


@pytest.mark.parametrize("kind", sorted(LAYER_CALLS))
def test_a_layer_out_of_memory_names_the_layer_once(kind):
    call, layer = LAYER_CALLS[kind]
    script = textwrap.dedent(f"""
        import resource
        import numpy as np
        import rnnkit
        from rnnkit import layers as L
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        try:
            {call}
        except MemoryError as error:
            print("MemoryError:", error)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.startswith(f"MemoryError: layer '{layer}' ("), run.stdout + run.stderr[-2000:]
    assert run.stdout.count("layer '") == 1, run.stdout  # wrappers and models do not repeat it
