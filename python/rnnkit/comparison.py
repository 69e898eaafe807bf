"""compare: train several models on the same data with the same seed, and set their
accuracy, speed and size side by side.

    comparison = rnnkit.compare({"LSTM": make_lstm, "GRU": make_gru}, rnnkit.datasets.sine_waves(), epochs=10)
    print(comparison)           # a table; in Jupyter it shows as HTML
    comparison.plot()           # learning curves side by side (matplotlib)
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import utils
from .callbacks import Callback
from .datasets import Dataset
from .models import data as data_checks
from .models.training import Trainer
from .plotting import PathLike, plot_learning_curves
from .progress import Progbar, format_value, print_msg

__all__ = ["compare", "Comparison", "ModelResult"]

Pair = Tuple[np.ndarray, np.ndarray]


@dataclass
class ModelResult:
    """How one model of a comparison did.

    Attributes:
        name: its name in the builders.
        model: the trained model.
        params: its number of weights (``count_params()``).
        history: ``History.history``: ``{"loss": [...], "val_loss": [...], ...}``, one value per epoch.
        epoch_times: wall time in seconds from the start of fit to the end of each epoch.
        fit_seconds: wall time of the whole fit (training and validation).
        test: ``evaluate`` on the test data, ``{"loss": ..., <metric>: ...}``; empty without test data.
    """

    name: str
    model: Trainer
    params: int
    history: Dict[str, List[float]]
    epoch_times: List[float]
    fit_seconds: float
    test: Dict[str, float]

    @property
    def epochs(self) -> int:
        """The epochs run (fewer than asked if a callback stopped training)."""
        return len(self.epoch_times)

    @property
    def seconds_per_epoch(self) -> float:
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


_HEADERS = {"params": "params", "epochs": "epochs", "fit_seconds": "fit time (s)", "seconds_per_epoch": "s/epoch"}


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("params", "epochs"):
        return f"{value:,}"
    if key in ("fit_seconds", "seconds_per_epoch"):
        return f"{value:.2f}"
    return format_value(value)


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
        keys: List[str] = []
        for row in rows.values():
            keys += [key for key in row if key not in keys]
        header = ["model"] + [_HEADERS.get(key, key) for key in keys]
        return header, [[name] + [_cell(key, row.get(key)) for key in keys] for name, row in rows.items()]

    def __str__(self) -> str:
        header, rows = self._table()
        widths = [max(len(line[k]) for line in [header] + rows) for k in range(len(header))]

        def line(cells: List[str]) -> str:
            return "  ".join(cell.ljust(w) if k == 0 else cell.rjust(w)
                             for k, (cell, w) in enumerate(zip(cells, widths))).rstrip()

        return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(row) for row in rows])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        header, rows = self._table()

        def tr(cells: List[str], tag: str) -> str:
            return "<tr>" + "".join(f'<{tag} style="text-align:{"left" if k == 0 else "right"}">'
                                    f"{html.escape(cell)}</{tag}>" for k, cell in enumerate(cells)) + "</tr>"

        body = "".join(tr(row, "td") for row in rows)
        return f'<table class="rnnkit-comparison"><thead>{tr(header, "th")}</thead><tbody>{body}</tbody></table>'

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


def _parts(data: Any) -> Tuple[Pair, Pair, Optional[Pair]]:
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


def compare(builders: Mapping[str, Callable[[], Trainer]], data: Any, *, epochs: int = 10, batch_size: int = 32,
            seed: int = 0, verbose: int = 1, callbacks: Optional[Sequence[Callback]] = None) -> Comparison:
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
            printed when its training ends.
        callbacks: callbacks for every fit, e.g. ``[EarlyStopping(patience=3)]``; rnnkit's
            callbacks reset their state when a fit begins, so one list serves all models.

    Returns:
        Comparison: ``print`` it for the table, ``.plot()`` for the learning curves,
        ``["LSTM"].model`` for a trained model.
    """
    if not isinstance(builders, Mapping) or not builders:
        raise ValueError("builders must be a non-empty dict {name: function returning a compiled model}, "
                         f"got {builders!r}")
    for name, builder in builders.items():
        if not isinstance(name, str) or not callable(builder) or isinstance(builder, Trainer):
            raise TypeError(f"builders must map names (str) to functions that build and compile a new model "
                            f"(so that each starts from the seed), got {name!r}: {type(builder).__name__}")
    epochs = data_checks.count("epochs", epochs, minimum=1)
    batch_size = data_checks.count("batch_size", batch_size, minimum=1)
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    (x_train, y_train), validation, test = _parts(data)
    results = {}
    for name, builder in builders.items():
        utils.set_random_seed(seed)
        model = builder()
        if not isinstance(model, Trainer):
            raise TypeError(f"builder {name!r} must return an rnnkit model (e.g. Sequential), "
                            f"got {type(model).__name__}")
        if not model.compiled:
            raise ValueError(f"builder {name!r} returned a model that is not compiled: call "
                             "model.compile(optimizer=..., loss=..., metrics=[...]) in the builder")
        if not model.built:
            first = next(iter(x_train.values())) if isinstance(x_train, dict) else (
                x_train[0] if isinstance(x_train, list) else x_train)
            model.build((None,) + first.shape[1:])
        if verbose:
            print_msg(f"{name}: {model.count_params():,} parameters")
        clock = _EpochClock(epochs, verbose)
        utils.set_random_seed(seed)
        start = time.perf_counter()
        history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_data=validation,
                            verbose=0, callbacks=list(callbacks or []) + [clock])
        fit_seconds = time.perf_counter() - start
        scores = {} if test is None else model.evaluate(*test, batch_size=batch_size, verbose=0, return_dict=True)
        results[name] = ModelResult(name, model, model.count_params(), history.history, clock.times, fit_seconds,
                                    scores)
    return Comparison(results)
