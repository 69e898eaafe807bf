"""Variable: a named weight array, as layers and optimizers share it."""

from __future__ import annotations

from typing import Any, Optional, Tuple, cast

import numpy as np

__all__ = ["Variable"]


class Variable:
    """A layer weight. ``value`` is the array (updated in place by optimizers). Gradients are
    not stored here: a layer's pullback returns them in a dict keyed by the variable.

    Args:
        value: initial array; copied, C-contiguous (taken as it is with ``copy=False``, for an
            array nothing else holds).
        name: short name, e.g. ``"kernel"``.
        path: unique path, e.g. ``"lstm/kernel"`` (defaults to ``name``).
        trainable: whether optimizers update it.
        regularizer: an ``rnnkit.regularizers`` object or ``None``.
        copy: copy ``value`` (the default).
        constraint: an ``rnnkit.constraints`` object or ``None``, applied after each optimizer step.
    """

    def __init__(
        self,
        value: Any,
        name: str,
        path: Optional[str] = None,
        trainable: bool = True,
        regularizer: Any = None,
        copy: bool = True,
        constraint: Any = None,
    ) -> None:
        self.value: np.ndarray = np.array(value, order="C") if copy else np.ascontiguousarray(value)
        self.name = name
        self.path = path or name
        self.trainable = trainable
        self.regularizer = regularizer
        self.constraint = constraint

    @property
    def shape(self) -> Tuple[int, ...]:
        """The shape of ``value``."""
        return self.value.shape

    @property
    def dtype(self) -> np.dtype:
        """The dtype of ``value``, a ``numpy.dtype`` (Keras gives its name, a string)."""
        return self.value.dtype

    def numpy(self) -> np.ndarray:
        """A copy of the value."""
        return cast(np.ndarray, self.value.copy())

    def assign(self, value: Any) -> None:
        """Sets the value in place; the shape must match."""
        value = np.asarray(value)
        if value.shape != self.value.shape:
            raise ValueError(
                f"cannot assign a value of shape {value.shape} to variable '{self.path}' of shape {self.value.shape}"
            )
        self.value[...] = value

    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> np.ndarray:
        return self.value if dtype is None else self.value.astype(dtype)

    def __repr__(self) -> str:
        return f"<Variable path={self.path} shape={self.shape} dtype={self.dtype}>"
