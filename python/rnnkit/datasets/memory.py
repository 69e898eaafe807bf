"""Long-range memory: tasks whose answer depends on inputs far back in the sequence, where
a SimpleRNN's gradient vanishes and gated cells (LSTM, GRU) keep learning.

A model without memory, one that sees a single step at a time, can do no better than
chance on them (the test suite checks it).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..models.data import count
from .base import Dataset, float_dtype, generator, split, split_sizes

__all__ = ["adding_problem", "copy_task"]


def adding_problem(samples: int = 3000, timesteps: int = 50, validation_split: float = 0.15,
                   test_split: float = 0.15, seed: int = 0, dtype: Optional[str] = None) -> Dataset:
    """The adding problem (Hochreiter & Schmidhuber, 1997): add the two marked numbers.

    Each step holds a number drawn uniformly from [0, 1) and a marker, 1 at exactly two
    steps (one in each half of the sequence) and 0 elsewhere; the target is the sum of the
    two marked numbers. Predicting the mean, 1, scores a mean squared error of 1/6 ~ 0.167:
    that is chance.

    Args:
        samples: sequences in all (training + validation + test).
        timesteps: length T of each sequence (at least 2); the first marker lies in the
            first half, so the model must remember it for about T/2 steps or more.
        validation_split, test_split: fractions of the samples for validation and test.
        seed: the generator's seed; the same seed gives the same arrays.
        dtype: ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.

    Returns:
        Dataset (regression): x ``(n, timesteps, 2)`` (number, marker), y ``(n, 1)`` in [0, 2).
    """
    timesteps = count("timesteps", timesteps, minimum=2)
    dtype = float_dtype(dtype)
    sizes = split_sizes(samples, validation_split, test_split)
    rng = generator(seed)
    n, half = sum(sizes), timesteps // 2
    values = rng.uniform(0.0, 1.0, size=(n, timesteps))
    markers = np.zeros((n, timesteps))
    rows = np.arange(n)
    markers[rows, rng.integers(0, half, size=n)] = 1.0
    markers[rows, rng.integers(half, timesteps, size=n)] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (values * markers).sum(axis=1, keepdims=True).astype(dtype)
    return split("adding_problem", "regression", x, y, sizes,
                 description=f"add the two marked numbers of {timesteps} steps; predicting the mean scores "
                             "mse 1/6 ~ 0.167 (chance)")


def copy_task(samples: int = 2000, timesteps: int = 20, length: int = 5, num_symbols: int = 8,
              validation_split: float = 0.15, test_split: float = 0.15, seed: int = 0,
              dtype: Optional[str] = None) -> Dataset:
    """The copy task (Hochreiter & Schmidhuber, 1997; Arjovsky et al., 2016): read
    ``length`` symbols, wait, and write them out again after a delimiter.

    Input steps, one-hot over ``num_symbols + 2`` codes (0 blank, 1..num_symbols the
    symbols, ``num_symbols + 1`` the delimiter): the symbols, blanks, the delimiter at
    step ``timesteps - length - 1``, then ``length`` blanks. Targets, one class per step
    (0 blank, 1..num_symbols): blank everywhere but the last ``length`` steps, which hold
    the symbols in order, recalled ``timesteps - length`` steps after they were read. The
    model is a recurrent layer with ``return_sequences=True`` and a per-step
    ``Dense(num_classes, activation="softmax")``. Without memory, accuracy on the recalled
    steps is 1/num_symbols, and the best cross-entropy over all steps is
    ``length * log(num_symbols) / timesteps``.

    Args:
        samples: sequences in all (training + validation + test).
        timesteps: length of each sequence, at least ``2 * length + 1``.
        length: symbols to copy.
        num_symbols: size of the alphabet (at least 2).
        validation_split, test_split: fractions of the samples for validation and test.
        seed: the generator's seed; the same seed gives the same arrays.
        dtype: of x, ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.

    Returns:
        Dataset (classification, ``num_symbols + 1`` classes): x ``(n, timesteps,
        num_symbols + 2)`` one-hot, y ``(n, timesteps)`` int64 labels.
    """
    length = count("length", length, minimum=1)
    num_symbols = count("num_symbols", num_symbols, minimum=2)
    timesteps = count("timesteps", timesteps, minimum=1)
    if timesteps < 2 * length + 1:
        raise ValueError(f"'timesteps' must be at least 2 * length + 1 = {2 * length + 1} (the symbols, the "
                         f"delimiter and the recall), got {timesteps}")
    dtype = float_dtype(dtype)
    sizes = split_sizes(samples, validation_split, test_split)
    symbols = generator(seed).integers(1, num_symbols + 1, size=(sum(sizes), length))
    codes = np.zeros((sum(sizes), timesteps), dtype=np.int64)
    codes[:, :length] = symbols
    codes[:, timesteps - length - 1] = num_symbols + 1
    x = np.eye(num_symbols + 2, dtype=dtype)[codes]
    y = np.zeros_like(codes)
    y[:, timesteps - length:] = symbols
    chance = length * np.log(num_symbols) / timesteps
    return split("copy_task", "classification", x, y, sizes, num_classes=num_symbols + 1,
                 class_names=("blank",) + tuple(str(s) for s in range(1, num_symbols + 1)),
                 description=f"copy {length} of {num_symbols} symbols after {timesteps - 2 * length - 1} blanks "
                             f"and a delimiter; without memory: accuracy 1/{num_symbols} on the recalled steps, "
                             f"cross-entropy {chance:.3f}")
