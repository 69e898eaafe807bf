"""Learning curves with matplotlib, for ``History.plot`` and ``Comparison.plot``.

matplotlib is optional (``pip install rnnkit[plot]``) and imported only when a plot is drawn.
"""

from __future__ import annotations

import os
from typing import Any, List, Mapping, Optional, Sequence, Union

__all__ = ["plot_learning_curves"]

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
        if name.endswith("loss") and drawn and min(drawn) > 0 and max(drawn) > 10 * min(drawn):
            ax.set_yscale("log")
    axes[0][0].legend(fontsize="small")
    title = title or (next(iter(histories)) if single else None)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(os.fspath(path), dpi=110)
    return fig
