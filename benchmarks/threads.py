"""One thread against two on the same LSTM forward and backward pass (``rnnkit.ops``,
float32), alternating the two settings call by call so that machine noise hits both alike:
what splitting the work across the core's threads gains, shape by shape.

    python benchmarks/threads.py [--repeats 100] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any, Dict, List

import common

SHAPES = [(32, 8, 12, 128), (32, 100, 32, 128), (64, 50, 64, 256)]


def measure(shape, repeats: int) -> Dict[str, Any]:
    import numpy as np

    from rnnkit import _core, ops

    batch, time_steps, features, units = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, time_steps, features)).astype(np.float32)
    kernel = (rng.standard_normal((features, 4 * units)) * 0.1).astype(np.float32)
    recurrent = (rng.standard_normal((units, 4 * units)) * 0.1).astype(np.float32)
    seconds: Dict[int, List[float]] = {1: [], 2: []}
    for k in range(repeats + 2):
        for threads in ((1, 2) if k % 2 else (2, 1)):
            _core.set_num_threads(threads)
            start = time.perf_counter()
            result = ops.lstm_forward(x, kernel, recurrent)
            result.backward(np.ones_like(result.output))
            if k >= 2:  # two warm-up rounds
                seconds[threads].append(time.perf_counter() - start)
    one, two = (statistics.median(seconds[n]) * 1e3 for n in (1, 2))
    return {"shape": list(shape), "one_thread_ms": one, "two_threads_ms": two, "speed_up": one / two}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="the first shape, 3 repeats: a smoke run")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--threads", type=int, default=2,
                        help="accepted for the suite's smoke runs; 1 and 2 are compared")
    args = parser.parse_args()
    common.configure_threads(1)  # BLAS stays single-threaded; the core splits the work itself
    shapes, repeats = (SHAPES[:1], 3) if args.quick else (SHAPES, args.repeats)
    from rnnkit import _core

    rows = [measure(shape, repeats) for shape in shapes]
    print(f"LSTM forward + backward, float32, kernels {_core.isa()}; median of {repeats} alternating calls")
    print("| (B, T, I, H) | 1 thread | 2 threads | speed-up |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {tuple(row['shape'])} | {row['one_thread_ms']:.2f} ms | {row['two_threads_ms']:.2f} ms | "
              f"{row['speed_up']:.2f}x |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"isa": _core.isa(), "repeats": repeats, "rows": rows}, out, indent=2)


if __name__ == "__main__":
    main()
