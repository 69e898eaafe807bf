"""Plots with matplotlib: learning curves (``History.plot``, ``Comparison.plot``), and the gates
and gradient norms over time of a trace (``model.trace``, :mod:`rnnkit.traces`).

matplotlib is optional (``pip install rnnkit[plot]``) and imported only when a plot is drawn.
"""

from __future__ import annotations

import os
from typing import Any, List, Mapping, Optional, Sequence, Union

import numpy as np

from ._arguments import check_integer
from .traces import GATE_TITLES, LayerTrace

__all__ = ["plot_learning_curves", "plot_gates", "plot_gradient_norms"]

PathLike = Union[str, "os.PathLike[str]"]
Histories = Mapping[str, Mapping[str, Sequence[float]]]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install 'rnnkit[plot]' (or pip install matplotlib)") \
            from error
    return plt


def _metric_names(histories: Histories, metrics: Optional[Sequence[str]]) -> List[str]:
    """The metrics to draw: those asked for (checked), else every training log in the
    histories (``loss`` first), without their ``val_`` twins, which share their panel."""
    names: List[str] = []
    for history in histories.values():
        names += [key for key in history if not key.startswith("val_") and key not in names]
    if metrics is None:
        return sorted(names, key=lambda name: name != "loss")
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in names]
    if unknown or not metrics:
        raise ValueError(f"cannot plot {', '.join(map(repr, unknown)) or 'no metric'}; the histories have "
                         f"{', '.join(map(repr, names))}")
    return list(metrics)


def plot_learning_curves(histories: Histories, metrics: Optional[Sequence[str]] = None,
                         *, times: Optional[Mapping[str, Sequence[float]]] = None, path: Optional[PathLike] = None,
                         title: Optional[str] = None) -> Any:
    """One panel per metric, side by side; in each, one colour per model, training solid
    and validation (``val_*``) dashed. Losses spanning more than a decade get a log scale.

    Args:
        histories: ``{label: History.history}``, e.g. ``{"LSTM": {"loss": [...], "val_loss": [...]}}``;
            with a single history the lines are labelled training and validation, and the
            label becomes the title.
        metrics: names to draw, e.g. ``["loss", "mae"]``; default every one logged, loss first.
        times: ``{label: seconds}``, the wall time at the end of each epoch; the x axis is
            then training time instead of epochs.
        path: also save the figure there (PNG, SVG or PDF, from the extension).
        title: the figure's title.

    Returns:
        The matplotlib Figure (a pyplot figure: it shows in Jupyter and with ``plt.show()``).
    """
    if not histories or not any(history.get("loss") for history in histories.values()):
        raise ValueError("there is nothing to plot: the histories hold no epoch (fit with epochs >= 1 first)")
    names = _metric_names(histories, metrics)
    single = len(histories) == 1
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False, layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes[0], names):
        drawn: List[float] = []
        for k, (label, history) in enumerate(histories.items()):
            for key, style, part in ((name, "-", "training"), (f"val_{name}", "--", "validation")):
                values = list(history.get(key) or [])
                if not values:
                    continue
                x = list(times[label])[:len(values)] if times is not None else range(1, len(values) + 1)
                line_label = part if single else (label if part == "training" else f"{label} ({part})")
                ax.plot(x, values, style, color=colors[k % len(colors)], label=line_label)
                drawn += values
        ax.set_title(name)
        ax.grid(alpha=0.3)
        if times is None:
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        else:
            ax.set_xlabel("training time (s)")
        _log_scale_for_wide_losses(ax, name, drawn)
    axes[0][0].legend(fontsize="small")
    title = title or (next(iter(histories)) if single else None)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def _log_scale_for_wide_losses(ax: Any, name: str, drawn: Sequence[float]) -> None:
    """A log y axis for a loss whose drawn values are all positive and span ten times or more."""
    if name.endswith("loss") and drawn and min(drawn) > 0 and max(drawn) > 10 * min(drawn):
        ax.set_yscale("log")


def _finish(fig: Any, path: Optional[PathLike]) -> Any:
    if path is not None:
        fig.savefig(os.fspath(path), dpi=110)
    return fig


def _check_layer_trace(trace: Any) -> LayerTrace:
    if not isinstance(trace, LayerTrace):
        raise TypeError(f"expected one layer's trace (a LayerTrace, e.g. model.trace(x)['lstm']), "
                        f"got {type(trace).__name__}")
    return trace


def plot_gates(trace: LayerTrace, sample: int = 0, *, path: Optional[PathLike] = None,
               title: Optional[str] = None) -> Any:
    """Heatmaps of one sample's gate activations over time, one panel per gate (and the LSTM
    cell state): units on the y axis, time steps on the x axis; padded steps are left blank.

    Args:
        trace: one layer's trace, e.g. ``model.trace(x)["lstm"]``.
        sample: which sample of the traced batch, ``0 <= sample < N``.
        path: also save the figure there (PNG, SVG or PDF).
        title: the figure's title (default: the layer's name and the sample).

    Returns:
        The matplotlib Figure.
    """
    trace = _check_layer_trace(trace)
    count = trace.hidden.shape[0]
    sample = check_integer("plot_gates", "sample", sample)
    if not 0 <= sample < count:
        raise ValueError(f"plot_gates: sample must lie in [0, {count}) for the traced batch, got {sample}")
    panels = {GATE_TITLES[trace.cell][name]: values for name, values in trace.gates.items()}
    if trace.cell_state is not None:
        panels["c (cell state)"] = trace.cell_state
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1, 3.4), squeeze=False,
                             layout="constrained")
    valid = None if trace.mask is None else trace.mask[sample]
    for ax, (name, values) in zip(axes[0], panels.items()):
        image = np.asarray(values[sample], dtype=np.float64).T  # (units, time)
        if valid is not None:
            image = np.where(valid[None, :], image, np.nan)
        bounded = name.endswith("gate)")  # sigmoid gates lie in [0, 1]
        shown = ax.imshow(image, aspect="auto", interpolation="nearest", origin="lower",
                          cmap="viridis" if bounded else "coolwarm",
                          vmin=0 if bounded else None, vmax=1 if bounded else None)
        if not bounded:
            limit = float(np.nanmax(np.abs(image))) if np.isfinite(image).any() else 1.0
            shown.set_clim(-limit or -1, limit or 1)
        ax.set_title(name)
        ax.set_xlabel("time step")
        fig.colorbar(shown, ax=ax, shrink=0.85)
    axes[0][0].set_ylabel("unit")
    fig.suptitle(title or f"{trace.name}: sample {sample}")
    return _finish(fig, path)


def plot_gradient_norms(traces: Mapping[str, LayerTrace], state: str = "h", *, path: Optional[PathLike] = None,
                        title: Optional[str] = None) -> Any:
    """The norm of ``dL/dh_t`` (or ``dL/dc_t``) against the time step t, one line per layer, on
    a log scale: gradients that vanish towards the first steps fall to the left.

    Args:
        traces: ``{label: LayerTrace}`` with gradients, e.g. a whole ``model.trace(x, y)``, or
            ``{"LSTM": lstm_trace["lstm"], "GRU": gru_trace["gru"]}`` to put models side by side.
        state: ``"h"`` (hidden state) or ``"c"`` (LSTM cell state; other layers are skipped).
        path: also save the figure there (PNG, SVG or PDF).
        title: the figure's title.

    Returns:
        The matplotlib Figure.
    """
    if state not in ("h", "c"):
        raise ValueError(f"plot_gradient_norms: state must be 'h' or 'c', got {state!r}")
    lines = {}
    for label, trace in traces.items():
        norms = _check_layer_trace(trace).gradient_norms()
        if state in norms:
            lines[label] = norms[state]
    if not lines:
        raise ValueError(f"plot_gradient_norms: no traced layer has a gradient of {state!r} "
                         "(only LSTM layers have a cell state)")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    for label, curve in lines.items():
        ax.plot(np.arange(len(curve)), curve, label=label)
    if all(np.all(curve > 0) for curve in lines.values()):
        ax.set_yscale("log")
    ax.set_xlabel("time step t (processing order)")
    ax.set_ylabel(f"||dL/d{state}_t||")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title or "gradient flow through time")
    return _finish(fig, path)
