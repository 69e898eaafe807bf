"""Model files without pickle: a zip archive of JSON and ``.npy`` arrays.

Format (``format_version`` 1), a zip archive holding:
- ``metadata.json``: ``{"format": "rnnkit-model" | "rnnkit-weights", "format_version": 1,
  "rnnkit_version": ..., "saved_at": ISO-8601 time}``;
- ``config.json`` (models only): ``{"class_name": the model's class, found in the layer registry, "config": model.get_config(),
  "compile_config": {...} | null}``;
- ``weights/NNNN.npy``: the model's weights in ``model.weights`` order, with
  ``weights/index.json`` listing each one's path and shape;
- ``optimizer/NNNN.npy`` and ``optimizer/index.json`` (models only, when compiled and trained):
  the optimizer's state arrays by key.

Arrays are read with ``numpy.load(allow_pickle=False)`` and configs name only rnnkit's own
classes, so loading a file cannot run code. Files are written to a temporary file in the
same folder and renamed into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import tempfile
import zipfile
from typing import Any, Dict, List, Optional

import numpy as np

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]

FORMAT_VERSION = 1


def _metadata(kind: str) -> Dict[str, Any]:
    from . import __version__

    return {"format": kind, "format_version": FORMAT_VERSION, "rnnkit_version": __version__,
            "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _write_arrays(archive: zipfile.ZipFile, folder: str, arrays: List[np.ndarray], names: List[str]) -> None:
    index = []
    for k, (name, array) in enumerate(zip(names, arrays)):
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array, order="C"), allow_pickle=False)  # keeps 0-d arrays 0-d
        archive.writestr(f"{folder}/{k:04d}.npy", buffer.getvalue())
        index.append({"name": name, "shape": list(array.shape), "dtype": str(array.dtype)})
    archive.writestr(f"{folder}/index.json", json.dumps(index, indent=1))


def _atomic_zip(filepath: str, write: Any) -> None:
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    handle, temporary = tempfile.mkstemp(prefix=".rnnkit-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                write(archive)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class _Reader:
    """Reads an rnnkit archive, turning every defect into a ValueError naming the file."""

    def __init__(self, filepath: str, kind: str) -> None:
        self.filepath = os.fspath(filepath)
        if not os.path.exists(self.filepath):
            raise FileNotFoundError(f"no such file: '{self.filepath}'")
        try:
            self.archive = zipfile.ZipFile(self.filepath)
        except zipfile.BadZipFile:
            raise ValueError(f"'{self.filepath}' is not an rnnkit {kind.split('-')[1]} file (not a zip archive)") from None
        metadata = self.json("metadata.json")
        if not isinstance(metadata, dict) or metadata.get("format") != kind:
            raise ValueError(f"'{self.filepath}' is not an rnnkit {kind.split('-')[1]} file "
                             f"(format {metadata.get('format') if isinstance(metadata, dict) else None!r})")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"'{self.filepath}' has format version {metadata.get('format_version')!r}; "
                             f"this rnnkit reads version {FORMAT_VERSION}")

    def __enter__(self) -> "_Reader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.archive.close()

    def has(self, name: str) -> bool:
        return name in self.archive.namelist()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.archive.read(name).decode("utf-8"))
        except KeyError:
            raise ValueError(f"'{self.filepath}' is damaged or not an rnnkit file: '{name}' is missing") from None
        except (UnicodeDecodeError, json.JSONDecodeError, zipfile.BadZipFile, OSError) as error:
            raise ValueError(f"'{self.filepath}' is damaged: cannot read '{name}' ({error})") from None

    def arrays(self, folder: str) -> List[tuple]:
        index = self.json(f"{folder}/index.json")
        out = []
        for k, entry in enumerate(index):
            try:
                array = np.load(io.BytesIO(self.archive.read(f"{folder}/{k:04d}.npy")), allow_pickle=False)
            except (KeyError, ValueError, OSError, zipfile.BadZipFile) as error:
                raise ValueError(f"'{self.filepath}' is damaged: cannot read array {k} of '{folder}' ({error})") from None
            if list(array.shape) != entry.get("shape"):
                raise ValueError(f"'{self.filepath}' is damaged: array {k} of '{folder}' has shape {array.shape}, "
                                 f"its index says {entry.get('shape')}")
            out.append((entry.get("name"), array))
        return out


def _set_model_weights(model: Any, named: List[tuple], filepath: str) -> None:
    variables = model.weights
    if len(named) != len(variables):
        raise ValueError(f"'{filepath}' holds {len(named)} weight arrays; the model has {len(variables)}")
    for (name, array), variable in zip(named, variables):
        if array.shape != variable.shape:
            raise ValueError(f"'{filepath}': weight '{name}' has shape {array.shape}; the model's "
                             f"'{variable.path}' has {variable.shape}")
    for (_, array), variable in zip(named, variables):
        variable.assign(array)


def save_weights(model: Any, filepath: str) -> None:
    """Writes the model's weights (in ``model.weights`` order) to an rnnkit weights archive."""
    if not model.built:
        raise ValueError("the model has no weights yet: build it (or fit it) before saving weights")

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("metadata.json", json.dumps(_metadata("rnnkit-weights")))
        _write_arrays(archive, "weights", [v.value for v in model.weights], [v.path for v in model.weights])

    _atomic_zip(filepath, write)


def load_weights(model: Any, filepath: str) -> None:
    """Sets the model's weights from an archive written by ``save_weights`` (or ``save``)."""
    with _Reader(filepath, "rnnkit-weights") if not _is_model_file(filepath) else _Reader(filepath, "rnnkit-model") as reader:
        _set_model_weights(model, reader.arrays("weights"), reader.filepath)


def _is_model_file(filepath: str) -> bool:
    try:
        with zipfile.ZipFile(os.fspath(filepath)) as archive:
            return json.loads(archive.read("metadata.json")).get("format") == "rnnkit-model"
    except Exception:  # a bad file: let the weights reader explain what is wrong with it
        return False


def save_model(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Writes the model's architecture, weights, compile settings and optimizer state."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' exists and overwrite=False")
    if not model.built:
        raise ValueError("the model is not built yet: declare its input shape, build or fit it before saving")
    config = {"class_name": type(model).__name__, "config": model.get_config(),
              "compile_config": model._compile_config}
    optimizer_state = model.optimizer.get_state() if model.compiled and model.optimizer is not None else {}

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("metadata.json", json.dumps(_metadata("rnnkit-model")))
        archive.writestr("config.json", json.dumps(config, indent=1))
        _write_arrays(archive, "weights", [v.value for v in model.weights], [v.path for v in model.weights])
        if optimizer_state:
            keys = sorted(optimizer_state)
            _write_arrays(archive, "optimizer", [np.asarray(optimizer_state[k]) for k in keys], keys)

    _atomic_zip(filepath, write)


def _cell_paths(state: Dict[str, Any], variables: List[Any]) -> Dict[str, Any]:
    """Optimizer state saved by rnnkit 0.1.0, whose recurrent weights had no cell in their path
    (``momentum/lstm/kernel``), keyed by today's paths (``momentum/lstm/lstm_cell/kernel``)."""
    renamed = dict(state)
    for variable in variables:
        layer, _, rest = variable.path.partition("/")
        cell, _, weight = rest.partition("/")
        if not weight.strip() or "/" in weight or not cell.endswith("_cell"):
            continue
        for key in list(state):
            slot, _, path = key.partition("/")
            if path == f"{layer}/{weight}" and f"{slot}/{variable.path}" not in renamed:
                renamed[f"{slot}/{variable.path}"] = renamed.pop(key)
    return renamed


def load_model(filepath: str, custom_objects: Optional[Dict[str, type]] = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Reads a model written by ``model.save``: architecture, weights and, with ``compile``,
    the optimizer (with its state), loss and metrics.

    Args:
        filepath: the file.
        custom_objects: name -> your own layer classes and metric functions used by the model.
        compile: restore the compile settings and optimizer state.
        safe_mode: accepted for Keras compatibility; rnnkit files never hold code.
    """
    from . import layers
    from .models.training import Trainer

    with _Reader(filepath, "rnnkit-model") as reader:
        config = reader.json("config.json")
        if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
            raise ValueError(f"'{reader.filepath}' is damaged: config.json holds no model config")
        model = layers.deserialize({"class_name": config.get("class_name"), "config": config["config"]},
                                   custom_objects=custom_objects)
        if not isinstance(model, Trainer):
            raise ValueError(f"'{reader.filepath}' holds a {config.get('class_name')!r}, which is not a model")
        _set_model_weights(model, reader.arrays("weights"), reader.filepath)
        compile_config = config.get("compile_config")
        if compile and compile_config:
            model._compile_from_config(compile_config, custom_objects=custom_objects)
            if reader.has("optimizer/index.json"):
                state = _cell_paths(dict(reader.arrays("optimizer")), model.trainable_weights)
                model.optimizer.set_state(state, model.trainable_weights)
    return model
