"""Numerical gradient checking, for rnnkit's own tests and for yours.

``gradcheck(fn, inputs)`` compares the analytic gradients of ``fn`` with central finite
differences in float64, like ``torch.autograd.gradcheck``::

    from functools import partial
    import rnnkit
    report = rnnkit.gradcheck(partial(rnnkit.ops.lstm_forward, go_backwards=True),
                              {"x": x, "kernel": w, "recurrent_kernel": u, "bias": b})
    print(report)

The scalar checked is ``L = sum_k <R_k, output_k>`` with fixed random ``R_k``, so every
output and every entry of it takes part.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, cast

import numpy as np

from ._arguments import is_number

__all__ = ["gradcheck", "GradcheckReport", "GradcheckError", "InputCheck"]


# Central-difference stencils: (offset in units of eps, coefficient); divide the sum by eps.
_STENCILS = {
    2: ((1, 0.5), (-1, -0.5)),
    4: ((-2, 1 / 12), (-1, -8 / 12), (1, 8 / 12), (2, -1 / 12)),
}


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with the numerical one."""


@dataclass
class InputCheck:
    """The comparison for one input: the worst entry and the largest errors seen."""

    name: str
    shape: Tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst_index: Tuple[int, ...]
    analytic: float
    numerical: float
    passed: bool


@dataclass
class GradcheckReport:
    """What :func:`gradcheck` found, one :class:`InputCheck` per input checked.

    ``bool(report)`` is whether all passed; ``str(report)`` is a readable table.
    """

    checks: List[InputCheck]
    eps: float
    order: int
    atol: float
    rtol: float

    @property
    def passed(self) -> bool:
        """Whether every input's check passed (``bool(report)`` gives the same)."""
        return all(check.passed for check in self.checks)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [
            f"gradcheck (central differences of order {self.order}, eps={self.eps:g}; pass if "
            f"|analytic - numerical| <= {self.atol:g} + {self.rtol:g} * |numerical|)",
            f"  {'input':<18} {'shape':<14} {'max abs err':>12} {'max rel err':>12}  "
            f"{'worst entry':<16} {'analytic':>14} {'numerical':>14}",
        ]
        for c in self.checks:
            lines.append(
                f"  {c.name:<18} {c.shape!s:<14} {c.max_abs_error:12.3e} "
                f"{c.max_rel_error:12.3e}  {c.worst_index!s:<16} {c.analytic:14.6e} "
                f"{c.numerical:14.6e}  {'ok' if c.passed else 'FAILED'}"
            )
        return "\n".join(lines)


def _evaluate(fn: Callable[..., Any],
              inputs: Mapping[str, Any]) -> Tuple[Tuple[np.ndarray, ...], Callable[..., Any]]:
    """Calls ``fn(**inputs)``: an object with ``.outputs`` and ``.backward``, or a pair
    ``(outputs, backward)``."""
    result = fn(**inputs)
    if hasattr(result, "outputs") and hasattr(result, "backward"):
        outputs, backward = result.outputs, result.backward
    elif isinstance(result, tuple) and len(result) == 2 and callable(result[1]):
        outputs, backward = result
    else:
        raise TypeError(
            "gradcheck: fn(**inputs) must return an object with .outputs and .backward "
            "(such as the results of rnnkit.ops) or a pair (outputs, backward); got "
            f"{type(result).__name__}"
        )
    if isinstance(outputs, np.ndarray):
        outputs = (outputs,)
    return tuple(np.asarray(o, dtype=np.float64) for o in outputs), backward


def _carrying_states(layers: Any) -> List[Any]:
    """The stateful recurrent layers: those holding carried ``states``."""
    return [layer for layer in layers if getattr(layer, "stateful", False) and hasattr(layer, "states")]


@contextmanager
def _float64_layer(target: Any) -> Iterator[None]:
    """Runs a layer or model (and every layer inside it) in float64 for the check, with the
    states of stateful layers the same at every evaluation; restores weights, dtypes and
    states exactly afterwards."""
    layers = list(target._flatten_layers())
    saved = [(layer, layer.dtype, [v.value for v in layer._weights]) for layer in layers]
    stateful = [(layer, layer.states) for layer in _carrying_states(layers)]
    for layer in layers:
        layer.dtype = "float64"
        for variable in layer._weights:
            variable.value = variable.value.astype(np.float64)
    for layer, states in stateful:
        layer.states = None if states is None else [np.asarray(s, dtype=np.float64) for s in states]
    try:
        yield
    finally:
        for layer, dtype, values in saved:
            layer.dtype = dtype
            for variable, value in zip(layer._weights, values):
                variable.value = value
        for layer, states in stateful:
            layer.states = states


def _input_names(x: Any) -> List[str]:
    """The names gradcheck gives a model's inputs: ``x``, or ``x[0]``, ``x[1]``, ... for a list,
    ``x[name]`` for a dict."""
    if isinstance(x, (list, tuple)):
        return [f"x[{k}]" for k in range(len(x))]
    if isinstance(x, dict):
        return [f"x[{k}]" for k in x]
    return ["x"]


def _layer_function(target: Any, mask: Any, x: Any) -> Callable[..., Any]:
    """``fn(<input names>=..., <weight path>=...)`` for a layer or model: its forward in training
    mode and its pullback, giving the gradients of the inputs and of every weight."""
    for layer in target._flatten_layers():
        if getattr(layer, "dropout", 0) or getattr(layer, "recurrent_dropout", 0) or getattr(layer, "rate", 0):
            raise ValueError(f"gradcheck: layer '{layer.name}' drops units at random while training; "
                             "set its dropout rates to 0 for the check")
    stateful = [(layer, layer.states) for layer in _carrying_states(target._flatten_layers())]
    variables = target.weights
    names = _input_names(x)

    def structured(values: List[Any]) -> Any:
        if isinstance(x, dict):
            return dict(zip(x, values))
        return list(values) if isinstance(x, (list, tuple)) else values[0]

    def flat(value: Any) -> List[Any]:
        if isinstance(x, dict):
            return [value[k] for k in x]
        return list(value) if isinstance(x, (list, tuple)) else [value]

    def fn(**arrays: np.ndarray) -> Tuple[Tuple[np.ndarray, ...], Callable[..., Any]]:
        for layer, states in stateful:  # every evaluation starts from the same carried states
            layer.states = states
        y, pullback = target.forward(structured([arrays[n] for n in names]), mask=mask, training=True)
        keys = list(y) if isinstance(y, dict) else None
        outputs = tuple(y[k] for k in keys) if keys else (tuple(y) if isinstance(y, list) else (y,))

        def backward(*d_outputs: np.ndarray) -> Dict[str, np.ndarray]:
            d = dict(zip(keys, d_outputs)) if keys else (list(d_outputs) if isinstance(y, list) else d_outputs[0])
            dx, grads = pullback(d)
            found = {v.path: grads.get(v, np.zeros_like(v.value)) for v in variables}
            d_inputs = {n: g for n, g in zip(names, flat(dx) if dx is not None else []) if g is not None}
            return d_inputs | found

        return outputs, backward

    return fn


def gradcheck(
    fn: Callable[..., Any],
    inputs: Mapping[str, Any],
    *,
    wrt: Optional[Sequence[str]] = None,
    eps: Optional[float] = None,
    order: int = 2,
    atol: float = 1e-8,
    rtol: float = 1e-6,
    seed: int = 0,
    raise_exception: bool = True,
) -> GradcheckReport:
    """Checks the analytic gradients of ``fn`` against central finite differences in float64.

    Args:
        fn: an rnnkit layer or model, checked with respect to ``inputs["x"]`` (an array, or
            a list/dict of arrays for a model of several inputs, checked as ``x[0]``, ``x[1]``
            or ``x[name]``; integer ids are not perturbed) and every weight, in float64, with ``inputs["mask"]`` passed
            as its mask if given (weights, dtypes and carried states restored afterwards);
            or a function called as
            ``fn(**inputs)``; returns an object with ``.outputs`` (a tuple of
            arrays) and ``.backward(*output_grads)`` returning a dict of gradients keyed by
            input name (every ``rnnkit.ops`` forward result qualifies), or a pair
            ``(outputs, backward)`` with the same meaning.
        inputs: name -> array. Float arrays are copied to float64; other values (masks,
            lengths, options) are passed through unchanged.
        wrt: names of the inputs to check; default every float array in ``inputs``.
        eps: finite-difference step; default 1e-6 for ``order=2``, 1e-3 for ``order=4``.
        order: accuracy order of the central difference: 2, the 3-point stencil
            ``(L(x+e) - L(x-e)) / 2e``; or 4, the 5-point stencil, whose error is
            O(eps^4) and which reaches about 1e-12 in float64 where 2 stops near 1e-9.
        atol, rtol: an entry passes if ``|analytic - numerical| <= atol + rtol * |numerical|``.
        seed: seed of the random output weights ``R_k`` of the checked scalar.
        raise_exception: raise :class:`GradcheckError` (an ``AssertionError``) on failure.

    Returns:
        GradcheckReport, truthy when every checked entry passed.
    """
    if order not in _STENCILS:
        raise ValueError(f"gradcheck: 'order' must be 2 or 4, got {order!r}")
    if not callable(fn):
        raise TypeError(f"gradcheck: 'fn' must be a layer, a model or a function, got {type(fn).__name__}")
    for name, value, positive in (("eps", eps, True), ("atol", atol, False), ("rtol", rtol, False)):
        if value is None and name == "eps":
            continue
        if not is_number(value):
            raise TypeError(f"gradcheck: '{name}' must be a number, got {value!r} of type {type(value).__name__}")
        number = cast(float, value)
        if not (np.isfinite(number) and (number > 0 if positive else number >= 0)):
            raise ValueError(f"gradcheck: '{name}' must be finite and {'> 0' if positive else '>= 0'}, got {value!r}")
    if not isinstance(inputs, Mapping):
        raise TypeError(f"gradcheck: 'inputs' must be a dict name -> array, got {type(inputs).__name__}")
    from .layers.base import Layer

    if isinstance(fn, Layer):
        if "x" not in inputs or not set(inputs) <= {"x", "mask"}:
            raise ValueError(f"gradcheck of a layer or model takes inputs {{'x': array or list/dict of arrays"
                             f"[, 'mask': bool array]}}, got keys {sorted(inputs)}")
        x = inputs["x"]
        leaves = list(x.values()) if isinstance(x, dict) else (list(x) if isinstance(x, (list, tuple)) else [x])
        leaves = [np.asarray(a) for a in leaves]
        leaves = [np.array(a, dtype=np.float64) if a.dtype.kind == "f" else a for a in leaves]  # ids stay ids
        if not fn.built:
            fn.build(fn._build_shape(leaves[0]))
        with _float64_layer(fn):
            # The weights' own arrays are perturbed in place, so the layer sees every change.
            weights = {v.path: v.value for v in fn.weights}
            arrays = dict(zip(_input_names(x), leaves))
            return _check(_layer_function(fn, inputs.get("mask"), x), {**arrays, **weights}, wrt, order, eps, atol,
                          rtol, seed, raise_exception, copy=False)
    return _check(fn, inputs, wrt, order, eps, atol, rtol, seed, raise_exception, copy=True)


def _check(fn: Callable[..., Any], inputs: Mapping[str, Any], wrt: Optional[Sequence[str]], order: int,
           eps: Optional[float], atol: float, rtol: float, seed: int, raise_exception: bool,
           copy: bool) -> GradcheckReport:
    if eps is None:
        eps = 1e-6 if order == 2 else 1e-3
    stencil = _STENCILS[order]
    values: Dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, (np.ndarray, list, tuple, float)) and np.asarray(value).dtype.kind == "f":
            # C order: the flat view perturbed below must be a view of the array itself.
            values[name] = np.array(value, dtype=np.float64, order="C") if copy else np.asarray(value, dtype=np.float64)
        else:
            values[name] = value
    floats = [name for name, value in values.items() if isinstance(value, np.ndarray) and value.dtype == np.float64]
    names = list(floats if wrt is None else wrt)
    for name in names:
        if name not in floats:
            raise ValueError(f"gradcheck: 'wrt' names {name!r}, which is not a float input; float inputs: {floats}")

    outputs, backward = _evaluate(fn, values)
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(o.shape) for o in outputs]
    analytic = backward(*weights)

    def objective() -> float:
        outs, _ = _evaluate(fn, values)
        return float(sum(np.sum(w * o) for w, o in zip(weights, outs)))

    checks = []
    for name in names:
        if name not in analytic:
            raise ValueError(f"gradcheck: backward returned no gradient for {name!r}; it returned {sorted(analytic)}")
        grad = np.asarray(analytic[name], dtype=np.float64)
        x = values[name]
        if grad.shape != x.shape:
            raise ValueError(f"gradcheck: gradient of {name!r} has shape {grad.shape}, the input {x.shape}")
        numerical = np.empty_like(x)
        flat, num_flat = x.reshape(-1), numerical.reshape(-1)
        for k in range(flat.size):
            saved = flat[k]
            total = 0.0
            for offset, coefficient in stencil:
                flat[k] = saved + offset * eps
                total += coefficient * objective()
            flat[k] = saved
            num_flat[k] = total / eps
        checks.append(_compare(name, grad, numerical, atol, rtol))

    report = GradcheckReport(checks, eps, order, atol, rtol)
    if raise_exception and not report.passed:
        raise GradcheckError("\n" + str(report))
    return report


def _compare(name: str, analytic: np.ndarray, numerical: np.ndarray, atol: float, rtol: float) -> InputCheck:
    if analytic.size == 0:
        return InputCheck(name, analytic.shape, 0.0, 0.0, (), 0.0, 0.0, True)
    error = np.abs(analytic - numerical)
    # Relative error over the entries above the absolute floor; below it, noise rules.
    scale = np.maximum(np.abs(analytic), np.abs(numerical))
    relative = np.where(scale > atol, error / np.where(scale > 0, scale, 1.0), 0.0)
    # The worst entry is the one furthest beyond its own tolerance.
    tolerance = atol + rtol * np.abs(numerical)
    excess = np.divide(error, tolerance, out=np.where(error > 0, np.inf, 0.0), where=tolerance > 0)
    worst = np.unravel_index(np.argmax(excess), error.shape)
    return InputCheck(
        name=name,
        shape=analytic.shape,
        max_abs_error=float(error.max()),
        max_rel_error=float(relative.max()),
        worst_index=tuple(int(i) for i in worst),
        analytic=float(analytic[worst]),
        numerical=float(numerical[worst]),
        passed=bool(np.all(error <= atol + rtol * np.abs(numerical))),
    )
