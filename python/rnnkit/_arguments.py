"""Checks of constructor arguments shared by the layers and the optimizers, and the names
they derive from their classes."""

from __future__ import annotations

import re
from typing import Any, Literal, Optional, Tuple, overload

import numpy as np


def check_flag(kind: str, name: str, value: Any) -> bool:
    """``value`` as a bool; TypeError naming ``kind`` (the layer or optimizer) and the argument
    unless it is ``True`` or ``False`` (NumPy bools too): a string such as ``"no"`` would read
    as true."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{kind}: {name} must be a bool (True or False), got {value!r} of type {type(value).__name__}")


def is_integer(value: Any) -> bool:
    """Whether ``value`` is a whole number (Python or NumPy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or NumPy int or float), not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_integer(kind: str, name: str, value: Any) -> int:
    """``value`` as an int; TypeError naming ``kind`` and the argument unless it is a whole
    number (not a bool, a float or text)."""
    if not is_integer(value):
        raise TypeError(f"{kind}: {name} must be an integer, got {value!r} of type {type(value).__name__}")
    return int(value)


def check_seed(kind: str, seed: Any) -> Any:
    """``seed`` unchanged if it is ``None`` or an integer of at least 0; TypeError/ValueError
    naming ``kind`` otherwise."""
    if seed is not None and check_integer(kind, "seed", seed) < 0:
        raise ValueError(f"{kind}: seed must be None or an integer >= 0, got {seed!r}")
    return seed


@overload
def check_shape(kind: str, name: str, value: Any, *, allow_none: Literal[False] = ...) -> Tuple[int, ...]: ...
@overload
def check_shape(kind: str, name: str, value: Any, *, allow_none: bool) -> Tuple[Optional[int], ...]: ...
def check_shape(kind: str, name: str, value: Any, *, allow_none: bool = False) -> Tuple[Optional[int], ...]:
    """``value`` as a tuple of ints (``None`` entries kept when ``allow_none``); TypeError naming
    ``kind`` and the argument unless it is a list or tuple of such entries."""
    entries = value if isinstance(value, (list, tuple)) else None
    if entries is None or not all(is_integer(d) or (allow_none and d is None) for d in entries):
        expected = "integers or None" if allow_none else "integers"
        raise TypeError(f"{kind}: {name} must be a tuple of {expected}, got {value!r}")
    return tuple(None if d is None else int(d) for d in entries)


def snake_case(class_name: str) -> str:
    """A class name as Keras names its objects: ``"LSTM"`` -> ``"lstm"``, ``"MeanSquaredError"``
    -> ``"mean_squared_error"``, ``"Conv1D"`` -> ``"conv1d"`` (keras.src.utils.naming's rule)."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
