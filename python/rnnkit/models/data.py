"""Checks and batching of the arrays given to fit, evaluate and predict."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np

__all__ = ["as_array", "check_same_length", "class_sample_weights", "batches", "batch_size", "count",
           "step_count", "verbosity", "interrupt_between_batches"]


def as_array(name: str, value: Any, dtype: Optional[str] = None) -> np.ndarray:
    """``value`` as an array: numeric, at least 1-D, non-empty and finite, cast to ``dtype``."""
    if value is None:
        raise ValueError(f"'{name}' is required")
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"'{name}' must be a numeric array, got dtype {array.dtype}")
    if array.ndim == 0 or array.shape[0] == 0:
        raise ValueError(f"'{name}' must hold at least one sample, got shape {array.shape}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"'{name}' contains NaN or infinity (first at index {tuple(int(i) for i in bad)})")
    return array.astype(dtype, copy=False) if dtype else array


def check_same_length(**arrays: Optional[np.ndarray]) -> int:
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"the arrays must have the same number of samples: {described}")
    return next(iter(lengths.values()))


def class_sample_weights(y: np.ndarray, class_weight: Dict[int, float]) -> np.ndarray:
    """Per-sample weights from ``class_weight``: the class is the label (sparse), the argmax
    (one-hot) or the rounded probability (binary), as Keras does."""
    if y.ndim >= 2 and y.shape[-1] > 1:
        labels = np.argmax(y, axis=-1)
    else:
        labels = np.rint(y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y).astype(int)
    labels = labels.reshape(len(y), -1)[:, 0]
    lookup = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([lookup.get(int(label), 1.0) for label in labels])  # unlisted classes weigh 1, as Keras


def count(name: str, value: Any, minimum: int, optional: bool = False) -> Optional[int]:
    """A whole number of at least ``minimum`` (``None`` allowed when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"'{name}' must be a whole number of at least {minimum}, got {value!r}")
    return int(value)


def batch_size(value: Any) -> int:
    """Keras' default of 32 for ``None``; otherwise a positive whole number."""
    return 32 if value is None else count("batch_size", value, minimum=1)


def step_count(samples: int, size: int, steps: Optional[int]) -> int:
    total = -(-samples // size)
    return total if steps is None else min(steps, total)


def verbosity(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def batches(samples: int, size: int, order: Optional[np.ndarray] = None,
            steps: Optional[int] = None) -> Iterator[np.ndarray]:
    """Index arrays of consecutive batches of ``order`` (default 0..samples-1), at most ``steps``."""
    order = np.arange(samples) if order is None else order
    for step, start in enumerate(range(0, samples, size)):
        if steps is not None and step >= steps:
            return
        yield order[start:start + size]


class _Interrupt:
    requested = False

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt("training stopped between batches; the model is consistent and usable")


@contextmanager
def interrupt_between_batches() -> Iterator[_Interrupt]:
    """Ctrl-C during fit is held until the current batch has finished (weights are never
    left half-updated); ``check()`` then raises KeyboardInterrupt. A second Ctrl-C stops
    at once. Outside the main thread signals cannot be caught and nothing changes."""
    flag = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
