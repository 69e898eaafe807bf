"""Weight constraints, as ``keras.constraints``: after each optimizer step, a constrained weight
is replaced by ``constraint(weight)`` (``kernel_constraint``, ``recurrent_constraint``,
``bias_constraint`` of Dense and the recurrent layers, ``embeddings_constraint`` of Embedding).

The norms are taken along ``axis`` (0 by default: for a kernel ``(features, units)``, the
incoming weights of each unit), with Keras' epsilon 1e-7 in the denominators.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union, cast

import numpy as np

from .serialization import class_and_config, serialize_object

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "get", "serialize", "deserialize"]

EPSILON = 1e-7
Axis = Union[int, Sequence[int]]


class Constraint:
    """Base class: ``constraint(w)`` returns the projected weights, same shape and dtype."""

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return w

    def get_config(self) -> Dict[str, Any]:
        """The constructor's arguments as a JSON-ready dict (``{}`` for NonNeg)."""
        return {}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Constraint:
        """The constraint ``cls(**config)``, from a dict of :meth:`get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


def _norms(w: np.ndarray, axis: Axis) -> np.ndarray:
    return cast(np.ndarray, np.sqrt(np.sum(np.square(w), axis=tuple(np.atleast_1d(axis)), keepdims=True)))


class MaxNorm(Constraint):
    """Scales down each slice along ``axis`` whose 2-norm exceeds ``max_value`` to that norm:
    ``w * clip(n, 0, max_value) / (epsilon + n)``.

    Args:
        max_value: the largest norm allowed.
        axis: the axis (or axes) the norm runs over.
    """

    def __init__(self, max_value: float = 2.0, axis: Axis = 0) -> None:
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w: np.ndarray) -> np.ndarray:
        norms = _norms(w, self.axis)
        scaled = w * (np.clip(norms, 0, self.max_value) / (EPSILON + norms))
        return cast(np.ndarray, scaled.astype(w.dtype, copy=False))

    def get_config(self) -> Dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets the negative weights to zero."""

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, w * (w >= 0).astype(w.dtype))


class UnitNorm(Constraint):
    """Scales each slice along ``axis`` to norm 1: ``w / (epsilon + n)``.

    Args:
        axis: the axis (or axes) the norm runs over.
    """

    def __init__(self, axis: Axis = 0) -> None:
        self.axis = axis

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return (w / (EPSILON + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self) -> Dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's norm into ``[min_value, max_value]``, by the fraction ``rate`` of the
    way: ``w * (rate * clip(n, min, max) + (1 - rate) * n) / (epsilon + n)``.

    Args:
        min_value, max_value: the norm's bounds.
        rate: 1 enforces the bounds at once; less moves part of the way each step.
        axis: the axis (or axes) the norm runs over.
    """

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Axis = 0) -> None:
        self.min_value, self.max_value, self.rate, self.axis = float(min_value), float(max_value), float(rate), axis

    def __call__(self, w: np.ndarray) -> np.ndarray:
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return cast(np.ndarray, (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False))

    def get_config(self) -> Dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


_CLASSES = {cls.__name__: cls for cls in (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}
_NAMES = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm, **_CLASSES}


def serialize(constraint: Optional[Constraint]) -> Optional[Dict[str, Any]]:
    """``{"class_name": ..., "config": constraint.get_config()}``, or ``None``."""
    return None if constraint is None else serialize_object(constraint)


def deserialize(config: Optional[Dict[str, Any]]) -> Optional[Constraint]:
    """The constraint described by :func:`serialize`'s dict, or ``None``."""
    if config is None:
        return None
    cls, options = class_and_config(config, _CLASSES, "constraint")
    return cls.from_config(options)


def get(identifier: Union[str, Dict[str, Any], Constraint, None]) -> Optional[Constraint]:
    """A constraint from ``None``, a name (``"max_norm"``, ``"non_neg"``, ``"unit_norm"``,
    ``"min_max_norm"``, or a class name), a config dict or an instance."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]()
    raise ValueError(f"unknown constraint {identifier!r}; expected one of {sorted(_NAMES)} or a Constraint")
