#!/usr/bin/env python3
"""An audit of rnnkit against hostile or unlucky users: bad input and hostile model files.

Every case runs in its own Python process (2 at a time, 60 s each, with 6 GiB of address
space so that a runaway allocation raises MemoryError instead of swapping), so a crash is
caught and counted instead of ending the audit. The parent process never imports rnnkit.

Bad-input cases call the public API the way a careless or hostile user would: ``rnnkit.ops``
(forward, backward and step functions), the binding ``rnnkit._core`` (backward functions at
their full arity, with forged caches), layer constructors and calls, ``Sequential`` and
``Model``, ``compile``, ``fit``/``evaluate``/``predict``, ``rnnkit.gradcheck``, optimizers,
huge sizes (made with ``np.broadcast_to``, so the harness itself allocates nothing big), and
valid but unusual input (batch, time or units of 1, ``go_backwards``, float64, read-only or
non-contiguous arrays, lists), whose results are checked against an independent NumPy
implementation of the cells, finite differences, or another path through rnnkit. Each case
expects an error (whose message must contain given words: the argument, layer or value at
fault) or a valid result, and ends as one of:

- clean error: ValueError or TypeError (or a subclass) whose message has the words;
- unclear error: such an error without the words, or any other exception type;
- MemoryError: MemoryError (NumPy's _ArrayMemoryError included);
- correct result: valid input, result checked;
- silent wrong answer: a wrong result, or bad input accepted without an error;
- valid input refused: valid input raised;
- crash: the process died (signal, exit without a result) or timed out.

Hostile model files are mutations of a model saved by the harness (and of the files of an
older version in ``tests/fixtures``): truncations, zip bombs, forged sizes, deep JSON, configs
of the wrong types, class names of Python objects, pickles, absurd ``.npy`` headers, NaN
weights, path traversal, symlinks, ... Each is loaded with ``rnnkit.models.load_model`` in its
own process, and ends as one of: refused cleanly (a ValueError naming the file), loaded
(allowed by the documented policy, or not), raw internal exception, valid file refused,
MemoryError, crash, or ran code (payloads try to create a marker file; any marker found means
code ran). The peak RSS of each load is recorded; above 200 MB it is flagged.

Run from the repository root, with the interpreter that has rnnkit installed::

    .venv/bin/python tools/audit.py                 # everything (about 6 minutes on 2 cores)
    .venv/bin/python tools/audit.py -k ops/lstm     # only the cases whose name contains this
    .venv/bin/python tools/audit.py --json out.json # also write every result

It prints the counts per outcome, then every case that is not a clean error, a correct
result, a cleanly refused file or an allowed load, with the exception and its message. The
exit status is 1 if any case crashed, gave a silent wrong answer or an unclear error, or any
file ran code or raised a raw internal exception; else 0.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import io
import json
import os
import pickle
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
MEMORY_LIMIT = 6 << 30          # RLIMIT_AS of every child, bytes
CASE_TIMEOUT = 60               # seconds per child
WORKERS = 2
OVERSIZED_RSS = 200 << 20       # a load peaking above this is flagged, bytes
RESULT_TAG = "AUDIT-RESULT "    # the child's JSON result line starts with this
MiB = 1 << 20
# Two children share two cores: OpenBLAS's own threads would only make them wait for each other.
CHILD_ENVIRONMENT = os.environ | {"OPENBLAS_NUM_THREADS": "1"}

Words = Union[str, Tuple[str, ...]]  # a word the message must contain, or a tuple of alternatives

# Outcomes of the bad-input cases.
CLEAN, UNCLEAR, MEMORY, CORRECT, SILENT, REFUSED_VALID, CRASH = (
    "clean error", "unclear error", "MemoryError", "correct result", "silent wrong answer",
    "valid input refused", "crash")
CASE_OUTCOMES = (CLEAN, CORRECT, MEMORY, SILENT, UNCLEAR, CRASH, REFUSED_VALID)
# Outcomes of the model files.
FILE_REFUSED, LOADED_OK, LOADED_BAD, RAW, FILE_VALID_REFUSED, RAN_CODE = (
    "refused cleanly", "loaded (allowed)", "loaded (should be refused)", "raw internal exception",
    "valid file refused", "ran code")
FILE_OUTCOMES = (FILE_REFUSED, LOADED_OK, LOADED_BAD, RAW, FILE_VALID_REFUSED, MEMORY, CRASH, RAN_CODE)
FINE = {CLEAN, CORRECT, FILE_REFUSED, LOADED_OK}
FAILING = {CRASH, SILENT, UNCLEAR, RAN_CODE, RAW}


# ============================================================================ what a case is
@dataclasses.dataclass
class Kit:
    """The rnnkit modules a case uses, imported in the child process only."""

    rnnkit: Any
    ops: Any
    core: Any
    layers: Any
    models: Any
    optimizers: Any
    config: Any

    @classmethod
    def load(cls) -> Kit:
        import rnnkit
        from rnnkit import _core, config, layers, models, ops, optimizers

        return cls(rnnkit, ops, _core, layers, models, optimizers, config)


@dataclasses.dataclass(frozen=True)
class Case:
    """A bad-input case. ``run(kit)`` calls rnnkit. With ``expect == "error"`` it should raise
    ValueError or TypeError whose message contains every entry of ``words`` (a tuple entry: any
    of its alternatives); what it returns otherwise describes what was accepted. With
    ``expect == "valid"`` it returns None when the result checked out, else what is wrong."""

    name: str
    run: Callable[[Kit], Any]
    expect: str = "error"
    words: Tuple[Words, ...] = ()


def refused(name: str, run: Callable[[Kit], Any], *words: Words) -> Case:
    return Case(name, run, "error", tuple(words))


def valid(name: str, run: Callable[[Kit], Optional[str]]) -> Case:
    return Case(name, run, "valid")


# ============================================================================ an independent reference
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * z) + 1.0)  # 1 / (1 + exp(-z)), without overflow


ACTIVATIONS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda z: np.maximum(z, 0.0), "linear": lambda z: z,
    "hard_sigmoid": lambda z: np.clip((z + 3.0) / 6.0, 0.0, 1.0),
}


def reference_cell(cell: str, x: Any, kernel: Any, recurrent_kernel: Any, bias: Any = None, h0: Any = None,
                   c0: Any = None, mask: Any = None, go_backwards: bool = False, activation: str = "tanh",
                   recurrent_activation: str = "sigmoid", reset_after: bool = True,
                   ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Keras' SimpleRNN, LSTM (gates i, f, c, o) and GRU (z, r, h) in float64 NumPy, one step
    at a time: the outputs ``(N, T, H)`` in processing order, the final ``h`` and ``c``. A masked
    step carries the state, and outputs it."""
    x, kernel, recurrent_kernel = (np.asarray(a, np.float64) for a in (x, kernel, recurrent_kernel))
    batch, time, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((batch, units)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((batch, units)) if c0 is None else np.asarray(c0, np.float64)
    act, gate = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    bias = None if bias is None else np.asarray(bias, np.float64)
    outputs = []
    for t in (range(time - 1, -1, -1) if go_backwards else range(time)):
        xt = x[:, t]
        new_c = c
        if cell == "simple_rnn":
            new_h = act(xt @ kernel + h @ recurrent_kernel + (0 if bias is None else bias))
        elif cell == "lstm":
            z = xt @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
            i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
            new_c = gate(f) * c + gate(i) * act(g)
            new_h = gate(o) * act(new_c)
        else:
            if reset_after:
                b_in, b_rec = (0, 0) if bias is None else (bias[0], bias[1])
                xz, hz = xt @ kernel + b_in, h @ recurrent_kernel + b_rec
                z = gate(xz[:, :units] + hz[:, :units])
                r = gate(xz[:, units:2 * units] + hz[:, units:2 * units])
                candidate = act(xz[:, 2 * units:] + r * hz[:, 2 * units:])
            else:
                xz = xt @ kernel + (0 if bias is None else bias)
                z = gate(xz[:, :units] + h @ recurrent_kernel[:, :units])
                r = gate(xz[:, units:2 * units] + h @ recurrent_kernel[:, units:2 * units])
                candidate = act(xz[:, 2 * units:] + (r * h) @ recurrent_kernel[:, 2 * units:])
            new_h = z * h + (1 - z) * candidate
        if mask is not None:
            keep = np.asarray(mask, bool)[:, t][:, None]
            new_h, new_c = np.where(keep, new_h, h), np.where(keep, new_c, c)
        h, c = new_h, new_c
        outputs.append(h)
    return np.stack(outputs, axis=1), h, (c if cell == "lstm" else None)


def mismatch(label: str, got: Any, expected: Any, tolerance: float) -> Optional[str]:
    """None if ``got`` equals ``expected`` within ``tolerance`` (absolute and relative), else
    a description of the largest difference."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        return f"{label}: shape {got.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(got)):
        return f"{label}: holds NaN or infinity"
    error = np.abs(got - expected)
    if np.all(error <= tolerance * (1 + np.abs(expected))):
        return None
    worst = np.unravel_index(np.argmax(error), error.shape)
    return f"{label}: differs by up to {error.max():.3g} (at {tuple(int(i) for i in worst)}: {got[worst]:.6g} " \
           f"instead of {expected[worst]:.6g})"


def first_problem(*problems: Optional[str]) -> Optional[str]:
    return next((p for p in problems if p), None)


# ============================================================================ rnnkit.ops cases
N, T, F, H = 2, 3, 4, 5


@dataclasses.dataclass(frozen=True)
class CellKind:
    gates: int
    function: str
    options: Tuple[Tuple[str, Any], ...] = ()


CELLS = {
    "simple_rnn": CellKind(1, "simple_rnn_forward"),
    "lstm": CellKind(4, "lstm_forward"),
    "gru": CellKind(3, "gru_forward"),
    "gru_v1": CellKind(3, "gru_forward", (("reset_after", False),)),
}
GATED = ("lstm", "gru", "gru_v1")
#: In a table of mutations, "run this one on one kind only, the kinds taking turns": for checks
#: that go through code the kinds share (argument conversion, masks, option strings).
IN_TURN = "in turn"


def spread(entries: Sequence[Tuple[Any, ...]], kinds: Sequence[str]) -> List[Tuple[Tuple[Any, ...], str]]:
    """(entry, kind) pairs: an entry whose last field is IN_TURN goes to one kind, the next
    such entry to the next kind; any other entry goes to each kind its last field lists."""
    pairs, turn = [], 0
    for entry in entries:
        if entry[-1] == IN_TURN:
            pairs.append((entry, kinds[turn % len(kinds)]))
            turn += 1
        else:
            pairs += [(entry, kind) for kind in entry[-1]]
    return pairs


def cell_inputs(cell: str, dtype: Any = np.float64, n: int = N, t: int = T, f: int = F, h: int = H,
                seed: int = 0) -> Dict[str, Any]:
    """Random valid arguments of the forward function of ``cell`` (its options included)."""
    gates = CELLS[cell].gates
    rng = np.random.default_rng(seed)
    args = {"x": rng.standard_normal((n, t, f)), "kernel": rng.standard_normal((f, gates * h)) * 0.5,
            "recurrent_kernel": rng.standard_normal((h, gates * h)) * 0.5,
            "bias": rng.standard_normal((2, 3 * h) if cell == "gru" else (gates * h,)) * 0.1}
    args = {name: array.astype(dtype) for name, array in args.items()}
    args.update(CELLS[cell].options)
    return args


def forward_of(kit: Kit, cell: str) -> Callable[..., Any]:
    return getattr(kit.ops, CELLS[cell].function)


def reference_of(cell: str, args: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """The reference result for the arguments of an ops forward call (``lengths`` as a mask)."""
    options = dict(args)
    lengths = options.pop("lengths", None)
    if lengths is not None:
        options["mask"] = np.arange(np.shape(options["x"])[1])[None, :] < np.asarray(lengths)[:, None]
    options.pop("return_sequences", None)
    return reference_cell("gru" if cell == "gru_v1" else cell, **options)


def forward_problem(kit: Kit, cell: str, args: Dict[str, Any], tolerance: float = 1e-10) -> Optional[str]:
    """Runs the forward function on ``args`` and compares it with the reference."""
    result = forward_of(kit, cell)(**args)
    outputs, h, c = reference_of(cell, args)
    expected_output = outputs if args.get("return_sequences", True) else h
    return first_problem(mismatch("output", result.output, expected_output, tolerance),
                         mismatch("h", result.h, h, tolerance),
                         None if c is None else mismatch("c", result.c, c, tolerance))


def gradient_problem(kit: Kit, cell: str, args: Dict[str, Any], entries: int = 4) -> Optional[str]:
    """Compares ``backward`` with central differences of the reference, at a few random
    entries of every float input (float64)."""
    result = forward_of(kit, cell)(**args)
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(np.shape(o)) for o in result.outputs]
    grads = result.backward(*weights)

    def objective(values: Dict[str, Any]) -> float:
        outputs, h, c = reference_of(cell, values)
        output = outputs if values.get("return_sequences", True) else h
        return float(sum(np.sum(w * o) for w, o in zip(weights, (output, h, c)) if o is not None))

    for name, value in args.items():
        if not (isinstance(value, np.ndarray) and value.dtype == np.float64 and name in grads):
            continue
        grad = np.asarray(grads[name])
        for flat in rng.choice(value.size, size=min(entries, value.size), replace=False):
            index = np.unravel_index(flat, value.shape)
            moved = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()}
            moved[name][index] += 1e-6
            plus = objective(moved)
            moved[name][index] -= 2e-6
            numerical = (plus - objective(moved)) / 2e-6
            if abs(grad[index] - numerical) > 1e-6 + 1e-5 * abs(numerical):
                return f"gradient of '{name}' at {tuple(int(i) for i in index)}: {grad[index]:.8g}, " \
                       f"finite differences {numerical:.8g}"
    return None


Mutation = Callable[[Dict[str, Any]], None]


def _change(name: str, transform: Callable[[Any], Any]) -> Mutation:
    def mutate(args: Dict[str, Any]) -> None:
        args[name] = transform(args[name])
    return mutate


def _set(**values: Any) -> Mutation:
    def mutate(args: Dict[str, Any]) -> None:
        args.update(values)
    return mutate


def _poisoned(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def poison(array: np.ndarray) -> np.ndarray:
        array = array.copy()
        array.flat[1] = value
        return array
    return poison


def _recurrent_mutations() -> List[Tuple[str, Mutation, Tuple[Words, ...], Any]]:
    """(label, mutation of valid forward arguments, words the error must have, cells or IN_TURN)."""
    every, gated = tuple(CELLS), GATED
    x = "'x'"
    return [
        ("x-2d", _change("x", lambda a: a[:, 0]), (x,), IN_TURN),
        ("x-4d", _change("x", lambda a: a[..., None]), (x,), IN_TURN),
        ("x-scalar", _set(x=1.5), (x,), IN_TURN),
        ("x-float16", _change("x", lambda a: a.astype(np.float16)), (x, "float16"), IN_TURN),
        ("x-int64", _change("x", lambda a: a.astype(np.int64)), (x, "int64"), IN_TURN),
        ("x-complex", _change("x", lambda a: a.astype(np.complex128)), (x, "complex"), IN_TURN),
        ("x-bool", _change("x", lambda a: a > 0), (x, "bool"), IN_TURN),
        ("x-object", _change("x", lambda a: a.astype(object)), (x, "object"), IN_TURN),
        ("x-strings", _change("x", lambda a: a.astype(str)), (x,), IN_TURN),
        ("x-text", _set(x="text"), (x,), IN_TURN),
        ("x-None", _set(x=None), (x,), IN_TURN),
        ("x-ragged-list", _set(x=[[[0.0] * F] * T, [[0.0] * F] * (T - 1)]), (x,), IN_TURN),
        ("x-nan", _change("x", _poisoned(np.nan)), (x, "nan"), IN_TURN),
        ("x-inf", _change("x", _poisoned(np.inf)), (x, "inf"), IN_TURN),
        ("x-empty-batch", _change("x", lambda a: a[:0]), (x,), IN_TURN),
        ("x-no-steps", _change("x", lambda a: a[:, :0]), (x,), IN_TURN),
        ("x-no-features", _change("x", lambda a: a[..., :0]), (x,), IN_TURN),
        ("kernel-features", _change("kernel", lambda a: a[:-1]), ("'kernel'",), every),
        ("kernel-width", _change("kernel", lambda a: a[:, :-1]), ("'kernel'",), every),
        ("kernel-1d", _change("kernel", lambda a: a[0]), ("'kernel'",), every),
        ("kernel-float32", _change("kernel", lambda a: a.astype(np.float32)), ("'kernel'", "float32"), every),
        ("kernel-nan", _change("kernel", _poisoned(np.nan)), ("'kernel'",), every),
        ("kernel-None", _set(kernel=None), ("'kernel'",), every),
        ("kernel-text", _set(kernel="W"), ("'kernel'",), every),
        ("recurrent_kernel-not-square", _change("recurrent_kernel", lambda a: a[:, :-1]), ("'recurrent_kernel'",),
         every),
        ("recurrent_kernel-no-units", _change("recurrent_kernel", lambda a: a[:0, :0]), ("'recurrent_kernel'",),
         every),
        ("recurrent_kernel-float32", _change("recurrent_kernel", lambda a: a.astype(np.float32)),
         ("'recurrent_kernel'",), every),
        ("recurrent_kernel-inf", _change("recurrent_kernel", _poisoned(-np.inf)), ("'recurrent_kernel'",), every),
        ("bias-short", _change("bias", lambda a: a[..., :-1]), ("'bias'",), every),
        ("bias-rank", _change("bias", lambda a: a[None] if a.ndim == 1 else a[0]), ("'bias'",), every),
        ("bias-nan", _change("bias", _poisoned(np.nan)), ("'bias'",), every),
        ("bias-int64", _change("bias", lambda a: a.astype(np.int64)), ("'bias'",), every),
        ("h0-batch", _set(h0=np.zeros((N + 1, H))), ("'h0'",), every),
        ("h0-units", _set(h0=np.zeros((N, H + 1))), ("'h0'",), every),
        ("h0-1d", _set(h0=np.zeros(H)), ("'h0'",), every),
        ("h0-nan", _set(h0=np.full((N, H), np.nan)), ("'h0'",), every),
        ("h0-float32", _set(h0=np.zeros((N, H), np.float32)), ("'h0'",), every),
        ("c0-shape", _set(c0=np.zeros((N, H + 1))), ("'c0'",), ("lstm",)),
        ("c0-nan", _set(c0=np.full((N, H), np.inf)), ("'c0'",), ("lstm",)),
        ("c0-without-cell-state", _set(c0=np.zeros((N, H))), ("c0",), ("simple_rnn", "gru", "gru_v1")),
        ("peephole_kernel-shape", _set(peephole_kernel=np.zeros((4, H))), ("'peephole_kernel'",), ("lstm",)),
        ("peephole_kernel-nan", _set(peephole_kernel=np.full((3, H), np.nan)), ("'peephole_kernel'",), ("lstm",)),
        ("mask-transposed", _set(mask=np.ones((T, N), bool)), ("'mask'",), IN_TURN),
        ("mask-float", _set(mask=np.ones((N, T))), ("'mask'",), IN_TURN),
        ("mask-int64", _set(mask=np.ones((N, T), np.int64)), ("'mask'",), IN_TURN),
        ("mask-1d", _set(mask=np.ones(N, bool)), ("'mask'",), IN_TURN),
        ("mask-and-lengths", _set(mask=np.ones((N, T), bool), lengths=np.array([1, 2])), ("mask", "lengths"),
         IN_TURN),
        ("lengths-too-long", _set(lengths=np.array([T + 1, 1])), ("'lengths'",), IN_TURN),
        ("lengths-negative", _set(lengths=np.array([-1, 2])), ("'lengths'",), IN_TURN),
        ("lengths-float", _set(lengths=np.array([1.0, 2.0])), ("'lengths'",), IN_TURN),
        ("lengths-shape", _set(lengths=np.array([1, 2, 3])), ("'lengths'",), IN_TURN),
        ("lengths-bool", _set(lengths=np.array([True, True])), ("'lengths'",), IN_TURN),
        ("lengths-None-entry", _set(lengths=[1, None]), ("'lengths'",), IN_TURN),
        ("recurrent_dropout_mask-shape", _set(recurrent_dropout_mask=np.ones((N, H + 1))),
         ("'recurrent_dropout_mask'",), IN_TURN),
        ("recurrent_dropout_mask-nan", _set(recurrent_dropout_mask=np.full((N, H), np.nan)),
         ("'recurrent_dropout_mask'",), IN_TURN),
        ("activation-unknown", _set(activation="swish"), ("swish",), IN_TURN),
        ("activation-softmax", _set(activation="softmax"), ("softmax",), every),
        ("activation-None", _set(activation=None), ("'activation'",), IN_TURN),
        ("activation-number", _set(activation=3), ("'activation'",), IN_TURN),
        ("recurrent_activation-unknown", _set(recurrent_activation="swish"), ("swish",), gated),
        ("go_backwards-text", _set(go_backwards="no"), ("'go_backwards'",), IN_TURN),
        ("return_sequences-text", _set(return_sequences="yes"), ("'return_sequences'",), IN_TURN),
        ("reset_after-text", _set(reset_after="no"), ("'reset_after'",), ("gru", "gru_v1")),
        ("unknown-keyword", _set(foo=1), ("'foo'",), IN_TURN),
    ]


def _mutated_call(cell: str, mutate: Mutation) -> Callable[[Kit], Any]:
    def run(kit: Kit) -> Any:
        args = cell_inputs(cell)
        mutate(args)
        result = forward_of(kit, cell)(**args)
        return f"returned output of shape {np.shape(result.output)}"
    return run


def _valid_forward(cell: str, prepare: Callable[[Dict[str, Any]], Dict[str, Any]],
                   gradients: bool = False, **shape: int) -> Callable[[Kit], Optional[str]]:
    """A valid call on ``prepare(valid arguments)``, checked against the reference (and its
    gradients against finite differences)."""
    def run(kit: Kit) -> Optional[str]:
        args = prepare(cell_inputs(cell, **shape))
        return first_problem(forward_problem(kit, cell, args),
                             gradient_problem(kit, cell, args) if gradients else None)
    return run


def _read_only_args(args: Dict[str, Any]) -> Dict[str, Any]:
    for value in args.values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return args


def _strided(args: Dict[str, Any]) -> Dict[str, Any]:
    x = np.repeat(args["x"], 2, axis=1)[:, ::2]                  # a strided view
    kernel = np.asfortranarray(args["kernel"])
    return args | {"x": x, "kernel": kernel, "recurrent_kernel": args["recurrent_kernel"].T.copy().T}


def _as_lists(args: Dict[str, Any]) -> Dict[str, Any]:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in args.items()}


def _float32_problem(cell: str) -> Callable[[Kit], Optional[str]]:
    def run(kit: Kit) -> Optional[str]:
        args = cell_inputs(cell, dtype=np.float32)
        result = forward_of(kit, cell)(**args)
        outputs, h, _ = reference_of(cell, args)
        if result.output.dtype != np.float32:
            return f"float32 inputs gave {result.output.dtype} outputs"
        return first_problem(mismatch("output", result.output, outputs, 1e-5), mismatch("h", result.h, h, 1e-5))
    return run


def _uint8_mask_problem(cell: str) -> Callable[[Kit], Optional[str]]:
    def run(kit: Kit) -> Optional[str]:
        mask = np.array([[True, False, True], [False, True, True]])
        args = cell_inputs(cell)
        as_bool = forward_of(kit, cell)(**args, mask=mask)
        as_uint8 = forward_of(kit, cell)(**args, mask=mask.astype(np.uint8))
        return first_problem(forward_problem(kit, cell, args | {"mask": mask}),
                             mismatch("uint8 mask vs bool mask", as_uint8.output, as_bool.output, 0))
    return run


def _no_backward_problem(cell: str) -> Callable[[Kit], Optional[str]]:
    """Inside ops.no_backward() the outputs are the same; only backward is gone."""
    def run(kit: Kit) -> Optional[str]:
        args = cell_inputs(cell)
        with kit.ops.no_backward():
            inference = forward_of(kit, cell)(**args)
        outputs, h, _ = reference_of(cell, args)
        return first_problem(mismatch("output", inference.output, outputs, 1e-10), mismatch("h", inference.h, h, 1e-10))
    return run


def _padding_only_sample(cell: str) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """Initial states (h0, and c0 for LSTM), and lengths (0, T): sample 0 is all padding, so its
    outputs and final states are its initial ones."""
    def prepare(args: Dict[str, Any]) -> Dict[str, Any]:
        states = {"h0": np.full((N, H), 0.3)} | ({"c0": np.full((N, H), -0.2)} if cell == "lstm" else {})
        return args | states | {"lengths": np.array([0, T])}
    return prepare


def ops_recurrent_cases() -> List[Case]:
    cases = [refused(f"ops/{cell}/{label}", _mutated_call(cell, mutate), *words)
             for (label, mutate, words, _), cell in spread(_recurrent_mutations(), tuple(CELLS))]
    masks = np.array([[True, False, True], [False, False, True]])
    for cell in CELLS:
        cases += [
            valid(f"ops/{cell}/valid-reference", _valid_forward(cell, lambda a: a, gradients=True)),
            valid(f"ops/{cell}/valid-all-sizes-1", _valid_forward(cell, lambda a: a, gradients=True,
                                                                  n=1, t=1, f=1, h=1)),
            valid(f"ops/{cell}/valid-go_backwards-mask", _valid_forward(
                cell, lambda a: a | {"go_backwards": True, "mask": masks}, gradients=True)),
            valid(f"ops/{cell}/valid-lengths-0-with-states", _valid_forward(
                cell, _padding_only_sample(cell), gradients=True)),
            valid(f"ops/{cell}/valid-last-output-only", _valid_forward(
                cell, lambda a: a | {"return_sequences": False}, gradients=True)),
            valid(f"ops/{cell}/valid-float32", _float32_problem(cell)),
            valid(f"ops/{cell}/valid-non-contiguous", _valid_forward(cell, _strided, gradients=True)),
            valid(f"ops/{cell}/valid-read-only", _valid_forward(cell, _read_only_args, gradients=True)),
            valid(f"ops/{cell}/valid-nested-lists", _valid_forward(cell, _as_lists)),
            valid(f"ops/{cell}/valid-saturating-inputs", _valid_forward(
                cell, lambda a: a | {"x": a["x"] * 1e4})),
            valid(f"ops/{cell}/valid-uint8-mask", _uint8_mask_problem(cell)),
            valid(f"ops/{cell}/valid-no_backward", _no_backward_problem(cell)),
        ]
        if cell != "lstm":
            gru = cell.startswith("gru")
            cases.append(valid(f"ops/{cell}/valid-relu-hard_sigmoid", _valid_forward(
                cell, lambda a, gru=gru: a | {"activation": "relu"} | (
                    {"recurrent_activation": "hard_sigmoid"} if gru else {}))))
        else:
            cases.append(valid(f"ops/{cell}/valid-hard_sigmoid", _valid_forward(
                cell, lambda a: a | {"recurrent_activation": "hard_sigmoid"})))
    return cases + _huge_recurrent_cases()


def _huge_recurrent_cases() -> List[Case]:
    """10**9 time steps (an LSTM), and 30,000 units (a GRU), from broadcast arrays the harness
    does not allocate."""
    def long_sequence(kit: Kit) -> Any:
        args = cell_inputs("lstm") | {"x": np.broadcast_to(np.float64(0.1), (1, 10**9, F))}
        return kit.ops.lstm_forward(**args).output.shape

    def many_units(kit: Kit) -> Any:
        units = 30_000
        args = cell_inputs("gru") | {
            "kernel": np.broadcast_to(np.float64(0.01), (F, 3 * units)),
            "recurrent_kernel": np.broadcast_to(np.float64(0.01), (units, 3 * units)),
            "bias": None}
        return kit.ops.gru_forward(**args).output.shape

    return [refused("ops/lstm/huge-1e9-steps", long_sequence, "'x'"),
            refused("ops/gru/huge-30000-units", many_units, "'recurrent_kernel'")]


def ops_backward_cases() -> List[Case]:
    """Gradients of the outputs given to ``result.backward`` that do not fit."""
    dy = ("'doutput'", "'dy'")
    checks: List[Tuple[str, Optional[Callable[[Any], Any]], Tuple[Words, ...], Any]] = [
        ("doutput-shape", lambda r: r.backward(np.zeros((N, T + 1, H))), (dy,), IN_TURN),
        ("doutput-float32", lambda r: r.backward(np.zeros((N, T, H), np.float32)), (dy, "float32"), IN_TURN),
        ("doutput-int64", lambda r: r.backward(np.zeros((N, T, H), np.int64)), (dy, "int64"), IN_TURN),
        ("doutput-text", lambda r: r.backward("gradient"), (dy,), IN_TURN),
        ("dh-shape", lambda r: r.backward(dh=np.zeros((N, H + 1))), ("'dh'",), IN_TURN),
        ("dc-shape", lambda r: r.backward(dc=np.zeros((N + 1, H))), ("'dc'",), ("lstm",)),
        ("dc-without-cell-state", lambda r: r.backward(dc=np.zeros((N, H))), ("dc",), ("gru",)),
        ("after-no_backward", None, ("no_backward",), IN_TURN),
    ]
    cases = []
    for (label, call, words, _), cell in spread(checks, tuple(CELLS)):
        def run(kit: Kit, cell: str = cell, call: Optional[Callable[[Any], Any]] = call) -> Any:
            if call is None:  # a result computed inside no_backward() has no backward pass
                with kit.ops.no_backward():
                    result = forward_of(kit, cell)(**cell_inputs(cell))
                return f"returned gradients {sorted(result.backward(np.ones_like(result.output)))}"
            return f"returned gradients {sorted(call(forward_of(kit, cell)(**cell_inputs(cell))))}"
        cases.append(refused(f"ops/{cell}/backward-{label}", run, *words))
    return cases


def dense_reference(x: Any, kernel: Any, bias: Any = None, activation: str = "linear") -> np.ndarray:
    z = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64) + (0 if bias is None else np.asarray(bias))
    if activation == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return ACTIVATIONS[activation](z)


def ops_dense_cases() -> List[Case]:
    def inputs() -> Dict[str, Any]:
        rng = np.random.default_rng(0)
        return {"x": rng.standard_normal((3, F)), "kernel": rng.standard_normal((F, H)), "bias": rng.standard_normal(H)}

    def call(mutate: Mutation) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            args = inputs()
            mutate(args)
            return f"returned output of shape {kit.ops.dense_forward(**args).output.shape}"
        return run

    errors = [
        ("x-1d", _change("x", lambda a: a[0]), ("'x'",)),
        ("x-empty", _change("x", lambda a: a[:0]), ("'x'",)),
        ("x-int64", _change("x", lambda a: a.astype(np.int64)), ("'x'", "int64")),
        ("x-float16", _change("x", lambda a: a.astype(np.float16)), ("'x'", "float16")),
        ("x-complex", _change("x", lambda a: a.astype(np.complex64)), ("'x'",)),
        ("x-nan", _change("x", _poisoned(np.nan)), ("'x'",)),
        ("kernel-features", _change("kernel", lambda a: a[:-1]), ("'kernel'",)),
        ("kernel-no-units", _change("kernel", lambda a: a[:, :0]), ("'kernel'",)),
        ("kernel-3d", _change("kernel", lambda a: a[None]), ("'kernel'",)),
        ("kernel-float32", _change("kernel", lambda a: a.astype(np.float32)), ("'kernel'", "float32")),
        ("bias-shape", _change("bias", lambda a: a[:-1]), ("'bias'",)),
        ("activation-unknown", _set(activation="gelu"), ("gelu",)),
        ("activation-None", _set(activation=None), ("'activation'",)),
    ]
    cases = [refused(f"ops/dense/{label}", call(mutate), *words) for label, mutate, words in errors]

    def backward_shape(kit: Kit) -> Any:
        return sorted(kit.ops.dense_forward(**inputs()).backward(np.zeros((3, H + 1))))

    def huge(kit: Kit) -> Any:
        x = np.broadcast_to(np.float64(0.5), (10**9, F))
        return kit.ops.dense_forward(x, inputs()["kernel"]).output.shape

    def checked(activation: str, shape: Tuple[int, ...], scale: float = 1.0,
                dtype: Any = np.float64) -> Callable[[Kit], Optional[str]]:
        def run(kit: Kit) -> Optional[str]:
            rng = np.random.default_rng(2)
            x = (rng.standard_normal(shape + (F,)) * scale).astype(dtype)
            kernel, bias = rng.standard_normal((F, H)).astype(dtype), rng.standard_normal(H).astype(dtype)
            result = kit.ops.dense_forward(x, kernel, bias, activation=activation)
            tolerance = 1e-5 if dtype == np.float32 else 1e-10
            problem = mismatch("output", result.output, dense_reference(x, kernel, bias, activation), tolerance)
            if problem or dtype != np.float64:
                return problem
            weights = rng.standard_normal(result.output.shape)
            grads = result.backward(weights)
            numerical = np.zeros_like(kernel)
            for index in np.ndindex(kernel.shape):
                moved = kernel.copy()
                moved[index] += 1e-6
                plus = np.sum(weights * dense_reference(x, moved, bias, activation))
                moved[index] -= 2e-6
                numerical[index] = (plus - np.sum(weights * dense_reference(x, moved, bias, activation))) / 2e-6
            return mismatch("gradient of 'kernel'", grads["kernel"], numerical, 1e-5)
        return run

    cases += [
        refused("ops/dense/backward-doutput-shape", backward_shape, ("'doutput'", "'dy'")),
        refused("ops/dense/huge-1e9-rows", huge, "'x'"),
        valid("ops/dense/valid-softmax", checked("softmax", (3,))),
        valid("ops/dense/valid-softmax-large-logits", checked("softmax", (3,), scale=1e3)),
        valid("ops/dense/valid-4d-sigmoid", checked("sigmoid", (2, 3, 2))),
        valid("ops/dense/valid-float32-hard_sigmoid", checked("hard_sigmoid", (3,), dtype=np.float32)),
        valid("ops/dense/valid-batch-1-relu", checked("relu", (1,))),
    ]
    return cases


STEPS = {"simple_rnn": ("simple_rnn_step", ("h_prev",)), "lstm": ("lstm_step", ("h_prev", "c_prev")),
         "gru": ("gru_step", ("h_prev",))}


def step_inputs(cell: str) -> Dict[str, Any]:
    args = cell_inputs(cell)
    states = {name: np.full((N, H), 0.2 * (k + 1)) for k, name in enumerate(STEPS[cell][1])}
    return {"x": args["x"][:, 0]} | states | {k: args[k] for k in ("kernel", "recurrent_kernel", "bias")}


def ops_step_cases() -> List[Case]:
    cases = []
    for cell, (function, _) in STEPS.items():
        def call(mutate: Mutation, cell: str = cell, function: str = function) -> Callable[[Kit], Any]:
            def run(kit: Kit) -> Any:
                args = step_inputs(cell)
                mutate(args)
                return f"returned h of shape {getattr(kit.ops, function)(**args).h.shape}"
            return run

        errors = [
            ("x-3d", _change("x", lambda a: a[:, None]), ("'x'",)),
            ("x-1d", _change("x", lambda a: a[0]), ("'x'",)),
            ("x-float16", _change("x", lambda a: a.astype(np.float16)), ("'x'",)),
            ("h_prev-shape", _set(h_prev=np.zeros((N, H + 1))), ("'h_prev'",)),
            ("h_prev-nan", _set(h_prev=np.full((N, H), np.nan)), ("'h_prev'",)),
            ("h_prev-float32", _set(h_prev=np.zeros((N, H), np.float32)), ("'h_prev'",)),
            ("kernel-shape", _change("kernel", lambda a: a[:, :-1]), ("'kernel'",)),
            ("activation-unknown", _set(activation="swish"), ("swish",)),
        ] + ([("c_prev-shape", _set(c_prev=np.zeros((N + 1, H))), ("'c_prev'",))] if cell == "lstm" else [])
        cases += [refused(f"ops/{function}/{label}", call(mutate), *words) for label, mutate, words in errors]

        def backward_shape(kit: Kit, cell: str = cell, function: str = function) -> Any:
            step = getattr(kit.ops, function)(**step_inputs(cell))
            return sorted(step.backward(dh=np.zeros((N, H + 1))))

        def checked(kit: Kit, cell: str = cell, function: str = function) -> Optional[str]:
            args = step_inputs(cell)
            step = getattr(kit.ops, function)(**args)
            sequence = {"x": args["x"][:, None], "h0": args["h_prev"], "c0": args.get("c_prev")}
            sequence |= {k: args[k] for k in ("kernel", "recurrent_kernel", "bias")}
            _, h, c = reference_cell(cell, **sequence)
            weights = np.random.default_rng(3).standard_normal((N, H))
            grads = step.backward(dh=weights)
            full = forward_of(kit, cell)(**{k: v for k, v in sequence.items() if v is not None})
            full_grads = full.backward(dh=weights)
            return first_problem(mismatch("h", step.h, h, 1e-10),
                                 None if c is None else mismatch("c", step.c, c, 1e-10),
                                 mismatch("gradient of 'h_prev'", grads["h_prev"], full_grads["h0"], 1e-12),
                                 mismatch("gradient of 'x'", grads["x"], full_grads["x"][:, 0], 1e-12))

        cases += [refused(f"ops/{function}/backward-dh-shape", backward_shape, "'dh'"),
                  valid(f"ops/{function}/valid-reference", checked)]
    return cases


def core_cases() -> List[Case]:
    """The binding itself, called with keywords at the backward functions' full arity."""
    def backward_call(cell: str, change: Callable[[Dict[str, Any]], None]) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            args = cell_inputs(cell)
            forward = getattr(kit.core, CELLS[cell].function)
            options = {k: v for k, v in args.items() if k not in ("x", "kernel", "recurrent_kernel", "bias")}
            outputs = forward(args["x"], args["kernel"], args["recurrent_kernel"], args["bias"], **options)
            call = {"x": args["x"], "kernel": args["kernel"], "recurrent_kernel": args["recurrent_kernel"],
                    "bias": args["bias"], "mask": None, "recurrent_dropout_mask": None, "cache": outputs[-1],
                    "dy": np.ones_like(outputs[0]), "dh": None} | options
            if cell == "lstm":
                call |= {"peephole_kernel": None, "dc": None}
            change(call)
            backward = getattr(kit.core, CELLS[cell].function.replace("forward", "backward"))
            return f"returned gradients {sorted(backward(**call))}"
        return run

    def drop(field: str) -> Callable[[Dict[str, Any]], None]:
        def change(call: Dict[str, Any]) -> None:
            call["cache"] = {k: v for k, v in call["cache"].items() if k != field}
        return change

    def recast(field: str) -> Callable[[Dict[str, Any]], None]:
        def change(call: Dict[str, Any]) -> None:
            call["cache"] = call["cache"] | {field: call["cache"][field].astype(np.float32)}
        return change

    def truncate(field: str) -> Callable[[Dict[str, Any]], None]:
        def change(call: Dict[str, Any]) -> None:
            call["cache"] = call["cache"] | {field: call["cache"][field][:, :1]}
        return change

    every = tuple(CELLS)
    changes: List[Tuple[str, Callable[[Dict[str, Any]], None], Tuple[Words, ...], Any]] = [
        ("cache-missing-h_prev", drop("h_prev"), ("'cache'", "h_prev"), every),
        ("cache-float32-gates", recast("gates"), ("'gates'", "float32"), every),
        ("cache-of-another-call", truncate("gates"), ("'gates'",), every),
        ("cache-list", _set(cache=[1, 2]), ("'cache'",), IN_TURN),
        ("cache-None", _set(cache=None), ("'cache'",), IN_TURN),
        ("x-list", _change("x", lambda a: a.tolist()), ("'x'",), IN_TURN),
        ("dy-shape", _change("dy", lambda a: a[:, :-1]), ("'dy'",), IN_TURN),
        ("mask-int8", _set(mask=np.ones((N, T), np.int8)), ("'mask'",), IN_TURN),
        ("activation-unknown", _set(activation="swish"), ("swish",), IN_TURN),
        ("go_backwards-text", _set(go_backwards="no"), ("'go_backwards'",), IN_TURN),
    ]
    cases = []
    for (label, change, words, _), cell in spread(changes, every):
        function = CELLS[cell].function.replace("forward", "backward")
        variant = "-reset_after-False" if cell == "gru_v1" else ""
        cases.append(refused(f"core/{function}{variant}/{label}", backward_call(cell, change), *words))

    def dense_backward(change: Callable[[Dict[str, Any]], None]) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            rng = np.random.default_rng(0)
            call = {"x": rng.standard_normal((3, F)), "kernel": rng.standard_normal((F, H)), "bias": None}
            call |= {"y": kit.core.dense_forward(**call, activation="tanh"), "dy": np.ones((3, H)),
                     "activation": "tanh"}
            change(call)
            return f"returned gradients {sorted(kit.core.dense_backward(**call))}"
        return run

    cases += [
        refused("core/dense_backward/y-shape", dense_backward(_change("y", lambda a: a[:, :-1])), "'y'"),
        refused("core/dense_backward/y-float32", dense_backward(_change("y", lambda a: a.astype(np.float32))), "'y'"),
        refused("core/dense_backward/dy-3d", dense_backward(_change("dy", lambda a: a[None])), "'dy'"),
        refused("core/dense_backward/x-list", dense_backward(_change("x", lambda a: a.tolist())), "'x'"),
    ]
    return cases


def config_cases() -> List[Case]:
    cases = [refused(f"config/set_num_threads-{label}", lambda kit, v=value: kit.config.set_num_threads(v), "threads")
             for label, value in (("0", 0), ("negative", -4), ("text", "2"), ("float", 2.5), ("huge", 10**20))]
    return cases + [
        refused("config/set_floatx-float16", lambda kit: kit.config.set_floatx("float16"), "float16"),
        refused("config/set_floatx-number", lambda kit: kit.config.set_floatx(64), "64"),
        refused("config/set_epsilon-text", lambda kit: kit.config.set_epsilon("tiny"), "epsilon"),
        refused("config/set_epsilon-negative", lambda kit: kit.config.set_epsilon(-1.0), "epsilon"),
        refused("utils/set_random_seed-text", lambda kit: kit.rnnkit.utils.set_random_seed("abc"), "seed"),
        refused("utils/set_random_seed-float", lambda kit: kit.rnnkit.utils.set_random_seed(1.5), "seed"),
    ]


# ============================================================================ layers
def _construct(kind: str, *args: Any, **kwargs: Any) -> Callable[[Kit], Any]:
    """Constructs ``layers.<kind>(*args, **kwargs)`` and, if that works, calls it on a small
    batch (3-D for recurrent layers, 2-D otherwise), so that a bad value accepted by the
    constructor but refused by the first call still counts as refused."""
    def run(kit: Kit) -> Any:
        layer = getattr(kit.layers, kind)(*args, **kwargs)
        recurrent = isinstance(layer, kit.layers.RNN) or kind == "Bidirectional"
        x = np.random.default_rng(0).standard_normal((2, 5, 3) if recurrent else (2, 3)).astype(np.float32)
        output = layer([x, x] if kind in ("Concatenate", "Dot") else x)
        shapes = [np.shape(o) for o in output] if isinstance(output, list) else np.shape(output)
        return f"constructed, and a call returned shape {shapes}"
    return run


RNN_KINDS = ("LSTM", "GRU", "SimpleRNN")


def layer_constructor_cases() -> List[Case]:
    common: List[Tuple[str, Dict[str, Any], Tuple[Words, ...]]] = [
        *[(f"units={v!r}", {"units": v}, ("units",)) for v in (-1, 0, 2.5, "4", None, True)],
        ("units=1e9", {"units": 10**9}, ("kernel",)),
        ("activation=swish", {"activation": "swish"}, ("swish",)),
        ("activation=5", {"activation": 5}, ("activation",)),
        ("activation=softmax", {"activation": "softmax"}, ("softmax",)),
        *[(f"dropout={v!r}", {"dropout": v}, ("dropout",)) for v in (-0.1, 1.0, 1.5, "0.5", None, float("nan"), [0.1])],
        *[(f"recurrent_dropout={v!r}", {"recurrent_dropout": v}, ("recurrent_dropout",)) for v in (1.0, "x", -1)],
        *[(f"{flag}={v!r}", {flag: v}, (flag,)) for flag, v in (
            ("return_sequences", "no"), ("go_backwards", 1), ("stateful", "True"), ("unroll", None),
            ("return_state", [True]), ("zero_output_for_mask", 0.0), ("use_bias", "False"), ("trainable", "yes"))],
        *[(f"input_shape={v!r}", {"input_shape": v}, ("input_shape",)) for v in ((5, -1), (5, 0), (5, 2.5), 5, "abc")],
        ("batch_input_shape=(0, 5, 3)", {"batch_input_shape": (0, 5, 3)}, ("batch_input_shape",)),
        ("input_dim=0", {"input_dim": 0}, ("input_dim",)),
        ("batch_size=-2", {"batch_size": -2}, ("batch_size",)),
        ("kernel_initializer=nonexistent", {"kernel_initializer": "nonexistent"}, ("nonexistent",)),
        ("kernel_initializer=42", {"kernel_initializer": 42}, ("initializer",)),
        ("recurrent_initializer=orthogonal2", {"recurrent_initializer": "orthogonal2"}, ("orthogonal2",)),
        ("kernel_regularizer=l3", {"kernel_regularizer": "l3"}, ("l3",)),
        ("bias_regularizer=0.01", {"bias_regularizer": 0.01}, ("regularizer",)),
        *[(f"dtype={v}", {"dtype": v}, (("dtype", "data type"),)) for v in ("float16", "int32", "complex64", "banana")],
        ("name=123", {"name": 123}, ("name",)),
        ("seed=abc", {"seed": "abc"}, ("seed",)),
        ("seed=-1", {"seed": -1}, ("seed",)),
        ("unknown-keyword", {"foo": 1}, ("foo",)),
    ]
    specific = {
        "LSTM": [("recurrent_activation=relu6", {"recurrent_activation": "relu6"}, ("relu6",)),
                 ("unit_forget_bias=0", {"unit_forget_bias": 0}, ("unit_forget_bias",)),
                 ("peephole=yes", {"peephole": "yes"}, ("peephole",)),
                 ("peephole_initializer=abc", {"peephole_initializer": "abc"}, ("abc",))],
        "GRU": [("recurrent_activation=relu6", {"recurrent_activation": "relu6"}, ("relu6",)),
                ("reset_after=no", {"reset_after": "no"}, ("reset_after",))],
        "SimpleRNN": [("units=2**40", {"units": 2**40}, ("kernel",))],
    }
    entries = [(label, kwargs, words, IN_TURN) for label, kwargs, words in common]
    entries += [(label, kwargs, words, (kind,)) for kind, table in specific.items() for label, kwargs, words in table]
    cases = [refused(f"layers/{kind}/{label}", _construct(kind, **({"units": 4} | kwargs)), *words)
             for (label, kwargs, words, _), kind in spread(entries, RNN_KINDS)]
    for kind in ("LSTMCell", "GRUCell", "SimpleRNNCell"):
        cases += [refused(f"layers/{kind}/units=0", lambda kit, k=kind: getattr(kit.layers, k)(0), "units"),
                  refused(f"layers/{kind}/dropout=2", lambda kit, k=kind: getattr(kit.layers, k)(4, dropout=2),
                          "dropout"),
                  refused(f"layers/{kind}/call-without-states", lambda kit, k=kind: getattr(kit.layers, k)(4)(
                      np.zeros((2, 3), np.float32)), "states")]
    others: List[Tuple[str, str, Tuple[Any, ...], Dict[str, Any], Tuple[Words, ...]]] = [
        *[("Dense", f"units={v!r}", (v,), {}, ("units",)) for v in (-1, 0, "4", None)],
        ("Dense", "units=1e9", (10**9,), {}, ("kernel",)),
        ("Dense", "activation=swish", (2,), {"activation": "swish"}, ("swish",)),
        ("Dense", "activation=3", (2,), {"activation": 3}, ("activation",)),
        ("Dense", "use_bias=no", (2,), {"use_bias": "no"}, ("use_bias",)),
        ("Dense", "kernel_initializer=zzz", (2,), {"kernel_initializer": "zzz"}, ("zzz",)),
        ("Dense", "input_shape=5", (2,), {"input_shape": 5}, ("input_shape",)),
        ("Dense", "dtype=float16", (2,), {"dtype": "float16"}, (("dtype", "data type"),)),
        *[("Embedding", f"input_dim={v!r}", (v, 3), {}, ("input_dim",)) for v in (0, -5, 2.5, "10")],
        *[("Embedding", f"output_dim={v!r}", (10, v), {}, ("output_dim",)) for v in (0, True)],
        ("Embedding", "mask_zero=yes", (10, 3), {"mask_zero": "yes"}, ("mask_zero",)),
        ("Embedding", "input_dim=1e9", (10**9, 100), {}, ("embeddings",)),
        *[("Masking", f"mask_value={v!r}", (v,), {}, ("mask_value",)) for v in ("a", None, [0.0])],
        *[("Dropout", f"rate={v!r}", (v,), {}, ("rate",)) for v in (1, -0.5, "x", None, float("nan"))],
        ("Activation", "swish", ("swish",), {}, ("swish",)),
        ("Activation", "5", (5,), {}, ("activation",)),
        *[("RepeatVector", f"n={v!r}", (v,), {}, ("n",)) for v in (0, "3", 2.5)],
        *[("Reshape", f"target_shape={v!r}", (v,), {}, ("target_shape",))
          for v in ((0,), (-1, -1), "abc", None, (2.5,))],
        ("Bidirectional", "merge_mode=max", (), {"merge_mode": "max"}, ("merge_mode",)),
        ("Bidirectional", "merge_mode=5", (), {"merge_mode": 5}, ("merge_mode",)),
        ("Concatenate", "axis=text", (), {"axis": "last"}, ("axis",)),
        ("Dot", "axes=text", ("x",), {}, ("axes",)),
        ("Dot", "normalize=yes", (1,), {"normalize": "yes"}, ("normalize",)),
    ]
    for kind, label, args, kwargs, words in others:
        if kind == "Bidirectional":
            def run(kit: Kit, kwargs: Dict[str, Any] = kwargs) -> Any:
                return _construct("Bidirectional", kit.layers.LSTM(4), **kwargs)(kit)
        else:
            run = _construct(kind, *args, **kwargs)
        cases.append(refused(f"layers/{kind}/{label}", run, *words))
    cases += [
        refused("layers/Bidirectional/layer=Dense", lambda kit: kit.layers.Bidirectional(kit.layers.Dense(2)), "Dense"),
        refused("layers/Bidirectional/layer=text", lambda kit: kit.layers.Bidirectional("lstm"), "layer"),
        refused("layers/Bidirectional/backward_layer=Dense", lambda kit: kit.layers.Bidirectional(
            kit.layers.LSTM(4), backward_layer=kit.layers.Dense(4)), "backward_layer"),
        refused("layers/Bidirectional/same-direction", lambda kit: kit.layers.Bidirectional(
            kit.layers.LSTM(4), backward_layer=kit.layers.LSTM(4)), "go_backwards"),
        refused("layers/Bidirectional/sum-of-widths-4-and-3", lambda kit: kit.layers.Bidirectional(
            kit.layers.LSTM(4), merge_mode="sum", backward_layer=kit.layers.LSTM(3, go_backwards=True)), "sum"),
        refused("layers/TimeDistributed/layer=text", lambda kit: kit.layers.TimeDistributed("dense"), "layer"),
        refused("layers/TimeDistributed/layer=5", lambda kit: kit.layers.TimeDistributed(5), "layer"),
        refused("layers/RNN/cell=5", lambda kit: kit.layers.RNN(5), "cell"),
        refused("layers/RNN/cell=text", lambda kit: kit.layers.RNN("lstm"), "cell"),
        refused("layers/RNN/cells=[]", _construct("RNN", []), "cell"),
        refused("layers/Input/shape=(-1,)", lambda kit: kit.layers.Input((-1,)), "shape"),
        refused("layers/Input/shape=text", lambda kit: kit.layers.Input("abc"), "shape"),
        refused("layers/Input/shape=None", lambda kit: kit.layers.Input(None), "shape"),
        refused("layers/Input/batch_size=0", lambda kit: kit.layers.Input((5, 3), batch_size=0), "batch_size"),
        refused("layers/Input/dtype=complex64", lambda kit: kit.layers.Input((5, 3), dtype="complex64"),
                ("dtype", "data type")),
        refused("layers/Input/dtype=banana", lambda kit: kit.layers.Input((5, 3), dtype="banana"),
                ("dtype", "data type")),
    ]
    return cases


PROBE = "probe"  # the name given to the layer under test: its errors should name it


def layer_call_cases() -> List[Case]:
    x = np.random.default_rng(0).standard_normal((8, 5, 3)).astype(np.float32)
    named = (PROBE, "'x'", "inputs")

    def states(kit: Kit, make: Callable[..., Any], value: np.ndarray) -> List[np.ndarray]:
        """``value`` for each state of the layer: h, and c for an LSTM."""
        return [value] * (2 if isinstance(make(), kit.layers.LSTM) else 1)

    def stateful_batch(kit: Kit, make: Callable[..., Any]) -> Any:
        model = kit.models.Sequential([kit.layers.Input((5, 3), batch_size=8), make(stateful=True)])
        model.predict(x, verbose=0)
        return model.predict(x[:4], verbose=0)

    # Each call gets ``make(**options)``, which makes the layer under test (named PROBE).
    calls: List[Tuple[str, Callable[[Kit, Callable[..., Any]], Any], Tuple[Words, ...], str]] = [
        ("x-2d", lambda kit, make: make()(x[:, 0]), (named,), IN_TURN),
        ("x-4d", lambda kit, make: make()(x[..., None]), (named,), IN_TURN),
        ("x-strings", lambda kit, make: make()(x.astype(str)), (named,), IN_TURN),
        ("x-complex", lambda kit, make: make()(x.astype(np.complex64)), (named,), IN_TURN),
        ("x-object", lambda kit, make: make()(x.astype(object)), (named,), IN_TURN),
        ("x-nan", lambda kit, make: make()(np.where(x > 1, np.nan, x)), (named,), IN_TURN),
        ("x-empty-batch", lambda kit, make: make()(x[:0]), (named,), IN_TURN),
        ("x-no-steps", lambda kit, make: make()(x[:, :0]), (named,), IN_TURN),
        ("features-change-after-build", lambda kit, make: [layer(a) for layer in [make()]
                                                           for a in (x, np.ones((8, 5, 4), np.float32))],
         (named,), IN_TURN),
        ("mask-shape", lambda kit, make: make()(x, mask=np.ones((8, 4), bool)), ("mask",), IN_TURN),
        ("mask-float", lambda kit, make: make()(x, mask=np.ones((8, 5))), ("mask",), IN_TURN),
        ("mask-text", lambda kit, make: make()(x, mask="all"), ("mask",), IN_TURN),
        ("initial_state-count", lambda kit, make: make()(x, initial_state=[np.zeros((8, 4))] * 3),
         ("initial_state",), IN_TURN),
        ("initial_state-shape", lambda kit, make: make()(x, initial_state=states(kit, make, np.zeros((8, 5)))),
         (("initial_state", "initial state"),), IN_TURN),
        ("initial_state-nan", lambda kit, make: make()(x, initial_state=states(kit, make, np.full((8, 4), np.nan))),
         (("initial_state", "initial state", "'h0'"),), IN_TURN),
        ("unknown-keyword", lambda kit, make: make()(x, foo=1), ("foo",), IN_TURN),
        ("stateful-batch-change", stateful_batch, ("batch",), IN_TURN),
        ("stateful-without-batch-size", lambda kit, make: kit.models.Sequential(
            [kit.layers.Input((5, 3)), make(stateful=True)]).predict(x, verbose=0), ("stateful",), IN_TURN),
    ]
    cases = []
    for (label, call, words, _), kind in spread(calls, RNN_KINDS):
        def run(kit: Kit, kind: str = kind, call: Callable[[Kit, Callable[..., Any]], Any] = call) -> Any:
            def make(**options: Any) -> Any:
                return getattr(kit.layers, kind)(4, name=PROBE, **options)
            return f"returned {type(call(kit, make)).__name__}"
        cases.append(refused(f"layers/{kind}/call-{label}", run, *words))

    ids = np.array([[1, 2, 3], [4, 5, 0]])
    other_calls: List[Tuple[str, Callable[[Kit], Any], Tuple[Words, ...]]] = [
        ("Dense/call-1d", lambda kit: kit.layers.Dense(2, name=PROBE)(np.ones(3, np.float32)), (named,)),
        ("Dense/call-features-change", lambda kit: [layer(a) for layer in [kit.layers.Dense(2, name=PROBE)]
                                                    for a in (np.ones((2, 3)), np.ones((2, 4)))], (named,)),
        ("Dense/call-strings", lambda kit: kit.layers.Dense(2, name=PROBE)(np.array([["a", "b"]])), (named,)),
        ("Embedding/ids-too-large", lambda kit: kit.layers.Embedding(6, 3, name=PROBE)(ids + 1), ("input_dim",)),
        ("Embedding/ids-negative", lambda kit: kit.layers.Embedding(6, 3, name=PROBE)(-ids), ("input_dim",)),
        ("Embedding/ids-fractional", lambda kit: kit.layers.Embedding(6, 3, name=PROBE)(ids + 0.5), ("integer",)),
        ("Embedding/ids-nan", lambda kit: kit.layers.Embedding(6, 3, name=PROBE)(np.where(ids > 4, np.nan, ids)),
         ("integer",)),
        ("Embedding/ids-strings", lambda kit: kit.layers.Embedding(6, 3, name=PROBE)(ids.astype(str)), (PROBE,)),
        ("Embedding/ids-complex", lambda kit: kit.layers.Embedding(6, 3, name=PROBE)(ids + 0j), (PROBE,)),
        ("Embedding/ids-2**62", lambda kit: kit.layers.Embedding(6, 3, name=PROBE)(ids * 2**60), ("input_dim",)),
        ("Embedding/ids-scalar", lambda kit: kit.layers.Embedding(6, 3, name=PROBE)(np.int64(2)), (PROBE,)),
        ("Masking/call-1d", lambda kit: kit.layers.Masking(name=PROBE)(np.ones(3, np.float32)), (PROBE,)),
        ("Dropout/noise_shape-mismatch", lambda kit: kit.layers.Dropout(0.5, noise_shape=(5, 5, 5), name=PROBE)(
            x, training=True), ("noise_shape",)),
        ("Dropout/noise_shape-text", lambda kit: kit.layers.Dropout(0.5, noise_shape="abc", name=PROBE)(
            x, training=True), ("noise_shape",)),
        ("RepeatVector/call-3d", lambda kit: kit.layers.RepeatVector(2, name=PROBE)(x), (PROBE,)),
        ("Reshape/call-incompatible", lambda kit: kit.layers.Reshape((7,), name=PROBE)(x), (PROBE,)),
        ("TimeDistributed/call-2d", lambda kit: kit.layers.TimeDistributed(kit.layers.Dense(2), name=PROBE)(x[:, 0]),
         ((PROBE, "TimeDistributed"),)),
        ("Bidirectional/call-2d", lambda kit: kit.layers.Bidirectional(kit.layers.GRU(2), name=PROBE)(x[:, 0]),
         ((PROBE, "Bidirectional", "forward_gru"),)),
        ("Add/shapes-differ", lambda kit: kit.layers.Add(name=PROBE)([x, x[..., :2]]), (PROBE,)),
        ("Add/one-input", lambda kit: kit.layers.Add(name=PROBE)([x]), (PROBE,)),
        ("Concatenate/batch-differs", lambda kit: kit.layers.Concatenate(name=PROBE)([x, x[:4]]), (PROBE,)),
        ("Dot/axes-out-of-range", lambda kit: kit.layers.Dot(axes=5, name=PROBE)([x, x]), (PROBE,)),
    ]
    cases += [refused(f"layers/{label}", run, *words) for label, run, words in other_calls]
    return cases


# ============================================================================ models, compile, fit
def tiny_model(kit: Kit, compiled: bool = True, dtype: Optional[str] = None, seed: int = 0) -> Any:
    """Input((5, 3)) -> LSTM(4) -> Dense(2), compiled with Adam and MSE."""
    kit.rnnkit.utils.set_random_seed(seed)
    model = kit.models.Sequential([kit.layers.Input((5, 3), dtype=dtype), kit.layers.LSTM(4, name="lstm", dtype=dtype),
                                   kit.layers.Dense(2, name="dense", dtype=dtype)])
    if compiled:
        model.compile("adam", "mse")
    return model


def tiny_data(samples: int = 8, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((samples, 5, 3)).astype(np.float32), rng.standard_normal((samples, 2)).astype(np.float32)


def model_cases() -> List[Case]:
    def disconnected(kit: Kit) -> Any:
        a, orphan = kit.layers.Input((5, 3)), kit.layers.Input((5, 3), name="orphan")
        return kit.models.Model([a, orphan], kit.layers.Dense(2)(kit.layers.LSTM(4)(a)))

    def duplicate_names(kit: Kit) -> Any:
        a = kit.layers.Input((5, 3))
        return kit.models.Model(a, kit.layers.Dense(2, name="twin")(kit.layers.LSTM(4, name="twin")(a)))

    def stacked_without_sequences(kit: Kit) -> Any:
        return kit.models.Sequential([kit.layers.Input((5, 3)), kit.layers.LSTM(4), kit.layers.LSTM(4, name=PROBE)])

    def set_weights(values: Callable[[Any], List[Any]]) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            model = tiny_model(kit)
            model.set_weights(values(model))
            return "weights set"
        return run

    return [
        refused("models/Sequential/layers=[5]", lambda kit: kit.models.Sequential([5]), "layer"),
        refused("models/Sequential/layers=text", lambda kit: kit.models.Sequential("lstm"), "layer"),
        refused("models/Sequential/duplicate-names", lambda kit: kit.models.Sequential(
            [kit.layers.LSTM(4, name="twin", input_shape=(5, 3)), kit.layers.Dense(2, name="twin")]), "twin"),
        refused("models/Sequential/return_state-layer", lambda kit: kit.models.Sequential(
            [kit.layers.Input((5, 3)), kit.layers.LSTM(4, return_state=True, name=PROBE)]), PROBE),
        refused("models/Sequential/lstm-after-lstm-without-sequences", stacked_without_sequences, PROBE),
        refused("models/Sequential/Input-not-first", lambda kit: kit.models.Sequential(
            [kit.layers.Dense(2), kit.layers.Input((3,))]), "Input"),
        refused("models/Sequential/summary-unbuilt", lambda kit: kit.models.Sequential([kit.layers.LSTM(4)]).summary(),
                "built"),
        refused("models/Sequential/get_layer-unknown", lambda kit: tiny_model(kit).get_layer("nope"), "nope"),
        refused("models/Sequential/set_weights-count", set_weights(lambda m: m.get_weights()[:-1]), "weights"),
        refused("models/Sequential/set_weights-shape", set_weights(lambda m: [w.T for w in m.get_weights()]), "shape"),
        refused("models/Sequential/set_weights-strings", set_weights(lambda m: [np.full(w.shape, "abc")
                                                                                for w in m.get_weights()]), "weight"),
        refused("models/Sequential/input-huge-features", lambda kit: kit.models.Sequential(
            [kit.layers.Input((5, 10**9)), kit.layers.LSTM(4)]), "kernel"),
        refused("models/Model/inputs-array", lambda kit: kit.models.Model(np.zeros(3), np.zeros(3)), "input"),
        refused("models/Model/no-outputs", lambda kit: kit.models.Model(kit.layers.Input((3,))), "outputs"),
        refused("models/Model/disconnected-input", disconnected, "orphan"),
        refused("models/Model/duplicate-names", duplicate_names, "twin"),
        refused("models/model_from_json/not-json", lambda kit: kit.models.model_from_json("{not json"), "JSON"),
        refused("models/model_from_json/os.system", lambda kit: kit.models.model_from_json(
            json.dumps({"class_name": "os.system", "config": {"command": "true"}})), "os.system"),
    ]


def compile_cases() -> List[Case]:
    def compile_with(**kwargs: Any) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            model = tiny_model(kit, compiled=False)
            model.compile(**({"optimizer": "adam", "loss": "mse"} | kwargs))
            x, y = tiny_data()
            return f"compiled; one training step gave loss {model.train_on_batch(x, y)}"
        return run

    return [
        refused("compile/optimizer=adamx", compile_with(optimizer="adamx"), "adamx"),
        refused("compile/optimizer=5", compile_with(optimizer=5), "optimizer"),
        refused("compile/optimizer=None", compile_with(optimizer=None), "optimizer"),
        refused("compile/loss=msee", compile_with(loss="msee"), "msee"),
        refused("compile/loss=None", compile_with(loss=None), "loss"),
        refused("compile/loss=5", compile_with(loss=5), "loss"),
        refused("compile/loss-list-of-2", compile_with(loss=["mse", "mae"]), "loss"),
        refused("compile/loss-dict-unknown-output", compile_with(loss={"nope": "mse"}), "nope"),
        refused("compile/metrics=accuracy-not-a-list", compile_with(metrics="accuracy"), "metrics"),
        refused("compile/metrics=[acc_typo]", compile_with(metrics=["acc_typo"]), "acc_typo"),
        refused("compile/metrics=[5]", compile_with(metrics=[5]), "metric"),
        refused("compile/weighted_metrics=5", compile_with(weighted_metrics=5), "weighted_metrics"),
        refused("compile/loss_weights=text", compile_with(loss_weights="1"), "loss_weights"),
        refused("compile/loss_weights-list-of-2", compile_with(loss_weights=[1.0, 2.0]), "loss_weights"),
        refused("compile/unknown-keyword", compile_with(foo=1), "foo"),
    ]


_TINY_DATA = object()  # the default of _fit's x and y: tiny_data()


def _fit(x: Any = _TINY_DATA, y: Any = _TINY_DATA, **kwargs: Any) -> Callable[[Kit], Any]:
    """fit(x, y, **kwargs) on the tiny model, silent unless ``verbose`` is given."""
    def run(kit: Kit) -> Any:
        data_x, data_y = tiny_data()
        history = tiny_model(kit).fit(data_x if x is _TINY_DATA else x, data_y if y is _TINY_DATA else y,
                                      **({"verbose": 0} | kwargs))
        return f"trained: {history.history}"
    return run


def fit_cases() -> List[Case]:
    x, y = tiny_data()
    xq, yq = "'x'", ("'y'", "y has", "y[")
    cases = [
        refused("fit/x-2d", _fit(x[:, 0]), "(8, 3)"),
        refused("fit/x-4d", _fit(x[..., None]), "(8, 5, 3, 1)"),
        refused("fit/x-features-4", _fit(np.ones((8, 5, 4), np.float32)), "(8, 5, 4)"),
        refused("fit/x-6-steps-for-Input-of-5", _fit(np.ones((8, 6, 3), np.float32)), "(8, 6, 3)"),
        refused("fit/x-strings", _fit(x.astype(str)), xq),
        refused("fit/x-object", _fit(x.astype(object)), xq),
        refused("fit/x-complex", _fit(x.astype(np.complex64)), xq),
        refused("fit/x-nan", _fit(np.where(x > 1, np.nan, x)), xq),
        refused("fit/x-inf", _fit(np.where(x > 1, np.inf, x)), xq),
        refused("fit/x-empty", _fit(x[:0], y[:0]), xq),
        refused("fit/x-None", _fit(None), xq),
        refused("fit/x-dict-unknown-key", _fit({"wrong": x}), "wrong"),
        refused("fit/x-list-of-2-for-1-input", _fit([x, x]), "input"),
        refused("fit/x-ragged-list", _fit([[[0.0] * 3] * 5, [[0.0] * 3] * 4], y[:2]), xq),
        refused("fit/y-shape", _fit(y=np.ones((8, 3), np.float32)), "(8, 3)"),
        refused("fit/y-3d", _fit(y=np.ones((8, 5, 2), np.float32)), "(8, 5, 2)"),
        refused("fit/y-nan", _fit(y=np.where(y > 1, np.nan, y)), yq),
        refused("fit/y-strings", _fit(y=y.astype(str)), yq),
        refused("fit/y-None", _fit(y=None), ("targets", "'y'")),
        refused("fit/y-7-samples", _fit(y=y[:7]), yq),
        *[refused(f"fit/batch_size={v!r}", _fit(batch_size=v), "batch_size") for v in (0, -1, 2.5, "32", True)],
        *[refused(f"fit/epochs={v!r}", _fit(epochs=v), "epochs") for v in (-1, 2.5, "3", None)],
        *[refused(f"fit/validation_split={v!r}", _fit(validation_split=v), "validation_split")
          for v in (1.0, -0.1, 1.5, "0.2", float("nan"), 0.99)],
        refused("fit/validation_data=5", _fit(validation_data=5), "validation_data"),
        refused("fit/validation_data-1-tuple", _fit(validation_data=(x,)), "validation_data"),
        refused("fit/validation_data-4-tuple", _fit(validation_data=(x, y, None, None)), "validation_data"),
        refused("fit/validation_data-features-4", _fit(validation_data=(np.ones((8, 5, 4), np.float32), y)),
                "(8, 5, 4)"),
        refused("fit/sample_weight-7", _fit(sample_weight=np.ones(7)), "sample_weight"),
        refused("fit/sample_weight-2d", _fit(sample_weight=np.ones((8, 3))), "sample_weight"),
        refused("fit/sample_weight-nan", _fit(sample_weight=np.where(np.arange(8) == 3, np.nan, 1.0)),
                "sample_weight"),
        refused("fit/sample_weight-strings", _fit(sample_weight=np.array(["1"] * 8)), "sample_weight"),
        refused("fit/class_weight-value-text", _fit(class_weight={0: "a"}), "class_weight"),
        refused("fit/class_weight-list", _fit(class_weight=[1.0, 2.0]), "class_weight"),
        refused("fit/class_weight-text", _fit(class_weight="balanced"), "class_weight"),
        refused("fit/class_weight-key-text", _fit(class_weight={"a": 1.0}), "class_weight"),
        refused("fit/class_weight-and-sample_weight", _fit(class_weight={0: 1.0}, sample_weight=np.ones(8)),
                "class_weight"),
        refused("fit/verbose=5", _fit(verbose=5), "verbose"),
        refused("fit/callbacks=[5]", _fit(callbacks=[5]), "callback"),
        refused("fit/callbacks=text", _fit(callbacks="early"), "callback"),
        refused("fit/steps_per_epoch=0", _fit(steps_per_epoch=0), "steps_per_epoch"),
        refused("fit/initial_epoch=-1", _fit(initial_epoch=-1), "initial_epoch"),
        refused("fit/validation_freq=0", _fit(validation_freq=0), "validation_freq"),
        refused("fit/generator-yielding-text", _fit(iter(["batch"] * 3), None, steps_per_epoch=2), "generator"),
        refused("fit/not-compiled", lambda kit: tiny_model(kit, compiled=False).fit(x, y, verbose=0), "compile"),
    ]

    def predict(data: Any, **kwargs: Any) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            return f"predicted shape {np.shape(tiny_model(kit).predict(data, **({'verbose': 0} | kwargs)))}"
        return run

    def evaluate(data: Any, targets: Any, compiled: bool = True, **kwargs: Any) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            return f"evaluated: {tiny_model(kit, compiled).evaluate(data, targets, **({'verbose': 0} | kwargs))}"
        return run

    def train_on_batch(**kwargs: Any) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            return f"trained: {tiny_model(kit).train_on_batch(**({'x': x, 'y': y} | kwargs))}"
        return run

    cases += [
        refused("predict/x-2d", predict(x[:, 0]), "(8, 3)"),
        refused("predict/x-strings", predict(x.astype(str)), xq),
        refused("predict/x-None", predict(None), xq),
        refused("predict/x-empty", predict(x[:0]), xq),
        refused("predict/batch_size=0", predict(x, batch_size=0), "batch_size"),
        refused("predict/steps=0", predict(x, steps=0), "steps"),
        refused("predict/verbose=7", predict(x, verbose=7), "verbose"),
        refused("predict/huge-1e9-steps", lambda kit: kit.models.Sequential(
            [kit.layers.Input((None, 3)), kit.layers.LSTM(4)]).predict(
            np.broadcast_to(np.float32(0.5), (1, 10**9, 3)), verbose=0).shape, ("'x'", "lstm")),
        refused("evaluate/no-y", evaluate(x, None), ("targets", "'y'")),
        refused("evaluate/not-compiled", evaluate(x, y, compiled=False), "compile"),
        refused("evaluate/y-shape", evaluate(x, np.ones((8, 3), np.float32)), "(8, 3)"),
        refused("evaluate/steps=-1", evaluate(x, y, steps=-1), "steps"),
        refused("train_on_batch/class_weight-and-sample_weight", train_on_batch(
            class_weight={0: 1.0}, sample_weight=np.ones(8)), "class_weight"),
        refused("train_on_batch/x-7-samples", train_on_batch(x=x[:7]), ("x has", "'x'")),
    ]
    return cases


def _layer_and_ops_problem(kit: Kit) -> Optional[str]:
    """predict equals the layers' equations computed with the NumPy reference."""
    model = tiny_model(kit)
    x, _ = tiny_data()
    kernel, recurrent_kernel, bias, dense_kernel, dense_bias = model.get_weights()
    _, h, _ = reference_cell("lstm", x, kernel, recurrent_kernel, bias)
    return mismatch("predict", model.predict(x, verbose=0), h @ dense_kernel + dense_bias, 1e-5)


def _same_predictions(transform: Callable[[np.ndarray], Any], tolerance: float = 0.0,
                      **kwargs: Any) -> Callable[[Kit], Optional[str]]:
    """predict(transform(x), **kwargs) equals predict(x) of the same values."""
    def run(kit: Kit) -> Optional[str]:
        model = tiny_model(kit)
        x, _ = tiny_data()
        changed = transform(x)
        expected = model.predict(np.asarray(changed, dtype=np.float32), verbose=0)
        return mismatch("predict", model.predict(changed, verbose=0, **kwargs), expected, tolerance)
    return run


def _read_only_copy(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array.flags.writeable = False
    return array


def valid_model_cases() -> List[Case]:
    def evaluate_is_mse(kit: Kit) -> Optional[str]:
        model = tiny_model(kit)
        x, y = tiny_data()
        loss = model.evaluate(x, y, verbose=0, batch_size=3)
        return mismatch("evaluate", loss, np.mean((model.predict(x, verbose=0) - y) ** 2), 1e-5)

    def one_sample(kit: Kit) -> Optional[str]:
        x, y = tiny_data(1)
        losses = tiny_model(kit).fit(x, y, epochs=3, batch_size=1, verbose=0).history["loss"]
        return None if len(losses) == 3 and np.all(np.isfinite(losses)) else f"losses {losses}"

    def no_epochs(kit: Kit) -> Optional[str]:
        model = tiny_model(kit)
        before = model.get_weights()
        model.fit(*tiny_data(), epochs=0, verbose=0)
        return first_problem(*[mismatch("weight", a, b, 0) for a, b in zip(model.get_weights(), before)])

    def zero_sample_weights(kit: Kit) -> Optional[str]:
        model = tiny_model(kit)
        before = model.get_weights()
        loss = model.train_on_batch(*tiny_data(), sample_weight=np.zeros(8))
        return first_problem(mismatch("loss", loss, 0.0, 0),
                             *[mismatch("weight", a, b, 0) for a, b in zip(model.get_weights(), before)])

    def unit_class_weights(kit: Kit) -> Optional[str]:
        x, _ = tiny_data()
        labels = (x[:, 0, :2] > 0).astype(np.float32)
        plain, weighted = tiny_model(kit, seed=1), tiny_model(kit, seed=1)
        expected = plain.train_on_batch(x, labels)
        got = weighted.train_on_batch(x, labels, class_weight={0: 1.0, 1: 1.0})
        return first_problem(mismatch("loss", got, expected, 0),
                             *[mismatch("weight", a, b, 0)
                               for a, b in zip(weighted.get_weights(), plain.get_weights())])

    def float64_model(kit: Kit) -> Optional[str]:
        single, double = tiny_model(kit), tiny_model(kit, dtype="float64")
        double.set_weights(single.get_weights())
        x, _ = tiny_data()
        prediction = double.predict(x.astype(np.float64), verbose=0)
        if prediction.dtype != np.float64:
            return f"a float64 model predicted {prediction.dtype}"
        return mismatch("float64 predict", prediction, single.predict(x, verbose=0), 1e-5)

    def masked_equals_trimmed(kit: Kit) -> Optional[str]:
        kit.rnnkit.utils.set_random_seed(0)
        x, _ = tiny_data()
        lengths = np.array([5, 1, 3, 4, 2, 5, 1, 3])
        padded = np.where(np.arange(5)[None, :, None] < lengths[:, None, None], x + 5, 0).astype(np.float32)
        masked = kit.models.Sequential([kit.layers.Input((None, 3)), kit.layers.Masking(0.0), kit.layers.GRU(4)])
        plain = kit.models.Sequential([kit.layers.Input((None, 3)), kit.layers.GRU(4)])
        plain.set_weights(masked.get_weights())
        got = masked.predict(padded, verbose=0)
        expected = np.concatenate([plain.predict(padded[k:k + 1, :n], verbose=0) for k, n in enumerate(lengths)])
        return mismatch("masked predict vs each sequence alone", got, expected, 1e-6)

    def bidirectional_sum(kit: Kit) -> Optional[str]:
        x, _ = tiny_data()
        layer = kit.layers.Bidirectional(kit.layers.LSTM(4, return_sequences=True), merge_mode="sum")
        got = layer(x)
        kernel, recurrent_kernel, bias, *backward = [w.astype(np.float64) for w in layer.get_weights()]
        forward_outputs, _, _ = reference_cell("lstm", x, kernel, recurrent_kernel, bias)
        backward_outputs, _, _ = reference_cell("lstm", x, *backward, go_backwards=True)
        return mismatch("Bidirectional sum", got, forward_outputs + backward_outputs[:, ::-1], 1e-5)

    def time_distributed(kit: Kit) -> Optional[str]:
        x, _ = tiny_data()
        dense = kit.layers.Dense(2, activation="tanh")
        expected = dense(x)
        return mismatch("TimeDistributed(Dense)", kit.layers.TimeDistributed(dense)(x), expected, 0)

    def go_backwards_layer(kit: Kit) -> Optional[str]:
        x, _ = tiny_data()
        backwards = kit.layers.GRU(3, go_backwards=True)
        got = backwards(x)
        forwards = kit.layers.GRU(3)
        forwards(x)
        forwards.set_weights(backwards.get_weights())
        return mismatch("GRU(go_backwards=True)(x) vs GRU(x[:, ::-1])", got, forwards(x[:, ::-1].copy()), 1e-6)

    def stateful_halves(kit: Kit) -> Optional[str]:
        x, _ = tiny_data()
        stateful = kit.models.Sequential([kit.layers.Input((None, 3), batch_size=8), kit.layers.LSTM(4, stateful=True)])
        whole = kit.models.Sequential([kit.layers.Input((None, 3)), kit.layers.LSTM(4)])
        whole.set_weights(stateful.get_weights())
        stateful.predict(x[:, :2], verbose=0, batch_size=8)
        return mismatch("stateful halves vs whole", stateful.predict(x[:, 2:], verbose=0, batch_size=8),
                        whole.predict(x, verbose=0), 1e-6)

    def embedding_float_ids(kit: Kit) -> Optional[str]:
        ids = np.array([[1, 2, 0], [5, 4, 3]])
        layer = kit.layers.Embedding(6, 3, mask_zero=True)
        return mismatch("float ids vs int ids", layer(ids.astype(np.float32)), layer(ids), 0)

    def smallest_simple_rnn(kit: Kit) -> Optional[str]:
        layer = kit.layers.SimpleRNN(1, activation="relu")
        x = np.array([[[0.7]]], np.float32)
        got = layer(x)
        return mismatch("SimpleRNN(1) on (1, 1, 1)", got, reference_cell("simple_rnn", x, *layer.get_weights(),
                                                                        activation="relu")[1], 1e-6)

    def gru_cho(kit: Kit) -> Optional[str]:
        x, _ = tiny_data()
        layer = kit.layers.GRU(4, reset_after=False, return_sequences=True)
        got = layer(x)
        return mismatch("GRU(reset_after=False)", got, reference_cell("gru", x, *layer.get_weights(),
                                                                      reset_after=False)[0], 1e-5)

    def layer_call_vs_predict(kit: Kit) -> Optional[str]:
        model = tiny_model(kit)
        x, _ = tiny_data()
        return mismatch("model(x) vs predict", model(x), model.predict(x, verbose=0, batch_size=3), 1e-6)

    def validation_split_is_the_tail(kit: Kit) -> Optional[str]:
        model = tiny_model(kit)
        x, y = tiny_data()
        history = model.fit(x, y, validation_split=0.25, shuffle=False, epochs=1, verbose=0)
        return mismatch("val_loss vs evaluate on the last 2 samples", history.history["val_loss"][-1],
                        model.evaluate(x[6:], y[6:], verbose=0), 1e-6)

    def predict_steps(kit: Kit) -> Optional[str]:
        model = tiny_model(kit)
        x, _ = tiny_data()
        return mismatch("predict(steps=2, batch_size=3)", model.predict(x, steps=2, batch_size=3, verbose=0),
                        model.predict(x, verbose=0)[:6], 1e-6)

    def clone_round_trip(kit: Kit) -> Optional[str]:
        model = tiny_model(kit)
        clone = kit.models.clone_model(model)
        clone.set_weights(model.get_weights())
        x, _ = tiny_data()
        return mismatch("clone_model", clone.predict(x, verbose=0), model.predict(x, verbose=0), 0)

    return [
        valid("valid/predict-vs-numpy-reference", _layer_and_ops_problem),
        valid("valid/predict-batch_size-1", _same_predictions(lambda a: a, 1e-6, batch_size=1)),
        valid("valid/predict-batch_size-huge", _same_predictions(lambda a: a, 1e-6, batch_size=10**9)),
        valid("valid/predict-float16-x", _same_predictions(lambda a: a.astype(np.float16))),
        valid("valid/predict-float64-x", _same_predictions(lambda a: a.astype(np.float64))),
        valid("valid/predict-int-x", _same_predictions(lambda a: np.rint(a * 3).astype(np.int64))),
        valid("valid/predict-bool-x", _same_predictions(lambda a: a > 0)),
        valid("valid/predict-list-x", _same_predictions(lambda a: a.tolist())),
        valid("valid/predict-non-contiguous-x", _same_predictions(lambda a: np.repeat(a, 2, axis=0)[::2])),
        valid("valid/predict-fortran-x", _same_predictions(np.asfortranarray)),
        valid("valid/predict-read-only-x", _same_predictions(_read_only_copy)),
        valid("valid/model-call-vs-predict", layer_call_vs_predict),
        valid("valid/evaluate-is-mse", evaluate_is_mse),
        valid("valid/fit-one-sample", one_sample),
        valid("valid/fit-epochs-0", no_epochs),
        valid("valid/train_on_batch-zero-sample-weights", zero_sample_weights),
        valid("valid/class_weight-of-ones", unit_class_weights),
        valid("valid/float64-model", float64_model),
        valid("valid/masking-equals-trimmed-sequences", masked_equals_trimmed),
        valid("valid/bidirectional-sum", bidirectional_sum),
        valid("valid/time-distributed-dense", time_distributed),
        valid("valid/gru-go_backwards", go_backwards_layer),
        valid("valid/stateful-halves", stateful_halves),
        valid("valid/embedding-float-ids", embedding_float_ids),
        valid("valid/simple-rnn-all-sizes-1", smallest_simple_rnn),
        valid("valid/gru-reset_after-False", gru_cho),
        valid("valid/clone_model", clone_round_trip),
        valid("valid/validation_split-is-the-tail", validation_split_is_the_tail),
        valid("valid/predict-steps", predict_steps),
    ]


# ============================================================================ gradcheck, optimizers, huge
def gradcheck_cases() -> List[Case]:
    def inputs() -> Dict[str, Any]:
        args = cell_inputs("lstm", n=1, t=2, f=2, h=2)
        return {k: args[k] for k in ("x", "kernel", "recurrent_kernel")}

    def check(fn: Callable[[Kit], Any] = lambda kit: kit.ops.lstm_forward, values: Callable[[], Any] = inputs,
              **kwargs: Any) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            return f"returned {kit.rnnkit.gradcheck(fn(kit), values(), **kwargs)!r:.200}"
        return run

    def passes(kit: Kit) -> Optional[str]:
        report = kit.rnnkit.gradcheck(kit.ops.lstm_forward, inputs(), order=4)
        return None if report.passed else str(report)

    def catches_a_wrong_gradient(kit: Kit) -> Optional[str]:
        def doubled(**args: Any) -> Any:
            result = kit.ops.gru_forward(**args)
            return result.outputs, lambda *d: {k: 2 * v for k, v in result.backward(*d).items()}
        try:
            kit.rnnkit.gradcheck(doubled, {k: v for k, v in cell_inputs("gru", n=1, t=2, f=2, h=2).items()
                                           if k in ("x", "kernel", "recurrent_kernel")})
        except kit.rnnkit.GradcheckError:
            return None
        return "a backward pass returning twice the gradient passed the check"

    def layer_restored(kit: Kit) -> Optional[str]:
        layer = kit.layers.GRU(2, return_sequences=True)
        x = np.random.default_rng(0).standard_normal((2, 3, 2)).astype(np.float32)
        before = layer(x)
        report = kit.rnnkit.gradcheck(layer, {"x": x})
        after = layer(x)
        if not report.passed:
            return str(report)
        if layer.dtype != "float32" or after.dtype != np.float32:
            return f"the layer computes in {after.dtype} after the check"
        return mismatch("output after the check", after, before, 0)

    return [
        refused("gradcheck/fn=5", check(lambda kit: 5), "fn"),
        refused("gradcheck/fn-returns-number", check(lambda kit: lambda **a: 3.0), "gradcheck"),
        refused("gradcheck/inputs-list", check(values=lambda: [1, 2]), "inputs"),
        refused("gradcheck/order=3", check(order=3), "order"),
        refused("gradcheck/wrt-unknown", check(wrt=["nope"]), "nope"),
        refused("gradcheck/eps=0", check(eps=0.0), "eps"),
        refused("gradcheck/eps=text", check(eps="1e-6"), "eps"),
        refused("gradcheck/atol=-1", check(atol=-1.0), "atol"),
        refused("gradcheck/rtol=text", check(rtol="x"), "rtol"),
        refused("gradcheck/x-nan", check(values=lambda: inputs() | {"x": np.full((1, 2, 2), np.nan)}), "'x'"),
        refused("gradcheck/x-int", check(values=lambda: inputs() | {"x": np.ones((1, 2, 2), np.int64)}), "'x'"),
        refused("gradcheck/layer-without-x", check(lambda kit: kit.layers.Dense(2),
                                                   lambda: {"inputs": np.ones((2, 3))}),
                "'x'"),
        refused("gradcheck/layer-with-dropout", check(lambda kit: kit.layers.LSTM(2, dropout=0.5),
                                                      lambda: {"x": np.ones((1, 2, 2))}), "dropout"),
        valid("gradcheck/valid-lstm-passes", passes),
        valid("gradcheck/valid-catches-a-doubled-gradient", catches_a_wrong_gradient),
        valid("gradcheck/valid-layer-restored", layer_restored),
    ]


def optimizer_cases() -> List[Case]:
    def make(kind: str, *args: Any, **kwargs: Any) -> Callable[[Kit], Any]:
        """Constructs the optimizer and, if that works, takes two training steps with it."""
        def run(kit: Kit) -> Any:
            optimizer = getattr(kit.optimizers, kind)(*args, **kwargs)
            model = tiny_model(kit, compiled=False)
            model.compile(optimizer, "mse")
            x, y = tiny_data()
            model.train_on_batch(x, y)
            loss = model.train_on_batch(x, y)
            finite = all(np.all(np.isfinite(w)) for w in model.get_weights())
            return f"constructed; after two steps the loss is {loss:.4g} and the weights are " + \
                ("finite" if finite else "NOT finite")
        return run

    nan, inf = float("nan"), float("inf")
    specs: List[Tuple[str, str, Tuple[Any, ...], Dict[str, Any], Tuple[Words, ...]]] = [
        *[("SGD", f"learning_rate={v!r}", (v,), {}, ("learning_rate",)) for v in ("0.1", None, nan, inf)],
        *[("SGD", f"momentum={v!r}", (), {"momentum": v}, ("momentum",)) for v in (-0.5, "0.9", 1.5)],
        ("SGD", "nesterov=no", (), {"nesterov": "no", "momentum": 0.5}, ("nesterov",)),
        ("SGD", "lr=0.1", (), {"lr": 0.1}, ("lr",)),
        ("Adam", "beta_1=1.0", (), {"beta_1": 1.0}, ("beta_1",)),
        ("Adam", "beta_1=-0.5", (), {"beta_1": -0.5}, ("beta_1",)),
        ("Adam", "beta_2=1.5", (), {"beta_2": 1.5}, ("beta_2",)),
        ("Adam", "epsilon=-1", (), {"epsilon": -1.0}, ("epsilon",)),
        ("Adam", "epsilon=text", (), {"epsilon": "x"}, ("epsilon",)),
        ("Adam", "amsgrad=no", (), {"amsgrad": "no"}, ("amsgrad",)),
        ("Adam", "clipnorm=-1", (), {"clipnorm": -1.0}, ("clipnorm",)),
        ("Adam", "clipvalue=-1", (), {"clipvalue": -1.0}, ("clipvalue",)),
        ("Adam", "clipnorm-and-clipvalue", (), {"clipnorm": 1.0, "clipvalue": 1.0}, ("clipnorm",)),
        ("RMSprop", "rho=1.5", (), {"rho": 1.5}, ("rho",)),
        ("RMSprop", "momentum=-1", (), {"momentum": -1.0}, ("momentum",)),
        ("Adagrad", "initial_accumulator_value=-1", (), {"initial_accumulator_value": -1.0},
         ("initial_accumulator_value",)),
        ("AdamW", "weight_decay=None", (), {"weight_decay": None}, ("weight_decay",)),
        ("AdamW", "weight_decay=text", (), {"weight_decay": "heavy"}, ("weight_decay",)),
    ]
    cases = [refused(f"optimizers/{kind}/{label}", make(kind, *args, **kwargs), *words)
             for kind, label, args, kwargs, words in specs]

    def apply(gradients: Callable[[Any], List[Any]]) -> Callable[[Kit], Any]:
        def run(kit: Kit) -> Any:
            model = tiny_model(kit)
            variables = model.trainable_weights
            kit.optimizers.SGD(0.1).apply(gradients(variables), variables)
            return "applied"
        return run

    cases += [
        refused("optimizers/apply/one-gradient-short", apply(lambda vs: [np.zeros(v.shape) for v in vs][:-1]),
                "gradients"),
        refused("optimizers/apply/transposed-gradient", apply(lambda vs: [np.zeros(v.shape[::-1]) for v in vs]),
                "shape"),
        refused("optimizers/schedule/decay_steps=0", lambda kit: make(
            "SGD", kit.optimizers.schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5))(kit), "decay_steps"),
    ]
    return cases


def huge_cases() -> List[Case]:
    """Calls whose results would not fit in memory (the huge weights are in the constructor cases)."""
    return [
        refused("huge/RepeatVector-1e9", lambda kit: kit.layers.RepeatVector(10**9, name=PROBE)(
            np.ones((1, 4), np.float32)).shape, PROBE),
        refused("huge/Dense-on-1e9-rows", lambda kit: kit.layers.Dense(2, name=PROBE)(
            np.broadcast_to(0.5, (10**9, 3))).shape, (PROBE, "'x'")),
        refused("huge/Embedding-on-1e9-ids", lambda kit: kit.layers.Embedding(10, 8, name=PROBE)(
            np.broadcast_to(np.int64(3), (1, 10**9))).shape, PROBE),
        refused("huge/Masking-on-1e9-steps", lambda kit: kit.layers.Masking(name=PROBE)(
            np.broadcast_to(np.float32(1), (1, 10**9, 8))).shape, PROBE),
    ]


def all_cases() -> List[Case]:
    groups = (ops_recurrent_cases, ops_backward_cases, ops_dense_cases, ops_step_cases, core_cases, config_cases,
              layer_constructor_cases, layer_call_cases, model_cases, compile_cases, fit_cases, valid_model_cases,
              gradcheck_cases, optimizer_cases, huge_cases)
    cases = [case for group in groups for case in group()]
    names = [case.name for case in cases]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise AssertionError(f"duplicate case names: {duplicated}")
    return cases


# ============================================================================ hostile model files
@dataclasses.dataclass(frozen=True)
class Workspace:
    """The audit's temporary folder: the files built, the markers payloads try to create, and
    the folder the children run in."""

    root: Path

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def markers(self) -> Path:
        return self.root / "markers"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def base(self) -> Path:
        """A trained Sequential LSTM(4) + Dense(2) with its Adam state, saved by rnnkit."""
        return self.root / "base.rnnkit"

    @property
    def base_weights(self) -> Path:
        return self.root / "base_weights.npz"

    @property
    def embedding(self) -> Path:
        """An untrained Sequential Embedding(10, 4) + LSTM(4) + Dense(2), saved by rnnkit."""
        return self.root / "embedding.rnnkit"

    def create(self) -> None:
        for folder in (self.files, self.markers, self.run):
            folder.mkdir(parents=True, exist_ok=True)


@dataclasses.dataclass(frozen=True)
class FileSpec:
    """A model file: ``build(workspace, target, marker)`` writes it (a payload in it creates
    ``marker`` if it ever runs). ``policy``: "refuse", "load", or "load-with-warning" (loads
    with a RuntimeWarning naming the file, as documented for NaN weights); with
    ``same_weights`` a load must give the base model's weights."""

    name: str
    build: Callable[[Workspace, Path, Path], None]
    policy: str = "refuse"
    same_weights: bool = False


class Payload:
    """Unpickling it runs ``touch <marker>``; the harness only pickles it."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> Tuple[Any, Tuple[str]]:
        return os.system, (f"touch '{self.marker}'",)


def read_members(path: Path) -> List[Tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def write_members(target: Path, members: Sequence[Tuple[Union[str, zipfile.ZipInfo], bytes]],
                  compression: int = zipfile.ZIP_DEFLATED) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are deliberate
        with zipfile.ZipFile(target, "w", compression) as archive:
            for name, content in members:
                archive.writestr(name, content)


Replacement = Union[bytes, str, Callable[[bytes], Union[bytes, str]], None]


def rewrite(source: Path, target: Path, replacements: Dict[str, Replacement]) -> None:
    """Copies the archive with members replaced (bytes, text, or a function of the old bytes)
    or removed (None)."""
    members = []
    for name, content in read_members(source):
        if name in replacements:
            replacement = replacements[name]
            if replacement is None:
                continue
            content = replacement(content) if callable(replacement) else replacement
        members.append((name, content.encode() if isinstance(content, str) else content))
    write_members(target, members)


def edited_json(edit: Callable[[Any], Any]) -> Callable[[bytes], str]:
    """A replacement that edits a JSON member in place (or returns a new value)."""
    def change(content: bytes) -> str:
        value = json.loads(content)
        edited = edit(value)
        return json.dumps(value if edited is None else edited)
    return change


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npy_header(header: str, version: Tuple[int, int] = (1, 0)) -> bytes:
    """A ``.npy`` prefix holding the header text as is (padded as the format pads it)."""
    text = header.encode("latin1")
    length_format = "<H" if version == (1, 0) else "<I"
    prefix = 10 if version == (1, 0) else 12
    padding = -(prefix + len(text) + 1) % 64
    text += b" " * padding + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(length_format, len(text)) + text


def central_entry(raw: bytes, name: str) -> int:
    """Offset of the central-directory header of ``name``."""
    position = 0
    while True:
        position = raw.index(b"PK\x01\x02", position)
        length = struct.unpack_from("<H", raw, position + 28)[0]
        if raw[position + 46:position + 46 + length] == name.encode():
            return position
        position += 4


def patched(source: Path, target: Path, name: str, offset: int, fmt: str, value: int) -> None:
    """Copies the archive with one field of ``name``'s central-directory header replaced."""
    raw = bytearray(source.read_bytes())
    struct.pack_into(fmt, raw, central_entry(raw, name) + offset, value)
    target.write_bytes(bytes(raw))


def local_data_offset(path: Path, name: str) -> int:
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo(name).header_offset
    name_length, extra_length = struct.unpack_from("<HH", raw, offset + 26)
    return offset + 30 + name_length + extra_length


def flipped(source: Path, target: Path, name: str, value: int, compression: int = zipfile.ZIP_DEFLATED) -> None:
    """Copies the archive (its members compressed with ``compression``) with the first data
    byte of ``name`` set to ``value``."""
    write_members(target, read_members(source), compression)
    raw = bytearray(target.read_bytes())
    raw[local_data_offset(target, name)] = value
    target.write_bytes(bytes(raw))


def bomb(source: Path, target: Path, member: str, size: int, head: bytes = b"[", tail: bytes = b"]") -> None:
    """The archive with ``member`` replaced by ``head``, ``size`` bytes of blanks (zeros after
    a binary head) and ``tail``, written in 1 MiB pieces: a few hundred KiB on disk."""
    fill = (b"\0" if head.startswith(b"\x93NUMPY") else b" ") * MiB
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in read_members(source):
            if name != member:
                archive.writestr(name, content)
        with archive.open(member, "w") as stream:
            stream.write(head)
            for _ in range(size // MiB):
                stream.write(fill)
            stream.write(tail)


def _copy(source: Callable[[Workspace], Path]) -> Callable[[Workspace, Path, Path], None]:
    return lambda ws, target, marker: target.write_bytes(source(ws).read_bytes())


def _rewritten(replacements: Callable[[Workspace, Path], Dict[str, Replacement]],
               source: Callable[[Workspace], Path] = lambda ws: ws.base) -> Callable[[Workspace, Path, Path], None]:
    return lambda ws, target, marker: rewrite(source(ws), target, replacements(ws, marker))


def _config(edit: Callable[[Any, Path], Any], source: Callable[[Workspace], Path] = lambda ws: ws.base
            ) -> Callable[[Workspace, Path, Path], None]:
    """The file with config.json edited by ``edit(config, marker)``."""
    return _rewritten(lambda ws, marker: {"config.json": edited_json(lambda c: edit(c, marker))}, source)


def _lstm_layer(config: Dict[str, Any]) -> Dict[str, Any]:
    """The LSTM entry of a Sequential model's config."""
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == "LSTM")


def _weights_of_zeros(source: Path, target: Path, config_edit: Callable[[Any], None],
                      shapes: List[Tuple[int, ...]]) -> None:
    """A model file whose config is edited and whose weights are float32 zeros of ``shapes``
    (no optimizer): a small file of well-formed, highly compressible arrays, written in 1 MiB
    pieces."""
    members = dict(read_members(source))
    index = json.loads(members["weights/index.json"])
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", members["metadata.json"])
        archive.writestr("config.json", edited_json(config_edit)(members["config.json"]))
        for k, (entry, shape) in enumerate(zip(index, shapes)):
            entry["shape"] = list(shape)
            with archive.open(f"weights/{k:04d}.npy", "w") as stream:
                stream.write(npy_header(f"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple(shape)}, }}"))
                remaining = 4 * int(np.prod(shape))
                while remaining:
                    stream.write(bytes(min(remaining, MiB)))
                    remaining -= min(remaining, MiB)
        archive.writestr("weights/index.json", json.dumps(index))


def _many_members(ws: Workspace, target: Path, marker: Path) -> None:
    members: List[Tuple[Union[str, zipfile.ZipInfo], bytes]] = list(read_members(ws.base))
    members += [(f"junk/{k:06d}", b"") for k in range(100_000)]
    write_members(target, members, zipfile.ZIP_STORED)


def _path_traversal(ws: Workspace, target: Path, marker: Path) -> None:
    relative = os.path.relpath(marker, ws.run)
    members: List[Tuple[Union[str, zipfile.ZipInfo], bytes]] = list(read_members(ws.base))
    members += [(relative, b"escaped"), (str(marker), b"absolute"), (relative.replace("/", "\\"), b"windows")]
    write_members(target, members)


def _symlink(name: str) -> zipfile.ZipInfo:
    """A zip entry marked as a symbolic link (its content is the link's target)."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (0o120777 << 16)
    return info


def _symlink_members(ws: Workspace, target: Path, marker: Path) -> None:
    members: List[Tuple[Union[str, zipfile.ZipInfo], bytes]] = list(read_members(ws.base))
    members.append((_symlink(os.path.relpath(marker, ws.run)), str(ws.base).encode()))
    write_members(target, members)


def _symlink_as_array(ws: Workspace, target: Path, marker: Path) -> None:
    members = [(_symlink(n), b"/etc/passwd") if n == "weights/0000.npy" else (n, c) for n, c in read_members(ws.base)]
    write_members(target, members)


def _eocd_count(ws: Workspace, target: Path, marker: Path) -> None:
    raw = bytearray(ws.base.read_bytes())
    end = raw.rindex(b"PK\x05\x06")
    struct.pack_into("<HH", raw, end + 8, 65535, 65535)
    target.write_bytes(bytes(raw))


def _encrypted(ws: Workspace, target: Path, marker: Path) -> None:
    target.write_bytes(ws.base.read_bytes())
    raw = bytearray(target.read_bytes())
    with zipfile.ZipFile(target) as archive:
        local = archive.getinfo("config.json").header_offset
    for offset in (local + 6, central_entry(raw, "config.json") + 8):
        raw[offset] |= 1  # general purpose flag bit 0: encrypted
    target.write_bytes(bytes(raw))


def _deep_sequential(depth: int) -> Callable[[bytes], bytes]:
    """The model config wrapped in ``depth`` Sequential models (written as text: too deep for
    json.dumps)."""
    def wrap(content: bytes) -> bytes:
        opening = b'{"class_name": "Sequential", "config": {"name": "s", "layers": ['
        return opening * depth + content + b"]}}" * depth
    return wrap


def _functional_edit(edit: Callable[[List[Any]], None]) -> Callable[[Workspace, Path, Path], None]:
    return _config(lambda c, m: edit(c["config"]["layers"]),
                   lambda ws: FIXTURES / "two_input_two_output_format_1.rnnkit")


def _poisoned_npy(value: float) -> Callable[[bytes], bytes]:
    def poison(content: bytes) -> bytes:
        array = np.load(io.BytesIO(content))
        array.flat[1] = value
        return npy(array)
    return poison


def _json_nested(depth: int, opener: str, closer: str) -> bytes:
    return (opener * depth + closer * depth).encode()


def hostile_files() -> List[FileSpec]:
    fixture_lstm = lambda ws: FIXTURES / "lstm_adam_saved_by_0.1.0.rnnkit"  # noqa: E731
    fixture_two = lambda ws: FIXTURES / "two_input_two_output_format_1.rnnkit"  # noqa: E731
    os_system = lambda marker: {"class_name": "os.system", "config": {"command": f"touch '{marker}'"}}  # noqa: E731
    metadata = lambda **changes: {"metadata.json": edited_json(lambda m: m.update(changes))}  # noqa: E731

    def lying_bomb(ws: Workspace, target: Path, marker: Path) -> None:
        bomb(ws.base, target, "config.json", 256 * MiB)
        patched(target, target, "config.json", 24, "<I", 1000)  # the uncompressed size it declares

    def build_lstm_bomb(ws: Workspace, target: Path, marker: Path) -> None:
        units = 2048
        _weights_of_zeros(ws.base, target, lambda c: _lstm_layer(c)["config"].update(units=units),
                          [(3, 4 * units), (units, 4 * units), (4 * units,), (units, 2), (2,)])

    def build_embedding_bomb(ws: Workspace, target: Path, marker: Path) -> None:
        rows = 2**24
        _weights_of_zeros(ws.embedding, target, lambda c: c["config"]["layers"][1]["config"].update(input_dim=rows),
                          [(rows, 4), (4, 16), (4, 16), (16,), (4, 2), (2,)])

    specs = [
        # ---------------------------------------------------------------- files that must load
        FileSpec("control/base", _copy(lambda ws: ws.base), "load", True),
        FileSpec("control/fixture-0.1.0-lstm-adam", _copy(fixture_lstm), "load"),
        FileSpec("control/fixture-two-input-two-output", _copy(fixture_two), "load"),
        FileSpec("control/fortran-order-npy", _rewritten(lambda ws, m: {"weights/0000.npy": lambda c: npy(
            np.asfortranarray(np.load(io.BytesIO(c))))}), "load", True),
        FileSpec("control/big-endian-npy", _rewritten(lambda ws, m: {"weights/0001.npy": lambda c: npy(
            np.load(io.BytesIO(c)).astype(">f4"))}), "load", True),
        FileSpec("control/stored-members", lambda ws, t, m: write_members(t, read_members(ws.base), zipfile.ZIP_STORED),
                 "load", True),
        FileSpec("control/lzma-members", lambda ws, t, m: write_members(t, read_members(ws.base), zipfile.ZIP_LZMA),
                 "load", True),
        FileSpec("control/duplicate-config-copy", lambda ws, t, m: write_members(
            t, read_members(ws.base) + [("config.json", dict(read_members(ws.base))["config.json"])]), "load", True),
        FileSpec("control/path-traversal-member-names", _path_traversal, "load", True),
        FileSpec("control/symlink-member", _symlink_members, "load", True),
        FileSpec("control/unread-member-inflating-to-1GiB",
                 lambda ws, t, m: bomb(ws.base, t, "extra/bomb.bin", 1 << 30), "load", True),
        FileSpec("control/100000-empty-members", _many_members, "load", True),
        FileSpec("control/nan-weights", _rewritten(lambda ws, m: {"weights/0003.npy": _poisoned_npy(np.nan)}),
                 "load-with-warning"),
        FileSpec("control/inf-weights", _rewritten(lambda ws, m: {"weights/0000.npy": _poisoned_npy(-np.inf)}),
                 "load-with-warning"),
        FileSpec("control/fixture-nan-weights", _rewritten(lambda ws, m: {"weights/0001.npy": _poisoned_npy(np.nan)},
                                                           fixture_lstm), "load-with-warning"),
        FileSpec("control/nan-learning-rate", _rewritten(lambda ws, m: {"optimizer/0001.npy": npy(np.array(np.nan))})),
        # ---------------------------------------------------------------- the archive
        FileSpec("zip/empty-file", lambda ws, t, m: t.write_bytes(b"")),
        FileSpec("zip/text-file", lambda ws, t, m: t.write_text("model = LSTM(4)\n")),
        FileSpec("zip/random-bytes", lambda ws, t, m: t.write_bytes(np.random.default_rng(0).bytes(4096))),
        FileSpec("zip/truncated-to-half", lambda ws, t, m: t.write_bytes(
            ws.base.read_bytes()[:ws.base.stat().st_size // 2])),
        FileSpec("zip/truncated-to-100-bytes", lambda ws, t, m: t.write_bytes(ws.base.read_bytes()[:100])),
        FileSpec("zip/last-10-bytes-cut", lambda ws, t, m: t.write_bytes(ws.base.read_bytes()[:-10])),
        FileSpec("zip/missing-metadata", _rewritten(lambda ws, m: {"metadata.json": None})),
        FileSpec("zip/missing-config", _rewritten(lambda ws, m: {"config.json": None})),
        FileSpec("zip/missing-weights-index", _rewritten(lambda ws, m: {"weights/index.json": None})),
        FileSpec("zip/index-names-a-missing-array", _rewritten(lambda ws, m: {"weights/0001.npy": None})),
        FileSpec("zip/optimizer-index-names-a-missing-array", _rewritten(lambda ws, m: {"optimizer/0003.npy": None})),
        FileSpec("zip/corrupt-deflate-config", lambda ws, t, m: flipped(ws.base, t, "config.json", 0xFF)),
        FileSpec("zip/corrupt-deflate-npy", lambda ws, t, m: flipped(ws.base, t, "weights/0002.npy", 0xFF)),
        FileSpec("zip/stored-byte-flipped-bad-crc", lambda ws, t, m: flipped(ws.base, t, "weights/0002.npy", 0x00,
                                                                             zipfile.ZIP_STORED)),
        FileSpec("zip/declared-size-larger", lambda ws, t, m: patched(ws.base, t, "config.json", 24, "<I", 10**6)),
        FileSpec("zip/declared-size-smaller-npy",
                 lambda ws, t, m: patched(ws.base, t, "weights/0001.npy", 24, "<I", 100)),
        FileSpec("zip/unknown-compression-method", lambda ws, t, m: patched(ws.base, t, "config.json", 10, "<H", 99)),
        FileSpec("zip/encrypted-flag", _encrypted),
        FileSpec("zip/end-record-claims-65535-members", _eocd_count, "load", True),
        FileSpec("zip/duplicate-metadata-of-a-weights-file", lambda ws, t, m: write_members(
            t, read_members(ws.base) + [("metadata.json", json.dumps({"format": "rnnkit-weights",
                                                                      "format_version": 1}).encode())])),
        FileSpec("zip/symlink-in-place-of-an-array", _symlink_as_array),
        # ---------------------------------------------------------------- zip bombs
        FileSpec("bomb/config-json-256MiB", lambda ws, t, m: bomb(ws.base, t, "config.json", 256 * MiB)),
        FileSpec("bomb/metadata-json-256MiB", lambda ws, t, m: bomb(ws.base, t, "metadata.json", 256 * MiB)),
        FileSpec("bomb/weights-index-256MiB", lambda ws, t, m: bomb(ws.base, t, "weights/index.json", 256 * MiB)),
        FileSpec("bomb/npy-256MiB-after-its-header", lambda ws, t, m: bomb(
            ws.base, t, "weights/0000.npy", 256 * MiB, npy(np.zeros((3, 16), np.float32)), b"")),
        FileSpec("bomb/config-json-declaring-1000-bytes", lying_bomb),
        # Weights of exactly the size the architecture implies load (as a real model that size
        # would); the peak RSS check flags a load that takes much more than the weights.
        FileSpec("bomb/lstm-2048-units-of-zeros", build_lstm_bomb, "load"),
        FileSpec("bomb/embedding-16M-rows-of-zeros", build_embedding_bomb, "load"),
        # ---------------------------------------------------------------- JSON members
        FileSpec("json/config-nested-1e5-deep",
                 _rewritten(lambda ws, m: {"config.json": _json_nested(10**5, "[", "]")})),
        FileSpec("json/index-nested-1e5-deep", _rewritten(lambda ws, m: {
            "weights/index.json": _json_nested(10**5, '{"a":', "}").replace(b'{"a":}', b'{"a":1}')})),
        FileSpec("json/sequential-nested-3000-deep", _rewritten(lambda ws, m: {"config.json": _deep_sequential(3000)})),
        *[FileSpec(f"json/config-is-{label}", _rewritten(lambda ws, m, v=value: {"config.json": v}))
          for label, value in (("a-list", "[1, 2]"), ("a-string", '"LSTM"'), ("a-number", "7"), ("null", "null"))],
        FileSpec("json/layers-is-a-string", _config(lambda c, m: c["config"].update(layers="lstm"))),
        FileSpec("json/layers-are-numbers", _config(lambda c, m: c["config"].update(layers=[1, 2]))),
        FileSpec("json/layer-without-config", _config(lambda c, m: _lstm_layer(c).pop("config"))),
        *[FileSpec(f"json/units-{label}", _config(lambda c, m, v=value: _lstm_layer(c)["config"].update(units=v)))
          for label, value in (("text", "4"), ("1e6", 10**6), ("negative", -4), ("float", 4.0), ("list", [4]))],
        FileSpec("json/input-shape-negative", _config(lambda c, m: c["config"]["layers"][0]["config"].update(
            shape=[5, -3]))),
        FileSpec("json/dtype-complex", _config(lambda c, m: _lstm_layer(c)["config"].update(dtype="complex64"))),
        FileSpec("json/activation-os.system", _config(lambda c, m: _lstm_layer(c)["config"].update(
            activation="os.system"))),
        FileSpec("json/compile-config-without-optimizer", _config(lambda c, m: c["compile_config"].pop("optimizer"))),
        FileSpec("json/compile-config-a-string", _config(lambda c, m: c.update(compile_config="adam"))),
        FileSpec("json/metadata-format-version-2", _rewritten(lambda ws, m: metadata(format_version=2))),
        FileSpec("json/metadata-format-version-text", _rewritten(lambda ws, m: metadata(format_version="1"))),
        FileSpec("json/metadata-of-a-weights-file", _rewritten(lambda ws, m: metadata(format="rnnkit-weights"))),
        FileSpec("json/metadata-not-utf8", _rewritten(lambda ws, m: {"metadata.json": b"\xff\xfe{}"})),
        FileSpec("json/index-a-dict", _rewritten(lambda ws, m: {"weights/index.json": '{"a": 1}'})),
        FileSpec("json/index-100001-entries", _rewritten(lambda ws, m: {"weights/index.json": json.dumps(
            [{"name": "w", "shape": [1], "dtype": "float32"}] * 100_001)})),
        *[FileSpec(f"json/index-{label}", _rewritten(lambda ws, m, key=key, value=value: {
            "weights/index.json": edited_json(lambda index: index[1].update({key: value}))}))
          for label, key, value in (("shape-8TiB", "shape", [2**20, 2**21]), ("shape-negative", "shape", [4, -16]),
                                    ("shape-text", "shape", "4x16"), ("dtype-object", "dtype", "O"),
                                    ("dtype-void", "dtype", "V8"), ("dtype-complex", "dtype", "complex64"))],
        # ---------------------------------------------------------------- class names
        FileSpec("names/unknown-class", _config(lambda c, m: _lstm_layer(c).update(class_name="LSTMX"))),
        FileSpec("names/model-os.system", _config(lambda c, m: c.update(os_system(m)))),
        FileSpec("names/layer-os.system", _config(lambda c, m: c["config"]["layers"].__setitem__(1, os_system(m)))),
        FileSpec("names/layer-builtins.eval", _config(lambda c, m: _lstm_layer(c).update(
            class_name="builtins.eval", config={"source": f"__import__('os').system(\"touch '{m}'\")"}))),
        FileSpec("names/layer-__import__", _config(lambda c, m: _lstm_layer(c).update(
            class_name="__import__", config={"name": "os"}))),
        FileSpec("names/layer-__class__", _config(lambda c, m: _lstm_layer(c).update(class_name="__class__"))),
        FileSpec("names/initializer-os.system", _config(lambda c, m: _lstm_layer(c)["config"].update(
            kernel_initializer=os_system(m)))),
        FileSpec("names/regularizer-subprocess.Popen", _config(lambda c, m: _lstm_layer(c)["config"].update(
            kernel_regularizer={"class_name": "subprocess.Popen", "config": {"args": ["touch", str(m)]}}))),
        FileSpec("names/optimizer-builtins.exec", _config(lambda c, m: c["compile_config"].update(optimizer={
            "class_name": "builtins.exec", "config": {"source": f"import os; os.system(\"touch '{m}'\")"}}))),
        FileSpec("names/loss-eval", _config(lambda c, m: c["compile_config"].update(loss={
            "class_name": "eval", "config": {"source": f"__import__('os').system(\"touch '{m}'\")"}}))),
        FileSpec("names/metric-os.system", _config(lambda c, m: c["compile_config"].update(metrics=[os_system(m)]))),
        FileSpec("names/functional-missing-tensor", _functional_edit(
            lambda layers: layers[1]["inbound_nodes"][0]["args"].update(__tensor__=["nowhere", 0, 0]))),
        FileSpec("names/functional-tensor-index-7", _functional_edit(
            lambda layers: layers[1]["inbound_nodes"][0]["args"].update(__tensor__=["sequence", 0, 7]))),
        FileSpec("names/functional-cycle", _functional_edit(
            lambda layers: layers[1]["inbound_nodes"][0]["args"].update(__tensor__=["bidirectional", 0, 0]))),
        # ---------------------------------------------------------------- arrays
        FileSpec("npy/object-array-with-pickle-payload", _rewritten(lambda ws, m: {"weights/0000.npy": npy(
            np.array([Payload(m)] * 48, dtype=object).reshape(3, 16), allow_pickle=True)})),
        FileSpec("npy/raw-pickle-payload", _rewritten(lambda ws, m: {"weights/0000.npy": pickle.dumps(Payload(m))})),
        FileSpec("npy/header-with-code", _rewritten(lambda ws, m: {"weights/0000.npy": npy_header(
            f"{{'descr': __import__('os').system(\"touch '{m}'\"), 'fortran_order': False, 'shape': (3, 16), }}")
            + bytes(192)})),
        FileSpec("npy/header-declaring-8TiB", _rewritten(lambda ws, m: {"weights/0000.npy": npy_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 2097152), }") + bytes(64)})),
        FileSpec("npy/header-garbage", _rewritten(lambda ws, m: {"weights/0000.npy": npy_header("[1, 2, 3]")})),
        FileSpec("npy/header-70KB", _rewritten(lambda ws, m: {"weights/0000.npy": npy_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 16), }" + " " * 70_000, (2, 0)) + bytes(192)})),
        FileSpec("npy/format-version-3", _rewritten(lambda ws, m: {"weights/0000.npy": lambda c: c[:6] + b"\x03"
                                                                    + c[7:]})),
        FileSpec("npy/complex64", _rewritten(lambda ws, m: {"weights/0002.npy": npy(np.ones(16, np.complex64) * 1j)})),
        FileSpec("npy/strings", _rewritten(lambda ws, m: {"weights/0003.npy": npy(np.array([["a"] * 2] * 4))})),
        FileSpec("npy/int32-weights", _rewritten(lambda ws, m: {"weights/0004.npy": npy(np.ones(2, np.int32))})),
        FileSpec("npy/float16-weights", _rewritten(lambda ws, m: {"weights/0004.npy": npy(np.ones(2, np.float16))})),
        FileSpec("npy/wrong-shape", _rewritten(lambda ws, m: {"weights/0000.npy": npy(np.zeros((16, 3), np.float32))})),
        FileSpec("npy/optimizer-iterations-negative",
                 _rewritten(lambda ws, m: {"optimizer/0000.npy": npy(np.array(-5))})),
        FileSpec("npy/optimizer-slot-of-another-shape", _rewritten(lambda ws, m: {"optimizer/0002.npy": npy(
            np.zeros(3, np.float32))})),
        # ---------------------------------------------------------------- files of an older rnnkit, damaged
        FileSpec("fixture/format-version-0", _rewritten(lambda ws, m: metadata(format_version=0), fixture_lstm)),
        FileSpec("fixture/truncated", lambda ws, t, m: t.write_bytes(fixture_lstm(ws).read_bytes()[:3000])),
        FileSpec("fixture/optimizer-slot-pickle", _rewritten(lambda ws, m: {"optimizer/0003.npy": npy(
            np.array([Payload(m)] * 4, dtype=object), allow_pickle=True)}, fixture_lstm)),
        FileSpec("fixture/two-input-index-shape-swapped", _rewritten(lambda ws, m: {
            "weights/index.json": edited_json(lambda index: index[0].update(shape=index[0]["shape"][::-1]))},
            fixture_two)),
    ]
    names = [spec.name for spec in specs]
    assert len(set(names)) == len(names), "duplicate file names"
    return specs


# ============================================================================ the child processes
def peak_rss() -> int:
    """This process's peak resident set size in bytes: VmHWM, which starts again at exec
    (ru_maxrss would include the parent's peak before the fork)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def describe_exception(error: BaseException) -> Dict[str, Any]:
    kind = type(error)
    return {"status": "raised", "type": f"{kind.__module__}.{kind.__qualname__}",
            "bases": [c.__name__ for c in kind.__mro__], "message": str(error)[:4000]}


def child_case(name: str) -> Dict[str, Any]:
    case = {c.name: c for c in all_cases()}[name]
    kit = Kit.load()
    try:
        value = case.run(kit)
    except BaseException as error:  # noqa: BLE001 - anything at all: the parent classifies it
        return describe_exception(error)
    return {"status": "returned", "detail": None if value is None else str(value)[:4000]}


def child_file(path: str, base_weights: Optional[str]) -> Dict[str, Any]:
    kit = Kit.load()
    before = peak_rss()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = kit.models.load_model(path)
        except BaseException as error:  # noqa: BLE001 - anything at all: the parent classifies it
            result = describe_exception(error)
        else:
            result = {"status": "returned", "detail": None}
            if base_weights is not None:
                with np.load(base_weights) as expected:
                    arrays = [expected[f"arr_{k}"] for k in range(len(expected.files))]
                got = model.get_weights()
                result["detail"] = first_problem(
                    None if len(got) == len(arrays) else f"{len(got)} weights instead of {len(arrays)}",
                    *[mismatch(f"weight {k}", a, b, 0) for k, (a, b) in enumerate(zip(got, arrays))])
    result["warnings"] = [f"{w.category.__name__}: {w.message}"[:1000] for w in caught]
    result["rss_before"], result["rss_peak"] = before, peak_rss()
    return result


def child_setup(root: str) -> Dict[str, Any]:
    """Saves the models the hostile files are made from."""
    kit = Kit.load()
    workspace = Workspace(Path(root))
    model = tiny_model(kit, compiled=False)
    model.compile("adam", "mse")
    model.fit(*tiny_data(), epochs=1, batch_size=4, verbose=0)
    model.save(workspace.base)
    np.savez(workspace.base_weights, *model.get_weights())
    embedding = kit.models.Sequential([kit.layers.Input((5,), dtype="int32"), kit.layers.Embedding(10, 4),
                                       kit.layers.LSTM(4), kit.layers.Dense(2)])
    embedding.save(workspace.embedding)
    return {"status": "returned", "detail": None}


def child_main(mode: str, arguments: List[str]) -> None:
    """Runs one case, loads one file or saves the base models; prints the JSON result line."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    if mode == "case":
        result = child_case(arguments[0])
    elif mode == "file":
        result = child_file(arguments[0], arguments[1] if len(arguments) > 1 else None)
    else:
        result = child_setup(arguments[0])
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()


# ============================================================================ the parent
@dataclasses.dataclass
class Outcome:
    """What one child did, and how it is classified."""

    kind: str                      # "case" or "file"
    name: str
    outcome: str
    expected: str                  # "error", "valid", or a file policy
    error_type: Optional[str] = None
    message: Optional[str] = None
    detail: Optional[str] = None
    seconds: float = 0.0
    rss_peak: Optional[int] = None
    rss_before: Optional[int] = None
    warnings: List[str] = dataclasses.field(default_factory=list)

    @property
    def oversized(self) -> bool:
        return self.kind == "file" and self.rss_peak is not None and self.rss_peak > OVERSIZED_RSS


def run_child(workspace: Workspace, arguments: List[str]) -> Tuple[Optional[Dict[str, Any]], Optional[str], float]:
    """Runs this script as a child; returns its result (None if it gave none), a description
    of how it died (None if it exited normally), and its duration."""
    start = time.monotonic()
    try:
        process = subprocess.run([sys.executable, str(Path(__file__).resolve()), *arguments], cwd=workspace.run,
                                 capture_output=True, text=True, timeout=CASE_TIMEOUT, env=CHILD_ENVIRONMENT)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {CASE_TIMEOUT} s (killed)", time.monotonic() - start
    seconds = time.monotonic() - start
    lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_TAG)]
    result = json.loads(lines[-1][len(RESULT_TAG):]) if lines else None
    death = None
    if process.returncode < 0:
        death = f"killed by {signal.Signals(-process.returncode).name}"
    elif process.returncode != 0 or result is None:
        death = f"exited with status {process.returncode} without a result"
    if death:
        tail = " | ".join(process.stderr.strip().splitlines()[-6:])
        death += f"; stderr: {tail[-1500:]}" if tail else ""
    return result, death, seconds


def has_words(message: str, words: Sequence[Words]) -> bool:
    text = message.lower()
    return all(any(w.lower() in text for w in ((word,) if isinstance(word, str) else word)) for word in words)


def classify_case(case: Case, result: Optional[Dict[str, Any]], death: Optional[str]) -> Tuple[str, Optional[str]]:
    """The outcome of a bad-input case, and a detail to report."""
    if death:
        return CRASH, death
    assert result is not None
    if result["status"] == "returned":
        if case.expect == "error":
            return SILENT, f"accepted: {result['detail']}"
        return (CORRECT, None) if result["detail"] is None else (SILENT, result["detail"])
    if "MemoryError" in result["bases"]:
        return MEMORY, None
    if case.expect == "valid":
        return REFUSED_VALID, None
    if not {"ValueError", "TypeError"} & set(result["bases"]):
        return UNCLEAR, "not a ValueError or TypeError"
    if not has_words(result["message"], case.words):
        return UNCLEAR, f"the message lacks {' and '.join(map(repr, case.words))}"
    return CLEAN, None


def classify_file(spec: FileSpec, path: Path, result: Optional[Dict[str, Any]], death: Optional[str],
                  marker: Path) -> Tuple[str, Optional[str]]:
    """The outcome of loading a model file, and a detail to report."""
    if os.path.lexists(marker):
        return RAN_CODE, f"the payload created {marker}"
    if death:
        return CRASH, death
    assert result is not None
    if result["status"] == "raised":
        if "MemoryError" in result["bases"]:
            return MEMORY, None
        if spec.policy != "refuse":
            return FILE_VALID_REFUSED, None
        if "ValueError" not in result["bases"]:
            return RAW, None
        if str(path) not in result["message"]:
            return RAW, "a ValueError whose message does not name the file"
        return FILE_REFUSED, None
    if spec.policy == "refuse":
        return LOADED_BAD, "loaded"
    if result["detail"]:
        return LOADED_BAD, f"loaded with other weights: {result['detail']}"
    warned = any(w.startswith("RuntimeWarning") and str(path) in w for w in result["warnings"])
    if spec.policy == "load-with-warning" and not warned:
        return LOADED_BAD, "loaded without a RuntimeWarning naming the file"
    return LOADED_OK, None


def audit_case(workspace: Workspace, case: Case) -> Outcome:
    result, death, seconds = run_child(workspace, ["--child", "case", case.name])
    outcome, detail = classify_case(case, result, death)
    result = result or {}
    return Outcome("case", case.name, outcome, case.expect, result.get("type"), result.get("message"),
                   detail or result.get("detail"), seconds)


def file_paths(workspace: Workspace, spec: FileSpec) -> Tuple[Path, Path]:
    """Where the file of ``spec`` is written, and the marker its payloads try to create."""
    stem = spec.name.replace("/", "--")
    return workspace.files / f"{stem}.rnnkit", workspace.markers / stem


def audit_file(workspace: Workspace, spec: FileSpec) -> Outcome:
    path, marker = file_paths(workspace, spec)
    arguments = ["--child", "file", str(path)] + ([str(workspace.base_weights)] if spec.same_weights else [])
    result, death, seconds = run_child(workspace, arguments)
    outcome, detail = classify_file(spec, path, result, death, marker)
    result = result or {}
    return Outcome("file", spec.name, outcome, spec.policy, result.get("type"), result.get("message"),
                   detail, seconds, result.get("rss_peak"), result.get("rss_before"), result.get("warnings", []))


def one_line(text: Optional[str], width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 3] + "..."


def report(outcomes: List[Outcome], seconds: float) -> str:
    cases = [o for o in outcomes if o.kind == "case"]
    files = [o for o in outcomes if o.kind == "file"]
    lines = [f"rnnkit audit: {len(cases)} bad-input cases and {len(files)} model files, each in its own process "
             f"({WORKERS} at a time); {seconds:.0f} s", ""]
    for title, group, order in (("Bad-input cases", cases, CASE_OUTCOMES), ("Model files", files, FILE_OUTCOMES)):
        if not group:
            continue
        lines.append(f"{title:<34}{'count':>6}")
        for outcome in order:
            lines.append(f"  {outcome:<32}{sum(o.outcome == outcome for o in group):>6}")
        lines.append(f"  {'total':<32}{len(group):>6}")
        lines.append("")
    oversized = [o for o in files if o.oversized]
    if files:
        lines += [f"Loads peaking above {OVERSIZED_RSS // MiB} MB of RSS (oversized allocations): {len(oversized)}"]
        lines += [f"  {o.name}: peak {o.rss_peak / MiB:.0f} MB ({(o.rss_peak - o.rss_before) / MiB:.0f} MB "
                  f"during the load), {o.outcome}" for o in oversized]
        lines.append("")
    unclean = [o for o in outcomes if o.outcome not in FINE]
    lines.append(f"Not clean ({len(unclean)}):")
    for o in sorted(unclean, key=lambda o: (o.kind, o.outcome, o.name)):
        lines.append(f"  [{o.outcome}] {o.name}")
        if o.error_type:
            lines.append(f"      {o.error_type}: {one_line(o.message, 400)}")
        if o.detail:
            lines.append(f"      {one_line(o.detail, 400)}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", metavar="SUBSTRING", help="run only the cases whose name contains this")
    parser.add_argument("--json", metavar="PATH", help="write every result to this file")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child[0], args.child[1:])
        return 0
    start = time.monotonic()
    cases = [c for c in all_cases() if args.k in c.name]
    specs = [s for s in hostile_files() if args.k in s.name]
    with tempfile.TemporaryDirectory(prefix="rnnkit-audit-") as folder:
        workspace = Workspace(Path(folder))
        workspace.create()
        if specs:
            _, death, _ = run_child(workspace, ["--child", "setup", folder])
            if death:
                raise SystemExit(f"saving the base models failed: {death}")
            for spec in specs:
                spec.build(workspace, *file_paths(workspace, spec))
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            futures = [pool.submit(audit_case, workspace, c) for c in cases]
            futures += [pool.submit(audit_file, workspace, s) for s in specs]
            outcomes = []
            for future in concurrent.futures.as_completed(futures):
                outcomes.append(future.result())
                if len(outcomes) % 50 == 0 or len(outcomes) == len(futures):
                    print(f"  {len(outcomes)}/{len(futures)} done, {time.monotonic() - start:.0f} s", file=sys.stderr)
        markers = {p.name for p in workspace.markers.iterdir()}
        for outcome in outcomes:  # a marker made later, by another child, still counts
            if outcome.kind == "file" and outcome.name.replace("/", "--") in markers:
                outcome.outcome = RAN_CODE
    outcomes.sort(key=lambda o: (o.kind, o.name))
    seconds = time.monotonic() - start
    print(report(outcomes, seconds))
    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(o) for o in outcomes], indent=1))
    return int(any(o.outcome in FAILING for o in outcomes))


if __name__ == "__main__":
    sys.exit(main())
