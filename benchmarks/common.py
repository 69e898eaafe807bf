"""Shared helpers of the benchmark suite: thread setup, timing, FLOP counts, weight layouts,
and the frame of the standalone commands (masking.py, functional.py): options, results file.

Import this module (and call ``configure_threads``) before numpy, torch or tensorflow are
imported anywhere in the process: OpenMP/MKL/OpenBLAS read their thread counts at load time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))

GATES = {"simple_rnn": 1, "gru": 3, "lstm": 4}
CELL_NAMES = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _set_thread_variables(env, n: int) -> None:
    """Writes into ``env`` every thread-count variable the numeric libraries read at import."""
    for name in THREAD_ENV:
        env[name] = str(n)
    env["TF_NUM_INTRAOP_THREADS"] = str(n)
    env["TF_NUM_INTEROP_THREADS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ beside the benchmark scripts


def configure_threads(n: int) -> None:
    """Sets the thread variables in this process, before numpy, torch or TF are imported."""
    _set_thread_variables(os.environ, n)


def thread_env(n: int, **extra: str) -> Dict[str, str]:
    """A copy of os.environ for a worker subprocess with the thread variables set to n."""
    env = dict(os.environ)
    _set_thread_variables(env, n)
    env.update(extra)
    return env


def set_library_threads(n: int, libraries=("rnnkit", "torch")) -> Dict[str, str]:
    """Applies n threads to each of ``libraries`` that is installed; returns what was done."""
    notes: Dict[str, str] = {}
    if "rnnkit" in libraries:
        _set_rnnkit_threads(n, notes)
    torch = import_optional("torch") if "torch" in libraries else None
    if torch is not None:
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(1)
            interop = "set_num_interop_threads(1)"
        except RuntimeError:  # already set, or parallel work already started
            interop = f"interop threads already {torch.get_num_interop_threads()}"
        notes["torch"] = f"torch.set_num_threads({n}), {interop}"
    elif "torch" in libraries:
        notes["torch"] = "not installed"
    return notes


def _set_rnnkit_threads(n: int, notes: Dict[str, str]) -> None:
    try:
        import rnnkit
        setter = getattr(getattr(rnnkit, "config", None), "set_num_threads", None)
        if setter is None:
            notes["rnnkit"] = "rnnkit.config.set_num_threads absent: not called"
        else:
            setter(n)
            notes["rnnkit"] = f"rnnkit.config.set_num_threads({n})"
    except ImportError:
        notes["rnnkit"] = "not installed"


def import_optional(name: str) -> Optional[Any]:
    """The module, or None if it is not installed (any import failure counts as absent)."""
    try:
        return __import__(name)
    except Exception:  # noqa: BLE001 - a broken optional install reads as "not installed"
        return None


def measure(fn: Callable[[], Any], warmup: int, repeats: int,
            budget_s: Optional[float] = None) -> Dict[str, Any]:
    """Runs fn warmup times untimed, then up to ``repeats`` timed runs.

    With ``budget_s``, stops early once the timed runs exceed it (at least 3 runs are kept
    when repeats >= 3). Returns median, min, max and every time, in seconds.
    """
    for _ in range(warmup):
        fn()
    times: List[float] = []
    start_all = time.perf_counter()
    for k in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if budget_s is not None and k + 1 >= min(3, repeats) and time.perf_counter() - start_all > budget_s:
            break
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "repeats": len(times), "warmup": warmup, "times": times}


def forward_flops(cell: str, batch: int, time_steps: int, features: int, units: int) -> float:
    """The matrix-product FLOPs of one forward pass: 2*T*B*(I+H)*G*H."""
    return 2.0 * time_steps * batch * (features + units) * GATES[cell] * units


# ----------------------------------------------------------------------------- torch layouts
# Keras kernel (I, G*H), recurrent_kernel (H, G*H); torch weight_ih (G*H, I), weight_hh
# (G*H, H). LSTM gate order is the same (Keras i, f, c, o = torch i, f, g, o). GRU: Keras
# z, r, h, torch r, z, n.

def gate_permutation(cell: str, units: int):
    """Column indices taking Keras' gate blocks to torch's order (and, applied again, back)."""
    import numpy as np
    blocks = {"simple_rnn": [0], "lstm": [0, 1, 2, 3], "gru": [1, 0, 2]}[cell]
    return np.concatenate([np.arange(b * units, (b + 1) * units) for b in blocks])


def make_torch_module(cell: str, features: int, units: int, weights: Dict[str, Any]):
    """A torch.nn.RNN/LSTM/GRU(batch_first=True) holding the same weights as the Keras arrays,
    in their dtype (float32 or float64)."""
    import numpy as np
    import torch
    cls = {"simple_rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    kwargs = {"nonlinearity": "tanh"} if cell == "simple_rnn" else {}
    module = cls(features, units, batch_first=True, **kwargs).to(torch.from_numpy(weights["kernel"]).dtype)
    perm = gate_permutation(cell, units)
    kernel, recurrent = weights["kernel"][:, perm], weights["recurrent_kernel"][:, perm]
    bias = weights["bias"]
    if cell == "gru":  # reset_after: bias (2, 3H), row 0 input, row 1 recurrent
        b_ih, b_hh = bias[0][perm], bias[1][perm]
    else:  # one Keras bias: all of it in b_ih, zeros in b_hh
        b_ih, b_hh = bias[perm], np.zeros_like(bias)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
        module.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(recurrent.T)))
        module.bias_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(b_ih)))
        module.bias_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(b_hh)))
    return module


def torch_grads_in_keras_layout(cell: str, units: int, module) -> Dict[str, Any]:
    """The torch module's weight gradients as Keras-layout arrays (kernel, recurrent_kernel, bias)."""
    import numpy as np
    perm = gate_permutation(cell, units)
    inverse = np.argsort(perm)
    g_ih = module.weight_ih_l0.grad.numpy().T[:, inverse]
    g_hh = module.weight_hh_l0.grad.numpy().T[:, inverse]
    b_ih = module.bias_ih_l0.grad.numpy()[inverse]
    b_hh = module.bias_hh_l0.grad.numpy()[inverse]
    # b_hh is an extra parameter for LSTM/SimpleRNN; its gradient equals b_ih's there.
    bias = np.stack([b_ih, b_hh]) if cell == "gru" else b_ih
    return {"kernel": g_ih, "recurrent_kernel": g_hh, "bias": bias}


def emit_json(obj: Any) -> None:
    """Worker subprocesses print one JSON line, prefixed so stray library output is ignored."""
    sys.stdout.write("BENCH_JSON " + json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse_worker_output(stdout: str) -> Optional[Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    return None


# ----------------------------------------------------------------------------- standalone commands
# masking.py and functional.py: their own options, the table on stdout, progress on stderr,
# the raw numbers in benchmarks/results-<name>.json (--quick: results-<name>-quick.json).

def log(msg: str) -> None:
    """Progress, on standard error."""
    print(msg, file=sys.stderr, flush=True)


def load() -> List[float]:
    """The load average (1, 5, 15 min), rounded."""
    return [round(v, 2) for v in os.getloadavg()]


def standalone_parser(doc: str, quick_help: str) -> argparse.ArgumentParser:
    """A command's parser with ``--quick`` and ``--threads``; the command adds its own options."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--threads", type=int, default=2, help="rnnkit.config.set_num_threads (default 2)")
    return p


def parse_standalone_args(p: argparse.ArgumentParser, argv, name: str,
                          **defaults: Tuple[Any, Any]) -> argparse.Namespace:
    """Adds ``--json`` and parses argv. Each option of ``defaults`` (``dest=(quick, full)``) left
    unset takes its --quick or full value; --json defaults to benchmarks/results-<name>.json
    (--quick: results-<name>-quick.json)."""
    p.add_argument("--json", default=None, help=f"raw results (default benchmarks/results-{name}.json)")
    args = p.parse_args(argv)
    for dest, (quick, full) in defaults.items():
        if getattr(args, dest) is None:
            setattr(args, dest, quick if args.quick else full)
    if args.json is None:
        args.json = os.path.join(HERE, f"results-{name}-quick.json" if args.quick else f"results-{name}.json")
    return args


def standalone_results(args: argparse.Namespace, **extra: Any) -> Dict[str, Any]:
    """Sets rnnkit's threads; the results' header: date, quick, versions, threads, cores, then
    ``extra``, repeats, warmup and the load at the start."""
    import numpy as np

    import rnnkit
    notes = set_library_threads(args.threads, ("rnnkit",))
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"), "quick": args.quick,
            "rnnkit_version": getattr(rnnkit, "__version__", "?"), "numpy": np.__version__,
            "threads": args.threads, "thread_notes": notes, "cores": os.cpu_count(), **extra,
            "repeats": args.repeats, "warmup": args.warmup, "load_start": load()}


def finish_standalone(out: Dict[str, Any], report: Callable[[Dict[str, Any]], str], path: str) -> int:
    """Records the load at the end and ``report(out)`` in ``out``, writes it to ``path`` as JSON and
    prints the report; returns the exit status, 0."""
    out["load_end"] = load()
    text = report(out)
    out["report"] = text
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
    print(text)
    log(f"  wrote {path}")
    return 0
