"""Activation names, as Keras spells them. The functions run in the C++ kernels."""

from __future__ import annotations

from typing import Optional

__all__ = ["get", "serialize", "DENSE_ACTIVATIONS", "RECURRENT_ACTIVATIONS"]

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
