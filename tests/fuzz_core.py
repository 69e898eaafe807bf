"""Fuzzes every function of rnnkit._core with its real arity; run by tests/test_bad_input.py.

Each function's parameters are read from pybind11's signature line (``fn.__doc__``), so
the ``*_backward`` functions get their 7 to 15 arguments and reach their argument checks
instead of pybind's arity TypeError. Most calls start from a valid call (random small
shapes, float32 or float64, the cache of a real forward call) and spoil one or two
arguments, so that every check along the way is reached; the rest pass random values of
the right count. Every call must return or raise ValueError, TypeError or MemoryError.

    python tests/fuzz_core.py [--seed S] [--calls K] [--log PATH]

prints a JSON summary; with --log, each call is written to PATH before it is made, so the
last line names the call that crashed the process. A call is reproduced by running with
the same seed and --calls up to it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from collections import Counter, defaultdict

import numpy as np

from rnnkit import _core

ALLOWED = (ValueError, TypeError, MemoryError)
SIGNATURE = re.compile(r"^(\w+)\((.*)\) -> ")
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
ACTIVATIONS = ["tanh", "sigmoid", "relu", "linear", "hard_sigmoid", "softmax", "swish", "", "TANH"]
DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_, np.complex128, object]


def parameters(fn):
    """[(name, type, required)] from pybind11's first docstring line."""
    match = SIGNATURE.match((fn.__doc__ or "").splitlines()[0])
    if match is None:
        raise RuntimeError(f"no signature in the docstring of {fn!r}")
    result = []
    for part in filter(None, (p.strip() for p in match.group(2).split(", "))):
        head, _, default = part.partition(" = ")
        name, _, kind = head.partition(": ")
        result.append((name, kind, not default))
    return result


def functions():
    """name -> (function, parameters) for every public function of _core."""
    return {name: (getattr(_core, name), parameters(getattr(_core, name)))
            for name in sorted(dir(_core)) if not name.startswith("_") and callable(getattr(_core, name))
            and not isinstance(getattr(_core, name), type)}  # OptimizerStep is a settings class


class Fuzzer:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ values
    def dims(self, low=1, high=4):
        return int(self.rng.integers(low, high + 1))

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def floats(self, shape, dtype):
        return (self.rng.standard_normal(shape) * 0.5).astype(dtype)

    def random_array(self):
        shape = tuple(int(d) for d in self.rng.integers(0, 5, size=self.rng.integers(0, 5)))
        dtype = self.choice(DTYPES)
        a = np.ones(shape, dtype=dtype)
        if a.ndim and self.rng.random() < 0.3:
            a = a[..., ::2]  # not contiguous
        return a

    def junk(self):
        return self.choice([None, "junk", 3.5, 7, [[1.0, 2.0]], {"gates": 1}, (), object(), b"x", np.float64(1.0)])

    def spoil_array(self, a):
        """A variant of a valid array that is wrong, or that is right in an unusual layout."""
        a = np.asarray(a)
        kind = int(self.rng.integers(0, 13))
        if kind == 0 and a.ndim:  # one dimension off by one, or zero
            shape = list(a.shape)
            k = int(self.rng.integers(a.ndim))
            shape[k] = max(0, shape[k] + int(self.choice([-1, 1, 2]))) if self.rng.random() < 0.7 else 0
            return np.ones(shape, a.dtype)
        if kind == 1:  # one axis more or less
            return a[..., None] if self.rng.random() < 0.5 or not a.ndim or not a.shape[-1] else a[..., 0]
        if kind == 2:
            return a.astype(self.choice(DTYPES))
        if kind == 3 and a.dtype.kind == "f" and a.size:
            a = a.copy()
            a.flat[int(self.rng.integers(a.size))] = self.choice([np.nan, np.inf, -np.inf])
            return a
        if kind == 4 and a.ndim >= 2:
            return a.T  # transposed: a wrong shape unless square, and not C-contiguous
        if kind == 5:  # valid values, not contiguous
            big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],) if a.ndim else (), a.dtype)
            if a.ndim:
                big[..., ::2] = a
                return big[..., ::2]
            return a
        if kind == 6:
            return np.asfortranarray(a)
        if kind == 7 and a.ndim:  # zero strides, read-only
            return np.broadcast_to(a[(slice(None),) * (a.ndim - 1) + (slice(0, 1),)], a.shape)
        if kind == 8:
            a = a.copy()
            a.flags.writeable = False
            return a
        if kind == 9:
            return a.tolist()  # a nested list instead of an array
        if kind == 10:
            return a.reshape(-1)
        if kind == 11 and a.dtype.kind == "f":
            return (a * 1e300).astype(a.dtype) if a.dtype == np.float64 else a * np.float32(1e30)
        return self.random_array()

    def spoil_cache(self, cache, other_caches):
        kind = int(self.rng.integers(0, 6))
        if not isinstance(cache, dict) or not cache:
            return self.junk()
        keys = list(cache)
        if kind == 0:
            drop = self.choice(keys)
            return {k: v for k, v in cache.items() if k != drop}
        if kind == 1:
            key = self.choice(keys)
            return cache | {key: self.spoil_array(cache[key])}
        if kind == 2:
            return cache | {"extra": np.ones(3)}
        if kind == 3 and other_caches:
            return self.choice(other_caches)  # another function's cache, or another shape's
        if kind == 4:
            return {k: self.junk() for k in keys}
        return self.junk()

    def optimizer_arguments(self):
        """A valid optimizer_update call: a random rule and settings, one to three variables."""
        rule = self.choice(["sgd", "adam", "rmsprop", "adagrad"])
        dtype = self.choice([np.float32, np.float64])
        momentum = self.choice([0.0, 0.9])
        amsgrad, centered = bool(self.rng.random() < 0.5), bool(self.rng.random() < 0.5)
        needed = {"sgd": (momentum != 0, False, False), "adam": (True, True, amsgrad),
                  "rmsprop": (True, momentum != 0, centered), "adagrad": (True, False, False)}[rule]
        shapes = [tuple(self.dims(1, 5) for _ in range(self.dims(1, 2))) for _ in range(self.dims(1, 3))]
        settings = _core.OptimizerStep(learning_rate=0.01, weight_decay=self.choice([0.0, 0.1]), momentum=momentum,
                                       nesterov=bool(self.rng.random() < 0.5), beta_1=0.9, beta_2=0.999,
                                       epsilon=1e-7, amsgrad=amsgrad, rho=0.9, centered=centered,
                                       step=self.dims(1, 5))
        return {"rule": rule, "values": [self.floats(s, dtype) for s in shapes],
                "gradients": [self.floats(s, dtype) for s in shapes],
                "slots": [[np.abs(self.floats(s, dtype)) if n else None for n in needed] for s in shapes],
                "decay": [bool(self.rng.random() < 0.5) for _ in shapes], "settings": settings}

    def bad_value(self, name, kind, valid, other_caches):
        if kind == "str":
            return self.choice(ACTIVATIONS + [None, 3, b"tanh"])
        if kind == "bool":
            return self.choice([True, False, None, 0, 1, "yes", np.bool_(True), 2.5, np.ones(2, bool)])
        if kind.startswith("typing") or kind == "int":
            return self.choice([-5, -1, 0, 1, 2, 3, 2**31, 2**70, "2", None, 1.5, True])
        if name == "cache":
            return self.spoil_cache(valid, other_caches)
        if isinstance(valid, list) and valid and self.rng.random() < 0.7:  # one entry of a list spoiled
            spoiled, k = list(valid), int(self.rng.integers(len(valid)))
            entry = spoiled[k]
            if isinstance(entry, list) and entry and self.rng.random() < 0.7:
                entry = list(entry)
                j = int(self.rng.integers(len(entry)))
                entry[j] = self.spoil_array(entry[j]) if isinstance(entry[j], np.ndarray) else self.random_array()
                spoiled[k] = entry
            else:
                spoiled[k] = self.spoil_array(entry) if isinstance(entry, np.ndarray) else self.junk()
            return spoiled
        if not isinstance(valid, np.ndarray) or valid.dtype.kind not in "biuf" or self.rng.random() < 0.15:
            return self.junk() if self.rng.random() < 0.5 else self.random_array()
        return self.spoil_array(valid)

    # ------------------------------------------------------------------ valid calls
    def valid_arguments(self, name):
        """name -> valid value for each parameter of _core.<name>, with a fresh random shape."""
        if name == "optimizer_update":
            return self.optimizer_arguments()
        family, _, direction = name.rpartition("_")
        N, T, F, H = self.dims(), self.dims(), self.dims(), self.dims()
        dtype = self.choice([np.float32, np.float64])
        if family == "dense":
            x = self.floats((N, T, F) if self.rng.random() < 0.5 else (N, F), dtype)
            kernel, bias = self.floats((F, H), dtype), self.floats((H,), dtype)
            activation = self.choice(["linear", "relu", "sigmoid", "tanh", "hard_sigmoid", "softmax"])
            y = _core.dense_forward(x, kernel, bias, activation)
            return {"x": x, "kernel": kernel, "bias": bias, "activation": activation, "y": y,
                    "dy": self.floats(y.shape, dtype)}
        G = GATES[family]
        reset_after = bool(self.rng.random() < 0.5)
        args = {
            "x": self.floats((N, T, F), dtype),
            "kernel": self.floats((F, G * H), dtype),
            "recurrent_kernel": self.floats((H, G * H), dtype),
            "bias": self.floats((2, G * H) if family == "gru" and reset_after else (G * H,), dtype),
            "h0": self.floats((N, H), dtype),
            "c0": self.floats((N, H), dtype),
            "peephole_kernel": self.floats((3, H), dtype),
            "mask": self.rng.random((N, T)) < 0.7,
            "recurrent_dropout_mask": (self.rng.random((N, H)) < 0.7).astype(dtype) / dtype(0.7),
            "activation": "tanh",
            "recurrent_activation": self.choice(["sigmoid", "hard_sigmoid"]),
            "reset_after": reset_after,
            "go_backwards": bool(self.rng.random() < 0.5),
            "return_sequences": True,
            "keep_cache": bool(self.rng.random() < 0.8),  # a cache without the backward fields: an error
            "keep_state_gradients": bool(self.rng.random() < 0.3),
            "dy": self.floats((N, T, H), dtype),
            "dh": self.floats((N, H), dtype),
            "dc": self.floats((N, H), dtype),
        }
        for optional in ("bias", "h0", "c0", "peephole_kernel", "mask", "recurrent_dropout_mask"):
            if self.rng.random() < 0.3:
                args[optional] = None
        if direction == "backward":
            forward, params = getattr(_core, f"{family}_forward"), parameters(getattr(_core, f"{family}_forward"))
            args["cache"] = forward(*(args[p] for p, _, _ in params))[-1]
        return args

    # ------------------------------------------------------------------ one call
    def call_arguments(self, name, params, other_caches):
        required = sum(r for _, _, r in params)
        count = int(self.rng.integers(required, len(params) + 1))
        if name == "set_num_threads":
            return [self.bad_value(p, kind, None, ()) for p, kind, _ in params[:count]]
        valid = self.valid_arguments(name)
        args = [valid[p] for p, _, _ in params[:count]]
        mode = self.rng.random()
        if mode < 0.1:  # everything random, of the right count
            return [self.bad_value(p, kind, None, other_caches) for p, kind, _ in params[:count]]
        if mode < 0.25:  # the valid call itself
            return args
        for _ in range(int(self.rng.integers(1, 3))) if args else ():
            k = int(self.rng.integers(len(args)))
            p, kind, _ = params[k]
            args[k] = self.bad_value(p, kind, args[k], other_caches)
        return args


def describe(value):
    if isinstance(value, np.ndarray):
        flags = "" if value.flags.c_contiguous else " non-contiguous"
        return f"array{value.shape}:{value.dtype}{flags}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return f"list(len={len(value)})"
    return repr(value)[:40]


def normalized(message):
    """The message with its numbers blanked: one entry per distinct check."""
    return re.sub(r"-?\d+", "#", message.splitlines()[0])[:160]


def run(seed, calls, log=None):
    table = functions()
    fuzzer = Fuzzer(seed)
    names = [name for name, (_, params) in table.items() if params]  # those that take arguments
    threads = _core.num_threads()
    caches = []  # caches of earlier valid forwards, to hand to the wrong backward
    summary = defaultdict(lambda: {"ok": 0, "arity": 0, "checked": 0, "memory": 0, "messages": Counter()})
    unexpected = []
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) if log else None
    try:
        for k in range(calls):
            name = names[k % len(names)]
            fn, params = table[name]
            args = fuzzer.call_arguments(name, params, caches)
            if log_fd is not None:
                os.write(log_fd, f"{k}\t{name}({', '.join(map(describe, args))})\n".encode())
            entry = summary[name]
            try:
                result = fn(*args)
            except MemoryError:
                entry["memory"] += 1
            except (ValueError, TypeError) as error:
                message = str(error)
                if "incompatible function arguments" in message:
                    entry["arity"] += 1  # pybind's dispatch: a str or bool parameter of the wrong type
                else:
                    entry["checked"] += 1
                    entry["messages"][normalized(message)] += 1
            except BaseException as error:  # noqa: BLE001 - anything else is a finding
                unexpected.append({"call": k, "function": name, "error": f"{type(error).__name__}: {error}"[:300],
                                   "arguments": [describe(a) for a in args]})
            else:
                entry["ok"] += 1
                if (name.endswith("forward") and name != "dense_forward" and isinstance(result, tuple)
                        and isinstance(result[-1], dict) and len(caches) < 50):
                    caches.append(result[-1])
            if name == "set_num_threads":
                _core.set_num_threads(int(fuzzer.rng.integers(1, 4)))  # the calls after run on 1-3 threads
    finally:
        _core.set_num_threads(threads)
        if log_fd is not None:
            os.close(log_fd)
    return {
        "functions": {name: {**{k: v for k, v in e.items() if k != "messages"},
                             "distinct_checks": len(e["messages"]),
                             "arity_of_signature": [sum(r for _, _, r in table[name][1]), len(table[name][1])],
                             "messages": sorted(e["messages"])[:60]}
                      for name, e in summary.items()},
        "unexpected": unexpected[:20],
        "unexpected_count": len(unexpected),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calls", type=int, default=6000)
    parser.add_argument("--log")
    options = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the casts and overflows of the spoiled values are meant
    with np.errstate(all="ignore"):
        summary = run(options.seed, options.calls, options.log)
    json.dump(summary, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
