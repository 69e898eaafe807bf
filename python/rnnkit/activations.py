"""Activation names, as Keras spells them. Dense and the recurrent layers run them in the C++
kernels; ``apply`` and ``gradient`` compute them on arrays for the Activation layer."""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["get", "serialize", "apply", "gradient", "DENSE_ACTIVATIONS", "RECURRENT_ACTIVATIONS"]

RECURRENT_ACTIVATIONS = ("linear", "tanh", "sigmoid", "hard_sigmoid", "relu")
DENSE_ACTIVATIONS = RECURRENT_ACTIVATIONS + ("softmax",)


def get(identifier: Optional[str], allowed: tuple = DENSE_ACTIVATIONS) -> str:
    """The canonical name of an activation (``None`` is ``"linear"``); ValueError lists the
    valid names for an unknown one."""
    if identifier is None:
        return "linear"
    if not isinstance(identifier, str):
        raise TypeError(
            f"activation must be a name such as 'relu', got {type(identifier).__name__}; "
            f"rnnkit runs activations in its C++ kernels, so only these are available: {', '.join(allowed)}"
        )
    if identifier not in allowed:
        raise ValueError(f"unknown activation {identifier!r}; expected one of {', '.join(map(repr, allowed))}")
    return identifier


def serialize(name: str) -> str:
    return name


# The Activation layer applies these outside the kernels, on whole arrays (the same
# functions the C++ kernels compute); each derivative is taken from the output y.
def apply(name: str, x: np.ndarray) -> np.ndarray:
    """``activation(x)`` elementwise (softmax over the last axis)."""
    if name == "linear":
        return x
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 0.5 * (np.tanh(0.5 * x) + 1)  # overflow-free logistic
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6
        return np.clip((x + 3) / 6, 0, 1).astype(x.dtype, copy=False)
    if name == "relu":
        return np.maximum(x, 0)
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def gradient(name: str, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``dL/dx`` given ``y = activation(x)`` and ``dL/dy``, through ``y`` alone (as the C++
    kernels take it), so the caller's ``x`` need not be kept for the backward pass."""
    if name == "linear":
        return dy
    if name == "tanh":
        return dy * (1 - y * y)
    if name == "sigmoid":
        return dy * y * (1 - y)
    if name == "hard_sigmoid":  # slope 1/6 strictly inside the linear segment
        return dy * ((y > 0) & (y < 1)) / 6
    if name == "relu":
        return dy * (y > 0)
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
