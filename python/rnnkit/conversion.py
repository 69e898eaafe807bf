"""Weights between rnnkit and PyTorch's ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``, exactly::

    model = rnnkit.conversion.from_torch(torch_lstm.state_dict(), "LSTM")   # a Sequential
    state_dict, kwargs = rnnkit.conversion.to_torch(model)
    torch_lstm = torch.nn.LSTM(**kwargs)
    torch_lstm.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()})

PyTorch is not needed: a state_dict may hold tensors (read with ``.detach().cpu().numpy()``) or
NumPy arrays, and ``to_torch`` returns NumPy arrays.

How the layouts map, per layer ``k`` (``_reverse`` keys for the backward direction):

- ``weight_ih_l{k}`` ``(G*H, F)`` is ``kernel.T``, ``weight_hh_l{k}`` ``(G*H, H)`` is
  ``recurrent_kernel.T``.
- LSTM: PyTorch's gates i, f, g, o are Keras' i, f, c, o, in the same order.
  GRU: PyTorch's r, z, n are Keras' z, r, h: the first two blocks swap. PyTorch's GRU is Keras'
  ``reset_after=True`` GRU (the reset gate applied after the recurrent product, ``n`` with its
  own recurrent bias); a ``reset_after=False`` GRU has no PyTorch equivalent.
- Biases: PyTorch has two, ``bias_ih`` and ``bias_hh``. LSTM and SimpleRNN add them into one
  ``bias``, and ``to_torch`` writes it as ``bias_ih`` with ``bias_hh`` zero (the same function;
  rnnkit -> PyTorch -> rnnkit gives back the very same arrays). GRU keeps both as the rows of
  its ``(2, 3H)`` bias, exactly, both ways. ``bias=False`` is ``use_bias=False``.
- ``num_layers > 1`` is a stack of layers, each returning its sequence; ``bidirectional=True``
  is ``Bidirectional(layer, merge_mode="concat")`` (forward features first, as PyTorch).
- ``batch_first`` does not change the weights: rnnkit takes batch-major inputs ``(N, T, F)``,
  so a module built with ``batch_first=False`` takes ``x.transpose(1, 0, 2)`` of rnnkit's
  input and returns its output transposed the same way.
- ``nn.RNN(nonlinearity="relu")`` is ``SimpleRNN(activation="relu")``. LSTM with
  ``proj_size > 0`` has no rnnkit equivalent.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["from_torch", "to_torch", "torch_layer_weights", "set_torch_layer_weights", "torch_init"]

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
_KEY = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")


def _mode(mode: Any) -> str:
    name = str(mode).upper() if isinstance(mode, str) else getattr(mode, "__name__", None)
    if name in ("RNN_TANH", "RNN_RELU", "SIMPLERNN"):
        name = "RNN"
    if name not in _GATES:
        raise ValueError(f"mode must be 'RNN', 'LSTM' or 'GRU' (PyTorch's module names), got {mode!r}")
    return name


def _numpy(key: str, value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch.Tensor, read without importing torch
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind != "f":
        raise TypeError(f"state_dict[{key!r}] must hold floats, got dtype {array.dtype}")
    return array


def _swap_gru_blocks(array: np.ndarray, units: int) -> np.ndarray:
    """PyTorch's GRU blocks r, z, n <-> Keras' z, r, h along axis 0 (its own inverse)."""
    return np.concatenate([array[units:2 * units], array[:units], array[2 * units:]])


def _layer_weights(mode: str, weights: Mapping[str, np.ndarray], units: int) -> List[np.ndarray]:
    """One direction of one PyTorch layer as rnnkit's ``[kernel, recurrent_kernel(, bias)]``."""
    w_ih, w_hh = weights["weight_ih"], weights["weight_hh"]
    if mode == "GRU":
        w_ih, w_hh = _swap_gru_blocks(w_ih, units), _swap_gru_blocks(w_hh, units)
    arrays = [np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T)]
    if "bias_ih" in weights:
        b_ih, b_hh = weights["bias_ih"], weights["bias_hh"]
        if mode == "GRU":
            arrays.append(np.stack([_swap_gru_blocks(b_ih, units), _swap_gru_blocks(b_hh, units)]))
        else:
            arrays.append(b_ih + b_hh)
    return arrays


def _torch_weights(mode: str, arrays: Sequence[np.ndarray], units: int) -> Dict[str, np.ndarray]:
    """rnnkit's ``[kernel, recurrent_kernel(, bias)]`` as one direction of a PyTorch layer."""
    kernel, recurrent_kernel = np.asarray(arrays[0]), np.asarray(arrays[1])
    w_ih, w_hh = kernel.T, recurrent_kernel.T
    if mode == "GRU":
        w_ih, w_hh = _swap_gru_blocks(w_ih, units), _swap_gru_blocks(w_hh, units)
    out = {"weight_ih": np.ascontiguousarray(w_ih), "weight_hh": np.ascontiguousarray(w_hh)}
    if len(arrays) > 2:
        bias = np.asarray(arrays[2])
        if mode == "GRU":
            out["bias_ih"], out["bias_hh"] = _swap_gru_blocks(bias[0], units), _swap_gru_blocks(bias[1], units)
        else:
            out["bias_ih"], out["bias_hh"] = bias.copy(), np.zeros_like(bias)
    return out


def _read_state_dict(state_dict: Mapping[str, Any], mode: str) -> Tuple[Dict[Tuple[int, int], Dict[str, np.ndarray]],
                                                                        int, int, int, bool, bool]:
    """Groups the keys by (layer, direction) and checks every shape: returns the groups,
    input_size, hidden_size, num_layers, bidirectional and bias."""
    if not isinstance(state_dict, Mapping) or not state_dict:
        raise TypeError(f"state_dict must be a non-empty mapping of names to arrays (module.state_dict()), "
                        f"got {type(state_dict).__name__}")
    groups: Dict[Tuple[int, int], Dict[str, np.ndarray]] = {}
    unknown = []
    for key, value in state_dict.items():
        match = _KEY.match(str(key))
        if match is None:
            unknown.append(key)
            continue
        name, layer, reverse = match.group(1), int(match.group(2)), match.group(3) is not None
        groups.setdefault((layer, int(reverse)), {})[name] = _numpy(str(key), value)
    if unknown:
        hint = " (LSTM proj_size > 0 has no rnnkit equivalent)" if any("weight_hr" in str(k) for k in unknown) else ""
        raise ValueError(f"unexpected keys in the {mode} state_dict: {', '.join(map(repr, unknown))}{hint}; "
                         "expected weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (and _reverse)")
    num_layers = max(layer for layer, _ in groups) + 1
    bidirectional = any(direction for _, direction in groups)
    first = groups.get((0, 0), {})
    if "weight_hh" not in first or "weight_ih" not in first:
        raise ValueError(f"the {mode} state_dict has no weight_ih_l0 and weight_hh_l0")
    gates = _GATES[mode]
    rows, units = first["weight_hh"].shape if first["weight_hh"].ndim == 2 else (0, 0)
    if units == 0 or rows != gates * units:
        raise ValueError(f"weight_hh_l0 of a {mode} must have shape ({gates}*hidden_size, hidden_size), "
                         f"got {first['weight_hh'].shape}")
    input_size = first["weight_ih"].shape[-1]
    bias = "bias_ih" in first
    directions = 2 if bidirectional else 1
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
    for layer in range(num_layers):
        features = input_size if layer == 0 else directions * units
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            group = groups.get((layer, direction), {})
            missing = [n + suffix for n in names if n not in group]
            extra = [n + suffix for n in group if n not in names]
            if missing or extra:
                raise ValueError(f"the {mode} state_dict of {num_layers} layer(s), "
                                 f"{'bidirectional' if bidirectional else 'one direction'}, "
                                 f"{'with' if bias else 'without'} biases: "
                                 + "; ".join(part for part in (f"missing {', '.join(missing)}" if missing else "",
                                                               f"unexpected {', '.join(extra)}" if extra else "")
                                             if part))
            shapes = {"weight_ih": (gates * units, features), "weight_hh": (gates * units, units),
                      "bias_ih": (gates * units,), "bias_hh": (gates * units,)}
            for name in names:
                if group[name].shape != shapes[name]:
                    raise ValueError(f"{name}{suffix} must have shape {shapes[name]} for a {mode} of "
                                     f"hidden_size={units} on {features} input features, got {group[name].shape}")
    return groups, input_size, units, num_layers, bidirectional, bias


def _new_layer(mode: str, units: int, bias: bool, nonlinearity: str, dtype: str, name: Optional[str]) -> Any:
    from . import layers

    if mode == "LSTM":
        return layers.LSTM(units, use_bias=bias, return_sequences=True, dtype=dtype, name=name)
    if mode == "GRU":
        return layers.GRU(units, use_bias=bias, reset_after=True, return_sequences=True, dtype=dtype, name=name)
    return layers.SimpleRNN(units, activation=nonlinearity, use_bias=bias, return_sequences=True, dtype=dtype,
                            name=name)


def from_torch(state_dict: Mapping[str, Any], mode: Any, *, nonlinearity: str = "tanh",
               dtype: Optional[str] = None) -> Any:
    """An rnnkit model computing what a PyTorch ``nn.RNN``/``nn.LSTM``/``nn.GRU`` computes.

    ``num_layers``, ``bidirectional``, ``bias``, ``input_size`` and ``hidden_size`` are read
    from the keys and shapes of the state_dict.

    Args:
        state_dict: ``module.state_dict()``: tensors or NumPy arrays.
        mode: ``"RNN"``, ``"LSTM"`` or ``"GRU"`` (or the module's class).
        nonlinearity: an ``nn.RNN``'s ``"tanh"`` or ``"relu"``.
        dtype: ``"float32"`` or ``"float64"``; default the state_dict's.

    Returns:
        A ``Sequential`` taking ``(N, T, input_size)`` and returning the module's ``output``,
        ``(N, T, D * hidden_size)`` (``D = 2`` if bidirectional); the model is not compiled.
        For a module with ``batch_first=False``, transpose the time and batch axes around it.
    """
    from . import layers
    from .models import Sequential

    mode = _mode(mode)
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', as nn.RNN takes it, got {nonlinearity!r}")
    if mode != "RNN" and nonlinearity != "tanh":
        raise ValueError(f"nonlinearity applies to nn.RNN only, not to {mode}")
    groups, input_size, units, num_layers, bidirectional, bias = _read_state_dict(state_dict, mode)
    dtype = dtype or np.result_type(*[a for group in groups.values() for a in group.values()]).name
    stack: List[Any] = [layers.Input((None, input_size), dtype=dtype)]
    for _ in range(num_layers):
        forward = _new_layer(mode, units, bias, nonlinearity, dtype, None)
        if bidirectional:
            stack.append(layers.Bidirectional(forward, merge_mode="concat", dtype=dtype))
        else:
            stack.append(forward)
    model = Sequential(stack)
    for layer, rnn in enumerate(model.layers):
        arrays = [_layer_weights(mode, groups[(layer, direction)], units) for direction in range(1 + bidirectional)]
        rnn.set_weights([a.astype(dtype, copy=False) for direction in arrays for a in direction])
    return model


def _cell_of(layer: Any) -> Tuple[str, Any]:
    """(mode, layer's cell) for a SimpleRNN, LSTM or GRU layer PyTorch can express."""
    from .layers.cells import GRUCell, LSTMCell, SimpleRNNCell

    cell = getattr(layer, "cell", None)
    if isinstance(cell, LSTMCell):
        if cell.peephole or cell.activation != "tanh" or cell.recurrent_activation != "sigmoid":
            raise ValueError(f"{layer.name}: PyTorch's LSTM has no peepholes and uses sigmoid gates with tanh")
        return "LSTM", cell
    if isinstance(cell, GRUCell):
        if not cell.reset_after:
            raise ValueError(f"{layer.name}: PyTorch's GRU is reset_after=True; a reset_after=False GRU "
                             "(Cho et al.) has no PyTorch equivalent")
        if cell.activation != "tanh" or cell.recurrent_activation != "sigmoid":
            raise ValueError(f"{layer.name}: PyTorch's GRU uses sigmoid gates with tanh")
        return "GRU", cell
    if isinstance(cell, SimpleRNNCell):
        if cell.activation not in ("tanh", "relu"):
            raise ValueError(f"{layer.name}: nn.RNN's nonlinearity is tanh or relu, got {cell.activation!r}")
        return "RNN", cell
    raise ValueError(f"{getattr(layer, 'name', layer)}: expected a SimpleRNN, LSTM or GRU layer (or one in "
                     f"Bidirectional), got {type(layer).__name__}")


def _directions(layer: Any) -> List[Any]:
    from .layers import Bidirectional

    if isinstance(layer, Bidirectional):
        if layer.merge_mode != "concat":
            raise ValueError(f"{layer.name}: PyTorch's bidirectional output concatenates the two directions; "
                             f"merge_mode={layer.merge_mode!r} has no equivalent")
        return [layer.forward_layer, layer.backward_layer]
    return [layer]


def torch_layer_weights(layer: Any, index: int = 0) -> Dict[str, np.ndarray]:
    """The state_dict entries of one rnnkit recurrent layer (or Bidirectional) as layer
    ``index`` of a PyTorch module: ``weight_ih_l{index}``, ... (and ``_reverse``)."""
    out: Dict[str, np.ndarray] = {}
    for direction, rnn in enumerate(_directions(layer)):
        mode, cell = _cell_of(rnn)
        if getattr(rnn, "go_backwards", False) != bool(direction):
            raise ValueError(f"{rnn.name}: a PyTorch direction runs forwards (go_backwards=False), except the "
                             "backward layer of a bidirectional module")
        suffix = f"_l{index}" + ("_reverse" if direction else "")
        for name, array in _torch_weights(mode, cell.get_weights(), cell.units).items():
            out[name + suffix] = array
    return out


def set_torch_layer_weights(layer: Any, state_dict: Mapping[str, Any], index: int = 0) -> None:
    """Loads layer ``index`` of a PyTorch module's state_dict into one built rnnkit recurrent
    layer (or Bidirectional) of the same kind and sizes; other keys are ignored."""
    directions = _directions(layer)
    mode, _ = _cell_of(directions[0])
    for direction, rnn in enumerate(directions):
        suffix = f"_l{index}" + ("_reverse" if direction else "")
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.cell.use_bias else [])
        missing = [n + suffix for n in names if n + suffix not in state_dict]
        if missing:
            raise ValueError(f"{rnn.name}: the state_dict lacks {', '.join(missing)}")
        weights = {n: _numpy(n + suffix, state_dict[n + suffix]) for n in names}
        arrays = _layer_weights(mode, weights, rnn.cell.units)
        rnn.set_weights([a.astype(rnn.dtype, copy=False) for a in arrays])


def to_torch(model: Any) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
    """A PyTorch state_dict and the module's arguments for rnnkit recurrent layers.

    Args:
        model: a model (or a list of layers) made only of SimpleRNN, LSTM or GRU layers of one
            kind and width (or Bidirectional ones with ``merge_mode="concat"``), each but the
            last returning sequences, as ``from_torch`` makes.

    Returns:
        ``(state_dict, kwargs)``: NumPy arrays under PyTorch's names, and ``mode``,
        ``input_size``, ``hidden_size``, ``num_layers``, ``bias``, ``bidirectional``,
        ``batch_first=True`` (and ``nonlinearity`` for RNN): ``getattr(torch.nn,
        kwargs.pop("mode"))(**kwargs)`` builds the module, then ``load_state_dict``.
    """
    from .layers import InputLayer

    stack = [layer for layer in (model if isinstance(model, (list, tuple)) else model.layers)
             if not isinstance(layer, InputLayer)]
    if not stack:
        raise ValueError("to_torch needs at least one recurrent layer")
    kinds = set()
    state_dict: Dict[str, np.ndarray] = {}
    for index, layer in enumerate(stack):
        directions = _directions(layer)
        for rnn in directions:
            mode, cell = _cell_of(rnn)
            if not cell.built:
                raise ValueError(f"{rnn.name} is not built: call the model or build it first")
            kinds.add((mode, cell.units, cell.use_bias, cell.activation, len(directions)))
            if index < len(stack) - 1 and not rnn.return_sequences:
                raise ValueError(f"{rnn.name}: every layer but the last must return sequences to stack as "
                                 "PyTorch's num_layers")
        state_dict.update(torch_layer_weights(layer, index))
    if len(kinds) > 1:
        raise ValueError("a PyTorch module's layers share one cell, width, bias setting and direction count; "
                         f"these layers differ: {sorted(kinds)}")
    mode, units, bias, activation, direction_count = kinds.pop()
    kwargs: Dict[str, Any] = {"mode": mode, "input_size": int(state_dict["weight_ih_l0"].shape[1]),
                              "hidden_size": units, "num_layers": len(stack), "bias": bias,
                              "bidirectional": direction_count == 2, "batch_first": True}
    if mode == "RNN":
        kwargs["nonlinearity"] = activation
    return state_dict, kwargs


def torch_init(model: Any, seed: Optional[int] = None) -> None:
    """Sets every weight of a built model (or layer) as PyTorch's ``reset_parameters`` draws
    it, instead of Keras' initializers: recurrent layers (SimpleRNN, LSTM, GRU) every weight
    and bias from ``U(-1/sqrt(units), 1/sqrt(units))``; Dense (``nn.Linear``) kernel and bias
    from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; Embedding from ``N(0, 1)``. Other weights
    keep their values.

    Args:
        model: a built model or layer.
        seed: for NumPy's generator; the draws follow PyTorch's distributions, not its stream.
    """
    from .layers import Dense, Embedding
    from .layers.cells import _KernelCell
    from .traces import recurrent_cells

    if not getattr(model, "built", False):
        raise ValueError(f"{getattr(model, 'name', model)} is not built: build it (or call it) first")
    rng = np.random.default_rng(seed)
    for _, cell in recurrent_cells(model):
        if isinstance(cell, _KernelCell):
            bound = 1.0 / np.sqrt(cell.units)
            cell.set_weights([rng.uniform(-bound, bound, w.shape) for w in cell.get_weights()])
    layers = [model] if not hasattr(model, "_flatten_layers") else list(model._flatten_layers())
    for layer in layers:
        if isinstance(layer, Dense) and layer.built:
            bound = 1.0 / np.sqrt(layer.kernel.shape[0])
            layer.set_weights([rng.uniform(-bound, bound, w.shape) for w in layer.get_weights()])
        elif isinstance(layer, Embedding) and layer.built:
            layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
