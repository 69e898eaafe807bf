"""Optimizers, as ``keras.optimizers`` (Keras 3): SGD, Adam, AdamW, RMSprop, Adagrad, Nadam,
Adamax, Adadelta, Lion and Ftrl, with learning-rate schedules in ``rnnkit.optimizers.schedules``.

An optimizer updates :class:`~rnnkit.variables.Variable` values in place from their gradients::

    opt = rnnkit.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0)
    opt.apply(grads, variables)          # or opt.apply_gradients(zip(grads, variables))

Each step, as Keras 3: gradients that are ``None`` are skipped; the rest are cast to their
variable's dtype, clipped (``clipnorm``, ``clipvalue`` or ``global_clipnorm``), weight decay is
applied if set (``w -= w * weight_decay * learning_rate``), then the update rule runs and
``iterations`` grows by one. A schedule is evaluated at ``iterations`` (0 on the first step).
The built-in rules run in the C++ core: one call per step updates every variable and its
slots in place, weight decay included, in one pass over each (no temporary arrays). A
subclass that overrides ``update_step`` runs its own rule, one variable at a time.

State: ``get_state()`` returns ``{"iterations": int64 0-d array, "learning_rate": float64 0-d
array (only when the rate is a float, not a schedule), "<slot>/<variable path>": array}``, e.g.
``"momentum/lstm/kernel"``; the slot names are each optimizer's Keras names (``momentum``,
``velocity``, ``velocity_hat``, ``average_gradient``, ``accumulator``). ``set_state(state,
variables)`` restores it.
"""

from __future__ import annotations

import math
import operator
import re
import sys
import types
import warnings
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)

import numpy as np

from . import _core
from ._arguments import check_flag, is_number, snake_case
from .serialization import class_and_config, serialize_object
from .variables import Variable

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Nadam",
    "Adamax",
    "Adadelta",
    "Lion",
    "Ftrl",
    "LearningRateVariable",
    "schedules",
    "get",
    "serialize",
    "deserialize",
]

T = TypeVar("T")


def _scalar(value: np.ndarray) -> Union[float, np.ndarray]:
    return float(value) if np.ndim(value) == 0 else value


# ---------------------------------------------------------------------------- schedules
class LearningRateSchedule:
    """Base class of learning-rate schedules: ``schedule(step) -> learning rate``.

    Subclasses implement ``__call__(step)`` and, to be serialisable, ``get_config()``.
    """

    def __call__(self, step: Any) -> Union[float, np.ndarray]:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override __call__(self, step)")

    def get_config(self) -> Dict[str, Any]:
        """The schedule's constructor arguments as a JSON-ready dict, which a saved optimizer
        keeps. A schedule of one's own overrides it to be saved: ``LearningRateSchedule``'s raises
        NotImplementedError, as Keras' does."""
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override get_config() in order to be serializable")

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> LearningRateSchedule:
        """The schedule ``cls(**config)``, from a dict of :meth:`get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.get_config()}>"


def _check_decay_steps(name: str, value: Any) -> None:
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: the rate at step 0, the decay's time
    scale and rate, and the progress ``p = step / decay_steps`` (floored with ``staircase``)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool,
                 name: str) -> None:
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _progress(self, step: Any) -> np.ndarray:
        p = np.asarray(step, dtype=np.float64) / float(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self) -> Dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the
    exponent is floored.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; steps per factor of ``decay_rate``.
        decay_rate: the decay factor.
        staircase: decay at discrete intervals.
        name: the schedule's name.

    Calling it with a step (int, or an array of steps of any shape) returns a float (or a
    float64 array of the same shape).
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: Any) -> Union[float, np.ndarray]:
        return _scalar(float(self.initial_learning_rate) * np.power(float(self.decay_rate), self._progress(step)))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after ``boundaries[-1]``.

    Args:
        boundaries: strictly increasing steps, length ``n``.
        values: the rates, length ``n + 1``.
        name: the schedule's name.
    """

    def __init__(self, boundaries: Sequence[Any], values: Sequence[Any], name: str = "PiecewiseConstant") -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={list(boundaries)} of length {len(boundaries)}, and values={list(values)} "
                f"of length {len(values)}.")
        if np.any(np.diff(np.asarray(boundaries, dtype=np.float64)) <= 0):
            raise ValueError(f"boundaries must be strictly increasing, got {list(boundaries)}")
        self.boundaries = [np.asarray(b).item() for b in boundaries]  # plain numbers, JSON-ready
        self.values = [np.asarray(v).item() for v in values]
        self.name = name

    def __call__(self, step: Any) -> Union[float, np.ndarray]:
        index = np.searchsorted(np.asarray(self.boundaries, dtype=np.float64),
                                np.asarray(step, dtype=np.float64), side="left")
        return _scalar(np.asarray(self.values, dtype=np.float64)[index])

    def get_config(self) -> Dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay with optional linear warmup, as Keras 3.

    Without warmup: ``initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps))
    + alpha)`` with ``s = min(step, decay_steps)``. With ``warmup_target``: a linear ramp from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then the cosine decay
    from ``warmup_target`` over the next ``decay_steps``.

    Args:
        initial_learning_rate: the starting rate.
        decay_steps: positive; steps to decay over.
        alpha: the final rate as a fraction of the decay's starting rate.
        name: the schedule's name.
        warmup_target: the rate reached after warmup, or ``None`` for no warmup.
        warmup_steps: steps of warmup.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: Optional[float] = None, warmup_steps: int = 0) -> None:
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: np.ndarray, start: float) -> np.ndarray:
        cosine = 0.5 * (1.0 + np.cos(math.pi * step / float(self.decay_steps)))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: Any) -> Union[float, np.ndarray]:
        step = np.asarray(step, dtype=np.float64)
        initial = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return _scalar(self._decay(np.minimum(step, float(self.decay_steps)), initial))
        target, warmup = float(self.warmup_target), float(self.warmup_steps)
        step = np.minimum(step, float(self.decay_steps) + warmup)
        with np.errstate(divide="ignore", invalid="ignore"):  # warmup_steps = 0: the ramp is never used
            ramp = (target - initial) * (step / warmup) + initial
        return _scalar(np.where(step < warmup, ramp, self._decay(step - warmup, target)))

    def get_config(self) -> Dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - s / decay_steps) ** power + end`` with ``s = min(step,
    decay_steps)``; with ``cycle``, ``decay_steps`` grows to the next multiple of itself above
    ``step`` instead (``ceil(step / decay_steps)`` times it, once at step 0).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; steps to reach ``end_learning_rate``.
        end_learning_rate: the final rate.
        power: the polynomial's power (1: linear).
        cycle: restart the decay every ``decay_steps``.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay") -> None:
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step: Any) -> Union[float, np.ndarray]:
        step = np.asarray(step, dtype=np.float64)
        decay_steps = np.full_like(step, float(self.decay_steps))
        if self.cycle:
            decay_steps = decay_steps * np.where(step == 0, 1.0, np.ceil(step / decay_steps))
        else:
            step = np.minimum(step, decay_steps)
        initial, end = float(self.initial_learning_rate), float(self.end_learning_rate)
        return _scalar((initial - end) * np.power(1.0 - step / decay_steps, float(self.power)) + end)

    def get_config(self) -> Dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with ``staircase``
    ``step / decay_steps`` is floored.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; the time scale of the decay.
        decay_rate: how fast it decays.
        staircase: decay at discrete intervals.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "InverseTimeDecay") -> None:
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: Any) -> Union[float, np.ndarray]:
        return _scalar(float(self.initial_learning_rate) / (1.0 + float(self.decay_rate) * self._progress(step)))


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (Loshchilov & Hutter's SGDR), as Keras 3: the first
    period lasts ``first_decay_steps``, each next one ``t_mul`` times longer, and restarts at
    ``m_mul`` times the previous peak; within a period of completed fraction ``f`` the rate
    is ``initial * m_mul**i * ((1 - alpha) * 0.5 * (1 + cos(pi * f)) + alpha)``.

    Args:
        initial_learning_rate: the first peak.
        first_decay_steps: positive; steps of the first period.
        t_mul: how much longer each period is than the one before.
        m_mul: how much lower each peak is than the one before.
        alpha: the floor, as a fraction of the period's peak.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0,
                 m_mul: float = 1.0, alpha: float = 0.0, name: str = "SGDRDecay") -> None:
        _check_decay_steps("first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step: Any) -> Union[float, np.ndarray]:
        fraction = np.asarray(step, dtype=np.float64) / float(self.first_decay_steps)
        t_mul, m_mul = float(self.t_mul), float(self.m_mul)
        if t_mul == 1.0:
            restart = np.floor(fraction)
            fraction = fraction - restart
        else:  # periods 1, t, t^2, ...: the restart count from the geometric sum
            restart = np.floor(np.log(1.0 - fraction * (1.0 - t_mul)) / np.log(t_mul))
            done = (1.0 - t_mul ** restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** restart
        cosine = 0.5 * m_mul ** restart * (1.0 + np.cos(math.pi * fraction))
        return _scalar(float(self.initial_learning_rate) * ((1 - float(self.alpha)) * cosine + float(self.alpha)))

    def get_config(self) -> Dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


_SCHEDULES: Dict[str, Type[LearningRateSchedule]] = {
    cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay, PolynomialDecay,
                                  InverseTimeDecay, CosineDecayRestarts)}


def _serialize_schedule(schedule: LearningRateSchedule) -> Dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` of a schedule."""
    return serialize_object(schedule)


def _deserialize_schedule(config: Dict[str, Any],
                          custom_objects: Optional[Dict[str, Any]] = None) -> LearningRateSchedule:
    """A schedule from ``{"class_name": ..., "config": ...}`` (other keys, e.g. Keras'
    ``module``, are ignored); ``custom_objects`` maps names to user schedule classes."""
    classes: Dict[str, Type[LearningRateSchedule]] = {**_SCHEDULES, **(custom_objects or {})}
    cls, options = class_and_config(config, classes, "learning rate schedule", custom_objects_allowed=True)
    return cls.from_config(options)


_serialize_schedule.__name__ = _serialize_schedule.__qualname__ = "serialize"
_deserialize_schedule.__name__ = _deserialize_schedule.__qualname__ = "deserialize"

#: ``rnnkit.optimizers.schedules``, as ``keras.optimizers.schedules`` (importable as a module).
schedules = types.ModuleType(f"{__name__}.schedules", "Learning-rate schedules, as keras.optimizers.schedules.")
for _obj in (LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay, CosineDecay, PolynomialDecay,
             InverseTimeDecay, CosineDecayRestarts, _serialize_schedule, _deserialize_schedule):
    setattr(schedules, _obj.__name__, _obj)
schedules.__all__ = [n for n in vars(schedules) if not n.startswith("_")]  # type: ignore[attr-defined]
sys.modules[schedules.__name__] = schedules
del _obj


# ---------------------------------------------------------------------------- optimizers
LearningRate = Union[float, LearningRateSchedule]

# AdamW's weight_decay default, which depends on the convention (None is an error there, as in Keras).
_BY_CONVENTION: Any = object()

# Keras 3 options rnnkit does not implement: accepted by from_config at these (default) values.
_UNSUPPORTED_DEFAULTS = {"loss_scale_factor": None}


class LearningRateVariable(float):
    """``optimizer.learning_rate``: the rate when read, a float, with the methods of Keras'
    learning-rate variable: ``assign(value)`` sets the optimizer's rate (as ``optimizer.learning_rate
    = value`` does), ``numpy()`` gives it as a NumPy float64. For a schedule (or a callable), it is
    the rate of the current step, and ``assign`` raises TypeError."""

    _optimizer: Optimizer

    def __new__(cls, value: float, optimizer: Optimizer) -> LearningRateVariable:
        rate = super().__new__(cls, value)
        rate._optimizer = optimizer
        return rate

    def assign(self, value: Any) -> LearningRateVariable:
        """Sets the optimizer's learning rate to ``value`` (a float); returns the new rate."""
        self._optimizer.learning_rate = value
        return self._optimizer.learning_rate

    def numpy(self) -> np.float64:
        """The rate as a NumPy float64 (Keras' ``variable.numpy()``)."""
        return cast(np.float64, np.float64(self))

    @property
    def value(self) -> float:
        """The rate as a plain Python float (Keras' ``variable.value``, a tensor there)."""
        return float(self)

    def __reduce__(self) -> Any:  # copies and pickles are plain floats
        return (float, (float(self),))


def _check_rate(learning_rate: Any) -> float:
    if isinstance(learning_rate, (bool, np.bool_)) or not isinstance(learning_rate, (int, float, np.number)):
        raise ValueError("Argument `learning_rate` should be float, or an instance of LearningRateSchedule. "
                         f"Received instead: learning_rate={learning_rate!r}")
    if not math.isfinite(learning_rate) or learning_rate < 0:
        raise ValueError(f"Argument `learning_rate` must be a finite number >= 0, got {learning_rate!r}")
    return float(learning_rate)


def _check_count(owner: str, name: str, value: Any) -> Optional[int]:
    """``None``, or a whole number of at least 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: `{name}` must be None or an integer >= 1, got {value!r}")
    return int(value)


@overload
def _check_setting(owner: str, name: str, value: float, low: float, high: float = ...,
                   open_low: bool = ..., open_high: bool = ...) -> float: ...
@overload
def _check_setting(owner: str, name: str, value: Optional[float], low: float, high: float = ...,
                   open_low: bool = ..., open_high: bool = ...) -> Optional[float]: ...
def _check_setting(owner: str, name: str, value: Any, low: float, high: float = math.inf,
                   open_low: bool = False, open_high: bool = False) -> Optional[float]:
    """An optimizer's numeric setting as a float (``None`` stays ``None``): TypeError unless a
    real number, ValueError outside [low, high] (or the open ends asked for), which would
    silently turn the weights to NaN or switch the setting off."""
    if value is None:
        return None
    if not is_number(value):
        raise TypeError(f"{owner}: `{name}` must be a number, got {value!r} of type {type(value).__name__}")
    below = value <= low if open_low else value < low
    above = value >= high if open_high else value > high
    if not math.isfinite(value) or below or above:
        interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high or high == math.inf else ']'}"
        raise ValueError(f"{owner}: `{name}` must be in {interval}, got {value!r}")
    return float(value)


class Optimizer:
    """Base optimizer: clipping, weight decay, learning rate, iterations and per-variable state.

    Subclasses define ``_slot_initial_values()`` (slot name -> initial fill value) and
    ``update_step(gradient, variable, learning_rate)``.

    Args:
        learning_rate: a float, a ``schedules.LearningRateSchedule`` called with
            ``iterations``, or a callable taking no argument, called at every step.
        weight_decay: if set, ``w -= w * weight_decay * learning_rate`` before each update.
        clipnorm: clips each gradient ``g`` to ``g * clipnorm / max(norm(g), clipnorm)``.
        clipvalue: clips each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: scales all gradients by ``min(1, global_clipnorm / global_norm)``,
            ``global_norm`` the norm of all gradients together. At most one of the three clip
            options may be set.
        use_ema: keep an exponential moving average of every variable (slot ``average``):
            ``average = ema_momentum * average + (1 - ema_momentum) * w`` after each step (the
            first step copies ``w``); ``fit`` ends by writing the averages into the variables
            (``finalize_variable_values``).
        ema_momentum: the average's momentum, in [0, 1].
        ema_overwrite_frequency: also write the averages into the variables every that many
            steps; ``None``: only at the end of ``fit``.
        gradient_accumulation_steps: update every that many calls, with the mean of their
            gradients (kept in slot ``gradient_accumulator``); ``iterations`` counts updates, so
            schedules and bias corrections advance once per update, as in Keras.
        name: the optimizer's name (defaults to the snake-case class name).
    """

    def __init__(self, learning_rate: LearningRate, weight_decay: Optional[float] = None,
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, name: Optional[str] = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: Optional[int] = None,
                 gradient_accumulation_steps: Optional[int] = None) -> None:
        if sum(option is not None for option in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.name = name if name is not None else snake_case(type(self).__name__)
        owner = type(self).__name__
        self.weight_decay = _check_setting(owner, "weight_decay", weight_decay, 0.0)
        self.clipnorm = _check_setting(owner, "clipnorm", clipnorm, 0.0, open_low=True)
        self.clipvalue = _check_setting(owner, "clipvalue", clipvalue, 0.0, open_low=True)
        self.global_clipnorm = _check_setting(owner, "global_clipnorm", global_clipnorm, 0.0, open_low=True)
        self.use_ema = check_flag(owner, "use_ema", use_ema)
        self.ema_momentum = _check_setting(owner, "ema_momentum", ema_momentum, 0.0, 1.0)
        self.ema_overwrite_frequency = _check_count(owner, "ema_overwrite_frequency", ema_overwrite_frequency)
        self.gradient_accumulation_steps = _check_count(owner, "gradient_accumulation_steps",
                                                        gradient_accumulation_steps)
        self.iterations = 0
        self._accumulated_calls = 0  # calls since the last update, with gradient accumulation
        self.built = False
        self._learning_rate: LearningRate = (
            learning_rate if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate)
            else _check_rate(learning_rate))
        self._slots: Dict[str, Dict[str, np.ndarray]] = {}
        self._trainable_variables: List[Variable] = []
        self._exclude_paths: Set[str] = set()
        self._exclude_pattern: Optional[re.Pattern[str]] = None

    # ------------------------------------------------------------------ learning rate
    def _current_learning_rate(self) -> float:
        rate = self._learning_rate
        if isinstance(rate, LearningRateSchedule):
            return float(rate(self.iterations))
        if callable(rate):
            return _check_rate(np.asarray(rate()).item())
        return rate

    @property
    def learning_rate(self) -> LearningRateVariable:
        """The current learning rate (a float with Keras' ``assign()`` and ``numpy()``): the
        float, the schedule's value at ``iterations``, or what the callable returns now. Set
        it to a float (or a new schedule); an optimizer built with a schedule only takes
        another schedule, as in Keras."""
        return LearningRateVariable(self._current_learning_rate(), self)

    @learning_rate.setter
    def learning_rate(self, learning_rate: LearningRate) -> None:
        if isinstance(learning_rate, LearningRateSchedule) or \
                (callable(learning_rate) and not isinstance(self._learning_rate, LearningRateSchedule)):
            self._learning_rate = learning_rate
        elif not isinstance(self._learning_rate, float):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object (or a callable) as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. If you need the "
                "learning rate to be settable, you should instantiate the optimizer with a float `learning_rate` "
                "argument.")
        else:
            self._learning_rate = _check_rate(learning_rate)

    # ------------------------------------------------------------------ weight decay
    def exclude_from_weight_decay(self, var_list: Optional[Sequence[Variable]] = None,
                                  var_names: Optional[Sequence[str]] = None) -> None:
        """Exempts variables from weight decay (replacing earlier exemptions).

        Args:
            var_list: variables to exempt.
            var_names: regular expressions; a variable whose ``name`` contains a match is exempt
                (``["bias"]`` exempts all biases).
        """
        self._exclude_paths = {v.path for v in var_list or ()}
        self._exclude_pattern = re.compile("|".join(sorted(set(var_names)))) if var_names else None

    def _uses_weight_decay(self, variable: Variable) -> bool:
        if variable.path in self._exclude_paths:
            return False
        return self._exclude_pattern is None or self._exclude_pattern.search(variable.name) is None

    # ------------------------------------------------------------------ state
    def _slot_initial_values(self) -> Dict[str, float]:
        """Slot name -> initial value of that slot's arrays (same shape and dtype as the variable)."""
        return {}

    def _state_slots(self) -> Dict[str, float]:
        """Every slot and its initial value: the rule's, the moving average's (``use_ema``) and
        the gradient accumulator's."""
        slots = dict(self._slot_initial_values())
        if self.use_ema:
            slots["average"] = 0.0
        if self.gradient_accumulation_steps:
            slots["gradient_accumulator"] = 0.0
        return slots

    def build(self, variables: Sequence[Variable]) -> None:
        """Creates the slots the optimizer lacks for ``variables`` (zeros, or the optimizer's
        initial value, in each variable's shape and dtype).

        Args:
            variables: the variables to be optimised.
        """
        initial = self._state_slots()
        for variable in variables:
            slots = self._slots.setdefault(variable.path, {})
            for name, value in initial.items():
                if name not in slots:
                    slots[name] = np.full(variable.shape, value, dtype=variable.dtype)
                elif slots[name].shape != variable.shape:
                    raise ValueError(f"optimizer slot '{name}/{variable.path}' has shape {slots[name].shape}, "
                                     f"but the variable has shape {variable.shape}")
        self._trainable_variables = list(variables)
        self.built = True

    @property
    def variables(self) -> List[np.ndarray]:
        """The state arrays, as Keras 3 lists them: ``iterations`` (a 0-d copy), ``learning_rate``
        (a 0-d copy, for a float learning rate), then every slot array itself, per variable in
        creation order."""
        head = [np.asarray(self.iterations, dtype=np.int64)]
        if isinstance(self._learning_rate, float):
            head.append(np.asarray(self._learning_rate, dtype=np.float32))
        return head + [array for slots in self._slots.values() for array in slots.values()]

    def get_state(self) -> Dict[str, np.ndarray]:
        """A copy of the state: ``{"iterations": 0-d int64, "learning_rate": 0-d float64 (float
        rates only), ["accumulated_calls": 0-d int64 (gradient accumulation),] "<slot>/<variable
        path>": array shaped like the variable}``."""
        state = {"iterations": np.asarray(self.iterations, dtype=np.int64)}
        if isinstance(self._learning_rate, float):
            state["learning_rate"] = np.asarray(self._learning_rate, dtype=np.float64)
        if self.gradient_accumulation_steps:
            state["accumulated_calls"] = np.asarray(self._accumulated_calls, dtype=np.int64)
        for path, slots in self._slots.items():
            for name, array in slots.items():
                state[f"{name}/{path}"] = array.copy()
        return state

    def set_state(self, state: Dict[str, Any], variables: Sequence[Variable]) -> None:
        """Restores a :meth:`get_state` dict. Every slot of every given variable must be in
        ``state`` with the variable's shape, else ValueError (and nothing changes); slots of
        other variables in ``state`` are kept too. ``learning_rate`` is optional.

        Args:
            state: ``{"iterations": ..., ["learning_rate": ...,] "<slot>/<path>": array}``.
            variables: the variables the optimizer updates (e.g. ``model.trainable_weights``).
        """
        if "iterations" not in state:
            raise ValueError("optimizer state has no 'iterations' entry")
        iterations = np.asarray(state["iterations"])
        if iterations.size != 1 or iterations.dtype.kind not in "iuf" or iterations.item() != int(iterations.item()) \
                or iterations.item() < 0:
            raise ValueError(f"optimizer state 'iterations' must be one non-negative integer, got {iterations!r}")
        learning_rate = state.get("learning_rate")
        accumulated = np.asarray(state.get("accumulated_calls", 0))
        if accumulated.size != 1 or accumulated.dtype.kind not in "iu" or not \
                0 <= accumulated.item() < (self.gradient_accumulation_steps or 1):
            raise ValueError("optimizer state 'accumulated_calls' must be an integer in [0, "
                             f"gradient_accumulation_steps), got {accumulated!r}")
        if learning_rate is not None:
            if np.size(learning_rate) != 1 or not isinstance(self._learning_rate, float):
                raise ValueError("optimizer state 'learning_rate' must be one number, for an optimizer with a "
                                 f"float learning rate; got {learning_rate!r}")
            learning_rate = _check_rate(np.asarray(learning_rate).item())  # NaN would turn every weight to NaN
        names = set(self._state_slots())
        slots: Dict[str, Dict[str, np.ndarray]] = {}
        for key, array in state.items():
            if key in ("iterations", "learning_rate", "accumulated_calls"):
                continue
            name, _, path = str(key).partition("/")
            if name not in names or not path:
                raise ValueError(f"unexpected optimizer state entry {key!r} for {type(self).__name__}; expected "
                                 f"'iterations', 'learning_rate' or '<slot>/<variable path>' with slot in "
                                 f"{sorted(names)}")
            slots.setdefault(path, {})[name] = np.array(array)
        for variable in variables:
            for name in sorted(names):
                array = slots.get(variable.path, {}).get(name)
                if array is None:
                    raise ValueError(f"optimizer state has no entry '{name}/{variable.path}'")
                if array.shape != variable.shape:
                    raise ValueError(f"optimizer state entry '{name}/{variable.path}' has shape {array.shape}, "
                                     f"but the variable has shape {variable.shape}")
                slots[variable.path][name] = array.astype(variable.dtype, copy=False)
        self._slots = slots
        self.iterations = int(iterations.item())
        self._accumulated_calls = int(accumulated.item())
        if learning_rate is not None:
            self._learning_rate = learning_rate
        self._trainable_variables = list(variables)
        self.built = True

    # ------------------------------------------------------------------ applying gradients
    def apply_gradients(self, grads_and_vars: Iterable[Tuple[Optional[Any], Variable]]) -> int:
        """Applies one step.

        Args:
            grads_and_vars: ``(gradient, variable)`` pairs; a gradient has the variable's
                shape, or is ``None`` (that variable is skipped).

        Returns:
            ``iterations`` after the step.
        """
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self.iterations

    def apply(self, grads: Sequence[Optional[Any]], trainable_variables: Optional[Sequence[Variable]] = None) -> None:
        """Applies one step: clip, weight decay, update, ``iterations += 1``.

        Args:
            grads: one gradient (variable's shape, or ``None`` to skip it) per variable.
            trainable_variables: the variables; defaults to those of the last call or ``build``.
        """
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built "
                                 "on a list of variables. Call `optimizer.build(trainable_variables)` first.")
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"got {len(grads)} gradients for {len(variables)} variables")
        given = variables
        missing = [v.name for g, v in zip(grads, variables) if g is None]
        if missing:
            if len(missing) == len(grads):
                raise ValueError("No gradients provided for any variable.")
            grads, variables = map(list, zip(*((g, v) for g, v in zip(grads, variables) if g is not None)))
        gradients = [self._as_gradient(g, v) for g, v in zip(grads, variables)]
        if not (self.built and len(given) == len(self._trainable_variables)
                and all(map(operator.is_, given, self._trainable_variables))):
            self.build(given)  # slots for every variable, as Keras builds for all it is given
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss.", stacklevel=2)
        first_update = self.iterations == 0
        update: Optional[List[np.ndarray]] = gradients
        if self.gradient_accumulation_steps:
            update = self._accumulate(gradients, variables)
        if update is not None:
            self._update(self._clip_gradients(update), variables)
        if self.use_ema:
            self._update_moving_averages(given, first_update)
        for variable in given:  # constraints project the weights after every step, as Keras
            if variable.constraint is not None:
                variable.value[...] = variable.constraint(variable.value)

    def _update(self, gradients: List[np.ndarray], variables: Sequence[Variable]) -> None:
        """Weight decay and the rule on the clipped gradients, then ``iterations += 1``."""
        learning_rate = self._current_learning_rate()
        if type(self).update_step is _FusedOptimizer.update_step:  # a built-in rule: one C++ call for all
            cast(_FusedOptimizer, self)._fused_update(gradients, variables, learning_rate, weight_decay=True)
        else:
            self._apply_weight_decay(variables, learning_rate)
            for gradient, variable in zip(gradients, variables):
                self.update_step(gradient, variable, learning_rate)
        self.iterations += 1

    def _accumulate(self, gradients: List[np.ndarray], variables: Sequence[Variable]) -> Optional[List[np.ndarray]]:
        """Adds the gradients to the accumulators; every ``gradient_accumulation_steps``-th
        call returns their mean (and empties the accumulators), other calls None."""
        accumulators = [self._slots[v.path]["gradient_accumulator"] for v in variables]
        self._accumulated_calls += 1
        if self._accumulated_calls < cast(int, self.gradient_accumulation_steps):
            for accumulator, gradient in zip(accumulators, gradients):
                accumulator += gradient
            return None
        self._accumulated_calls = 0
        steps = self.gradient_accumulation_steps
        means = [(gradient + accumulator) / gradient.dtype.type(steps)
                 for gradient, accumulator in zip(gradients, accumulators)]
        for accumulator in accumulators:
            accumulator[...] = 0
        return means

    def _update_moving_averages(self, variables: Sequence[Variable], first_update: bool) -> None:
        """``average = m * average + (1 - m) * w`` (m = 0 until the first update is done, so the
        averages start from the weights); every ``ema_overwrite_frequency`` updates the
        averages are written into the variables."""
        momentum = 0.0 if first_update else self.ema_momentum
        for variable in variables:
            average = self._slots[variable.path]["average"]
            m = variable.dtype.type(momentum)
            average *= m
            average += (variable.dtype.type(1) - m) * variable.value
        frequency = self.ema_overwrite_frequency
        if frequency and self._accumulated_calls == 0 and self.iterations % frequency == 0:
            self.finalize_variable_values(variables)

    def finalize_variable_values(self, var_list: Sequence[Variable]) -> None:
        """With ``use_ema``, writes each variable's moving average into it (``fit`` calls this
        at its end, as Keras does); else does nothing.

        Args:
            var_list: the variables (e.g. ``model.trainable_weights``).
        """
        if not self.use_ema:
            return
        for variable in var_list:
            slots = self._slots.get(variable.path)
            if slots is not None and "average" in slots:
                variable.assign(slots["average"])

    @staticmethod
    def _as_gradient(gradient: Any, variable: Variable) -> np.ndarray:
        array = np.asarray(gradient, dtype=variable.dtype)
        if array.shape != variable.shape:
            raise ValueError(f"gradient of shape {array.shape} for variable '{variable.path}' of shape "
                             f"{variable.shape}")
        return array

    def _clip_gradients(self, grads: List[np.ndarray]) -> List[np.ndarray]:
        if self.clipnorm and self.clipnorm > 0:
            return [self._clip_by_norm(g) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = np.sqrt(np.sum([np.sum(np.square(g)) for g in grads]))
            with np.errstate(divide="ignore", invalid="ignore"):  # norm 0 gives scale 1; inf or nan give nan
                scale = self.global_clipnorm * np.minimum(1.0 / norm, 1.0 / self.global_clipnorm) + (norm - norm)
            return [g * g.dtype.type(scale) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _clip_by_norm(self, gradient: np.ndarray) -> np.ndarray:
        clipnorm = gradient.dtype.type(self.clipnorm)
        return cast(np.ndarray, gradient * clipnorm / np.maximum(np.sqrt(np.sum(np.square(gradient))), clipnorm))

    def _apply_weight_decay(self, variables: Sequence[Variable], learning_rate: float) -> None:
        if self.weight_decay is None:
            return
        for variable in variables:
            if self._uses_weight_decay(variable):
                dtype = variable.dtype.type
                variable.value -= variable.value * dtype(self.weight_decay) * dtype(learning_rate)

    def update_step(self, gradient: np.ndarray, variable: Variable, learning_rate: float) -> None:
        """Updates ``variable.value`` (and the slots) in place.

        Args:
            gradient: the clipped gradient, variable's shape and dtype.
            variable: the variable.
            learning_rate: the step's learning rate.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement update_step")

    # ------------------------------------------------------------------ config
    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments; a schedule as ``{"class_name", "config"}``."""
        rate = self._learning_rate
        if isinstance(rate, LearningRateSchedule):
            saved: Any = _serialize_schedule(rate)
        else:  # a callable is saved as its current value: no code goes into a config
            saved = self._current_learning_rate()
        return {"name": self.name, "learning_rate": saved, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Optional[Dict[str, Any]] = None) -> Optimizer:
        """An optimizer from :meth:`get_config` output (Keras 3 configs load too, if they leave
        loss scaling off).

        Args:
            config: the config dict.
            custom_objects: names of user schedule classes, for a schedule learning rate.
        """
        config = dict(config)
        for key, default in _UNSUPPORTED_DEFAULTS.items():
            value = config.pop(key, default)
            if value != default:
                raise ValueError(f"rnnkit optimizers do not implement `{key}`; got {key}={value!r} "
                                 f"in the config of {cls.__name__}")
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _deserialize_schedule(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} name={self.name} learning_rate={self.learning_rate} "
                f"iterations={self.iterations}>")


class _FusedOptimizer(Optimizer):
    """The built-in optimizers: their rules run in C++ (``rnnkit._core.optimizer_update``), one
    call for all the variables of a step, updating values and slots in place in one pass each
    (weight decay included). A subclass that overrides ``update_step`` runs its own rule, one
    variable at a time, as Keras' optimizers do."""

    #: The rule's name for the core, and its slots by position (None: no slot there).
    _rule: str = ""
    _slot_order: Tuple[Optional[str], ...] = (None, None, None)
    #: "keras", or "torch" for PyTorch's form of the rule (SGD, Adam, AdamW, RMSprop, Adagrad).
    convention: str = "keras"

    def _set_convention(self, convention: Any) -> None:
        if convention not in ("keras", "torch"):
            raise ValueError(f"{type(self).__name__}: convention must be 'keras' or 'torch', got {convention!r}")
        self.convention = convention

    def _default(self, value: Optional[T], keras: float, torch: float) -> Union[T, float]:
        """An argument left as None takes the convention's default."""
        return value if value is not None else (torch if self.convention == "torch" else keras)

    def _coupled_weight_decay(self) -> bool:
        """PyTorch's SGD, Adam, RMSprop and Adagrad add ``weight_decay * w`` to the gradient."""
        return self.convention == "torch"

    def _set_moments(self, beta_1: float, beta_2: float, epsilon: Optional[float],
                     beta_2_below_one: bool = True) -> None:
        """Checks and keeps the moment settings of Adam, Nadam and Adamax: ``beta_1`` in [0, 1),
        ``beta_2`` in [0, 1) (or [0, 1]), ``epsilon`` at least 0."""
        owner = type(self).__name__
        self.beta_1 = _check_setting(owner, "beta_1", beta_1, 0.0, 1.0, open_high=True)
        self.beta_2 = _check_setting(owner, "beta_2", beta_2, 0.0, 1.0, open_high=beta_2_below_one)
        self.epsilon = _check_setting(owner, "epsilon", epsilon, 0.0)

    def _moments(self) -> Dict[str, Any]:
        """The moment settings, as the core and the config take them."""
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        if self.convention != "keras":  # Keras' configs stay as Keras writes them
            config["convention"] = self.convention
        return config

    def _rule_settings(self) -> Dict[str, Any]:
        """The rule's settings, as ``_core.OptimizerStep`` arguments."""
        raise NotImplementedError

    def update_step(self, gradient: np.ndarray, variable: Variable, learning_rate: float) -> None:
        """Updates ``variable.value`` (and the slots) in place, without weight decay.

        Args:
            gradient: the clipped gradient, variable's shape and dtype.
            variable: the variable.
            learning_rate: the step's learning rate.
        """
        self._fused_update([gradient], [variable], learning_rate, weight_decay=False)

    def _fused_update(self, gradients: Sequence[np.ndarray], variables: Sequence[Variable], learning_rate: float,
                      weight_decay: bool) -> None:
        step = _core.OptimizerStep(learning_rate=float(learning_rate), weight_decay=float(self.weight_decay or 0.0),
                                   step=self.iterations + 1, coupled_weight_decay=self._coupled_weight_decay(),
                                   torch=self.convention == "torch", **self._rule_settings())
        by_dtype: Dict[np.dtype, List[int]] = {}
        for k, variable in enumerate(variables):
            by_dtype.setdefault(variable.dtype, []).append(k)
        decays = self.weight_decay is not None and weight_decay
        slots, order = self._slots, self._slot_order
        for indices in by_dtype.values():  # one call per dtype (a model may mix float32 and float64 layers)
            chosen = [variables[k] for k in indices]
            _core.optimizer_update(
                self._rule, [v.value for v in chosen], [gradients[k] for k in indices],
                [[None if name is None else slots[v.path].get(name) for name in order] for v in chosen],
                [decays and self._uses_weight_decay(v) for v in chosen], step)


class SGD(_FusedOptimizer):
    """Gradient descent with optional (Nesterov) momentum.

    ``momentum == 0``: ``w -= lr * g``. Otherwise ``m = momentum * m - lr * g`` and ``w += m``,
    or with ``nesterov`` ``w += momentum * m - lr * g``. Slot: ``momentum`` (only when
    ``momentum != 0``). With ``convention="torch"``, PyTorch's form: ``m = momentum * m + g``,
    ``w -= lr * m`` (Nesterov: ``w -= lr * (g + momentum * m)``), the same while the rate is
    constant, and ``weight_decay`` adds ``weight_decay * w`` to ``g`` (an L2 term).

    Args:
        learning_rate: float or schedule.
        momentum: in ``[0, 1]``.
        nesterov: use Nesterov momentum.
        convention: ``"keras"`` or ``"torch"``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None,
                 name: str = "SGD", convention: str = "keras", **kwargs: Any) -> None:
        self._set_convention(convention)
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = float(momentum)
        self.nesterov = check_flag("SGD", "`nesterov`", nesterov)

    _rule, _slot_order = "sgd", ("momentum", None, None)

    def _slot_initial_values(self) -> Dict[str, float]:
        return {"momentum": 0.0} if self.momentum != 0 else {}

    def _rule_settings(self) -> Dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(_FusedOptimizer):
    """Adam, in Keras 3's form. With ``t = iterations + 1``:
    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, ``m += (g - m) * (1 - beta_1)``,
    ``v += (g**2 - v) * (1 - beta_2)``, ``w -= alpha * m / (sqrt(v) + epsilon)``; with
    ``amsgrad`` ``v_hat = max(v_hat, v)`` replaces ``v`` in the step. Slots: ``momentum``,
    ``velocity``, ``velocity_hat`` (amsgrad). With ``convention="torch"``, PyTorch's form:
    epsilon is added after the bias correction, ``w -= lr / (1 - beta_1**t) * m / (sqrt(v /
    (1 - beta_2**t)) + epsilon)``, epsilon defaults to 1e-8, and ``weight_decay`` adds
    ``weight_decay * w`` to ``g`` (an L2 term; AdamW's stays decoupled).

    Args:
        learning_rate: float or schedule.
        beta_1: decay rate of the first-moment average.
        beta_2: decay rate of the second-moment average.
        epsilon: added to ``sqrt(v)`` (outside the root); default 1e-7 (Keras) or 1e-8 (torch).
        amsgrad: use the AMSGrad variant.
        convention: ``"keras"`` or ``"torch"``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: Optional[float] = None, amsgrad: bool = False, weight_decay: Optional[float] = None,
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, name: str = "adam", convention: str = "keras",
                 **kwargs: Any) -> None:
        self._set_convention(convention)
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self._set_moments(beta_1, beta_2, self._default(epsilon, 1e-7, 1e-8))
        self.amsgrad = check_flag(type(self).__name__, "`amsgrad`", amsgrad)

    _rule, _slot_order = "adam", ("momentum", "velocity", "velocity_hat")

    def _slot_initial_values(self) -> Dict[str, float]:
        return {"momentum": 0.0, "velocity": 0.0, **({"velocity_hat": 0.0} if self.amsgrad else {})}

    def _rule_settings(self) -> Dict[str, Any]:
        return {**self._moments(), "amsgrad": self.amsgrad}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), **self._moments(), "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay: each step first ``w -= w * weight_decay * lr`` (as in
    PyTorch's AdamW too).

    Args:
        learning_rate: float or schedule.
        weight_decay: the decay rate; default 0.004 (Keras) or 0.01 (torch).
        beta_1, beta_2, epsilon, amsgrad, convention: as for :class:`Adam`.
        clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, weight_decay: Any = _BY_CONVENTION,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: Optional[float] = None, amsgrad: bool = False,
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, name: str = "adamw", convention: str = "keras",
                 **kwargs: Any) -> None:
        self._set_convention(convention)
        if weight_decay is _BY_CONVENTION:
            weight_decay = 0.01 if convention == "torch" else 0.004
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
                         global_clipnorm, name, convention, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")

    def _coupled_weight_decay(self) -> bool:
        return False  # decoupled in both conventions


class RMSprop(_FusedOptimizer):
    """RMSprop, in Keras 3's form: ``velocity = rho * velocity + (1 - rho) * g**2``; centered:
    ``average_gradient = rho * average_gradient + (1 - rho) * g`` and ``denominator = velocity -
    average_gradient**2 + epsilon``, else ``denominator = velocity + epsilon``; ``increment =
    lr * g / sqrt(denominator)`` (epsilon inside the root); with momentum ``m = momentum * m +
    increment`` and ``w -= m``, else ``w -= increment``. Slots: ``velocity``, ``momentum``
    (momentum > 0), ``average_gradient`` (centered). With ``convention="torch"``, PyTorch's
    form: ``d = sqrt(denominator - epsilon) + epsilon`` (epsilon outside the root), momentum
    ``m = momentum * m + g / d`` and ``w -= lr * m``, ``weight_decay`` an L2 term added to ``g``,
    and PyTorch's defaults (lr 0.01, rho, its ``alpha``, 0.99, epsilon 1e-8).

    Args:
        learning_rate: float or schedule; default 0.001 (Keras) or 0.01 (torch).
        rho: decay rate of the squared-gradient average; default 0.9 (Keras) or 0.99 (torch).
        momentum: plain (not Nesterov) momentum; 0 for none.
        epsilon: added under the square root (outside it for torch); default 1e-7 or 1e-8.
        centered: normalise by the estimated variance instead of the second moment.
        convention: ``"keras"`` or ``"torch"``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: Optional[LearningRate] = None, rho: Optional[float] = None,
                 momentum: float = 0.0, epsilon: Optional[float] = None, centered: bool = False,
                 weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None, name: str = "rmsprop",
                 convention: str = "keras", **kwargs: Any) -> None:
        self._set_convention(convention)
        super().__init__(self._default(learning_rate, 0.001, 0.01), weight_decay, clipnorm, clipvalue,
                         global_clipnorm, name, **kwargs)
        self.rho = _check_setting("RMSprop", "rho", self._default(rho, 0.9, 0.99), 0.0, 1.0, open_high=True)
        self.momentum = _check_setting("RMSprop", "momentum", momentum, 0.0, 1.0)
        self.epsilon = _check_setting("RMSprop", "epsilon", self._default(epsilon, 1e-7, 1e-8), 0.0)
        self.centered = check_flag("RMSprop", "`centered`", centered)

    _rule, _slot_order = "rmsprop", ("velocity", "momentum", "average_gradient")

    def _slot_initial_values(self) -> Dict[str, float]:
        slots = {"velocity": 0.0}
        if self.momentum > 0:
            slots["momentum"] = 0.0
        if self.centered:
            slots["average_gradient"] = 0.0
        return slots

    def _rule_settings(self) -> Dict[str, Any]:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(_FusedOptimizer):
    """Adagrad: ``accumulator += g**2``, ``w -= lr * g / sqrt(accumulator + epsilon)``
    (epsilon inside the root). Slot: ``accumulator``, starting at ``initial_accumulator_value``.
    With ``convention="torch"``, PyTorch's form: ``w -= lr * g / (sqrt(accumulator) + epsilon)``,
    ``weight_decay`` an L2 term added to ``g``, and PyTorch's defaults (lr 0.01, accumulators
    from 0, epsilon 1e-10).

    Args:
        learning_rate: float or schedule; default 0.001 (Keras) or 0.01 (torch).
        initial_accumulator_value: non-negative starting value of the accumulators; default
            0.1 (Keras) or 0 (torch).
        epsilon: added under the square root (outside it for torch); default 1e-7 or 1e-10.
        convention: ``"keras"`` or ``"torch"``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: Optional[LearningRate] = None, initial_accumulator_value: Optional[float] = None,
                 epsilon: Optional[float] = None, weight_decay: Optional[float] = None,
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, name: str = "adagrad", convention: str = "keras",
                 **kwargs: Any) -> None:
        self._set_convention(convention)
        super().__init__(self._default(learning_rate, 0.001, 0.01), weight_decay, clipnorm, clipvalue,
                         global_clipnorm, name, **kwargs)
        self.initial_accumulator_value = _check_setting("Adagrad", "initial_accumulator_value",
                                                        self._default(initial_accumulator_value, 0.1, 0.0), 0.0)
        self.epsilon = _check_setting("Adagrad", "epsilon", self._default(epsilon, 1e-7, 1e-10), 0.0)

    _rule, _slot_order = "adagrad", ("accumulator", None, None)

    def _slot_initial_values(self) -> Dict[str, float]:
        return {"accumulator": self.initial_accumulator_value}

    def _rule_settings(self) -> Dict[str, Any]:
        return {"epsilon": self.epsilon}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Nadam(_FusedOptimizer):
    """Nadam: Adam with Nesterov momentum (Dozat), in Keras 3's form. With ``t = iterations + 1``,
    ``u_t = beta_1 * (1 - 0.5 * 0.96**t)`` and ``P_t = u_1 * ... * u_t``: ``m += (g - m) * (1 -
    beta_1)``, ``v += (g**2 - v) * (1 - beta_2)``, ``m_hat = u_{t+1} * m / (1 - P_t * u_{t+1}) +
    (1 - u_t) * g / (1 - P_t)``, ``w -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)``.
    Slots: ``momentum``, ``velocity``.

    Args:
        learning_rate: float, schedule or callable.
        beta_1, beta_2: the decay rates of the first and second moments.
        epsilon: added to the root.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None, name: str = "nadam",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self._set_moments(beta_1, beta_2, epsilon)
        self._products = [1.0]  # P_0, P_1, ...: the running products of the momentum schedule

    _rule, _slot_order = "nadam", ("momentum", "velocity", None)

    def _u(self, t: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _slot_initial_values(self) -> Dict[str, float]:
        return {"momentum": 0.0, "velocity": 0.0}

    def _rule_settings(self) -> Dict[str, Any]:
        t = self.iterations + 1
        while len(self._products) <= t:  # P_t = P_{t-1} u_t, kept as steps are taken (or restored)
            self._products.append(self._products[-1] * self._u(len(self._products)))
        return {**self._moments(), "u_t": self._u(t), "u_next": self._u(t + 1), "u_product": self._products[t]}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), **self._moments()}


class Adamax(_FusedOptimizer):
    """Adamax, Adam with the infinity norm (Kingma & Ba), in Keras 3's form: ``m += (g - m) * (1 -
    beta_1)``, ``u = max(beta_2 * u, |g|)``, ``w -= lr * m / ((1 - beta_1**t) * (u + epsilon))``
    with ``t = iterations + 1``. Slots: ``momentum``, ``norm``.

    Args:
        learning_rate: float, schedule or callable.
        beta_1: the first moment's decay rate.
        beta_2: the infinity norm's decay rate.
        epsilon: added to the norm.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None, name: str = "adamax",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self._set_moments(beta_1, beta_2, epsilon, beta_2_below_one=False)

    _rule, _slot_order = "adamax", ("momentum", "norm", None)

    def _slot_initial_values(self) -> Dict[str, float]:
        return {"momentum": 0.0, "norm": 0.0}

    def _rule_settings(self) -> Dict[str, Any]:
        return self._moments()

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), **self._moments()}


class Adadelta(_FusedOptimizer):
    """Adadelta (Zeiler), in Keras 3's form: ``a = rho * a + (1 - rho) * g**2``, ``delta =
    -sqrt(d + epsilon) * g / sqrt(a + epsilon)``, ``d = rho * d + (1 - rho) * delta**2``,
    ``w += lr * delta``. Slots: ``accumulated_grad``, ``accumulated_delta_var``.

    Args:
        learning_rate: float, schedule or callable (Keras' default 0.001; Zeiler's paper uses 1).
        rho: the decay rate of both averages.
        epsilon: added under the roots.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.95, epsilon: float = 1e-7,
                 weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None, name: str = "adadelta",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.rho = _check_setting("Adadelta", "rho", rho, 0.0, 1.0)
        self.epsilon = _check_setting("Adadelta", "epsilon", epsilon, 0.0)

    _rule, _slot_order = "adadelta", ("accumulated_grad", "accumulated_delta_var", None)

    def _slot_initial_values(self) -> Dict[str, float]:
        return {"accumulated_grad": 0.0, "accumulated_delta_var": 0.0}

    def _rule_settings(self) -> Dict[str, Any]:
        return {"rho": self.rho, "epsilon": self.epsilon}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Lion(_FusedOptimizer):
    """Lion (Chen et al., 2023), in Keras 3's form: ``w -= lr * sign(beta_1 * m + (1 - beta_1) *
    g)``, then ``m = beta_2 * m + (1 - beta_2) * g``. Slot: ``momentum``.

    Args:
        learning_rate: float, schedule or callable (Lion wants a rate 3-10x below Adam's).
        beta_1: the weight of the momentum in the update's sign, in (0, 1].
        beta_2: the momentum's decay rate.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None, name: str = "lion",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if is_number(beta_1) and not isinstance(beta_1, bool) and (beta_1 <= 0 or beta_1 > 1):
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates "
                             f"to SignSGD. Received: beta_1={beta_1}.")
        self.beta_1 = _check_setting("Lion", "beta_1", beta_1, 0.0, 1.0, open_low=True)
        self.beta_2 = _check_setting("Lion", "beta_2", beta_2, 0.0, 1.0)

    _rule, _slot_order = "lion", ("momentum", None, None)

    def _slot_initial_values(self) -> Dict[str, float]:
        return {"momentum": 0.0}

    def _rule_settings(self) -> Dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Ftrl(_FusedOptimizer):
    """FTRL-Proximal (McMahan et al., 2013), in Keras 3's form, with ``p = -learning_rate_power``:
    ``n' = n + g**2``; ``z += g + 2 * l2_shrinkage * w - (n'**p - n**p) / lr * w``;
    ``w = (clip(z, -l1, l1) - z) / (n'**p / lr + 2 * (l2 + beta / (2 * lr)))``; ``n = n'``.
    Slots: ``accumulator`` (from ``initial_accumulator_value``), ``linear``.

    Args:
        learning_rate: float, schedule or callable.
        learning_rate_power: at most 0 (-0.5: the root of the accumulator).
        initial_accumulator_value: the accumulators' start, at least 0.
        l1_regularization_strength, l2_regularization_strength: at least 0.
        l2_shrinkage_regularization_strength: a magnitude penalty on the gradient, at least 0.
        beta: added to the l2 term as ``beta / (2 * lr)``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as for :class:`Optimizer`.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: keyword
            arguments, as for :class:`Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float = 0.0, weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None, name: str = "ftrl",
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.learning_rate_power = _check_setting("Ftrl", "learning_rate_power", learning_rate_power, -math.inf, 0.0)
        self.initial_accumulator_value = _check_setting("Ftrl", "initial_accumulator_value",
                                                        initial_accumulator_value, 0.0)
        self.l1_regularization_strength = _check_setting("Ftrl", "l1_regularization_strength",
                                                         l1_regularization_strength, 0.0)
        self.l2_regularization_strength = _check_setting("Ftrl", "l2_regularization_strength",
                                                         l2_regularization_strength, 0.0)
        self.l2_shrinkage_regularization_strength = _check_setting(
            "Ftrl", "l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength, 0.0)
        self.beta = _check_setting("Ftrl", "beta", beta, 0.0)

    _rule, _slot_order = "ftrl", ("accumulator", "linear", None)

    def _slot_initial_values(self) -> Dict[str, float]:
        return {"accumulator": self.initial_accumulator_value, "linear": 0.0}

    def _rule_settings(self) -> Dict[str, Any]:
        return {"learning_rate_power": self.learning_rate_power, "l1": self.l1_regularization_strength,
                "l2": self.l2_regularization_strength, "l2_shrinkage": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


# ---------------------------------------------------------------------------- lookup
# Each built-in optimizer, made with its defaults by calling it.
_OPTIMIZERS: Dict[str, Callable[[], Optimizer]] = {
    cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Nadam, Adamax, Adadelta, Lion, Ftrl)}


def _unknown(name: Any) -> ValueError:
    return ValueError(f"unknown optimizer {name!r}; expected one of "
                      f"{', '.join(map(repr, sorted(_OPTIMIZERS)))} (case-insensitive), a config dict "
                      "{'class_name': ..., 'config': ...} or an rnnkit.optimizers.Optimizer")


def serialize(optimizer: Optimizer) -> Dict[str, Any]:
    """``{"class_name": ..., "config": optimizer.get_config()}``.

    Args:
        optimizer: the optimizer.
    """
    return serialize_object(optimizer)


def deserialize(config: Dict[str, Any], custom_objects: Optional[Dict[str, Any]] = None) -> Optimizer:
    """An optimizer from :func:`serialize` output; built-in class names are case-insensitive.

    Args:
        config: ``{"class_name": ..., "config": {...}}``.
        custom_objects: names of user optimizer or schedule classes.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"an optimizer config is a dict {{'class_name': ..., 'config': ...}}, got {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _OPTIMIZERS.get(str(name).lower())
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise _unknown(name)
    return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)


def get(identifier: Any) -> Optional[Optimizer]:
    """An optimizer from a name (``"adam"``, ``"SGD"``, ...), a config dict or an instance
    (returned as is); ``None`` gives ``None``.

    Args:
        identifier: the name, dict or optimizer.
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise _unknown(identifier)
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
