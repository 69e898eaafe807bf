"""Training and predicting again and again does not leak memory (C++ buffers, caches, graphs,
History objects, ...).

Runs in a fresh interpreter so that only rnnkit's allocations count; RSS is read from
/proc/self/status (Linux).
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

WARM_UP, CYCLES, LIMIT_KB = 100, 1000, 5 * 1024

SCRIPT = textwrap.dedent(f"""
    import gc, json
    import numpy as np
    import rnnkit
    from rnnkit.layers import LSTM, Dense
    from rnnkit.models import Sequential

    def rss_kb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    rnnkit.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5, 3)).astype("float32")
    y = rng.standard_normal((8, 1)).astype("float32")
    model = Sequential([LSTM(4, input_shape=(5, 3)), Dense(1)])
    model.compile(optimizer="adam", loss="mse")

    def cycle():
        history = model.fit(x, y, epochs=1, verbose=0)
        prediction = model.predict(x, verbose=0)
        assert prediction.shape == (8, 1) and np.isfinite(history.history["loss"][0])

    for _ in range({WARM_UP}):
        cycle()
    gc.collect()
    start = rss_kb()
    trace = []
    for k in range({CYCLES}):
        cycle()
        if (k + 1) % 100 == 0:
            trace.append(rss_kb() - start)
    gc.collect()
    print(json.dumps({{"start_kb": start, "growth_kb": rss_kb() - start, "trace_kb": trace}}))
""")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc/self/status (Linux)")
def test_a_thousand_fit_predict_cycles_do_not_grow_memory():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    memory = json.loads(run.stdout.splitlines()[-1])
    assert memory["growth_kb"] < LIMIT_KB, (
        f"RSS grew by {memory['growth_kb']} kB over {CYCLES} fit/predict cycles after {WARM_UP} to warm up "
        f"(from {memory['start_kb']} kB; growth every 100 cycles: {memory['trace_kb']})")
