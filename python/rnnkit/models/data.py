"""Checks and batching of the arrays given to fit, evaluate and predict."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Literal, Mapping, Optional, Tuple, cast, overload

import numpy as np

from .. import ops
from .._arguments import is_integer, is_number
from ..utils import PyDataset

__all__ = ["as_array", "check_same_length", "class_sample_weights", "batches", "batch_size", "count",
           "step_count", "verbosity", "interrupt_between_batches", "PyDataset", "BatchSource", "is_batch_source",
           "split_batch"]


def as_array(name: str, value: Any, dtype: Optional[str] = None) -> np.ndarray:
    """``value`` as an array: numeric, at least 1-D, non-empty and finite, cast to ``dtype``."""
    if value is None:
        raise ValueError(f"'{name}' is required")
    array = ops._as_array(f"'{name}'", value)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"'{name}' must be a numeric array, got dtype {array.dtype}")
    if array.ndim == 0 or array.shape[0] == 0:
        raise ValueError(f"'{name}' must hold at least one sample, got shape {array.shape}")
    # Checked without a temporary the size of the array (large arrays block by block).
    if array.dtype.kind == "f" and not ops._all_finite(array):
        raise ValueError(f"'{name}' contains NaN or infinity (first at index {ops._first_nonfinite(array)})")
    return array.astype(dtype, copy=False) if dtype else array


def check_same_length(**arrays: Optional[np.ndarray]) -> int:
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"the arrays must have the same number of samples: {described}")
    return next(iter(lengths.values()))


def check_class_weight(class_weight: Any) -> Dict[int, float]:
    """``class_weight`` as ``{int class: float weight}``; TypeError/ValueError naming it and the
    entry at fault unless it is a mapping of whole-number classes to finite weights of at least 0."""
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight must be a dict {{class: weight}}, got {type(class_weight).__name__}")
    checked = {}
    for key, weight in class_weight.items():
        if not is_integer(key):
            raise TypeError(f"class_weight: the classes must be whole numbers, got {key!r}")
        if not is_number(weight):
            raise TypeError(f"class_weight: the weight of class {key} must be a number, got {weight!r}")
        if not (np.isfinite(weight) and weight >= 0):
            raise ValueError(f"class_weight: the weight of class {key} must be finite and at least 0, got {weight!r}")
        checked[int(key)] = float(weight)
    return checked


def class_sample_weights(y: np.ndarray, class_weight: Dict[int, float]) -> np.ndarray:
    """Per-sample weights from ``class_weight``: the class is the label (sparse), the argmax
    (one-hot) or the rounded probability (binary), as Keras does."""
    if y.ndim >= 2 and y.shape[-1] > 1:
        labels = np.argmax(y, axis=-1)
    else:
        labels = np.rint(y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y).astype(int)
    labels = labels.reshape(len(y), -1)[:, 0]
    return np.array([class_weight.get(int(label), 1.0) for label in labels])  # unlisted classes weigh 1, as Keras


@overload
def count(name: str, value: Any, minimum: int, optional: Literal[False] = ...) -> int: ...
@overload
def count(name: str, value: Any, minimum: int, optional: bool) -> Optional[int]: ...
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
            steps: Optional[int] = None) -> Iterator[Tuple[Any, int]]:
    """``(index, count)`` of consecutive batches, at most ``steps``: the index is an array of
    ``order``'s entries, or without ``order`` a slice, so that the batch is a view, not a copy."""
    for step, start in enumerate(range(0, samples, size)):
        if steps is not None and step >= steps:
            return
        stop = min(start + size, samples)
        yield (slice(start, stop) if order is None else order[start:stop]), stop - start


class _Interrupt:
    requested = False

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt("training stopped between batches; the model is consistent and usable")


@contextmanager
def interrupt_between_batches() -> Iterator[_Interrupt]:
    """Ctrl-C during fit is held until the current batch has finished (weights are never
    left half-updated); ``check()`` then raises KeyboardInterrupt. A second Ctrl-C raises
    KeyboardInterrupt without finishing the batch: a recurrent kernel in progress stops at
    its next time step (the handler's ``signals_to_stop_kernels`` tells the C++ core how many
    Ctrl-C it takes). Outside the main thread signals cannot be caught and nothing changes."""
    flag = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True
        handler.signals_to_stop_kernels = 1  # type: ignore[attr-defined]

    handler.signals_to_stop_kernels = 2  # type: ignore[attr-defined]
    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


# ------------------------------------------------------------------ data that is not one array
def is_batch_source(value: Any) -> bool:
    """A generator, an iterator or a PyDataset (anything that yields batches), not an array."""
    if isinstance(value, PyDataset):
        return True
    if isinstance(value, (np.ndarray, list, tuple, dict, str, bytes)) or value is None:
        return False
    return hasattr(value, "__next__") or (hasattr(value, "__getitem__") and hasattr(value, "__len__")
                                          and hasattr(value, "on_epoch_end"))


def split_batch(batch: Any, source: str) -> Tuple[Any, Any, Any]:
    """``(x, y, sample_weight)`` from a batch a generator yielded: ``(x, y)``, ``(x, y, w)`` or ``x``
    (a list is read as a tuple, as Keras reads it)."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if isinstance(batch, tuple):
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        if len(batch) == 1:
            return batch[0], None, None
        raise ValueError(f"{source} must yield (x, y) or (x, y, sample_weight) tuples, got a tuple of {len(batch)}")
    if isinstance(batch, (np.ndarray, dict)):
        return batch, None, None
    raise ValueError(f"{source} must yield (x, y) or (x, y, sample_weight) tuples, got {type(batch).__name__}")


class BatchSource:
    """The batches of one epoch from a generator/iterator (read on, never restarted) or a
    PyDataset (indexed from 0 every epoch, then ``on_epoch_end``)."""

    def __init__(self, source: Any, steps: Optional[int], name: str) -> None:
        self.source, self.name = source, name
        self.steps: Optional[int]
        self.is_dataset = isinstance(source, PyDataset) or not hasattr(source, "__next__")
        if self.is_dataset:
            length = len(source)
            if length <= 0:
                raise ValueError(f"{name}: the PyDataset has no batches (len() is {length})")
            self.steps = length if steps is None else min(steps, length)
        else:
            self.steps = steps
            self.iterator = iter(source)
        self.exhausted = False

    def epoch(self) -> Iterator[Tuple[Any, Any, Any]]:
        """The batches of one epoch; an iterator stops at ``steps`` or when it runs out."""
        if self.is_dataset:
            for index in range(cast(int, self.steps)):  # counted for a PyDataset
                yield split_batch(self.source[index], self.name)
            self.source.on_epoch_end()
            return
        step = 0
        while self.steps is None or step < self.steps:
            try:
                batch = next(self.iterator)
            except StopIteration:
                self.exhausted = True
                return
            yield split_batch(batch, self.name)
            step += 1
