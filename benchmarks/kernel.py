"""Kernel level: rnnkit.ops.*_forward (+ backward) against torch.nn.RNN/LSTM/GRU.

Inference: forward of the whole sequence (rnnkit ``return_sequences=True`` under
``ops.no_backward()``, which keeps no cache for a backward pass, as predict runs it; torch
under ``torch.no_grad()``). Training step: forward, backward through time and every gradient
(weights and input) of ``loss = out[:, -1].sum()``: rnnkit runs ``return_sequences=False``
and ``backward(doutput=ones)``; torch runs autograd on the same module and loss with the input
requiring grad, so both compute the same set of gradients.

Each system is timed in a process of its own (``python kernel.py --worker rnnkit|torch``), with
the same thread count; the processes alternate over ``rounds`` rounds (rnnkit, torch, rnnkit,
torch, ...) and each measurement pools the timed runs of every round, so that a slow spell of
the machine falls on both systems alike. Both build the same inputs and weights from one seed.

Before timing, a third process (``--worker guard``) gives the torch module rnnkit's weights
(layouts converted, see common.make_torch_module) and compares the outputs and gradients of
both: the guard that both sides compute the same thing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import common
from common import GATES, forward_flops, import_optional, measure

FULL_SHAPES = [(32, 100, 32, 128), (64, 50, 64, 256), (1, 1000, 16, 64), (128, 20, 128, 512)]
QUICK_SHAPES = [(4, 10, 8, 16), (1, 30, 4, 8)]
CELLS = ("simple_rnn", "lstm", "gru")
DTYPES = ("float32", "float64")
SYSTEMS = ("rnnkit", "torch")

# The guard's tolerances per dtype: max |rnnkit - torch| over the output sequence
# (tanh-bounded values), and max |rnnkit - torch| / max |torch| per gradient.
GUARD_TOLERANCE = {"float32": {"output_atol": 1e-4, "grad_rtol": 1e-3},
                   "float64": {"output_atol": 1e-10, "grad_rtol": 1e-9}}

Shape = Tuple[int, int, int, int]


def make_inputs(cell: str, shape: Shape, dtype: str, seed: int = 0):
    """x (B, T, I) and Keras-layout weights drawn like torch's default init,
    U(-1/sqrt(H), 1/sqrt(H)); the same arrays in every process for the same arguments."""
    import numpy as np
    batch, steps, features, units = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features)).astype(dtype)
    g, bound = GATES[cell], 1.0 / np.sqrt(units)

    def u(*size):
        return rng.uniform(-bound, bound, size=size).astype(dtype)

    bias = u(2, g * units) if cell == "gru" else u(g * units)
    return x, {"kernel": u(features, g * units), "recurrent_kernel": u(units, g * units), "bias": bias}


def rnnkit_forward_fn(cell: str):
    from rnnkit import ops
    return {"simple_rnn": ops.simple_rnn_forward, "lstm": ops.lstm_forward, "gru": ops.gru_forward}[cell]


def rnnkit_steps(cell: str, x, w) -> Tuple[Callable[[], Any], Callable[[], Any]]:
    """rnnkit's inference and training step on (x, w)."""
    import numpy as np

    from rnnkit import ops
    forward = rnnkit_forward_fn(cell)
    ones = np.ones((x.shape[0], w["recurrent_kernel"].shape[0]), x.dtype)

    def infer():
        with ops.no_backward():
            return forward(x, w["kernel"], w["recurrent_kernel"], w["bias"], return_sequences=True).output

    def train():
        return forward(x, w["kernel"], w["recurrent_kernel"], w["bias"], return_sequences=False).backward(doutput=ones)

    return infer, train


def torch_steps(cell: str, x, w) -> Tuple[Callable[[], Any], Callable[[], Any]]:
    """torch's inference and training step on the same (x, w)."""
    import torch
    module = common.make_torch_module(cell, x.shape[2], w["recurrent_kernel"].shape[0], w)
    xt = torch.from_numpy(x)
    xg = xt.clone().requires_grad_(True)

    def infer():
        with torch.no_grad():
            return module(xt)[0]

    def train():
        module.zero_grad(set_to_none=True)
        xg.grad = None
        out, _ = module(xg)
        out[:, -1].sum().backward()

    return infer, train


def _max_rel(a, b) -> float:
    import numpy as np
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12))


def correctness_guard(cell: str, shape: Shape, dtype: str) -> Dict[str, Any]:
    """Same weights on both sides: outputs and gradients within GUARD_TOLERANCE[dtype]."""
    import numpy as np
    import torch
    x, w = make_inputs(cell, shape, dtype)
    units = shape[3]
    module = common.make_torch_module(cell, shape[2], units, w)
    ours = rnnkit_forward_fn(cell)(x, w["kernel"], w["recurrent_kernel"], w["bias"], return_sequences=True)
    xt = torch.from_numpy(x).clone().requires_grad_(True)
    theirs, _ = module(xt)
    theirs[:, -1].sum().backward()
    out_diff = float(np.max(np.abs(ours.output - theirs.detach().numpy())))
    # The gradient of out[:, -1].sum() on our side: ones on the last output.
    dout = np.zeros_like(ours.output)
    dout[:, -1] = 1.0
    grads = ours.backward(doutput=dout)
    ref = common.torch_grads_in_keras_layout(cell, units, module)
    ref["x"] = xt.grad.numpy()
    grad_err = {name: _max_rel(grads[name], ref[name]) for name in ("x", "kernel", "recurrent_kernel", "bias")}
    tol = GUARD_TOLERANCE[dtype]
    ok = out_diff <= tol["output_atol"] and all(v <= tol["grad_rtol"] for v in grad_err.values())
    return {"ok": bool(ok), "max_abs_output_diff": out_diff, "max_rel_grad_diff": grad_err, **tol}


def time_system(system: str, dtype: str, shapes: Sequence[Shape], warmup: int, repeats: int,
                budget_s: Optional[float]) -> List[Dict[str, Any]]:
    """Inference and training-step timings of one system for every cell and shape."""
    steps = rnnkit_steps if system == "rnnkit" else torch_steps
    rows = []
    for cell in CELLS:
        for shape in shapes:
            infer, train = steps(cell, *make_inputs(cell, shape, dtype))
            rows.append({"cell": cell, "shape": list(shape),
                         "inference": measure(infer, warmup, repeats, budget_s),
                         "training": measure(train, warmup, repeats, budget_s)})
    return rows


def worker_main(argv=None) -> None:
    """``kernel.py --worker rnnkit|torch|guard``: one system's timings, or the guards, as JSON."""
    p = argparse.ArgumentParser()
    p.add_argument("--worker", choices=SYSTEMS + ("guard",), required=True)
    p.add_argument("--dtype", choices=DTYPES, required=True)
    p.add_argument("--shapes", required=True, help="JSON list of [B, T, I, H]")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--budget", type=float, default=None)
    args = p.parse_args(argv)
    common.configure_threads(args.threads)  # before numpy and torch are imported
    shapes = [tuple(s) for s in json.loads(args.shapes)]
    if args.worker != "rnnkit" and import_optional("torch") is None:
        common.emit_json({"status": "not installed"})
        return
    common.set_library_threads(args.threads, SYSTEMS if args.worker == "guard" else (args.worker,))
    if args.worker == "guard":
        result: Any = [{"cell": cell, "shape": list(shape), **correctness_guard(cell, shape, args.dtype)}
                       for cell in CELLS for shape in shapes]
    else:
        result = time_system(args.worker, args.dtype, shapes, args.warmup, args.repeats, args.budget)
    common.emit_json({"status": "ok", "rows": result})


def _worker(kind: str, dtype: str, shapes: Sequence[Shape], threads: int, warmup: int, repeats: int,
            budget_s: Optional[float]) -> Dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--dtype", dtype,
           "--shapes", json.dumps([list(s) for s in shapes]), "--threads", str(threads),
           "--warmup", str(warmup), "--repeats", str(repeats)]
    if budget_s is not None:
        cmd += ["--budget", str(budget_s)]
    done = subprocess.run(cmd, env=common.thread_env(threads), capture_output=True, text=True)
    result = common.parse_worker_output(done.stdout)
    if done.returncode != 0 or result is None:
        raise RuntimeError(f"kernel worker {kind} {dtype} failed:\n{done.stderr[-3000:]}")
    return result


def _pooled(timings: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One measurement from the timed runs of several rounds."""
    import statistics
    times = [t for timing in timings for t in timing["times"]]
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "repeats": len(times), "warmup": timings[0]["warmup"], "rounds": len(timings), "times": times}


def run(shapes: Sequence[Shape], warmup: int, repeats: int, budget_s: Optional[float], threads: int,
        dtypes: Sequence[str] = DTYPES, rounds: int = 2, log=print) -> List[Dict[str, Any]]:
    """Rows of (cell, shape, dtype) with both systems' pooled timings and the guard."""
    rows = []
    for dtype in dtypes:
        log(f"  kernel {dtype}: correctness guard")
        guard = _worker("guard", dtype, shapes, threads, 0, 0, None)
        per_system: Dict[str, List[Dict[str, Any]]] = {system: [] for system in SYSTEMS}
        for round_index in range(rounds):
            for system in SYSTEMS:
                log(f"  kernel {dtype}: {system}, round {round_index + 1} of {rounds}")
                per_system[system].append(_worker(system, dtype, shapes, threads, warmup, repeats, budget_s))
        for index, (cell, shape) in enumerate((c, s) for c in CELLS for s in shapes):
            batch, steps, features, units = shape
            flops = forward_flops(cell, batch, steps, features, units)
            row: Dict[str, Any] = {"cell": cell, "dtype": dtype,
                                   "shape": {"B": batch, "T": steps, "I": features, "H": units},
                                   "flops": {"inference": flops, "training": 3 * flops}}
            for system in SYSTEMS:
                results = per_system[system]
                if results[0]["status"] != "ok":
                    row[system] = results[0]["status"]
                    continue
                row[system] = {mode: _pooled([r["rows"][index][mode] for r in results])
                               for mode in ("inference", "training")}
            if guard["status"] == "ok":
                row["guard"] = guard["rows"][index]
            rows.append(row)
    return rows


def gemm_peak(threads: int, size: int, repeats: int, dtype: str = "float32") -> Dict[str, Any]:
    """GEMM GFLOP/s in ``dtype``: numpy (size x size) @ (size x size) and torch.mm if present.

    The machine's peak used for the 'share of peak' columns is the larger of the two
    (``source`` says which). torch is also measured on one thread, for reference.
    """
    import numpy as np
    rng = np.random.default_rng(1)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    flops = 2.0 * size ** 3
    result: Dict[str, Any] = {"size": size, "threads": threads, "dtype": dtype}
    t = measure(lambda: a @ b, 1, repeats)
    result["numpy"] = {"gflops": flops / t["min"] / 1e9, "time": t}
    torch = import_optional("torch")
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        t = measure(lambda: torch.mm(ta, tb), 1, repeats)
        result["torch"] = {"gflops": flops / t["min"] / 1e9, "time": t}
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        t = measure(lambda: torch.mm(ta, tb), 1, max(1, repeats // 2))
        torch.set_num_threads(previous)
        result["torch_1_thread"] = {"gflops": flops / t["min"] / 1e9, "time": t}
    best = max(("numpy", "torch"), key=lambda k: result[k]["gflops"] if k in result else -1)
    result["source"] = {"numpy": f"numpy matmul {size}x{size} {dtype}",
                        "torch": f"torch.mm {size}x{size} {dtype}"}[best]
    result["peak_gflops"] = result[best]["gflops"]
    return result


if __name__ == "__main__":
    worker_main()
