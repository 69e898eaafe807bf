"""What every built-in dataset shares: the Dataset container, the Normalizer of the
forecasting sets, and the checks and splits of their arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Optional, Tuple

import numpy as np

from .. import config
from ..models.data import count

__all__ = ["Dataset", "Normalizer"]

Pair = Tuple[np.ndarray, np.ndarray]
TASKS = ("regression", "classification")


@dataclass(frozen=True)
class Normalizer:
    """The z-score of a forecasting series: ``(values - mean) / std``, with ``mean`` and
    ``std`` taken from the training part of the series only (no look-ahead).

    Attributes:
        mean: the mean of the training part, in the series' own units.
        std: its standard deviation (positive).
    """

    mean: float
    std: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.mean) and np.isfinite(self.std) and self.std > 0):
            raise ValueError(f"Normalizer needs a finite mean and a positive finite std, got mean={self.mean!r}, "
                             f"std={self.std!r}")

    def transform(self, values: Any) -> np.ndarray:
        """Series units to model units: an array of any shape, the same shape back
        (float dtypes are kept, anything else becomes float64)."""
        array = _float_array(values)
        return ((array - self.mean) / self.std).astype(array.dtype, copy=False)

    def inverse_transform(self, values: Any) -> np.ndarray:
        """Model units (e.g. ``model.predict(x_test)``) back to series units, same shape."""
        array = _float_array(values)
        return (array * self.std + self.mean).astype(array.dtype, copy=False)


def _float_array(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"expected a numeric array, got dtype {array.dtype}")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset split into training, validation and test parts, as NumPy arrays.

    Unpacks the Keras way: ``(x_train, y_train), (x_val, y_val), (x_test, y_test) = dataset``.
    Inputs ``x_*`` are ``(samples, timesteps, features)`` in the float dtype asked for;
    targets ``y_*`` are float ``(samples, outputs)`` for regression and int64 class labels,
    ``(samples,)`` or ``(samples, timesteps)`` (one per step), for classification.

    Attributes:
        name: the loader's name, e.g. ``"sine_waves"``.
        task: ``"regression"`` or ``"classification"``.
        x_train, y_train, x_val, y_val, x_test, y_test: the arrays.
        num_classes: the number of classes (classification), else ``None``.
        class_names: a name per class (classification), else ``None``.
        normalizer: for forecasting sets, the Normalizer that made ``x`` and ``y`` from the
            series (``inverse_transform`` gives predictions in the series' units), else ``None``.
        description: one sentence on what the data is and what chance level is.
        lengths: for padded sequences of several lengths, the number of real steps of each
            sample, ``(lengths_train, lengths_val, lengths_test)`` int64 arrays; else ``None``.
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: Optional[int] = None
    class_names: Optional[Tuple[str, ...]] = None
    normalizer: Optional[Normalizer] = None
    description: str = ""
    lengths: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        for part, (x, y) in zip(("train", "val", "test"), self):
            if len(x) != len(y) or len(x) == 0:
                raise ValueError(f"x_{part} and y_{part} must hold the same, non-zero number of samples, "
                                 f"got {len(x)} and {len(y)}")
        if self.lengths is not None and [len(n) for n in self.lengths] != [len(x) for x, _ in self]:
            raise ValueError("lengths must give one length per sample of each part")

    @property
    def train(self) -> Pair:
        """``(x_train, y_train)``."""
        return self.x_train, self.y_train

    @property
    def validation(self) -> Pair:
        """``(x_val, y_val)``, ready for ``fit(validation_data=...)``."""
        return self.x_val, self.y_val

    @property
    def test(self) -> Pair:
        """``(x_test, y_test)``."""
        return self.x_test, self.y_test

    def __iter__(self) -> Iterator[Pair]:
        return iter((self.train, self.validation, self.test))

    def __repr__(self) -> str:
        parts = ", ".join(f"{part}: x {x.shape} y {y.shape}"
                          for part, (x, y) in zip(("train", "validation", "test"), self))
        classes = f", {self.num_classes} classes" if self.num_classes else ""
        return f"<Dataset {self.name!r} ({self.task}{classes}) {parts}>"


# ---------------------------------------------------------------------- argument checks
def generator(seed: Any) -> np.random.Generator:
    """NumPy's generator for ``seed`` (an integer): every dataset is a function of its seed."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


def float_dtype(dtype: Optional[str]) -> str:
    """``dtype``, or ``rnnkit.config.floatx()`` for ``None``; float32 or float64 only."""
    name = config.floatx() if dtype is None else np.dtype(dtype).name
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return name


def real(name: str, value: Any, minimum: Optional[float] = None, exclusive: bool = False) -> float:
    """A finite real number, at least ``minimum`` (above it if ``exclusive``)."""
    number = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not number or not np.isfinite(value) or \
            (minimum is not None and (value <= minimum if exclusive else value < minimum)):
        bound = "" if minimum is None else f" {'above' if exclusive else 'at least'} {minimum:g}"
        raise ValueError(f"'{name}' must be a finite number{bound}, got {value!r}")
    return float(value)


def split_sizes(samples: int, validation_split: float, test_split: float) -> Tuple[int, int, int]:
    """The number of training, validation and test samples out of ``samples``: each part
    gets at least one, validation and test ``round(samples * split)``."""
    for name, value in (("validation_split", validation_split), ("test_split", test_split)):
        if real(name, value, 0, exclusive=True) >= 1:
            raise ValueError(f"'{name}' must be a fraction strictly between 0 and 1, got {value!r}")
    if validation_split + test_split >= 1:
        raise ValueError(f"validation_split + test_split must leave training samples: "
                         f"{validation_split} + {test_split} >= 1")
    samples = count("samples", samples, minimum=3)
    n_val = max(1, round(samples * validation_split))
    n_test = max(1, round(samples * test_split))
    n_train = samples - n_val - n_test
    if n_train < 1:
        raise ValueError(f"{samples} samples leave none for training with validation_split={validation_split} "
                         f"and test_split={test_split}")
    return n_train, n_val, n_test


def split(name: str, task: str, x: np.ndarray, y: np.ndarray, sizes: Tuple[int, int, int], **fields: Any) -> Dataset:
    """A Dataset from ``x`` and ``y`` (independent samples, in random order) and the
    ``split_sizes``: the first samples train, the next validate, the last test."""
    cuts = np.cumsum(sizes)[:-1]
    (x_train, x_val, x_test), (y_train, y_val, y_test) = np.split(x, cuts), np.split(y, cuts)
    return Dataset(name, task, x_train, y_train, x_val, y_val, x_test, y_test, **fields)
