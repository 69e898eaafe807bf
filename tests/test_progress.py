"""rnnkit.progress: the progress bar in a pipe, a terminal and a notebook."""

from __future__ import annotations

import io
import re
import sys
import types
from typing import Any, Dict, List, Optional

import pytest

from rnnkit import callbacks, progress
from rnnkit.progress import Progbar, format_eta, format_time_per_unit, format_value


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(progress, "_clock", fake)
    return fake


@pytest.fixture(autouse=True)
def _environment(monkeypatch):
    monkeypatch.setattr(progress, "_jupyter_display", lambda: None)
    monkeypatch.setattr(progress, "_open_line", None)
    for name in ("PYCHARM_HOSTED", "NO_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm")


def use_tty(monkeypatch, stream: Optional[FakeTTY] = None) -> FakeTTY:
    """Makes sys.stdout a fake terminal. Called in the test body: pytest's capture sets
    sys.stdout again after fixtures have run."""
    stream = stream if stream is not None else FakeTTY()
    monkeypatch.setattr(sys, "stdout", stream)
    return stream


def screen(text: str) -> List[str]:
    """What a terminal shows for ``text``: '\\r' returns to column 0, ANSI styles are dropped."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines, line, col = [], [], 0
    for ch in text:
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    if line:
        lines.append("".join(line).rstrip())
    return lines


def run_fit(clock: FakeClock, verbose: int, epochs: int = 2, steps: int = 100,
            epoch_logs: Optional[Dict[str, float]] = None) -> None:
    """A fake fit: the first step takes 0.1 s, the others 20 ms."""
    logger = callbacks.ProgbarLogger()
    cbs = callbacks.CallbackList([logger], verbose=verbose, epochs=epochs, steps=steps)
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        for step in range(steps):
            clock.now += 0.1 if step == 0 else 0.02
            cbs.on_train_batch_end(step, {"loss": 1.0 / (step + 1), "accuracy": step / steps})
        cbs.on_test_begin()  # validation inside fit prints nothing of its own
        cbs.on_test_batch_end(0, {"loss": 0.3})
        cbs.on_test_end({"loss": 0.3})
        cbs.on_epoch_end(epoch, dict(epoch_logs or {"loss": 0.1234, "accuracy": 0.95}))
    cbs.on_train_end()


# ---------------------------------------------------------------------- not a terminal
FINAL = "100/100 - 2s 20ms/step - loss: 0.1234 - accuracy: 0.9500"
BAR = "━" * 20  # a full bar of the default width


def test_pipe_gets_one_plain_line_per_epoch(clock, capsys):
    run_fit(clock, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out and "\b" not in out
    assert out.splitlines() == ["Epoch 1/2", FINAL, "Epoch 2/2", FINAL]


def test_single_epoch_has_no_header_and_shows_val_metrics(clock, capsys):
    run_fit(clock, verbose=1, epochs=1, epoch_logs={"loss": 0.5, "accuracy": 0.75, "val_loss": 0.25})
    assert capsys.readouterr().out == ("100/100 - 2s 20ms/step - loss: 0.5000 - accuracy: 0.7500 "
                                       "- val_loss: 0.2500\n")


def test_verbose_2_prints_one_line_per_epoch_even_in_a_terminal(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    run_fit(clock, verbose=2)
    out = tty.getvalue()
    assert "\r" not in out and "\x1b" not in out
    # Without per-batch updates the time per step includes the slower first step, as in Keras.
    final = FINAL.replace("20ms", "21ms")
    assert out.splitlines() == ["Epoch 1/2", final, "Epoch 2/2", final]


def test_verbose_0_prints_nothing(clock, capsys):
    bar = Progbar(10, verbose=0)
    for step in range(1, 11):
        bar.update(step, [("loss", 1.0)])
    assert capsys.readouterr().out == ""


def test_evaluate_and_predict_lines(clock, capsys):
    logger = callbacks.ProgbarLogger()
    cbs = callbacks.CallbackList([logger], verbose=1, epochs=1, steps=4)
    cbs.on_test_begin()
    for step in range(4):
        clock.now += 0.5
        cbs.on_test_batch_end(step, {"loss": 0.5, "mae": 0.0001})
    cbs.on_test_end({"loss": 0.5, "mae": 0.0001})
    cbs.on_predict_begin()
    for step in range(4):
        clock.now += 0.002
        cbs.on_predict_batch_end(step, {"outputs": [[1.0]]})
    cbs.on_predict_end()
    assert capsys.readouterr().out.splitlines() == [
        "4/4 - 2s 500ms/step - loss: 0.5000 - mae: 1.0000e-04",
        "4/4 - 0s 2ms/step",  # predictions are not shown as metrics
    ]


def test_unknown_number_of_steps_is_learnt_at_the_end(clock, capsys):
    cbs = callbacks.CallbackList([callbacks.ProgbarLogger()], verbose=1, epochs=2, steps=None)
    cbs.on_train_begin()
    for epoch in range(2):
        cbs.on_epoch_begin(epoch)
        for step in range(7):
            clock.now += 1
            cbs.on_train_batch_end(step, {"loss": 1.0})
        cbs.on_epoch_end(epoch, {"loss": 1.0})
    assert capsys.readouterr().out.splitlines() == ["Epoch 1/2", "7/7 - 7s 1s/step - loss: 1.0000",
                                                    "Epoch 2/2", "7/7 - 7s 1s/step - loss: 1.0000"]


def test_epoch_cut_short_shows_the_steps_run(clock, capsys):
    cbs = callbacks.CallbackList([callbacks.ProgbarLogger()], verbose=1, epochs=1, steps=100)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    for step in range(37):
        clock.now += 1
        cbs.on_train_batch_end(step, {"loss": 1.0})
    cbs.on_epoch_end(0, {"loss": float("nan")})  # e.g. TerminateOnNaN stopped training
    assert capsys.readouterr().out == " 37/100 - 37s 1s/step - loss: nan\n"


# ---------------------------------------------------------------------- terminal
def test_terminal_redraws_one_line_until_finalize(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    bar = Progbar(100)
    for step in range(1, 100):
        clock.now += 0.1 if step == 1 else 0.02
        bar.update(step, [("loss", 0.5)])
    out = tty.getvalue()
    assert "\n" not in out and out.count("\r") >= 30
    assert len(screen(out)) == 1
    clock.now += 0.02
    bar.update(100, [("loss", 0.1234)])
    out = tty.getvalue()
    assert out.endswith("\n") and out.count("\n") == 1
    assert screen(out) == [f"100/100 {BAR} 2s 20ms/step - loss: 0.1234"]


def test_terminal_line_while_running(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    monkeypatch.setenv("NO_COLOR", "1")
    bar = Progbar(100, width=10)
    clock.now = 0.1
    bar.update(1, [("loss", 2.0)])
    clock.now += 49 * 0.02
    bar.update(50, [("loss", 1.0)])
    assert "\x1b" not in tty.getvalue()
    # ETA: 50 steps left at 20 ms each; loss: the average over the steps seen.
    assert screen(tty.getvalue()) == [" 50/100 ━━━━━───── 1s 20ms/step - loss: 1.0200"]


def test_terminal_colors_unless_no_color(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    bar = Progbar(4)
    clock.now = 1
    bar.update(2)
    assert "\x1b[32m" in tty.getvalue() and "\x1b[1m" in tty.getvalue()


def test_terminal_clears_leftovers_of_a_longer_line(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    bar = Progbar(10)
    clock.now = 1
    bar.update(1, {"a_long_metric_name": 1.0})
    long_width = len(screen(tty.getvalue())[0])
    tty.seek(0)
    tty.truncate()
    bar.stateful_metrics.add("a_long_metric_name")
    bar._values.clear()
    clock.now = 2
    bar.update(2)
    last = tty.getvalue()
    visible = re.sub(r"\x1b\[[0-9;]*m", "", last)
    assert visible.startswith("\r") and len(visible) - 1 >= long_width  # padded over the old text
    assert screen(last)[0] == f" 2/10 {BAR} 8s 1s/step"


def test_terminal_line_is_cut_to_the_terminal_width(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    monkeypatch.setenv("COLUMNS", "50")
    bar = Progbar(10)
    metrics = [(f"metric_{i}", 0.5) for i in range(5)]
    for step in range(1, 10):
        clock.now += 1
        bar.update(step, metrics)
        assert len(screen(tty.getvalue())[-1]) <= 49
    clock.now += 1
    bar.update(10, metrics)  # the final line is whole
    assert screen(tty.getvalue())[-1].endswith("metric_4: 0.5000")


def test_terminal_throttles_redraws(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    bar = Progbar(1000, interval=0.05)
    for step in range(1, 1001):
        clock.now += 0.001
        bar.update(step)
    # one draw per 50 ms of the 1 s, plus the final one
    assert 15 <= tty.getvalue().count("\r") <= 25


def test_message_during_a_bar_gets_its_own_line(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    bar = Progbar(10)
    clock.now = 1
    bar.update(3, [("loss", 1.0)])
    progress.print_msg("Batch 3: Invalid loss, terminating training")
    clock.now = 2
    bar.update(10, [("loss", 1.0)], finalize=True)
    assert screen(tty.getvalue()) == ["Batch 3: Invalid loss, terminating training",
                                      f"10/10 {BAR} 2s 200ms/step - loss: 1.0000"]


def test_terminal_without_unicode_uses_ascii_bar(clock, monkeypatch):
    class AsciiTTY(FakeTTY):
        encoding = "ascii"

    stream = use_tty(monkeypatch, AsciiTTY())
    monkeypatch.setenv("NO_COLOR", "1")
    bar = Progbar(4, width=4)
    clock.now = 1
    bar.update(4)
    assert screen(stream.getvalue()) == ["4/4 ==== 1s 250ms/step"]


def test_epoch_header_and_bar_in_a_terminal(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    run_fit(clock, verbose=1)
    assert screen(tty.getvalue()) == [
        "Epoch 1/2", f"100/100 {BAR} 2s 20ms/step - loss: 0.1234 - accuracy: 0.9500",
        "Epoch 2/2", f"100/100 {BAR} 2s 20ms/step - loss: 0.1234 - accuracy: 0.9500",
    ]


# ---------------------------------------------------------------------- Jupyter
class FakeHandle:
    def __init__(self, shown: List[str]) -> None:
        self.shown = shown
        self.updates = 0

    def update(self, obj: Any) -> None:
        self.updates += 1
        self.shown.append(repr(obj))


class FakeDisplay:
    def __init__(self) -> None:
        self.handles: List[FakeHandle] = []
        self.shown: List[str] = []

    def __call__(self, obj: Any, display_id: Any = None) -> FakeHandle:
        assert display_id is True
        self.shown.append(repr(obj))
        self.handles.append(FakeHandle(self.shown))
        return self.handles[-1]


def test_notebook_updates_one_display_per_epoch(clock, capsys, monkeypatch):
    display = FakeDisplay()
    monkeypatch.setattr(progress, "_jupyter_display", lambda: display)
    run_fit(clock, verbose=1)
    assert capsys.readouterr().out == "Epoch 1/2\nEpoch 2/2\n"  # only the headers are printed
    assert len(display.handles) == 2
    assert all(handle.updates >= 30 for handle in display.handles)
    assert display.shown[-1] == f"100/100 {BAR} 2s 20ms/step - loss: 0.1234 - accuracy: 0.9500"
    assert all("\r" not in text and "\x1b" not in text for text in display.shown)
    assert "──" in display.shown[1]  # the part still to do is drawn without colours


def test_notebook_detection(monkeypatch):
    shell = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = "the display function"
    ipython.display = ipython_display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not progress._in_notebook()  # IPython without a kernel (e.g. the terminal shell)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert progress._in_notebook()
    monkeypatch.undo()  # restores the real _jupyter_display too
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert progress._jupyter_display() == "the display function"
    ipython.get_ipython = lambda: None  # ipykernel imported but no kernel running
    assert progress._jupyter_display() is None


# ---------------------------------------------------------------------- formatting and averaging
@pytest.mark.parametrize("value, text", [
    (0.12345, "0.1235"), (12.5, "12.5000"), (-0.5, "-0.5000"), (0.0005, "5.0000e-04"),
    (-0.0005, "-5.0000e-04"), (0, "0.0000e+00"), (float("nan"), "nan"), ("adam", "adam"),
])
def test_format_value(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (30, "30s"), (125, "2:05"), (3725, "1:02:05")])
def test_format_eta(seconds, text):
    assert format_eta(seconds) == text


@pytest.mark.parametrize("seconds, text", [(0, "0s/step"), (2.0, "2s/step"), (0.02, "20ms/step"),
                                           (0.00015, "150us/step")])
def test_format_time_per_unit(seconds, text):
    assert format_time_per_unit(seconds) == text


def test_eta_in_minutes(clock, monkeypatch):
    tty = use_tty(monkeypatch)
    monkeypatch.setenv("NO_COLOR", "1")
    bar = Progbar(1000)
    clock.now = 1.0
    bar.update(1)
    clock.now = 2.0
    bar.update(2)  # 1 s per step after the first: 998 s left
    assert screen(tty.getvalue())[0].split()[2] == "16:38"


def test_values_are_averaged_unless_stateful(clock, capsys):
    bar = Progbar(3, verbose=2, stateful_metrics=["acc"])
    bar.update(1, [("loss", 1.0), ("acc", 0.1)])
    bar.update(2, [("loss", 3.0), ("acc", 0.2)])
    bar.update(3, [("loss", 5.0), ("acc", 0.3)], finalize=False)
    bar.update(3, finalize=True)
    assert capsys.readouterr().out == "3/3 - 0s 0s/step - loss: 3.0000 - acc: 0.3000\n"


def test_final_values_replace_the_running_average(clock, capsys):
    bar = Progbar(2, verbose=2)
    bar.update(1, [("loss", 10.0)])
    bar.update(2, [("loss", 0.5)])  # finalize: the epoch's own value
    assert capsys.readouterr().out.endswith("loss: 0.5000\n")


def test_add_and_stateless_metrics(clock, capsys):
    with pytest.raises(ValueError, match="not both"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])
    bar = Progbar(4, verbose=2, stateless_metrics=["loss"])
    bar.add(2, [("loss", 1.0), ("lr", 0.5)])
    bar.add(1, [("loss", 4.0), ("lr", 0.25)])
    bar.update(3, finalize=True)
    assert capsys.readouterr().out == "3/4 - 0s 0s/step - loss: 2.0000 - lr: 0.2500\n"


def test_writes_to_the_current_stdout(clock, monkeypatch):
    bar = Progbar(2, verbose=2)  # created before stdout is replaced
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    bar.update(2)
    assert stream.getvalue() == "2/2 - 0s 0s/step\n"
