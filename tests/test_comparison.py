"""rnnkit.compare on tiny runs: the results and the table are right, the seed makes every
model start alike, plots are written, and bad input is refused."""

import re
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit import callbacks, datasets, progress
from rnnkit.layers import GRU, LSTM, Dense
from rnnkit.models import Sequential

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
UNITS = 4


@pytest.fixture(autouse=True)
def _plain_output_and_no_open_figures(monkeypatch):
    monkeypatch.setattr(progress, "_jupyter_display", lambda: None)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    return datasets.sine_waves(samples=120, timesteps=8)


def builder(cell, metrics=("mae",)):
    def build():
        model = Sequential([cell(UNITS), Dense(1)])          # built by compare from the data
        model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse", metrics=list(metrics))
        return model

    return build


@pytest.fixture(scope="module")
def comparison(data):
    return rnnkit.compare({"LSTM": builder(LSTM), "GRU": builder(GRU)}, data, epochs=2, batch_size=16, verbose=0)


def test_results_hold_sizes_times_histories_and_test_scores(comparison, data):
    assert list(comparison.results) == ["LSTM", "GRU"]
    lstm, gru = comparison["LSTM"], comparison["GRU"]
    assert lstm.params == 4 * UNITS * (1 + UNITS + 1) + UNITS + 1      # Keras' counts: LSTM, then Dense
    assert gru.params == 3 * UNITS * (1 + UNITS + 2) + UNITS + 1       # GRU with reset_after
    for result in (lstm, gru):
        assert result.params == result.model.count_params()
        assert result.epochs == 2 and set(result.history) == {"loss", "mae", "val_loss", "val_mae"}
        assert all(len(values) == 2 for values in result.history.values())
        assert 0 < result.epoch_times[0] < result.epoch_times[1] <= result.fit_seconds
        assert result.seconds_per_epoch == pytest.approx(result.fit_seconds / 2)
        assert result.final == {key: values[-1] for key, values in result.history.items()}
        assert result.test == result.model.evaluate(*data.test, batch_size=16, verbose=0, return_dict=True)
        assert result.to_dict() == {"params": result.params, "epochs": 2, "fit_seconds": result.fit_seconds,
                                    "seconds_per_epoch": result.seconds_per_epoch, **result.final,
                                    "test_loss": result.test["loss"], "test_mae": result.test["mae"]}
    assert comparison.to_dict() == {"LSTM": lstm.to_dict(), "GRU": gru.to_dict()}


def test_every_model_starts_from_the_same_seed(data):
    """The same builder under two names gives the same weights and losses, bit for bit; and
    so does another run of compare."""
    twice = {"first": builder(LSTM), "second": builder(LSTM)}
    one = rnnkit.compare(twice, data, epochs=2, verbose=0)
    again = rnnkit.compare(twice, data, epochs=2, verbose=0)
    assert one["first"].history == one["second"].history == again["first"].history
    for a, b in zip(one["first"].model.get_weights(), again["second"].model.get_weights()):
        np.testing.assert_array_equal(a, b)
    other_seed = rnnkit.compare({"first": builder(LSTM)}, data, epochs=2, verbose=0, seed=1)
    assert other_seed["first"].history != one["first"].history


def test_the_table_in_a_terminal_and_in_jupyter(comparison):
    text = str(comparison)
    header, rule, *rows = text.splitlines()
    assert header.split() == ["model", "params", "epochs", "fit", "time", "(s)", "s/epoch", "loss", "mae",
                               "val_loss", "val_mae", "test_loss", "test_mae"]
    assert set(rule) == {"-", " "} and [row.split()[0] for row in rows] == ["LSTM", "GRU"]
    lstm = rows[0].split()
    assert lstm[1] == f"{comparison['LSTM'].params:,}" and lstm[2] == "2"
    assert float(lstm[-1]) == pytest.approx(comparison["LSTM"].test["mae"], abs=1e-4)
    assert repr(comparison) == text
    html = comparison._repr_html_()
    assert html.startswith('<table class="rnnkit-comparison">') and html.endswith("</table>")
    assert html.count("<tr>") == 3 and "<th" in html and ">LSTM</td>" in html and ">test_mae</th>" in html


def test_tuples_without_test_data_and_names_escaped_in_html(data):
    result = rnnkit.compare({"<b>LSTM</b>": builder(LSTM)}, (data.train, data.validation), epochs=1, verbose=0)
    assert result["<b>LSTM</b>"].test == {} and "test_loss" not in str(result)
    assert "&lt;b&gt;LSTM&lt;/b&gt;" in result._repr_html_() and "<b>" not in result._repr_html_()


def test_progress_shows_each_model_and_its_epochs(data, capsys):
    rnnkit.compare({"LSTM": builder(LSTM)}, data, epochs=2, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    params = 4 * UNITS * (1 + UNITS + 1) + UNITS + 1
    assert lines[0] == f"LSTM: {params} parameters"
    assert re.match(r"2/2 - \d+s \d+(s|ms|us)/epoch - ", lines[1]) and " - val_mae: " in lines[1]


class StopAfterFirstEpoch(callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def test_callbacks_reach_every_fit_and_early_stops_are_counted(data, capsys):
    result = rnnkit.compare({"LSTM": builder(LSTM), "GRU": builder(GRU)}, data, epochs=3, verbose=2,
                            callbacks=[StopAfterFirstEpoch()])
    assert [r.epochs for r in result.results.values()] == [1, 1]
    assert all(len(r.history["loss"]) == 1 for r in result.results.values())
    bars = [line for line in capsys.readouterr().out.splitlines() if "/epoch" in line]
    assert len(bars) == 2 and all(line.startswith("1/3 - ") for line in bars)


def test_plot_writes_the_learning_curves(comparison, tmp_path):
    figure = comparison.plot(path=tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "mae"]
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels == ["LSTM", "LSTM (validation)", "GRU", "GRU (validation)"]
    np.testing.assert_allclose(figure.axes[0].get_lines()[3].get_ydata(), comparison["GRU"].history["val_loss"])

    by_time = comparison.plot(["loss"], x="time", path=tmp_path / "time.svg")
    assert len(by_time.axes) == 1 and by_time.axes[0].get_xlabel() == "training time (s)"
    np.testing.assert_allclose(by_time.axes[0].get_lines()[0].get_xdata(), comparison["LSTM"].epoch_times)
    assert (tmp_path / "time.svg").read_text().lstrip().startswith("<?xml")


def test_plot_bad_arguments(comparison):
    with pytest.raises(ValueError, match="cannot plot 'accuracy'; the histories have 'loss', 'mae'"):
        comparison.plot(["accuracy"])
    with pytest.raises(ValueError, match="x must be 'epoch' or 'time', got 'step'"):
        comparison.plot(x="step")


def test_history_plot(comparison, tmp_path):
    history = comparison["GRU"].model.history
    figure = history.plot(path=tmp_path / "history.png")
    assert (tmp_path / "history.png").stat().st_size > 1000
    assert figure._suptitle.get_text() == comparison["GRU"].model.name
    assert [line.get_label() for line in figure.axes[1].get_lines()] == ["training", "validation"]
    with pytest.raises(ValueError, match="there is nothing to plot"):
        callbacks.History().plot()


def test_plotting_without_matplotlib_says_how_to_get_it(comparison, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"plotting needs matplotlib: pip install 'rnnkit\[plot\]'"):
        comparison.plot()
    with pytest.raises(ImportError, match="plotting needs matplotlib"):
        comparison["LSTM"].model.history.plot()


def test_bad_arguments(data):
    builders = {"LSTM": builder(LSTM)}
    with pytest.raises(ValueError, match="builders must be a non-empty dict"):
        rnnkit.compare({}, data)
    with pytest.raises(TypeError, match=r"builders must map names .* got 'LSTM': Sequential"):
        rnnkit.compare({"LSTM": builder(LSTM)()}, data)
    with pytest.raises(TypeError, match=r"builder 'LSTM' must return an rnnkit model .* got str"):
        rnnkit.compare({"LSTM": lambda: "model"}, data)
    with pytest.raises(ValueError, match="builder 'LSTM' returned a model that is not compiled"):
        rnnkit.compare({"LSTM": lambda: Sequential([LSTM(2), Dense(1)])}, data)
    with pytest.raises(TypeError, match=r"data must be an rnnkit.datasets.Dataset or \(\(x_train, y_train\), "
                                        r".* got tuple of 4 items"):
        rnnkit.compare(builders, data.train + data.validation)
    with pytest.raises(ValueError, match="'epochs' must be a whole number of at least 1, got 0"):
        rnnkit.compare(builders, data, epochs=0)
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2, got 3"):
        rnnkit.compare(builders, data, verbose=3)


def test_a_result_as_plain_data_rebuilds_its_model(comparison, data):
    """What a worker sends back: config, compile config and weights; the model rebuilt from them
    predicts as the trained one, compiled alike, with the history."""
    result = comparison["GRU"]
    assert repr(result) == f"<ModelResult 'GRU': {result.params:,} parameters, 2 epochs in {result.fit_seconds:.2f} s>"
    snapshot = result.snapshot
    assert isinstance(snapshot, rnnkit.comparison.ModelSnapshot) and snapshot.config == result.model.to_json()
    rebuilt = snapshot.restore()
    assert rebuilt is not result.model and rebuilt.compiled
    np.testing.assert_array_equal(rebuilt.predict(data.test[0], verbose=0), result.model.predict(data.test[0],
                                                                                                  verbose=0))
    assert rebuilt.evaluate(*data.test, batch_size=16, verbose=0, return_dict=True) == result.test
    back = rnnkit.comparison.ModelResult.from_record(result.to_record(), result.worker)
    assert back.to_dict() == result.to_dict() and back.model.history.history == result.history
    assert all(np.array_equal(a, b) for a, b in zip(back.model.get_weights(), result.model.get_weights()))


def test_models_of_several_inputs_compare_on_lists_of_arrays():
    from rnnkit.layers import GRU, Input, concatenate
    from rnnkit.models import Model

    def build():
        a, b = Input((5, 3)), Input((7, 2))
        model = Model([a, b], Dense(1)(concatenate([LSTM(4)(a), GRU(4)(b)])))
        model.compile("adam", "mse")
        return model

    rng = np.random.default_rng(0)
    xa, xb, y = rng.random((40, 5, 3)), rng.random((40, 7, 2)), rng.random((40, 1))
    result = rnnkit.compare({"two inputs": build}, (([xa, xb], y), ([xa, xb], y), ([xa, xb], y)), epochs=2,
                            verbose=0)["two inputs"]
    assert result.params == result.model.count_params() and len(result.history["val_loss"]) == 2
    assert result.test["loss"] == result.model.evaluate([xa, xb], y, verbose=0)
