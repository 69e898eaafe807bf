"""The Layer base class and the Input placeholder."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import config, initializers, regularizers
from ..variables import Variable

__all__ = ["Layer", "InputLayer", "Input"]

Shape = Tuple[Optional[int], ...]
_name_counts: Dict[str, int] = defaultdict(int)


def _auto_name(cls_name: str) -> str:
    """Keras' naming: ``lstm``, ``lstm_1``, ... per class, in creation order."""
    base = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", cls_name)
    base = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", base).lower()
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


class Layer:
    """Base layer: owns its weights, computes ``call`` (forward) and ``backward``.

    A layer is called on NumPy arrays (``layer(x)``); the forward pass of a training step
    keeps what the backward pass needs, and ``backward(dy)`` sets each weight's ``grad``
    and returns the gradient of the input.

    Args:
        name: unique name; default from the class (``lstm``, ``lstm_1``, ...).
        dtype: ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.
        trainable: whether fit updates the weights.
        input_shape: shape of one sample (no batch axis), for the first layer of a model.
        input_dim: shorthand for ``input_shape=(input_dim,)``.
    """

    def __init__(self, *, name: Optional[str] = None, dtype: Optional[str] = None, trainable: bool = True,
                 input_shape: Optional[Sequence[Optional[int]]] = None, input_dim: Optional[int] = None,
                 **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        self.name = name or _auto_name(type(self).__name__)
        self.dtype = np.dtype(dtype or config.floatx()).name
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"{self.name}: dtype must be 'float32' or 'float64', got {self.dtype!r}")
        self.trainable = trainable
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self.input_shape_arg: Optional[Shape] = tuple(input_shape) if input_shape is not None else None
        self.built = False
        self.input_shape: Optional[Shape] = None
        self._weights: List[Variable] = []

    # ------------------------------------------------------------------ weights
    def add_weight(self, name: str, shape: Sequence[int], initializer: Any = "zeros", regularizer: Any = None,
                   trainable: bool = True) -> Variable:
        """Creates a weight of ``shape`` in the layer's dtype."""
        value = initializers.get(initializer)(shape, dtype=self.dtype)
        variable = Variable(value, name=name, path=f"{self.name}/{name}", trainable=trainable,
                            regularizer=regularizers.get(regularizer))
        self._weights.append(variable)
        return variable

    @property
    def weights(self) -> List[Variable]:
        return list(self._weights)

    @property
    def trainable_weights(self) -> List[Variable]:
        return [w for w in self._weights if w.trainable and self.trainable]

    @property
    def non_trainable_weights(self) -> List[Variable]:
        return [w for w in self._weights if not (w.trainable and self.trainable)]

    def get_weights(self) -> List[np.ndarray]:
        """Copies of the weights, in Keras' order."""
        return [w.numpy() for w in self._weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets the weights from arrays in Keras' order and shapes."""
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(
                f"layer '{self.name}' has {len(self._weights)} weights "
                f"({', '.join(w.name for w in self._weights) or 'none'}), got {len(weights)} arrays"
            )
        for variable, value in zip(self._weights, weights):
            value = np.asarray(value)
            if value.shape != variable.shape:
                raise ValueError(f"layer '{self.name}': weight '{variable.name}' has shape {variable.shape}, "
                                 f"got an array of shape {value.shape}")
        for variable, value in zip(self._weights, weights):
            variable.assign(value)

    def count_params(self) -> int:
        return int(sum(w.value.size for w in self._weights))

    def regularization_loss(self) -> float:
        return float(sum(w.regularizer(w.value) for w in self._weights if w.regularizer is not None))

    # ------------------------------------------------------------------ computation
    def build(self, input_shape: Shape) -> None:
        """Creates the weights for inputs of ``input_shape`` (batch axis first, ``None``)."""
        self.input_shape = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Any:
        return tuple(input_shape)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Gradient of the input of the last training forward, given that of its output;
        sets ``grad`` on each weight."""
        raise NotImplementedError

    def _as_input(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{self.name}: expected a numeric array, got dtype {x.dtype}")
        return x.astype(self.dtype, copy=False)

    def __call__(self, x: Any, training: bool = False, **kwargs: Any) -> Any:
        x = self._as_input(x)
        if not self.built:
            self.build((None,) + x.shape[1:])
        return self.call(x, training=training, **kwargs)

    # ------------------------------------------------------------------ config
    def get_config(self) -> Dict[str, Any]:
        config_ = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.input_shape_arg is not None:
            config_["input_shape"] = list(self.input_shape_arg)
        return config_

    @classmethod
    def from_config(cls, config_: Dict[str, Any]) -> "Layer":
        return cls(**config_)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class InputLayer(Layer):
    """The input placeholder of a Sequential model: ``Input(shape=(time, features))``.

    Args:
        shape: shape of one sample, without the batch axis; ``None`` for a variable length.
        batch_size: optional fixed batch size.
    """

    def __init__(self, shape: Sequence[Optional[int]], batch_size: Optional[int] = None,
                 dtype: Optional[str] = None, name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype, input_shape=tuple(shape), **kwargs)
        self.batch_size = batch_size
        self.shape = (batch_size,) + tuple(shape)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy

    def get_config(self) -> Dict[str, Any]:
        return {"shape": list(self.input_shape_arg), "batch_size": self.batch_size, "dtype": self.dtype,
                "name": self.name}


def Input(shape: Sequence[Optional[int]], batch_size: Optional[int] = None, dtype: Optional[str] = None,
          name: Optional[str] = None) -> InputLayer:
    """Declares a model's input shape, as ``keras.Input``: the first entry of a Sequential."""
    return InputLayer(shape, batch_size=batch_size, dtype=dtype, name=name)
