"""The progress bar of fit, evaluate and predict, as ``keras.utils.Progbar``.

How a bar is drawn depends on where ``sys.stdout`` (looked up at each write) goes:

- a Jupyter notebook (an IPython kernel is running): one output, updated in place through
  an ``IPython.display`` handle;
- a terminal (``isatty()``): one line, redrawn in place with ``\\r``;
- anything else (a pipe, a file, a CI log): nothing until the bar is finalized, then one
  plain line free of control characters, e.g.
  ``100/100 - 2s 20ms/step - loss: 0.1234 - accuracy: 0.9500``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["Progbar", "print_msg", "format_value", "format_eta", "format_time_per_unit"]

Values = Union[Sequence[Tuple[str, Any]], Mapping[str, Any], None]

# The clock used for timings (seconds); tests replace it.
_clock: Callable[[], float] = time.monotonic

# The Progbar whose terminal line is drawn but not yet ended by a newline, if any.
_open_line: Optional[Progbar] = None


# ---------------------------------------------------------------------- output
def print_msg(message: str, line_break: bool = True) -> None:
    """Writes ``message`` to ``sys.stdout``. A progress bar being drawn in a terminal is
    wiped first, so the message gets a line of its own; the bar is redrawn below it.

    Args:
        message: the text.
        line_break: end the message with a newline.
    """
    global _open_line
    stream = sys.stdout
    if _open_line is not None:
        message = "\r" + " " * _open_line._prev_width + "\r" + message
        _open_line._prev_width = 0
        _open_line = None
    _write(stream, message + ("\n" if line_break else ""))


def _write(stream: Any, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:  # e.g. a latin-1 console: fall back to ASCII glyphs
        encoding = getattr(stream, "encoding", None) or "ascii"
        text = text.replace("━", "=").replace("─", ".")
        stream.write(text.encode(encoding, errors="replace").decode(encoding))
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()


def _in_notebook() -> bool:
    """Whether this process is an IPython kernel (Jupyter, Colab, VS Code notebooks)."""
    if "ipykernel" not in sys.modules:
        return False
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:  # noqa: BLE001 - an IPython that cannot answer is no notebook
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _jupyter_display() -> Optional[Callable[..., Any]]:
    """IPython's ``display`` when running in a notebook kernel, else None. IPython is only
    imported here, and is not a dependency of rnnkit."""
    if not _in_notebook():
        return None
    try:
        from IPython.display import display
    except ImportError:
        return None
    return display


def _is_terminal(stream: Any) -> bool:
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False
    return "PYCHARM_HOSTED" in os.environ  # PyCharm's run console honours '\r' without a tty


def _use_color() -> bool:
    return "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _columns(stream: Any) -> Optional[int]:
    """The terminal's width, if it can be told."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        pass
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        return None


def _glyphs(stream: Any, color: bool) -> Tuple[str, str]:
    """Characters for the done and the remaining part of the bar."""
    try:
        "━─".encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return "=", "."
    return ("━", "━") if color else ("━", "─")


class _Text:
    """Shown by IPython's ``display`` as its plain text (a str would be shown quoted)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


# ---------------------------------------------------------------------- formatting
def format_value(value: Any) -> str:
    """A metric as Keras prints it: ``%.4f`` above 1e-3 in magnitude, else ``%.4e``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.4f}" if abs(number) > 1e-3 else f"{number:.4e}"


def format_eta(seconds: float) -> str:
    """``1:02:03`` above an hour, ``2:03`` above a minute, else ``45s``."""
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def format_time_per_unit(seconds: float, unit_name: str = "step") -> str:
    """``2s/step``, ``20ms/step`` or ``150us/step``."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


# ---------------------------------------------------------------------- the bar
class Progbar:
    """A progress bar, as ``keras.utils.Progbar``.

    Args:
        target: the number of steps expected, or None if unknown.
        width: the bar's width in characters.
        verbose: 0 silent, 1 a bar updated in place, 2 one line when finalized.
        interval: the least time in seconds between two redraws.
        stateful_metrics: names of values shown as given; the others are averaged over
            the steps seen. Give this or ``stateless_metrics``, not both.
        stateless_metrics: names of the only values to average; the others are shown as given.
        unit_name: what a step is called, as in ``20ms/step``.
    """

    def __init__(self, target: Optional[int], width: int = 20, verbose: int = 1, interval: float = 0.05,
                 stateful_metrics: Optional[Iterable[str]] = None,
                 stateless_metrics: Optional[Iterable[str]] = None, unit_name: str = "step") -> None:
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("give stateful_metrics or stateless_metrics, not both")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ()) if stateless_metrics is None else None
        self.stateless_metrics = set(stateless_metrics) if stateless_metrics is not None else None
        self._values: Dict[str, Tuple[Any, float]] = {}  # name -> (sum, count); shown as sum / count
        self._seen_so_far = 0
        self._start = _clock()
        self._last_update: Optional[float] = None
        self._time_after_first_step: Optional[float] = None
        self._prev_width = 0  # visible width of the last terminal line drawn
        self._handle: Any = None  # the notebook display handle

    # -------------------------------------------------------------- public
    def update(self, current: int, values: Values = None, finalize: Optional[bool] = None) -> None:
        """Moves the bar to step ``current``.

        Args:
            current: the number of steps done.
            values: ``[(name, value), ...]`` (or a dict) for this step.
            finalize: whether this is the last update; default ``current >= target``.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values, finalize)
        now = _clock()
        time_per_unit = self._step_duration(current, now)
        if self.verbose == 1:
            if not finalize and self._last_update is not None and now - self._last_update < self.interval:
                return
            self._draw(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize:
            print_msg(self._summary(current, now, time_per_unit))
        self._last_update = now

    def add(self, n: int, values: Values = None) -> None:
        """Advances the bar by ``n`` steps."""
        self.update(self._seen_so_far + n, values)

    # -------------------------------------------------------------- state
    def _averaged(self, name: str) -> bool:
        if self.stateless_metrics is not None:
            return name in self.stateless_metrics
        return name not in (self.stateful_metrics or ())

    def _record(self, current: int, values: Values, finalize: bool) -> None:
        items = values.items() if isinstance(values, Mapping) else (values or ())
        for name, value in items:
            if isinstance(value, np.ndarray):
                value = float(np.mean(value))
            numeric = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
            if numeric and self._averaged(name) and not finalize:
                # Weighted by the steps since the last update; the final update (epoch
                # logs) replaces the running value, as in Keras.
                weight = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, (0.0, 0))
                self._values[name] = (total + float(value) * weight, count + weight)
            else:
                self._values[name] = (value, 1)
        self._seen_so_far = current

    def _step_duration(self, current: int, now: float) -> float:
        """Seconds per step, leaving out the first step (often slower) once there are more."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit

    # -------------------------------------------------------------- text
    def _counter(self, current: int) -> str:
        if self.target is None:
            return f"{current:7d}/Unknown"
        return f"{current:{len(str(self.target))}d}/{self.target}"

    def _bar(self, current: int, done: str, todo: str) -> Tuple[str, str]:
        """The done and the remaining part of the bar (both empty when the target is unknown)."""
        if not self.target:
            return "", ""
        filled = max(0, min(self.width, int(self.width * current / self.target)))
        return done * filled, todo * (self.width - filled)

    def _timing(self, current: int, now: float, time_per_unit: float, finalize: bool) -> str:
        """The ETA while running, the time elapsed once finalized, then the time per step."""
        if self.target is not None and not finalize:
            head = format_eta(time_per_unit * max(self.target - current, 0))
        else:
            head = f"{now - self._start:.0f}s"
        return f"{head} {format_time_per_unit(time_per_unit, self.unit_name)}"

    def _metrics(self) -> str:
        parts = []
        for name, (total, count) in self._values.items():
            value = total / max(count, 1) if isinstance(total, float) else total
            parts.append(f" - {name}: {format_value(value)}")
        return "".join(parts)

    def _summary(self, current: int, now: float, time_per_unit: float) -> str:
        """The plain one-line summary: ``100/100 - 2s 20ms/step - loss: 0.1234``."""
        elapsed = f"{now - self._start:.0f}s"
        return (f"{self._counter(current)} - {elapsed} "
                f"{format_time_per_unit(time_per_unit, self.unit_name)}{self._metrics()}")

    # -------------------------------------------------------------- drawing
    def _draw(self, current: int, now: float, time_per_unit: float, finalize: bool) -> None:
        display = _jupyter_display()
        stream = sys.stdout
        if display is not None:
            self._draw_notebook(display, current, now, time_per_unit, finalize)
        elif _is_terminal(stream):
            self._draw_terminal(stream, current, now, time_per_unit, finalize)
        elif finalize:
            print_msg(self._summary(current, now, time_per_unit))

    def _draw_notebook(self, display: Callable[..., Any], current: int, now: float, time_per_unit: float,
                       finalize: bool) -> None:
        bar = "".join(self._bar(current, *_glyphs(None, color=False)))
        text = " ".join(p for p in (self._counter(current), bar, self._timing(current, now, time_per_unit, finalize))
                        if p) + self._metrics()
        if self._handle is None:
            sys.stdout.flush()  # text printed before (e.g. 'Epoch 3/10') stays above the bar
            self._handle = display(_Text(text), display_id=True)
        else:
            self._handle.update(_Text(text))

    def _draw_terminal(self, stream: Any, current: int, now: float, time_per_unit: float, finalize: bool) -> None:
        global _open_line
        color = _use_color()
        counter = self._counter(current)
        timing = self._timing(current, now, time_per_unit, finalize)
        bar_done, bar_todo = self._bar(current, *_glyphs(stream, color))
        bar = bar_done + bar_todo
        visible_head = f"{counter} {bar} {timing}" if bar else f"{counter} {timing}"
        head = visible_head
        if color:
            bar = (f"\x1b[32m{bar_done}\x1b[0m" if bar_done else "") + (f"\x1b[2m{bar_todo}\x1b[0m" if bar_todo else "")
            head = f"\x1b[1m{counter}\x1b[0m " + (f"{bar} " if bar else "") + timing
        metrics = self._metrics()
        if not finalize:  # a line longer than the terminal would wrap and defeat '\r'
            columns = _columns(stream)
            if columns and len(visible_head) + len(metrics) > columns - 1:
                metrics = metrics[:max(0, columns - 1 - len(visible_head))]
        width = len(visible_head) + len(metrics)
        line = "\r" + head + metrics + " " * max(0, self._prev_width - width)
        if finalize:
            line += "\n"
            self._prev_width = 0
            _open_line = None
        else:
            self._prev_width = width
            _open_line = self
        _write(stream, line)
