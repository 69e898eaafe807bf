"""The time a training step of ``fit`` spends outside the C++ core, for LSTM(128) at batch 32
and 8 time steps (the speed issue's fit-loop target: at most 10% of a step).

Every function of ``rnnkit._core`` is wrapped with a timer; a step's time outside the core
is its wall time less the time inside those calls (the wrappers' own cost, about a
microsecond per call, counts as outside). ``--python-adam`` trains with Keras' Adam written
in NumPy as a user subclass would (one variable at a time, temporaries per operation),
for comparison with the built-in Adam, whose update is one C++ call per step.

    python benchmarks/fit_overhead.py [--threads 2] [--steps 200] [--repeats 5] [--python-adam] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import common


def _timed_core(totals: Dict[str, float]) -> None:
    """Wraps every function of rnnkit._core so that the time inside it adds to ``totals``."""
    from rnnkit import _core, ops, optimizers

    for module in (ops, optimizers):
        core = module._core
        wrapped = type(sys)("timed_core")
        for name in dir(_core):
            value = getattr(_core, name)
            if callable(value) and not isinstance(value, type) and not name.startswith("_"):
                def timed(*args: Any, _f: Callable[..., Any] = value, _n: str = name, **kwargs: Any) -> Any:
                    start = time.perf_counter()
                    try:
                        return _f(*args, **kwargs)
                    finally:
                        totals[_n] = totals.get(_n, 0.0) + time.perf_counter() - start
                setattr(wrapped, name, timed)
            else:
                setattr(wrapped, name, value)
        module._core = wrapped
        del core


def _python_adam():
    """Keras 3's Adam in NumPy, as a user subclass that overrides update_step."""
    import numpy as np

    from rnnkit.optimizers import Adam

    class NumpyAdam(Adam):
        def update_step(self, gradient, variable, learning_rate):
            dtype = variable.dtype.type
            step = dtype(self.iterations + 1)
            alpha = dtype(learning_rate) * np.sqrt(1 - dtype(self.beta_2) ** step) / (1 - dtype(self.beta_1) ** step)
            m, v = self._slots[variable.path]["momentum"], self._slots[variable.path]["velocity"]
            m += (gradient - m) * dtype(1 - self.beta_1)
            v += (np.square(gradient) - v) * dtype(1 - self.beta_2)
            variable.value -= m * alpha / (np.sqrt(v) + dtype(self.epsilon))

    return NumpyAdam()


def measure(args: argparse.Namespace) -> Dict[str, Any]:
    import numpy as np

    import rnnkit
    from rnnkit import layers

    rnnkit.config.set_num_threads(args.threads)
    totals: Dict[str, float] = {}
    _timed_core(totals)
    rng = np.random.default_rng(0)
    samples = args.batch * args.steps
    x = rng.normal(size=(samples, args.time, args.features)).astype(np.float32)
    y = rng.normal(size=(samples, 1)).astype(np.float32)
    rnnkit.utils.set_random_seed(0)
    model = rnnkit.Sequential([layers.Input((args.time, args.features)), layers.LSTM(args.units), layers.Dense(1)])
    model.compile(_python_adam() if args.python_adam else "adam", "mse", metrics=["mae"])
    model.fit(x[:args.batch * 4], y[:args.batch * 4], batch_size=args.batch, epochs=1, verbose=0)  # warm-up
    runs: List[Dict[str, float]] = []
    for _ in range(args.repeats):
        totals.clear()
        start = time.perf_counter()
        model.fit(x, y, batch_size=args.batch, epochs=1, verbose=0, shuffle=True)
        wall = time.perf_counter() - start
        core = sum(totals.values())
        runs.append({"step_ms": 1e3 * wall / args.steps, "core_ms": 1e3 * core / args.steps,
                     "outside_ms": 1e3 * (wall - core) / args.steps, "outside_share": (wall - core) / wall,
                     **{f"{name}_ms": 1e3 * t / args.steps for name, t in sorted(totals.items())}})
    best = min(runs, key=lambda r: r["step_ms"])
    return {"settings": vars(args), "isa": rnnkit._core.isa(), "blas": rnnkit._core.blas(),
            "median_step_ms": statistics.median(r["step_ms"] for r in runs),
            "median_outside_share": statistics.median(r["outside_share"] for r in runs),
            "best": best, "runs": runs}


def measure_optimizers(args: argparse.Namespace) -> Dict[str, float]:
    """Milliseconds per Adam step on the same model's variables: the built-in rule (one C++
    call for all variables) against the NumPy rule, both from ``optimizer.apply``."""
    import numpy as np

    import rnnkit
    from rnnkit import layers

    model = rnnkit.Sequential([layers.Input((args.time, args.features)), layers.LSTM(args.units), layers.Dense(1)])
    variables = model.trainable_weights
    rng = np.random.default_rng(1)
    gradients = [rng.normal(size=v.shape).astype(v.dtype) for v in variables]
    result = {"parameters": float(sum(v.value.size for v in variables))}
    repeats = 5 if args.quick else 200
    for name, optimizer in (("built_in_adam_ms", rnnkit.optimizers.Adam()), ("numpy_adam_ms", _python_adam())):
        for _ in range(5):
            optimizer.apply(gradients, variables)
        start = time.perf_counter()
        for _ in range(repeats):
            optimizer.apply(gradients, variables)
        result[name] = 1e3 * (time.perf_counter() - start) / repeats
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--time", type=int, default=8)
    parser.add_argument("--features", type=int, default=12)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200, help="batches per timed epoch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--python-adam", action="store_true", help="train with Adam written in NumPy")
    parser.add_argument("--json", help="also write the result here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.units, args.steps, args.repeats = 16, 5, 1
    common.configure_threads(args.threads)  # before numpy is imported
    result = measure(args)
    result["optimizer_step"] = measure_optimizers(args)
    best = result["best"]
    print(f"LSTM({args.units}), batch {args.batch}, {args.time} steps, {args.threads} threads, "
          f"{'NumPy' if args.python_adam else 'built-in'} Adam; kernels {result['isa']}")
    print(f"  step {result['median_step_ms']:.3f} ms (median of {args.repeats}); outside the core "
          f"{100 * result['median_outside_share']:.1f}% (median)")
    print("  best run, per step: " + ", ".join(f"{k[:-3]} {v:.3f} ms" for k, v in best.items() if k.endswith("_ms")))
    step = result["optimizer_step"]
    print(f"  Adam step alone ({step['parameters']:.0f} parameters): built-in {step['built_in_adam_ms']:.3f} ms, "
          f"NumPy {step['numpy_adam_ms']:.3f} ms")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()
