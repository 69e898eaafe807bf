"""Activations, under Keras' names. Dense and the recurrent layers run them in the C++ kernels;
``apply`` and ``gradient`` compute them on arrays for the Activation layer.

Every layer takes an activation by name (``"gelu"``) or as the function of this module
(``rnnkit.activations.gelu``), as ``keras.activations`` does; ``swish`` is ``silu``. The
recurrent layers take every activation but ``softmax`` (which normalizes a whole row, where
their kernels activate gate blocks). The kernels take each derivative from the activation's
output; for gelu and silu, which are not one-to-one, they also keep the pre-activations.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Tuple, cast

import numpy as np

__all__ = ["get", "serialize", "deserialize", "apply", "gradient", "DENSE_ACTIVATIONS", "RECURRENT_ACTIVATIONS",
           "linear", "tanh", "sigmoid", "hard_sigmoid", "relu", "softmax", "elu", "selu", "softplus", "softsign",
           "exponential", "leaky_relu", "relu6", "gelu", "silu", "swish"]

RECURRENT_ACTIVATIONS = ("linear", "tanh", "sigmoid", "hard_sigmoid", "relu", "elu", "selu", "softplus",
                         "softsign", "exponential", "leaky_relu", "relu6", "gelu", "silu")
DENSE_ACTIVATIONS = RECURRENT_ACTIVATIONS + ("softmax",)
_ALIASES = {"swish": "silu"}

# Keras 3's constants (the same as the C++ kernels').
SELU_ALPHA, SELU_SCALE = 1.67326324235437728481704299, 1.05070098735548049341933498
LEAKY_RELU_SLOPE = 0.2


def get(identifier: Any, allowed: Tuple[str, ...] = DENSE_ACTIVATIONS) -> str:
    """The canonical name of an activation: a name, one of this module's functions, or ``None``
    (``"linear"``). ValueError lists the valid names for an unknown one."""
    if identifier is None:
        return "linear"
    if callable(identifier):
        function_name = getattr(identifier, "__name__", "")
        if _FUNCTIONS.get(function_name) is identifier:
            identifier = function_name
    if not isinstance(identifier, str):
        raise TypeError(
            f"activation must be a name such as 'relu' or a function of rnnkit.activations, got "
            f"{type(identifier).__name__}; rnnkit runs activations in its C++ kernels, so only these are available: "
            f"{', '.join(allowed)}")
    name = _ALIASES.get(identifier, identifier)
    if name not in allowed:
        hint = " (softmax normalizes a whole row; recurrent layers activate gate blocks)" \
            if name in DENSE_ACTIVATIONS else ""
        raise ValueError(f"unknown activation {identifier!r}; expected one of {', '.join(map(repr, allowed))}{hint}")
    return name


def serialize(name: str) -> str:
    """An activation's config form, its name: ``name`` is returned unchanged. Layers hold the
    canonical name already (:func:`get` gives it for one of this module's functions), so unlike
    Keras' ``serialize`` this takes the name, not the function."""
    return name


def deserialize(name: str) -> str:
    """The canonical name for a serialized activation (``"swish"`` gives ``"silu"``), as
    :func:`get` returns it; a name, where Keras' ``deserialize`` returns the function.
    ValueError for an unknown name."""
    return get(name)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1)  # overflow-free logistic


def _erf(x: np.ndarray) -> np.ndarray:
    return cast(np.ndarray, np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype, copy=False))


# The Activation layer applies these outside the kernels, on whole arrays (the same functions
# the C++ kernels compute).
def apply(name: str, x: np.ndarray) -> np.ndarray:
    """``activation(x)`` elementwise (softmax over the last axis), in ``x``'s dtype."""
    if name == "linear":
        return x
    if name == "softmax":
        shifted = np.exp(x - x.max(axis=-1, keepdims=True))
        return cast(np.ndarray, shifted / shifted.sum(axis=-1, keepdims=True))
    one = x.dtype.type(1)
    with np.errstate(over="ignore"):  # exp of a large x is inf where the activation takes the other branch
        if name == "tanh":
            y = np.tanh(x)
        elif name == "sigmoid":
            y = _sigmoid(x)
        elif name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6
            y = np.clip((x + 3) / 6, 0, 1)
        elif name == "relu":
            y = np.maximum(x, 0)
        elif name == "elu":
            y = np.where(x > 0, x, np.expm1(x))
        elif name == "selu":
            y = SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))
        elif name == "softplus":
            y = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        elif name == "softsign":
            y = x / (one + np.abs(x))
        elif name == "exponential":
            y = np.exp(x)
        elif name == "leaky_relu":
            y = np.where(x > 0, x, LEAKY_RELU_SLOPE * x)
        elif name == "relu6":
            y = np.clip(x, 0, 6)
        elif name == "gelu":  # the exact form, Keras' default
            y = 0.5 * x * (1 + _erf(x / math.sqrt(2)))
        elif name == "silu":
            y = x * _sigmoid(x)
        else:
            raise ValueError(f"unknown activation {name!r}")
    return np.asarray(y).astype(x.dtype, copy=False)


def needs_input(name: str) -> bool:
    """Whether ``gradient`` needs the activation's input (gelu, silu: not one-to-one)."""
    return name in ("gelu", "silu")


def gradient(name: str, y: np.ndarray, dy: np.ndarray, x: Optional[np.ndarray] = None) -> np.ndarray:
    """``dL/dx`` given ``y = activation(x)`` and ``dL/dy``: through ``y`` alone, as the C++
    kernels take it, except for gelu and silu, which need ``x``."""
    if name == "linear":
        return dy
    if name == "softmax":
        return cast(np.ndarray, y * (dy - (dy * y).sum(axis=-1, keepdims=True)))
    if needs_input(name):
        if x is None:
            raise ValueError(f"the derivative of {name} needs the activation's input x")
        if name == "gelu":
            slope = 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        else:
            s = _sigmoid(x)
            slope = s * (1 + x * (1 - s))
        return cast(np.ndarray, (dy * slope).astype(dy.dtype, copy=False))
    return cast(np.ndarray, (dy * _SLOPES[name](y)).astype(dy.dtype, copy=False))


# act'(x) written through y = act(x), for the activations that are one-to-one.
_SLOPES: Dict[str, Callable[[np.ndarray], Any]] = {
    "tanh": lambda y: 1 - y * y,
    "sigmoid": lambda y: y * (1 - y),
    "hard_sigmoid": lambda y: ((y > 0) & (y < 1)) / 6,  # 1/6 strictly inside the linear segment
    "relu": lambda y: y > 0,
    "elu": lambda y: np.where(y > 0, 1, y + 1),  # below 0, y' = exp(x) = y + 1
    "selu": lambda y: np.where(y > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA),
    "softplus": lambda y: -np.expm1(-y),  # sigmoid(x) = 1 - exp(-y)
    "softsign": lambda y: np.square(1 - np.abs(y)),
    "exponential": lambda y: y,
    "leaky_relu": lambda y: np.where(y > 0, 1, LEAKY_RELU_SLOPE),
    "relu6": lambda y: (y > 0) & (y < 6),
}


def _function(name: str) -> Callable[[Any], np.ndarray]:
    def activation(x: Any) -> np.ndarray:
        array = np.asarray(x)
        return apply(name, array if array.dtype.kind == "f" else array.astype(np.float32))

    activation.__name__ = activation.__qualname__ = name
    activation.__doc__ = (f"``{name}`` elementwise{' (over the last axis)' if name == 'softmax' else ''}, on an "
                          "array; pass it as a layer's ``activation``, or call it.")
    return activation


_FUNCTIONS: Dict[str, Callable[[Any], np.ndarray]] = {name: _function(name) for name in DENSE_ACTIVATIONS}
linear, tanh, sigmoid, hard_sigmoid, relu, softmax = (_FUNCTIONS[n] for n in (
    "linear", "tanh", "sigmoid", "hard_sigmoid", "relu", "softmax"))
elu, selu, softplus, softsign, exponential, leaky_relu, relu6, gelu, silu = (_FUNCTIONS[n] for n in (
    "elu", "selu", "softplus", "softsign", "exponential", "leaky_relu", "relu6", "gelu", "silu"))
swish = silu
