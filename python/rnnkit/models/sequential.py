"""Sequential: a stack of layers, its forward and backward pass, weights and summary."""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import layers as layers_module
from .. import saving
from ..layers.base import Grads, InputLayer, Layer, Pullback, Shape, _auto_name, accumulate
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


class Sequential(Trainer, Layer):
    """A linear stack of layers, as ``keras.Sequential``; itself a layer, so it can sit inside
    another model or a wrapper (``TimeDistributed(Sequential([...]))``).

    A mask made by a layer (``Masking``, ``Embedding(mask_zero=True)``) flows to the layers
    after it and, from the last layer, to the loss and the metrics.

    Args:
        layers: layers in order; the first may be ``rnnkit.layers.Input(shape)`` or have
            ``input_shape=``, which builds the model at once.
        name: the model's name.
    """

    casts_inputs = False

    def __init__(self, layers: Optional[Sequence[Layer]] = None, name: Optional[str] = None,
                 trainable: bool = True) -> None:
        Trainer.__init__(self)
        Layer.__init__(self, name=name or _auto_name("Sequential"), trainable=trainable)
        self._layers: List[Layer] = []
        self._input: Optional[InputLayer] = None
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> List[Layer]:
        """The layers, without the Input placeholder (as Keras 3)."""
        return list(self._layers)

    def _sublayers(self) -> List[Layer]:
        return list(self._layers)

    @property
    def dtype(self) -> str:
        return self._layers[0].dtype if self._layers else self._dtype

    @dtype.setter
    def dtype(self, value: str) -> None:
        Layer.dtype.fset(self, value)

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
        if getattr(layer, "return_state", False) or getattr(layer, "merge_mode", "concat") is None:
            raise ValueError(f"{layer.name}: a layer returning several arrays (return_state=True or "
                             "merge_mode=None) cannot feed the next layer of a Sequential model; call it directly")
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
            return (self._layers[0].batch_size_arg,) + self._layers[0].input_shape_arg
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

    def compute_output_shape(self, input_shape: Shape) -> Any:
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

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

    def forward(self, inputs: Any, *, mask: Any = None, training: bool = False,
                **kwargs: Any) -> Tuple[Any, Pullback]:
        """The outputs and the pullback ``d_outputs -> (d_inputs, {variable: gradient})``."""
        outputs, _, pullback = self.propagate(inputs, mask, training, **kwargs)
        return outputs, pullback

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
            x, mask, pullback = layer.propagate(x, mask, training)
            pullbacks.append(pullback)

        def pullback(d_outputs: Any) -> Tuple[Any, Grads]:
            grads: Grads = {}
            d = d_outputs
            for layer_pullback in reversed(pullbacks):
                d, layer_grads = layer_pullback(d)
                accumulate(grads, layer_grads)
            return d, grads

        return x, mask, pullback

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return self.propagate(inputs, mask, training=False)[1]

    # ------------------------------------------------------------------ weights
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
        entries = [layers_module.serialize(self._input)] if self._input is not None else []
        entries += [layers_module.serialize(layer) for layer in self._layers]
        return {"name": self.name, "trainable": self.trainable, "layers": entries,
                "build_input_shape": list(self.input_shape) if self.built else None}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None) -> "Sequential":
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
