"""Differentiable recurrent and dense operations on NumPy arrays, computed by the C++ core.

Each ``*_forward`` returns a result holding the outputs and the cache the backward pass
needs; ``result.backward(...)`` returns the gradient of every input, keyed by the input's
name. Shapes: ``x`` is batch-major ``(batch, time, features)`` (N, T, F); ``units`` is H.
Weights use Keras' layout: ``kernel (F, G*H)``, ``recurrent_kernel (H, G*H)``, gate blocks
concatenated in Keras' order (LSTM i, f, c, o; GRU z, r, h). All float arrays of one call
share one dtype, float32 or float64.

``mask`` (N, T) of bool, or ``lengths`` (N,) of ints in [0, T], marks the valid steps: at a
masked step the state is carried through unchanged and takes no gradient. With
``go_backwards=True`` the sequence is processed from the last step to the first and the
outputs are in processing order, as in Keras.

What ``backward`` reads: a result keeps what its backward pass needs (``x``, the weights,
``mask``, ``recurrent_dropout_mask``; Dense also its output), so changing the caller's arrays
in place after the forward call, or updating the weights (an optimizer step,
``Variable.assign``, ``set_weights``), cannot change the gradients ``backward`` returns: they
are always those of the forward pass that was computed. An argument the caller can still write
to (a writeable array, or a view of one) is copied, C-contiguous, at the forward call; one that
is already the result's own (built from a list, or read-only down to the memory owning it) is
kept by reference. The copies cost little next to the kernels over a sequence: at ``(N, T, F,
H) = (32, 100, 32, 128)`` the copy of ``x`` and the LSTM weights takes about 1% of the forward
pass. They matter for single steps with large weights (``T = 1``, ``H = 1024``: about 40% of
the step at batch 32, more than the step itself at batch 1), so forward calls made inside
:func:`no_backward` skip them, and write no cache for a backward pass either (an LSTM stores
4 values per unit and step instead of 7): such a result has no ``backward``. ``layer(x)``,
``predict``, ``evaluate`` and a cell's one-step ``call`` run inside it.

The layers (``rnnkit.layers``) call these functions with their weights' own arrays, which
optimizers update in place: within a training step (forward, pullback, then the update) that
is safe either way, and thanks to the copies a pullback kept across an optimizer step, or
called after the caller reused its input buffer, still returns the gradients of the forward
pass it belongs to.

``result.cache`` (and the ``gates`` and ``cell_states`` views of it) are the backward pass's
working arrays: read them, do not write to them.

Float arguments are checked for NaN and infinity before the kernels run, in blocks of at most
2**20 elements for large arrays (no temporary the size of the input).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, cast

import numpy as np

from . import _core, activations
from ._arguments import check_flag

__all__ = [
    "RecurrentResult",
    "DenseResult",
    "simple_rnn_forward",
    "lstm_forward",
    "gru_forward",
    "dense_forward",
    "simple_rnn_step",
    "lstm_step",
    "gru_step",
    "no_backward",
]

GATE_NAMES = {"simple_rnn": ("h",), "lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}


@dataclass
class RecurrentResult:
    """The outputs of a recurrent forward pass and what its backward pass needs.

    Attributes:
        output: ``(N, T, H)`` hidden states in processing order if ``return_sequences``,
            else the last one, ``(N, H)``.
        h: ``(N, H)`` final hidden state.
        c: ``(N, H)`` final cell state (LSTM), else ``None``.
        cache: arrays written by the forward pass for the backward pass, batch-major in
            input time order (``gates`` after their activations, ``h_prev``, ...).
    """

    cell: str
    output: np.ndarray
    h: np.ndarray
    c: Optional[np.ndarray]
    cache: Dict[str, np.ndarray]
    go_backwards: bool
    _backward: Callable[..., Dict[str, np.ndarray]] = field(repr=False)

    @property
    def outputs(self) -> Tuple[np.ndarray, ...]:
        """``(output, h)`` or, for LSTM, ``(output, h, c)``: what ``backward`` takes gradients of."""
        return (self.output, self.h) if self.c is None else (self.output, self.h, self.c)

    def _in_processing_order(self, array: np.ndarray) -> np.ndarray:
        return array[:, ::-1] if self.go_backwards else array

    @property
    def gates(self) -> Dict[str, np.ndarray]:
        """Per-step gate activations, each ``(N, T, H)`` in processing order (aligned with a
        sequence ``output``): LSTM ``i, f, c, o`` (``c`` is the candidate), GRU ``z, r, h``
        (``h`` is the candidate), SimpleRNN ``h``."""
        gates = self._in_processing_order(self.cache["gates"])
        units = self.h.shape[-1]
        return {
            name: gates[..., k * units : (k + 1) * units]
            for k, name in enumerate(GATE_NAMES[self.cell])
        }

    @property
    def cell_states(self) -> Optional[np.ndarray]:
        """LSTM cell states ``c_t``, ``(N, T, H)`` in processing order; ``None`` for other cells
        (and for a result computed inside :func:`no_backward`, which keeps no cell states)."""
        if self.cell != "lstm" or "cell" not in self.cache:
            return None
        return self._in_processing_order(self.cache["cell"])

    def backward(
        self,
        doutput: Optional[np.ndarray] = None,
        dh: Optional[np.ndarray] = None,
        dc: Optional[np.ndarray] = None,
        *,
        state_gradients: bool = False,
    ) -> Dict[str, np.ndarray]:
        """Gradients of the inputs given gradients of the outputs (``None`` counts as zero).

        Args:
            doutput: gradient of ``output``, same shape.
            dh: ``(N, H)`` gradient of the final hidden state ``h``.
            dc: ``(N, H)`` gradient of the final cell state ``c`` (LSTM only).
            state_gradients: also return ``"h_steps"``, the whole gradient ``dL/dh_t`` reaching
                every step's hidden state (through the outputs and through later steps),
                ``(N, T, H)`` in processing order, and for LSTM ``"c_steps"``, ``dL/dc_t``.

        Returns:
            ``{"x", "h0", ["c0"], "kernel", "recurrent_kernel", ["bias"], ["peephole_kernel"]}``,
            each the shape of the input of that name (and the state gradients when asked).
        """
        if "h_prev" not in self.cache:
            raise ValueError(f"{self.cell}: this result was computed inside ops.no_backward(), which keeps no "
                             "cache for a backward pass; call the forward function outside it")
        if dc is not None and self.c is None:
            raise ValueError(f"{self.cell} has no cell state; 'dc' must be None")
        dy = None
        if doutput is not None:
            doutput = np.asarray(doutput)
            if self.output.ndim == 2:  # the output is the final state h: their gradients add
                _check_shape("doutput", doutput, self.output.shape)
                dh = doutput if dh is None else np.asarray(dh) + doutput
            else:
                dy = doutput
        keep = check_flag(f"{self.cell} backward", "state_gradients", state_gradients)
        grads = self._backward(dy=dy, dh=dh, dc=dc, keep_state_gradients=keep)
        for name in ("h_steps", "c_steps"):
            if name in grads:
                grads[name] = self._in_processing_order(grads[name])
        return grads


@dataclass
class DenseResult:
    """The output of a Dense forward pass and what its backward pass needs.

    Attributes:
        output: ``(..., units)``, the input's shape with its last axis replaced.
    """

    output: np.ndarray
    _backward: Callable[[np.ndarray], Dict[str, np.ndarray]] = field(repr=False)

    @property
    def outputs(self) -> Tuple[np.ndarray]:
        """``(output,)``: what ``backward`` takes the gradient of (the form :func:`rnnkit.gradcheck` reads)."""
        return (self.output,)

    def backward(self, doutput: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
        """Gradients ``{"x", "kernel", ["bias"]}`` given the gradient of ``output``."""
        if doutput is None:
            doutput = np.zeros_like(self.output)
        return self._backward(np.asarray(doutput))


def _check_shape(name: str, array: np.ndarray, shape: Tuple[int, ...]) -> None:
    if array.shape != tuple(shape):
        raise ValueError(f"'{name}' must have shape {tuple(shape)}, got {array.shape}")


#: Arrays larger than this many elements are checked for NaN and infinity block by block.
_FINITE_BLOCK = 1 << 20

_NO_BACKWARD: contextvars.ContextVar[bool] = contextvars.ContextVar("rnnkit_ops_no_backward", default=False)


@contextlib.contextmanager
def no_backward() -> Iterator[None]:
    """Forward calls inside this context have no backward pass: they keep the caller's
    arrays by reference instead of copying them, and write no cache beyond ``gates`` (see the
    module docstring); their ``backward`` raises ValueError. Inference runs inside it."""
    token = _NO_BACKWARD.set(True)
    try:
        yield
    finally:
        _NO_BACKWARD.reset(token)


_TRUSTED: contextvars.ContextVar[bool] = contextvars.ContextVar("rnnkit_ops_trusted", default=False)


@contextlib.contextmanager
def trusted_arrays() -> Iterator[None]:
    """Forward calls inside this context take their arrays as already checked and as
    unchanging until their backward pass: no NaN check and no protective copy. The fit loop's
    steps run inside it: their data were checked once before the first batch, every other
    array is computed, and the weights change only after the pullback. (Weights that training
    turned to NaN then give a NaN loss, as in Keras, which ``TerminateOnNaN`` catches.)"""
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def _unprotected() -> bool:
    """Whether the arrays a backward pass reads need no copy: no backward pass will run
    (:func:`no_backward`), or nothing changes them before it (:func:`trusted_arrays`)."""
    return _NO_BACKWARD.get() or _TRUSTED.get()


def _first_nonfinite(array: np.ndarray) -> Optional[Tuple[int, ...]]:
    """The index (C order) of the first NaN or infinity of a float ``array``, or ``None``.

    Arrays of more than ``_FINITE_BLOCK`` elements are read in blocks along their leading
    axes, so no temporary larger than a block is made, whatever the array's strides.
    """
    if array.size <= _FINITE_BLOCK:
        finite = np.isfinite(array)
        if finite.all():
            return None
        return tuple(int(i) for i in np.unravel_index(int(np.argmin(finite)), array.shape))
    rows = array.shape[0]
    step = max(1, _FINITE_BLOCK // (array.size // rows))
    for start in range(0, rows, step):
        if step == 1:  # one row is already larger than a block: go down an axis
            found = _first_nonfinite(array[start])
            if found is not None:
                return (start,) + found
        else:
            found = _first_nonfinite(array[start:start + step])
            if found is not None:
                return (start + found[0],) + found[1:]
    return None


def _all_finite(array: np.ndarray) -> bool:
    """Whether a float array holds no NaN or infinity, without a temporary of its size (a
    block's worth of bools at most; as fast as a sum for small arrays, and never warns)."""
    if array.size <= _FINITE_BLOCK:
        return bool(np.isfinite(array).all())
    return _first_nonfinite(array) is None


def _may_change(value: Any, array: np.ndarray) -> bool:
    """Whether ``array`` (``np.asarray(value)``) is memory the caller can still write to."""
    if isinstance(value, (list, tuple, int, float)):
        return False  # np.asarray built a new array that only the result holds
    base: Any = array
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return True
        base = base.base
    return base is not None and not isinstance(base, bytes)  # a writable buffer (bytearray, mmap, ...)


def _as_array(what: str, value: Any) -> np.ndarray:
    """``np.asarray(value)``; a ragged nested list raises ValueError naming ``what`` (the
    argument, quoted)."""
    try:
        return np.asarray(value)
    except ValueError as error:
        raise ValueError(f"{what} must be a rectangular array (nested lists of equal lengths): {error}") from None


def _finite_arrays(function: str, keep: Tuple[str, ...], **arrays: Any) -> Dict[str, Any]:
    """np.asarray of each argument (None kept); non-finite float values raise ValueError.

    The arguments named in ``keep`` are those the backward pass reads: each that the caller
    can still change is copied (C-contiguous, as the kernels read it, so they need not copy it
    again), unless inside :func:`no_backward`. A copy that does not fit in memory raises
    MemoryError naming ``function`` and the argument.
    """
    if _TRUSTED.get():
        return {name: None if value is None else np.asarray(value) for name, value in arrays.items()}
    copy = not _NO_BACKWARD.get()
    out = {}
    for name, value in arrays.items():
        if value is not None:
            array = _as_array(f"'{name}'", value)
            if array.dtype.kind == "f" and not _all_finite(array):
                raise ValueError(f"'{name}' contains NaN or infinity")
            if copy and name in keep and _may_change(value, array):
                try:
                    array = np.array(array, order="C", copy=True)
                except MemoryError:
                    raise MemoryError(f"{function}: not enough memory for a C-contiguous copy of '{name}' of "
                                      f"shape {array.shape}") from None
            value = array
        out[name] = value
    return out


def _keep(array: np.ndarray, source: Any = None) -> np.ndarray:
    """``array`` for a backward pass to read later: a copy if the caller can still change it
    (``source``, the caller's argument, defaults to ``array``), unless inside :func:`no_backward`.
    Layers use it for the arrays their own pullbacks read."""
    if _unprotected() or not _may_change(array if source is None else source, array):
        return array
    return np.array(array, order="C", copy=True)


def _kept_mask(mask: Optional[np.ndarray], source: Any) -> Optional[np.ndarray]:
    """The (N, T) mask the backward pass reads, copied if the caller's ``mask`` may change."""
    if mask is None or _unprotected() or not _may_change(source, mask):
        return mask
    return np.array(mask, order="C", copy=True)


#: The arguments of a recurrent forward call that its backward pass reads.
_RECURRENT_KEPT = ("x", "kernel", "recurrent_kernel", "bias", "peephole_kernel", "recurrent_dropout_mask")


def _sequence_mask(x: np.ndarray, mask: Any, lengths: Any) -> Optional[np.ndarray]:
    """The (N, T) mask from ``mask`` or ``lengths`` (at most one of them)."""
    if mask is not None and lengths is not None:
        raise ValueError("pass either 'mask' or 'lengths', not both")
    if lengths is None:
        return None if mask is None else _kept_mask(np.asarray(mask), mask)
    if x.ndim != 3:  # the core reports the rank error with the full expectation
        return None
    lengths = np.asarray(lengths)
    batch, time = x.shape[:2]
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"'lengths' must hold integers, got dtype {lengths.dtype}")
    if lengths.shape != (batch,):
        raise ValueError(f"'lengths' must have shape (batch,) = ({batch},), got {lengths.shape}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > time):
        raise ValueError(
            f"'lengths' must lie in [0, time] = [0, {time}], got values from "
            f"{lengths.min()} to {lengths.max()}"
        )
    return cast(np.ndarray, np.arange(time)[None, :] < lengths[:, None])


def _recurrent_result(
    cell: str,
    forward: Tuple[Any, ...],
    backward: Callable[..., Dict[str, np.ndarray]],
    go_backwards: bool,
) -> RecurrentResult:
    if cell == "lstm":
        y, h, c, cache = forward
    else:
        (y, h, cache), c = forward, None
    output = h if y is None else y
    return RecurrentResult(cell, output, h, c, cache, go_backwards, backward)


def simple_rnn_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: Optional[np.ndarray] = None,
    *,
    h0: Optional[np.ndarray] = None,
    mask: Optional[np.ndarray] = None,
    lengths: Optional[np.ndarray] = None,
    recurrent_dropout_mask: Optional[np.ndarray] = None,
    activation: str = "tanh",
    go_backwards: bool = False,
    return_sequences: bool = True,
) -> RecurrentResult:
    """SimpleRNN over a sequence: ``h_t = act(x_t W + h_{t-1} U + b)``.

    Args:
        x: ``(N, T, F)`` inputs.
        kernel: ``(F, H)``. recurrent_kernel: ``(H, H)``. bias: ``(H,)`` or ``None``.
        h0: ``(N, H)`` initial state, zeros if ``None``.
        mask: ``(N, T)`` bool, ``False`` where a step is padding. lengths: ``(N,)`` ints.
        recurrent_dropout_mask: ``(N, H)``, fixed over time: each step reads
            ``h_{t-1} * recurrent_dropout_mask`` in place of ``h_{t-1}`` (Keras'
            recurrent_dropout; the mask holds 0 or 1 / (1 - rate)). ``None``: no dropout.
        activation: a name of ``rnnkit.activations.RECURRENT_ACTIVATIONS`` (``"tanh"``, ``"relu"``, ...).
        go_backwards: process the sequence from its last step.
        return_sequences: ``output`` is every step ``(N, T, H)``, else the last ``(N, H)``.

    Returns:
        RecurrentResult; ``backward`` gives ``x, h0, kernel, recurrent_kernel[, bias]``.
    """
    a = _finite_arrays("simple_rnn_forward", _RECURRENT_KEPT, x=x, kernel=kernel,
                       recurrent_kernel=recurrent_kernel, bias=bias, h0=h0,
                       recurrent_dropout_mask=recurrent_dropout_mask)
    m = _sequence_mask(a["x"], mask, lengths)
    forward = _core.simple_rnn_forward(
        a["x"], a["kernel"], a["recurrent_kernel"], a["bias"], a["h0"], m,
        a["recurrent_dropout_mask"], activation, go_backwards, return_sequences, not _NO_BACKWARD.get(),
    )

    def backward(dy: Optional[np.ndarray] = None, dh: Optional[np.ndarray] = None,
                 dc: Optional[np.ndarray] = None, keep_state_gradients: bool = False) -> Dict[str, np.ndarray]:
        return _core.simple_rnn_backward(
            a["x"], a["kernel"], a["recurrent_kernel"], a["bias"], m,
            a["recurrent_dropout_mask"], forward[-1], dy, dh, activation, go_backwards, keep_state_gradients,
        )

    return _recurrent_result("simple_rnn", forward, backward, go_backwards)


def lstm_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: Optional[np.ndarray] = None,
    *,
    h0: Optional[np.ndarray] = None,
    c0: Optional[np.ndarray] = None,
    peephole_kernel: Optional[np.ndarray] = None,
    mask: Optional[np.ndarray] = None,
    lengths: Optional[np.ndarray] = None,
    recurrent_dropout_mask: Optional[np.ndarray] = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    go_backwards: bool = False,
    return_sequences: bool = True,
) -> RecurrentResult:
    """LSTM over a sequence, Keras' equations (gate blocks i, f, c, o).

    ``i = ra(x W_i + h U_i + b_i)``, ``f``, ``o`` alike, ``g = act(x W_c + h U_c + b_c)``,
    ``c_t = f c_{t-1} + i g``, ``h_t = o act(c_t)``; with ``peephole_kernel`` the gates i, f
    also see ``c_{t-1}`` and o sees ``c_t`` (Gers & Schmidhuber).

    Args:
        x: ``(N, T, F)`` inputs.
        kernel: ``(F, 4H)``. recurrent_kernel: ``(H, 4H)``. bias: ``(4H,)`` or ``None``.
        h0, c0: ``(N, H)`` initial states, zeros if ``None``.
        peephole_kernel: ``(3, H)`` peephole weights for i, f, o, or ``None``.
        mask: ``(N, T)`` bool, ``False`` where a step is padding. lengths: ``(N,)`` ints.
        recurrent_dropout_mask: ``(N, H)``, fixed over time: each step reads
            ``h_{t-1} * recurrent_dropout_mask`` in place of ``h_{t-1}`` (Keras'
            recurrent_dropout; the mask holds 0 or 1 / (1 - rate)). ``None``: no dropout.
        activation: for the candidate and the cell output (``"tanh"``); any of
            ``rnnkit.activations.RECURRENT_ACTIVATIONS``.
        recurrent_activation: for the gates (``"sigmoid"``, ``"hard_sigmoid"``, ...).
        go_backwards: process the sequence from its last step.
        return_sequences: ``output`` is every step ``(N, T, H)``, else the last ``(N, H)``.

    Returns:
        RecurrentResult; ``backward`` gives ``x, h0, c0, kernel, recurrent_kernel[, bias]
        [, peephole_kernel]``.
    """
    a = _finite_arrays(
        "lstm_forward", _RECURRENT_KEPT, x=x, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias,
        h0=h0, c0=c0, peephole_kernel=peephole_kernel, recurrent_dropout_mask=recurrent_dropout_mask,
    )
    m = _sequence_mask(a["x"], mask, lengths)
    forward = _core.lstm_forward(
        a["x"], a["kernel"], a["recurrent_kernel"], a["bias"], a["h0"], a["c0"],
        a["peephole_kernel"], m, a["recurrent_dropout_mask"], activation, recurrent_activation,
        go_backwards, return_sequences, not _NO_BACKWARD.get(),
    )

    def backward(dy: Optional[np.ndarray] = None, dh: Optional[np.ndarray] = None,
                 dc: Optional[np.ndarray] = None, keep_state_gradients: bool = False) -> Dict[str, np.ndarray]:
        return _core.lstm_backward(
            a["x"], a["kernel"], a["recurrent_kernel"], a["bias"], a["peephole_kernel"], m,
            a["recurrent_dropout_mask"], forward[-1], dy, dh, dc, activation, recurrent_activation, go_backwards,
            keep_state_gradients,
        )

    return _recurrent_result("lstm", forward, backward, go_backwards)


def gru_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: Optional[np.ndarray] = None,
    *,
    h0: Optional[np.ndarray] = None,
    mask: Optional[np.ndarray] = None,
    lengths: Optional[np.ndarray] = None,
    recurrent_dropout_mask: Optional[np.ndarray] = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    reset_after: bool = True,
    go_backwards: bool = False,
    return_sequences: bool = True,
) -> RecurrentResult:
    """GRU over a sequence, Keras' layout (gate blocks z, r, h).

    ``z = ra(x W_z + h U_z + b_z)``, ``r`` alike, ``h_t = z h_{t-1} + (1 - z) h~`` with
    ``h~ = act(x W_h + r * (h U_h + b_rh) + b_ih)`` if ``reset_after`` (Keras 3 and PyTorch),
    else ``h~ = act(x W_h + (r * h) U_h + b_h)`` (Cho et al.).

    Args:
        x: ``(N, T, F)`` inputs.
        kernel: ``(F, 3H)``. recurrent_kernel: ``(H, 3H)``.
        bias: ``(2, 3H)`` (input and recurrent rows) if ``reset_after`` else ``(3H,)``; or ``None``.
        h0: ``(N, H)`` initial state, zeros if ``None``.
        mask: ``(N, T)`` bool, ``False`` where a step is padding. lengths: ``(N,)`` ints.
        recurrent_dropout_mask: ``(N, H)``, fixed over time: each step reads
            ``h_{t-1} * recurrent_dropout_mask`` in place of ``h_{t-1}`` (Keras'
            recurrent_dropout; the mask holds 0 or 1 / (1 - rate)). ``None``: no dropout.
        activation: for the candidate (``"tanh"``); any of ``rnnkit.activations.RECURRENT_ACTIVATIONS``.
        recurrent_activation: for the gates (``"sigmoid"``, ``"hard_sigmoid"``, ...).
        reset_after: apply the reset gate after the recurrent matrix product.
        go_backwards: process the sequence from its last step.
        return_sequences: ``output`` is every step ``(N, T, H)``, else the last ``(N, H)``.

    Returns:
        RecurrentResult; ``backward`` gives ``x, h0, kernel, recurrent_kernel[, bias]``.
    """
    a = _finite_arrays("gru_forward", _RECURRENT_KEPT, x=x, kernel=kernel, recurrent_kernel=recurrent_kernel,
                       bias=bias, h0=h0, recurrent_dropout_mask=recurrent_dropout_mask)
    m = _sequence_mask(a["x"], mask, lengths)
    forward = _core.gru_forward(
        a["x"], a["kernel"], a["recurrent_kernel"], a["bias"], a["h0"], m,
        a["recurrent_dropout_mask"], activation, recurrent_activation, reset_after, go_backwards, return_sequences,
        not _NO_BACKWARD.get(),
    )

    def backward(dy: Optional[np.ndarray] = None, dh: Optional[np.ndarray] = None,
                 dc: Optional[np.ndarray] = None, keep_state_gradients: bool = False) -> Dict[str, np.ndarray]:
        return _core.gru_backward(
            a["x"], a["kernel"], a["recurrent_kernel"], a["bias"], m,
            a["recurrent_dropout_mask"], forward[-1], dy, dh, activation, recurrent_activation,
            reset_after, go_backwards, keep_state_gradients,
        )

    return _recurrent_result("gru", forward, backward, go_backwards)


def dense_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: Optional[np.ndarray] = None,
    *,
    activation: str = "linear",
) -> DenseResult:
    """Dense layer ``y = act(x W + b)`` on the last axis.

    Args:
        x: ``(N, F)`` or ``(N, T, F)`` (any leading axes).
        kernel: ``(F, U)``. bias: ``(U,)`` or ``None``.
        activation: a name of ``rnnkit.activations.DENSE_ACTIVATIONS`` (softmax over the last axis).

    Returns:
        DenseResult with ``output`` of shape ``x.shape[:-1] + (U,)``; ``backward`` gives
        ``x, kernel[, bias]``.
    """
    a = _finite_arrays("dense_forward", ("x", "kernel", "bias"), x=x, kernel=kernel, bias=bias)
    y = _core.dense_forward(a["x"], a["kernel"], a["bias"], activation)
    # The backward pass reads the output (the activation's derivative): keep our own copy,
    # since ``output`` is the caller's to change. The derivatives of linear, and of gelu and
    # silu (computed from the pre-activation), do not read it.
    y_kept = y if activation == "linear" or activations.needs_input(activation) or _unprotected() else y.copy()

    def backward(dy: np.ndarray) -> Dict[str, np.ndarray]:
        return _core.dense_backward(a["x"], a["kernel"], a["bias"], y_kept, dy, activation)

    return DenseResult(y, backward)


# ----------------------------------------------------------------------------- single steps
# One step is a sequence of length one: the same kernels, so the step and the sequence
# can never disagree.


@dataclass
class StepResult:
    """One recurrent step: ``output`` and ``h`` are ``(N, H)``, ``c`` (LSTM) too, and
    ``gates`` maps each gate name to its ``(N, H)`` activation."""

    output: np.ndarray
    h: np.ndarray
    c: Optional[np.ndarray]
    gates: Dict[str, np.ndarray]
    _sequence: RecurrentResult = field(repr=False)
    _name: str = field(default="step", repr=False)

    @property
    def outputs(self) -> Tuple[np.ndarray, ...]:
        """``(h,)`` or, for LSTM, ``(h, c)``."""
        return (self.h,) if self.c is None else (self.h, self.c)

    def backward(
        self, dh: Optional[np.ndarray] = None, dc: Optional[np.ndarray] = None
    ) -> Dict[str, np.ndarray]:
        """Gradients ``{"x", "h_prev", ["c_prev"], "kernel", ...}`` given those of ``h``, ``c``."""
        try:
            grads = self._sequence.backward(dh=dh, dc=dc)
        except (TypeError, ValueError) as error:
            raise _step_error(error, f"{self._name} backward", f"{self._sequence.cell}_backward") from None
        grads["x"] = grads["x"][:, 0]
        grads["h_prev"] = grads.pop("h0")
        if "c0" in grads:
            grads["c_prev"] = grads.pop("c0")
        return grads


_STEP_NAMES = {"'h0'": "'h_prev'", "'c0'": "'c_prev'"}


def _step(step_name: str, forward: Callable[..., RecurrentResult], x: np.ndarray, **kwargs: Any) -> StepResult:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{step_name}: 'x' must be 2-D (batch, features) for one step, got shape {x.shape}")
    try:
        result = forward(x[:, None, :], return_sequences=False, **kwargs)
    except (TypeError, ValueError, MemoryError) as error:
        raise _step_error(error, step_name, forward.__name__) from None
    gates = {name: gate[:, 0] for name, gate in result.gates.items()}
    return StepResult(result.h, result.h, result.c, gates, result, step_name)


def _step_error(error: Exception, step_name: str, sequence_function: str) -> Exception:
    """``error`` of the sequence call made for one step, reworded: its messages name the sequence
    function and its arguments h0 and c0, where the step's caller called them h_prev and c_prev."""
    message = str(error)
    if message.startswith(f"{sequence_function}: "):
        message = message[len(sequence_function) + 2:]
    for sequence_name, step_argument in _STEP_NAMES.items():
        message = message.replace(sequence_name, step_argument)
    try:
        return type(error)(f"{step_name}: {message}")
    except Exception:  # noqa: BLE001 - an exception type that takes other arguments: leave it as it is
        return error


def simple_rnn_step(x: np.ndarray, h_prev: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray,
                    bias: Optional[np.ndarray] = None, *, activation: str = "tanh") -> StepResult:
    """One SimpleRNN step. x ``(N, F)``, h_prev ``(N, H)``; weights as in simple_rnn_forward."""
    return _step("simple_rnn_step", simple_rnn_forward, x, kernel=kernel, recurrent_kernel=recurrent_kernel,
                 bias=bias, h0=h_prev, activation=activation)


def lstm_step(x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray, kernel: np.ndarray,
              recurrent_kernel: np.ndarray, bias: Optional[np.ndarray] = None, *,
              peephole_kernel: Optional[np.ndarray] = None, activation: str = "tanh",
              recurrent_activation: str = "sigmoid") -> StepResult:
    """One LSTM step. x ``(N, F)``, h_prev and c_prev ``(N, H)``; weights as in lstm_forward."""
    return _step("lstm_step", lstm_forward, x, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias,
                 h0=h_prev, c0=c_prev, peephole_kernel=peephole_kernel, activation=activation,
                 recurrent_activation=recurrent_activation)


def gru_step(x: np.ndarray, h_prev: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray,
             bias: Optional[np.ndarray] = None, *, activation: str = "tanh", recurrent_activation: str = "sigmoid",
             reset_after: bool = True) -> StepResult:
    """One GRU step. x ``(N, F)``, h_prev ``(N, H)``; weights as in gru_forward."""
    return _step("gru_step", gru_forward, x, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias,
                 h0=h_prev, activation=activation, recurrent_activation=recurrent_activation,
                 reset_after=reset_after)
