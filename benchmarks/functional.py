#!/usr/bin/env python3
"""The functional graph executor's overhead over the kernels it calls (rnnkit only).

    python benchmarks/functional.py            # full run, ~30 s on 2 cores
    python benchmarks/functional.py --quick    # few repetitions: a smoke run in a few seconds

Model: ``Input a (T, F) -> LSTM(H)``, ``Input b (T, F) -> LSTM(H)``, ``concatenate -> Dense(1)``
at (B, T, F, H) = (32, 20, 8, 32), float32, mse, SGD (``--optimizer adam`` for Adam), the
core on ``--threads`` threads (default 2). Four ways of doing the same training step, on the
same arrays, timed interleaved (every repetition runs each once; the order reverses every
repetition, so that machine noise hits all of them alike):

- ``train_on_batch``: ``model.train_on_batch([xa, xb], y)``, the whole model API.
- ``forward+pullback``: ``model.forward([xa, xb], training=True)`` and its pullback given the
  mse gradient: the graph executor alone, without the loss, optimizer and input checks.
- ``kernels+loss+opt``: the same step written by hand with ``rnnkit.ops``: the kernels below,
  the mse value and gradient in NumPy and the same optimizer class updating copies of the weights.
- ``kernels``: ``ops.lstm_forward``/``backward`` of both branches and ``ops.dense_forward``/
  ``backward`` with the model's own weight arrays (plus the concatenation and the slicing of
  the Dense input gradient that link them; the Dense output gradient is a fixed array).

Overhead = (train_on_batch - kernels) / train_on_batch, from the medians; target < 15%. The
median of the per-repetition overheads is reported too. The same for the Sequential
equivalent, ``Sequential([Input((T, F)), LSTM(H), Dense(1)])``, for context. Before timing,
a guard checks that the kernels compute the model's output and gradients (float32, 1e-5).
When the functional overhead exceeds the target (or with ``--profile``), cProfile runs the
model step and the report lists where the time goes.

The table goes to standard output, progress to standard error, the raw numbers (every timing,
the load average, the profile) to benchmarks/results-functional.json (--quick:
results-functional-quick.json).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402  (stdlib only: safe before the thread variables are set)
from common import load, log  # noqa: E402

SHAPE = {"B": 32, "T": 20, "F": 8, "H": 32}
TARGET = 0.15
VARIANTS = ("train_on_batch", "forward+pullback", "kernels+loss+opt", "kernels")


def parse_args(argv=None):
    p = common.standalone_parser(__doc__, "few repetitions: a smoke run")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="the model's optimizer (default sgd)")
    p.add_argument("--repeats", type=int, default=None, help="timed repetitions of every variant (default 801; "
                                                              "--quick 15)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs of every variant first (default 20; "
                                                             "--quick 2)")
    p.add_argument("--profile", action="store_true", help="profile the model step even below the target")
    p.add_argument("--profile-steps", type=int, default=None, help="steps under cProfile (default 400; --quick 20)")
    return common.parse_standalone_args(p, argv, "functional", repeats=(15, 801), warmup=(2, 20),
                                        profile_steps=(20, 400))


# ----------------------------------------------------------------------------- models and data

def batch(seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    shape = (SHAPE["B"], SHAPE["T"], SHAPE["F"])
    xa = rng.standard_normal(shape).astype(np.float32)
    xb = rng.standard_normal(shape).astype(np.float32)
    y = rng.standard_normal((SHAPE["B"], 1)).astype(np.float32)
    return xa, xb, y


def build_functional(optimizer: str):
    """The model and its layers (lstm_a, lstm_b, dense)."""
    from rnnkit.layers import LSTM, Dense, Input, concatenate
    from rnnkit.models import Model
    from rnnkit.utils import set_random_seed
    set_random_seed(0)
    a = Input((SHAPE["T"], SHAPE["F"]), name="a")
    b = Input((SHAPE["T"], SHAPE["F"]), name="b")
    lstm_a, lstm_b, dense = LSTM(SHAPE["H"]), LSTM(SHAPE["H"]), Dense(1)
    model = Model([a, b], dense(concatenate([lstm_a(a), lstm_b(b)])))
    model.compile(optimizer=optimizer, loss="mse")
    return model, (lstm_a, lstm_b, dense)


def build_sequential(optimizer: str):
    from rnnkit.layers import LSTM, Dense, Input
    from rnnkit.models import Sequential
    from rnnkit.utils import set_random_seed
    set_random_seed(0)
    lstm, dense = LSTM(SHAPE["H"]), Dense(1)
    model = Sequential([Input((SHAPE["T"], SHAPE["F"])), lstm, dense])
    model.compile(optimizer=optimizer, loss="mse")
    return model, (lstm, dense)


def lstm_weights(layer):
    cell = layer.cell
    return [cell.kernel, cell.recurrent_kernel, cell.bias]


def dense_weights(layer):
    return [layer.kernel, layer.bias]


def mse_gradient(pred, y):
    """mse value and its gradient with respect to pred (mean over batch and units)."""
    diff = pred - y
    return float((diff * diff).mean()), (2.0 / diff.size) * diff


def copied_variables(variables):
    from rnnkit.variables import Variable
    return [Variable(v.value.copy(), v.name, path="copy/" + v.path) for v in variables]


def make_optimizer(name: str):
    from rnnkit import optimizers
    return {"sgd": optimizers.SGD, "adam": optimizers.Adam}[name]()


# ----------------------------------------------------------------------------- the kernels by hand

def functional_kernels(xa, xb, wa, wb, wd):
    """The two LSTM branches, concatenate, Dense: forward, and the backward given dy."""
    import numpy as np

    from rnnkit import ops
    units = wa[1].shape[0]

    def step(dy=None, y=None):
        ra = ops.lstm_forward(xa, *wa, return_sequences=False)
        rb = ops.lstm_forward(xb, *wb, return_sequences=False)
        rd = ops.dense_forward(np.concatenate([ra.output, rb.output], axis=-1), *wd)
        loss = None
        if dy is None:
            loss, dy = mse_gradient(rd.output, y)
        gd = rd.backward(dy)
        ga = ra.backward(gd["x"][:, :units])
        gb = rb.backward(gd["x"][:, units:])
        return rd.output, loss, [ga["kernel"], ga["recurrent_kernel"], ga["bias"],
                                 gb["kernel"], gb["recurrent_kernel"], gb["bias"], gd["kernel"], gd["bias"]]

    return step


def sequential_kernels(x, wl, wd):
    from rnnkit import ops

    def step(dy=None, y=None):
        rl = ops.lstm_forward(x, *wl, return_sequences=False)
        rd = ops.dense_forward(rl.output, *wd)
        loss = None
        if dy is None:
            loss, dy = mse_gradient(rd.output, y)
        gd = rd.backward(dy)
        gl = rl.backward(gd["x"])
        return rd.output, loss, [gl["kernel"], gl["recurrent_kernel"], gl["bias"], gd["kernel"], gd["bias"]]

    return step


# ----------------------------------------------------------------------------- one case

def setup(kind: str, optimizer: str):
    """The four step functions of one case, the guard, and what the profile needs."""
    import numpy as np
    xa, xb, y = batch()
    if kind == "functional":
        model, (la, lb, dense) = build_functional(optimizer)
        variables = lstm_weights(la) + lstm_weights(lb) + dense_weights(dense)
        inputs = [xa, xb]

        def make(vs):
            return functional_kernels(xa, xb, [v.value for v in vs[0:3]], [v.value for v in vs[3:6]],
                                      [v.value for v in vs[6:8]])
    else:
        model, (lstm, dense) = build_sequential(optimizer)
        variables = lstm_weights(lstm) + dense_weights(dense)
        inputs = xa

        def make(vs):
            return sequential_kernels(xa, [v.value for v in vs[0:3]], [v.value for v in vs[3:5]])
    assert {id(v) for v in variables} == {id(v) for v in model.trainable_weights}

    # Guard: the kernels on the model's own arrays give the model's output and gradients.
    kernels = make(variables)
    outputs, pullback = model.forward(inputs, training=True)
    k_out, _, _ = kernels(y=y)
    _, dy = mse_gradient(k_out, y)
    _, grads = pullback(dy.astype(np.float32))
    _, _, k_grads = kernels(dy=dy)
    out_err = float(np.max(np.abs(np.asarray(outputs) - k_out)))
    grad_err = max(float(np.max(np.abs(grads[v] - g)) / (np.max(np.abs(g)) + 1e-30))
                   for v, g in zip(variables, k_grads))
    guard = {"output_max_abs_diff": out_err, "grad_max_rel_diff": grad_err,
             "ok": bool(out_err <= 1e-5 and grad_err <= 1e-5)}

    # The hand-written step updates its own copies of the weights with its own optimizer.
    own = copied_variables(variables)
    own_kernels, own_optimizer = make(own), make_optimizer(optimizer)

    def manual_step():
        _, loss, g = own_kernels(y=y)
        own_optimizer.apply(g, own)
        return loss

    fixed_dy = dy.astype(np.float32)

    def graph_step():
        _, back = model.forward(inputs, training=True)
        return back(fixed_dy)

    steps: Dict[str, Callable[[], Any]] = {
        "train_on_batch": lambda: model.train_on_batch(inputs, y),
        "forward+pullback": graph_step,
        "kernels+loss+opt": manual_step,
        "kernels": lambda: kernels(dy=fixed_dy),
    }
    return steps, guard, model, inputs, y


def interleaved(steps: Dict[str, Callable[[], Any]], warmup: int, repeats: int) -> Dict[str, List[float]]:
    """Every repetition runs each step once, the order reversed on odd repetitions."""
    import gc
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    gc.collect()
    times: Dict[str, List[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            fn = steps[name]
            start = clock()
            fn()
            times[name].append(clock() - start)
    return times


def summarize(times: Dict[str, List[float]]) -> Dict[str, Any]:
    def stats(v):
        return {"median": statistics.median(v), "min": min(v), "max": max(v), "times": v}

    med = {k: statistics.median(v) for k, v in times.items()}
    model, graph, manual, kernels = (med[k] for k in VARIANTS)
    per_rep = [(m - k) / m for m, k in zip(times["train_on_batch"], times["kernels"])]
    return {
        "variants": {k: stats(v) for k, v in times.items()},
        "overhead": (model - kernels) / model,
        "overhead_median_per_rep": statistics.median(per_rep),
        "overhead_of_minima": (min(times["train_on_batch"]) - min(times["kernels"])) / min(times["train_on_batch"]),
        "graph_overhead": (graph - kernels) / graph,
        "overhead_over_manual_step": (model - manual) / model,
        "breakdown_s": {"kernels": kernels, "loss_and_optimizer": manual - kernels,
                        "graph_executor": graph - kernels,
                        "rest_of_train_on_batch": model - graph - (manual - kernels)},
    }


def bench_case(kind: str, args) -> Dict[str, Any]:
    steps, guard, model, inputs, y = setup(kind, args.optimizer)
    load_start = load()
    times = interleaved(steps, args.warmup, args.repeats)
    result = {"kind": kind, "guard": guard, "load_start": load_start, "load_end": load(),
              "repeats": args.repeats, "warmup": args.warmup, **summarize(times)}
    result["_model"] = (model, inputs, y)  # removed before writing
    return result


# ----------------------------------------------------------------------------- profile

def profile_step(model, inputs, y, steps: int, top: int = 15) -> Dict[str, Any]:
    """cProfile over ``steps`` train_on_batch calls. Self time by group (the core's kernels,
    NumPy, each rnnkit module); the functions on a call path to a kernel ("kernel path") by
    self time; and the work those functions call that reaches no kernel ("side work": checks,
    loss, optimizer, ...), each by its cumulative time from kernel-path callers only. The
    kernels' time, the kernel path's self time and the side work add up to the step."""
    import cProfile
    import pstats
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for _ in range(steps):
        model.train_on_batch(inputs, y)
    profiler.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats  # func -> (cc, nc, tt, ct, {caller: (nc, cc, tt, ct)})
    groups: Dict[str, float] = {}
    for (filename, _, func), (_, _, tt, _, _) in stats.items():
        group = _group(filename, func)
        groups[group] = groups.get(group, 0.0) + tt
    total = sum(entry[2] for entry in stats.values())
    kernels = {f for f in stats if _group(f[0], f[2]).startswith("C++")}
    path, frontier = set(), set(kernels)  # every transitive caller of a kernel
    while frontier:
        f = frontier.pop()
        for caller in stats[f][4] if f in stats else ():
            if caller not in path and caller not in kernels:
                path.add(caller)
                frontier.add(caller)
    on_path = sorted(({"function": _where(*f), "calls": stats[f][1], "self_s": stats[f][2],
                       "cumulative_s": stats[f][3]} for f in path if f in stats), key=lambda r: -r["self_s"])
    side = []
    for f, (_, _, _, _, callers) in stats.items():
        if f in path or f in kernels:
            continue
        from_path = [(c, edge) for c, edge in callers.items() if c in path]
        if from_path:
            side.append({"function": _where(*f), "calls": sum(e[0] for _, e in from_path),
                         "cumulative_s": sum(e[3] for _, e in from_path),
                         "called_from": sorted({_where(*c) for c, _ in from_path})})
    side.sort(key=lambda r: -r["cumulative_s"])
    callees: Dict[str, List[Dict[str, Any]]] = {}  # what the largest side work spends its time in
    for f, (_, _, _, _, callers) in stats.items():
        for c, edge in callers.items():
            callees.setdefault(_where(*c), []).append({"function": _where(*f), "calls": edge[0],
                                                       "cumulative_s": edge[3]})
    for row in side[:6]:
        row["callees"] = sorted(callees.get(row["function"], []), key=lambda r: -r["cumulative_s"])[:4]
    kernel_s = sum(stats[f][2] for f in kernels)
    path_self_s = sum(r["self_s"] for r in on_path)
    side_s = sum(r["cumulative_s"] for r in side)
    rows = sorted(({"function": _where(*f), "calls": e[1], "self_s": e[2], "cumulative_s": e[3]}
                   for f, e in stats.items()), key=lambda r: -r["self_s"])
    return {"steps": steps, "wall_s": wall, "profiled_s": total, "per_step_s": total / steps,
            "groups_self_s": dict(sorted(groups.items(), key=lambda kv: -kv[1])),
            "split_s": {"kernels": kernel_s, "kernel_path_self": path_self_s, "side_work": side_s},
            "kernel_path": on_path[:top], "side_work": side[:top], "top_self": rows[:top]}


def _where(filename: str, line: int, func: str) -> str:
    if filename == "~":  # a built-in: func is "<built-in method ...>" or "<method ... objects>"
        return func
    parts = filename.replace("\\", "/").split("/")
    if "rnnkit" in parts:
        short = "/".join(parts[len(parts) - 1 - parts[::-1].index("rnnkit"):])
    else:
        short = "/".join(parts[-2:])
    return f"{short}:{line}({func})"


def _group(filename: str, func: str) -> str:
    if filename == "~":
        if "rnnkit._core" in func:
            return "C++ kernels (rnnkit._core)"
        if "numpy" in func or "ufunc" in func or "ndarray" in func:
            return "NumPy built-ins"
        return "other built-ins"
    path = filename.replace("\\", "/")
    if "/rnnkit/" in path:
        return "rnnkit Python: " + path.rsplit("/rnnkit/", 1)[1]
    if "/numpy/" in path:
        return "NumPy Python"
    return "other Python"


# ----------------------------------------------------------------------------- report

def ms(s: float) -> str:
    return f"{s * 1e3:.3f}"


def report(out: Dict[str, Any]) -> str:
    s = SHAPE
    lines = [f"# Functional graph executor overhead (rnnkit {out['rnnkit_version']}, {out['threads']} threads, "
             "float32)", "",
             f"Load average (1, 5, 15 min): start {out['load_start']}, end {out['load_end']}; {out['cores']} cores.",
             "",
             f"B={s['B']}, T={s['T']}, F={s['F']}, H={s['H']}, mse, {out['optimizer']}; {out['repeats']} interleaved "
             f"repetitions (order reversed every other one) after {out['warmup']} warm-up runs of each; medians in ms. "
             f"Overhead = (train_on_batch - kernels) / train_on_batch; target < {TARGET:.0%}.", "",
             "| model | train_on_batch | forward+pullback | kernels+loss+opt | kernels | overhead | median per-rep "
             "| graph overhead | guard |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    names = {"functional": "Model: 2 x (Input, LSTM), concatenate, Dense", "sequential": "Sequential: LSTM, Dense"}
    for kind in ("functional", "sequential"):
        r = out[kind]
        v = r["variants"]
        flag = "" if r["overhead"] < TARGET else " **>15%**"
        g = r["guard"]
        lines.append(f"| {names[kind]} | {ms(v['train_on_batch']['median'])} | {ms(v['forward+pullback']['median'])} "
                     f"| {ms(v['kernels+loss+opt']['median'])} | {ms(v['kernels']['median'])} "
                     f"| {r['overhead']:.1%}{flag} | {r['overhead_median_per_rep']:.1%} | {r['graph_overhead']:.1%} "
                     f"| {'ok' if g['ok'] else '**FAILED**'} |")
    lines += ["", "Where the model step's time goes (differences of medians, ms):", "",
              "| model | kernels | mse + optimizer (NumPy) | graph executor | rest of train_on_batch |",
              "|---|---:|---:|---:|---:|"]
    for kind in ("functional", "sequential"):
        b = out[kind]["breakdown_s"]
        lines.append(f"| {kind} | {ms(b['kernels'])} | {ms(b['loss_and_optimizer'])} | {ms(b['graph_executor'])} "
                     f"| {ms(b['rest_of_train_on_batch'])} |")
    lines += ["", "graph executor = forward+pullback - kernels; mse + optimizer = kernels+loss+opt - kernels; "
              "rest = train_on_batch - forward+pullback - (mse + optimizer): input and target checks, "
              "loss object, metrics, logs."]
    p = out.get("profile")
    if p:
        n, split = p["steps"], p["split_s"]
        lines += ["", f"## cProfile of train_on_batch (functional, {n} steps; {ms(p['per_step_s'])} ms a step "
                  "under the profiler, which inflates every Python call)", "",
                  f"Per step: C++ kernels {ms(split['kernels'] / n)} ms, Python on the call paths to the kernels "
                  f"(self time) {ms(split['kernel_path_self'] / n)} ms, side work called from those paths "
                  f"(reaching no kernel) {ms(split['side_work'] / n)} ms.", "",
                  "Self time by group:", "", "| group | ms / step | share |", "|---|---:|---:|"]
        for group, t in list(p["groups_self_s"].items())[:12]:
            lines.append(f"| {group} | {ms(t / n)} | {t / p['profiled_s']:.1%} |")
        lines += ["", "Side work, by cumulative time from its kernel-path callers:", "",
                  "| function | called from | calls / step | ms / step |", "|---|---|---:|---:|"]
        for row in p["side_work"][:12]:
            lines.append(f"| `{row['function']}` | {', '.join(f'`{c}`' for c in row['called_from'])} "
                         f"| {row['calls'] / n:.0f} | {ms(row['cumulative_s'] / n)} |")
        lines += ["", "Inside the largest side work (cumulative time of its direct callees):", "",
                  "| side work | callee | calls / step | ms / step |", "|---|---|---:|---:|"]
        for row in p["side_work"][:6]:
            for callee in row.get("callees", []):
                lines.append(f"| `{row['function'].rsplit('/', 1)[-1]}` | `{callee['function']}` "
                             f"| {callee['calls'] / n:.0f} | {ms(callee['cumulative_s'] / n)} |")
        lines += ["", "Kernel-path functions by self time:", "", "| function | calls / step | self ms / step |",
                  "|---|---:|---:|"]
        for row in p["kernel_path"][:12]:
            lines.append(f"| `{row['function']}` | {row['calls'] / n:.0f} | {ms(row['self_s'] / n)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.configure_threads(args.threads)
    out = common.standalone_results(args, optimizer=args.optimizer, shape=dict(SHAPE), target=TARGET)
    for kind in ("functional", "sequential"):
        log(f"  {kind}: {args.repeats} interleaved repetitions")
        out[kind] = bench_case(kind, args)
    model, inputs, y = out["functional"].pop("_model")
    out["sequential"].pop("_model")
    out["profile"] = None
    if args.profile or out["functional"]["overhead"] >= TARGET:
        log(f"  profile: {args.profile_steps} steps")
        out["profile"] = profile_step(model, inputs, y, args.profile_steps)
    return common.finish_standalone(out, report, args.json)


if __name__ == "__main__":
    sys.exit(main())
