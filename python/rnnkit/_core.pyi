"""rnnkit's C++ core. Use rnnkit.ops, which documents shapes and fills defaults.

The bindings (cpp/bindings/module.cpp) take every argument as a Python object and check it
before any work: arrays must be NumPy arrays of one float dtype (float32 or float64, the dtype
of ``x``, or of ``values[0]`` for optimizer_update; masks bool or uint8), flags ``True`` or
``False`` (NumPy bools too), activations names such as ``"tanh"``. Input arrays that are not
C-contiguous are copied; optimizer_update's values and slots, updated in place, must be
writeable and C-contiguous already.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

_Floats = NDArray[np.floating[Any]]
# (batch, time): False (0) where a step is padding.
_Mask = NDArray[Union[np.bool_, np.uint8]]
_Flag = Union[bool, np.bool_]
# What a forward call keeps for its backward call, by field name ("gates", "h_prev", ...).
_Cache = Dict[str, _Floats]
# The gradients by argument name ("x", "h0", "kernel", ...; "h_steps" with keep_state_gradients).
_Gradients = Dict[str, _Floats]

# pybind11_builtins.pybind11_type, the metaclass of the classes pybind11 binds.
class _Pybind11Type(type): ...

class OptimizerStep(metaclass=_Pybind11Type):
    """The settings of one optimizer step (rnnkit/optimizers.hpp)."""

    def __init__(
        self,
        learning_rate: float,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        nesterov: bool = False,
        beta_1: float = 0.0,
        beta_2: float = 0.0,
        epsilon: float = 0.0,
        amsgrad: bool = False,
        rho: float = 0.0,
        centered: bool = False,
        step: int = 1,
        u_t: float = 0.0,
        u_next: float = 0.0,
        u_product: float = 1.0,
        learning_rate_power: float = -0.5,
        l1: float = 0.0,
        l2: float = 0.0,
        l2_shrinkage: float = 0.0,
        beta: float = 0.0,
        coupled_weight_decay: bool = False,
        torch: bool = False,
    ) -> None: ...

def simple_rnn_forward(
    x: _Floats,
    kernel: _Floats,
    recurrent_kernel: _Floats,
    bias: Optional[_Floats] = None,
    h0: Optional[_Floats] = None,
    mask: Optional[_Mask] = None,
    recurrent_dropout_mask: Optional[_Floats] = None,
    activation: str = "tanh",
    go_backwards: _Flag = False,
    return_sequences: _Flag = True,
    keep_cache: _Flag = True,
) -> Tuple[Optional[_Floats], _Floats, _Cache]:
    """(every step's output, or None without return_sequences; the last state; the cache)."""

def simple_rnn_backward(
    x: _Floats,
    kernel: _Floats,
    recurrent_kernel: _Floats,
    bias: Optional[_Floats],
    mask: Optional[_Mask],
    recurrent_dropout_mask: Optional[_Floats],
    cache: _Cache,
    dy: Optional[_Floats] = None,
    dh: Optional[_Floats] = None,
    activation: str = "tanh",
    go_backwards: _Flag = False,
    keep_state_gradients: _Flag = False,
) -> _Gradients: ...
def lstm_forward(
    x: _Floats,
    kernel: _Floats,
    recurrent_kernel: _Floats,
    bias: Optional[_Floats] = None,
    h0: Optional[_Floats] = None,
    c0: Optional[_Floats] = None,
    peephole_kernel: Optional[_Floats] = None,
    mask: Optional[_Mask] = None,
    recurrent_dropout_mask: Optional[_Floats] = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    go_backwards: _Flag = False,
    return_sequences: _Flag = True,
    keep_cache: _Flag = True,
) -> Tuple[Optional[_Floats], _Floats, _Floats, _Cache]:
    """(every step's output, or None without return_sequences; the last state; the last cell
    state; the cache)."""

def lstm_backward(
    x: _Floats,
    kernel: _Floats,
    recurrent_kernel: _Floats,
    bias: Optional[_Floats],
    peephole_kernel: Optional[_Floats],
    mask: Optional[_Mask],
    recurrent_dropout_mask: Optional[_Floats],
    cache: _Cache,
    dy: Optional[_Floats] = None,
    dh: Optional[_Floats] = None,
    dc: Optional[_Floats] = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    go_backwards: _Flag = False,
    keep_state_gradients: _Flag = False,
) -> _Gradients: ...
def gru_forward(
    x: _Floats,
    kernel: _Floats,
    recurrent_kernel: _Floats,
    bias: Optional[_Floats] = None,
    h0: Optional[_Floats] = None,
    mask: Optional[_Mask] = None,
    recurrent_dropout_mask: Optional[_Floats] = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    reset_after: _Flag = True,
    go_backwards: _Flag = False,
    return_sequences: _Flag = True,
    keep_cache: _Flag = True,
) -> Tuple[Optional[_Floats], _Floats, _Cache]:
    """(every step's output, or None without return_sequences; the last state; the cache)."""

def gru_backward(
    x: _Floats,
    kernel: _Floats,
    recurrent_kernel: _Floats,
    bias: Optional[_Floats],
    mask: Optional[_Mask],
    recurrent_dropout_mask: Optional[_Floats],
    cache: _Cache,
    dy: Optional[_Floats] = None,
    dh: Optional[_Floats] = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    reset_after: _Flag = True,
    go_backwards: _Flag = False,
    keep_state_gradients: _Flag = False,
) -> _Gradients: ...
def dense_forward(
    x: _Floats, kernel: _Floats, bias: Optional[_Floats] = None, activation: str = "linear"
) -> _Floats: ...
def dense_backward(
    x: _Floats, kernel: _Floats, bias: Optional[_Floats], y: _Floats, dy: _Floats, activation: str = "linear"
) -> _Gradients: ...
def optimizer_update(
    rule: str,
    values: Sequence[_Floats],
    gradients: Sequence[_Floats],
    slots: Sequence[Sequence[Optional[_Floats]]],
    decay: Sequence[_Flag],
    settings: OptimizerStep,
) -> None:
    """Updates every variable (and its slots) in place with one step of the rule; see rnnkit.optimizers."""

def set_num_threads(threads: int) -> None: ...
def num_threads() -> int: ...
def isa() -> str:
    """The instruction set of the kernels in use."""

def built_isas() -> List[str]:
    """The instruction sets this build has kernels for, best first."""

def runnable_isas() -> List[str]:
    """Those this CPU runs, best first."""

def blas() -> str:
    """What computes the matrix products."""
