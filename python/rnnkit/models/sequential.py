"""Sequential: a stack of layers, its forward and backward pass, weights and summary."""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .. import layers as layers_module
from .. import saving
from ..layers.base import InputLayer, Layer, Shape, _auto_name
from ..variables import Variable
from .training import Trainer

__all__ = ["Sequential"]

_BOX = "┏┳┓┃┡╇┩━│├┼┤─└┴┘"
_ASCII = "+++|+++=|+++-+++"


def _box_characters(print_fn: Any) -> Dict[str, str]:
    """Keras' box-drawing characters, or ASCII where stdout cannot encode them."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    if print_fn is print:
        try:
            _BOX.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            return dict(zip(_BOX, _ASCII))
    return dict(zip(_BOX, _BOX))


class Sequential(Trainer):
    """A linear stack of layers, as ``keras.Sequential``.

    Args:
        layers: layers in order; the first may be ``rnnkit.layers.Input(shape)`` or have
            ``input_shape=``, which builds the model at once.
        name: the model's name.
    """

    def __init__(self, layers: Optional[Sequence[Layer]] = None, name: Optional[str] = None,
                 trainable: bool = True) -> None:
        super().__init__()
        self.name = name or _auto_name("Sequential")
        self.trainable = trainable
        self._layers: List[Layer] = []
        self._input: Optional[InputLayer] = None
        self.built = False
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> List[Layer]:
        """The layers, without the Input placeholder (as Keras 3)."""
        return list(self._layers)

    def add(self, layer: Layer) -> None:
        """Appends a layer; the model builds as soon as its input shape is known."""
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
        if getattr(layer, "return_state", False):
            raise ValueError(f"{layer.name}: a layer with return_state=True returns several arrays, which a "
                             "Sequential model cannot pass on; use return_state only when calling a layer directly")
        self._layers.append(layer)
        self.built = False
        self._try_build()

    def pop(self) -> Layer:
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
            return (None,) + self._layers[0].input_shape_arg
        if self._layers and self._layers[0].built:
            return self._layers[0].input_shape
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

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The output of the stack; with ``training`` each layer keeps what backward needs."""
        if not self.built:
            self.build((None,) + x.shape[1:])
        self._check_input(x)
        for layer in self._layers:  # each layer computes in its own dtype, as Keras casts
            x = layer.call(x.astype(layer.dtype, copy=False), training=training)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Backward through the stack after ``forward(training=True)``: sets every weight's
        ``grad`` and returns the gradient of the input."""
        for layer in reversed(self._layers):
            dy = layer.backward(dy.astype(layer.dtype, copy=False))
        return dy

    def __call__(self, x: Any, training: bool = False) -> np.ndarray:
        return self.forward(self._as_input(x), training=training)

    def _as_input(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"model inputs must be numeric arrays, got dtype {x.dtype}")
        dtype = self._layers[0].dtype if self._layers else "float32"
        return x.astype(dtype, copy=False)

    # ------------------------------------------------------------------ weights
    @property
    def weights(self) -> List[Variable]:
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self) -> List[Variable]:
        return [w for layer in self._layers for w in layer.trainable_weights] if self.trainable else []

    @property
    def non_trainable_weights(self) -> List[Variable]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def get_weights(self) -> List[np.ndarray]:
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"the model has {expected} weight arrays, got {len(weights)}")
        start = 0
        for layer in self._layers:
            count = len(layer.weights)
            layer.set_weights(weights[start:start + count])
            start += count

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self._layers)

    def regularization_loss(self) -> float:
        return sum(layer.regularization_loss() for layer in self._layers)

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {[layer.name for layer in self._layers]}")

    # ------------------------------------------------------------------ summary
    def summary(self, line_length: int = 84, print_fn: Any = None) -> None:
        """Prints the layers, their output shapes and parameter counts, as Keras 3 does."""
        if not self.built:
            raise ValueError("the model is not built yet: declare its input shape or call build() or fit() first")
        print_fn = print_fn or print
        widths = [line_length - 42, 25, 15]
        box = _box_characters(print_fn)

        def row(cells, left=box["│"], mid=box["│"], right=box["│"]):
            parts = [f" {cells[0]:<{widths[0] - 2}} ", f" {cells[1]:<{widths[1] - 2}} ", f" {cells[2]:>{widths[2] - 2}} "]
            return left + mid.join(parts) + right

        def rule(left, mid, right, fill):
            return box[left] + box[mid].join(box[fill] * w for w in widths) + box[right]

        lines = [f'Model: "{self.name}"', rule("┏", "┳", "┓", "━"),
                 row(("Layer (type)", "Output Shape", "Param #"), box["┃"], box["┃"], box["┃"]),
                 rule("┡", "╇", "┩", "━")]
        shape = self.input_shape
        for k, layer in enumerate(self._layers):
            shape = layer.compute_output_shape(shape)
            lines.append(row((f"{layer.name} ({type(layer).__name__})", str(shape), f"{layer.count_params():,}")))
            lines.append(rule("├", "┼", "┤", "─") if k < len(self._layers) - 1 else rule("└", "┴", "┘", "─"))

        def size(count: int) -> str:
            nbytes = sum(w.value.nbytes for w in self.weights) * count / max(1, self.count_params())
            for unit in ("B", "KB", "MB", "GB"):
                if nbytes < 1024 or unit == "GB":
                    return f"{count:,} ({nbytes:.2f} {unit})"
                nbytes /= 1024

        trainable = sum(w.value.size for w in self.trainable_weights)
        lines += [f" Total params: {size(self.count_params())}", f" Trainable params: {size(trainable)}",
                  f" Non-trainable params: {size(self.count_params() - trainable)}"]
        for line in lines:
            print_fn(line)

    # ------------------------------------------------------------------ files
    def save(self, filepath: str, overwrite: bool = True) -> None:
        """Saves architecture, weights, compile settings and optimizer state (see rnnkit.saving)."""
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Saves the weights only, e.g. to ``"model.weights.npz"``."""
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"'{filepath}' exists and overwrite=False")
        saving.save_weights(self, filepath)

    def load_weights(self, filepath: str) -> None:
        """Loads weights saved by ``save_weights`` or ``save``; the model must match."""
        saving.load_weights(self, filepath)

    # ------------------------------------------------------------------ config
    def get_config(self) -> Dict[str, Any]:
        entries = []
        if self._input is not None:
            entries.append({"class_name": "InputLayer", "config": self._input.get_config()})
        entries += [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self._layers]
        return {"name": self.name, "trainable": self.trainable, "layers": entries,
                "build_input_shape": list(self.input_shape) if self.built else None}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None) -> "Sequential":
        """Rebuilds a model from ``get_config()``; only rnnkit's layer classes (and
        ``custom_objects``) can be named, so a config cannot run arbitrary code."""
        known = {name: getattr(layers_module, name) for name in layers_module.__all__}
        known.update(custom_objects or {})
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            layer_cls = known.get(entry.get("class_name"))
            if layer_cls is None or not (isinstance(layer_cls, type) and issubclass(layer_cls, Layer)):
                raise ValueError(f"unknown layer class {entry.get('class_name')!r}; known: {sorted(known)}")
            model.add(layer_cls.from_config(dict(entry.get("config", {}))))
        if config.get("build_input_shape") and not model.built:
            model.build(tuple(config["build_input_shape"]))
        return model
