#!/usr/bin/env python3
"""Masking and Embedding through the model API (rnnkit.models.Sequential, train_on_batch).

    python benchmarks/masking.py            # full run, ~1-2 minutes on 2 cores
    python benchmarks/masking.py --quick    # tiny sizes: a smoke run in a few seconds

1. Masked versus unmasked training step at the same shape:
   ``Sequential([Input((T, F)), Masking(), LSTM|GRU(H, return_sequences=rs), Dense(1)])`` against
   the same model without ``Masking`` (same initial weights), both trained on the same batch:
   sequence lengths uniform in [T/2, T], right-padded with zeros. mse, adam, float32.
   The two ``train_on_batch`` calls alternate (the order flips every repetition) so that machine
   noise hits both alike; medians, the ratio of the medians and the median of the per-pair
   ratios are reported. Target: masked/unmasked <= 1.10.
2. ``Embedding(V, 64) + LSTM(64) + Dense(1)`` at B=64, T=200, int32 ids: time per step, and
   in a fresh subprocess the step's peak memory: tracemalloc (NumPy's allocations, and so the
   core's arrays, are traced) and the peak RSS above the resident size before the step
   (VmRSS before, VmHWM after resetting it through /proc/self/clear_refs, as memory.py does).

The table goes to standard output, progress to standard error, the raw numbers (every timing,
the load average) to benchmarks/results-masking.json (--quick: results-masking-quick.json).
Run as ``masking.py --memory-worker ...``, this module is the memory subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402  (stdlib only: safe before the thread variables are set)
from common import load, log  # noqa: E402

FULL_SHAPES = [(64, 100, 32, 128), (32, 200, 16, 64)]
QUICK_SHAPES = [(8, 20, 4, 16), (4, 30, 4, 8)]
FULL_EMBEDDING = {"vocab": 20000, "dim": 64, "units": 64, "batch": 64, "steps": 200}
QUICK_EMBEDDING = {"vocab": 2000, "dim": 16, "units": 16, "batch": 8, "steps": 20}


def parse_args(argv=None):
    p = common.standalone_parser(__doc__, "tiny sizes, few repeats: a smoke run")
    p.add_argument("--repeats", type=int, default=None, help="timed masked/unmasked pairs (default 31; --quick 5)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps of each model first (default 3; --quick 1)")
    p.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)  # JSON config: subprocess mode
    return common.parse_standalone_args(p, argv, "masking", repeats=(5, 31), warmup=(1, 3))


# ----------------------------------------------------------------------------- 1. masked vs unmasked

def padded_batch(batch: int, steps: int, features: int, return_sequences: bool, seed: int = 0):
    """x (B, T, F) normal with lengths uniform in [T/2, T] and zeros after; y for mse."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features)).astype(np.float32)
    lengths = rng.integers(steps // 2, steps + 1, size=batch)
    x[np.arange(steps)[None, :] >= lengths[:, None]] = 0.0
    y_shape = (batch, steps, 1) if return_sequences else (batch, 1)
    y = rng.standard_normal(y_shape).astype(np.float32)
    return x, y, lengths


def build_pair(cell: str, shape, return_sequences: bool):
    """The masked model and the same model without Masking, holding the same initial weights."""
    from rnnkit.layers import GRU, LSTM, Dense, Input, Masking
    from rnnkit.models import Sequential
    from rnnkit.utils import set_random_seed
    _, steps, features, units = shape
    rnn = {"lstm": LSTM, "gru": GRU}[cell]
    set_random_seed(0)
    masked = Sequential([Input((steps, features)), Masking(), rnn(units, return_sequences=return_sequences),
                         Dense(1)])
    plain = Sequential([Input((steps, features)), rnn(units, return_sequences=return_sequences), Dense(1)])
    plain.set_weights(masked.get_weights())
    for model in (masked, plain):
        model.compile(optimizer="adam", loss="mse")
    return masked, plain


def bench_pair(cell: str, shape, return_sequences: bool, warmup: int, repeats: int) -> Dict[str, Any]:
    import gc
    batch, steps, features, _ = shape
    x, y, lengths = padded_batch(batch, steps, features, return_sequences)
    masked, plain = build_pair(cell, shape, return_sequences)
    steps_fn = {"masked": lambda: masked.train_on_batch(x, y), "unmasked": lambda: plain.train_on_batch(x, y)}
    for _ in range(warmup):
        steps_fn["masked"]()
        steps_fn["unmasked"]()
    gc.collect()
    times: Dict[str, List[float]] = {"masked": [], "unmasked": []}
    load_start = load()
    for r in range(repeats):
        order = ("masked", "unmasked") if r % 2 == 0 else ("unmasked", "masked")
        for name in order:
            start = time.perf_counter()
            steps_fn[name]()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    pair_ratios = [m / u for m, u in zip(times["masked"], times["unmasked"])]
    return {"cell": cell, "shape": dict(zip("BTFH", shape)), "return_sequences": return_sequences,
            "valid_fraction": float(lengths.sum() / (batch * steps)),
            "masked": {"median": med["masked"], "min": min(times["masked"]), "max": max(times["masked"]),
                       "times": times["masked"]},
            "unmasked": {"median": med["unmasked"], "min": min(times["unmasked"]), "max": max(times["unmasked"]),
                         "times": times["unmasked"]},
            "ratio_of_medians": med["masked"] / med["unmasked"],
            "median_pair_ratio": statistics.median(pair_ratios),
            "ratio_of_minima": min(times["masked"]) / min(times["unmasked"]),
            "repeats": repeats, "warmup": warmup, "load_start": load_start, "load_end": load()}


# ----------------------------------------------------------------------------- 2. Embedding

def build_embedding_model(cfg: Dict[str, int]):
    from rnnkit.layers import LSTM, Dense, Embedding, Input
    from rnnkit.models import Sequential
    from rnnkit.utils import set_random_seed
    set_random_seed(0)
    model = Sequential([Input((cfg["steps"],), dtype="int32"), Embedding(cfg["vocab"], cfg["dim"]),
                        LSTM(cfg["units"]), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def embedding_batch(cfg: Dict[str, int], seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, cfg["vocab"], size=(cfg["batch"], cfg["steps"]), dtype=np.int32)
    y = rng.standard_normal((cfg["batch"], 1)).astype(np.float32)
    return ids, y


def memory_worker(cfg: Dict[str, int], threads: int, mode: str) -> Dict[str, Any]:
    """In a fresh process, steps 1 (cold: the optimizer's slots are created), 2 and 3, each
    measured above what was resident before it. ``mode`` "rss": peak RSS only (tracemalloc off,
    so its bookkeeping does not count); "tracemalloc": tracemalloc's peak of each step."""
    import tracemalloc

    import rnnkit

    from memory import _proc_status_bytes, _reset_peak
    rnnkit.config.set_num_threads(threads)
    model = build_embedding_model(cfg)
    ids, y = embedding_batch(cfg)
    out: Dict[str, Any] = {"mode": mode}
    for label in ("step1", "step2", "step3"):
        can_reset = _reset_peak()
        rss_before = _proc_status_bytes("VmRSS")
        if mode == "tracemalloc":
            tracemalloc.start()
            traced_before = tracemalloc.get_traced_memory()[0]
        model.train_on_batch(ids, y)
        if mode == "tracemalloc":
            out[label] = tracemalloc.get_traced_memory()[1] - traced_before
            tracemalloc.stop()
        else:
            hwm = _proc_status_bytes("VmHWM")
            out[label] = (hwm - rss_before) if (can_reset and hwm and rss_before) else None
    out["weights_bytes"] = int(sum(w.nbytes for w in model.get_weights()))
    out["embedding_output_bytes"] = 4 * cfg["batch"] * cfg["steps"] * cfg["dim"]
    return out


def bench_embedding(cfg: Dict[str, int], threads: int, warmup: int, repeats: int) -> Dict[str, Any]:
    import subprocess

    from common import measure
    model = build_embedding_model(cfg)
    ids, y = embedding_batch(cfg)
    load_start = load()
    timing = measure(lambda: model.train_on_batch(ids, y), warmup, repeats)
    result: Dict[str, Any] = {"config": cfg, "step": timing, "load_start": load_start, "load_end": load(),
                              "one_hot_bytes": 4 * cfg["batch"] * cfg["steps"] * cfg["vocab"]}
    for mode in ("rss", "tracemalloc"):  # one fresh process each
        cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(threads),
               "--memory-worker", json.dumps(dict(cfg, mode=mode))]
        proc = subprocess.run(cmd, env=common.thread_env(threads), capture_output=True, text=True, timeout=600)
        parsed = common.parse_worker_output(proc.stdout)
        result[mode] = parsed if parsed is not None else {"status": "failed", "stderr_tail": proc.stderr[-2000:]}
    return result


# ----------------------------------------------------------------------------- report

def mb(n) -> str:
    return "n/a" if n is None else f"{n / 1e6:.1f} MB"


def report(out: Dict[str, Any]) -> str:
    lines = [f"# Masking and Embedding (rnnkit {out['rnnkit_version']}, {out['threads']} threads, float32)", "",
             f"Load average (1, 5, 15 min): start {out['load_start']}, end {out['load_end']}; "
             f"{out['cores']} cores.", "",
             "## Masked vs unmasked training step (train_on_batch, mse, adam)", "",
             f"Lengths uniform in [T/2, T], right-padded with zeros; {out['repeats']} alternating pairs "
             f"after {out['warmup']} warm-up steps each. Target: masked/unmasked <= 1.10.", "",
             "| cell | B, T, F, H | return_sequences | masked (ms) | unmasked (ms) | ratio of medians "
             "| median pair ratio | load |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for r in out["masking"]:
        s = r["shape"]
        flag = "" if r["ratio_of_medians"] <= 1.10 else " **>1.10**"
        lines.append(f"| {r['cell'].upper()} | {s['B']}, {s['T']}, {s['F']}, {s['H']} | {r['return_sequences']} "
                     f"| {r['masked']['median'] * 1e3:.1f} | {r['unmasked']['median'] * 1e3:.1f} "
                     f"| {r['ratio_of_medians']:.3f}{flag} | {r['median_pair_ratio']:.3f} | {r['load_start'][0]} |")
    e = out["embedding"]
    c, rss, traced = e["config"], e["rss"], e["tracemalloc"]
    lines += ["", f"## Embedding({c['vocab']}, {c['dim']}) + LSTM({c['units']}) + Dense(1), "
              f"B={c['batch']}, T={c['steps']}, int32 ids", "",
              f"Step time: median {e['step']['median'] * 1e3:.1f} ms (min {e['step']['min'] * 1e3:.1f}, "
              f"max {e['step']['max'] * 1e3:.1f}, {e['step']['repeats']} runs).", "",
              f"A dense one-hot of batch x time x vocab would be {c['batch']}*{c['steps']}*{c['vocab']}*4 bytes "
              f"= {e['one_hot_bytes'] / 1e9:.2f} GB. The embedding output is "
              f"{mb(rss.get('embedding_output_bytes'))}, the weights {mb(rss.get('weights_bytes'))}.", "",
              "Peak of each step above what was resident (or traced) before it, in a fresh process "
              "(RSS and tracemalloc in separate processes). Step 1 creates Adam's slots; from step 2 on, "
              "the allocator reuses pages freed by the previous step, so the RSS delta understates the "
              "working set there and tracemalloc's peak is the figure to read.", "",
              "| step (fresh process) | tracemalloc peak | peak RSS delta |", "|---|---:|---:|"]
    for label in ("step1", "step2", "step3"):
        lines.append(f"| {label[-1]} | {mb(traced.get(label))} | {mb(rss.get(label))} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.configure_threads(args.threads)
    if args.memory_worker is not None:
        cfg = json.loads(args.memory_worker)
        common.emit_json(memory_worker(cfg, args.threads, cfg.pop("mode")))
        return 0
    out = common.standalone_results(args)
    out["masking"] = []
    for shape in (QUICK_SHAPES if args.quick else FULL_SHAPES):
        for cell in ("lstm", "gru"):
            for rs in (True, False):
                log(f"  masking: {cell} {shape} return_sequences={rs}")
                out["masking"].append(bench_pair(cell, shape, rs, args.warmup, args.repeats))
    log("  embedding")
    out["embedding"] = bench_embedding(QUICK_EMBEDDING if args.quick else FULL_EMBEDDING, args.threads,
                                       args.warmup, max(3, args.repeats // 2))
    return common.finish_standalone(out, report, args.json)


if __name__ == "__main__":
    sys.exit(main())
