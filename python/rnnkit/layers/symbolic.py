"""Symbolic tensors and nodes: calling a layer on ``Input(...)`` records a graph, as Keras does.

A :class:`SymbolicTensor` has a shape (batch axis ``None`` or fixed), a dtype and the node that
made it. A :class:`Node` records one call: the layer, the structure of its inputs (tensors in a
tensor, list or dict), the tensors passed as keyword arguments (``initial_state``), the other
keyword arguments, and the output tensors. ``rnnkit.models.Model(inputs, outputs)`` runs the
nodes between them in order.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["SymbolicTensor", "Node", "flatten", "pack_like", "is_symbolic", "any_symbolic", "call_symbolic"]

Shape = Tuple[Optional[int], ...]


class SymbolicTensor:
    """A placeholder for an array in a model graph (Keras' ``KerasTensor``).

    Attributes:
        shape: ``(batch, ...)``, ``None`` where unknown.
        dtype: the dtype the array will have.
        name: a readable name (the layer's, with an index for layers of several outputs).
        node: the call that produces it; ``index`` its position among that call's outputs.
    """

    def __init__(self, shape: Shape, dtype: str, node: Node, index: int, name: str) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{self.name} is a symbolic tensor (a placeholder in a model graph), not an array; build "
                        "a model with rnnkit.models.Model(inputs, outputs) and call it on arrays")

    # A symbolic tensor is a graph input or output, never a number: no truth value, no hash by value.
    __hash__ = object.__hash__


class Node:
    """One call of a layer in a graph.

    Attributes:
        layer: the layer called.
        args: the inputs as given (a tensor, or a list/dict of tensors).
        tensor_kwargs: keyword arguments holding tensors (``initial_state``), as given.
        kwargs: the other keyword arguments (``training`` is not recorded).
        outputs: the output tensors, flat; ``output_structure`` says how they were returned.
    """

    def __init__(self, layer: Any, args: Any, tensor_kwargs: Dict[str, Any], kwargs: Dict[str, Any]) -> None:
        self.layer = layer
        self.args = args
        self.tensor_kwargs = tensor_kwargs
        self.kwargs = kwargs
        self.outputs: List[SymbolicTensor] = []
        self.output_structure: Any = None

    @property
    def inputs(self) -> List[SymbolicTensor]:
        """Every input tensor, flat: the arguments', then the keyword arguments'."""
        return flatten(self.args) + flatten(list(self.tensor_kwargs.values()))

    @property
    def is_input(self) -> bool:
        return not self.inputs


def flatten(structure: Any) -> List[Any]:
    """The leaves of nested lists, tuples and dicts (dicts in key order as given)."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in flatten(item)]
    return [structure]


def pack_like(structure: Any, leaves: List[Any]) -> Any:
    """``leaves`` (as ``flatten`` gives them) put back into ``structure``'s shape."""
    iterator = iter(leaves)

    def pack(item: Any) -> Any:
        if isinstance(item, (list, tuple)):
            return [pack(x) for x in item]
        if isinstance(item, dict):
            return {k: pack(v) for k, v in item.items()}
        return next(iterator)

    return pack(structure)


def is_symbolic(value: Any) -> bool:
    return isinstance(value, SymbolicTensor)


def any_symbolic(*structures: Any) -> bool:
    return any(is_symbolic(leaf) for s in structures for leaf in flatten(s))


def _shapes(structure: Any) -> Any:
    return pack_like(structure, [t.shape for t in flatten(structure)])


def _is_shape(value: Any) -> bool:
    return isinstance(value, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in value)


def _check_compatible(layer: Any, shape: Shape) -> None:
    """A built layer called again on a tensor of another feature size (or, for a layer that
    needs one rank, another rank) is refused here, not when the model runs."""
    built: Any = getattr(layer, "input_shape", None)
    if not (_is_shape(built) and _is_shape(shape)):
        return
    rank = getattr(layer, "input_rank", None)
    if rank is not None and len(shape) != rank:
        raise ValueError(f"{layer.name}: it needs inputs of rank {rank}, like {built}, and cannot be called on a "
                         f"tensor of shape {shape}")
    if built[-1] is not None and shape[-1] is not None and built[-1] != shape[-1]:
        raise ValueError(f"{layer.name}: it was built for inputs of shape {built} and cannot be called on a "
                         f"tensor of shape {shape} (last axis {shape[-1]}, expected {built[-1]})")


def call_symbolic(layer: Any, args: Any, kwargs: Dict[str, Any]) -> Any:
    """Records ``layer(args, **kwargs)`` on symbolic tensors and returns its symbolic outputs."""
    leaves = flatten(args)
    if not all(is_symbolic(leaf) for leaf in leaves):
        raise TypeError(f"{layer.name}: called on a mix of symbolic tensors and arrays; in a model graph every "
                        "input must come from rnnkit.layers.Input or another layer")
    kwargs = {k: v for k, v in kwargs.items() if k not in ("training", "mask")}
    tensor_kwargs = {k: v for k, v in kwargs.items() if any_symbolic(v)}
    for name, value in tensor_kwargs.items():
        if not all(is_symbolic(leaf) for leaf in flatten(value)):
            raise TypeError(f"{layer.name}: '{name}' mixes symbolic tensors and arrays")
    other = {k: v for k, v in kwargs.items() if k not in tensor_kwargs}
    shapes = _shapes(args)
    if layer.built:
        if _is_shape(shapes):
            _check_compatible(layer, shapes)
    else:
        layer.build(shapes)
    output_shapes = layer.compute_output_shape(shapes)
    node = Node(layer, args, tensor_kwargs, other)
    several = isinstance(output_shapes, list)
    flat = list(output_shapes) if several else [output_shapes]
    dtype = layer.dtype
    node.outputs = [SymbolicTensor(shape, dtype, node, k, layer.name if not several else f"{layer.name}_{k}")
                    for k, shape in enumerate(flat)]
    node.output_structure = list(range(len(flat))) if several else 0
    layer._inbound_nodes.append(node)
    return list(node.outputs) if several else node.outputs[0]
