"""Built-in datasets, as ``keras.datasets`` but nothing is downloaded: generated from a seed, or
real data shipped inside the package.

Each loader returns a :class:`Dataset` of NumPy arrays split into training, validation and
test parts (``(x_train, y_train), (x_val, y_val), (x_test, y_test) = dataset``), inputs
``(samples, timesteps, features)``:

- forecasting (regression): :func:`sine_waves`, :func:`random_walk`, with a
  :class:`Normalizer` and its inverse;
- long-range memory: :func:`adding_problem` (regression), :func:`copy_task` (one class per step);
- sequence classification: :func:`temporal_patterns`, :func:`digits` (rows of 8x8 images);
- real data, shipped with the package: :func:`japanese_vowels` (speaker classification from
  padded sequences of 7 to 29 frames, with their lengths), :func:`sunspots` (yearly sunspot
  numbers to forecast).

``load(name, **kwargs)`` calls a loader by name; ``available()`` lists the names.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from .base import Dataset, Normalizer
from .classification import PATTERNS, digits, temporal_patterns
from .forecasting import random_walk, sine_waves
from .memory import adding_problem, copy_task
from .real import japanese_vowels, sunspots

__all__ = ["Dataset", "Normalizer", "PATTERNS", "sine_waves", "random_walk", "adding_problem", "copy_task",
           "temporal_patterns", "digits", "japanese_vowels", "sunspots", "load", "available"]

_LOADERS: Dict[str, Callable[..., Dataset]] = {
    loader.__name__: loader
    for loader in (sine_waves, random_walk, adding_problem, copy_task, temporal_patterns, digits, japanese_vowels,
                   sunspots)
}


def available() -> List[str]:
    """The names ``load`` accepts, e.g. ``"sine_waves"``, ``"adding_problem"``."""
    return list(_LOADERS)


def load(name: str, **kwargs: Any) -> Dataset:
    """The dataset ``name`` made by its loader with ``kwargs``, e.g.
    ``load("adding_problem", timesteps=100, seed=1)``."""
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(map(repr, _LOADERS))}")
    return _LOADERS[name](**kwargs)
