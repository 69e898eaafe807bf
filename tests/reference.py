"""Independent NumPy float64 reference for rnnkit's forward passes.

Written only from the published equations (Keras 3 / PyTorch conventions), NOT
from rnnkit's implementation, so that the tests comparing the two are an
independent check.  Clarity over speed: plain per-time-step Python loops.

Conventions (the rnnkit contract)
---------------------------------
* x has shape (N, T, F) (batch-major); H is the number of units.
* kernel (F, G*H), recurrent_kernel (H, G*H); gate blocks are concatenated along
  the last axis in Keras order: SimpleRNN G=1; LSTM G=4 (i, f, c, o);
  GRU G=3 (z, r, h).
* mask: bool (N, T) in INPUT time order. Where mask[n, t] is False the step is
  skipped for sample n: the state (h, and c for LSTM) is carried through
  unchanged and the output at that step is the carried h.
  ``lengths`` (N,) is shorthand for mask[n, t] = t < lengths[n].
* go_backwards=True: inputs are processed from t = T-1 down to 0 and every
  per-step output is in PROCESSING order (as if x and mask had been reversed
  along time and the cell run forwards).
* return_sequences=False returns only the last output (N, H) (== final h).

Per-step gate arrays returned by the reference hold NaN at skipped (masked)
steps: the contract does not say what a skipped step's gates are, so tests
should only compare gates where ``result.valid`` is True.  ``cell_states`` at a
skipped step holds the carried cell state.
"""

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "activation",
    "sigmoid",
    "hard_sigmoid",
    "softmax",
    "lengths_to_mask",
    "RNNResult",
    "StepResult",
    "simple_rnn_cell",
    "lstm_cell",
    "gru_cell",
    "simple_rnn_forward",
    "lstm_forward",
    "gru_forward",
    "dense_forward",
    "simple_rnn_step",
    "lstm_step",
    "gru_step",
]


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------
def sigmoid(x):
    """1 / (1 + exp(-x)), evaluated without overflow for large |x|."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def hard_sigmoid(x):
    """Keras 3 hard_sigmoid: clip(x / 6 + 0.5, 0, 1)."""
    x = np.asarray(x, dtype=np.float64)
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def tanh(x):
    return np.tanh(np.asarray(x, dtype=np.float64))


def relu(x):
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0.0)


def linear(x):
    return np.asarray(x, dtype=np.float64)


def softmax(x):
    """Softmax over the last axis (max-shifted for stability)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


# Keras 3's other activations, from their definitions (keras.activations).
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def elu(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1)


def selu(x):
    return SELU_SCALE * np.where(np.asarray(x) > 0, x, SELU_ALPHA * (np.exp(np.minimum(x, 0)) - 1))


def softplus(x):
    x = np.asarray(x, dtype=np.float64)
    return np.logaddexp(0.0, x)  # log(1 + exp(x))


def softsign(x):
    x = np.asarray(x, dtype=np.float64)
    return x / (1 + np.abs(x))


def exponential(x):
    return np.exp(np.asarray(x, dtype=np.float64))


def leaky_relu(x, negative_slope=0.2):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, negative_slope * x)


def relu6(x):
    return np.clip(np.asarray(x, dtype=np.float64), 0, 6)


def gelu(x):
    """The exact GELU, x * Phi(x)."""
    from math import erf, sqrt
    x = np.asarray(x, dtype=np.float64)
    return x * 0.5 * (1 + np.vectorize(erf)(x / sqrt(2)))


def silu(x):
    x = np.asarray(x, dtype=np.float64)
    return x * sigmoid(x)


ACTIVATIONS = {
    "tanh": tanh,
    "relu": relu,
    "sigmoid": sigmoid,
    "linear": linear,
    "hard_sigmoid": hard_sigmoid,
    "softmax": softmax,
    "elu": elu,
    "selu": selu,
    "softplus": softplus,
    "softsign": softsign,
    "exponential": exponential,
    "leaky_relu": leaky_relu,
    "relu6": relu6,
    "gelu": gelu,
    "silu": silu,
}


def activation(name):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}") from None


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def lengths_to_mask(lengths, T):
    """mask[n, t] = t < lengths[n]."""
    lengths = np.asarray(lengths)
    return np.arange(T)[None, :] < lengths[:, None]


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _split(a, g):
    """Split the last axis into g equal gate blocks."""
    return np.split(a, g, axis=-1)


@dataclass
class RNNResult:
    output: np.ndarray                  # (N, T, H) or (N, H)
    h: np.ndarray                       # (N, H)
    c: Optional[np.ndarray]             # (N, H) for LSTM, else None
    gates: Dict[str, np.ndarray]        # name -> (N, T, H), processing order, NaN where skipped
    cell_states: Optional[np.ndarray]   # (N, T, H) for LSTM (carried at skipped steps), else None
    valid: np.ndarray                   # (N, T) bool, mask in PROCESSING order
    sequence: np.ndarray = field(repr=False, default=None)  # (N, T, H) full output sequence


@dataclass
class StepResult:
    output: np.ndarray                  # (N, H)
    h: np.ndarray
    c: Optional[np.ndarray]
    gates: Dict[str, np.ndarray]        # name -> (N, H)


# --------------------------------------------------------------------------
# Single-step cells (no masking).  Each returns (new_state_tuple, gates_dict).
# --------------------------------------------------------------------------
def simple_rnn_cell(x_t, h_prev, kernel, recurrent_kernel, bias=None, *,
                    activation="tanh"):
    """h_t = act(x_t W + h_{t-1} U + b)."""
    act = ACTIVATIONS[activation]
    z = x_t @ kernel + h_prev @ recurrent_kernel
    if bias is not None:
        z = z + bias
    h = act(z)
    return (h,), {"h": h}


def lstm_cell(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias=None, *,
              peephole_kernel=None, activation="tanh",
              recurrent_activation="sigmoid"):
    """Keras LSTM cell, gate order i, f, c, o; optional Gers-Schmidhuber peepholes.

    z = x_t W + h_{t-1} U + b
    i = ra(z_i [+ P0 * c_{t-1}])
    f = ra(z_f [+ P1 * c_{t-1}])
    g = act(z_c)
    c_t = f * c_{t-1} + i * g
    o = ra(z_o [+ P2 * c_t])          (output peephole sees the NEW cell state)
    h_t = o * act(c_t)
    """
    act = ACTIVATIONS[activation]
    ra = ACTIVATIONS[recurrent_activation]
    z = x_t @ kernel + h_prev @ recurrent_kernel
    if bias is not None:
        z = z + bias
    z_i, z_f, z_c, z_o = _split(z, 4)
    if peephole_kernel is not None:
        z_i = z_i + peephole_kernel[0] * c_prev
        z_f = z_f + peephole_kernel[1] * c_prev
    i = ra(z_i)
    f = ra(z_f)
    g = act(z_c)
    c = f * c_prev + i * g
    if peephole_kernel is not None:
        z_o = z_o + peephole_kernel[2] * c
    o = ra(z_o)
    h = o * act(c)
    return (h, c), {"i": i, "f": f, "c": g, "o": o}


def gru_cell(x_t, h_prev, kernel, recurrent_kernel, bias=None, *,
             activation="tanh", recurrent_activation="sigmoid", reset_after=True):
    """GRU cell, gate order z, r, h.

    reset_after=True (Keras 3 / PyTorch): bias (2, 3H) = [b_in; b_rec]
        xz, xr, xh = split(x_t W + b_in);  rz, rr, rh = split(h_{t-1} U + b_rec)
        z = ra(xz + rz); r = ra(xr + rr); hh = act(xh + r * rh)
    reset_after=False (Cho et al.): bias (3H,)
        xz, xr, xh = split(x_t W + b)
        z = ra(xz + h U_z); r = ra(xr + h U_r); hh = act(xh + (r * h_{t-1}) U_h)
    h_t = z * h_{t-1} + (1 - z) * hh
    """
    act = ACTIVATIONS[activation]
    ra = ACTIVATIONS[recurrent_activation]
    U_z, U_r, U_h = _split(recurrent_kernel, 3)
    if reset_after:
        x_proj = x_t @ kernel
        h_proj = h_prev @ recurrent_kernel
        if bias is not None:
            bias = np.asarray(bias)
            if bias.shape[0] != 2 or bias.ndim != 2:
                raise ValueError("reset_after=True GRU bias must have shape (2, 3H)")
            x_proj = x_proj + bias[0]
            h_proj = h_proj + bias[1]
        xz, xr, xh = _split(x_proj, 3)
        rz, rr, rh = _split(h_proj, 3)
        z = ra(xz + rz)
        r = ra(xr + rr)
        hh = act(xh + r * rh)
    else:
        x_proj = x_t @ kernel
        if bias is not None:
            bias = np.asarray(bias)
            if bias.ndim != 1:
                raise ValueError("reset_after=False GRU bias must have shape (3H,)")
            x_proj = x_proj + bias
        xz, xr, xh = _split(x_proj, 3)
        z = ra(xz + h_prev @ U_z)
        r = ra(xr + h_prev @ U_r)
        hh = act(xh + (r * h_prev) @ U_h)
    h = z * h_prev + (1.0 - z) * hh
    return (h,), {"z": z, "r": r, "h": hh}


# --------------------------------------------------------------------------
# Sequence driver: masking, go_backwards, return_sequences
# --------------------------------------------------------------------------
def _run(cell, x, state0, mask, lengths, go_backwards, return_sequences,
         gate_names, track_cell):
    x = np.asarray(x, dtype=np.float64)
    N, T, _ = x.shape
    if mask is not None and lengths is not None:
        raise ValueError("give mask or lengths, not both")
    if lengths is not None:
        mask = lengths_to_mask(lengths, T)
    if mask is None:
        mask = np.ones((N, T), dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    assert mask.shape == (N, T)

    # Processing order: reverse x and mask along time for go_backwards.
    if go_backwards:
        x_p = x[:, ::-1, :]
        m_p = mask[:, ::-1]
    else:
        x_p = x
        m_p = mask

    state = tuple(np.array(s, dtype=np.float64) for s in state0)
    H = state[0].shape[-1]
    outputs = np.zeros((N, T, H))
    gates = {g: np.full((N, T, H), np.nan) for g in gate_names}
    cell_states = np.zeros((N, T, H)) if track_cell else None

    for s in range(T):
        new_state, g = cell(x_p[:, s, :], *state)
        keep = m_p[:, s][:, None]            # (N, 1)
        state = tuple(np.where(keep, ns, os) for ns, os in zip(new_state, state))
        outputs[:, s, :] = state[0]
        for name in gate_names:
            gates[name][:, s, :] = np.where(keep, g[name], np.nan)
        if track_cell:
            cell_states[:, s, :] = state[1]

    h = state[0]
    c = state[1] if track_cell else None
    if T == 0:
        out = outputs if return_sequences else h.copy()
    else:
        out = outputs if return_sequences else outputs[:, -1, :].copy()
    return RNNResult(output=out, h=h, c=c, gates=gates, cell_states=cell_states,
                     valid=m_p.copy(), sequence=outputs)


def _zeros_state(x, H, s):
    x = np.asarray(x)
    return np.zeros((x.shape[0], H)) if s is None else _f64(s)


def simple_rnn_forward(x, kernel, recurrent_kernel, bias=None, *, h0=None,
                       mask=None, lengths=None, activation="tanh",
                       go_backwards=False, return_sequences=True):
    W, U, b = _f64(kernel), _f64(recurrent_kernel), _f64(bias)
    H = U.shape[0]

    def cell(x_t, h):
        return simple_rnn_cell(x_t, h, W, U, b, activation=activation)

    return _run(cell, x, (_zeros_state(x, H, h0),), mask, lengths,
                go_backwards, return_sequences, ("h",), track_cell=False)


def lstm_forward(x, kernel, recurrent_kernel, bias=None, *, h0=None, c0=None,
                 peephole_kernel=None, mask=None, lengths=None,
                 activation="tanh", recurrent_activation="sigmoid",
                 go_backwards=False, return_sequences=True):
    W, U, b, P = _f64(kernel), _f64(recurrent_kernel), _f64(bias), _f64(peephole_kernel)
    H = U.shape[0]

    def cell(x_t, h, c):
        return lstm_cell(x_t, h, c, W, U, b, peephole_kernel=P,
                         activation=activation,
                         recurrent_activation=recurrent_activation)

    state0 = (_zeros_state(x, H, h0), _zeros_state(x, H, c0))
    return _run(cell, x, state0, mask, lengths, go_backwards, return_sequences,
                ("i", "f", "c", "o"), track_cell=True)


def gru_forward(x, kernel, recurrent_kernel, bias=None, *, h0=None, mask=None,
                lengths=None, activation="tanh", recurrent_activation="sigmoid",
                reset_after=True, go_backwards=False, return_sequences=True):
    W, U, b = _f64(kernel), _f64(recurrent_kernel), _f64(bias)
    H = U.shape[0]

    def cell(x_t, h):
        return gru_cell(x_t, h, W, U, b, activation=activation,
                        recurrent_activation=recurrent_activation,
                        reset_after=reset_after)

    return _run(cell, x, (_zeros_state(x, H, h0),), mask, lengths,
                go_backwards, return_sequences, ("z", "r", "h"), track_cell=False)


# --------------------------------------------------------------------------
# Single-step helpers (one unmasked step)
# --------------------------------------------------------------------------
def simple_rnn_step(x_t, h_prev, kernel, recurrent_kernel, bias=None, *,
                    activation="tanh"):
    (h,), g = simple_rnn_cell(_f64(x_t), _f64(h_prev), _f64(kernel),
                              _f64(recurrent_kernel), _f64(bias),
                              activation=activation)
    return StepResult(output=h, h=h, c=None, gates=g)


def lstm_step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias=None, *,
              peephole_kernel=None, activation="tanh",
              recurrent_activation="sigmoid"):
    (h, c), g = lstm_cell(_f64(x_t), _f64(h_prev), _f64(c_prev), _f64(kernel),
                          _f64(recurrent_kernel), _f64(bias),
                          peephole_kernel=_f64(peephole_kernel),
                          activation=activation,
                          recurrent_activation=recurrent_activation)
    return StepResult(output=h, h=h, c=c, gates=g)


def gru_step(x_t, h_prev, kernel, recurrent_kernel, bias=None, *,
             activation="tanh", recurrent_activation="sigmoid", reset_after=True):
    (h,), g = gru_cell(_f64(x_t), _f64(h_prev), _f64(kernel),
                       _f64(recurrent_kernel), _f64(bias), activation=activation,
                       recurrent_activation=recurrent_activation,
                       reset_after=reset_after)
    return StepResult(output=h, h=h, c=None, gates=g)


# --------------------------------------------------------------------------
# Dense
# --------------------------------------------------------------------------
def dense_forward(x, kernel, bias=None, *, activation="linear"):
    """y = act(x W + b) on the last axis; x is (N, F) or (N, T, F)."""
    x, W, b = _f64(x), _f64(kernel), _f64(bias)
    y = x @ W
    if b is not None:
        y = y + b
    return ACTIVATIONS[activation](y)
