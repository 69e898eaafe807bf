"""Callbacks, as ``keras.callbacks``: hooks that fit, evaluate and predict call.

A model drives them through a :class:`CallbackList`, with ``params`` = ``{'verbose',
'epochs', 'steps'}`` and epoch logs such as ``{'loss': ..., 'accuracy': ...,
'val_loss': ..., 'val_accuracy': ...}``. Callbacks use of the model only
``stop_training``, ``optimizer.learning_rate``, ``get_weights``/``set_weights``,
``save`` and ``save_weights``.
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import numbers
import os
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Union, cast

import numpy as np

from .plotting import PathLike, plot_learning_curves
from .progress import Progbar, print_msg

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
    "ReduceLROnPlateau", "LearningRateScheduler", "TerminateOnNaN", "CSVLogger", "LambdaCallback", "TensorBoard",
    "BackupAndRestore",
]

Logs = Optional[Dict[str, Any]]

_HOOKS = (
    "on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end", "on_train_begin", "on_train_end",
    "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end",
)


class Callback:
    """Base class of callbacks, as ``keras.callbacks.Callback``: every hook does nothing.

    Attributes:
        model: the model being trained, evaluated or run (set by ``set_model``).
        params: ``{'verbose', 'epochs', 'steps'}`` (set by ``set_params``).
    """

    def __init__(self) -> None:
        self.model: Any = None
        self.params: Dict[str, Any] = {}

    def set_params(self, params: Dict[str, Any]) -> None:
        """Keeps the loop's settings (``verbose``, ``epochs``, ``steps``, ...) as ``self.params``;
        fit, evaluate and predict call it before the first hook."""
        self.params = params

    def set_model(self, model: Any) -> None:
        """Keeps the model being trained, evaluated or run as ``self.model``; the loops call it
        before the first hook."""
        self.model = model

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Alias of ``on_train_batch_begin``, kept for older callbacks."""

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Alias of ``on_train_batch_end``, kept for older callbacks."""

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        """Called at the start of epoch ``epoch`` (0-based) in fit."""

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Called at the end of an epoch with its loss, metrics and ``val_*`` results."""

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called before each training batch; calls ``on_batch_begin``."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called after each training batch with the epoch's running averages; calls
        ``on_batch_end``."""
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called before each batch of evaluate, and of validation in fit."""

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called after each batch of evaluate, and of validation in fit."""

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called before each batch of predict."""

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called after each batch of predict with ``{'outputs': ...}``."""

    def on_train_begin(self, logs: Logs = None) -> None:
        """Called at the start of fit."""

    def on_train_end(self, logs: Logs = None) -> None:
        """Called at the end of fit with the last epoch's logs."""

    def on_test_begin(self, logs: Logs = None) -> None:
        """Called at the start of evaluate, and of validation in fit."""

    def on_test_end(self, logs: Logs = None) -> None:
        """Called at the end of evaluate, and of validation in fit, with its results."""

    def on_predict_begin(self, logs: Logs = None) -> None:
        """Called at the start of predict."""

    def on_predict_end(self, logs: Logs = None) -> None:
        """Called at the end of predict."""


# ---------------------------------------------------------------------- the list
def _flatten(callbacks: Any) -> List[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    flat: List[Callback] = []
    for item in callbacks:
        if isinstance(item, (list, tuple)):
            flat.extend(_flatten(item))
        elif isinstance(item, Callback):
            flat.append(item)
        else:
            what = f"the class {item.__name__} (create an instance)" if isinstance(item, type) else type(item).__name__
            raise TypeError(f"callbacks must be rnnkit.callbacks.Callback instances, got {what}")
    return flat


def _overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback.<hook>`` is anything but Callback's empty default (a method of a
    subclass, or a function set on the instance, as LambdaCallback does)."""
    return getattr(getattr(callback, hook), "__func__", None) is not getattr(Callback, hook)


# The batch hooks, each with the older alias that Callback's default calls.
_BATCH_HOOKS = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end",
                "on_test_batch_begin": None, "on_test_batch_end": None,
                "on_predict_batch_begin": None, "on_predict_batch_end": None}


def _pythonify(logs: Dict[str, Any]) -> Dict[str, Any]:
    """Batch logs with NumPy scalars and 0-d arrays turned into Python floats."""
    result = {}
    for key, value in logs.items():
        if (isinstance(value, np.ndarray) and value.ndim == 0) or isinstance(value, np.generic):
            value = value.item()
        result[key] = value
    return result


class CallbackList(Callback):
    """Calls every hook on each callback in turn, as ``keras.callbacks.CallbackList``.

    Every callback gets the same ``logs`` dict in ``on_epoch_end``, so values that one adds
    (``learning_rate``) reach the callbacks after it, such as History and the progress bar.

    Args:
        callbacks: Callback instances (nested lists are flattened).
        add_history: append a History unless one is given.
        add_progbar: append a ProgbarLogger unless one is given.
        model: the model, passed to every callback (``model.history`` is set to the History).
        **params: passed to every callback by ``set_params``, e.g. verbose, epochs, steps.
    """

    def __init__(self, callbacks: Optional[Iterable[Callback]] = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None, **params: Any) -> None:
        super().__init__()
        self.callbacks: List[Callback] = _flatten(callbacks)
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)
        self._find_batch_hooks()

    def append(self, callback: Callback) -> None:
        """Adds a callback at the end (it gets the list's model and params)."""
        for new in _flatten([callback]):
            self.callbacks.append(new)
            if self.model is not None:
                new.set_model(self.model)
            if self.params:
                new.set_params(self.params)
        self._find_batch_hooks()

    def _find_batch_hooks(self) -> None:
        self._batch_hooks = {hook for hook, alias in _BATCH_HOOKS.items() if any(
            _overrides(c, hook) or (alias is not None and _overrides(c, alias)) for c in self.callbacks)}

    def wants(self, hook: str) -> bool:
        """Whether some callback does something in the batch hook ``hook`` (e.g.
        ``"on_train_batch_end"``): as Keras does, the loops skip a batch hook, and the logs
        they would build for it, when no callback has one."""
        return hook in self._batch_hooks

    def set_params(self, params: Dict[str, Any]) -> None:
        """Keeps ``params`` and passes them to every callback."""
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model: Any) -> None:
        """Passes ``model`` to every callback, and sets ``model.history`` to the list's History
        when it has one."""
        self.model = model
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_batch_begin", batch, {} if logs is None else logs)

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_batch_end", batch, _pythonify(logs or {}))

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._call("on_epoch_begin", epoch, {} if logs is None else logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._call("on_epoch_end", epoch, {} if logs is None else logs)

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_train_batch_begin", batch, {} if logs is None else logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_train_batch_end", batch, _pythonify(logs or {}))

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_test_batch_begin", batch, {} if logs is None else logs)

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_test_batch_end", batch, _pythonify(logs or {}))

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_predict_batch_begin", batch, {} if logs is None else logs)

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_predict_batch_end", batch, {} if logs is None else logs)

    def on_train_begin(self, logs: Logs = None) -> None:
        self._call("on_train_begin", {} if logs is None else logs)

    def on_train_end(self, logs: Logs = None) -> None:
        self._call("on_train_end", {} if logs is None else logs)

    def on_test_begin(self, logs: Logs = None) -> None:
        self._call("on_test_begin", {} if logs is None else logs)

    def on_test_end(self, logs: Logs = None) -> None:
        self._call("on_test_end", {} if logs is None else logs)

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._call("on_predict_begin", {} if logs is None else logs)

    def on_predict_end(self, logs: Logs = None) -> None:
        self._call("on_predict_end", {} if logs is None else logs)


# ---------------------------------------------------------------------- History, progress bar
class History(Callback):
    """Records each epoch's logs; fit returns it and sets ``model.history`` to it.

    Attributes:
        history: ``{'loss': [...], 'val_loss': [...], ...}``, one entry per epoch.
        epoch: the epoch indices recorded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: Dict[str, List[Any]] = {}
        self.epoch: List[int] = []

    def on_train_begin(self, logs: Logs = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def plot(self, metrics: Optional[List[str]] = None, *, path: Optional[PathLike] = None,
             title: Optional[str] = None) -> Any:
        """Learning curves: one panel per metric (loss first), training solid and
        validation dashed. Needs matplotlib (``pip install rnnkit[plot]``).

        Args:
            metrics: names to draw, e.g. ``["loss", "mae"]``; default every one logged.
            path: also save the figure there (PNG, SVG or PDF, from the extension).
            title: the figure's title; default the model's name.

        Returns:
            The matplotlib Figure.
        """
        name = getattr(self.model, "name", None) or "model"
        return plot_learning_curves({name: self.history}, metrics, path=path, title=title)


class ProgbarLogger(Callback):
    """Prints progress: for ``verbose=1`` an ``Epoch 3/10`` header and a bar updated in
    place; for ``verbose=2`` one line per epoch. Validation inside fit prints nothing of
    its own: its results join the epoch's line. See :mod:`rnnkit.progress`."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.progbar: Optional[Progbar] = None
        self.target: Optional[int] = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params: Dict[str, Any]) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs: Logs = None) -> None:
        self._called_in_fit = True

    def on_train_end(self, logs: Logs = None) -> None:
        self._called_in_fit = False

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")
        self._reset_progbar()

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._update_progbar(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._finalize_progbar(logs)

    def on_test_begin(self, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._reset_progbar()

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_test_end(self, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._reset_progbar()

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._update_progbar(batch, None)  # predictions are not metrics

    def on_predict_end(self, logs: Logs = None) -> None:
        self._finalize_progbar(None)

    def _reset_progbar(self) -> None:
        """A new bar, whose clock starts now."""
        self.seen = 0
        self.progbar = None
        self._progbar()

    def _progbar(self) -> Progbar:
        if self.progbar is None:
            # The logs are already running averages: show them as given.
            self.progbar = Progbar(target=self.target, verbose=self.verbose, stateless_metrics=(),
                                   unit_name="step")
        return self.progbar

    def _update_progbar(self, batch: int, logs: Logs) -> None:
        progbar = self._progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs: Logs) -> None:
        if not self.verbose:
            return
        progbar = self._progbar()
        if progbar.target is None:  # unknown number of steps: now we know
            self.target = progbar.target = self.seen
        # An epoch cut short (stop_training mid-epoch) shows the steps it really ran.
        current = self.seen if 0 < self.seen < progbar.target else progbar.target
        progbar.update(current, list((logs or {}).items()), finalize=True)


# ---------------------------------------------------------------------- monitoring
_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall")


def _infer_mode(monitor: str, model: Any) -> str:
    """'min' or 'max' for ``mode='auto'``: losses go down; a compiled metric that tells its
    direction (Keras' ``_direction``) is followed; else names with 'acc', 'auc',
    'precision' or 'recall' go up and the rest down."""
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name.endswith("loss"):
        return "min"
    try:
        metrics = list(getattr(model, "metrics", None) or [])
    except Exception:  # noqa: BLE001 - a model whose metrics cannot be listed yet: go by the name
        metrics = []
    for metric in metrics:
        direction = getattr(metric, "_direction", None)
        if getattr(metric, "name", None) == name and direction in ("up", "down"):
            return "max" if direction == "up" else "min"
    return "max" if any(token in name for token in _HIGHER_IS_BETTER) else "min"


class _MonitorCallback(Callback):
    """Shared by the callbacks that watch ``logs[monitor]`` for improvements."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode {mode!r} is unknown, fallback to auto mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self._maximize: Optional[bool] = None  # decided on first use, once the model's metrics exist

    @property
    def maximize(self) -> bool:
        """Whether larger values of the monitored quantity are better."""
        if self._maximize is None:
            mode = _infer_mode(self.monitor, self.model) if self.mode == "auto" else self.mode
            self._maximize = mode == "max"
        return self._maximize

    def _worst(self) -> float:
        return -math.inf if self.maximize else math.inf

    def _is_improvement(self, value: float, reference: Optional[float]) -> bool:
        """Whether ``value`` beats ``reference`` by more than ``min_delta``."""
        if reference is None:
            return True
        if self.maximize:
            return bool(value - self.min_delta > reference)
        return bool(value + self.min_delta < reference)

    def _monitor_value(self, logs: Logs, what: str) -> Optional[float]:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"{what} conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs)}", stacklevel=3)
        return value


class EarlyStopping(_MonitorCallback):
    """Stops training when the monitored quantity has stopped improving.

    Args:
        monitor: the quantity to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        min_delta: the least change that counts as an improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a message when stopping and when restoring weights.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (inferred from the name).
        baseline: a value to reach: the patience count restarts only on epochs that improve
            on both the best so far and the baseline.
        restore_best_weights: at the end of training, restore the weights of the best epoch
            (whether or not training stopped early).
        start_from_epoch: epochs of warm-up before monitoring starts.

    Attributes:
        best: the best value seen; ``wait``: epochs since it; ``best_epoch``;
        stopped_epoch: the epoch (0-based) at which training was stopped, else 0.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: Optional[float] = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best: Optional[float] = None
        self.best_epoch = 0
        self.best_weights: Optional[List[np.ndarray]] = None

    def on_train_begin(self, logs: Logs = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.best is None:
            self.best = self._worst()
        current = self._monitor_value(logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # the first monitored epoch is the best so far
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs: Logs) -> Optional[float]:
        """``logs[monitor]``, warning (with the keys available) when it is missing."""
        return self._monitor_value(logs, "Early stopping")


class ModelCheckpoint(_MonitorCallback):
    """Saves the model, or its weights, after every epoch (or every ``save_freq`` batches).

    Args:
        filepath: where to save; may hold format fields filled from ``epoch`` (1-based),
            ``batch`` (1-based, batch saving) and the logs, e.g.
            ``"ckpt/{epoch:02d}-{val_loss:.2f}.keras"``. It must end in ``.keras``, or with
            ``save_weights_only`` in ``.weights.h5`` or ``.weights.npz``.
        monitor: the quantity that decides the best model, for ``save_best_only``.
        verbose: 1 prints a message at each save decision.
        save_best_only: save only when ``monitor`` improves on the best so far.
        save_weights_only: save with ``model.save_weights`` instead of ``model.save``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (inferred from the name).
        save_freq: ``"epoch"``, or save every this many training batches.
        initial_value_threshold: the value to beat for the first save with ``save_best_only``.
    """

    def __init__(self, filepath: Union[str, os.PathLike[str]], monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: Union[str, int] = "epoch", initial_value_threshold: Optional[float] = None) -> None:
        super().__init__(monitor, mode, 0)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.best: Optional[float] = initial_value_threshold
        self._current_epoch = 0
        self._batches_since_save = 0
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected 'epoch' or a positive integer")
        if save_weights_only:
            if not self.filepath.endswith((".weights.h5", ".weights.npz")):
                raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath must end "
                                 f"in `.weights.h5` or `.weights.npz`. Received: filepath={self.filepath}")
        elif not self.filepath.endswith(".keras"):
            raise ValueError(f"The filepath provided must end in `.keras`. Received: filepath={self.filepath}")

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._current_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= cast(int, self.save_freq):
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch: int, batch: Optional[int], logs: Logs) -> str:
        fields = dict(logs or {})
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in fields:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as error:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {error}; '
                           f"available fields: {', '.join(fields)}") from None

    def _should_save(self, epoch: int, logs: Logs, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"Epoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=3)
            return False
        if self.best is None:
            self.best = self._worst()
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_msg(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                          f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
        return False

    def _save(self, epoch: int, batch: Optional[int], logs: Logs) -> None:
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(f"ModelCheckpoint's filepath is an existing directory: {filepath}; "
                                    "give the path of a file")
        directory = os.path.dirname(filepath)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)


# ---------------------------------------------------------------------- learning rate
def _learning_rate(model: Any) -> float:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError('The model\'s optimizer must have a "learning_rate" attribute (compile the model first).')
    return float(optimizer.learning_rate)


class ReduceLROnPlateau(_MonitorCallback):
    """Multiplies the learning rate by ``factor`` when the monitored quantity has stopped
    improving for ``patience`` epochs. Adds ``learning_rate`` (before any reduction) to the
    epoch logs.

    Args:
        monitor: the quantity to watch.
        factor: ``new_lr = lr * factor``; must be below 1.
        patience: epochs without improvement before reducing.
        verbose: 1 prints a message at each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (inferred from the name).
        min_delta: the least change that counts as an improvement.
        cooldown: epochs after a reduction during which no improvement is awaited.
        min_lr: the learning rate never goes below this.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = min_lr
        self._reset()

    def _reset(self) -> None:
        self.best: Optional[float] = None
        self.wait = 0
        self.cooldown_counter = 0

    def in_cooldown(self) -> bool:
        """Whether the ``cooldown`` epochs after the last reduction are still running."""
        return self.cooldown_counter > 0

    def on_train_begin(self, logs: Logs = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = {} if logs is None else logs
        logs["learning_rate"] = _learning_rate(self.model)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}.", stacklevel=2)
            return
        if self.best is None:
            self.best = self._worst()
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait >= self.patience:
            old_lr = _learning_rate(self.model)
            if old_lr > np.float32(self.min_lr):  # the optimizer may hold the rate in float32
                new_lr = max(old_lr * self.factor, self.min_lr)
                self.model.optimizer.learning_rate = new_lr
                if self.verbose > 0:
                    print_msg(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0


def _takes_learning_rate(schedule: Callable[..., Any]) -> bool:
    """Whether ``schedule`` accepts ``(epoch, lr)``; the older form takes ``(epoch)``."""
    try:
        parameters = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):  # no signature to read: assume the current form
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch to ``schedule(epoch, lr)`` and adds
    ``learning_rate`` to the epoch logs.

    Args:
        schedule: ``fn(epoch, lr) -> new_lr``, epoch 0-based (``fn(epoch)`` also works).
        verbose: 1 prints the new rate each epoch.
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be a function fn(epoch, lr), got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        lr = _learning_rate(self.model)
        new_lr = self.schedule(epoch, lr) if _takes_learning_rate(self.schedule) else self.schedule(epoch)
        if isinstance(new_lr, np.ndarray) and new_lr.ndim == 0:
            new_lr = new_lr.item()
        if not isinstance(new_lr, numbers.Real) or isinstance(new_lr, bool):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {new_lr!r}")
        self.model.optimizer.learning_rate = float(new_lr)
        if self.verbose > 0:
            print_msg(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new_lr)}.")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model)


# ---------------------------------------------------------------------- misc
class TerminateOnNaN(Callback):
    """Stops training when a batch's loss is NaN or infinite.

    Args:
        raise_error: raise a RuntimeError at once instead of setting ``model.stop_training``
            (which lets the epoch end and ``on_train_end`` run).
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        try:
            finite = math.isfinite(float(loss))
        except (TypeError, ValueError):
            return
        if finite:
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                               "Terminating training immediately.")
        print_msg(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


def _csv_value(value: Any) -> Any:
    if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
        return value.item()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return value
    return "[" + ", ".join(map(str, value)) + "]"


class CSVLogger(Callback):
    """Writes each epoch's logs as a row of a CSV file: ``epoch`` (0-based) then the log keys
    in sorted order; the file is flushed every epoch.

    Args:
        filename: the CSV file, e.g. ``"run/log.csv"`` (its folder is created if needed).
        separator: the field separator.
        append: add to an existing file (without repeating its header) instead of overwriting it.
    """

    def __init__(self, filename: Union[str, os.PathLike[str]], separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: Optional[List[str]] = None
        self.writer: Optional[csv.DictWriter[str]] = None
        self.csv_file: Any = None
        self.append_header = True

    def on_train_begin(self, logs: Logs = None) -> None:
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as existing:
                self.append_header = not existing.readline()
        self._close()
        directory = os.path.dirname(self.filename)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115 - _close shuts it
        self.keys = None
        self.writer = None

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs or {}
        if self.csv_file is None or self.csv_file.closed:
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, delimiter=self.sep,
                                         lineterminator="\n")
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        self._close()

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class LambdaCallback(Callback):
    """A callback made of functions, e.g.
    ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(logs['loss']))``.

    ``on_epoch_begin``/``on_epoch_end`` get ``(epoch, logs)``, ``on_train_begin``/
    ``on_train_end`` get ``(logs)``, the batch hooks ``(batch, logs)``.

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin, on_train_batch_end:
            the functions to call.
        **kwargs: any other hook, e.g. ``on_test_end=fn`` or ``on_predict_batch_end=fn``.
    """

    def __init__(self, on_epoch_begin: Optional[Callable[..., Any]] = None,
                 on_epoch_end: Optional[Callable[..., Any]] = None,
                 on_train_begin: Optional[Callable[..., Any]] = None,
                 on_train_end: Optional[Callable[..., Any]] = None,
                 on_train_batch_begin: Optional[Callable[..., Any]] = None,
                 on_train_batch_end: Optional[Callable[..., Any]] = None, **kwargs: Any) -> None:
        super().__init__()
        unknown = [name for name in kwargs if name not in _HOOKS]
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hooks: {', '.join(unknown)}; the hooks are "
                            f"{', '.join(_HOOKS)}")
        functions = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                         on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                         on_train_batch_end=on_train_batch_end, **kwargs)
        for name, function in functions.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(f"LambdaCallback: {name} must be a function, got {type(function).__name__}")
            setattr(self, name, function)


def _summary_writer(log_dir: str) -> Any:
    """tensorboardX's event-file writer for ``log_dir``; ImportError says how to get it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("the TensorBoard callback writes event files with tensorboardX: "
                          "pip install 'rnnkit[tensorboard]' (or pip install tensorboardX)") from None
    return SummaryWriter(log_dir)


class TensorBoard(Callback):
    """Writes the training curves as TensorBoard event files, as Keras' callback lays them out:
    ``log_dir/train`` and ``log_dir/validation``, scalars ``epoch_<log>`` per epoch (``epoch_loss``,
    ``epoch_accuracy``, ``epoch_learning_rate``), with ``update_freq`` also ``batch_<log>`` per
    batch, and with ``histogram_freq`` each weight's histogram. View them with
    ``tensorboard --logdir log_dir``. Needs tensorboardX (``pip install "rnnkit[tensorboard]"``).

    Args:
        log_dir: the folder of the event files.
        histogram_freq: write the weights' histograms every this many epochs; 0 for never.
        update_freq: ``"epoch"``, ``"batch"`` (every batch) or a number of batches.
    """

    def __init__(self, log_dir: Union[str, os.PathLike[str]] = "logs", histogram_freq: int = 0,
                 update_freq: Union[str, int] = "epoch") -> None:
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be an integer >= 0, got {histogram_freq!r}")
        self.histogram_freq = histogram_freq
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or an integer >= 1, "
                             f"got {update_freq!r}")
        self.update_freq = update_freq
        self._writers: Dict[str, Any] = {}
        self._batches = 0

    def _writer(self, part: str) -> Any:
        if part not in self._writers:
            self._writers[part] = _summary_writer(os.path.join(self.log_dir, part))
        return self._writers[part]

    def on_train_begin(self, logs: Logs = None) -> None:
        self._writer("train")  # fails before training starts when tensorboardX is missing
        self._batches = 0

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._batches += 1
        if self.update_freq == "epoch" or self._batches % cast(int, self.update_freq):
            return
        writer = self._writer("train")
        for key, value in (logs or {}).items():
            if np.ndim(value) == 0:
                writer.add_scalar(f"batch_{key}", float(value), self._batches)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = dict(logs or {})
        if self.model is not None and getattr(self.model, "optimizer", None) is not None:
            logs.setdefault("learning_rate", float(self.model.optimizer.learning_rate))
        for key, value in logs.items():
            validation = key.startswith("val_")
            name = key[4:] if validation else key
            for k, v in enumerate(np.ravel(value)):  # a per-class metric gives one curve per class
                tag = f"epoch_{name}" if np.ndim(value) == 0 else f"epoch_{name}/{k}"
                self._writer("validation" if validation else "train").add_scalar(tag, float(v), epoch)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0 and self.model is not None:
            writer = self._writer("train")
            for weight in self.model.weights:
                writer.add_histogram(weight.path, np.asarray(weight.value), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


class BackupAndRestore(Callback):
    """Backs the training up at the end of every epoch and, when ``fit`` starts again after an
    interruption (an exception, Ctrl-C, a killed process), restores the weights and the
    optimizer's state and resumes at the epoch after the last backup. A ``fit`` that ends
    normally deletes the backup (unless ``delete_checkpoint=False``).

    The backup is ``backup_dir/model.rnnkit`` (``model.save``: weights and optimizer state,
    written atomically) and ``backup_dir/training_metadata.json`` (the last epoch done).

    Args:
        backup_dir: the folder for the backup (created if needed).
        save_freq: ``"epoch"`` (the only choice: a backup is taken at epoch ends).
        delete_checkpoint: delete the backup when training ends normally.
    """

    def __init__(self, backup_dir: Union[str, os.PathLike[str]], save_freq: Union[str, int] = "epoch",
                 delete_checkpoint: bool = True) -> None:
        super().__init__()
        if save_freq != "epoch":
            raise ValueError(f"BackupAndRestore: rnnkit backs up at epoch ends, save_freq='epoch'; got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self._model_path = os.path.join(self.backup_dir, "model.rnnkit")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")

    def on_train_begin(self, logs: Logs = None) -> None:
        from .saving import load_model

        if not os.path.exists(self._metadata_path):
            return
        with open(self._metadata_path) as f:
            epoch = json.load(f)["epoch"]
        saved = load_model(self._model_path)
        self.model.set_weights(saved.get_weights())
        if getattr(saved, "optimizer", None) is not None and getattr(self.model, "optimizer", None) is not None:
            # The weights match by position; their paths may differ (layer names count up in a
            # process), so the optimizer's slots are renamed to this model's paths.
            renamed = {old.path: new.path for old, new in zip(saved.trainable_weights, self.model.trainable_weights)}
            state = {}
            for key, array in saved.optimizer.get_state().items():
                slot, _, path = key.partition("/")
                state[f"{slot}/{renamed.get(path, path)}" if path else key] = array
            self.model.optimizer.set_state(state, self.model.trainable_weights)
        self.model._initial_epoch = int(epoch) + 1

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        self.model.save(self._model_path)
        temporary = self._metadata_path + ".tmp"
        with open(temporary, "w") as f:
            json.dump({"epoch": epoch}, f)
        os.replace(temporary, self._metadata_path)  # the metadata never names a backup not yet written

    def on_train_end(self, logs: Logs = None) -> None:
        if not self.delete_checkpoint:
            return
        for path in (self._metadata_path, self._model_path):
            if os.path.exists(path):
                os.remove(path)
