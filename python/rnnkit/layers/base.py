"""The layer contract: forward returns outputs and a pullback; masks as Keras 3 has them.

A layer's ``forward(inputs, mask=..., training=...)`` returns ``(outputs, pullback)``. The
pullback maps the gradients of the outputs (same structure, ``None`` for zero) to
``(d_inputs, grads)``: the gradients of the inputs (same structure as ``inputs``; ``None``
for integer inputs) and ``grads``, a dict ``{Variable: array}``. Everything the backward
pass needs lives in the pullback, so a layer called twice, or two layers sharing weights,
give gradients that the caller sums per variable (:func:`accumulate`). Dropping the
pullback frees the forward's cache.

Masks: ``supports_masking`` and ``compute_mask(inputs, mask)`` as in Keras 3. A container
(a model or wrapper) calls ``propagate`` on each layer, which returns the output mask too.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import defaultdict
from typing import Any, Callable, Dict, Iterator, List, Literal, Mapping, Optional, Sequence, Tuple, cast, overload

import numpy as np

from .. import config, constraints, initializers, ops, regularizers, traces
from .._arguments import check_flag, is_integer, is_number, snake_case
from ..variables import Variable
from . import symbolic

__all__ = ["Layer", "InputLayer", "Input", "Grads", "Pullback", "accumulate", "MAX_WEIGHT_BYTES"]

Shape = Tuple[Optional[int], ...]
Grads = Dict[Variable, np.ndarray]
Pullback = Callable[[Any], Tuple[Any, Grads]]
_name_counts: Dict[str, int] = defaultdict(int)

#: The largest weight a layer creates, in bytes (16 GiB): ``build`` refuses a larger one with a
#: ValueError naming the layer and the weight, before anything is allocated.
MAX_WEIGHT_BYTES = 2 ** 34


def _auto_name(cls_name: str) -> str:
    """Keras' naming: ``lstm``, ``lstm_1``, ... per class, in creation order."""
    base = snake_case(cls_name)
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def accumulate(total: Grads, grads: Grads) -> Grads:
    """Adds ``grads`` into ``total`` per variable (a variable used twice gets the sum); returns ``total``."""
    for variable, gradient in grads.items():
        if gradient is None:
            continue
        if variable in total:
            total[variable] = total[variable] + gradient
        else:
            total[variable] = gradient
    return total


def as_list(value: Any) -> List[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


# ---------------------------------------------------------------------- argument checks
def check_rate(kind: str, name: str, value: Any) -> float:
    """A fraction in [0, 1) as a float: TypeError unless a real number, ValueError out of range."""
    if not is_number(value):
        raise TypeError(f"{kind}: {name} must be a number in [0, 1), got {value!r} of type {type(value).__name__}")
    if not 0 <= value < 1:
        raise ValueError(f"{kind}: {name} must be in [0, 1), got {value!r}")
    return float(value)


@overload
def check_size(kind: str, name: str, value: Any, optional: Literal[False] = ...) -> int: ...
@overload
def check_size(kind: str, name: str, value: Any, optional: bool) -> Optional[int]: ...
def check_size(kind: str, name: str, value: Any, optional: bool = False) -> Optional[int]:
    """A positive whole number as an int (``None`` too when ``optional``); bools are refused."""
    if value is None and optional:
        return None
    if not is_integer(value) or value <= 0:
        expected = "a positive integer or None" if optional else "a positive integer"
        raise ValueError(f"{kind}: {name} must be {expected}, got {value!r}")
    return int(value)


@overload
def check_shape_argument(kind: str, name: str, value: None) -> None: ...
@overload
def check_shape_argument(kind: str, name: str, value: Sequence[Optional[int]]) -> Shape: ...
@overload
def check_shape_argument(kind: str, name: str, value: Any) -> Optional[Shape]: ...
def check_shape_argument(kind: str, name: str, value: Any) -> Optional[Shape]:
    """A shape argument (``input_shape``, ``batch_input_shape``, ``Input(shape)``) as a tuple of
    positive ints and ``None``s; TypeError if it is not a sequence, ValueError for a bad entry."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{kind}: {name} must be a tuple of positive integers or None, got {value!r}")
    shape = tuple(value)
    for entry in shape:
        if entry is not None and (not is_integer(entry) or entry <= 0):
            raise ValueError(f"{kind}: {name} must hold positive integers or None (an unknown size), got {shape!r}")
    return tuple(None if entry is None else int(entry) for entry in shape)


def _format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024:
            return f"{size:.1f} {unit}" if unit != "bytes" else f"{count} bytes"
        size /= 1024
    return f"{size:.1f} EiB"


def check_weight_sizes(layer: Layer, shapes: Mapping[str, Sequence[int]]) -> None:
    """ValueError naming the layer, the weight and its size if a weight of ``shapes`` (name ->
    shape) would take more than :data:`MAX_WEIGHT_BYTES`, checked before anything is allocated.
    The initializers draw the values in float64, so that is the size counted for float32 too."""
    dtype = np.dtype(layer.dtype)
    for name, shape in shapes.items():
        count = 1
        for dim in shape:
            count *= int(dim)  # Python ints: no overflow, however large
        if count * max(dtype.itemsize, 8) > MAX_WEIGHT_BYTES:
            drawn = f" ({_format_bytes(count * 8)} while its initializer draws it in float64)" \
                if dtype.itemsize < 8 else ""
            raise ValueError(
                f"{type(layer).__name__} '{layer._path_prefix}{layer.name}': weight '{name}' of shape "
                f"{tuple(int(d) for d in shape)} would take {_format_bytes(count * dtype.itemsize)} in "
                f"{dtype.name}{drawn}, more than the {_format_bytes(MAX_WEIGHT_BYTES)} a weight may take "
                "(rnnkit.layers.base.MAX_WEIGHT_BYTES); check the layer's size and its input's feature size")


class Layer:
    """Base layer: owns weights (and possibly sublayers), computes ``forward`` with a pullback.

    Subclasses implement ``_forward(inputs, mask, training, **kwargs) -> (outputs, pullback)``
    and, if they create weights, ``build(input_shape)``. Calling the layer, ``layer(x)``,
    returns the outputs alone.

    Args:
        name: unique name; default from the class (``lstm``, ``lstm_1``, ...).
        dtype: ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.
        trainable: whether fit updates the weights.
        input_shape: shape of one sample (no batch axis), for the first layer of a model.
        input_dim: shorthand for ``input_shape=(input_dim,)``.
        batch_input_shape: ``(batch, ...)``, the input shape with a fixed batch size
            (stateful models); ``batch_size`` with ``input_shape`` says the same.
    """

    supports_masking = False
    #: Keras' autocast: inputs are cast to the layer's dtype before ``_forward``.
    casts_inputs = True
    #: The rank every input must have (None: any); checked when called on symbolic tensors.
    input_rank: Optional[int] = None

    def __init__(self, *, name: Optional[str] = None, dtype: Optional[str] = None, trainable: bool = True,
                 input_shape: Optional[Sequence[Optional[int]]] = None, input_dim: Optional[int] = None,
                 batch_input_shape: Optional[Sequence[Optional[int]]] = None, batch_size: Optional[int] = None,
                 activity_regularizer: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        kind = type(self).__name__
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{kind}: name must be a str, got {name!r} of type {type(name).__name__}")
        self.name = name or _auto_name(kind)
        self._dtype: str = np.dtype(dtype or config.floatx()).name
        if self._dtype not in ("float32", "float64"):
            raise ValueError(f"{self.name}: dtype must be 'float32' or 'float64', got {self._dtype!r}")
        self.trainable = check_flag(kind, "trainable", trainable)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        input_shape = check_shape_argument(kind, "input_shape", input_shape)
        batch_size = check_size(kind, "batch_size", batch_size, optional=True)
        input_dim = check_size(kind, "input_dim", input_dim, optional=True)
        if batch_input_shape is not None:
            batch_input_shape = check_shape_argument(kind, "batch_input_shape", batch_input_shape)
            if not batch_input_shape:
                raise ValueError(f"{kind}: batch_input_shape must start with the batch size, got ()")
            batch_size, input_shape = batch_input_shape[0], batch_input_shape[1:]
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self.input_shape_arg: Optional[Shape] = input_shape
        self.batch_size_arg: Optional[int] = batch_size
        self.built = False
        # The shape built for (batch axis first), a list of them for several inputs; None until built.
        self.input_shape: Any = None
        self._weights: List[Variable] = []
        self._path_prefix = ""  # set by an RNN for its cell, whose name is not unique ("lstm_cell")
        self._inbound_nodes: List[Any] = []  # the calls of this layer in model graphs

    # ------------------------------------------------------------------ structure
    @property
    def dtype(self) -> str:
        """The compute dtype, ``"float32"`` or ``"float64"``. Setting it sets the layers inside
        this one too; the weights keep their dtype (gradcheck converts those)."""
        return self._dtype

    @dtype.setter
    def dtype(self, value: str) -> None:
        self._dtype = np.dtype(value).name
        for layer in self._sublayers():
            layer.dtype = value

    def _sublayers(self) -> List[Layer]:
        """The layers this layer holds (wrappers, cells, models); weights recurse into them."""
        return []

    def _flatten_layers(self) -> Iterator[Layer]:
        """This layer and every layer inside it, each once, depth first."""
        seen = set()
        stack = [self]
        while stack:
            layer = stack.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            yield layer
            stack[0:0] = layer._sublayers()

    # ------------------------------------------------------------------ weights
    def add_weight(self, name: str, shape: Sequence[int], initializer: Any = "zeros", regularizer: Any = None,
                   trainable: bool = True, constraint: Any = None) -> Variable:
        """Creates a weight of ``shape`` in the layer's dtype (ValueError if it would take more
        than :data:`MAX_WEIGHT_BYTES`), with an optional regularizer and constraint."""
        trainable = check_flag(type(self).__name__, "trainable", trainable)
        check_weight_sizes(self, {name: shape})
        initializer = initializers.get(initializer)
        placeholder = _WEIGHTS_ASSIGNED_NEXT.get()
        # A placeholder's pages stay untouched until its array is read into it.
        value = np.zeros(tuple(shape), dtype=self.dtype) if placeholder else initializer(shape, dtype=self.dtype)
        variable = Variable(value, name=name, path=f"{self._path_prefix}{self.name}/{name}", trainable=trainable,
                            regularizer=regularizers.get(regularizer), copy=not placeholder,
                            constraint=constraints.get(constraint))
        self._weights.append(variable)
        return variable

    def _collect_weights(self, trainable_only: bool) -> List[Variable]:
        """The weights of this layer and the layers inside it, depth first, each once; with
        ``trainable_only``, the trainable ones, skipping layers set ``trainable=False``."""
        out: List[Variable] = []
        seen, visited = set(), set()
        stack: List[Layer] = [self]
        while stack:
            layer = stack.pop()
            if id(layer) in visited or (trainable_only and not layer.trainable):
                continue
            visited.add(id(layer))
            for variable in layer._weights:
                if id(variable) not in seen and (variable.trainable or not trainable_only):
                    seen.add(id(variable))
                    out.append(variable)
            stack.extend(reversed(layer._sublayers()))
        return out

    @property
    def weights(self) -> List[Variable]:
        """Every weight, this layer's own first, then its sublayers' in order (each once)."""
        return self._collect_weights(trainable_only=False)

    @property
    def trainable_weights(self) -> List[Variable]:
        """The weights fit updates, in :attr:`weights`' order: the trainable ones, leaving out
        every weight of a layer (and the layers inside it) set ``trainable=False``."""
        return self._collect_weights(trainable_only=True)

    @property
    def non_trainable_weights(self) -> List[Variable]:
        """The other weights, in :attr:`weights`' order: those made with ``trainable=False`` and
        those of layers set ``trainable=False``."""
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def get_weights(self) -> List[np.ndarray]:
        """Copies of the weights, in Keras' order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets the weights from arrays in Keras' order and shapes."""
        variables = self.weights
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                f"layer '{self.name}' has {len(variables)} weights "
                f"({', '.join(w.name for w in variables) or 'none'}), got {len(weights)} arrays"
            )
        for variable, value in zip(variables, weights):
            value = ops._as_array(f"layer '{self.name}': weight '{variable.name}'", value)
            if value.dtype.kind not in "fiub":
                raise TypeError(f"layer '{self.name}': weight '{variable.name}' must be numeric, got dtype "
                                f"{value.dtype} ({variable.path})")
            if value.shape != variable.shape:
                raise ValueError(f"layer '{self.name}': weight '{variable.name}' has shape {variable.shape}, "
                                 f"got an array of shape {value.shape} ({variable.path})")
        for variable, value in zip(variables, weights):
            variable.assign(value)

    def count_params(self) -> int:
        """The number of scalars in all the weights, trainable or not. A layer not yet built
        has no weights and gives 0, where Keras raises a ValueError."""
        return int(sum(w.value.size for w in self.weights))

    def regularization_loss(self) -> float:
        """The sum of the weight regularizers' penalties, ``regularizer(weight)`` over every
        regularized weight (0.0 with none), as the training loss includes it. Activity
        regularizers are not counted: they depend on the inputs. Keras collects these penalties
        in ``layer.losses``."""
        return float(sum(w.regularizer(w.value) for w in self.weights if w.regularizer is not None))

    # ------------------------------------------------------------------ computation
    def build(self, input_shape: Any) -> None:
        """Creates the weights for inputs of ``input_shape`` (batch axis first, ``None``)."""
        self.input_shape = tuple(input_shape) if _is_shape(input_shape) else input_shape
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The shape of the outputs for inputs of ``input_shape`` (batch axis first, ``None`` for
        an unknown size), without computing anything; a list of shapes for several inputs or
        outputs. A layer that does not override it keeps the shape: ``tuple(input_shape)``."""
        return tuple(input_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The mask of the outputs, given the inputs and their mask (Keras 3's meaning)."""
        return mask if self.supports_masking else None

    def _forward(self, inputs: Any, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        raise NotImplementedError(f"{type(self).__name__} does not implement _forward")

    def _prepare(self, inputs: Any) -> Any:
        """Checks the inputs are numeric arrays and, for layers that compute in floats, casts them."""
        if isinstance(inputs, (list, tuple)):
            return [self._prepare(x) for x in inputs]
        x = ops._as_array(f"{self.name}: the inputs", inputs)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{self.name}: expected a numeric array, got dtype {x.dtype}")
        return x.astype(self.dtype, copy=False) if self.casts_inputs else x

    def _build_shape(self, inputs: Any) -> Any:
        """The shape the layer builds for: the batch axis left open, as Keras does."""
        if isinstance(inputs, list):
            return [self._build_shape(x) for x in inputs]
        return (None,) + tuple(inputs.shape[1:])

    def forward(self, inputs: Any, *, mask: Any = None, training: bool = False,
                **kwargs: Any) -> Tuple[Any, Pullback]:
        """The outputs and the pullback ``d_outputs -> (d_inputs, {variable: gradient})``.

        Args:
            inputs: an array (or a list of arrays), batch axis first.
            mask: bool ``(batch, time)`` marking valid steps, or ``None``.
            training: training mode (dropout on).
        """
        try:
            prepared = self._prepare(inputs)
            if not self.built:
                self.build(self._build_shape(prepared))
            outputs, pullback = self._forward(prepared, mask, training, **kwargs)
        except MemoryError as error:
            raise _out_of_memory(self, inputs, error) from None
        collected = _ACTIVITY_LOSSES.get()
        regularizer = self.activity_regularizer
        if regularizer is None or collected is None:
            return outputs, pullback
        return self._regularized_activity(outputs, pullback, collected, regularizer)

    def _regularized_activity(self, outputs: Any, pullback: Pullback, collected: List[float],
                              regularizer: regularizers.Regularizer) -> Tuple[Any, Pullback]:
        """Adds ``activity_regularizer(output)`` to the loss being computed (``collected``) and
        its gradient to the outputs' gradients in the pullback, as Keras adds it to the loss."""
        several = isinstance(outputs, list)
        flat = list(outputs) if several else [outputs]
        collected.append(sum(regularizer(np.asarray(o)) for o in flat))

        def regularized(d_outputs: Any) -> Tuple[Any, Grads]:
            given = list(d_outputs) if several else [d_outputs]
            d_list = [regularizer.gradient(o) if d is None else d + regularizer.gradient(o)
                      for d, o in zip(given, flat)]
            return pullback(d_list if several else d_list[0])

        return outputs, regularized

    def propagate(self, inputs: Any, mask: Any = None, training: bool = False,
                  **kwargs: Any) -> Tuple[Any, Any, Pullback]:
        """``forward`` and the output mask together, as containers use them."""
        outputs, pullback = self.forward(inputs, mask=mask, training=training, **kwargs)
        return outputs, self.compute_mask(inputs, mask), pullback

    def trace(self, inputs: Any, *, mask: Any = None, d_outputs: Any = None, **kwargs: Any) -> traces.Trace:
        """Look inside the recurrent cells of this layer (a SimpleRNN, LSTM or GRU layer, a
        Bidirectional wrapper, ...) on one batch: the gates and states of every time step, in
        inference mode. See :mod:`rnnkit.traces`.

        Args:
            inputs: as for ``forward``, e.g. ``(N, T, F)`` float32 or float64.
            mask: ``(N, T)`` bool, ``False`` at padded steps, or ``None``.
            d_outputs: the gradient of a loss with respect to this layer's outputs (their
                structure and shapes); when given, the backward pass runs and every
                :class:`~rnnkit.traces.LayerTrace` gets ``grad_hidden`` (and ``grad_cell_state``).
            **kwargs: other call arguments, e.g. ``initial_state``.

        Returns:
            A :class:`rnnkit.traces.Trace` ``{name: LayerTrace}``.
        """
        with traces.recording(self) as trace:
            _, pullback = self.forward(inputs, mask=mask, training=False, **kwargs)
            if d_outputs is not None:
                pullback(d_outputs)
        return trace

    def __call__(self, inputs: Any, training: bool = False, mask: Any = None, **kwargs: Any) -> Any:
        """The outputs for arrays; on symbolic tensors (from ``Input``), the symbolic outputs
        of this call, recorded in the graph that ``rnnkit.models.Model`` runs."""
        if symbolic.any_symbolic(inputs, kwargs):
            return symbolic.call_symbolic(self, inputs, kwargs)
        with ops.no_backward():  # the pullback is dropped: the kernels need not copy their inputs
            return self.forward(inputs, mask=mask, training=training, **kwargs)[0]

    def call(self, inputs: Any, training: bool = False, mask: Any = None, **kwargs: Any) -> Any:
        """The outputs for ``inputs`` (Keras' name; the same as calling the layer)."""
        return self(inputs, training=training, mask=mask, **kwargs)

    def _node_tensors(self, which: str) -> Any:
        if not self._inbound_nodes:
            raise AttributeError(f"layer '{self.name}' has not been called on a symbolic tensor, so it has no {which}")
        node = self._inbound_nodes[0]
        tensors = node.outputs if which == "output" else node.inputs
        return tensors[0] if len(tensors) == 1 else list(tensors)

    @property
    def output(self) -> Any:
        """The symbolic output(s) of the layer's first call in a graph (Keras' ``layer.output``)."""
        return self._node_tensors("output")

    @property
    def input(self) -> Any:
        """The symbolic input(s) of the layer's first call in a graph (Keras' ``layer.input``)."""
        return self._node_tensors("input")

    def reset_state(self) -> None:
        """Stateful layers forget their carried states; other layers have none."""
        for layer in self._sublayers():
            layer.reset_state()

    def reset_states(self) -> None:
        """Keras 2's name of :meth:`reset_state`."""
        self.reset_state()

    # ------------------------------------------------------------------ config
    def get_config(self) -> Dict[str, Any]:
        """The layer's constructor arguments as a JSON-ready dict, from which
        :meth:`from_config` makes an equal layer (without the weights' values). Every layer
        gives ``name``, ``trainable``, ``dtype`` and, when set, ``activity_regularizer``,
        ``input_shape`` and ``batch_size``, then its own arguments; the layers it holds (RNN's
        cell, a wrapper's layer) appear as their ``{"class_name": ..., "config": ...}``."""
        config_ = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:
            config_["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self.input_shape_arg is not None:
            config_["input_shape"] = list(self.input_shape_arg)
        if self.batch_size_arg is not None:
            config_["batch_size"] = self.batch_size_arg
        return config_

    @classmethod
    def from_config(cls, config_: Dict[str, Any]) -> Layer:
        """A new layer from a dict of :meth:`get_config`: ``cls(**config)``, after rebuilding the
        layers it holds. Its weights are fresh ones; ``set_weights`` copies trained ones in."""
        return cls(**config_)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


_WEIGHTS_ASSIGNED_NEXT: contextvars.ContextVar[bool] = contextvars.ContextVar("rnnkit_weights_assigned_next",
                                                                               default=False)


# The activity-regularization losses of the forward pass under way, when its loss is computed.
_ACTIVITY_LOSSES: contextvars.ContextVar[Optional[List[float]]] = contextvars.ContextVar(
    "rnnkit_activity_losses", default=None)


@contextlib.contextmanager
def activity_losses() -> Iterator[List[float]]:
    """Within the block, layers with an ``activity_regularizer`` add their penalty to the
    yielded list (and its gradient to their pullback): the fit and evaluate steps use it."""
    collected: List[float] = []
    token = _ACTIVITY_LOSSES.set(collected)
    try:
        yield collected
    finally:
        _ACTIVITY_LOSSES.reset(token)


@contextlib.contextmanager
def weights_assigned_next() -> Iterator[None]:
    """Layers built inside it skip their initializers and hold zeros: for a model whose every
    weight is assigned next (loading a file), building costs no random draw (an orthogonal
    recurrent kernel's QR decomposition) and no memory before each array is read."""
    token = _WEIGHTS_ASSIGNED_NEXT.set(True)
    try:
        yield
    finally:
        _WEIGHTS_ASSIGNED_NEXT.reset(token)


def _out_of_memory(layer: Layer, inputs: Any, error: MemoryError) -> MemoryError:
    """``error`` with the layer and its input shapes in front; the innermost layer names
    itself once (a wrapper or container re-raises it as it is)."""
    if getattr(error, "layer_name", None) is not None:
        return error
    shapes = [np.shape(x) for x in inputs] if isinstance(inputs, (list, tuple)) else np.shape(inputs)
    named = MemoryError(f"layer '{layer.name}' ({type(layer).__name__}) on inputs of shape {shapes}: {error}")
    named.layer_name = layer.name  # type: ignore[attr-defined]
    return named


def _is_shape(value: Any) -> bool:
    return isinstance(value, tuple) or (isinstance(value, list) and all(d is None or isinstance(d, int)
                                                                         for d in value))


def check_mask(layer: Layer, mask: Any, x: np.ndarray) -> Optional[np.ndarray]:
    """The mask as a bool ``(batch, time)`` array matching ``x``, or a clear error naming the layer."""
    if mask is None:
        return None
    array = np.asarray(mask)
    if array.dtype.kind not in "biu":
        raise TypeError(f"{layer.name}: the mask must hold booleans, got dtype {array.dtype}")
    if array.shape != tuple(x.shape[:2]):
        raise ValueError(f"{layer.name}: the mask must have shape (batch, time) = {tuple(x.shape[:2])}, "
                         f"got {array.shape}")
    return array.astype(bool, copy=False)


def dropout_keep(rng: np.random.Generator, shape: Any, rate: float, dtype: Any) -> np.ndarray:
    """Keras' dropout mask: 0 for a dropped unit, ``1 / (1 - rate)`` for a kept one."""
    return cast(np.ndarray, ((rng.random(shape) >= rate) / (1 - rate)).astype(dtype))


def unary_pullback(backward: Callable[[np.ndarray], np.ndarray]) -> Pullback:
    """The pullback of a weightless one-input layer from ``dy -> dx``."""
    def pullback(dy: Any) -> Tuple[Any, Grads]:
        return (None if dy is None else backward(np.asarray(dy))), {}
    return pullback


class InputLayer(Layer):
    """The input placeholder of a Sequential model: ``Input(shape=(time, features))``.

    Args:
        shape: shape of one sample, without the batch axis; ``None`` for a variable length.
        batch_size: optional fixed batch size (needed by stateful models).
        dtype: the input's dtype; ``"int32"``/``"int64"`` for token ids feeding an Embedding.
    """

    casts_inputs = False

    def __init__(self, shape: Sequence[Optional[int]], batch_size: Optional[int] = None,
                 dtype: Optional[str] = None, name: Optional[str] = None, **kwargs: Any) -> None:
        input_dtype = np.dtype(dtype or config.floatx()).name
        if np.dtype(input_dtype).kind not in "fiub":
            raise ValueError(f"Input: dtype must be numeric, got {input_dtype!r}")
        if shape is None:
            raise TypeError("Input: shape is required: the shape of one sample, without the batch axis")
        shape = check_shape_argument("Input", "shape", shape)
        batch_size = check_size("Input", "batch_size", batch_size, optional=True)
        super().__init__(name=name, input_shape=shape, batch_size=batch_size, **kwargs)
        self._dtype = input_dtype
        self.batch_size = batch_size
        self.shape = (batch_size,) + tuple(shape)
        self.built = True
        self.input_shape = self.shape
        node = symbolic.Node(self, [], {}, {})
        node.outputs = [symbolic.SymbolicTensor(self.shape, input_dtype, node, 0, self.name)]
        node.output_structure = 0
        self._inbound_nodes.append(node)

    def _forward(self, inputs: Any, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        return inputs, unary_pullback(lambda dy: dy)

    def get_config(self) -> Dict[str, Any]:
        """``shape`` (without the batch axis), ``batch_size``, ``dtype`` and ``name``: the
        arguments of :func:`Input`."""
        return {"shape": list(self.shape[1:]), "batch_size": self.batch_size, "dtype": self.dtype,
                "name": self.name}


def Input(shape: Sequence[Optional[int]], batch_size: Optional[int] = None, dtype: Optional[str] = None,
          name: Optional[str] = None) -> symbolic.SymbolicTensor:
    """A model input, as ``keras.Input``: a symbolic tensor of shape ``(batch_size, *shape)``
    (the batch axis ``None`` unless fixed) and ``dtype`` (default floatx; ``"int32"`` for token
    ids). Call layers on it and pass it to ``rnnkit.models.Model``, or make it the first entry
    of a ``Sequential``."""
    return cast(symbolic.SymbolicTensor, InputLayer(shape, batch_size=batch_size, dtype=dtype, name=name).output)
