"""sweep: train every point of a grid of settings from several seeds each, here or on an
executor (local processes, a Dask cluster, Ray), and summarise each point as mean ± std over
its seeds::

    def build(cell, units):                      # the grid's names are its keyword arguments
        model = Sequential([getattr(rnnkit.layers, cell)(units), Dense(1)])
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        return model

    result = rnnkit.sweep({"cell": ["LSTM", "GRU"], "units": [16, 32]}, build, data, seeds=[0, 1, 2],
                          executor=client)        # None (here), ProcessPoolExecutor, Dask, RayExecutor
    result.table()                                # a pandas DataFrame, one row per grid point
    result.plot()                                 # final val_loss against units, one line per cell

Every run trains exactly as one model of :func:`rnnkit.compare` does, and comes back from a
worker as plain data: its JSON config, weight arrays and history, never a pickled model.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import _transport
from ._arguments import is_number
from ._transport import RayExecutor
from .callbacks import Callback
from .comparison import (
    ModelResult,
    _check_threads,
    _fit_settings,
    _html_table,
    _keys,
    _parts,
    _summary_line,
    _text_table,
    _trained,
)
from .models.base import BaseModel
from .plotting import PathLike, _finish, _log_scale_for_wide_losses, _pyplot
from .progress import format_value, print_msg

if TYPE_CHECKING:
    import pandas

__all__ = ["sweep", "SweepResult", "Run", "RayExecutor"]

# Columns of the results, so not names for the grid's settings.
_RESERVED = ("seed", "runs", "params", "epochs", "fit_seconds", "seconds_per_epoch")
# The text and HTML tables leave this one out (it is fit_seconds / epochs); table() has it.
_TEXT_SKIPS = ("seconds_per_epoch",)
_HEADERS = {"params": "params", "epochs": "epochs", "fit_seconds": "fit time (s)"}


class Run(ModelResult):
    """One run of a sweep: the model of one grid point, trained from one seed.

    Attributes:
        point: the grid point, ``{name: value}``, e.g. ``{"cell": "GRU", "units": 32}``.
        seed: the seed it trained from.
        name, params, history, epoch_times, fit_seconds, test, worker, model, snapshot: as
            for :class:`rnnkit.comparison.ModelResult` (``params`` is the parameter count;
            ``model`` is rebuilt from the snapshot on first use when the run trained elsewhere).
    """

    def __init__(self, point: Mapping[str, Any], seed: int, result: ModelResult) -> None:
        source = result._model if result._model is not None else result.snapshot
        super().__init__(result.name, source, result.params, result.history, result.epoch_times,
                         result.fit_seconds, result.test, result.worker)
        self.point: Dict[str, Any] = dict(point)
        self.seed = seed


def _text(value: Any) -> str:
    """A grid value as the tables and labels show it."""
    return format(value, "g") if isinstance(value, float) else str(value)


def _label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={_text(value)}" for name, value in point.items())


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _plus_minus(key: str, mean: float, std: float) -> str:
    """``mean ± std`` as a table cell; the mean alone when there is no spread to show."""
    if math.isnan(mean):
        return "-"
    if key == "params":
        return f"{mean:,.0f}"
    if key == "epochs":
        return f"{mean:g}" if not std or math.isnan(std) else f"{mean:.1f} ± {std:.1f}"
    if key == "fit_seconds":
        return f"{mean:.2f}" + ("" if math.isnan(std) else f" ± {std:.2f}")
    text = format_value(mean)
    if math.isnan(std):
        return text
    return f"{text} ± {std:.1e}" if "e" in text else f"{text} ± {std:.4f}"


class SweepResult:
    """The results of :func:`sweep`: every run, and each grid point's mean ± std over its seeds
    as a table (``table()``: pandas; ``print`` and Jupyter: text and HTML, without pandas) and
    as plots (``plot``, ``plot_curves``).

    Attributes:
        grid: ``{name: [values]}``, as given.
        seeds: the seeds every grid point trained from.
        runs: every :class:`Run`, grid point by grid point (the last name varying fastest),
            each point's seeds in order.
    """

    def __init__(self, grid: Mapping[str, Sequence[Any]], seeds: Sequence[int], runs: Sequence[Run]) -> None:
        self.grid: Dict[str, List[Any]] = {name: list(values) for name, values in grid.items()}
        self.seeds: List[int] = list(seeds)
        self.runs: List[Run] = list(runs)

    @property
    def points(self) -> List[Dict[str, Any]]:
        """Every grid point, ``{name: value}``, in the runs' order."""
        return _points(self.grid)

    def select(self, **values: Any) -> List[Run]:
        """The runs whose point has these values, e.g. ``select(cell="GRU")`` or
        ``select(cell="GRU", units=32)`` (its seeds)."""
        unknown = sorted(set(values) - set(self.grid))
        if unknown:
            raise ValueError(f"select: {', '.join(map(repr, unknown))} is not in the grid; it has "
                             f"{', '.join(map(repr, self.grid))}")
        return [run for run in self.runs if all(run.point[name] == value for name, value in values.items())]

    def _groups(self) -> List[Tuple[Dict[str, Any], List[Run]]]:
        """Each grid point with its runs (the runs hold their points in the grid's order)."""
        per_point = len(self.seeds)
        return [(point, self.runs[k * per_point:(k + 1) * per_point]) for k, point in enumerate(self.points)]

    def summary(self) -> List[Dict[str, Any]]:
        """One dict per grid point, the numbers behind the tables: the point's values,
        ``runs``, ``params`` (the parameter count), and for every number of a run's row
        (``epochs``, ``fit_seconds``, ``seconds_per_epoch``, the final logs such as
        ``val_loss``, the test results as ``test_loss``) its mean over the seeds under its own
        name and its standard deviation (n - 1 in the denominator; NaN for one seed) as
        ``<name>_std``."""
        rows = []
        for point, runs in self._groups():
            numbers = [run.to_dict() for run in runs]
            summary: Dict[str, Any] = {**point, "runs": len(runs)}
            for key in _keys(numbers):
                values = np.array([row[key] for row in numbers if key in row], dtype=np.float64)
                mean = float(values.mean()) if values.size else math.nan
                if key == "params":
                    summary[key] = int(values[0]) if values.size and (values == values[0]).all() else mean
                    continue
                summary[key] = mean
                summary[f"{key}_std"] = float(values.std(ddof=1)) if values.size > 1 else math.nan
            rows.append(summary)
        return rows

    def table(self, per_run: bool = False) -> pandas.DataFrame:
        """The results as a pandas DataFrame (``pip install pandas``, or ``rnnkit[dask]``).

        Args:
            per_run: False: one row per grid point, indexed by the grid's names, with the
                columns of :meth:`summary` (``val_loss`` the mean, ``val_loss_std`` the
                standard deviation over the seeds, ...). True: one row per run, with its
                point, its ``seed`` and the numbers of its row.

        Returns:
            pandas.DataFrame.
        """
        try:
            import pandas
        except ImportError as error:
            raise ImportError("SweepResult.table needs pandas: pip install pandas (print the result, or use "
                              "summary(), for the table without it)") from error
        if per_run:
            return pandas.DataFrame([{**{name: _hashable(value) for name, value in run.point.items()},
                                      "seed": run.seed, **run.to_dict()} for run in self.runs])
        rows = [{key: _hashable(value) if key in self.grid else value for key, value in row.items()}
                for row in self.summary()]
        return pandas.DataFrame(rows).set_index(list(self.grid))

    def _cells(self) -> Tuple[List[str], List[List[str]]]:
        """The header and the rows of formatted cells: the grid's names, then every number."""
        rows = self.summary()
        keys = [key for key in _keys(rows) if key not in self.grid and key != "runs" and not key.endswith("_std")
                and key not in _TEXT_SKIPS]
        header = list(self.grid) + [_HEADERS.get(key, key) for key in keys]
        cells = [[_text(row[name]) for name in self.grid]
                 + [_plus_minus(key, row.get(key, math.nan), row.get(f"{key}_std", math.nan)) for key in keys]
                 for row in rows]
        return header, cells

    def _caption(self) -> str:
        seeds = ", ".join(map(str, self.seeds))
        return (f"{len(self.runs)} runs: {len(self.points)} grid points × {len(self.seeds)} seeds ({seeds}); "
                "mean ± std over the seeds")

    def __str__(self) -> str:
        return _text_table(*self._cells(), labels=len(self.grid), caption=self._caption())

    def __repr__(self) -> str:
        return f"<SweepResult {self._caption()}>"

    def _repr_html_(self) -> str:
        return _html_table(*self._cells(), labels=len(self.grid), css_class="rnnkit-sweep", caption=self._caption())

    # ------------------------------------------------------------------ plots
    def _default_x(self) -> str:
        """The last name of the grid whose values are all numbers (else the last name)."""
        numeric = [name for name, values in self.grid.items() if all(map(is_number, values))]
        return (numeric or list(self.grid))[-1]

    def plot(self, metric: str = "val_loss", x: Optional[str] = None, *, path: Optional[PathLike] = None,
             title: Optional[str] = None) -> Any:
        """A number at the end of training against one setting of the grid: the mean over the
        seeds with the standard deviation as error bars, one line per combination of the other
        settings (e.g. val_loss against units, one line per cell). Needs matplotlib
        (``pip install rnnkit[plot]``).

        Args:
            metric: a column of :meth:`summary`: ``"val_loss"`` (default), ``"loss"``,
                ``"test_loss"``, a metric such as ``"val_mae"``, ``"fit_seconds"``, ``"params"``...
            x: the grid's name along the x axis; default its last name whose values are all
                numbers (a log scale when they are positive and span ten times or more).
            path: also save the figure there (PNG, SVG or PDF, from the extension).
            title: the figure's title.

        Returns:
            The matplotlib Figure.
        """
        rows = self.summary()
        available = [key for key in rows[0] if key not in self.grid and key != "runs" and not key.endswith("_std")]
        if metric not in available:
            raise ValueError(f"cannot plot {metric!r}; the runs have {', '.join(map(repr, available))}")
        x = self._default_x() if x is None else x
        if x not in self.grid:
            raise ValueError(f"x must be one of the grid's names {', '.join(map(repr, self.grid))}, got {x!r}")
        values = self.grid[x]
        numeric = all(map(is_number, values))
        positions = [float(value) for value in values] if numeric else [float(k) for k in range(len(values))]
        others = [name for name in self.grid if name != x]
        lines: Dict[Tuple[int, ...], List[Dict[str, Any]]] = {}
        for row in rows:  # grouped by the other names' values, by index: values need not be hashable
            key = tuple(self.grid[name].index(row[name]) for name in others)
            lines.setdefault(key, []).append(row)
        log = numeric and min(positions) > 0 and max(positions) >= 10 * min(positions)
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        drawn: List[float] = []
        for k, group in enumerate(lines.values()):
            group.sort(key=lambda row: values.index(row[x]))
            means = [row[metric] for row in group]
            stds = [0.0 if math.isnan(row.get(f"{metric}_std", math.nan)) else row[f"{metric}_std"] for row in group]
            where = [positions[values.index(row[x])] for row in group]
            where = _dodge(where, positions, k - (len(lines) - 1) / 2, log)
            label = _label({name: group[0][name] for name in others}) or metric
            ax.errorbar(where, means, yerr=stds, marker="o", capsize=4, label=label)
            drawn += means
        if log:
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(positions, [_text(value) for value in values])
        _log_scale_for_wide_losses(ax, metric, drawn)
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize="small")
        ax.set_title(title or f"{metric}: mean ± std over {len(self.seeds)} seed{'s' * (len(self.seeds) != 1)}")
        return _finish(fig, path)

    def plot_curves(self, metric: str = "val_loss", *, where: Optional[Mapping[str, Any]] = None,
                    path: Optional[PathLike] = None, title: Optional[str] = None) -> Any:
        """Learning curves: for every grid point, the mean over the seeds of ``metric`` at each
        epoch, in a band of ± one standard deviation. Needs matplotlib.

        Args:
            metric: a log of the histories: ``"val_loss"`` (default), ``"loss"``, ``"val_mae"``...
            where: only the grid points with these values, e.g. ``{"units": 32}`` (as
                :meth:`select`); default every point.
            path: also save the figure there (PNG, SVG or PDF, from the extension).
            title: the figure's title.

        Returns:
            The matplotlib Figure.
        """
        logged = _keys(run.history for run in self.runs)
        if metric not in logged:
            raise ValueError(f"cannot plot {metric!r}; the histories have {', '.join(map(repr, logged))}")
        chosen = {id(run) for run in self.select(**(where or {}))}
        groups = [(point, runs) for point, runs in self._groups() if id(runs[0]) in chosen]
        if not groups:
            raise ValueError(f"no grid point has {_label(where or {})}")
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        drawn: List[float] = []
        for point, runs in groups:
            curves = [run.history.get(metric, []) for run in runs]
            length = max(map(len, curves))
            if not length:
                continue
            stacked = np.full((len(curves), length), np.nan)  # a run stopped early has fewer epochs
            for k, curve in enumerate(curves):
                stacked[k, :len(curve)] = curve
            counts = np.sum(~np.isnan(stacked), axis=0)
            mean = np.nanmean(stacked, axis=0)
            spread = np.array([np.nanstd(column, ddof=1) if count > 1 else 0.0
                               for column, count in zip(stacked.T, counts)])
            epochs = np.arange(1, length + 1)
            (line,) = ax.plot(epochs, mean, label=_label(point))
            ax.fill_between(epochs, mean - spread, mean + spread, color=line.get_color(), alpha=0.2, linewidth=0)
            drawn += [float(value) for value in mean]
        _log_scale_for_wide_losses(ax, metric, drawn)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", ncol=2 if len(groups) > 6 else 1)
        ax.set_title(title or f"{metric}: mean ± std over {len(self.seeds)} seed{'s' * (len(self.seeds) != 1)}")
        return _finish(fig, path)


def _dodge(where: List[float], positions: List[float], shift: float, log: bool) -> List[float]:
    """``where`` moved ``shift`` steps sideways, so that the error bars of several lines at
    one value stand apart: a step is 1.5% of the axis' span (in decades on a log axis)."""
    if log:
        step = 0.015 * math.log10(max(positions) / min(positions))
        return [value * 10 ** (shift * step) for value in where]
    step = 0.015 * ((max(positions) - min(positions)) or 1.0)
    return [value + shift * step for value in where]


def _points(grid: Mapping[str, Sequence[Any]]) -> List[Dict[str, Any]]:
    """Every combination of the grid's values, ``{name: value}``, the last name varying fastest."""
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def _check_grid(grid: Any) -> Dict[str, List[Any]]:
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty dict {name: [values]}, e.g. {'cell': ['LSTM', 'GRU'], "
                         f"'units': [16, 32]}}, got {grid!r}")
    checked: Dict[str, List[Any]] = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"the grid's names are build_fn's keyword arguments, so they must be identifiers, "
                            f"got {name!r}")
        if name in _RESERVED:
            raise ValueError(f"the grid cannot have {name!r}: it names a column of the results "
                             f"({', '.join(_RESERVED)}); epochs and batch_size are sweep's own arguments")
        if isinstance(values, np.ndarray) and values.ndim == 1:
            values = values.tolist()
        if not isinstance(values, (list, tuple, range)):
            raise TypeError(f"grid[{name!r}] must be a list of values, got {type(values).__name__} {values!r:.60}; "
                            f"for a single value write [{values!r:.40}]")
        if not values:
            raise ValueError(f"grid[{name!r}] is empty: give it at least one value")
        values = list(values)
        for k, value in enumerate(values):
            if value in values[:k]:
                raise ValueError(f"grid[{name!r}] holds {value!r} twice")
        checked[name] = values
    return checked


def _check_seeds(seeds: Any) -> List[int]:
    if isinstance(seeds, (int, np.integer, str, bytes)) or not isinstance(seeds, (list, tuple, range, np.ndarray)):
        raise TypeError(f"seeds must be a list of integers, e.g. [0, 1, 2], got {type(seeds).__name__} {seeds!r:.60}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed, e.g. [0, 1, 2]")
    for seed in seeds:
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seeds must be integers, got {seed!r} of type {type(seed).__name__}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds holds a seed twice: {seeds}")
    return [int(seed) for seed in seeds]


def _check_build_fn(build_fn: Any, names: Sequence[str]) -> None:
    if not callable(build_fn) or isinstance(build_fn, BaseModel):
        raise TypeError("build_fn must be a function that builds and compiles a new model from the grid's settings, "
                        f"build_fn({', '.join(f'{name}=...' for name in names)}), got {type(build_fn).__name__}")
    try:
        signature = inspect.signature(build_fn)
    except (TypeError, ValueError):  # some builtins and extension functions have no signature to check
        return
    try:
        signature.bind(**dict.fromkeys(names))
    except TypeError as error:
        raise TypeError(f"build_fn{signature} must take the grid's settings as keyword arguments "
                        f"({', '.join(names)}): {error}") from None


def sweep(grid: Mapping[str, Sequence[Any]], build_fn: Callable[..., BaseModel], data: Any, *,
          seeds: Sequence[int] = (0, 1, 2), epochs: int = 10, batch_size: int = 32, verbose: int = 1,
          callbacks: Optional[Sequence[Callback]] = None, executor: Any = None,
          threads: Optional[int] = None) -> SweepResult:
    """Trains a model for every point of ``grid`` from every seed, here or on ``executor``, and
    gathers the results.

    Each run, for a point such as ``{"cell": "GRU", "units": 32}`` and a seed, is what
    :func:`rnnkit.compare` does for one model: ``rnnkit.utils.set_random_seed(seed)``,
    ``build_fn(cell="GRU", units=32)``, the seed again, ``fit`` with validation after every
    epoch, ``evaluate`` on the test data. The same seeds give the same weights and histories
    whichever executor runs them (and however many threads each uses), as long as the machines
    run the same kernels: ``rnnkit.config.info()["isa"]`` and the BLAS kernel (pin them with
    ``RNNKIT_ISA`` and ``OPENBLAS_CORETYPE`` on a cluster of mixed CPUs).

    Args:
        grid: ``{name: [values]}``, e.g. ``{"cell": ["LSTM", "GRU"], "units": [16, 32, 64],
            "learning_rate": [1e-3, 1e-2]}``: every combination is a point.
        build_fn: a function taking the grid's names as keyword arguments and returning a new
            compiled model, e.g. ``def build(cell, units, learning_rate): ...`` (it may take
            ``**params``). With a ``ProcessPoolExecutor`` it must be defined at the top level of
            an importable module (its processes import it by name; one defined in a notebook
            works only under the 'fork' start method, and only if defined before the pool
            started its processes); Dask and Ray send it by value, so one defined in a
            notebook works.
        data: an ``rnnkit.datasets.Dataset``, or ``((x_train, y_train), (x_val, y_val))``
            with an optional third pair ``(x_test, y_test)``; x ``(N, T, F)``. Sent once per
            worker, not once per run.
        seeds: the seeds of every point (default 0, 1, 2).
        epochs: epochs to train each run.
        batch_size: samples per gradient step.
        verbose: 0 silent; 1 one line per run as it ends (its size, time and final logs).
        callbacks: callbacks for every fit, e.g. ``[EarlyStopping(patience=3)]``; with an
            executor each run gets its own copy (they must pickle).
        executor: where the runs train:

            - None: here, one after the other, in order (the models stay as they trained).
            - ``concurrent.futures.ProcessPoolExecutor(n)``: n processes of this machine; the
              data is written once to a temporary folder that each process maps once.
            - a Dask ``distributed.Client`` (or ``client.get_executor()``): the data is
              scattered once to every worker; functions go with cloudpickle.
            - :class:`RayExecutor` (after ``ray.init(...)``): the data goes once into Ray's
              object store.

            With an executor, every run comes back as its JSON config, weight arrays and
            history (never a pickled model), and ``run.model`` is rebuilt here on first use.
        threads: the core's threads for each run (``rnnkit.config.set_num_threads``); default:
            left as it is here, and with an executor the machine's cores divided by its
            workers (for Ray, the CPUs each task reserves: ``RayExecutor(num_cpus=...)``).

    Returns:
        SweepResult: ``print`` it (or show it in Jupyter) for the mean ± std table,
        ``.table()`` for a DataFrame, ``.plot()`` and ``.plot_curves()``, ``.runs`` for every
        run with its history and model.

    Raises:
        ValueError, TypeError: a bad argument, before anything trains; an executor of no known
            kind, or a ThreadPoolExecutor.
    """
    grid = _check_grid(grid)
    _check_build_fn(build_fn, list(grid))
    seeds = _check_seeds(seeds)
    fit = _fit_settings(epochs, batch_size, verbose, callbacks, (0, 1))
    threads = _check_threads(threads)
    _transport.check_executor(executor, [("build_fn", build_fn), ("callbacks", fit.callbacks)])
    parts = _parts(data)
    points = _points(grid)
    tasks = [(functools.partial(build_fn, **point), f"{_label(point)}, seed={seed}", seed)
             for point in points for seed in seeds]
    quiet = fit._replace(verbose=0)  # per run, one line here rather than a progress bar
    runs: Dict[int, Run] = {}
    for done, (index, result) in enumerate(_trained(executor, parts, tasks, quiet, threads), start=1):
        point, seed = points[index // len(seeds)], seeds[index % len(seeds)]
        runs[index] = Run(point, seed, result)
        if fit.verbose:
            print_msg(f"[{done:>{len(str(len(tasks)))}}/{len(tasks)}] {_summary_line(result)}")
    return SweepResult(grid, seeds, [runs[index] for index in range(len(tasks))])
