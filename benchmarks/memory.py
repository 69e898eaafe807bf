"""Memory: peak RSS of one LSTM training step (forward, backward through time, all gradients of
``loss = out[:, -1].sum()``), rnnkit against PyTorch, each in a fresh subprocess.

The worker imports its library, creates the input and the weights, takes its resident size
as the baseline, runs one training step and takes its peak resident size: the delta is the
step's own peak footprint above what was already resident.

On Linux ``getrusage(RUSAGE_SELF).ru_maxrss`` of a child starts at the *parent's* RSS at
``exec`` (the kernel carries the old image's high-water mark into the new one), so in a worker
started from a benchmark process that already holds torch, TensorFlow and data, a step smaller
than the parent reads as 0. The worker therefore resets its own high-water mark
(``/proc/self/clear_refs`` = 5) and reads ``VmRSS`` before and ``VmHWM`` after the step, which is
the same quantity for this process image alone; ru_maxrss is kept in the JSON too, and used
where /proc is not available.
Run as a script, this module is that worker.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from typing import Any, Dict

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from common import emit_json, parse_worker_output, thread_env  # noqa: E402

FULL_SHAPE = (32, 1000, 64, 256)
QUICK_SHAPE = (4, 50, 8, 32)


def _maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def _proc_status_bytes(field: str):
    """VmRSS / VmHWM of this process from /proc (Linux), or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Resets this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def worker(system: str, shape, threads: int) -> Dict[str, Any]:
    batch, _, features, units = shape
    import numpy as np

    from kernel import make_inputs
    x, w = make_inputs("lstm", shape, "float32")
    if system == "rnnkit":
        from rnnkit import ops

        from common import set_library_threads
        notes = set_library_threads(threads, ("rnnkit",))
        ones = np.ones((batch, units), np.float32)

        def step():
            r = ops.lstm_forward(x, w["kernel"], w["recurrent_kernel"], w["bias"], return_sequences=False)
            return r.backward(doutput=ones)
    else:
        import torch

        from common import make_torch_module, set_library_threads
        notes = set_library_threads(threads, ("torch",))
        module = make_torch_module("lstm", features, units, w)
        xg = torch.from_numpy(x).clone().requires_grad_(True)

        def step():
            out, _ = module(xg)
            out[:, -1].sum().backward()
            return module.weight_hh_l0.grad

    maxrss_before = _maxrss_bytes()
    reset = _reset_peak() and _proc_status_bytes("VmHWM") is not None
    baseline = _proc_status_bytes("VmRSS") if reset else maxrss_before
    start = time.perf_counter()
    step()
    elapsed = time.perf_counter() - start
    maxrss_after = _maxrss_bytes()
    peak = _proc_status_bytes("VmHWM") if reset else maxrss_after
    return {"system": system, "baseline_bytes": baseline, "peak_bytes": peak,
            "delta_bytes": peak - baseline, "step_seconds": elapsed, "threads": notes,
            "method": "VmRSS before, VmHWM after (peak reset via /proc/self/clear_refs)" if reset
            else "ru_maxrss delta",
            "ru_maxrss_before_bytes": maxrss_before, "ru_maxrss_after_bytes": maxrss_after,
            "ru_maxrss_delta_bytes": maxrss_after - maxrss_before}


def estimate_rnnkit_bytes(shape) -> int:
    """What the rnnkit LSTM step must hold at its peak, float32, from the core's buffers:
    forward cache gates (N,T,4H), cell, h_prev, c_prev (N,T,H) each; backward dgates
    (N,T,4H) and dx (N,T,I)."""
    n, t, i, h = shape
    return 4 * n * t * (4 * h + 3 * h + 4 * h + i)


def run(shape, threads: int, timeout: float = 600.0) -> Dict[str, Any]:
    out: Dict[str, Any] = {"shape": dict(zip("BTIH", shape)), "cell": "lstm",
                           "rnnkit_estimate_bytes": estimate_rnnkit_bytes(shape)}
    for system in ("rnnkit", "torch"):
        module = "rnnkit" if system == "rnnkit" else "torch"
        probe = subprocess.run([sys.executable, "-c", f"import {module}"], env=thread_env(threads),
                               capture_output=True, text=True)
        if probe.returncode != 0:
            out[system] = "not installed"
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--system", system, "--threads", str(threads),
               "--shape", ",".join(map(str, shape))]
        try:
            proc = subprocess.run(cmd, env=thread_env(threads), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            out[system] = f"timed out after {timeout:.0f} s"
            continue
        parsed = parse_worker_output(proc.stdout)
        out[system] = parsed if parsed is not None else {"status": "failed", "stderr_tail": proc.stderr[-2000:]}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Memory worker (internal): one training step, peak RSS.")
    parser.add_argument("--system", choices=("rnnkit", "torch"), required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--shape", required=True, help="B,T,I,H")
    args = parser.parse_args()
    emit_json(worker(args.system, tuple(int(v) for v in args.shape.split(",")), args.threads))
