"""Look inside recurrent layers: the gates, states and state gradients of every time step.

``model.trace(x)`` runs the model once (inference mode: no dropout) and keeps, for every
recurrent layer of a built-in cell (SimpleRNN, LSTM, GRU, in any Sequential or functional
model, masked, bidirectional or stacked), what its C++ forward pass computed at each step;
``model.trace(x, y)`` also runs the backward pass of the compiled loss and keeps the gradient
reaching every step's states::

    trace = model.trace(x, y)
    trace["lstm"].gates["f"]                # (N, T, units): the forget gate at every step
    trace["lstm"].hidden                    # (N, T, units): h_t
    trace["lstm"].gradient_norms()["h"]     # (T,): ||dL/dh_t|| over the batch and the units

Every array is in processing order (a ``go_backwards`` layer's step 0 is its input's last
step), aligned with the layer's sequence output. A layer called twice appears twice, the
second time as ``"name:1"``. Cells written in Python run outside the kernels and are not
traced. ``rnnkit.plotting`` draws gate heatmaps and gradient norms from a trace.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple, cast

import numpy as np

__all__ = ["LayerTrace", "Trace", "recurrent_cells"]


@dataclass
class LayerTrace:
    """What one recurrent layer computed over a batch, step by step.

    Attributes:
        name: the layer's path in the model: ``"lstm"``, ``"bidirectional/forward_lstm"``,
            ``"rnn/lstm_cell"`` for a cell of ``StackedRNNCells``.
        cell: ``"simple_rnn"``, ``"lstm"`` or ``"gru"``.
        gates: each gate's activation, ``(N, T, units)``: LSTM ``i, f, c, o`` (``c`` is the
            candidate ``c~``), GRU ``z, r, h`` (``h`` is the candidate ``h~``), SimpleRNN ``h``.
            At a masked step the gates are computed but not used.
        hidden: ``h_t`` after every step, ``(N, T, units)``; a masked step carries ``h_{t-1}``.
        cell_state: LSTM ``c_t``, ``(N, T, units)``; ``None`` for the other cells.
        mask: ``(N, T)`` bool, ``False`` at padded steps, or ``None``.
        go_backwards: the layer ran from its input's last step.
        grad_hidden: ``dL/dh_t``, the whole gradient reaching each ``h_t`` (from the layer's
            outputs and from later steps), ``(N, T, units)``; ``None`` without a backward pass.
        grad_cell_state: LSTM ``dL/dc_t`` likewise, else ``None``.
    """

    name: str
    cell: str
    gates: Dict[str, np.ndarray]
    hidden: np.ndarray
    cell_state: Optional[np.ndarray]
    mask: Optional[np.ndarray]
    go_backwards: bool
    grad_hidden: Optional[np.ndarray] = None
    grad_cell_state: Optional[np.ndarray] = None

    @property
    def units(self) -> int:
        """The layer's width, the last axis of ``hidden``."""
        return int(self.hidden.shape[-1])

    @property
    def time_steps(self) -> int:
        """The number of steps ``T``, the second axis of ``hidden``."""
        return int(self.hidden.shape[1])

    def gradient_norms(self) -> Dict[str, np.ndarray]:
        """The norm of ``dL/dh_t`` (``"h"``) and, for LSTM, of ``dL/dc_t`` (``"c"``) at every
        step: float64 arrays of shape ``(T,)``, each the 2-norm over the batch and the units.

        Vanishing gradients show as norms falling towards the first steps, exploding ones as
        norms growing there."""
        if self.grad_hidden is None:
            raise ValueError(f"{self.name}: this trace has no gradients; call trace(x, y) with targets "
                             "(a model's compiled loss), or a layer's trace(x, d_outputs=...)")
        norms = {"h": _step_norms(self.grad_hidden)}
        if self.grad_cell_state is not None:
            norms["c"] = _step_norms(self.grad_cell_state)
        return norms


def _step_norms(gradients: np.ndarray) -> np.ndarray:
    return cast(np.ndarray, np.sqrt(np.einsum("nth,nth->t", gradients, gradients, dtype=np.float64)))


class Trace(Dict[str, LayerTrace]):
    """The :class:`LayerTrace` of every traced recurrent layer, by name, in the order the
    layers ran. ``loss`` is the loss of the traced batch when targets were given, else ``None``."""

    loss: Optional[float] = None

    def gradient_norms(self) -> Dict[str, Dict[str, np.ndarray]]:
        """``{layer name: layer.gradient_norms()}`` for every layer."""
        return {name: layer.gradient_norms() for name, layer in self.items()}


class _Recorder:
    def __init__(self, paths: Dict[int, str]) -> None:
        self.paths = paths
        self.trace = Trace()

    def add(self, cell: Any, result: Any, mask: Optional[np.ndarray], go_backwards: bool) -> LayerTrace:
        name = self.paths.get(id(cell), getattr(cell, "name", result.cell))
        calls = sum(1 for key in self.trace if key == name or key.startswith(name + ":"))
        key = name if calls == 0 else f"{name}:{calls}"
        entry = LayerTrace(key, result.cell, result.gates, _after_each_step(result, "h_prev", result.h),
                           _after_each_step(result, "c_prev", result.c) if result.c is not None else None,
                           None if mask is None else (mask[:, ::-1] if go_backwards else mask).astype(bool),
                           go_backwards)
        self.trace[key] = entry
        return entry


def _after_each_step(result: Any, cache_name: str, final: np.ndarray) -> np.ndarray:
    """The state after every step, from the state each step read (the cache) and the last one."""
    seen = result._in_processing_order(result.cache[cache_name])
    return np.concatenate([seen[:, 1:], final[:, None]], axis=1)


_RECORDER: contextvars.ContextVar[Optional[_Recorder]] = contextvars.ContextVar("rnnkit_trace", default=None)


def active() -> Optional[_Recorder]:
    """The recorder of the trace being taken, or ``None`` (the cells record into it)."""
    return _RECORDER.get()


# What each gate block is, for plots and summaries.
GATE_TITLES = {
    "lstm": {"i": "i (input gate)", "f": "f (forget gate)", "c": "c~ (candidate)", "o": "o (output gate)"},
    "gru": {"z": "z (update gate)", "r": "r (reset gate)", "h": "h~ (candidate)"},
    "simple_rnn": {"h": "h (state)"},
}


def recurrent_cells(root: Any) -> List[Tuple[str, Any]]:
    """``(path, cell)`` for the cell of every RNN layer under ``root`` (each cell of
    ``StackedRNNCells`` apart), in layer order; the path names the layers from ``root`` down."""
    from .layers.recurrent import RNN  # the layers import this module
    from .models.base import BaseModel

    found: List[Tuple[str, Any]] = []

    def visit(layer: Any, path: str) -> None:
        if isinstance(layer, RNN):
            cells = getattr(layer.cell, "cells", None)
            found.extend([(path, layer.cell)] if cells is None else [(f"{path}/{c.name}", c) for c in cells])
        for sub in layer._sublayers():
            visit(sub, f"{path}/{sub.name}" if path else sub.name)

    visit(root, "" if isinstance(root, BaseModel) else root.name)
    return found


@contextlib.contextmanager
def recording(root: Any) -> Iterator[Trace]:
    """Within the block, every built-in recurrent cell run under ``root`` records its steps
    into the yielded :class:`Trace` (its gradients when its pullback runs)."""
    recorder = _Recorder({id(cell): path for path, cell in recurrent_cells(root)})
    token = _RECORDER.set(recorder)
    try:
        yield recorder.trace
    finally:
        _RECORDER.reset(token)
