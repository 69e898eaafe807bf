"""Sequential: a stack of layers, its forward and backward pass, weights and summary."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, cast

import numpy as np

from .. import layers as layers_module
from ..layers.base import Grads, InputLayer, Layer, Pullback, Shape, _auto_name, accumulate
from ..layers.symbolic import SymbolicTensor
from .base import BaseModel

__all__ = ["Sequential"]

class Sequential(BaseModel):
    """A linear stack of layers, as ``keras.Sequential``; itself a layer, so it can sit inside
    another model or a wrapper (``TimeDistributed(Sequential([...]))``).

    A mask made by a layer (``Masking``, ``Embedding(mask_zero=True)``) flows to the layers
    after it and, from the last layer, to the loss and the metrics.

    Args:
        layers: layers in order; the first may be ``rnnkit.layers.Input(shape)`` or have
            ``input_shape=``, which builds the model at once.
        name: the model's name.
    """

    def __init__(self, layers: Optional[Sequence[Layer]] = None, name: Optional[str] = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name or _auto_name("Sequential"), trainable=trainable)
        self._layers: List[Layer] = []
        self._input: Optional[InputLayer] = None
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> List[Layer]:
        """The layers, without the Input placeholder (as Keras 3)."""
        return list(self._layers)

    @property
    def dtype(self) -> str:
        """The first layer's dtype (the model's own while it has none). Setting it sets the dtype
        of every layer; the weights keep theirs."""
        return self._layers[0].dtype if self._layers else self._dtype

    @dtype.setter
    def dtype(self, value: str) -> None:
        Layer.dtype.fset(self, value)  # type: ignore[attr-defined]  # mypy reads Layer.dtype as the getter

    def add(self, layer: Layer) -> None:
        """Appends a layer (or, first, an ``Input``); the model builds as soon as its input shape
        is known."""
        if isinstance(layer, SymbolicTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input is not None:
                raise ValueError("an Input can only be the first entry of a Sequential model")
            self._input = layer
            self._try_build()
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects an rnnkit layer, got {type(layer).__name__}")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"the model already has a layer named '{layer.name}'; names must be unique")
        if getattr(layer, "return_state", False) or getattr(layer, "merge_mode", "concat") is None:
            raise ValueError(f"{layer.name}: a layer returning several arrays (return_state=True or "
                             "merge_mode=None) cannot feed the next layer of a Sequential model; call it directly")
        self._layers.append(layer)
        self.built = False
        self._try_build()

    def pop(self) -> Layer:
        """Removes the last layer and returns it; the model is built again for its input shape
        when that is known. ValueError if the model has no layer. Keras 3's ``rebuild``
        argument is not taken: the model always rebuilds when it can."""
        if not self._layers:
            raise ValueError("there is no layer to remove")
        layer = self._layers.pop()
        self.built = False
        self._try_build()
        return layer

    def _declared_input_shape(self) -> Optional[Shape]:
        if self._input is not None:
            return self._input.shape
        if self._layers and self._layers[0].input_shape_arg is not None:
            return (self._layers[0].batch_size_arg,) + self._layers[0].input_shape_arg
        if self._layers and self._layers[0].built:
            return cast(Shape, self._layers[0].input_shape)
        return None

    def _try_build(self) -> None:
        shape = self._declared_input_shape()
        if shape is not None and self._layers:
            self.build(shape)

    def build(self, input_shape: Optional[Shape] = None) -> None:
        """Builds every layer for inputs of ``input_shape`` (batch axis first)."""
        input_shape = tuple(input_shape) if input_shape is not None else self._declared_input_shape()
        if input_shape is None:
            raise ValueError("the model's input shape is unknown: give the first layer input_shape=..., "
                             "start with rnnkit.layers.Input(shape=...), or call build(input_shape)")
        shape = input_shape
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.input_shape = input_shape
        self.output_shape = shape
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Any:
        """The output shape of the last layer, each layer's ``compute_output_shape`` fed the
        previous one's; ``input_shape`` itself when the model has no layer."""
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def output_names(self) -> List[str]:
        """``[name of the last layer]`` (``["output"]`` while there is none): the name that
        per-output logs and a dict of losses or metrics use."""
        return [self._layers[-1].name] if self._layers else ["output"]

    def _flat_inputs(self, inputs: Any) -> List[Any]:
        """``[x]``: a Sequential model has one input. ``[x]`` and ``{input name: x}`` are taken
        too, as Keras takes them; a list of several arrays or other dict keys are refused."""
        if isinstance(inputs, dict):
            name = self._input.name if self._input is not None else None
            if list(inputs) != [name]:
                raise ValueError("a Sequential model takes one input array" +
                                 (f" (or {{{name!r}: array}})" if name else "") +
                                 f", got a dict with keys {sorted(map(str, inputs))}")
            return [inputs[name]]
        if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(a, np.ndarray) for a in inputs):
            if len(inputs) != 1:
                raise ValueError(f"a Sequential model takes one input array, got a list of {len(inputs)} arrays "
                                 "(use the functional Model for several inputs)")
            return [inputs[0]]
        return [inputs]

    def _pack_inputs(self, arrays: List[Any]) -> Any:
        return arrays[0]

    def _flat_outputs(self, outputs: Any) -> List[Any]:
        return [outputs]

    def _pack_outputs(self, arrays: List[Any]) -> Any:
        return arrays[0]

    def _check_input_arrays(self, arrays: List[np.ndarray]) -> None:
        self._check_input(arrays[0])

    def _input_cast_dtypes(self) -> List[Optional[str]]:
        """The first layer's dtype when it computes in floats (x is cast once, not per batch)."""
        first = self._layers[0] if self._layers else None
        if first is None or not first.casts_inputs or (self.input_dtype and np.dtype(self.input_dtype).kind in "iu"):
            return [None]
        return [first.dtype]

    @property
    def input_dtype(self) -> Optional[str]:
        """The dtype of the declared Input (token ids: an integer dtype), else ``None``."""
        return self._input.dtype if self._input is not None else None

    # ------------------------------------------------------------------ computation
    def _check_input(self, x: np.ndarray) -> None:
        expected = self.input_shape
        if x.ndim != len(expected):
            raise ValueError(f"the model expects inputs of rank {len(expected)}, shape {expected}, "
                             f"got shape {x.shape}")
        for axis, (want, got) in enumerate(zip(expected[1:], x.shape[1:]), start=1):
            if want is not None and want != got:
                raise ValueError(f"the model expects inputs of shape {expected}, got shape {x.shape} "
                                 f"(axis {axis} is {got}, expected {want})")

    def _build_shape(self, inputs: Any) -> Any:
        return self._declared_input_shape() or (None,) + tuple(inputs.shape[1:])

    def propagate(self, inputs: Any, mask: Any = None, training: bool = False,
                  **kwargs: Any) -> Tuple[Any, Any, Pullback]:
        """The outputs, their mask and the pullback, layer after layer."""
        if kwargs:
            raise TypeError(f"{self.name}: unexpected arguments {sorted(kwargs)}")
        x = self._prepare(inputs)
        if not self.built:
            self.build(self._build_shape(x))
        self._check_input(x)
        pullbacks = []
        for layer in self._layers:
            x, mask, step_pullback = layer.propagate(x, mask, training)
            pullbacks.append(step_pullback)

        def pullback(d_outputs: Any) -> Tuple[Any, Grads]:
            grads: Grads = {}
            d = d_outputs
            for layer_pullback in reversed(pullbacks):
                d, layer_grads = layer_pullback(d)
                accumulate(grads, layer_grads)
            return d, grads

        return x, mask, pullback

    def _summary_rows(self) -> List[Tuple[str, str, str, Optional[str]]]:
        rows: List[Tuple[str, str, str, Optional[str]]] = []
        shape = self.input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
            rows.append((f"{layer.name} ({type(layer).__name__})", str(shape), f"{layer.count_params():,}", None))
        return rows

    # ------------------------------------------------------------------ config
    def get_config(self) -> Dict[str, Any]:
        """Keras' Sequential config: ``name``, ``trainable``, ``layers`` (the Input first if
        there is one, each as ``{"class_name": ..., "config": ...}``) and ``build_input_shape``
        (``None`` until built)."""
        entries = [layers_module.serialize(self._input)] if self._input is not None else []
        entries += [layers_module.serialize(layer) for layer in self._layers]
        return {"name": self.name, "trainable": self.trainable, "layers": entries,
                "build_input_shape": list(self.input_shape) if self.built else None}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None) -> Sequential:
        """Rebuilds a model from ``get_config()``; only registered classes (rnnkit's layers and
        models, and ``custom_objects``) can be named, so a config cannot run arbitrary code."""
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            layer = layers_module.deserialize(entry, custom_objects=custom_objects)
            if not isinstance(layer, Layer):
                raise ValueError(f"{entry.get('class_name')!r} is not a layer")
            model.add(layer)
        if config.get("build_input_shape") and not model.built:
            model.build(tuple(config["build_input_shape"]))
        return model
