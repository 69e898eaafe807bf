"""Model level: one epoch of ``fit`` and ``predict`` throughput for
Sequential([LSTM(64), Dense(1)]) and Sequential([GRU(64), Dense(1)]), mse, adam.

Systems: rnnkit (this process), a plain PyTorch loop (this process: nn.LSTM/GRU + nn.Linear,
Adam, the same batch size, index slicing instead of a DataLoader) and Keras 3 on each
installed backend, each backend in its own subprocess (the backend is fixed at import).
Run as a script, this module is that Keras worker.

Every system: build and compile, warm-up ``fit`` on 10 batches (tracing, allocation), then
timed ``fit(epochs=1)`` calls over the whole data; the median, min and max are reported.
Predict: ``predict`` over the same data with batch 256, samples per second from the median.
A Keras backend whose epoch would take longer than ``budget`` seconds is timed on a subset of
the data and the epoch time scaled to the full size (``scaled_from`` says so).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from common import emit_json, import_optional, measure, parse_worker_output, thread_env  # noqa: E402

UNITS = 64
PREDICT_BATCH = 256
WARMUP_BATCHES = 10


def make_data(samples: int, steps: int, features: int, seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, steps, features)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1, keepdims=True) + 0.1 * x[:, -1, 1:2]).astype(np.float32)
    return x, y


def _fit_and_predict(fit_epoch, predict, x, y, batch, warmup, repeats, budget_s,
                     subset: Optional[int] = None) -> Dict[str, Any]:
    n_warm = min(len(x), WARMUP_BATCHES * batch)
    fit_epoch(x[:n_warm], y[:n_warm])
    n = len(x) if subset is None else subset
    xs, ys = x[:n], y[:n]
    fit = measure(lambda: fit_epoch(xs, ys), warmup, repeats, budget_s)
    pred = measure(lambda: predict(xs), 1, repeats, budget_s)
    scale = len(x) / n
    out = {"fit_epoch": {k: (v * scale if k in ("median", "min", "max") else v) for k, v in fit.items()},
           "predict": pred, "predict_samples_per_s": n / pred["median"], "samples_timed": n}
    if subset is not None:
        out["fit_epoch"]["times"] = [t * scale for t in fit["times"]]
        out["scaled_from"] = n
    return out


# ----------------------------------------------------------------------------- rnnkit

def bench_rnnkit(cell: str, x, y, batch, warmup, repeats, budget_s) -> Dict[str, Any]:
    from rnnkit.layers import GRU, LSTM, Dense
    from rnnkit.models import Sequential
    from rnnkit.utils import set_random_seed
    set_random_seed(0)
    layer = {"lstm": LSTM, "gru": GRU}[cell]
    model = Sequential([layer(UNITS, input_shape=x.shape[1:]), Dense(1)])
    model.compile(optimizer="adam", loss="mse")

    def fit_epoch(xs, ys):
        model.fit(xs, ys, batch_size=batch, epochs=1, verbose=0, shuffle=True)

    def predict(xs):
        return model.predict(xs, batch_size=PREDICT_BATCH, verbose=0)

    return _fit_and_predict(fit_epoch, predict, x, y, batch, warmup, repeats, budget_s)


# ----------------------------------------------------------------------------- PyTorch loop

def bench_torch(cell: str, x, y, batch, warmup, repeats, budget_s) -> Dict[str, Any]:
    import torch
    torch.manual_seed(0)
    rnn_cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn_cls(x.shape[2], UNITS, batch_first=True)
            self.head = torch.nn.Linear(UNITS, 1)

        def forward(self, inputs):
            out, _ = self.rnn(inputs)
            return self.head(out[:, -1])

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()

    def fit_epoch(xs, ys):
        xt, yt = torch.from_numpy(xs), torch.from_numpy(ys)
        net.train()
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), batch):
            idx = order[start:start + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    def predict(xs):
        xt = torch.from_numpy(xs)
        net.eval()
        with torch.no_grad():
            return torch.cat([net(xt[s:s + PREDICT_BATCH]) for s in range(0, len(xt), PREDICT_BATCH)]).numpy()

    return _fit_and_predict(fit_epoch, predict, x, y, batch, warmup, repeats, budget_s)


# ----------------------------------------------------------------------------- Keras worker

def keras_worker(args) -> Dict[str, Any]:
    """Runs inside a subprocess whose KERAS_BACKEND is set; returns the results for both cells."""
    n = args.threads
    info: Dict[str, Any] = {"backend": os.environ.get("KERAS_BACKEND")}
    if info["backend"] == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        info["threads"] = f"tf intra_op={n}, inter_op=1"
        info["tensorflow"] = tf.__version__
    elif info["backend"] == "jax":
        import jax
        info["jax"] = jax.__version__
        info["threads"] = "XLA CPU uses its own pool sized by the machine's cores (no stable knob)"
    import keras
    info["keras"] = keras.__version__
    x, y = make_data(args.samples, args.steps, args.features)
    results = {}
    for cell in args.cells.split(","):
        keras.utils.set_random_seed(0)
        layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
        model = keras.Sequential([keras.Input(shape=x.shape[1:]), layer(UNITS), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")

        def fit_epoch(xs, ys, model=model):
            model.fit(xs, ys, batch_size=args.batch, epochs=1, verbose=0, shuffle=True)

        def predict(xs, model=model):
            return model.predict(xs, batch_size=PREDICT_BATCH, verbose=0)

        # Probe: after the warm-up, time 20 batches to decide whether a subset is needed.
        n_warm = min(len(x), WARMUP_BATCHES * args.batch)
        fit_epoch(x[:n_warm], y[:n_warm])
        n_probe = min(len(x), 20 * args.batch)
        start = time.perf_counter()
        fit_epoch(x[:n_probe], y[:n_probe])
        per_sample = (time.perf_counter() - start) / n_probe
        subset = None
        if per_sample * len(x) > args.budget:
            subset = max(n_probe, int(args.budget / per_sample) // args.batch * args.batch)
            subset = min(subset, len(x))
            if subset >= len(x):
                subset = None
        results[cell] = _fit_and_predict(fit_epoch, predict, x, y, args.batch, args.warmup,
                                         args.repeats, args.budget, subset)
    return {"info": info, "results": results}


def run_keras_backend(backend: str, threads: int, samples: int, steps: int, features: int,
                      batch: int, warmup: int, repeats: int, budget_s: float, timeout: float,
                      cells=("lstm", "gru")) -> Dict[str, Any]:
    """One Keras backend in a fresh subprocess; 'not installed' when its modules are missing."""
    probe = subprocess.run([sys.executable, "-c", f"import keras, {backend}"],
                           env=thread_env(threads, KERAS_BACKEND=backend), capture_output=True, text=True)
    if probe.returncode != 0:
        return {"status": "not installed", "detail": probe.stderr.strip().splitlines()[-1:] }
    cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(threads), "--samples", str(samples),
           "--steps", str(steps), "--features", str(features), "--batch", str(batch),
           "--warmup", str(warmup), "--repeats", str(repeats), "--budget", str(budget_s),
           "--cells", ",".join(cells)]
    try:
        proc = subprocess.run(cmd, env=thread_env(threads, KERAS_BACKEND=backend), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timed out after {timeout:.0f} s"}
    parsed = parse_worker_output(proc.stdout)
    if proc.returncode != 0 or parsed is None:
        return {"status": "failed", "returncode": proc.returncode, "stderr_tail": proc.stderr[-2000:]}
    parsed["status"] = "ok"
    return parsed


def run(samples: int, steps: int, features: int, batch: int, threads: int, warmup: int, repeats: int,
        budget_s: float, keras_backends: List[str], keras_timeout: float, log=print) -> Dict[str, Any]:
    x, y = make_data(samples, steps, features)
    out: Dict[str, Any] = {"config": {"samples": samples, "T": steps, "I": features, "units": UNITS,
                                      "batch": batch, "predict_batch": PREDICT_BATCH, "loss": "mse",
                                      "optimizer": "adam"},
                           "rnnkit": {}, "torch": {}, "keras": {}}
    for cell in ("lstm", "gru"):
        log(f"  model {cell}: rnnkit")
        out["rnnkit"][cell] = bench_rnnkit(cell, x, y, batch, warmup, repeats, budget_s)
        if import_optional("torch") is None:
            out["torch"][cell] = "not installed"
        else:
            log(f"  model {cell}: torch")
            out["torch"][cell] = bench_torch(cell, x, y, batch, warmup, repeats, budget_s)
    for backend in keras_backends:
        log(f"  model lstm+gru: keras[{backend}] (subprocess)")
        out["keras"][backend] = run_keras_backend(backend, threads, samples, steps, features, batch,
                                                  warmup, repeats, budget_s, keras_timeout)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Keras worker of the model-level benchmark (internal).")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--features", type=int, required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--cells", default="lstm,gru")
    emit_json(keras_worker(parser.parse_args()))
