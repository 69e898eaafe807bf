"""Recurrent cells: SimpleRNNCell, LSTMCell, GRUCell (whole sequences in the C++ kernels),
StackedRNNCells, and the Python time loop that runs a cell written by the user.

A cell owns the weights of one recurrent layer. ``RNN(cell)`` runs it over a sequence through
``run_sequence``, which returns ``(output, final_states, pullback)``; the pullback maps
``(d_output, d_final_states)`` to ``(dx, d_initial_states, {variable: gradient})``.

A cell written in Python needs ``state_size`` (an int or a list of ints), ``call(inputs,
states, training=False) -> (output, new_states)`` for one step ``(N, F) -> (N, units)``,
and ``backward(inputs, states, d_output, d_new_states) -> (d_inputs, d_states, d_weights)``
for that step, recomputing what it needs from ``inputs`` and ``states``; ``d_weights`` is a
dict ``{variable: gradient}`` or a list in ``cell.weights`` order. It runs in a Python loop
over time, so it is much slower than the built-in cells.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

import numpy as np

from .. import activations, constraints, initializers, ops, regularizers, traces, utils
from .._arguments import check_flag, check_seed
from .base import Grads, Layer, Shape, accumulate, as_list, check_rate, check_size, check_weight_sizes, dropout_keep

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "run_cell"]

SequencePullback = Callable[[Optional[np.ndarray], List[Optional[np.ndarray]]],
                            Tuple[np.ndarray, List[np.ndarray], Grads]]


def output_keep(mask: Optional[np.ndarray], go_backwards: bool, return_sequences: bool,
                zero_output_for_mask: bool, dtype: Any) -> Optional[np.ndarray]:
    """Which outputs Keras keeps at masked steps, as 0/1 in the output's shape (None: all).

    Keras repeats the previous output at a masked step, starting from zeros, so the outputs
    before a sequence's first valid step are zero; with ``zero_output_for_mask`` every masked
    output is zero. The last output of ``return_sequences=False`` follows the same rule.
    """
    if mask is None:
        return None
    in_order = mask[:, ::-1] if go_backwards else mask
    keep = in_order if zero_output_for_mask else np.logical_or.accumulate(in_order, axis=1)
    if return_sequences:
        return keep[..., None].astype(dtype)
    return keep[:, -1:].astype(dtype)


class _KernelCell(Layer):
    """What the three built-in cells share: weights in Keras' layout, dropout, and the whole
    sequence computed by one ``rnnkit.ops`` call."""

    gates = 1
    cell_type = "simple_rnn"  # the rnnkit.ops kernel it runs
    state_names: Tuple[str, ...] = ("h",)

    def __init__(self, units: int, activation: Optional[str] = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: Optional[int] = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, _owner: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Argument errors name the layer the user made: LSTM for LSTM(...), LSTMCell for a cell.
        kind = self._kind = _owner or type(self).__name__
        units = check_size(kind, "units", units)
        dropout = check_rate(kind, "dropout", dropout)
        recurrent_dropout = check_rate(kind, "recurrent_dropout", recurrent_dropout)
        self.units = int(units)
        self.activation = activations.get(activation, activations.RECURRENT_ACTIVATIONS)
        self.use_bias = check_flag(kind, "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.seed = check_seed(kind, seed)
        self._rng = utils.rng(seed)

    @property
    def state_size(self) -> Any:
        """The width of each state, as Keras gives it: ``units`` for one state (``h``), a list
        ``[units, units]`` for the LSTM's ``h`` and ``c``."""
        return self.units if len(self.state_names) == 1 else [self.units] * len(self.state_names)

    @property
    def output_size(self) -> int:
        """The width of a step's output: ``units``."""
        return self.units

    def bias_shape(self) -> Tuple[int, ...]:
        """The shape of the ``bias`` weight: ``(gates * units,)``, one block per gate."""
        return (self.gates * self.units,)

    def build(self, input_shape: Shape) -> None:
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the feature size of the inputs must be known, got {input_shape}")
        width = self.gates * self.units
        check_weight_sizes(self, self._weight_shapes(input_shape[-1]))  # all of them before allocating any
        self.kernel = self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer,
                                      self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width),
                                                self.recurrent_initializer, self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight("bias", self.bias_shape(), self.bias_initializer, self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        super().build(input_shape)

    def _weight_shapes(self, features: int) -> Dict[str, Tuple[int, ...]]:
        """The shapes of the weights ``build`` creates for inputs of ``features``."""
        width = self.gates * self.units
        shapes: Dict[str, Tuple[int, ...]] = {"kernel": (features, width), "recurrent_kernel": (self.units, width)}
        if self.use_bias:
            shapes["bias"] = self.bias_shape()
        return shapes

    def _kernel_arguments(self) -> Dict[str, Any]:
        """The cell's weights and options, as the rnnkit.ops forward takes them."""
        return {"kernel": self.kernel.value, "recurrent_kernel": self.recurrent_kernel.value,
                "bias": self.bias.value if self.bias is not None else None, "activation": self.activation}

    def _ops_forward(self, x: np.ndarray, **kwargs: Any) -> ops.RecurrentResult:
        raise NotImplementedError

    def run_sequence(self, x: np.ndarray, states: Sequence[Optional[np.ndarray]], mask: Optional[np.ndarray],
                     training: bool, go_backwards: bool, return_sequences: bool,
                     zero_output_for_mask: bool) -> Tuple[np.ndarray, List[np.ndarray], SequencePullback]:
        """The whole sequence ``x (N, T, F)`` in one kernel call, from ``states`` (``None``: zeros)."""
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected inputs with {self.kernel.shape[0]} features, got shape {x.shape}")
        batch = x.shape[0]
        input_keep = dropout_keep(self._rng, (batch, 1, x.shape[-1]), self.dropout, x.dtype) \
            if training and self.dropout > 0 else None  # one mask per sample for every step, as Keras
        recurrent_keep = dropout_keep(self._rng, (batch, self.units), self.recurrent_dropout, x.dtype) \
            if training and self.recurrent_dropout > 0 else None
        initial = dict(zip(("h0", "c0"), states))
        result = self._ops_forward(x if input_keep is None else x * input_keep, **initial, mask=mask,
                                   recurrent_dropout_mask=recurrent_keep, go_backwards=go_backwards,
                                   return_sequences=return_sequences, **self._kernel_arguments())
        keep = output_keep(mask, go_backwards, return_sequences, zero_output_for_mask, x.dtype)
        output = result.output if keep is None else result.output * keep
        variables = self._weights
        recorder = traces.active()
        traced = recorder.add(self, result, mask, go_backwards) if recorder is not None else None

        def pullback(d_output: Optional[np.ndarray], d_states: List[Optional[np.ndarray]]
                     ) -> Tuple[np.ndarray, List[np.ndarray], Grads]:
            if d_output is not None and keep is not None:
                d_output = d_output * keep
            d_states = list(d_states) + [None] * 2
            grads = result.backward(d_output, d_states[0], d_states[1] if result.c is not None else None,
                                    state_gradients=traced is not None)
            if traced is not None:
                traced.grad_hidden, traced.grad_cell_state = grads["h_steps"], grads.get("c_steps")
            dx = grads["x"] if input_keep is None else grads["x"] * input_keep
            d_initial = [grads["h0"]] if result.c is None else [grads["h0"], grads["c0"]]
            return dx, d_initial, {v: grads[v.name] for v in variables}

        final = [result.h] if result.c is None else [result.h, result.c]
        return output, final, pullback

    # Keras' cell interface, cell(inputs, states), in place of a layer's call(inputs, training, mask).
    def call(self, inputs: Any, states: Any,  # type: ignore[override]
             training: bool = False) -> Tuple[np.ndarray, List[np.ndarray]]:
        """One step, Keras' cell interface: ``inputs (N, F)``, ``states`` a list of ``(N, units)``;
        returns ``(output, new_states)``."""
        x = np.asarray(inputs, dtype=self.dtype)
        if x.ndim != 2:
            raise ValueError(f"{self.name}: a cell step takes inputs of shape (batch, features), got {x.shape}")
        if not self.built:
            self.build((None, x.shape[-1]))
        states = [np.asarray(s, dtype=self.dtype) for s in as_list(states)]
        with ops.no_backward():  # the pullback is dropped: the kernel need not copy its inputs
            output, final, _ = self.run_sequence(x[:, None, :], states, None, training, False, False, False)
        return output, final

    def __call__(self, inputs: Any, states: Any = None, training: bool = False,  # type: ignore[override]
                 **kwargs: Any) -> Any:
        if states is None:
            raise TypeError(f"{self.name}: a cell is called as cell(inputs, states)")
        return self.call(inputs, states, training=training)

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {
            "units": self.units, "activation": self.activation, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
        }


class SimpleRNNCell(_KernelCell):
    """The SimpleRNN step ``h_t = activation(x_t W + h_{t-1} U + b)``.

    Weights: ``kernel (features, units)``, ``recurrent_kernel (units, units)``, ``bias (units,)``.
    Args as Keras' SimpleRNNCell (units, activation, use_bias, initializers, regularizers,
    dropout, recurrent_dropout, seed).
    """

    def _ops_forward(self, x: np.ndarray, h0: Optional[np.ndarray] = None, c0: Optional[np.ndarray] = None,
                     **kwargs: Any) -> ops.RecurrentResult:
        return ops.simple_rnn_forward(x, h0=h0, **kwargs)


class _GatedCell(_KernelCell):
    def __init__(self, units: int, activation: Optional[str] = "tanh",
                 recurrent_activation: Optional[str] = "sigmoid", **kwargs: Any) -> None:
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation, activations.RECURRENT_ACTIVATIONS)

    def _kernel_arguments(self) -> Dict[str, Any]:
        return super()._kernel_arguments() | {"recurrent_activation": self.recurrent_activation}

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"recurrent_activation": self.recurrent_activation}


class LSTMCell(_GatedCell):
    """The LSTM step, Keras' equations and layout (gate blocks i, f, c, o).

    Weights: ``kernel (features, 4*units)``, ``recurrent_kernel (units, 4*units)``,
    ``bias (4*units,)``, and with ``peephole=True`` also ``peephole_kernel (3, units)``
    (rows i, f, o; Gers & Schmidhuber). States ``[h, c]``.
    Args as Keras' LSTMCell, plus ``peephole`` and ``peephole_initializer``.
    """

    gates = 4
    cell_type = "lstm"  # the rnnkit.ops kernel it runs
    state_names = ("h", "c")

    def __init__(self, units: int, activation: Optional[str] = "tanh",
                 recurrent_activation: Optional[str] = "sigmoid", unit_forget_bias: bool = True,
                 peephole: bool = False, peephole_initializer: Any = "zeros", **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, **kwargs)
        self.unit_forget_bias = check_flag(self._kind, "unit_forget_bias", unit_forget_bias)
        self.peephole = check_flag(self._kind, "peephole", peephole)
        self.peephole_initializer = initializers.get(peephole_initializer)

    def _weight_shapes(self, features: int) -> Dict[str, Tuple[int, ...]]:
        shapes = super()._weight_shapes(features)
        if self.peephole:
            shapes["peephole_kernel"] = (3, self.units)
        return shapes

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        if self.bias is not None and self.unit_forget_bias:  # Keras: the forget block starts at one
            self.bias.value[self.units:2 * self.units] = 1
        if self.peephole:
            self.peephole_kernel = self.add_weight("peephole_kernel", (3, self.units), self.peephole_initializer)

    def _kernel_arguments(self) -> Dict[str, Any]:
        peephole = self.peephole_kernel.value if self.peephole else None
        return super()._kernel_arguments() | {"peephole_kernel": peephole}

    def _ops_forward(self, x: np.ndarray, **kwargs: Any) -> ops.RecurrentResult:
        return ops.lstm_forward(x, **kwargs)

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {
            "unit_forget_bias": self.unit_forget_bias, "peephole": self.peephole,
            "peephole_initializer": initializers.serialize(self.peephole_initializer)}


class GRUCell(_GatedCell):
    """The GRU step, Keras' layout (gate blocks z, r, h).

    ``reset_after=True`` (Keras 3 and PyTorch default): ``bias (2, 3*units)``, input and
    recurrent rows; ``reset_after=False`` (Cho et al.): ``bias (3*units,)``.
    Args as Keras' GRUCell.
    """

    gates = 3
    cell_type = "gru"  # the rnnkit.ops kernel it runs

    def __init__(self, units: int, activation: Optional[str] = "tanh",
                 recurrent_activation: Optional[str] = "sigmoid", reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, **kwargs)
        self.reset_after = check_flag(self._kind, "reset_after", reset_after)

    def bias_shape(self) -> Tuple[int, ...]:
        """The shape of the ``bias`` weight: ``(2, 3 * units)`` (input and recurrent rows) with
        ``reset_after``, else ``(3 * units,)``."""
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _kernel_arguments(self) -> Dict[str, Any]:
        return super()._kernel_arguments() | {"reset_after": self.reset_after}

    def _ops_forward(self, x: np.ndarray, h0: Optional[np.ndarray] = None, c0: Optional[np.ndarray] = None,
                     **kwargs: Any) -> ops.RecurrentResult:
        return ops.gru_forward(x, h0=h0, **kwargs)

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"reset_after": self.reset_after}


def state_sizes(cell: Any) -> List[int]:
    """The cell's state widths as a list."""
    return [int(s) for s in as_list(cell.state_size)]


def output_size(cell: Any) -> int:
    size = getattr(cell, "output_size", None)
    return int(size) if size is not None else state_sizes(cell)[0]


class StackedRNNCells(Layer):
    """Cells applied one after another at every step, as ``RNN([cell_1, cell_2])``: the states
    are those of every cell, in order; the output is the last cell's.

    Args:
        cells: the cells, first to last.
    """

    casts_inputs = False

    def __init__(self, cells: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not cells:
            raise ValueError("StackedRNNCells needs at least one cell")
        self.cells = list(cells)

    def _sublayers(self) -> List[Layer]:
        return [c for c in self.cells if isinstance(c, Layer)]

    @property
    def state_size(self) -> List[int]:
        """The widths of every cell's states, first cell's first, in one flat list."""
        return [s for cell in self.cells for s in state_sizes(cell)]

    @property
    def output_size(self) -> int:
        """The width of the last cell's output (its ``output_size``, else its first state's width)."""
        return output_size(self.cells[-1])

    def build(self, input_shape: Shape) -> None:
        shape = tuple(input_shape)
        for cell in self.cells:
            cell._path_prefix = self._path_prefix
            if not cell.built:
                cell.build(shape)
            shape = shape[:-1] + (output_size(cell),)
        super().build(input_shape)

    def run_sequence(self, x: np.ndarray, states: Sequence[Optional[np.ndarray]], mask: Optional[np.ndarray],
                     training: bool, go_backwards: bool, return_sequences: bool,
                     zero_output_for_mask: bool) -> Tuple[np.ndarray, List[np.ndarray], SequencePullback]:
        """Layer by layer over the whole sequence, which equals cell by cell at every step."""
        counts = [len(state_sizes(cell)) for cell in self.cells]
        pullbacks, finals, h = [], [], x
        start = 0
        for k, cell in enumerate(self.cells):
            last = k == len(self.cells) - 1
            # After the first cell the sequence is in processing order, so the rest run forwards.
            backwards = go_backwards if k == 0 else False
            cell_mask = mask if (mask is None or k == 0 or not go_backwards) else mask[:, ::-1]
            h, final, cell_pullback = run_cell(cell, h.astype(cell.dtype, copy=False),
                                               states[start:start + counts[k]], cell_mask, training, backwards,
                                               return_sequences or not last, zero_output_for_mask and last)
            pullbacks.append(cell_pullback)
            finals += final
            start += counts[k]

        def pullback(d_output: Optional[np.ndarray], d_states: List[Optional[np.ndarray]]
                     ) -> Tuple[np.ndarray, List[np.ndarray], Grads]:
            d_states = list(d_states) + [None] * (sum(counts) - len(d_states))
            grads: Grads = {}
            d_initial: List[np.ndarray] = []
            end = sum(counts)
            for k in reversed(range(len(self.cells))):
                d_output, d_cell_states, cell_grads = pullbacks[k](d_output, d_states[end - counts[k]:end])
                d_initial[0:0] = d_cell_states
                accumulate(grads, cell_grads)
                end -= counts[k]
            return cast(np.ndarray, d_output), d_initial, grads  # the first cell's gives the inputs' gradient

        return h, finals, pullback

    def get_config(self) -> Dict[str, Any]:
        from . import serialize
        return super().get_config() | {"cells": [serialize(cell) for cell in self.cells]}

    @classmethod
    def from_config(cls, config_: Dict[str, Any]) -> StackedRNNCells:
        from . import deserialize
        config_ = dict(config_)
        config_["cells"] = [deserialize(c) for c in config_["cells"]]
        return cls(**config_)


def run_cell(cell: Any, x: np.ndarray, states: Sequence[Optional[np.ndarray]], mask: Optional[np.ndarray],
             training: bool, go_backwards: bool, return_sequences: bool,
             zero_output_for_mask: bool) -> Tuple[np.ndarray, List[np.ndarray], SequencePullback]:
    """``cell.run_sequence`` for the built-in cells, else the Python loop over time."""
    if hasattr(cell, "run_sequence"):
        run: Tuple[np.ndarray, List[np.ndarray], SequencePullback] = cell.run_sequence(
            x, states, mask, training, go_backwards, return_sequences, zero_output_for_mask)
        return run
    return _python_loop(cell, x, states, mask, training, go_backwards, return_sequences, zero_output_for_mask)


def _weight_grads(cell: Any, d_weights: Any) -> Grads:
    if isinstance(d_weights, dict):
        return dict(d_weights)
    variables = cell.weights
    d_weights = list(d_weights or [])
    if len(d_weights) != len(variables):
        raise ValueError(f"{getattr(cell, 'name', cell)}: backward returned {len(d_weights)} weight gradients "
                         f"for {len(variables)} weights")
    return dict(zip(variables, d_weights))


def _python_loop(cell: Any, x: np.ndarray, states: Sequence[Optional[np.ndarray]], mask: Optional[np.ndarray],
                 training: bool, go_backwards: bool, return_sequences: bool,
                 zero_output_for_mask: bool) -> Tuple[np.ndarray, List[np.ndarray], SequencePullback]:
    """A user's cell, one ``call`` per step, with Keras' masking: a masked step keeps the
    states and repeats the previous output (zeros before the first valid step)."""
    batch, time = x.shape[:2]
    x = ops._keep(x)  # the pullback reads the steps of x: not the caller's array, which may change
    sizes = state_sizes(cell)
    current = [np.zeros((batch, n), x.dtype) if s is None else ops._keep(np.asarray(s, x.dtype), s)
               for s, n in zip(list(states) + [None] * len(sizes), sizes)]
    steps = list(range(time - 1, -1, -1)) if go_backwards else list(range(time))
    tape, outputs = [], []
    previous = None
    for t in steps:
        out, new = cell.call(x[:, t], current, training=training)
        out, new = np.asarray(out, x.dtype), [np.asarray(s, x.dtype) for s in as_list(new)]
        valid = None if mask is None else mask[:, t][:, None]
        if valid is not None:
            previous = np.zeros_like(out) if previous is None else previous
            new = [np.where(valid, n, c) for n, c in zip(new, current)]
            out = np.where(valid, out, 0 if zero_output_for_mask else previous)
        tape.append((x[:, t], current, valid))
        current, previous = new, out
        outputs.append(out)
    output = np.stack(outputs, axis=1) if return_sequences else outputs[-1]

    def pullback(d_output: Optional[np.ndarray], d_states: List[Optional[np.ndarray]]
                 ) -> Tuple[np.ndarray, List[np.ndarray], Grads]:
        d_carry = [np.zeros_like(s) if d is None else np.asarray(d, x.dtype)
                   for s, d in zip(current, list(d_states) + [None] * len(sizes))]
        d_previous = np.zeros_like(outputs[-1])  # gradient reaching the repeated previous output
        dx = np.zeros_like(x)
        grads: Grads = {}
        for k in reversed(range(len(steps))):
            d_out = d_previous.copy()
            if d_output is not None:
                d_out += d_output[:, k] if return_sequences else (d_output if k == len(steps) - 1 else 0)
            x_t, states_t, valid = tape[k]
            if valid is not None:
                d_previous = np.where(valid, 0, 0 if zero_output_for_mask else d_out)
                d_cell_out = np.where(valid, d_out, 0)
                d_cell_states = [np.where(valid, d, 0) for d in d_carry]
            else:
                d_cell_out, d_cell_states = d_out, d_carry
            d_x, d_prev, d_weights = cell.backward(x_t, states_t, d_cell_out, d_cell_states)
            dx[:, steps[k]] = d_x
            d_prev = [np.asarray(d, x.dtype) for d in as_list(d_prev)]
            d_carry = d_prev if valid is None else [p + np.where(valid, 0, d) for p, d in zip(d_prev, d_carry)]
            accumulate(grads, _weight_grads(cell, d_weights))
        return dx, d_carry, grads

    return output, current, pullback
