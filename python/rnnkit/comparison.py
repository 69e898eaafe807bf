"""compare: train several models on the same data with the same seed, and set their
accuracy, speed and size side by side.

    comparison = rnnkit.compare({"LSTM": make_lstm, "GRU": make_gru}, rnnkit.datasets.sine_waves(), epochs=10)
    print(comparison)           # a table; in Jupyter it shows as HTML
    comparison.plot()           # learning curves side by side (matplotlib)

With ``executor=`` (a ``ProcessPoolExecutor``, a Dask client, an ``rnnkit.sweeps.RayExecutor``)
the models train in parallel, each where the executor runs it, and come back as plain data
(:class:`ModelSnapshot`: JSON config, compile config, weight arrays), never as pickled models.
:func:`rnnkit.sweep` trains each point of a grid of settings over several seeds the same way.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _transport, utils
from .callbacks import Callback, History
from .datasets import Dataset
from .models import data as data_checks
from .models.base import BaseModel
from .plotting import PathLike, plot_learning_curves
from .progress import Progbar, format_value, print_msg

__all__ = ["compare", "Comparison", "ModelResult", "ModelSnapshot"]

Pair = Tuple[Any, Any]
Parts = Tuple[Pair, Pair, Optional[Pair]]


@dataclass
class ModelSnapshot:
    """A model as plain data, which crosses process boundaries without pickling code: what a
    model trained by an executor's worker comes back as.

    Attributes:
        config: the architecture, ``model.to_json()``.
        compile_config: the optimizer, losses and metrics given to ``compile``, as JSON-ready
            configs (None for a model never compiled).
        weights: ``model.get_weights()``, in ``model.weights`` order.
    """

    config: str
    compile_config: Optional[Dict[str, Any]]
    weights: List[np.ndarray]

    @classmethod
    def of(cls, model: BaseModel) -> ModelSnapshot:
        """The snapshot of ``model``: its config, compile config and a copy of its weights."""
        return cls(model.to_json(), model._compile_config, model.get_weights())

    def restore(self, custom_objects: Optional[Dict[str, Any]] = None) -> BaseModel:
        """A new model with the snapshot's architecture and weights, compiled as it was (the
        optimizer starts afresh: its state stays in the worker).

        Args:
            custom_objects: ``{name: class}`` for layers, losses or metrics of your own, as
                for ``load_model``.
        """
        from . import layers
        from .layers.base import weights_assigned_next

        with weights_assigned_next():  # every weight is set next: no initializer runs
            model = layers.deserialize(json.loads(self.config), custom_objects=custom_objects)
        if not isinstance(model, BaseModel):
            raise TypeError(f"the snapshot holds a {type(model).__name__}, not a model")
        model.set_weights(self.weights)
        if self.compile_config:
            model._compile_from_config(self.compile_config, custom_objects=custom_objects)
        return model


class ModelResult:
    """How one model of a comparison did.

    Attributes:
        name: its name in the builders.
        params: its number of weights (``count_params()``).
        history: ``History.history``: ``{"loss": [...], "val_loss": [...], ...}``, one value per epoch.
        epoch_times: wall time in seconds from the start of fit to the end of each epoch.
        fit_seconds: wall time of the whole fit (training and validation).
        test: ``evaluate`` on the test data, ``{"loss": ..., <metric>: ...}``; empty without test data.
        worker: where it trained: ``{"host", "pid", "threads", "isa"}`` (the core's threads and
            the instruction set of its kernels).
    """

    def __init__(self, name: str, model: Union[BaseModel, ModelSnapshot], params: int,
                 history: Dict[str, List[float]], epoch_times: List[float], fit_seconds: float,
                 test: Dict[str, float], worker: Dict[str, Any]) -> None:
        self.name, self.params, self.history = name, params, history
        self.epoch_times, self.fit_seconds, self.test, self.worker = epoch_times, fit_seconds, test, worker
        self._model: Optional[BaseModel] = model if isinstance(model, BaseModel) else None
        self._snapshot: Optional[ModelSnapshot] = model if isinstance(model, ModelSnapshot) else None

    @property
    def model(self) -> BaseModel:
        """The trained model: the one that trained, when it trained in this process; else
        rebuilt from its snapshot on first use (``model.history`` holds the history; the
        optimizer starts afresh). Models with layers of your own: ``snapshot.restore(custom_objects)``."""
        if self._model is None:
            assert self._snapshot is not None
            model = self._snapshot.restore()
            model.history = History()
            model.history.history = {key: list(values) for key, values in self.history.items()}
            model.history.epoch = list(range(self.epochs))
            self._model = model
        return self._model

    @property
    def snapshot(self) -> ModelSnapshot:
        """The trained model as plain data (config, compile config, weights)."""
        if self._snapshot is None:
            assert self._model is not None
            return ModelSnapshot.of(self._model)
        return self._snapshot

    @property
    def epochs(self) -> int:
        """The epochs run (fewer than asked if a callback stopped training)."""
        return len(self.epoch_times)

    @property
    def seconds_per_epoch(self) -> float:
        """``fit_seconds`` divided by the epochs run (by 1 when none ran)."""
        return self.fit_seconds / max(self.epochs, 1)

    @property
    def final(self) -> Dict[str, float]:
        """The last epoch's training and validation logs, e.g. ``{"loss", "mae", "val_loss", "val_mae"}``."""
        return {key: values[-1] for key, values in self.history.items() if values}

    def to_dict(self) -> Dict[str, float]:
        """The numbers of the comparison's table row: params, epochs, fit_seconds,
        seconds_per_epoch, the final logs and the test results (prefixed ``test_``)."""
        return {"params": self.params, "epochs": self.epochs, "fit_seconds": self.fit_seconds,
                "seconds_per_epoch": self.seconds_per_epoch, **self.final,
                **{f"test_{key}": value for key, value in self.test.items()}}

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r}: {self.params:,} parameters, {self.epochs} epochs in "
                f"{self.fit_seconds:.2f} s>")

    def to_record(self) -> Dict[str, Any]:
        """Plain data (str, numbers, lists, dicts and arrays), for the trip back from a worker."""
        snapshot = self.snapshot
        return {"name": self.name, "config": snapshot.config, "compile_config": snapshot.compile_config,
                "weights": snapshot.weights, "params": self.params, "history": self.history,
                "epoch_times": self.epoch_times, "fit_seconds": self.fit_seconds, "test": self.test}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], worker: Dict[str, Any]) -> ModelResult:
        """The result that ``to_record`` gave, its model kept as a snapshot."""
        snapshot = ModelSnapshot(record["config"], record["compile_config"], list(record["weights"]))
        return cls(record["name"], snapshot, record["params"], record["history"], record["epoch_times"],
                   record["fit_seconds"], record["test"], worker)


_HEADERS = {"params": "params", "epochs": "epochs", "fit_seconds": "fit time (s)", "seconds_per_epoch": "s/epoch"}


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("params", "epochs"):
        return f"{value:,}"
    if key in ("fit_seconds", "seconds_per_epoch"):
        return f"{value:.2f}"
    return format_value(value)


def _keys(rows: Iterable[Mapping[str, Any]]) -> List[str]:
    """Every key of ``rows``, in the order they first appear."""
    keys: Dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return list(keys)


def _text_table(header: List[str], rows: List[List[str]], labels: int, caption: Optional[str] = None) -> str:
    """A text table: the first ``labels`` columns aligned left, the numbers right, a rule under
    the header, and ``caption`` above it."""
    widths = [max(len(line[k]) for line in [header, *rows]) for k in range(len(header))]

    def line(cells: List[str]) -> str:
        return "  ".join(cell.ljust(w) if k < labels else cell.rjust(w)
                         for k, (cell, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)] + [line(row) for row in rows]
    return "\n".join(([caption] if caption is not None else []) + lines)


def _html_table(header: List[str], rows: List[List[str]], labels: int, css_class: str,
                caption: Optional[str] = None) -> str:
    """The same table in HTML, for Jupyter; every cell escaped."""

    def tr(cells: List[str], tag: str) -> str:
        return "<tr>" + "".join(f'<{tag} style="text-align:{"left" if k < labels else "right"}">'
                                f"{html.escape(cell)}</{tag}>" for k, cell in enumerate(cells)) + "</tr>"

    body = "".join(tr(row, "td") for row in rows)
    top = f"<caption>{html.escape(caption)}</caption>" if caption is not None else ""
    return f'<table class="{css_class}">{top}<thead>{tr(header, "th")}</thead><tbody>{body}</tbody></table>'


class Comparison:
    """The results of :func:`compare`: a table (text in a terminal, HTML in Jupyter) and
    learning curves (``plot``).

    Attributes:
        results: ``{name: ModelResult}``, in the builders' order.
    """

    def __init__(self, results: Mapping[str, ModelResult]) -> None:
        self.results: Dict[str, ModelResult] = dict(results)

    def __getitem__(self, name: str) -> ModelResult:
        return self.results[name]

    def to_dict(self) -> Dict[str, Dict[str, float]]:
        """``{name: row}``: the table's numbers, unformatted (see ``ModelResult.to_dict``)."""
        return {name: result.to_dict() for name, result in self.results.items()}

    def _table(self) -> Tuple[List[str], List[List[str]]]:
        """The header and the rows of formatted cells; every key any model logged is a column."""
        rows = self.to_dict()
        keys = _keys(rows.values())
        header = ["model"] + [_HEADERS.get(key, key) for key in keys]
        return header, [[name] + [_cell(key, row.get(key)) for key in keys] for name, row in rows.items()]

    def __str__(self) -> str:
        return _text_table(*self._table(), labels=1)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return _html_table(*self._table(), labels=1, css_class="rnnkit-comparison")

    def plot(self, metrics: Optional[Sequence[str]] = None, *, x: str = "epoch", path: Optional[PathLike] = None,
             title: Optional[str] = None) -> Any:
        """Learning curves side by side: one panel per metric (loss first), one colour per
        model, training solid and validation dashed. Needs matplotlib (``pip install rnnkit[plot]``).

        Args:
            metrics: names to draw, e.g. ``["loss"]``; default every one logged.
            x: ``"epoch"``, or ``"time"`` for the wall time of training (which cell gets
                there first).
            path: also save the figure there (PNG, SVG or PDF, from the extension).
            title: the figure's title.

        Returns:
            The matplotlib Figure.
        """
        if x not in ("epoch", "time"):
            raise ValueError(f"x must be 'epoch' or 'time', got {x!r}")
        times = {name: r.epoch_times for name, r in self.results.items()} if x == "time" else None
        return plot_learning_curves({name: r.history for name, r in self.results.items()}, metrics,
                                    times=times, path=path, title=title)


class _EpochClock(Callback):
    """Records the wall time at the end of each epoch and, if ``verbose``, moves a progress
    bar by one step per epoch, showing the epoch's logs."""

    def __init__(self, epochs: int, verbose: int) -> None:
        super().__init__()
        self.epochs, self.verbose = epochs, verbose
        self.times: List[float] = []
        self._start = 0.0
        self._progbar: Optional[Progbar] = None

    def on_train_begin(self, logs: Optional[Dict[str, Any]] = None) -> None:
        self.times = []
        self._start = time.perf_counter()
        if self.verbose:
            self._progbar = Progbar(self.epochs, verbose=self.verbose, stateless_metrics=(), unit_name="epoch")

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        self.times.append(time.perf_counter() - self._start)
        if self._progbar is not None:
            self._progbar.update(len(self.times), list((logs or {}).items()))

    def on_train_end(self, logs: Optional[Dict[str, Any]] = None) -> None:
        if self._progbar is not None and 0 < len(self.times) < self.epochs:  # stopped early: close the bar
            self._progbar.update(len(self.times), list((logs or {}).items()), finalize=True)


def _parts(data: Any) -> Parts:
    """The training, validation and (optional) test pairs of ``data``."""
    if isinstance(data, Dataset):
        return data.train, data.validation, data.test
    pairs = isinstance(data, (tuple, list)) and len(data) in (2, 3) and \
        all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in data)
    if not pairs:
        raise TypeError("data must be an rnnkit.datasets.Dataset or ((x_train, y_train), (x_val, y_val)"
                        f"[, (x_test, y_test)]), got {type(data).__name__}"
                        + (f" of {len(data)} items" if isinstance(data, (tuple, list)) else ""))
    train, validation, *test = [(_arrays(x), _arrays(y)) for x, y in data]
    return train, validation, (test[0] if test else None)


def _arrays(value: Any) -> Any:
    """An array; or, for a model of several inputs or outputs, a dict of arrays or a list of
    NumPy arrays (a list of plain numbers is one array)."""
    if isinstance(value, dict):
        return {k: np.asarray(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
        return list(value)
    return np.asarray(value)


class _Fit(NamedTuple):
    """How every model of a call trains (its seed is per model)."""

    epochs: int
    batch_size: int
    verbose: int
    callbacks: List[Callback]


def _train(parts: Parts, builder: Callable[[], BaseModel], name: str, seed: int, fit: _Fit) -> ModelResult:
    """Trains one model as :func:`compare` and :func:`rnnkit.sweep` do: seeds, builds (for the
    data's input shape if need be), seeds again, fits with validation, times, evaluates."""
    (x_train, y_train), validation, test = parts
    utils.set_random_seed(seed)
    model = builder()
    if not isinstance(model, BaseModel):
        raise TypeError(f"builder {name!r} must return an rnnkit model (e.g. Sequential), "
                        f"got {type(model).__name__}")
    if not model.compiled:
        raise ValueError(f"builder {name!r} returned a model that is not compiled: call "
                         "model.compile(optimizer=..., loss=..., metrics=[...]) in the builder")
    if not model.built:
        first = next(iter(x_train.values())) if isinstance(x_train, dict) else (
            x_train[0] if isinstance(x_train, list) else x_train)
        model.build((None,) + first.shape[1:])
    if fit.verbose:
        print_msg(f"{name}: {model.count_params():,} parameters")
    clock = _EpochClock(fit.epochs, fit.verbose)
    utils.set_random_seed(seed)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=fit.batch_size, epochs=fit.epochs, validation_data=validation,
                        verbose=0, callbacks=[*fit.callbacks, clock])
    fit_seconds = time.perf_counter() - start
    scores = {} if test is None else model.evaluate(*test, batch_size=fit.batch_size, verbose=0, return_dict=True)
    return ModelResult(name, model, model.count_params(), history.history, clock.times, fit_seconds, scores,
                       _transport.where())


def _train_record(parts: Parts, builder: Callable[[], BaseModel], name: str, seed: int, fit: _Fit) -> Dict[str, Any]:
    """:func:`_train` in a worker: the result as plain data (``ModelResult.to_record``)."""
    return _train(parts, builder, name, seed, fit).to_record()


def _fit_settings(epochs: Any, batch_size: Any, verbose: Any, callbacks: Optional[Sequence[Callback]],
                  verbosities: Sequence[int]) -> _Fit:
    """The checked settings shared by compare and sweep."""
    epochs = data_checks.count("epochs", epochs, minimum=1)
    batch_size = data_checks.count("batch_size", batch_size, minimum=1)
    if verbose not in verbosities:
        raise ValueError(f"verbose must be {', '.join(map(str, verbosities[:-1]))} or {verbosities[-1]}, "
                         f"got {verbose!r}")
    if isinstance(callbacks, (Callback, str, bytes)):
        raise TypeError(f"callbacks must be a list of callbacks, got {type(callbacks).__name__}")
    return _Fit(int(epochs), int(batch_size), int(verbose), list(callbacks or []))


def _check_threads(threads: Any) -> Optional[int]:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be a whole number of at least 1 or None, got {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads must be a whole number of at least 1 or None, got {threads!r}")
    return int(threads)


def _trained(executor: Any, parts: Parts, tasks: Sequence[Tuple[Callable[[], BaseModel], str, int]], fit: _Fit,
             threads: Optional[int]) -> Iterator[Tuple[int, ModelResult]]:
    """``(index, result)`` for every ``(builder, name, seed)`` task, as each ends: trained here
    (``executor=None``, in order, the model kept) or by the executor's workers (the model sent
    back as a snapshot)."""
    labels = [name for _, name, _ in tasks]
    if executor is None:
        for index, result, _ in _transport.run(None, _train, parts, [(*task, fit) for task in tasks],
                                               threads=threads, labels=labels):
            yield index, result
        return
    quiet = fit._replace(verbose=0)  # a worker's progress bars would not reach this terminal
    for index, record, worker in _transport.run(executor, _train_record, parts, [(*task, quiet) for task in tasks],
                                                threads=threads, labels=labels):
        yield index, ModelResult.from_record(record, worker)


def _summary_line(result: ModelResult) -> str:
    """One line about a finished model: size, epochs, time and final logs."""
    logs = " - ".join(f"{key}: {format_value(value)}" for key, value in
                      [*result.final.items(), *((f"test_{k}", v) for k, v in result.test.items())])
    return (f"{result.name}: {result.params:,} parameters, {result.epochs} epochs in {result.fit_seconds:.2f} s"
            + (f" - {logs}" if logs else ""))


def compare(builders: Mapping[str, Callable[[], BaseModel]], data: Any, *, epochs: int = 10, batch_size: int = 32,
            seed: int = 0, verbose: int = 1, callbacks: Optional[Sequence[Callback]] = None,
            executor: Any = None, threads: Optional[int] = None) -> Comparison:
    """Trains each model that ``builders`` makes on the same data with the same seed, and
    measures its size, its training time and its results.

    For each name, in order: ``rnnkit.utils.set_random_seed(seed)``, then
    ``model = builders[name]()``, built for the data's input shape; the seed is set again
    and the model is fit on the training part, validated on the validation part after every
    epoch (the same batches in the same order for every model), timed, and evaluated on the
    test part.

    Args:
        builders: ``{name: function}``, each function returning a new compiled model (e.g. a
            ``Sequential``), e.g. ``{"LSTM": make_lstm, "GRU": make_gru}``.
        data: an ``rnnkit.datasets.Dataset``, or ``((x_train, y_train), (x_val, y_val))``
            with an optional third pair ``(x_test, y_test)``; x ``(N, T, F)``.
        epochs: epochs to train each model.
        batch_size: samples per gradient step.
        seed: the seed set before building and before fitting each model.
        verbose: 0 silent; 1 for each model its name, its parameter count and a progress bar
            advancing by epoch with the epoch's logs; 2 the same with one line per model,
            printed when its training ends. With an executor, 1 and 2 print one line per
            model when its result arrives.
        callbacks: callbacks for every fit, e.g. ``[EarlyStopping(patience=3)]``; rnnkit's
            callbacks reset their state when a fit begins, so one list serves all models.
            With an executor, each task gets its own copy (they must pickle).
        executor: None to train here, one model after the other; or an executor to train the
            models in parallel where it runs them (see :func:`rnnkit.sweep`): a
            ``concurrent.futures.ProcessPoolExecutor`` (the builders must then be module-level
            functions), a Dask ``distributed.Client`` or ``client.get_executor()``, or an
            ``rnnkit.sweeps.RayExecutor``. The data is sent once per worker; each model comes
            back as a snapshot (config and weights), rebuilt here on first use of ``.model``.
            Same seed, same kernels: the same weights and histories as ``executor=None``.
        threads: the core's threads for each model (``rnnkit.config.set_num_threads``);
            default: left as it is here, and cores divided by workers with an executor.

    Returns:
        Comparison: ``print`` it for the table, ``.plot()`` for the learning curves,
        ``["LSTM"].model`` for a trained model.
    """
    if not isinstance(builders, Mapping) or not builders:
        raise ValueError("builders must be a non-empty dict {name: function returning a compiled model}, "
                         f"got {builders!r}")
    for name, builder in builders.items():
        if not isinstance(name, str) or not callable(builder) or isinstance(builder, BaseModel):
            raise TypeError(f"builders must map names (str) to functions that build and compile a new model "
                            f"(so that each starts from the seed), got {name!r}: {type(builder).__name__}")
    fit = _fit_settings(epochs, batch_size, verbose, callbacks, (0, 1, 2))
    threads = _check_threads(threads)
    _transport.check_executor(executor, [(f"builder {name!r}", builder) for name, builder in builders.items()]
                              + [("callbacks", fit.callbacks)])
    parts = _parts(data)
    results: Dict[int, ModelResult] = {}
    tasks = [(builder, name, seed) for name, builder in builders.items()]
    for index, result in _trained(executor, parts, tasks, fit, threads):
        if executor is not None and fit.verbose:
            print_msg(_summary_line(result))
        results[index] = result
    return Comparison({result.name: result for _, result in sorted(results.items())})
