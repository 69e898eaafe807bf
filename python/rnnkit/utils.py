"""Utilities, as ``keras.utils``: seeding, and PyDataset for data read one batch at a time."""

from __future__ import annotations

import random
from typing import Any, Optional

import numpy as np

__all__ = ["set_random_seed", "rng", "PyDataset"]

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


class PyDataset:
    """Batches computed on demand, as ``keras.utils.PyDataset``: subclass it and define
    ``__len__`` (batches per epoch) and ``__getitem__(index)`` returning ``(x, y)`` or
    ``(x, y, sample_weight)`` for one batch; ``on_epoch_end`` runs after every epoch.
    ``fit``, ``evaluate`` and ``predict`` read one batch at a time, so nothing is loaded
    into memory at once.

    Args:
        workers, use_multiprocessing, max_queue_size: accepted for Keras compatibility; batches
            are read in the calling thread, in order.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches)")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__ (one batch)")

    def on_epoch_end(self) -> None:
        """Called after every epoch (e.g. to reshuffle)."""
