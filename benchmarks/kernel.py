"""Kernel level: rnnkit.ops.*_forward (+ backward) against torch.nn.RNN/LSTM/GRU.

Inference: forward of the whole sequence (rnnkit ``return_sequences=True``; torch under
``torch.no_grad()``). Training step: forward, backward through time and every gradient
(weights and input) of ``loss = out[:, -1].sum()``: rnnkit runs ``return_sequences=False``
and ``backward(doutput=ones)``; torch runs autograd on the same module and loss with the input
requiring grad, so both compute the same set of gradients.

Before timing a (cell, shape), the torch module gets rnnkit's weights (layouts converted, see
common.make_torch_module) and the outputs and gradients of both are compared: the guard that
both sides compute the same thing.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from common import (GATES, forward_flops, import_optional, make_torch_module, measure,
                    torch_grads_in_keras_layout)

FULL_SHAPES = [(32, 100, 32, 128), (64, 50, 64, 256), (1, 1000, 16, 64), (128, 20, 128, 512)]
QUICK_SHAPES = [(4, 10, 8, 16), (1, 30, 4, 8)]
CELLS = ("simple_rnn", "lstm", "gru")

OUTPUT_ATOL = 1e-4   # max |rnnkit - torch| over the output sequence (tanh-bounded values)
GRAD_RTOL = 1e-3     # max |rnnkit - torch| / max |torch| per gradient


def make_weights(cell: str, features: int, units: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Keras-layout float32 weights drawn like torch's default init, U(-1/sqrt(H), 1/sqrt(H))."""
    g = GATES[cell]
    bound = 1.0 / np.sqrt(units)

    def u(*shape):
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    bias = u(2, g * units) if cell == "gru" else u(g * units)
    return {"kernel": u(features, g * units), "recurrent_kernel": u(units, g * units), "bias": bias}


def rnnkit_forward_fn(cell: str):
    from rnnkit import ops
    return {"simple_rnn": ops.simple_rnn_forward, "lstm": ops.lstm_forward, "gru": ops.gru_forward}[cell]


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12))


def correctness_guard(cell: str, x: np.ndarray, weights: Dict[str, np.ndarray], module) -> Dict[str, Any]:
    """Same weights on both sides: outputs within OUTPUT_ATOL, gradients within GRAD_RTOL."""
    import torch
    forward = rnnkit_forward_fn(cell)
    units = weights["recurrent_kernel"].shape[0]
    ours = forward(x, weights["kernel"], weights["recurrent_kernel"], weights["bias"], return_sequences=True)
    xt = torch.from_numpy(x).clone().requires_grad_(True)
    module.zero_grad(set_to_none=True)
    theirs, _ = module(xt)
    theirs[:, -1].sum().backward()
    out_diff = float(np.max(np.abs(ours.output - theirs.detach().numpy())))
    # The gradient of out[:, -1].sum() on our side: ones on the last output.
    dout = np.zeros_like(ours.output)
    dout[:, -1] = 1.0
    grads = ours.backward(doutput=dout)
    ref = torch_grads_in_keras_layout(cell, units, module)
    ref["x"] = xt.grad.numpy()
    grad_err = {name: _max_rel(grads[name], ref[name]) for name in ("x", "kernel", "recurrent_kernel", "bias")}
    ok = out_diff <= OUTPUT_ATOL and all(v <= GRAD_RTOL for v in grad_err.values())
    module.zero_grad(set_to_none=True)
    return {"ok": bool(ok), "max_abs_output_diff": out_diff, "max_rel_grad_diff": grad_err,
            "output_atol": OUTPUT_ATOL, "grad_rtol": GRAD_RTOL}


def bench_one(cell: str, shape: Tuple[int, int, int, int], warmup: int, repeats: int,
              budget_s: Optional[float], seed: int = 0) -> Dict[str, Any]:
    batch, steps, features, units = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features)).astype(np.float32)
    w = make_weights(cell, features, units, rng)
    forward = rnnkit_forward_fn(cell)
    ones = np.ones((batch, units), np.float32)

    def rnnkit_infer():
        return forward(x, w["kernel"], w["recurrent_kernel"], w["bias"], return_sequences=True).output

    def rnnkit_train():
        r = forward(x, w["kernel"], w["recurrent_kernel"], w["bias"], return_sequences=False)
        return r.backward(doutput=ones)

    flops = forward_flops(cell, batch, steps, features, units)
    row: Dict[str, Any] = {"cell": cell, "shape": {"B": batch, "T": steps, "I": features, "H": units},
                           "flops": {"inference": flops, "training": 3 * flops}}
    row["rnnkit"] = {"inference": measure(rnnkit_infer, warmup, repeats, budget_s),
                     "training": measure(rnnkit_train, warmup, repeats, budget_s)}

    torch = import_optional("torch")
    if torch is None:
        row["torch"] = "not installed"
        return row
    module = make_torch_module(cell, features, units, w)
    row["guard"] = correctness_guard(cell, x, w, module)
    xt = torch.from_numpy(x)
    xg = xt.clone().requires_grad_(True)

    def torch_infer():
        with torch.no_grad():
            return module(xt)[0]

    def torch_train():
        module.zero_grad(set_to_none=True)
        xg.grad = None
        out, _ = module(xg)
        out[:, -1].sum().backward()

    row["torch"] = {"inference": measure(torch_infer, warmup, repeats, budget_s),
                    "training": measure(torch_train, warmup, repeats, budget_s)}
    return row


def run(shapes: Sequence[Tuple[int, int, int, int]], warmup: int, repeats: int,
        budget_s: Optional[float], log=print) -> List[Dict[str, Any]]:
    rows = []
    for cell in CELLS:
        for shape in shapes:
            log(f"  kernel {cell:10s} B,T,I,H={shape}")
            rows.append(bench_one(cell, shape, warmup, repeats, budget_s))
    return rows


def gemm_peak(threads: int, size: int, repeats: int) -> Dict[str, Any]:
    """Float32 GEMM GFLOP/s: numpy (size x size) @ (size x size) and torch.mm if present.

    The machine's peak used for the 'share of peak' columns is the larger of the two
    (``source`` says which). torch is also measured on one thread, for reference.
    """
    rng = np.random.default_rng(1)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    flops = 2.0 * size ** 3
    result: Dict[str, Any] = {"size": size, "threads": threads}
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
    result["source"] = {"numpy": f"numpy matmul {size}x{size} float32",
                        "torch": f"torch.mm {size}x{size} float32"}[best]
    result["peak_gflops"] = result[best]["gflops"]
    return result
