"""Weight initializers, as ``keras.initializers``: ``initializer(shape, dtype) -> ndarray``."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple, Type, Union

import numpy as np

from . import config, utils
from ._arguments import check_seed
from .serialization import class_and_config, serialize_object

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "Orthogonal", "get", "serialize", "deserialize",
]


class Initializer:
    """Base class. ``seed`` makes the values reproducible; without it they come from rnnkit's
    global stream (see ``rnnkit.utils.set_random_seed``)."""

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = check_seed(type(self).__name__, seed)

    def __call__(self, shape: Sequence[int], dtype: Optional[str] = None) -> np.ndarray:
        values = self.sample(tuple(int(d) for d in shape), utils.rng(self.seed))
        return np.asarray(values, dtype=dtype or config.floatx())

    def sample(self, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """The values: an array of ``shape`` drawn from ``rng`` (float64; ``__call__`` casts it
        to the dtype asked for). A subclass implements this method, not ``__call__``.

        Args:
            shape: the weight's shape, a tuple of ints.
            rng: the generator, seeded by ``seed`` or rnnkit's global stream.
        """
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        """The constructor's arguments as a JSON-ready dict, e.g. ``{"mean": 0.0, "stddev": 0.05,
        "seed": None}`` for ``RandomNormal()``."""
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Initializer:
        """The initializer ``cls(**config)``, from a dict of :meth:`get_config`."""
        return cls(**config)


class Zeros(Initializer):
    """All zeros."""

    def __init__(self) -> None:
        super().__init__()

    def sample(self, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)

    def get_config(self) -> Dict[str, Any]:
        return {}


class Ones(Zeros):
    """All ones."""

    def sample(self, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.ones(shape)


class Constant(Initializer):
    """Every entry ``value``.

    Args:
        value: the constant, a float.
    """

    def __init__(self, value: float = 0.0) -> None:
        super().__init__()
        self.value = float(value)

    def sample(self, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self.value)

    def get_config(self) -> Dict[str, Any]:
        return {"value": self.value}


class RandomNormal(Initializer):
    """Values from a normal distribution.

    Args:
        mean: the distribution's mean.
        stddev: its standard deviation.
        seed: an int for reproducible values, or ``None`` for rnnkit's global stream.
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self) -> Dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal values redrawn until within two standard deviations of the mean."""

    def sample(self, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        values = rng.standard_normal(shape)
        outside = np.abs(values) > 2
        while outside.any():
            values[outside] = rng.standard_normal(int(outside.sum()))
            outside = np.abs(values) > 2
        return self.mean + self.stddev * values


class RandomUniform(Initializer):
    """Values from a uniform distribution over ``[minval, maxval)``.

    Args:
        minval: the lower bound.
        maxval: the upper bound (excluded).
        seed: an int for reproducible values, or ``None`` for rnnkit's global stream.
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def sample(self, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self) -> Dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _fans(shape: Tuple[int, ...]) -> Tuple[int, int]:
    """Keras' fan_in, fan_out: the last two axes, times the receptive field of the others."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(Initializer):
    """Keras' VarianceScaling: variance ``scale / n`` with n the fan_in, fan_out or their mean."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: Optional[int] = None) -> None:
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("distribution must be 'truncated_normal', 'untruncated_normal' or 'uniform', "
                             f"got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def sample(self, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0, math.sqrt(variance), shape)
        # The standard deviation of a unit normal truncated to [-2, 2].
        return TruncatedNormal(0.0, math.sqrt(variance) / 0.87962566103423978).sample(shape, rng)

    def get_config(self) -> Dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _scaling(name: str, scale: float, mode: str, distribution: str) -> Type[VarianceScaling]:
    def __init__(self: VarianceScaling, seed: Optional[int] = None) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self: VarianceScaling) -> Dict[str, Any]:
        return {"seed": self.seed}

    doc = f"VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r})."
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal one, times ``gain``."""

    def __init__(self, gain: float = 1.0, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def sample(self, shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of rank 2 or more, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # a uniform distribution over orthogonal matrices
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self) -> Dict[str, Any]:
        return {"gain": self.gain, "seed": self.seed}


_CLASSES: Dict[str, Type[Initializer]] = {cls.__name__: cls for cls in (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal)}
_NAMES: Dict[str, Type[Initializer]] = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal, "orthogonal": Orthogonal,
    "uniform": RandomUniform, "normal": RandomNormal,  # Keras 3's short aliases
}


def serialize(initializer: Initializer) -> Dict[str, Any]:
    """``{"class_name": ..., "config": initializer.get_config()}``."""
    return serialize_object(initializer)


def deserialize(config: Dict[str, Any]) -> Initializer:
    """The initializer described by :func:`serialize`'s dict."""
    cls, options = class_and_config(config, _CLASSES, "initializer")
    return cls.from_config(options)


def get(identifier: Union[str, Dict[str, Any], Initializer]) -> Initializer:
    """An initializer from a Keras name (``"glorot_uniform"``), a config dict or an instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]()
    if isinstance(identifier, str) and identifier in _CLASSES:
        return _CLASSES[identifier]()
    raise ValueError(f"unknown initializer {identifier!r}; expected one of {', '.join(sorted(_NAMES))}")
