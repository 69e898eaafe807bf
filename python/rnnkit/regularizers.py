"""Weight regularizers, as ``keras.regularizers``: a penalty added to the loss and its gradient."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union, cast

import numpy as np

from .serialization import class_and_config, serialize_object

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get", "serialize", "deserialize"]


class Regularizer:
    """Base class: ``penalty = regularizer(weights)``; ``regularizer.gradient(weights)``."""

    def __call__(self, x: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """The gradient of the penalty ``self(x)`` with respect to ``x``: an array of ``x``'s
        shape and dtype. Keras has no such method (its autodiff takes the gradient); a custom
        regularizer implements it along with ``__call__``."""
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        """The constructor's arguments as a JSON-ready dict (``{"l1": 0.01}`` for ``L1()``)."""
        return {}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Regularizer:
        """The regularizer ``cls(**config)``, from a dict of :meth:`get_config`."""
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x^2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x: np.ndarray) -> float:
        return float(self.l1 * np.abs(x).sum() + self.l2 * np.square(x).sum())

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """``l1 * sign(x) + 2 * l2 * x``, in ``x``'s dtype (0 where ``x`` is 0 for the L1 part)."""
        return cast(np.ndarray, (self.l1 * np.sign(x) + 2 * self.l2 * x).astype(x.dtype, copy=False))

    def get_config(self) -> Dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|x|)``."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> Dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(x^2)``."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> Dict[str, Any]:
        return {"l2": self.l2}


_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2}


def serialize(regularizer: Optional[Regularizer]) -> Optional[Dict[str, Any]]:
    """``{"class_name": ..., "config": regularizer.get_config()}``, or ``None``."""
    if regularizer is None:
        return None
    return serialize_object(regularizer)


def deserialize(config: Optional[Dict[str, Any]]) -> Optional[Regularizer]:
    """The regularizer described by :func:`serialize`'s dict, or ``None``."""
    if config is None:
        return None
    cls, options = class_and_config(config, _CLASSES, "regularizer")
    return cls.from_config(options)


def get(identifier: Union[str, Dict[str, Any], Regularizer, None]) -> Optional[Regularizer]:
    """A regularizer from ``None``, a name (``"l1"``, ``"l2"``, ``"l1_l2"``), a config dict or an instance."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]()
    raise ValueError(f"unknown regularizer {identifier!r}; expected one of {sorted(_NAMES)} or a Regularizer")
