"""Bidirectional and TimeDistributed: layers that hold a layer."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, TypeVar, cast

import numpy as np

from .base import Grads, Layer, Pullback, Shape, accumulate, as_list, check_mask
from .cells import output_size, state_sizes
from .recurrent import RNN

__all__ = ["Bidirectional", "TimeDistributed"]

MERGE_MODES = ("concat", "sum", "mul", "ave", None)

_L = TypeVar("_L", bound=Layer)


class _Wrapper(Layer):
    """A layer holding one layer: weights, dtype, saving and gradcheck reach into it."""

    casts_inputs = False

    def _wrapped(self) -> List[Layer]:
        raise NotImplementedError

    def _sublayers(self) -> List[Layer]:
        return self._wrapped()


def _recreate(layer: _L, **changes: Any) -> _L:
    """A fresh layer of the same class and config, with ``changes`` applied."""
    return cast(_L, type(layer).from_config(layer.get_config() | changes))


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


class Bidirectional(_Wrapper):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the two outputs.

    The backward direction reads each sequence from its own last valid step when masked; with
    ``return_sequences`` its outputs are flipped back to input time order before merging.
    Weights: the forward layer's, then the backward layer's (Keras' order).

    Args:
        layer: an RNN layer (SimpleRNN, LSTM, GRU or RNN); rebuilt from its config as
            ``forward_<name>``, so its own weights are not used.
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"``, or ``None`` for
            the two outputs as a list.
        backward_layer: an RNN with ``go_backwards=True`` for the backward direction; default a
            copy of ``layer`` named ``backward_<name>``.

    With ``return_state`` the outputs are ``[output(s), *forward states, *backward states]``;
    ``initial_state`` takes the forward layer's states, then the backward layer's.
    """

    def __init__(self, layer: Layer, merge_mode: Optional[str] = "concat", weights: Any = None,
                 backward_layer: Optional[Layer] = None, **kwargs: Any) -> None:
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional needs a recurrent layer (SimpleRNN, LSTM, GRU or RNN), got "
                             f"{type(layer).__name__} '{getattr(layer, 'name', layer)}'")
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise ValueError(f"Bidirectional: backward_layer must be a recurrent layer, got "
                             f"{type(backward_layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        super().__init__(**kwargs)
        self.forward_layer = _recreate(layer, name=f"forward_{_strip(layer.name, 'forward_')}")
        self.backward_layer = backward_layer if isinstance(backward_layer, RNN) else _recreate(
            layer, name=f"backward_{_strip(layer.name, 'backward_')}", go_backwards=not layer.go_backwards)
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError("Bidirectional: the forward and backward layers need different go_backwards, got "
                             f"{self.forward_layer.go_backwards} for both")
        for attribute in ("stateful", "return_sequences", "return_state"):
            if getattr(self.forward_layer, attribute) != getattr(self.backward_layer, attribute):
                raise ValueError(f"Bidirectional: the forward and backward layers need the same {attribute}")
        widths = [output_size(inner.cell) for inner in (self.forward_layer, self.backward_layer)]
        if merge_mode in ("sum", "mul", "ave") and widths[0] != widths[1]:
            raise ValueError(f"Bidirectional: merge_mode={merge_mode!r} needs both directions of the same width, "
                             f"got {widths[0]} forward and {widths[1]} backward units")
        for inner in (self.forward_layer, self.backward_layer):  # as Keras: masked steps give zeros
            inner.zero_output_for_mask = inner.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self.stateful = self.forward_layer.stateful
        if weights is not None:
            self._initial_weights: Optional[List[Any]] = list(weights)
        self.supports_masking = True

    input_rank = 3

    def _wrapped(self) -> List[Layer]:
        return [self.forward_layer, self.backward_layer]

    def build(self, input_shape: Shape) -> None:
        for inner in self._wrapped():
            if not inner.built:
                inner.build(input_shape)
        super().build(input_shape)
        initial_weights = getattr(self, "_initial_weights", None)
        if initial_weights is not None:
            self.set_weights(initial_weights)
            self._initial_weights = None

    def _build_shape(self, inputs: Any) -> Any:
        return self.forward_layer._build_shape(inputs)

    def compute_output_shape(self, input_shape: Shape) -> Any:
        """The forward layer's output shape, with both directions' widths added for
        ``"concat"``; a list of the two for ``merge_mode=None``; with ``return_state``, the
        outputs' shapes followed by the forward states' and the backward states'."""
        shape = self.forward_layer.compute_output_shape(input_shape)
        states: List[Any] = []
        if self.return_state:
            shape, states = shape[0], shape[1:]
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (shape[-1] + output_size(self.backward_layer.cell),)
        outputs = [shape, shape] if self.merge_mode is None else [shape]
        if self.return_state:
            return outputs + states + states
        return outputs if self.merge_mode is None else shape

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, list):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        masks = [output_mask] * (2 if self.merge_mode is None else 1)
        if self.return_state:
            return masks + [None] * (2 * self._state_count())
        return masks if self.merge_mode is None else output_mask

    def _state_count(self) -> int:
        return len(state_sizes(self.forward_layer.cell))

    def _forward(self, inputs: Any, mask: Any, training: bool, initial_state: Any = None,
                 **kwargs: Any) -> Tuple[Any, Pullback]:
        if kwargs:
            raise TypeError(f"{self.name}: unexpected arguments {sorted(kwargs)}")
        inputs = np.asarray(inputs)
        if isinstance(mask, list):
            mask = mask[0]
        mask = check_mask(self, mask, inputs) if inputs.ndim == 3 else mask
        states_f = states_b = None
        if initial_state is not None:
            states = as_list(initial_state)
            half = len(states) // 2
            states_f, states_b = states[:half], states[half:]
        y, pullback_f = self.forward_layer.forward(inputs, mask=mask, training=training, initial_state=states_f)
        y_rev, pullback_b = self.backward_layer.forward(inputs, mask=mask, training=training, initial_state=states_b)
        count = self._state_count() if self.return_state else 0
        if self.return_state:
            y, states_out_f = y[0], y[1:]
            y_rev, states_out_b = y_rev[0], y_rev[1:]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        y_rev = y_rev.astype(y.dtype, copy=False)
        merged = _merge(self.merge_mode, y, y_rev)
        outputs = merged if self.merge_mode is None else [merged]
        if self.return_state:
            outputs = outputs + list(states_out_f) + list(states_out_b)
        elif self.merge_mode is not None:
            outputs = merged
        width = y.shape[-1]

        def pullback(d_outputs: Any) -> Tuple[Any, Grads]:
            d_list = as_list(d_outputs) if (self.return_state or self.merge_mode is None) else [d_outputs]
            heads = 2 if self.merge_mode is None else 1
            d_y, d_rev = _unmerge(self.merge_mode, d_list[:heads], y, y_rev, width)
            if d_rev is not None and self.return_sequences:
                d_rev = d_rev[:, ::-1]
            d_states = d_list[heads:]
            if self.return_state:
                d_in_f, grads = pullback_f([d_y] + list(d_states[:count]))
                d_in_b, grads_b = pullback_b([d_rev] + list(d_states[count:]))
            else:
                d_in_f, grads = pullback_f(d_y)
                d_in_b, grads_b = pullback_b(d_rev)
            accumulate(grads, grads_b)
            if initial_state is None:
                return d_in_f + d_in_b, grads
            return [d_in_f[0] + d_in_b[0]] + list(d_in_f[1:]) + list(d_in_b[1:]), grads

        return outputs, pullback

    def reset_state(self) -> None:
        for inner in self._wrapped():
            inner.reset_state()

    def get_config(self) -> Dict[str, Any]:
        from . import serialize
        return super().get_config() | {"merge_mode": self.merge_mode, "layer": serialize(self.forward_layer),
                                       "backward_layer": serialize(self.backward_layer)}

    @classmethod
    def from_config(cls, config_: Dict[str, Any]) -> Bidirectional:
        from . import deserialize
        config_ = dict(config_)
        layer = deserialize(config_.pop("layer"))
        backward = config_.pop("backward_layer", None)
        return cls(layer, backward_layer=deserialize(backward) if backward else None, **config_)


def _merge(mode: Optional[str], y: np.ndarray, y_rev: np.ndarray) -> Any:
    if mode == "concat":
        return np.concatenate([y, y_rev], axis=-1)
    if mode == "sum":
        return y + y_rev
    if mode == "ave":
        return (y + y_rev) / 2
    if mode == "mul":
        return y * y_rev
    return [y, y_rev]


def _unmerge(mode: Optional[str], d: List[Any], y: np.ndarray, y_rev: np.ndarray,
             width: int) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """The gradients of the two directions' outputs from that of the merged output."""
    if mode is None:
        return (None if d[0] is None else np.asarray(d[0])), (None if d[1] is None else np.asarray(d[1]))
    if d[0] is None:
        return None, None
    g = np.asarray(d[0])
    if mode == "concat":
        return g[..., :width], g[..., width:]
    if mode == "sum":
        return g, g
    if mode == "ave":
        return g / 2, g / 2
    return g * y_rev, g * y


class TimeDistributed(_Wrapper):
    """Applies a layer to every time step: ``(N, T, ...)`` runs the layer once on
    ``(N * T, ...)`` and gives ``(N, T, ...)``. Works for any layer, a model included.

    The mask ``(N, T)`` passes through to the layers after it (as Keras 2 did; Keras 3 drops
    it), so a per-step loss after ``TimeDistributed(Dense(...))`` stays masked.

    Args:
        layer: the layer to apply.
    """

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed needs an rnnkit layer, got {type(layer).__name__}")
        super().__init__(**kwargs)
        self.layer = layer

    def _wrapped(self) -> List[Layer]:
        return [self.layer]

    @staticmethod
    def _inner_shape(input_shape: Shape) -> Shape:
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed needs inputs of shape (batch, time, ...), got {input_shape}")
        return (None,) + tuple(input_shape[2:])

    def build(self, input_shape: Shape) -> None:
        if not self.layer.built:
            self.layer.build(self._inner_shape(input_shape))
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """``(N, T, *inner)``, where ``(None, *inner)`` is the wrapped layer's output shape for
        one step's inputs ``(None, *input_shape[2:])``."""
        inner = self.layer.compute_output_shape(self._inner_shape(input_shape))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def _forward(self, inputs: np.ndarray, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        if inputs.ndim < 3:
            raise ValueError(f"{self.name}: TimeDistributed needs inputs of shape (batch, time, ...), "
                             f"got {inputs.shape}")
        check_mask(self, mask, inputs)
        batch, time = inputs.shape[:2]
        y, inner_pullback = self.layer.forward(inputs.reshape((batch * time,) + inputs.shape[2:]), training=training)
        if isinstance(y, list):
            raise ValueError(f"{self.name}: the wrapped layer must return one array, got {len(y)}")

        def pullback(dy: Any) -> Tuple[Any, Grads]:
            d_inner = None if dy is None else np.asarray(dy).reshape((batch * time,) + y.shape[1:])
            dx, grads = inner_pullback(d_inner)
            return (None if dx is None else dx.reshape(inputs.shape)), grads

        return y.reshape((batch, time) + y.shape[1:]), pullback

    def get_config(self) -> Dict[str, Any]:
        from . import serialize
        return super().get_config() | {"layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config_: Dict[str, Any]) -> TimeDistributed:
        from . import deserialize
        config_ = dict(config_)
        return cls(deserialize(config_.pop("layer")), **config_)
