"""Global settings, as ``keras.config``: the default float type and the fuzz factor; the core's
threads, and what it runs on (:func:`info`)."""

from __future__ import annotations

import platform
from typing import Any, Dict

__all__ = ["floatx", "set_floatx", "epsilon", "set_epsilon", "set_num_threads", "get_num_threads", "info"]

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
    """Sets the fuzz factor: a number > 0."""
    global _EPSILON
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"set_epsilon: value must be a number > 0, got {value!r} of type {type(value).__name__}")
    if not 0 < value < float("inf"):
        raise ValueError(f"set_epsilon: value must be a number > 0, got {value!r}")
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


def info() -> Dict[str, Any]:
    """What the C++ core runs on, for reports and bug reports.

    Returns a dict: ``isa``, the instruction set of the kernels in use (``"avx512"``,
    ``"avx2"``, ``"x86-64-v2"`` or ``"generic"``); ``runnable_isas``, every one this build has
    and this CPU runs, best first (the best is chosen at import; the environment variable
    ``RNNKIT_ISA`` set to a lower one forces it); ``built_isas``; ``blas``, what computes the
    matrix products (OpenBLAS with its configuration and the kernel it chose, or Eigen);
    ``threads``; ``cpu`` (the model name, where the OS reports it) and ``machine``.
    """
    from . import _core

    return {"isa": _core.isa(), "runnable_isas": list(_core.runnable_isas()), "built_isas": list(_core.built_isas()),
            "blas": _core.blas(), "threads": _core.num_threads(), "cpu": _cpu_name(), "machine": platform.machine()}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
