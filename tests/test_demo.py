"""The demo, the README's first command: it trains, prints the table and writes the PNG, on
every built-in dataset; its flags are checked; it is installed as rnnkit-demo."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit import datasets, demo, progress

pytestmark = pytest.mark.slow  # trains on every dataset

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--samples", "60", "--epochs", "2", "--units", "3"]


@pytest.fixture(autouse=True)
def _plain_output(monkeypatch):
    monkeypatch.setattr(progress, "_jupyter_display", lambda: None)


def run(capsys, *argv):
    assert demo.main(list(argv)) == 0
    return capsys.readouterr().out


def test_trains_lstm_and_gru_prints_the_table_and_writes_the_curves(tmp_path, capsys):
    output = tmp_path / "curves.png"
    out = run(capsys, *TINY, "--output", str(output))
    assert out.startswith("rnnkit 0.1.0: LSTM vs GRU on sine_waves, three sine waves")
    assert re.search(r"^LSTM: [\d,]+ parameters\n2/2 - .*/epoch - loss: ", out, flags=re.M)
    table = out[out.index("\nmodel "):].splitlines()
    assert table[1].split()[:7] == ["model", "params", "epochs", "fit", "time", "(s)", "s/epoch"]
    assert [line.split()[0] for line in table[3:5]] == ["LSTM", "GRU"] and "test_mae" in table[1]
    assert out.rstrip().endswith(f"Learning curves: {output}")
    assert output.read_bytes().startswith(b"\x89PNG") and output.stat().st_size > 10_000


REAL = ("japanese_vowels", "sunspots")  # shipped data: their sizes are fixed


@pytest.mark.parametrize("name", datasets.available())
def test_every_dataset_gets_a_model_for_its_task(name, tmp_path, capsys):
    tiny = TINY[2:] if name in REAL else TINY
    out = run(capsys, "--dataset", name, *tiny, "--cells", "SimpleRNN", "--output", str(tmp_path / "c.png"))
    metric = "mae" if datasets.load(name, **({} if name in REAL else {"samples": 60})).task == "regression" \
        else "accuracy"
    row = out[out.index("\nmodel "):].splitlines()[3]
    assert row.startswith("SimpleRNN") and f"test_{metric}" in out


def test_without_matplotlib_the_table_is_printed_and_the_way_to_the_plot_told(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    out = run(capsys, *TINY, "--output", str(tmp_path / "c.png"))
    assert "\nLSTM " in out and "\nGRU " in out
    assert "No plot: plotting needs matplotlib: pip install 'rnnkit[plot]'" in out
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
    (["--epochs", "0"], "argument --epochs: must be above zero, got 0"),
    (["--units", "two"], "argument --units: expected a whole number, got 'two'"),
    (["--cells", "RNN"], "argument --cells: invalid choice: 'RNN'"),
    (["--dataset", "digits", "--timesteps", "5"], "unexpected keyword argument 'timesteps'"),
    (["--dataset", "copy_task", "--timesteps", "5"], "'timesteps' must be at least 2 \\* length \\+ 1 = 11"),
])
def test_bad_flags_exit_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        demo.main(argv)
    assert exit_.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(flag in out for flag in ("--dataset", "--epochs", "--units", "--output", "--cells", "--seed"))


def test_runs_as_a_module_and_is_the_readme_first_command():
    done = subprocess.run([sys.executable, "-m", "rnnkit.demo", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("usage: rnnkit-demo")
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"## Try it[^\n]*\s+```bash\n(.+?)\n```", readme).group(1)
    assert command.endswith(".venv/bin/rnnkit-demo") and '".[plot]"' in command
    assert 'rnnkit-demo = "rnnkit.demo:main"' in (ROOT / "pyproject.toml").read_text()
