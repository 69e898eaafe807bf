"""Checks of constructor arguments shared by the layers and the optimizers."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_flag(kind: str, name: str, value: Any) -> bool:
    """``value`` as a bool; TypeError naming ``kind`` (the layer or optimizer) and the argument
    unless it is ``True`` or ``False`` (NumPy bools too): a string such as ``"no"`` would read
    as true."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{kind}: {name} must be a bool (True or False), got {value!r} of type {type(value).__name__}")
