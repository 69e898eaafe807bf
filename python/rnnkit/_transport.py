"""Tasks on an executor, with their data sent once per worker rather than once per task.

``run(executor, function, data, tasks)`` calls ``function(data, *task)`` for every task and
yields each value as its task finishes. How the data reaches the workers depends on the
executor, recognised by its type (Dask and Ray are imported only when the executor is theirs):

- ``None``: here, in this process, in the tasks' order.
- ``concurrent.futures.ProcessPoolExecutor``: the arrays are written once as ``.npy`` files (no
  pickle) into a temporary folder; each worker process maps them the first time a task of the
  call reaches it and keeps them for the call's later tasks (a cache keyed by the call's token);
  the folder is removed when the call ends.
- Dask, a ``distributed.Client`` or its ``client.get_executor()``: ``client.scatter(data,
  broadcast=True)`` puts one copy on every worker, and the tasks carry its future.
- :class:`RayExecutor`: ``ray.put(data)`` puts it in the object store once, and the tasks carry
  the reference.
- Any other ``concurrent.futures``-style executor (an object with ``submit`` returning futures):
  the data travels with every task.

In the worker, every task holds one lock of its process while it runs (rnnkit's random
generator and thread count belong to the process, so two tasks in the threads of one worker
take turns), sets the core's threads, and sends back its value with where it ran.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import pickle
import shutil
import socket
import sys
import tempfile
import threading
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["RayExecutor", "run", "executor_kind", "check_executor", "cores", "where"]

Task = Tuple[Any, ...]
# A thread count for every task, or one per Dask worker address; None leaves the process's own.
Threads = Union[None, int, Dict[str, int]]

_LOCK = threading.RLock()  # reentrant: a task may itself run a serial sweep or compare
_LOADED: Dict[str, Any] = {}  # token -> the data of the call under way in this worker process
_SKELETON = "skeleton.json"


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def where() -> Dict[str, Any]:
    """Where a task ran: ``{"host", "pid", "threads", "isa"}`` (the core's threads and the
    instruction set of the kernels in use)."""
    from . import _core

    return {"host": socket.gethostname(), "pid": os.getpid(), "threads": int(_core.num_threads()),
            "isa": str(_core.isa())}


class RayExecutor(cf.Executor):
    """Runs each call as a Ray task, with the ``concurrent.futures`` interface.

    Start Ray first: ``ray.init()`` for this machine, ``ray.init(address="auto")`` or
    ``ray.init(address="ray://head:10001")`` for a cluster.

    Args:
        **options: Ray's task options, e.g. ``num_cpus=2`` (default 1): the CPUs each task
            reserves, and so the threads it gives rnnkit's core.
    """

    def __init__(self, **options: Any) -> None:
        self.options = dict(options)
        self._remote: Dict[Any, Any] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Runs ``fn(*args, **kwargs)`` as a Ray task with this executor's options (each ``fn`` is
        wrapped by ``ray.remote`` once, when first submitted); returns a
        ``concurrent.futures.Future`` of its result."""
        import ray

        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = ray.remote(fn)
        future: cf.Future[Any] = remote.options(**self.options).remote(*args, **kwargs).future()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Leaves Ray running: the cluster is the caller's (``ray.shutdown()`` stops a local one)."""


def executor_kind(executor: Any) -> str:
    """``"serial"``, ``"processes"``, ``"dask"``, ``"ray"`` or ``"other"``.

    Raises:
        TypeError: not an executor, or one that runs tasks in threads of this process.
    """
    if executor is None:
        return "serial"
    if isinstance(executor, RayExecutor):
        return "ray"
    if type(executor).__module__.split(".")[0] == "distributed" and (
            hasattr(executor, "scatter") or hasattr(executor, "_client")):
        return "dask"
    if isinstance(executor, cf.ThreadPoolExecutor):
        raise TypeError("executor is a ThreadPoolExecutor, whose tasks would share this process's random generator "
                        "and thread count and so run one at a time: use a ProcessPoolExecutor, a Dask client or "
                        "rnnkit.sweeps.RayExecutor")
    if isinstance(executor, cf.ProcessPoolExecutor):
        return "processes"
    if isinstance(executor, cf.Executor) or callable(getattr(executor, "submit", None)):
        return "other"
    raise TypeError("executor must be None (run here), a concurrent.futures.ProcessPoolExecutor, a Dask "
                    "distributed.Client or client.get_executor(), an rnnkit.sweeps.RayExecutor, or another "
                    f"executor with submit(fn, *args) returning futures; got {type(executor).__name__}")


def check_executor(executor: Any, functions: Sequence[Tuple[str, Any]]) -> str:
    """The executor's kind (:func:`executor_kind`), having checked that a pool of processes,
    which pickles functions by reference, can reach ``functions`` (``(what, object)`` pairs
    for the messages) in its processes.

    Raises:
        TypeError: an object pickle cannot send, or a function defined in an interactive
            ``__main__`` (a notebook or a REPL) for processes that are not forked.
    """
    kind = executor_kind(executor)
    if kind != "processes":
        return kind  # serial needs nothing; Dask and Ray pickle with cloudpickle, by value if need be
    context = getattr(executor, "_mp_context", None)
    method = context.get_start_method() if context is not None else multiprocessing.get_start_method()
    interactive = not hasattr(sys.modules.get("__main__"), "__file__")
    for what, obj in functions:
        try:
            pickle.dumps(obj)
        except Exception as error:  # noqa: BLE001 - any pickling failure becomes this one message
            raise TypeError(f"{what} cannot be sent to a ProcessPoolExecutor's processes ({error}): they receive "
                            "functions by module and name, so define it at the top level of an importable module, "
                            "or use Dask or Ray, which send functions by value") from None
        if interactive and method != "fork" and getattr(obj, "__module__", None) == "__main__":
            raise TypeError(f"{what} {getattr(obj, '__qualname__', obj)!r} is defined in a notebook or an interactive "
                            f"session, which a ProcessPoolExecutor's processes started by {method!r} cannot import: "
                            "define it in an importable module, or use Dask or Ray, which send functions by value")
    return kind


# ---------------------------------------------------------------- the data, as .npy files


def _flatten(value: Any, arrays: List[np.ndarray]) -> Any:
    """A JSON skeleton of ``value`` (arrays, None, and tuples, lists and dicts of them), its
    arrays appended to ``arrays`` and named by their index."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"array": len(arrays) - 1}
    if isinstance(value, (tuple, list)):
        return {"tuple" if isinstance(value, tuple) else "list": [_flatten(item, arrays) for item in value]}
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {"dict": {key: _flatten(item, arrays) for key, item in value.items()}}
    raise TypeError(f"the data sent to the workers must be arrays, or tuples, lists and dicts of them; got "
                    f"{type(value).__name__}")


def _unflatten(skeleton: Any, arrays: Sequence[np.ndarray]) -> Any:
    if skeleton is None:
        return None
    kind, content = next(iter(skeleton.items()))
    if kind == "array":
        return arrays[content]
    if kind == "dict":
        return {key: _unflatten(item, arrays) for key, item in content.items()}
    items = [_unflatten(item, arrays) for item in content]
    return tuple(items) if kind == "tuple" else items


def _write(data: Any, folder: str) -> None:
    arrays: List[np.ndarray] = []
    skeleton = _flatten(data, arrays)
    for index, array in enumerate(arrays):
        np.save(os.path.join(folder, f"{index:04d}.npy"), np.ascontiguousarray(array), allow_pickle=False)
    with open(os.path.join(folder, _SKELETON), "w", encoding="utf-8") as file:
        json.dump({"arrays": len(arrays), "skeleton": skeleton}, file)


def _read(folder: str) -> Any:
    with open(os.path.join(folder, _SKELETON), encoding="utf-8") as file:
        index = json.load(file)
    arrays = []
    for k in range(index["arrays"]):
        path = os.path.join(folder, f"{k:04d}.npy")
        # Mapped, not read: the processes of one machine share the pages. np.asarray drops the
        # memmap subclass (computations on it stay plain arrays); the view is read-only.
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        arrays.append(np.asarray(mapped) if mapped.size else np.load(path, allow_pickle=False))
    return _unflatten(index["skeleton"], arrays)


class _Files:
    """What a task of a pool of processes carries instead of the data: the call's token and
    the folder of its files, read once per process."""

    def __init__(self, token: str, folder: str) -> None:
        self.token, self.folder = token, folder

    def load(self) -> Any:
        data = _LOADED.get(self.token)
        if data is None:
            _LOADED.clear()  # one call at a time: an earlier call's arrays are done with
            data = _LOADED[self.token] = _read(self.folder)
        return data


# ---------------------------------------------------------------- in the worker


def _call(handle: Any, threads: Threads, function: Callable[..., Any], *task: Any) -> Tuple[Any, Dict[str, Any]]:
    """Runs one task in a worker: ``(function(data, *task), where())``."""
    from . import _core

    with _LOCK:
        data = handle.load() if isinstance(handle, _Files) else handle
        if isinstance(threads, dict):  # per Dask worker
            from distributed import get_worker

            threads = threads.get(get_worker().address)
        if threads is not None and threads != _core.num_threads():
            _core.set_num_threads(int(threads))
        return function(data, *task), where()


# ---------------------------------------------------------------- per kind of executor


class _Transport:
    """Sends the data once (``handle`` is what each task carries instead) and submits tasks."""

    handle: Any = None

    def __init__(self, executor: Any) -> None:
        self.executor = executor

    def submit(self, *args: Any) -> Any:
        return self.executor.submit(_call, self.handle, *args)

    def default_threads(self) -> Threads:
        """Cores divided by the pool's processes, when it says how many it has."""
        workers = getattr(self.executor, "_max_workers", None)
        return max(1, cores() // workers) if isinstance(workers, int) and workers > 0 else None

    def close(self) -> None:
        """Releases the data."""


class _Direct(_Transport):
    def __init__(self, executor: Any, data: Any) -> None:
        super().__init__(executor)
        self.handle = data


class _Processes(_Transport):
    def __init__(self, executor: Any, data: Any) -> None:
        super().__init__(executor)
        self.folder = tempfile.mkdtemp(prefix="rnnkit-data-")
        try:
            _write(data, self.folder)
        except BaseException:
            self.close()
            raise
        self.handle = _Files(uuid.uuid4().hex, self.folder)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class _Dask(_Transport):
    def __init__(self, executor: Any, data: Any) -> None:
        is_client = hasattr(executor, "scatter")
        self.client = executor if is_client else executor._client  # ClientExecutor keeps its client there
        super().__init__(self.client.get_executor() if is_client else executor)
        [self.handle] = self.client.scatter([data], broadcast=True, hash=False)

    def default_threads(self) -> Threads:
        """Per worker: its machine's cores divided by the worker processes on that machine."""
        try:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
        except TypeError:  # distributed before 2025 lists every worker without being asked
            workers = self.client.scheduler_info()["workers"]
        if any(address.startswith("inproc://") for address in workers):
            return None  # threads of this process: leave its thread count alone
        per_host: Dict[str, int] = {}
        for info in workers.values():
            per_host[info["host"]] = per_host.get(info["host"], 0) + 1
        machine_cores = self.client.run(cores)
        return {address: max(1, machine_cores.get(address, 1) // per_host[info["host"]])
                for address, info in workers.items()}

    def close(self) -> None:
        self.handle.release()


class _Ray(_Transport):
    def __init__(self, executor: RayExecutor, data: Any) -> None:
        import ray

        super().__init__(executor)
        self.handle = ray.put(data)

    def default_threads(self) -> Threads:
        """The CPUs each task reserves (``num_cpus``, 1 unless the executor's options say)."""
        return max(1, int(self.executor.options.get("num_cpus", 1)))


_TRANSPORTS = {"processes": _Processes, "dask": _Dask, "ray": _Ray, "other": _Direct}


def _add_note(error: BaseException, note: str) -> None:
    if hasattr(error, "add_note"):  # Python 3.11+
        error.add_note(note)


def _in_order_of_completion(futures: List[Any]) -> Iterator[int]:
    if all(isinstance(future, cf.Future) for future in futures):
        index = {future: k for k, future in enumerate(futures)}
        for future in cf.as_completed(futures):
            yield index[future]
    else:  # futures of another kind: wait for each in turn
        yield from range(len(futures))


def run(executor: Any, function: Callable[..., Any], data: Any, tasks: Sequence[Task], *,
        threads: Optional[int] = None, labels: Optional[Sequence[str]] = None
        ) -> Iterator[Tuple[int, Any, Dict[str, Any]]]:
    """Calls ``function(data, *task)`` for every task on ``executor``; yields ``(index of the
    task, its value, where it ran)`` as each finishes (in order when ``executor`` is None).

    Args:
        executor: see the module's docstring; checked by :func:`executor_kind`.
        function: a module-level function (pools of processes pickle it by reference).
        data: what every task needs, sent once per worker: arrays, or tuples, lists and dicts
            of them.
        tasks: each task's arguments after ``data``.
        threads: the core's threads in each task; default cores divided by workers (see each
            transport's ``default_threads``), and the current setting for ``executor=None``.
        labels: each task's name, added as a note to the error of a task that fails.

    Raises:
        The first error a task raised, with its label as a note; the tasks not yet started
        are cancelled.
    """
    from . import _core

    kind = executor_kind(executor)
    labels = list(labels) if labels is not None else [f"task {k}" for k in range(len(tasks))]
    if kind == "serial":
        before = _core.num_threads()
        try:
            for index, task in enumerate(tasks):
                try:
                    value, machine = _call(data, threads, function, *task)
                except Exception as error:
                    _add_note(error, f"while running {labels[index]}")
                    raise
                yield index, value, machine
        finally:
            if _core.num_threads() != before:
                _core.set_num_threads(before)
        return
    transport = _TRANSPORTS[kind](executor, data)
    futures: List[Any] = []
    try:
        per_task = threads if threads is not None else transport.default_threads()
        futures = [transport.submit(per_task, function, *task) for task in tasks]
        for index in _in_order_of_completion(futures):
            try:
                value, machine = futures[index].result()
            except Exception as error:
                _add_note(error, f"while running {labels[index]}")
                if type(error).__name__ == "BrokenProcessPool":
                    _add_note(error, "A worker process died. If its log says \"Can't get attribute ... on <module "
                                     "'__main__'>\", a function was defined in __main__ after the pool had started "
                                     "its processes: define it in an importable module.")
                raise
            yield index, value, machine
    finally:
        for future in futures:
            future.cancel()  # those not yet started; a no-op for the finished ones
        transport.close()
