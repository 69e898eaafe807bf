"""Model(inputs, outputs): the functional API, a graph of layer calls run in topological order.

``outputs = LSTM(8)(Input((None, 3)))`` records nodes; ``Model(inputs, outputs)`` finds the
nodes between them, and ``propagate`` runs each node's layer on arrays in order. Its pullback
walks the nodes backwards and sums the gradients of a tensor used several times and of a
layer (or weight) used in several places.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .. import layers as layers_module, ops
from ..layers.base import Grads, InputLayer, Layer, Pullback, _auto_name, accumulate
from ..layers.symbolic import Node, SymbolicTensor, flatten, pack_like
from .base import BaseModel

__all__ = ["Model"]


def _describe(tensor: SymbolicTensor) -> str:
    return f"'{tensor.name}' {tensor.shape}"


def _graph(inputs: List[SymbolicTensor], outputs: List[SymbolicTensor]) -> List[Node]:
    """The nodes that compute ``outputs`` from ``inputs``, in an order where every node comes
    after the nodes it reads from; ValueError if an output needs an input not given, or an
    input is not used."""
    given = {id(t) for t in inputs}
    order: List[Node] = []
    state: Dict[int, str] = {}
    reached = set()

    def visit(tensor: SymbolicTensor, output: SymbolicTensor) -> None:
        if id(tensor) in given:
            reached.add(id(tensor))
            return
        node = tensor.node
        if node.is_input:
            raise ValueError(f"the graph is disconnected: output {_describe(output)} depends on the input "
                             f"{_describe(tensor)}, which is not among the model's inputs")
        mark = state.get(id(node))
        if mark == "done":
            return
        if mark == "open":
            raise ValueError(f"the graph has a cycle through layer '{node.layer.name}'")
        state[id(node)] = "open"
        for parent in node.inputs:
            visit(parent, output)
        state[id(node)] = "done"
        order.append(node)

    for output in outputs:
        if not isinstance(output, SymbolicTensor):
            raise TypeError(f"a model's outputs must be symbolic tensors made by layers, got {type(output).__name__}")
        visit(output, output)
    unused = [t for t in inputs if id(t) not in reached]
    if unused:
        raise ValueError(f"the outputs do not depend on the input {_describe(unused[0])}; remove it from "
                         "the model's inputs or use it")
    return order


def _keras_layer_order(inputs: List[SymbolicTensor], outputs: List[SymbolicTensor]) -> List[Layer]:
    """The layers in Keras' order, which is also the order of ``model.weights``: deepest first
    (the longest path to an output), ties in the order a depth-first walk from the outputs
    first meets them."""
    given = {id(t) for t in inputs}
    first_seen: Dict[int, int] = {}
    post_order: List[Node] = []
    finished = set()

    def walk(tensor: SymbolicTensor) -> None:
        node = tensor.node
        if id(node) in finished:
            return
        first_seen.setdefault(id(node.layer), len(first_seen))
        if not node.is_input and id(tensor) not in given:
            for parent in node.inputs:
                walk(parent)
        finished.add(id(node))
        post_order.append(node)

    for output in outputs:
        walk(output)
    node_depth: Dict[int, int] = {}
    layer_depth: Dict[int, int] = {}
    layers: Dict[int, Layer] = {}
    for node in reversed(post_order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)], node_depth[id(node)] = depth, depth
        layers[id(node.layer)] = node.layer
        if not node.is_input:
            for parent in node.inputs:
                node_depth[id(parent.node)] = max(depth + 1, node_depth.get(id(parent.node), 0))
    return sorted(layers.values(), key=lambda layer: (-layer_depth[id(layer)], first_seen[id(layer)]))


class _Step:
    """A node with the ids of the tensors it reads and writes, worked out once."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.arg_ids = [id(t) for t in flatten(node.args)]
        self.single = isinstance(node.args, SymbolicTensor)
        self.input_ids = [id(t) for t in node.inputs]
        self.output_ids = [id(t) for t in node.outputs]


class Model(BaseModel):
    """A model of any directed acyclic graph of layers, as ``keras.Model(inputs, outputs)``.

    Args:
        inputs: a tensor from ``rnnkit.layers.Input``, or a list or dict of them.
        outputs: a tensor made by calling layers on the inputs, or a list or dict of them.
        name: the model's name.

    Calling the model on arrays takes the inputs in the same structure (a dict may be keyed by
    the Input names) and returns the outputs in theirs. A model is a layer: call it on symbolic
    tensors to use it inside another model.
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: Optional[str] = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        if inputs is None or outputs is None:
            raise TypeError("rnnkit.models.Model takes inputs and outputs (the functional API): "
                            "Model(inputs=Input(...), outputs=layer(...)); subclassing Model with a call "
                            "method is not supported")
        if kwargs:
            raise TypeError(f"Model got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        super().__init__(name=name or _auto_name("Functional"), trainable=trainable)
        self._input_structure = inputs if isinstance(inputs, (list, tuple, dict)) else None
        self._output_structure = outputs if isinstance(outputs, (list, tuple, dict)) else None
        for what, structure in (("inputs", inputs), ("outputs", outputs)):
            leaves = structure.values() if isinstance(structure, dict) else (
                structure if isinstance(structure, (list, tuple)) else [structure])
            if any(isinstance(leaf, (list, tuple, dict)) for leaf in leaves):
                raise ValueError(f"a model's {what} must be a tensor, a flat list or a flat dict of tensors")
        self._inputs: List[SymbolicTensor] = flatten(inputs)
        self._outputs: List[SymbolicTensor] = flatten(outputs)
        for tensor in self._inputs:
            if not (isinstance(tensor, SymbolicTensor) and tensor.node.is_input):
                raise ValueError(f"a model's inputs must come from rnnkit.layers.Input, got {tensor!r}")
        if len({id(t) for t in self._inputs}) != len(self._inputs):
            raise ValueError("the same Input is given twice among the model's inputs")
        self._nodes = _graph(self._inputs, self._outputs)
        self._plan = [_Step(node) for node in self._nodes]
        layers = _keras_layer_order(self._inputs, self._outputs)
        self._layers = layers
        names = [layer.name for layer in layers]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"the model has several layers named {duplicated[0]!r}; names must be unique")
        self.input_shape = self._pack_inputs([t.shape for t in self._inputs])
        self.output_shape = self._pack_outputs([t.shape for t in self._outputs])
        self.built = True

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> List[Layer]:
        """Every layer (InputLayers included) in Keras' order: deepest first."""
        return list(self._layers)

    @property
    def inputs(self) -> Any:
        """The Input tensors, in the structure the model was made with (one tensor, a list or a dict)."""
        return self._pack_inputs(list(self._inputs))

    @property
    def outputs(self) -> Any:
        """The output tensors, in the structure the model was made with (one tensor, a list or a dict)."""
        return self._pack_outputs(list(self._outputs))

    @property
    def input(self) -> Any:
        """The model's inputs, as given (Keras' ``model.input``)."""
        return self.inputs

    @property
    def output(self) -> Any:
        """The model's outputs, as given (Keras' ``model.output``)."""
        return self.outputs

    @property
    def input_names(self) -> List[str]:
        """The names of the Input layers, in the order of the inputs; a dict of input arrays may
        be keyed by them."""
        return [t.node.layer.name for t in self._inputs]

    @property
    def output_names(self) -> List[str]:
        """One name per output: its layer's name, or its key when the outputs are a dict
        (Keras' names for losses and metrics)."""
        if isinstance(self._output_structure, dict):
            return list(self._output_structure)
        return [t.node.layer.name for t in self._outputs]

    @property
    def dtype(self) -> str:
        """The dtype of the first layer the graph runs after its Inputs. Setting it sets the
        dtype of every layer; the weights keep theirs."""
        first = next((node.layer for node in self._nodes), None) if hasattr(self, "_nodes") else None
        return first.dtype if first is not None else self._dtype

    @dtype.setter
    def dtype(self, value: str) -> None:
        Layer.dtype.fset(self, value)  # type: ignore[attr-defined]  # mypy reads Layer.dtype as the getter

    @property
    def input_dtype(self) -> Optional[str]:
        """The dtype of the model's Input when it has one (token ids: an integer dtype), else ``None``."""
        return self._inputs[0].dtype if len(self._inputs) == 1 else None

    def _pack_inputs(self, leaves: List[Any]) -> Any:
        return leaves[0] if self._input_structure is None else pack_like(self._input_structure, leaves)

    def _pack_outputs(self, leaves: List[Any]) -> Any:
        return leaves[0] if self._output_structure is None else pack_like(self._output_structure, leaves)

    def _flat_outputs(self, outputs: Any) -> List[Any]:
        if self._output_structure is None:
            return [outputs]
        if isinstance(self._output_structure, dict):
            return [outputs[k] for k in self._output_structure]
        return list(outputs)

    def _check_input_arrays(self, arrays: List[np.ndarray]) -> None:
        self._check_inputs(arrays)

    def _input_cast_dtypes(self) -> List[Optional[str]]:
        return [t.dtype if np.dtype(t.dtype).kind == "f" else None for t in self._inputs]

    def _build_shape(self, inputs: Any) -> Any:
        return self.input_shape

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output tensors' shapes as the graph gives them, whatever ``input_shape`` is: one
        shape for a single output, else a list in the outputs' order."""
        shapes = [t.shape for t in self._outputs]
        return self._pack_outputs(shapes) if self._output_structure is None else shapes

    # ------------------------------------------------------------------ inputs
    def _flat_inputs(self, inputs: Any) -> List[Any]:
        """The arrays in the order of the model's inputs, from an array, a list or a dict."""
        count = len(self._inputs)
        if isinstance(inputs, dict):
            names = self.input_names
            keys = list(self._input_structure) if isinstance(self._input_structure, dict) else names
            unknown = sorted(set(inputs) - set(keys) - set(names))
            missing = [k for k, n in zip(keys, names) if k not in inputs and n not in inputs]
            if unknown or missing:
                raise ValueError(f"the model's inputs are named {keys}; got {sorted(inputs)}"
                                 + (f" (missing {missing})" if missing else ""))
            return [inputs[k] if k in inputs else inputs[n] for k, n in zip(keys, names)]
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != count:
                raise ValueError(f"the model takes {count} input(s) ({', '.join(self.input_names)}), "
                                 f"got a list of {len(inputs)}")
            return list(inputs)
        if count != 1:
            raise ValueError(f"the model takes {count} inputs ({', '.join(self.input_names)}): pass a list or a "
                             "dict of arrays")
        return [inputs]

    def _input_keys(self, inputs: Dict[str, Any]) -> List[str]:
        """The keys of a dict of inputs, in the order of the model's inputs."""
        keys = list(self._input_structure) if isinstance(self._input_structure, dict) else self.input_names
        return [k if k in inputs else n for k, n in zip(keys, self.input_names)]

    def _check_inputs(self, arrays: List[Any]) -> List[np.ndarray]:
        checked, batch = [], None
        for tensor, value in zip(self._inputs, arrays):
            name = tensor.node.layer.name
            x = ops._as_array(f"input '{name}'", value)
            if x.dtype.kind not in "fiub":
                raise TypeError(f"input '{name}' must be a numeric array, got dtype {x.dtype}")
            if np.dtype(tensor.dtype).kind == "f":
                x = x.astype(tensor.dtype, copy=False)
            expected = tensor.shape
            if x.ndim != len(expected) or any(w is not None and w != g for w, g in zip(expected[1:], x.shape[1:])):
                raise ValueError(f"input '{name}' expects arrays of shape {expected}, got {x.shape}")
            if batch is not None and x.shape[0] != batch:
                raise ValueError(f"the inputs must have the same batch size: '{self._inputs[0].node.layer.name}' "
                                 f"has {batch}, '{name}' has {x.shape[0]}")
            batch = x.shape[0]
            checked.append(x)
        return checked

    # ------------------------------------------------------------------ computation
    def propagate(self, inputs: Any, mask: Any = None, training: bool = False,
                  **kwargs: Any) -> Tuple[Any, Any, Pullback]:
        """The outputs, their masks and the pullback, node after node."""
        if kwargs:
            raise TypeError(f"{self.name}: unexpected arguments {sorted(kwargs)}")
        arrays = self._check_inputs(self._flat_inputs(inputs))
        masks_in = [None] * len(arrays) if mask is None else (self._flat_inputs(mask) if len(arrays) > 1
                                                               else [mask])
        values: Dict[int, Any] = {id(t): a for t, a in zip(self._inputs, arrays)}
        masks: Dict[int, Any] = {id(t): m for t, m in zip(self._inputs, masks_in)}
        pullbacks = []
        for step in self._plan:
            if step.single:
                args, arg_masks = values[step.arg_ids[0]], masks[step.arg_ids[0]]
            else:
                args = pack_like(step.node.args, [values[i] for i in step.arg_ids])
                arg_masks = pack_like(step.node.args, [masks[i] for i in step.arg_ids])
            tensor_kwargs = {k: pack_like(v, [values[id(t)] for t in flatten(v)])
                             for k, v in step.node.tensor_kwargs.items()}
            outputs, out_mask, step_pullback = step.node.layer.propagate(args, arg_masks, training,
                                                                         **step.node.kwargs, **tensor_kwargs)
            if len(step.output_ids) == 1:
                values[step.output_ids[0]], masks[step.output_ids[0]] = outputs, out_mask
            else:
                flat_masks = list(out_mask) if isinstance(out_mask, list) else [out_mask] + [None] * (
                    len(step.output_ids) - 1)
                for i, value, m in zip(step.output_ids, flatten(outputs), flat_masks):
                    values[i], masks[i] = value, m
            pullbacks.append(step_pullback)
        outputs = self._pack_outputs([values[id(t)] for t in self._outputs])
        output_masks = self._pack_outputs([masks.get(id(t)) for t in self._outputs])

        def pullback(d_outputs: Any) -> Tuple[Any, Grads]:
            gradient: Dict[int, np.ndarray] = {}

            d_flat = flatten(d_outputs) if self._output_structure is not None else [d_outputs]
            if len(d_flat) != len(self._outputs):
                raise ValueError(f"{self.name}: the pullback takes {len(self._outputs)} output gradient(s), got "
                                 f"{len(d_flat)}")
            for tensor, d in zip(self._outputs, d_flat):
                if d is not None:  # one tensor may be several outputs: their gradients add
                    gradient[id(tensor)] = gradient[id(tensor)] + d if id(tensor) in gradient else np.asarray(d)
            grads: Grads = {}
            for step, node_pullback in zip(reversed(self._plan), reversed(pullbacks)):
                d_out = [gradient.get(i) for i in step.output_ids]
                if all(d is None for d in d_out):
                    continue  # nothing downstream of this call reaches the outputs
                d_in, node_grads = node_pullback(d_out if len(d_out) > 1 else d_out[0])
                accumulate(grads, node_grads)
                d_in_flat = flatten(d_in) if len(step.input_ids) > 1 else [d_in]
                for i, d in zip(step.input_ids, d_in_flat):
                    if d is not None:
                        gradient[i] = gradient[i] + d if i in gradient else np.asarray(d)
            d_inputs = [gradient.get(id(t)) for t in self._inputs]
            if isinstance(inputs, dict):  # the gradients mirror the inputs as given
                return dict(zip(self._input_keys(inputs), d_inputs)), grads
            return self._pack_inputs(d_inputs), grads

        return outputs, output_masks, pullback

    # ------------------------------------------------------------------ summary
    def _node_index(self) -> Dict[int, Tuple[str, int]]:
        """Each node of this model -> (its layer's name, its index among that layer's nodes here)."""
        index: Dict[int, Tuple[str, int]] = {}
        counts: Dict[str, int] = {}
        for node in [t.node for t in self._inputs] + self._nodes:
            name = node.layer.name
            index[id(node)] = (name, counts.get(name, 0))
            counts[name] = counts.get(name, 0) + 1
        return index

    def _summary_rows(self) -> List[Tuple[str, str, str, Optional[str]]]:
        index = self._node_index()
        nodes = [t.node for t in self._inputs] + self._nodes
        rows: List[Tuple[str, str, str, Optional[str]]] = []
        for node in sorted(nodes, key=lambda n: (list(self._layers).index(n.layer),
                                                 index[id(n)][1])):
            shapes = [t.shape for t in node.outputs]
            connected = ", ".join(f"{index[id(t.node)][0]}[{index[id(t.node)][1]}][{t.index}]" for t in node.inputs)
            layer = node.layer
            rows.append((f"{layer.name} ({type(layer).__name__})", str(shapes[0] if len(shapes) == 1 else shapes),
                         f"{layer.count_params():,}", connected or "-"))
        return rows

    # ------------------------------------------------------------------ config
    def get_config(self) -> Dict[str, Any]:
        """Keras' functional config: every layer with the calls ("inbound_nodes") that link it,
        tensors named ``[layer name, node index, tensor index]``."""
        index = self._node_index()

        def ref(tensor: SymbolicTensor) -> List[Any]:
            name, k = index[id(tensor.node)]
            return [name, k, tensor.index]

        def encode(structure: Any) -> Any:
            return pack_like(structure, [{"__tensor__": ref(t)} for t in flatten(structure)])

        entries = []
        for layer in self._layers:
            nodes = [n for n in self._nodes if n.layer is layer]
            entries.append(layers_module.serialize(layer) | {
                "name": layer.name,
                "inbound_nodes": [{"args": encode(n.args), "kwargs": {**n.kwargs, **{
                    k: encode(v) for k, v in n.tensor_kwargs.items()}}} for n in nodes]})

        def io(structure: Any, tensors: List[SymbolicTensor]) -> Any:
            refs = [ref(t) for t in tensors]
            return refs if structure is None else pack_like(structure, refs)

        return {"name": self.name, "trainable": self.trainable, "layers": entries,
                "input_layers": io(self._input_structure, self._inputs),
                "output_layers": io(self._output_structure, self._outputs),
                "single_input": self._input_structure is None, "single_output": self._output_structure is None}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None) -> Model:
        """Rebuilds the graph from ``get_config()``; only registered classes can be named."""
        made: Dict[str, Layer] = {}
        tensors: Dict[Tuple[str, int], List[SymbolicTensor]] = {}
        pending: List[Tuple[Layer, int, Dict[str, Any]]] = []
        for entry in config.get("layers", []):
            layer = layers_module.deserialize(entry, custom_objects=custom_objects)
            made[layer.name] = layer
            if isinstance(layer, InputLayer):
                tensors[(layer.name, 0)] = [layer.output]
            pending += [(layer, k, node) for k, node in enumerate(entry.get("inbound_nodes", []))]

        def lookup(reference: List[Any]) -> SymbolicTensor:
            name, k, t = reference
            tensor: SymbolicTensor = tensors[(name, k)][t]
            return tensor

        def decode(structure: Any) -> Any:
            if isinstance(structure, dict) and set(structure) == {"__tensor__"}:
                return lookup(structure["__tensor__"])
            if isinstance(structure, list):
                return [decode(x) for x in structure]
            if isinstance(structure, dict):
                return {k: decode(v) for k, v in structure.items()}
            return structure

        while pending:  # a node is made once every tensor it reads exists
            progress = False
            for item in list(pending):
                layer, k, node = item
                try:
                    args = decode(node["args"])
                    kwargs = {key: decode(value) for key, value in node.get("kwargs", {}).items()}
                except KeyError:
                    continue
                outputs = layer(args, **kwargs)
                tensors[(layer.name, k)] = outputs if isinstance(outputs, list) else [outputs]
                pending.remove(item)
                progress = True
            if not progress:
                raise ValueError("the model config refers to tensors that no layer makes")

        def io(structure: Any, single: bool) -> Any:
            if single:
                return lookup(structure[0])
            if isinstance(structure, dict):
                return {k: lookup(v) for k, v in structure.items()}
            return [lookup(r) for r in structure]

        return cls(io(config["input_layers"], config.get("single_input", False)),
                   io(config["output_layers"], config.get("single_output", False)),
                   name=config.get("name"), trainable=config.get("trainable", True))
