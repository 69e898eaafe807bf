"""RNN(cell) and SimpleRNN, LSTM, GRU: one recurrent layer over a cell, as in Keras 3.

Inputs are ``(batch, time, features)``; the output is ``(batch, units)``, or ``(batch, time,
units)`` with ``return_sequences``; with ``return_state`` the layer returns ``[output, *states]``
(LSTM ``[output, h, c]``). Initial states come from ``initial_state=`` (their gradients come
back through the pullback), from the carried states of a ``stateful`` layer, or are zeros.
A mask (from ``Masking``, ``Embedding(mask_zero=True)`` or ``mask=``) makes masked steps carry
the states unchanged, take exactly zero gradient and, in ``return_sequences``, repeat the last
output (zeros before the first valid step, or at every masked step with
``zero_output_for_mask=True``), all inside the C++ kernels' mask path.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._arguments import check_flag, snake_case
from .base import Grads, Layer, Pullback, Shape, as_list, check_mask
from .cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells, _KernelCell, output_size, run_cell, state_sizes

__all__ = ["RNN", "SimpleRNN", "LSTM", "GRU"]


class RNN(Layer):
    """A recurrent layer over a cell, as ``keras.layers.RNN``.

    Args:
        cell: ``SimpleRNNCell``, ``LSTMCell``, ``GRUCell`` (run by the C++ kernels), a list of
            cells (stacked, ``StackedRNNCells``), or a cell written in Python (see
            ``rnnkit.layers.cells``; run step by step, much slower).
        return_sequences: output every step ``(N, T, units)`` instead of the last ``(N, units)``.
        return_state: also return the final states.
        go_backwards: process the sequence from its last step; outputs are in processing order.
        stateful: carry the final states of a batch into the next one (needs a fixed batch size:
            ``Input(batch_size=...)`` or ``batch_input_shape``); ``reset_state()`` forgets them.
        unroll: accepted for Keras compatibility; the kernels always run a fused loop.
        zero_output_for_mask: zero outputs at masked steps instead of repeating the last one.
    """

    supports_masking = True
    casts_inputs = True
    input_rank = 3

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not (hasattr(cell, "state_size") and (hasattr(cell, "run_sequence") or
                                                  (hasattr(cell, "call") and hasattr(cell, "backward")))):
            raise TypeError(f"{self.name}: RNN needs a cell with state_size and call/backward for one step "
                            f"(or a list of cells), got {type(cell).__name__}")
        kind = type(self).__name__
        self.cell = cell
        self.return_sequences = check_flag(kind, "return_sequences", return_sequences)
        self.return_state = check_flag(kind, "return_state", return_state)
        self.go_backwards = check_flag(kind, "go_backwards", go_backwards)
        self.stateful = check_flag(kind, "stateful", stateful)
        self.unroll = check_flag(kind, "unroll", unroll)
        self.zero_output_for_mask = check_flag(kind, "zero_output_for_mask", zero_output_for_mask)
        self.states: Optional[List[np.ndarray]] = None
        self._batch_size: Optional[int] = None

    def __getattr__(self, name: str) -> Any:
        # Keras' LSTM exposes its cell's settings and weights (units, kernel, dropout, ...).
        cell = self.__dict__.get("cell")
        if cell is not None and not name.startswith("__"):
            try:
                return getattr(cell, name)
            except AttributeError:
                pass
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _sublayers(self) -> List[Layer]:
        return [self.cell] if isinstance(self.cell, Layer) else []

    # ------------------------------------------------------------------ shapes
    def _build_shape(self, inputs: Any) -> Any:
        x = inputs[0] if isinstance(inputs, list) else inputs
        return ((x.shape[0] if self.stateful else None),) + tuple(x.shape[1:])

    def build(self, input_shape: Shape) -> None:
        if isinstance(input_shape, list) and input_shape and not isinstance(input_shape[0], (int, type(None))):
            input_shape = input_shape[0]  # [sequences, *initial states]
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: {type(self).__name__} needs inputs of shape (batch, time, features) "
                             f"with a known feature size, got {input_shape}")
        if self.stateful and input_shape[0] is None:
            raise ValueError(f"{self.name}: a stateful RNN needs a fixed batch size: start the model with "
                             "Input(shape, batch_size=...) or give the first layer batch_input_shape=(batch, ...)")
        self._batch_size = input_shape[0] if self.stateful else None
        if isinstance(self.cell, Layer):
            self.cell._path_prefix = f"{self._path_prefix}{self.name}/"
            if not self.cell.built:
                self.cell.build((input_shape[0], input_shape[-1]))
        elif hasattr(self.cell, "build"):
            self.cell.build((input_shape[0], input_shape[-1]))
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Any:
        """``(N, units)``, or ``(N, T, units)`` with ``return_sequences``, for inputs ``(N, T, F)``;
        with ``return_state``, a list of that shape and one ``(N, width)`` per state."""
        units = output_size(self.cell)
        output = (input_shape[0], input_shape[1], units) if self.return_sequences else (input_shape[0], units)
        if self.return_state:
            return [output] + [(input_shape[0], n) for n in state_sizes(self.cell)]
        return output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, list):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(state_sizes(self.cell))
        return output_mask

    # ------------------------------------------------------------------ computation
    def _initial_states(self, batch: int, given: Optional[List[np.ndarray]]) -> Sequence[Optional[np.ndarray]]:
        sizes = state_sizes(self.cell)
        if given is not None:
            if len(given) != len(sizes):
                names = getattr(self.cell, "state_names", None)
                described = f" ({', '.join(names)})" if names else ""
                raise ValueError(f"{self.name}: initial_state needs {len(sizes)} arrays{described}, got {len(given)}")
            for k, (state, size) in enumerate(zip(given, sizes)):
                if state.shape != (batch, size):
                    raise ValueError(f"{self.name}: initial state {k} must have shape (batch, units) = "
                                     f"{(batch, size)}, got {state.shape}")
            return list(given)
        if self.stateful and self.states is not None:
            return self.states
        return [None] * len(sizes)

    def _forward(self, inputs: Any, mask: Any, training: bool, initial_state: Any = None,
                 **kwargs: Any) -> Tuple[Any, Pullback]:
        if kwargs:
            raise TypeError(f"{self.name}: unexpected arguments {sorted(kwargs)}")
        given = None
        if isinstance(inputs, list):  # [sequences, *initial states], as Keras accepts
            inputs, given = inputs[0], inputs[1:] or None
        if initial_state is not None:
            given = self._prepare(as_list(initial_state))
        x = inputs
        features = self.input_shape[-1]
        if x.ndim != 3 or x.shape[-1] != features:
            raise ValueError(f"{self.name}: expected input of shape (batch, time, {features}), got {x.shape}")
        if isinstance(mask, list):
            mask = mask[0]
        mask = check_mask(self, mask, x)
        if self.stateful and x.shape[0] != self._batch_size:
            raise ValueError(f"{self.name}: a stateful layer keeps the batch size it was built for, "
                             f"{self._batch_size}; got a batch of {x.shape[0]}")
        states = self._initial_states(x.shape[0], given)
        output, final, sequence_pullback = run_cell(self.cell, x, states, mask, training, self.go_backwards,
                                                    self.return_sequences, self.zero_output_for_mask)
        if self.stateful:
            self.states = [s.copy() for s in final]
        outputs = [output] + list(final) if self.return_state else output
        states_are_inputs = given is not None

        def pullback(d_outputs: Any) -> Tuple[Any, Grads]:
            d_list = as_list(d_outputs) if self.return_state else [d_outputs]
            d_list = [None if d is None else np.asarray(d, dtype=x.dtype) for d in d_list]
            dx, d_initial, grads = sequence_pullback(d_list[0], d_list[1:])
            return ([dx] + list(d_initial) if states_are_inputs else dx), grads

        return outputs, pullback

    def reset_state(self) -> None:
        """Forgets the carried states of a stateful layer (the next batch starts from zeros)."""
        self.states = None

    def reset_states(self, states: Optional[Sequence[Any]] = None) -> None:
        """Forgets the carried states, or sets them to ``states`` (a list of ``(batch, units)``)."""
        self.states = None if states is None else [np.asarray(s, dtype=self.dtype) for s in as_list(states)]

    # ------------------------------------------------------------------ config
    def _layer_config(self) -> Dict[str, Any]:
        return super().get_config() | {
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask}

    def get_config(self) -> Dict[str, Any]:
        from . import serialize
        return self._layer_config() | {"cell": serialize(self.cell)}

    @classmethod
    def from_config(cls, config_: Dict[str, Any]) -> RNN:
        from . import deserialize
        config_ = dict(config_)
        cell = config_.pop("cell")
        return cls(deserialize(cell) if isinstance(cell, dict) else [deserialize(c) for c in cell], **config_)


_LAYER_ARGUMENTS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                    "zero_output_for_mask", "name", "dtype", "trainable", "input_shape", "input_dim",
                    "batch_input_shape", "batch_size", "activity_regularizer")


class _CellLayer(RNN):
    """An RNN that builds its own cell from its arguments, as Keras' SimpleRNN, LSTM and GRU."""

    cell_class: type = SimpleRNNCell

    def __init__(self, units: int, **kwargs: Any) -> None:
        layer_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _LAYER_ARGUMENTS}
        cell_dtype = {"dtype": layer_kwargs["dtype"]} if layer_kwargs.get("dtype") else {}
        # The built-in cells word their argument errors for this layer ("GRU: reset_after ...").
        owner = {"_owner": type(self).__name__} if issubclass(self.cell_class, _KernelCell) else {}
        cell = self.cell_class(units, name=snake_case(self.cell_class.__name__), **owner, **cell_dtype, **kwargs)
        super().__init__(cell, **layer_kwargs)

    def get_config(self) -> Dict[str, Any]:
        cell = {k: v for k, v in self.cell.get_config().items() if k not in ("name", "trainable", "dtype")}
        return self._layer_config() | cell

    @classmethod
    def from_config(cls, config_: Dict[str, Any]) -> RNN:
        return cls(**config_)


class SimpleRNN(_CellLayer):
    """Fully connected RNN, ``h_t = activation(x_t W + h_{t-1} U + b)``.

    Weights: ``kernel (features, units)``, ``recurrent_kernel (units, units)``, ``bias (units,)``.
    Args as Keras' SimpleRNN (units, activation, use_bias, initializers, regularizers,
    dropout, recurrent_dropout, seed, return_sequences, return_state, go_backwards, stateful).
    """

    cell_class = SimpleRNNCell


class LSTM(_CellLayer):
    """Long Short-Term Memory, Keras' equations and layout (gate blocks i, f, c, o).

    Weights: ``kernel (features, 4*units)``, ``recurrent_kernel (units, 4*units)``,
    ``bias (4*units,)``, and with ``peephole=True`` also ``peephole_kernel (3, units)``.

    Args: as Keras' LSTM (units, activation, recurrent_activation, use_bias, initializers,
    unit_forget_bias, regularizers, dropout, recurrent_dropout, seed, return_sequences,
    return_state, go_backwards, stateful), plus ``peephole`` and ``peephole_initializer``.
    """

    cell_class = LSTMCell


class GRU(_CellLayer):
    """Gated Recurrent Unit, Keras' layout (gate blocks z, r, h).

    ``reset_after=True`` (Keras 3 and PyTorch default): ``bias (2, 3*units)``;
    ``reset_after=False`` (Cho et al.): ``bias (3*units,)``.

    Args: as Keras' GRU (units, activation, recurrent_activation, use_bias, initializers,
    regularizers, dropout, recurrent_dropout, seed, return_sequences, return_state,
    go_backwards, stateful, reset_after).
    """

    cell_class = GRUCell
