"""SimpleRNN, LSTM and GRU: one recurrent base, thin subclasses over the C++ kernels."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .. import activations, initializers, ops, regularizers, utils
from .base import Layer, Shape

__all__ = ["SimpleRNN", "LSTM", "GRU"]


class _Recurrent(Layer):
    """What the three recurrent layers share: return_sequences, return_state, go_backwards,
    masking, initial and stateful states, dropout and recurrent dropout.

    Inputs are ``(batch, time, features)``; the output is ``(batch, units)``, or
    ``(batch, time, units)`` with ``return_sequences``; with ``return_state`` the layer
    returns ``[output, h]`` (LSTM ``[output, h, c]``).
    """

    gates = 1
    state_names = ("h",)

    def __init__(self, units: int, activation: Optional[str] = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: Optional[int] = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive integer, got {units!r}")
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be in [0, 1), got {rate!r}")
        self.units = int(units)
        self.activation = activations.get(activation, activations.RECURRENT_ACTIVATIONS)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.seed = seed
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful = go_backwards, stateful
        self.unroll = unroll  # accepted for Keras compatibility; the C++ loop is always fused
        self._rng = utils.rng(seed)
        self._result: Optional[ops.RecurrentResult] = None
        self._input_dropout: Optional[np.ndarray] = None
        self.states: Optional[List[np.ndarray]] = None

    # ------------------------------------------------------------------ weights
    def bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: {type(self).__name__} needs inputs of shape (batch, time, features) "
                             f"with a known feature size, got {input_shape}")
        width = self.gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer,
                                      self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width),
                                                self.recurrent_initializer, self.recurrent_regularizer)
        self.bias = self.add_weight("bias", self.bias_shape(), self.bias_initializer, self.bias_regularizer) \
            if self.use_bias else None
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Any:
        output = (input_shape[0], input_shape[1], self.units) if self.return_sequences \
            else (input_shape[0], self.units)
        if self.return_state:
            return [output] + [(input_shape[0], self.units)] * len(self.state_names)
        return output

    # ------------------------------------------------------------------ computation
    def _kernel_arguments(self) -> Dict[str, Any]:
        """The cell's weights and options, as the rnnkit.ops forward takes them."""
        return {"kernel": self.kernel.value, "recurrent_kernel": self.recurrent_kernel.value,
                "bias": self.bias.value if self.bias is not None else None, "activation": self.activation}

    def _forward(self, x: np.ndarray, **kwargs: Any) -> ops.RecurrentResult:
        raise NotImplementedError

    def _initial_states(self, batch: int, initial_state: Any) -> List[Optional[np.ndarray]]:
        if initial_state is not None:
            states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != len(self.state_names):
                raise ValueError(f"{self.name}: initial_state needs {len(self.state_names)} arrays "
                                 f"({', '.join(self.state_names)}), got {len(states)}")
            return [np.asarray(s, dtype=self.dtype) for s in states]
        if self.stateful and self.states is not None:
            if self.states[0].shape[0] != batch:
                raise ValueError(f"{self.name}: a stateful layer keeps the batch size; it holds states for "
                                 f"{self.states[0].shape[0]} samples, got {batch} (call reset_states())")
            return self.states
        return [None] * len(self.state_names)

    def _dropout_mask(self, shape: tuple, rate: float) -> np.ndarray:
        return ((self._rng.random(shape) >= rate) / (1 - rate)).astype(self.dtype)

    def call(self, x: np.ndarray, training: bool = False, mask: Optional[np.ndarray] = None,
             initial_state: Any = None) -> Union[np.ndarray, List[np.ndarray]]:
        if x.ndim != 3 or x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected input of shape (batch, time, {self.kernel.shape[0]}), "
                             f"got {x.shape}")
        batch = x.shape[0]
        self._input_dropout = None
        if training and self.dropout > 0:  # one mask per sample, the same at every step (Keras)
            self._input_dropout = self._dropout_mask((batch, 1, x.shape[-1]), self.dropout)
            x = x * self._input_dropout
        recurrent_mask = self._dropout_mask((batch, self.units), self.recurrent_dropout) \
            if training and self.recurrent_dropout > 0 else None
        states = dict(zip(("h0", "c0"), self._initial_states(batch, initial_state)))
        result = self._forward(x, **states, mask=None if mask is None else np.asarray(mask, bool),
                               recurrent_dropout_mask=recurrent_mask, go_backwards=self.go_backwards,
                               return_sequences=self.return_sequences, **self._kernel_arguments())
        self._result = result if training else None
        final_states = [result.h] if result.c is None else [result.h, result.c]
        if self.stateful:
            self.states = [s.copy() for s in final_states]
        return [result.output] + final_states if self.return_state else result.output

    def backward(self, dy: np.ndarray, dstates: Optional[Sequence[Optional[np.ndarray]]] = None) -> np.ndarray:
        if self._result is None:
            raise RuntimeError(f"{self.name}: backward needs a forward call with training=True first")
        dstates = list(dstates or []) + [None] * 2
        grads = self._result.backward(dy, dstates[0], dstates[1] if self._result.c is not None else None)
        for variable in self.weights:
            variable.grad = grads[variable.name]
        dx = grads["x"]
        return dx if self._input_dropout is None else dx * self._input_dropout

    def reset_states(self, states: Optional[Sequence[np.ndarray]] = None) -> None:
        """Stateful layers: forget the carried states (or set them)."""
        self.states = None if states is None else [np.asarray(s, dtype=self.dtype) for s in states]

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {
            "units": self.units, "activation": self.activation, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
        }


class SimpleRNN(_Recurrent):
    """Fully connected RNN, ``h_t = activation(x_t W + h_{t-1} U + b)``.

    Weights: ``kernel (features, units)``, ``recurrent_kernel (units, units)``, ``bias (units,)``.
    Args as Keras' SimpleRNN (units, activation, use_bias, initializers, regularizers,
    dropout, recurrent_dropout, seed, return_sequences, return_state, go_backwards, stateful).
    """

    def _forward(self, x, h0=None, c0=None, **kwargs):
        return ops.simple_rnn_forward(x, h0=h0, **kwargs)


class _GatedRecurrent(_Recurrent):
    def __init__(self, units: int, activation: Optional[str] = "tanh",
                 recurrent_activation: Optional[str] = "sigmoid", **kwargs: Any) -> None:
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation, activations.RECURRENT_ACTIVATIONS)

    def _kernel_arguments(self) -> Dict[str, Any]:
        return super()._kernel_arguments() | {"recurrent_activation": self.recurrent_activation}

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"recurrent_activation": self.recurrent_activation}


class LSTM(_GatedRecurrent):
    """Long Short-Term Memory, Keras' equations and layout (gate blocks i, f, c, o).

    Weights: ``kernel (features, 4*units)``, ``recurrent_kernel (units, 4*units)``,
    ``bias (4*units,)``, and with ``peephole=True`` also ``peephole_kernel (3, units)``
    (rows i, f, o; Gers & Schmidhuber).

    Args: as Keras' LSTM (units, activation, recurrent_activation, use_bias, initializers,
    unit_forget_bias, regularizers, dropout, recurrent_dropout, seed, return_sequences,
    return_state, go_backwards, stateful), plus ``peephole`` and ``peephole_initializer``.
    """

    gates = 4
    state_names = ("h", "c")

    def __init__(self, units: int, activation: Optional[str] = "tanh",
                 recurrent_activation: Optional[str] = "sigmoid", unit_forget_bias: bool = True,
                 peephole: bool = False, peephole_initializer: Any = "zeros", **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, **kwargs)
        self.unit_forget_bias, self.peephole = unit_forget_bias, peephole
        self.peephole_initializer = initializers.get(peephole_initializer)

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        if self.bias is not None and self.unit_forget_bias:  # Keras: the forget block starts at one
            self.bias.value[self.units:2 * self.units] = 1
        if self.peephole:
            self.peephole_kernel = self.add_weight("peephole_kernel", (3, self.units), self.peephole_initializer)

    def _kernel_arguments(self) -> Dict[str, Any]:
        peephole = self.peephole_kernel.value if self.peephole else None
        return super()._kernel_arguments() | {"peephole_kernel": peephole}

    def _forward(self, x, **kwargs):
        return ops.lstm_forward(x, **kwargs)

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {
            "unit_forget_bias": self.unit_forget_bias, "peephole": self.peephole,
            "peephole_initializer": initializers.serialize(self.peephole_initializer)}


class GRU(_GatedRecurrent):
    """Gated Recurrent Unit, Keras' layout (gate blocks z, r, h).

    ``reset_after=True`` (Keras 3 and PyTorch default): ``bias (2, 3*units)``, input and
    recurrent rows; ``reset_after=False`` (Cho et al.): ``bias (3*units,)``.
    Weights: ``kernel (features, 3*units)``, ``recurrent_kernel (units, 3*units)``, bias.

    Args: as Keras' GRU (units, activation, recurrent_activation, use_bias, initializers,
    regularizers, dropout, recurrent_dropout, seed, return_sequences, return_state,
    go_backwards, stateful, reset_after).
    """

    gates = 3

    def __init__(self, units: int, activation: Optional[str] = "tanh",
                 recurrent_activation: Optional[str] = "sigmoid", reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, **kwargs)
        self.reset_after = reset_after

    def bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _kernel_arguments(self) -> Dict[str, Any]:
        return super()._kernel_arguments() | {"reset_after": self.reset_after}

    def _forward(self, x, h0=None, c0=None, **kwargs):
        return ops.gru_forward(x, h0=h0, **kwargs)

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"reset_after": self.reset_after}
