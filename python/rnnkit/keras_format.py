"""Keras 3's own files: ``.keras`` archives and ``.weights.h5`` weights, read and written.

    model = rnnkit.models.load_model("made_by_keras.keras")       # any Keras 3 .keras file
    model.load_weights("made_by_keras.weights.h5")
    rnnkit.saving.save_keras_model(model, "for_keras.keras")       # keras.saving.load_model reads it
    model.save_weights("for_keras.weights.h5")

A ``.keras`` archive (Keras 3) is a zip of ``metadata.json``, ``config.json`` (the model's
config, every object as ``{"module", "class_name", "config", "registered_name"}``) and
``model.weights.h5``, where each layer's variables sit under ``layers/<name>/vars/0, 1, ...``
(``<name>`` the snake-case class name, ``_1``, ``_2`` for the next of a class; sub-layers under
``cell``, ``forward_layer``, ``backward_layer``, ``layer``). Keras' weight layouts are rnnkit's, so
the arrays load as they are.

Reading maps Keras' classes to rnnkit's by name; a layer or option rnnkit does not have (a
quantization, a Keras operation in a functional graph other than the masks it derives itself) is
a :class:`~rnnkit.saving.ModelFileError` naming it. Nothing in the file is run: configs are
data, arrays are read by h5py. The HDF5 part needs h5py (``pip install "rnnkit[keras]"``), and
says so when it is missing.
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import constraints, initializers, regularizers
from ._arguments import snake_case

__all__ = ["is_keras_archive", "load_keras_model", "load_keras_weights", "save_keras_model", "save_keras_weights"]

# Keras-only keys rnnkit accepts at these values (their defaults) and drops.
_KERAS_DEFAULTS = {"quantization_config": None, "lora_rank": None, "lora_alpha": None, "sparse": False,
                   "ragged": False, "optional": False, "input_axes": None, "output_axes": None,
                   "build_input_shape": None}
# Keras' compile settings that have no meaning for rnnkit (its steps run as they are).
_KERAS_COMPILE_ONLY = ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss")
_DROPPED_ALWAYS = ("module", "registered_name", "build_config", "shared_object_id", "compile_config")
_MAX_CONFIG_BYTES = 16 << 20


def _error(filepath: str, message: str) -> Exception:
    from .saving import ModelFileError

    return ModelFileError(f"{filepath}: {message}", filepath)


def _h5py(filepath: str) -> Any:
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{filepath}: Keras' weights are HDF5, which needs h5py: pip install 'rnnkit[keras]' "
                          "(or pip install h5py)") from None
    return h5py


def is_keras_archive(filepath: str) -> bool:
    """Whether ``filepath`` is a zip holding Keras 3's ``model.weights.h5`` and ``config.json``."""
    try:
        with zipfile.ZipFile(filepath) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return {"config.json", "model.weights.h5"} <= names


# ------------------------------------------------------------------------ config: Keras -> rnnkit
def _from_keras(value: Any, filepath: str) -> Any:
    """A Keras config as rnnkit's: objects lose Keras' module and registration keys, dtype
    policies become their dtype names, tensors in inbound nodes rnnkit's ``__tensor__``."""
    if isinstance(value, list):
        return [_from_keras(v, filepath) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("class_name") == "__keras_tensor__":
        return {"__tensor__": list(value["config"]["keras_history"])}
    if value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and "config" in value:
        return value["config"]["name"]
    out = {}
    for key, item in value.items():
        if key in _DROPPED_ALWAYS:
            continue
        if key in _KERAS_DEFAULTS:
            if item != _KERAS_DEFAULTS[key]:
                raise _error(filepath, f"'{key}' = {item!r} has no rnnkit equivalent yet")
            continue
        out[key] = _from_keras(item, filepath)
    return out


def _input_layer(config: Dict[str, Any]) -> Dict[str, Any]:
    config = dict(config)
    batch_shape = config.pop("batch_shape", None)
    if batch_shape is not None:
        config["shape"], config["batch_size"] = list(batch_shape[1:]), batch_shape[0]
    return config


def _is_operation(layer: Dict[str, Any]) -> bool:
    """A Keras operation (keras.src.ops...) recorded in a functional graph, not a layer."""
    return str(layer.get("module", "")).startswith("keras.src.ops")


def _translate_model(config: Dict[str, Any], filepath: str) -> Dict[str, Any]:
    """``{"class_name", "config"}`` of the rnnkit model for a Keras model config."""
    class_name = config.get("class_name")
    if class_name not in ("Sequential", "Functional", "Model"):
        raise _error(filepath, f"the model is a {class_name!r}; rnnkit reads Sequential and functional models")
    layers = config["config"]["layers"]
    operations = {layer["name"] for layer in layers if _is_operation(layer)}
    translated = []
    for layer in layers:
        if _is_operation(layer):
            continue
        for node in layer.get("inbound_nodes", []):
            kwargs = node.get("kwargs", {})
            # rnnkit derives masks (Embedding mask_zero, Masking) and the training flag itself.
            for key in ("mask", "training"):
                kwargs.pop(key, None)
            used = {t["config"]["keras_history"][0] for t in _tensors(node)}
            if used & operations:
                raise _error(filepath, f"layer {layer['name']!r} takes the output of the Keras operation(s) "
                                       f"{sorted(used & operations)}, which rnnkit has no layer for")
        entry = _from_keras(layer, filepath)
        if entry["class_name"] == "InputLayer":
            entry["config"] = _input_layer(entry["config"])
        for node in entry.get("inbound_nodes", []):
            args = node.get("args", [])
            node["args"] = args[0] if len(args) == 1 else args
        translated.append(entry)
    out = {key: _from_keras(v, filepath) for key, v in config["config"].items() if key != "layers"}
    out["layers"] = translated
    for key, single in (("input_layers", "single_input"), ("output_layers", "single_output")):
        if key in out:  # Keras writes one tensor as a flat [name, node, index]
            flat = bool(out[key]) and not isinstance(out[key][0], list)
            out[key] = [out[key]] if flat else out[key]
            out.setdefault(single, flat)
    return {"class_name": "Sequential" if class_name == "Sequential" else "Model", "config": out}


def _tensors(value: Any) -> List[Dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [value]
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, list):
        return [t for v in value for t in _tensors(v)]
    return []


# ------------------------------------------------------------------------ weights: h5 layout
def _layer_keys(layers: Sequence[Any]) -> List[Tuple[str, Any]]:
    """(h5 key, layer) for ``layers`` in Keras' ``model.layers`` order (a functional model's
    input layers included, a Sequential's not): the snake-case class name, then ``_1``, ``_2``
    ... for the next layers of the same class."""
    used: Dict[str, int] = {}
    keys = []
    for layer in layers:
        base = snake_case(type(layer).__name__)
        count = used.get(base, -1) + 1
        used[base] = count
        keys.append((base if count == 0 else f"{base}_{count}", layer))
    return keys


def _layer_names(config: Dict[str, Any]) -> List[str]:
    """The names of the layers (not the operations, nor a Sequential's input) of a model config."""
    sequential = config["class_name"] == "Sequential"
    return [layer["config"]["name"] if "name" not in layer else layer["name"] for layer in config["config"]["layers"]
            if not _is_operation(layer) and not (sequential and layer["class_name"] == "InputLayer")]


_SUBLAYERS = ("cell", "forward_layer", "backward_layer", "layer")


def _sub_layers(layer: Any) -> List[Tuple[str, Any]]:
    """(h5 key, sub-layer) of a layer's nested layers, in its weights' order."""
    found = []
    for key in _SUBLAYERS:
        sub = getattr(layer, key, None)
        if sub is not None and hasattr(sub, "get_weights") and sub is not layer:
            found.append((key, sub))
    return found


def _own_weights(layer: Any) -> List[Any]:
    nested = {id(v) for _, sub in _sub_layers(layer) for v in sub.weights}
    return [v for v in layer.weights if id(v) not in nested]


def _read_group(group: Any, layer: Any, path: str, filepath: str) -> List[Tuple[Any, np.ndarray]]:
    """(variable, array) for the layer and its sub-layers from their h5 group."""
    pairs = []
    own = _own_weights(layer)
    stored = group.get("vars", {})
    if len(stored) != len(own):
        raise _error(filepath, f"{path}/vars holds {len(stored)} arrays; {layer.name} has {len(own)} weights")
    for k, variable in enumerate(own):
        array = np.asarray(stored[str(k)])
        if array.shape != tuple(variable.shape):
            raise _error(filepath, f"{path}/vars/{k} has shape {array.shape}; {variable.path} has {variable.shape}")
        pairs.append((variable, array))
    for key, sub in _sub_layers(layer):
        if key not in group:
            raise _error(filepath, f"{path} has no '{key}' for the weights of {sub.name}")
        pairs += _read_group(group[key], sub, f"{path}/{key}", filepath)
    return pairs


def _read_weights(layers: Sequence[Any], handle: Any, filepath: str) -> None:
    h5py = _h5py(filepath)
    with h5py.File(handle, "r") as f:
        if "layers" not in f:
            raise _error(filepath, "no 'layers' group: not a Keras 3 weights file")
        stored = f["layers"]
        pairs = []
        for key, layer in _layer_keys(layers):
            if not layer.weights:
                continue
            if key not in stored:
                raise _error(filepath, f"no weights for layer {layer.name!r} (expected group layers/{key})")
            pairs += _read_group(stored[key], layer, f"layers/{key}", filepath)
    for variable, array in pairs:
        variable.assign(array)  # assign casts to the variable's dtype


def _write_group(group: Any, layer: Any) -> None:
    variables = group.create_group("vars")
    variables.attrs["name"] = layer.name
    for k, variable in enumerate(_own_weights(layer)):
        variables.create_dataset(str(k), data=np.asarray(variable.value))
    for key, sub in _sub_layers(layer):
        _write_group(group.create_group(key), sub)


def _write_weights(model: Any, handle: Any, filepath: str) -> None:
    h5py = _h5py(filepath)
    with h5py.File(handle, "w") as f:
        stored = f.create_group("layers")
        for key, layer in _layer_keys(model.layers):
            _write_group(stored.create_group(key), layer)
        f.create_group("vars").attrs["name"] = model.name


# ------------------------------------------------------------------------ public entry points
def load_keras_weights(model: Any, filepath: str) -> None:
    """Loads a Keras 3 ``.weights.h5`` file (``keras_model.save_weights``) into a built rnnkit
    model of the same layers."""
    _read_weights(model.layers, filepath, filepath)


def save_keras_weights(model: Any, filepath: str) -> None:
    """Writes the model's weights as Keras 3's ``.weights.h5`` (``keras_model.load_weights`` reads it)."""
    _write_weights(model, filepath, filepath)


def load_keras_model(filepath: str, custom_objects: Optional[Dict[str, type]] = None, compile: bool = True) -> Any:
    """The rnnkit model of a Keras 3 ``.keras`` archive, weights loaded (and compiled, when the
    archive holds a compile config and ``compile``)."""
    from . import layers as layers_module

    with zipfile.ZipFile(filepath) as archive:
        info = archive.getinfo("config.json")
        if info.file_size > _MAX_CONFIG_BYTES:
            raise _error(filepath, f"config.json is {info.file_size} bytes, more than a model config can need")
        try:
            config = json.loads(archive.read("config.json"))
        except ValueError as error:
            raise _error(filepath, f"config.json is not JSON: {error}") from None
        weights = io.BytesIO(archive.read("model.weights.h5"))
    try:
        model = layers_module.deserialize(_translate_model(config, filepath), custom_objects)
    except (KeyError, TypeError, ValueError) as error:
        if type(error).__name__ == "ModelFileError":
            raise
        raise _error(filepath, f"its model config does not map to rnnkit's layers: {error}") from None
    if not model.built:
        raise _error(filepath, "the model in the file has no input shape; rnnkit cannot build it")
    by_name = {layer.name: layer for layer in model.layers}
    _read_weights([by_name[name] for name in _layer_names(config)], weights, filepath)
    compile_config = config.get("compile_config")
    if compile and compile_config:
        compile_config = {k: v for k, v in _from_keras(compile_config, filepath).items()
                          if k not in _KERAS_COMPILE_ONLY}
        model._compile_from_config(compile_config, custom_objects)
    return model


def _keras_module(class_name: str) -> str:
    """The Keras module of an object of rnnkit's config, by the registry that names its class."""
    registries = (("keras.initializers", initializers._CLASSES), ("keras.regularizers", regularizers._CLASSES),
                  ("keras.constraints", constraints._CLASSES))
    for module, registry in registries:
        if class_name in registry:
            return module
    return "keras.layers"


def _to_keras(value: Any) -> Any:
    """rnnkit's config objects in Keras' form (module and registered_name on every object)."""
    if isinstance(value, list):
        return [_to_keras(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return {"class_name": "__keras_tensor__", "config": {"keras_history": list(value["__tensor__"])}}
    if "class_name" in value and "config" in value:
        class_name = value["class_name"]
        out = {"module": _keras_module(class_name), "class_name": class_name,
               "config": {k: _to_keras(v) for k, v in value["config"].items()}, "registered_name": None}
        for key in ("name", "inbound_nodes"):
            if key in value:
                out[key] = _to_keras(value[key])
        return out
    return {k: _to_keras(v) for k, v in value.items()}


def _keras_model_config(model: Any) -> Dict[str, Any]:
    from . import layers as layers_module

    config: Dict[str, Any] = _to_keras(layers_module.serialize(model))
    if config["class_name"] == "Sequential":
        config["module"] = "keras"
    else:
        config["module"], config["class_name"] = "keras.src.models.functional", "Functional"
        inner = config["config"]
        for key, single in (("input_layers", "single_input"), ("output_layers", "single_output")):
            if inner.pop(single, False):
                inner[key] = inner[key][0]  # one tensor: Keras writes it flat
        by_name = {layer.name: layer for layer in model.layers}
        for layer in inner["layers"]:
            for node in layer.get("inbound_nodes", []):
                node["args"] = [node.get("args")]  # Keras keeps the call's positional arguments as a list
                for tensor in _tensors(node):  # Keras records each tensor's shape and dtype
                    name, node_index, index = tensor["config"]["keras_history"]
                    symbolic = by_name[name]._inbound_nodes[node_index].outputs[index]
                    tensor["config"] = {"shape": list(symbolic.shape), "dtype": str(symbolic.dtype),
                                        "keras_history": [name, node_index, index]}
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "InputLayer":
            inner = layer["config"]
            inner["batch_shape"] = [inner.pop("batch_size", None)] + list(inner.pop("shape"))
    _drop_peepholes(config)
    return config


def _drop_peepholes(value: Any) -> None:
    """Removes the peephole options (rnnkit's alone) from every layer config under ``value``;
    a peephole LSTM is a ValueError: Keras has none."""
    if isinstance(value, dict):
        cfg = value.get("config")
        if isinstance(cfg, dict):
            if cfg.get("peephole"):
                raise ValueError("a peephole LSTM has no Keras equivalent; it cannot be written as a .keras file")
            cfg.pop("peephole", None)
            cfg.pop("peephole_initializer", None)
        for v in value.values():
            _drop_peepholes(v)
    elif isinstance(value, list):
        for v in value:
            _drop_peepholes(v)


def save_keras_model(model: Any, filepath: str) -> None:
    """Writes a built model as a Keras 3 ``.keras`` archive (config, weights; no optimizer
    state), which ``keras.saving.load_model`` reads. Options Keras' layers lack (a peephole LSTM)
    are a ValueError."""
    if not model.built:
        raise ValueError("the model is not built yet: build it (or call it on data) before saving")
    config = _keras_model_config(model)
    weights = io.BytesIO()
    _write_weights(model, weights, filepath)
    metadata = {"keras_version": "3.0.0", "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    with zipfile.ZipFile(filepath, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights.getvalue())
