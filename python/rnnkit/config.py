"""Global settings, as ``keras.config``: the default float type and the fuzz factor."""

from __future__ import annotations

__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon", "set_num_threads", "get_num_threads"]

_FLOATX = "float32"
_EPSILON = 1e-7
_FLOAT_TYPES = ("float32", "float64")


def floatx() -> str:
    """The default float type of new weights and of model inputs: ``"float32"`` or ``"float64"``."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Sets the default float type; ``"float32"`` (default) or ``"float64"``."""
    global _FLOATX
    value = str(value)
    if value not in _FLOAT_TYPES:
        raise ValueError(f"unknown floatx {value!r}; expected one of {', '.join(map(repr, _FLOAT_TYPES))}")
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor of numeric expressions (1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def set_num_threads(threads: int) -> None:
    """Sets the threads of the C++ core (default: the machine's hardware threads).

    Each call splits its work into at most ``threads`` independent pieces: the time loop by
    samples of the batch, the large matrix products by rows or columns. ``threads=1`` runs
    everything on the calling thread.
    """
    from . import _core

    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be an integer, got {type(threads).__name__}")
    _core.set_num_threads(threads)


def get_num_threads() -> int:
    """The threads of the C++ core (see :func:`set_num_threads`)."""
    from . import _core

    return _core.num_threads()
