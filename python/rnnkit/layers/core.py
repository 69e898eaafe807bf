"""Dense and Dropout."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from .. import activations, initializers, ops, regularizers, utils
from .base import Layer, Shape

__all__ = ["Dense", "Dropout"]


class Dense(Layer):
    """``y = activation(x W + b)`` on the last axis: ``(N, F) -> (N, units)``, and per time
    step on ``(N, T, F) -> (N, T, units)`` as Keras 3 does.

    Args:
        units: output width.
        activation: ``None``/``"linear"``, ``"relu"``, ``"sigmoid"``, ``"tanh"``,
            ``"hard_sigmoid"``, ``"softmax"``.
        use_bias: whether to add ``b``.
        kernel_initializer, bias_initializer: Keras names or objects.
        kernel_regularizer, bias_regularizer: ``rnnkit.regularizers`` or names.
    """

    def __init__(self, units: int, activation: Optional[str] = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._result: Optional[ops.DenseResult] = None

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: Dense needs inputs of shape (batch, ..., features) with a known "
                             f"feature size, got {input_shape}")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                                      self.kernel_regularizer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer) \
            if self.use_bias else None
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if x.ndim < 2 or x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected input of shape (batch, ..., {self.kernel.shape[0]}), "
                             f"got {x.shape}")
        result = ops.dense_forward(x, self.kernel.value, self.bias.value if self.bias else None,
                                   activation=self.activation)
        self._result = result if training else None
        return result.output

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._result is None:
            raise RuntimeError(f"{self.name}: backward needs a forward call with training=True first")
        grads = self._result.backward(dy)
        self.kernel.grad = grads["kernel"]
        if self.bias is not None:
            self.bias.grad = grads["bias"]
        return grads["x"]

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {
            "units": self.units, "activation": self.activation, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }


class Dropout(Layer):
    """Sets a fraction ``rate`` of the inputs to zero while training and scales the rest by
    ``1 / (1 - rate)``; the identity at inference.

    Args:
        rate: fraction to drop, in [0, 1).
        noise_shape: shape of the mask, broadcast against the input (``None`` entries take
            the input's size), e.g. ``(None, 1, None)`` for one mask over all time steps.
        seed: seed of the masks.
    """

    def __init__(self, rate: float, noise_shape: Optional[Sequence[Optional[int]]] = None,
                 seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        self._rng = utils.rng(seed)
        self._mask: Optional[np.ndarray] = None

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0:
            self._mask = None
            return x
        shape = x.shape if self.noise_shape is None else tuple(
            x.shape[k] if d is None else d for k, d in enumerate(self.noise_shape))
        self._mask = ((self._rng.random(shape) >= self.rate) / (1 - self.rate)).astype(x.dtype)
        return x * self._mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy if self._mask is None else dy * self._mask

    def get_config(self) -> Dict[str, Any]:
        noise_shape = list(self.noise_shape) if self.noise_shape is not None else None
        return super().get_config() | {"rate": self.rate, "noise_shape": noise_shape, "seed": self.seed}
