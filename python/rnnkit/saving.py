"""Model files without pickle: a zip archive of JSON and ``.npy`` arrays.

Format (``format_version`` 1), a zip archive holding:

- ``metadata.json``: ``{"format": "rnnkit-model" | "rnnkit-weights", "format_version": 1,
  "rnnkit_version": ..., "saved_at": ISO-8601 time}``;
- ``config.json`` (models only): ``{"class_name": the model's class, found in the layer registry,
  "config": model.get_config(), "compile_config": {...} | null}``;
- ``weights/NNNN.npy``: the model's weights in ``model.weights`` order, with
  ``weights/index.json`` listing each one's path, shape and dtype;
- ``optimizer/NNNN.npy`` and ``optimizer/index.json`` (models only, when compiled): the
  optimizer's state arrays by key (``iterations``, ``learning_rate`` for a float rate, and
  ``<slot>/<variable path>`` for the variables the optimizer has updated so far; slots of
  variables no longer in the model, or of another shape than the model's variable of that
  path, are left out, since they can never be used again).

Every file ``save`` writes loads again: before compiling, after compiling (an optimizer that
never ran has no slots; they are created at its first step, as in the saved model), after
training, after ``pop``/``add``.

Safety. Arrays are never read with pickle, and configs name only rnnkit's own classes (and
your ``custom_objects``), so loading a file cannot run code. Files are written to a temporary
file in the same folder (``.rnnkit-<host hash>-<pid>-<random>.tmp``) and renamed into place,
so a crash never leaves half a file; a later save into that folder removes such temporary
files left by killed saves (those older than an hour, or written on this host by a process
that no longer runs), never those of saves still running. Loading checks before it allocates:
JSON members may hold at most ``MAX_JSON_BYTES`` (16 MiB), the weights index at most
``MAX_ARRAY_BYTES`` (8 GiB), a config describing more parameters than the weights index lists is
refused before the model is built, every array's ``.npy`` header (read from the member stream,
not with ``np.load``) must declare the shape of the model's weight and a real floating-point
dtype (an integer for ``iterations``), and each member is read in bounded chunks, never past the
size its header implies.

Errors. A damaged or foreign file, or one that does not fit the model, raises
:class:`ModelFileError` (a ``ValueError``) naming the file and what is wrong with it, whatever
the damage (truncated or corrupt members, wrong sizes, bad JSON, configs of the wrong types,
wrong dtypes or shapes); its ``filepath`` attribute holds the path. A missing file raises
``FileNotFoundError``; other operating-system errors opening it (permissions, a folder) pass
through as ``OSError``, and ``MemoryError`` is never hidden.

Non-finite weights. A weight holding NaN or infinite values loads, with a ``RuntimeWarning``
naming the file and the weight (a model that diverged in training is still worth inspecting).
A saved learning rate that is NaN, infinite or negative is refused (``ModelFileError``): the
next training step would turn every weight to NaN, and no optimizer can be made with it.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import math
import os
import re
import socket
import stat
import tempfile
import time
import warnings
import zipfile
import zlib
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.lib import format as npy_format

from . import ops

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "save_keras_model", "ModelFileError"]

FORMAT_VERSION = 1
MAX_JSON_BYTES = 16 * 2**20   # metadata.json, config.json and each index.json
MAX_ARRAY_BYTES = 2**33       # all the arrays a weights or optimizer index may declare together
MAX_NPY_HEADER_BYTES = 2**16  # magic, header length and header of one .npy member
STALE_TEMPORARY_SECONDS = 3600
_CHUNK = 2**20
_MAX_INDEX_ENTRIES = 100_000
_MAX_DIMENSIONS = 32


class ModelFileError(ValueError):
    """A model or weights file is damaged, foreign or does not fit the model; the message names
    the file (also in ``filepath``) and what is wrong."""

    def __init__(self, message: str, filepath: Optional[str] = None) -> None:
        super().__init__(message)
        self.filepath = filepath


# ---------------------------------------------------------------------------------- writing
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


_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
# mkstemp's random part is 8 characters of [a-z0-9_]; files of rnnkit < 0.2 have no host and pid.
_TEMPORARY = re.compile(r"\.rnnkit-(?:(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]{1,10})-)?[a-z0-9_]{8}\.tmp")


def _process_runs(pid: int) -> bool:
    """Whether a process of this id runs here (True when unsure, so that nothing is removed)."""
    if pid == os.getpid():
        return True
    if os.name == "nt" or pid <= 0:  # on Windows os.kill(pid, 0) would send CTRL_C_EVENT
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it runs, as another user
        return True
    return True


def _remove_stale_temporaries(folder: str) -> None:
    """Removes ``.rnnkit-*.tmp`` files of killed saves from ``folder``: those not modified for
    ``STALE_TEMPORARY_SECONDS``, and those written on this host by a process that has ended.
    A running save's file (its process alive, or written elsewhere and recently) is kept."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    now = time.time()
    for name in names:
        match = _TEMPORARY.fullmatch(name)
        if match is None:
            continue
        path = os.path.join(folder, name)
        try:
            status = os.lstat(path)
            if not stat.S_ISREG(status.st_mode):
                continue
            stale = now - status.st_mtime > STALE_TEMPORARY_SECONDS
            if not stale and match["pid"] is not None and match["host"] == _HOST:
                stale = not _process_runs(int(match["pid"]))
            if stale:
                os.unlink(path)
        except OSError:  # gone already, or not ours to remove
            continue


def _atomic_zip(filepath: str, write: Any) -> None:
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    _remove_stale_temporaries(folder)
    handle, temporary = tempfile.mkstemp(prefix=f".rnnkit-{_HOST}-{os.getpid()}-", suffix=".tmp", dir=folder)
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


# ---------------------------------------------------------------------------------- reading
class _Counting:
    """A read-only stream that counts the bytes read through it."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        self.count += len(data)
        return data


class _Entry:
    def __init__(self, name: str, shape: Tuple[int, ...], dtype: Optional[np.dtype]) -> None:
        self.name, self.shape, self.dtype = name, shape, dtype

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def _is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f" and dtype.itemsize in (2, 4, 8)


def _is_integer(dtype: np.dtype) -> bool:
    return dtype.kind in "iu" and dtype.itemsize <= 8


class _Reader:
    """Reads an rnnkit archive, turning every defect into a ModelFileError naming the file."""

    def __init__(self, filepath: Any, kinds: Sequence[str]) -> None:
        self.filepath = os.fspath(filepath)
        if not os.path.exists(self.filepath):
            raise FileNotFoundError(f"no such file: '{self.filepath}'")
        self.noun = kinds[0].split("-")[1]
        # Permissions, folders: OSError, not a file defect. close() shuts it.
        self.stream = open(self.filepath, "rb")  # noqa: SIM115
        self.archive: Optional[zipfile.ZipFile] = None
        try:
            with self.errors():
                self._open(kinds)
        except BaseException:
            self.close()
            raise

    def _open(self, kinds: Sequence[str]) -> None:
        try:
            self.archive = zipfile.ZipFile(self.stream)
        except zipfile.BadZipFile:
            raise self.error(f"is not an rnnkit {self.noun} file (not a zip archive)") from None
        metadata = self.json("metadata.json")
        if not isinstance(metadata, dict) or metadata.get("format") not in kinds:
            found = metadata.get("format") if isinstance(metadata, dict) else None
            raise self.error(f"is not an rnnkit {self.noun} file (format {found!r:.100})")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise self.error(f"has format version {metadata.get('format_version')!r:.100}; "
                             f"this rnnkit reads version {FORMAT_VERSION}")

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()
        self.stream.close()

    @property
    def _zip(self) -> zipfile.ZipFile:
        """The archive, open from the end of ``__init__`` on."""
        assert self.archive is not None
        return self.archive

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def error(self, message: str) -> ModelFileError:
        return ModelFileError(f"'{self.filepath}' {message}", self.filepath)

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Any exception a damaged file provokes becomes a ModelFileError (MemoryError and
        KeyboardInterrupt pass)."""
        try:
            yield
        except (ModelFileError, MemoryError):
            raise
        except RecursionError:
            raise self.error("is damaged: its contents are nested too deeply to read") from None
        except Exception as error:
            raise self.error(f"is damaged or not a valid rnnkit {self.noun} file: cannot load it "
                             f"({type(error).__name__}: {error})") from error

    @contextlib.contextmanager
    def _member_errors(self, name: str) -> Iterator[None]:
        try:
            yield
        except ModelFileError:
            raise
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError, RuntimeError,
                NotImplementedError) as error:
            raise self.error(f"is damaged: cannot read '{name}' ({type(error).__name__}: {error})") from None

    # ------------------------------------------------------------------ members
    def has(self, name: str) -> bool:
        return name in self._zip.namelist()

    def member(self, name: str) -> zipfile.ZipInfo:
        try:
            return self._zip.getinfo(name)
        except KeyError:
            raise self.error(f"is damaged or not an rnnkit file: '{name}' is missing") from None

    def read(self, name: str, limit: int) -> bytes:
        """The member's bytes, refused if it declares or inflates to more than ``limit``."""
        info = self.member(name)
        if info.file_size > limit:
            raise self.error(f"is damaged or hostile: '{name}' declares {info.file_size} bytes, "
                             f"more than the {limit} allowed")
        chunks, total = [], 0
        with self._member_errors(name), self._zip.open(info) as stream:
            while True:
                chunk = stream.read(min(_CHUNK, limit + 1 - total))
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise self.error(f"is damaged or hostile: '{name}' inflates to more than the {limit} "
                                     "bytes allowed")
                chunks.append(chunk)
        if total != info.file_size:
            raise self.error(f"is damaged: '{name}' holds {total} bytes; the archive says {info.file_size}")
        return b"".join(chunks)

    def json(self, name: str) -> Any:
        data = self.read(name, MAX_JSON_BYTES)
        try:
            return json.loads(data.decode("utf-8"))
        except RecursionError:
            raise self.error(f"is damaged: '{name}' is nested too deeply") from None
        except (UnicodeDecodeError, ValueError) as error:
            raise self.error(f"is damaged: cannot read '{name}' ({error})") from None

    def index(self, folder: str) -> List[_Entry]:
        """``<folder>/index.json``, checked: a list of ``{"name", "shape", "dtype"}`` whose
        arrays together hold at most ``MAX_ARRAY_BYTES``."""
        name = f"{folder}/index.json"
        raw = self.json(name)
        if not isinstance(raw, list):
            raise self.error(f"is damaged: '{name}' holds a {type(raw).__name__}, not a list")
        if len(raw) > _MAX_INDEX_ENTRIES:
            raise self.error(f"is damaged: '{name}' lists {len(raw)} arrays")
        entries, total = [], 0
        for k, item in enumerate(raw):
            if not isinstance(item, dict):
                raise self.error(f"is damaged: entry {k} of '{name}' is a {type(item).__name__}, not a dict")
            label, shape, dtype = item.get("name"), item.get("shape"), item.get("dtype")
            if not isinstance(label, str):
                raise self.error(f"is damaged: entry {k} of '{name}' has no name")
            if not isinstance(shape, list) or len(shape) > _MAX_DIMENSIONS or not all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
                raise self.error(f"is damaged: entry {k} ('{label:.100}') of '{name}' has the invalid shape "
                                 f"{shape!r:.100}")
            if dtype is not None:
                try:
                    dtype = np.dtype(dtype) if isinstance(dtype, str) and len(dtype) < 32 else None
                except (TypeError, ValueError):
                    dtype = None
                if dtype is None or not (_is_float(dtype) or _is_integer(dtype)):
                    raise self.error(f"is damaged: entry {k} ('{label:.100}') of '{name}' has the dtype "
                                     f"{item.get('dtype')!r:.100}; expected a real number type")
            entry = _Entry(label, tuple(shape), dtype)
            total += entry.size * (dtype.itemsize if dtype is not None else 8)
            entries.append(entry)
        if total > MAX_ARRAY_BYTES:
            raise self.error(f"is damaged or too large: '{name}' declares {total} bytes of arrays, more than "
                             f"the {MAX_ARRAY_BYTES} rnnkit reads")
        return entries

    def array(self, folder: str, k: int, entry: _Entry, shape: Tuple[int, ...], integer: bool = False,
              into: Optional[np.ndarray] = None) -> np.ndarray:
        """Array ``k`` of ``folder``: its ``.npy`` header is read and checked (real float dtype,
        or integer with ``integer``; ``shape``; member size) before its data is read. The data
        goes straight into ``into`` (a C-contiguous array of ``shape``), which is returned, when
        the file holds it in the same dtype and order; otherwise into a new array."""
        member = f"{folder}/{k:04d}.npy"

        def bad(detail: str) -> ModelFileError:
            return self.error(f"is damaged: cannot read array {k} of '{folder}' ('{member}', "
                              f"'{entry.name:.100}'): {detail}")

        info = self.member(member)
        limit = MAX_NPY_HEADER_BYTES + math.prod(shape) * 8
        if info.file_size > limit:
            raise bad(f"it declares {info.file_size} bytes, more than the {limit} an array of shape {shape} needs")
        with self._member_errors(member), self._zip.open(info) as raw:
            stream = _Counting(raw)
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                header = npy_format.read_array_header_1_0(stream, max_header_size=MAX_NPY_HEADER_BYTES)
            elif version == (2, 0):
                header = npy_format.read_array_header_2_0(stream, max_header_size=MAX_NPY_HEADER_BYTES)
            else:
                raise bad(f"unsupported .npy format version {version}")
            stored_shape, fortran_order, dtype = header
            wanted = "integers" if integer else "real floating-point numbers (float16, float32 or float64)"
            if dtype.hasobject or not (_is_integer(dtype) if integer else _is_float(dtype)):
                raise bad(f"it holds values of dtype {dtype}; expected {wanted}")
            if entry.dtype is not None and (dtype.kind, dtype.itemsize) != (entry.dtype.kind, entry.dtype.itemsize):
                raise bad(f"it holds {dtype} values; its index says {entry.dtype}")
            if tuple(stored_shape) != tuple(shape):
                raise bad(f"its header declares shape {tuple(stored_shape)}; expected {tuple(shape)}")
            nbytes = math.prod(shape) * dtype.itemsize
            if info.file_size != stream.count + nbytes:
                raise bad(f"it declares {info.file_size} bytes; its header implies {stream.count + nbytes}")
            direct = into is not None and into.dtype == dtype and not fortran_order and into.flags.c_contiguous
            data: Union[np.ndarray, bytearray] = into if into is not None and direct else bytearray(nbytes)
            # numpy's stubs declare ndarray's buffer protocol for Python 3.12 on only.
            view, position = memoryview(data).cast("B"), 0  # type: ignore[arg-type]
            while position < nbytes:
                chunk = raw.read(min(_CHUNK, nbytes - position))
                if not chunk:
                    raise bad(f"it ends after {position} of its {nbytes} data bytes")
                view[position:position + len(chunk)] = chunk
                position += len(chunk)
            if raw.read(1):  # also makes zipfile check the CRC
                raise bad("it holds more bytes than its header declares")
        if isinstance(data, np.ndarray):  # read straight into ``into``
            return data
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")

    # ------------------------------------------------------------------ weights
    def weight_index(self) -> List[_Entry]:
        entries = self.index("weights")
        for k, entry in enumerate(entries):
            if entry.dtype is not None and not _is_float(entry.dtype):
                raise self.error(f"is damaged: weight {k} ('{entry.name:.100}') of 'weights/index.json' has dtype "
                                 f"{entry.dtype}; weights are real floating-point numbers")
        return entries

    def weights(self, entries: List[_Entry], variables: List[Any],
                into_variables: bool = False) -> Iterator[np.ndarray]:
        """The weight arrays, one at a time, all checked against the index and the model's
        variables before the first is read. With ``into_variables`` (a model nothing else holds
        yet) each array is read straight into its variable's value where the dtypes agree."""
        if len(entries) != len(variables):
            raise self.error(f"holds {len(entries)} weight arrays; the model has {len(variables)}")
        for k, (entry, variable) in enumerate(zip(entries, variables)):
            if entry.shape != tuple(variable.shape):
                raise self.error(f"does not fit the model: weight {k} ('{entry.name:.100}') has shape {entry.shape}; "
                                 f"the model's '{variable.path}' has {tuple(variable.shape)}")
        return self._read_weights(entries, variables, into_variables)

    def _read_weights(self, entries: List[_Entry], variables: List[Any], into_variables: bool) -> Iterator[np.ndarray]:
        for k, (entry, variable) in enumerate(zip(entries, variables)):
            array = self.array("weights", k, entry, tuple(variable.shape),
                               into=variable.value if into_variables else None)
            if not ops._all_finite(array):  # checked block by block: no temporary of the array's size
                bad = int(array.size - np.count_nonzero(np.isfinite(array)))
                warnings.warn(f"'{self.filepath}': weight '{variable.path}' (array {k}, '{entry.name}') holds {bad} "
                              "NaN or infinite value(s)", RuntimeWarning, stacklevel=4)
            yield array


# ---------------------------------------------------------------------------------- config checks
_GATES = {"LSTM": 4, "LSTMCell": 4, "GRU": 3, "GRUCell": 3, "SimpleRNN": 1, "SimpleRNNCell": 1}
_SAME_FEATURES = {"Masking", "Dropout", "Activation"}


def _positive(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _declared_features(config: Dict[str, Any]) -> int:
    for key in ("batch_input_shape", "input_shape", "batch_shape", "shape"):
        shape = config.get(key)
        if isinstance(shape, list) and shape:
            return _positive(shape[-1])
    return 0


def _implied_parameters(root: Any, custom_objects: Optional[Dict[str, Any]]) -> int:
    """A lower bound of the parameters a model config creates when built, from the sizes it
    names (recurrent kernels ``units x gates*units``, Dense biases, Embedding tables, kernels
    whose input width the config declares), computed without building anything."""
    custom = set(custom_objects or ())
    total, stack = 0, [root]
    feeds: Dict[int, int] = {}
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        name, config = node.get("class_name"), node.get("config")
        if not isinstance(name, str) or name in custom or not isinstance(config, dict):
            continue
        features = feeds.get(id(node)) or _declared_features(config)
        units = _positive(config.get("units"))
        if name in _GATES:
            gates = _GATES[name]
            total += gates * units * units + features * gates * units
        elif name == "Dense":
            total += (units if config.get("use_bias", True) is not False else 0) + features * units
        elif name == "Embedding":
            total += _positive(config.get("input_dim")) * _positive(config.get("output_dim"))
        elif name == "Bidirectional":
            for key in ("layer", "backward_layer"):
                if isinstance(config.get(key), dict):
                    feeds[id(config[key])] = features
        elif name == "Sequential" and isinstance(config.get("layers"), list):
            width = 0
            for layer in config["layers"]:
                kind = layer.get("class_name") if isinstance(layer, dict) else None
                inner = layer.get("config") if isinstance(layer, dict) else None
                if kind == "InputLayer" and isinstance(inner, dict):
                    width = _declared_features(inner)
                elif kind not in _SAME_FEATURES:
                    if width and isinstance(layer, dict):
                        feeds[id(layer)] = width
                    break
    return total


# ---------------------------------------------------------------------------------- public API
def _is_h5(filepath: Any) -> bool:
    return str(filepath).endswith(".h5")


def save_weights(model: Any, filepath: str) -> None:
    """Writes the model's weights (in ``model.weights`` order) to an rnnkit weights archive, or,
    for a name ending in ``.h5`` (``"model.weights.h5"``), as Keras 3's HDF5 weights file
    (needs h5py)."""
    if not model.built:
        raise ValueError("the model has no weights yet: build it (or fit it) before saving weights")
    if _is_h5(filepath):
        from .keras_format import save_keras_weights
        return save_keras_weights(model, filepath)

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("metadata.json", json.dumps(_metadata("rnnkit-weights")))
        _write_arrays(archive, "weights", [v.value for v in model.weights], [v.path for v in model.weights])

    _atomic_zip(filepath, write)


def load_weights(model: Any, filepath: str) -> None:
    """Sets the model's weights from an archive written by ``save_weights`` (or ``save``), or
    from Keras 3's ``.weights.h5`` (a name ending in ``.h5``; needs h5py). Raises ModelFileError
    for a damaged file or one whose weights do not fit the model (the model is then left
    unchanged)."""
    if _is_h5(filepath):
        from .keras_format import load_keras_weights
        return load_keras_weights(model, filepath)
    with _Reader(filepath, ("rnnkit-weights", "rnnkit-model")) as reader, reader.errors():
        variables = model.weights
        arrays = list(reader.weights(reader.weight_index(), variables))  # all read before any is set
        for variable, array in zip(variables, arrays):
            variable.assign(array)


def _optimizer_state(model: Any) -> Dict[str, np.ndarray]:
    """The optimizer's state, less the slots no variable of the model can use any more."""
    if not model.compiled or model.optimizer is None:
        return {}
    shapes = {v.path: tuple(v.shape) for v in model.weights}
    state = {}
    for key, array in model.optimizer.get_state().items():
        _, _, path = key.partition("/")
        if key in ("iterations", "learning_rate") or shapes.get(path) == np.shape(array):
            state[key] = np.asarray(array)
    return state


def save_model(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Writes the model's architecture, weights, compile settings and optimizer state."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' exists and overwrite=False")
    if not model.built:
        raise ValueError("the model is not built yet: declare its input shape, build or fit it before saving")
    config = {"class_name": type(model).__name__, "config": model.get_config(),
              "compile_config": model._compile_config}
    optimizer_state = _optimizer_state(model)

    def write(archive: zipfile.ZipFile) -> None:
        archive.writestr("metadata.json", json.dumps(_metadata("rnnkit-model")))
        archive.writestr("config.json", json.dumps(config, indent=1))
        _write_arrays(archive, "weights", [v.value for v in model.weights], [v.path for v in model.weights])
        if optimizer_state:
            keys = sorted(optimizer_state)
            _write_arrays(archive, "optimizer", [optimizer_state[k] for k in keys], keys)

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


def _restore_optimizer(reader: _Reader, model: Any) -> None:
    """Reads the optimizer state the compiled model's optimizer can use and sets it: every
    entry is checked (slot name, shape of the model's variable, dtype) before it is read;
    slots of variables the model no longer has (files of earlier versions) are skipped."""
    optimizer = model.optimizer
    entries = reader.index("optimizer")
    if len({e.name for e in entries}) != len(entries):
        raise reader.error("is damaged: 'optimizer/index.json' lists an entry twice")
    slot_names = set(optimizer._slot_initial_values())
    variables = {v.path: v for v in model.weights}
    by_key = _cell_paths({e.name: k for k, e in enumerate(entries)}, model.weights)
    if "iterations" not in by_key:
        raise reader.error("is damaged: 'optimizer/index.json' has no 'iterations' entry")
    state = {}
    for key, k in by_key.items():
        entry = entries[k]
        if key in ("iterations", "learning_rate"):
            if entry.shape != ():
                raise reader.error(f"is damaged: optimizer entry '{key}' has shape {entry.shape}; expected ()")
            state[key] = reader.array("optimizer", k, entry, (), integer=key == "iterations")
            continue
        slot, _, path = key.partition("/")
        if slot not in slot_names:
            raise reader.error(f"is damaged: optimizer entry '{key:.200}' is not a slot of {type(optimizer).__name__} "
                               f"(its slots: {sorted(slot_names)})")
        variable = variables.get(path)
        if variable is None:
            continue
        if entry.shape != tuple(variable.shape):
            raise reader.error(f"is damaged: optimizer entry '{key}' has shape {entry.shape}; the model's "
                               f"'{path}' has {tuple(variable.shape)}")
        state[key] = reader.array("optimizer", k, entry, tuple(variable.shape))
    restored = [v for v in model.weights if any(f"{slot}/{v.path}" in state for slot in slot_names)]
    try:
        optimizer.set_state(state, restored)
    except ValueError as error:
        raise reader.error(f"is damaged: its optimizer state does not fit the model ({error})") from None
    optimizer.built = bool(restored)  # an optimizer that never ran creates its slots at its first step


def load_model(filepath: str, custom_objects: Optional[Dict[str, type]] = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Reads a model written by ``model.save``: architecture, weights and, with ``compile``,
    the optimizer (with its state), loss and metrics. A ``.keras`` archive written by Keras 3
    (or by :func:`save_keras_model`) loads too: its layers as rnnkit's, its weights (h5py reads
    them) and its compile settings (see :mod:`rnnkit.keras_format`).

    Args:
        filepath: the file.
        custom_objects: name -> your own layer classes and metric functions used by the model.
        compile: restore the compile settings and optimizer state.
        safe_mode: accepted for Keras compatibility; rnnkit files never hold code.

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: (a ValueError) the file is damaged or not an rnnkit model file.
    """
    from .keras_format import is_keras_archive, load_keras_model

    if os.path.isfile(filepath) and is_keras_archive(filepath):
        return load_keras_model(filepath, custom_objects, compile)
    with _Reader(filepath, ("rnnkit-model",)) as reader, reader.errors():
        return _load_model(reader, custom_objects, compile)


def save_keras_model(model: Any, filepath: str) -> None:
    """Writes the model as Keras 3 writes a ``.keras`` archive, which ``keras.saving.load_model``
    reads (architecture and weights; needs h5py). ``model.save`` writes rnnkit's own archive,
    which keeps rnnkit's extras (optimizer state, peepholes, PyTorch conventions)."""
    from .keras_format import save_keras_model as save

    save(model, filepath)


def _load_model(reader: _Reader, custom_objects: Optional[Dict[str, type]], compile: bool) -> Any:
    from . import layers
    from .layers.base import weights_assigned_next
    from .models.base import BaseModel

    config = reader.json("config.json")
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict) \
            or not isinstance(config.get("class_name"), str):
        raise reader.error("is damaged: config.json holds no model config")
    compile_config = config.get("compile_config")
    if compile_config is not None and not isinstance(compile_config, dict):
        raise reader.error(f"is damaged: config.json's compile_config is a {type(compile_config).__name__}, "
                           "not a dict")
    entries = reader.weight_index()
    declared = sum(entry.size for entry in entries)
    implied = _implied_parameters({"class_name": config["class_name"], "config": config["config"]}, custom_objects)
    if implied > declared:
        raise reader.error(f"is damaged: config.json describes a model of at least {implied} parameters, but "
                           f"'weights/index.json' lists {declared}")
    with weights_assigned_next():  # every weight is read from the file below
        model = layers.deserialize({"class_name": config["class_name"], "config": config["config"]},
                                   custom_objects=custom_objects)
    if not isinstance(model, BaseModel):
        raise reader.error(f"holds a {config['class_name']!r:.100}, which is not a model")
    variables = model.weights
    # A model nothing else holds yet: each array is read into its variable (or set as soon as
    # it is read), so the load peaks near the size of the weights, not twice it.
    for variable, array in zip(variables, reader.weights(entries, variables, into_variables=True)):
        if array is not variable.value:
            variable.assign(array)
    if compile and compile_config:
        model._compile_from_config(compile_config, custom_objects=custom_objects)
        if reader.has("optimizer/index.json"):
            _restore_optimizer(reader, model)
    return model
