"""Utilities, as ``keras.utils``: seeding."""

from __future__ import annotations

import random
from typing import Optional

import numpy as np

__all__ = ["set_random_seed", "rng"]

_global_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seeds Python's ``random``, NumPy's global generator and rnnkit's own generator (weight
    initialisers, dropout masks, shuffling), so that building and fitting the same model
    again gives identical weights and losses on the same machine."""
    global _global_rng
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    _global_rng = np.random.default_rng(int(seed))


def rng(seed: Optional[int] = None) -> np.random.Generator:
    """A generator: seeded by ``seed`` if given, else drawn from rnnkit's global stream."""
    if seed is not None:
        return np.random.default_rng(seed)
    return np.random.default_rng(_global_rng.integers(2**63))
