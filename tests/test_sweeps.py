"""rnnkit.sweep, and rnnkit.compare on an executor: every run trains as compare trains one
model; runs on a pool of processes, a local Dask cluster and Ray give the serial run's
histories and weights bit for bit; the data travels once per worker; results come back as
configs and arrays; the tables and plots hold the mean ± std over the seeds; bad arguments are
refused before anything trains."""

import concurrent.futures as cf
import functools
import math
import multiprocessing
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit import _transport, datasets, layers, progress
from rnnkit.layers import Dense
from rnnkit.models import Sequential
from rnnkit.sweeps import RayExecutor, Run, SweepResult

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
GRID = {"cell": ["LSTM", "GRU"], "units": [2, 4]}
SEEDS = [0, 1]


def build(cell, units):
    """A module-level build_fn: pools of processes import it by name."""
    model = Sequential([getattr(layers, cell)(units), Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


def build_or_fail(cell, units):
    if cell == "GRU":
        raise ValueError("no GRU today")
    return build(cell, units)


@pytest.fixture(autouse=True)
def _plain_output_and_no_open_figures(monkeypatch):
    monkeypatch.setattr(progress, "_jupyter_display", lambda: None)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    return datasets.sine_waves(samples=120, timesteps=8)


@pytest.fixture(scope="module")
def serial(data):
    """The reference: here, in order, one thread, as the pool's workers run on two cores."""
    return rnnkit.sweep(GRID, build, data, seeds=SEEDS, epochs=2, batch_size=16, verbose=0, threads=1)


@pytest.fixture(scope="module")
def pool():
    with cf.ProcessPoolExecutor(2) as executor:
        yield executor


def assert_same_runs(expected, got):
    """The same runs, in the same order, with the same histories, test scores and weights, bit for bit."""
    assert [(run.point, run.seed, run.name) for run in got.runs] == [(r.point, r.seed, r.name) for r in expected.runs]
    for a, b in zip(expected.runs, got.runs):
        assert a.history == b.history and a.test == b.test and a.params == b.params
        weights_a, weights_b = a.snapshot.weights, b.snapshot.weights
        assert len(weights_a) == len(weights_b) > 0
        assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(weights_a, weights_b))


def plain_data(value):
    """Whether ``value`` is made of strings, numbers, None, lists, tuples, dicts and arrays only."""
    if isinstance(value, (str, int, float, type(None), np.ndarray)):
        return True
    if isinstance(value, (list, tuple)):
        return all(map(plain_data, value))
    if isinstance(value, dict):
        return all(isinstance(key, str) and plain_data(item) for key, item in value.items())
    return False


# ---------------------------------------------------------------- runs, here


def test_runs_follow_the_grid_and_the_seeds(serial):
    assert isinstance(serial, SweepResult) and serial.grid == GRID and serial.seeds == SEEDS
    assert serial.points == [{"cell": c, "units": u} for c in ("LSTM", "GRU") for u in (2, 4)]
    assert [(run.point, run.seed) for run in serial.runs] == [(p, s) for p in serial.points for s in SEEDS]
    first = serial.runs[0]
    assert isinstance(first, Run) and first.name == "cell=LSTM, units=2, seed=0"
    assert first.params == 4 * 2 * (1 + 2 + 1) + 2 + 1 and set(first.history) == {"loss", "mae", "val_loss",
                                                                                     "val_mae"}
    assert first.worker["pid"] == os.getpid() and first.worker["threads"] == 1
    assert first.model.count_params() == first.params           # trained here: the model itself
    assert serial.runs[0].history != serial.runs[1].history      # another seed
    assert serial.select(cell="GRU", units=4) == serial.runs[6:8]
    assert [run.seed for run in serial.select(cell="LSTM")] == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="'layers' is not in the grid; it has 'cell', 'units'"):
        serial.select(layers=2)


def test_a_run_is_what_compare_trains_for_its_seed(serial, data):
    """One training function serves both: same seed, same weights and history, bit for bit."""
    run = serial.select(cell="GRU", units=2)[1]
    compared = rnnkit.compare({"GRU": functools.partial(build, "GRU", 2)}, data, epochs=2, batch_size=16,
                              seed=run.seed, verbose=0)["GRU"]
    assert compared.history == run.history and compared.test == run.test
    assert all(np.array_equal(a, b) for a, b in zip(compared.model.get_weights(), run.model.get_weights()))


def test_results_do_not_depend_on_the_thread_count(data):
    """At sizes where the core splits the batch and the products (LSTM(64) over 32 steps, batch
    16), one thread and two give the same weights and losses, bit for bit; the thread count of
    this process is restored after the sweep."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((48, 32, 3)).astype("float32"), rng.standard_normal((48, 1)).astype("float32")
    before = rnnkit.config.get_num_threads()
    one, two = (rnnkit.sweep({"cell": ["LSTM", "GRU"], "units": [64]}, build, ((x, y), (x[:16], y[:16])),
                             seeds=[3], epochs=1, batch_size=16, verbose=0, threads=threads) for threads in (1, 2))
    assert [run.worker["threads"] for run in one.runs + two.runs] == [1, 1, 2, 2]
    assert_same_runs(one, two)
    assert rnnkit.config.get_num_threads() == before


# ---------------------------------------------------------------- tables and plots


def test_summary_holds_the_mean_and_std_over_the_seeds(serial):
    rows = serial.summary()
    assert len(rows) == 4 and all(row["runs"] == 2 for row in rows)
    for row, point in zip(rows, serial.points):
        assert {name: row[name] for name in GRID} == point
        runs = serial.select(**point)
        assert row["params"] == runs[0].params and isinstance(row["params"], int) and "params_std" not in row
        for key in ("val_loss", "test_mae", "fit_seconds", "epochs"):
            values = [run.to_dict()[key] for run in runs]
            assert row[key] == pytest.approx(np.mean(values), rel=1e-12, abs=0)
            assert row[f"{key}_std"] == pytest.approx(np.std(values, ddof=1), rel=1e-12, abs=1e-300)
    one_seed = SweepResult(GRID, [0], serial.runs[::2])
    assert math.isnan(one_seed.summary()[0]["val_loss_std"])
    assert "±" not in str(one_seed).split("\n", 1)[1]  # one seed: the means alone


def test_the_table_in_a_terminal_and_in_jupyter(serial):
    caption, header, rule, *rows = str(serial).splitlines()
    assert caption == "8 runs: 4 grid points × 2 seeds (0, 1); mean ± std over the seeds"
    assert header.split() == ["cell", "units", "params", "epochs", "fit", "time", "(s)", "loss", "mae", "val_loss",
                              "val_mae", "test_loss", "test_mae"]
    assert set(rule) == {"-", " "} and [row.split()[:2] for row in rows] == [["LSTM", "2"], ["LSTM", "4"],
                                                                              ["GRU", "2"], ["GRU", "4"]]
    summary = serial.summary()[3]
    cells = rows[3].split()
    assert cells[2] == f"{summary['params']:,}" and cells[3] == "2"
    assert float(cells[-3]) == pytest.approx(summary["test_mae"], abs=1e-4) and cells[-2] == "±"
    assert float(cells[-1]) == pytest.approx(summary["test_mae_std"], abs=1e-4)
    assert repr(serial) == f"<SweepResult {caption}>"
    html = serial._repr_html_()
    assert html.startswith('<table class="rnnkit-sweep"><caption>8 runs') and html.endswith("</table>")
    assert html.count("<tr>") == 5 and ">GRU</td>" in html and ">val_loss</th>" in html and " ± " in html


def test_table_is_a_dataframe_per_grid_point_or_per_run(serial):
    pandas = pytest.importorskip("pandas")
    table = serial.table()
    assert isinstance(table, pandas.DataFrame) and list(table.index.names) == ["cell", "units"]
    assert table.loc[("GRU", 4), "val_loss"] == serial.summary()[3]["val_loss"]
    assert table.loc[("GRU", 4), "val_loss_std"] == serial.summary()[3]["val_loss_std"]
    assert {"runs", "params", "epochs", "fit_seconds", "seconds_per_epoch", "loss", "test_mae_std"} <= set(table)
    runs = serial.table(per_run=True)
    assert len(runs) == 8 and list(runs.columns[:4]) == ["cell", "units", "seed", "params"]
    assert runs["val_loss"].tolist() == [run.final["val_loss"] for run in serial.runs]


def test_without_pandas_the_text_table_still_shows(serial, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"SweepResult.table needs pandas: pip install pandas"):
        serial.table()
    assert "val_loss" in str(serial) and "<table" in serial._repr_html_()


def test_plot_draws_the_final_metric_with_error_bars(serial, tmp_path):
    figure = serial.plot(path=tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes().startswith(PNG)
    (ax,) = figure.axes
    assert ax.get_xlabel() == "units" and ax.get_ylabel() == "val_loss"
    assert ax.get_title() == "val_loss: mean ± std over 2 seeds"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["cell=LSTM", "cell=GRU"]
    gru = [row for row in serial.summary() if row["cell"] == "GRU"]
    lines = [line for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(lines[1].get_xdata().astype(float), [2.015, 4.015])  # half a step right; LSTM left
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["2", "4"]
    np.testing.assert_allclose(lines[1].get_ydata().astype(float), [row["val_loss"] for row in gru])
    (bars,) = ax.collections[1].get_segments()[1:2]  # GRU's error bar at units=4: mean ± std
    np.testing.assert_allclose(bars[:, 1], [gru[1]["val_loss"] - gru[1]["val_loss_std"],
                                            gru[1]["val_loss"] + gru[1]["val_loss_std"]])

    by_cell = serial.plot("test_mae", x="cell")
    assert [t.get_text() for t in by_cell.axes[0].get_xticklabels()] == ["LSTM", "GRU"]
    assert [t.get_text() for t in by_cell.axes[0].get_legend().get_texts()] == ["units=2", "units=4"]

    rates = SweepResult({"learning_rate": [0.001, 0.01, 0.1]}, [0], serial.runs[:3])
    assert rates.plot("loss").axes[0].get_xscale() == "log"  # numbers spanning ten times or more


def test_plot_curves_draws_mean_and_band_per_grid_point(serial, tmp_path):
    figure = serial.plot_curves("loss", path=tmp_path / "curves.svg")
    assert (tmp_path / "curves.svg").read_text().lstrip().startswith("<?xml")
    (ax,) = figure.axes
    assert [line.get_label() for line in ax.get_lines()] == [f"cell={c}, units={u}" for c in ("LSTM", "GRU")
                                                             for u in (2, 4)]
    runs = serial.select(cell="GRU", units=2)
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), np.mean([run.history["loss"] for run in runs], axis=0))
    assert len(ax.collections) == 4  # one band per grid point
    gru = serial.plot_curves(where={"cell": "GRU"})
    assert [line.get_label() for line in gru.axes[0].get_lines()] == ["cell=GRU, units=2", "cell=GRU, units=4"]
    with pytest.raises(ValueError, match="no grid point has cell=RNN"):
        serial.plot_curves(where={"cell": "RNN"})


def test_plot_bad_arguments(serial):
    with pytest.raises(ValueError, match="cannot plot 'accuracy'; the runs have 'params', 'epochs'"):
        serial.plot("accuracy")
    with pytest.raises(ValueError, match="x must be one of the grid's names 'cell', 'units', got 'seed'"):
        serial.plot(x="seed")
    with pytest.raises(ValueError, match="cannot plot 'test_loss'; the histories have 'loss', 'mae', 'val_loss'"):
        serial.plot_curves("test_loss")


# ---------------------------------------------------------------- a pool of processes


def test_a_process_pool_gives_the_serial_run_bit_for_bit(serial, pool, data):
    remote = rnnkit.sweep(GRID, build, data, seeds=SEEDS, epochs=2, batch_size=16, verbose=0, executor=pool)
    assert_same_runs(serial, remote)
    workers = {run.worker["pid"] for run in remote.runs}
    assert os.getpid() not in workers and len(workers) <= 2
    assert {run.worker["threads"] for run in remote.runs} == {max(1, _transport.cores() // 2)}  # cores / workers
    run = remote.runs[5]
    assert run._model is None  # it came back as config and weights, and is rebuilt on first use
    model = run.model
    assert model is run.model and model.history.history == run.history
    assert model.evaluate(*data.test, batch_size=16, verbose=0, return_dict=True) == run.test


def test_compare_on_an_executor_gives_compare_here(pool, data, capsys):
    builders = {"LSTM": functools.partial(build, "LSTM", 3), "GRU": functools.partial(build, "GRU", 3)}
    here = rnnkit.compare(builders, data, epochs=2, verbose=0, threads=1)
    there = rnnkit.compare(builders, data, epochs=2, verbose=1, executor=pool, threads=1)
    assert list(there.results) == ["LSTM", "GRU"]
    for name in builders:
        assert there[name].history == here[name].history and there[name].test == here[name].test
        assert all(np.array_equal(a, b) for a, b in zip(here[name].model.get_weights(),
                                                        there[name].model.get_weights()))
    lines = sorted(capsys.readouterr().out.splitlines())
    assert len(lines) == 2 and lines[1].startswith(f"LSTM: {there['LSTM'].params} parameters, 2 epochs in ")
    assert " - val_loss: " in lines[1]


def test_a_worker_sends_back_plain_data(data):
    """What crosses the process boundary: strings, numbers, lists, dicts and arrays; no model."""
    fit = rnnkit.comparison._Fit(1, 16, 0, [])
    record = rnnkit.comparison._train_record(rnnkit.comparison._parts(data), functools.partial(build, "LSTM", 2),
                                             "LSTM", 0, fit)
    assert plain_data(record) and set(record) == {"name", "config", "compile_config", "weights", "params", "history",
                                                  "epoch_times", "fit_seconds", "test"}
    assert pickle.loads(pickle.dumps(record))["config"] == record["config"]


class RecordingPool(cf.ProcessPoolExecutor):
    """A pool that measures what each task carries."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = []

    def submit(self, fn, /, *args, **kwargs):
        self.sent.append(len(pickle.dumps((fn, args, kwargs))))
        return super().submit(fn, *args, **kwargs)


def test_the_data_is_not_sent_with_every_task():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4000, 8, 1)).astype("float32"), rng.standard_normal((4000, 1)).astype("float32")
    with RecordingPool(2) as recording:
        rnnkit.sweep({"cell": ["GRU"], "units": [2]}, build, ((x[:200], y[:200]), (x, y)), seeds=[0, 1, 2],
                     epochs=1, verbose=0, executor=recording)
    assert len(recording.sent) == 3 and max(recording.sent) < x.nbytes / 50  # a token and a folder, not arrays


def test_each_process_reads_the_data_of_a_call_once(tmp_path, monkeypatch):
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    data = ((x, {"a": x[0], "b": [x[1], x[1]]}), (x, x), None)
    _transport._write(data, str(tmp_path))
    reads = []
    real_read = _transport._read
    monkeypatch.setattr(_transport, "_read", lambda folder: reads.append(folder) or real_read(folder))
    monkeypatch.setattr(_transport, "_LOADED", {})
    first = _transport._Files("token-1", str(tmp_path))
    loaded = first.load()
    assert first.load() is loaded and len(reads) == 1  # later tasks of the call reuse it
    (train_x, train_y), _, test = loaded
    np.testing.assert_array_equal(train_x, x) and np.testing.assert_array_equal(train_y["b"][1], x[1])
    assert isinstance(train_y["b"], list) and test is None and not train_x.flags.writeable
    assert type(train_x) is np.ndarray  # mapped, but a plain array
    _transport._Files("token-2", str(tmp_path)).load()
    assert len(reads) == 2 and list(_transport._LOADED) == ["token-2"]  # another call: the first is dropped


def test_a_failing_run_names_itself(pool, data):
    with pytest.raises(ValueError, match="no GRU today") as raised:
        rnnkit.sweep(GRID, build_or_fail, data, seeds=[0], epochs=1, verbose=0, executor=pool)
    if sys.version_info >= (3, 11):  # exceptions carry notes from 3.11 on
        assert any(note.startswith("while running cell=GRU, units=") for note in raised.value.__notes__)


def test_a_function_defined_in_main_after_the_pool_forked_breaks_it_with_a_hint(data, monkeypatch):
    """Under fork, a worker process has what __main__ held when it was forked, and no more."""
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as late:
        late.submit(os.getpid).result()  # the processes start now

        def late_build(cell, units):
            return build(cell, units)

        late_build.__module__, late_build.__qualname__ = "__main__", "late_build"
        monkeypatch.setattr(sys.modules["__main__"], "late_build", late_build, raising=False)
        with pytest.raises(cf.process.BrokenProcessPool) as raised:
            rnnkit.sweep({"cell": ["GRU"], "units": [2]}, late_build, data, seeds=[0], epochs=1, verbose=0,
                         executor=late)
    if sys.version_info >= (3, 11):  # exceptions carry notes from 3.11 on
        assert any("defined in __main__ after the pool had started its processes" in note
                   for note in raised.value.__notes__)


def build_stack(cell, sizes):
    """Stacked layers of the given sizes: a grid value that is a list."""
    stack = [getattr(layers, cell)(units, return_sequences=True) for units in sizes[:-1]]
    model = Sequential([*stack, getattr(layers, cell)(sizes[-1]), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_grid_values_may_be_lists_and_each_run_prints_a_line(data, capsys):
    result = rnnkit.sweep({"cell": ["GRU"], "sizes": [[2], [3, 2]]}, build_stack, data, seeds=[0, 1], epochs=1)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"[{k}/4] cell=GRU, sizes={sizes}, seed={seed}"
                                                      for k, (sizes, seed) in enumerate(
                                                          [([2], 0), ([2], 1), ([3, 2], 0), ([3, 2], 1)], start=1)]
    assert " parameters, 1 epochs in " in lines[0] and " - val_loss: " in lines[0]
    assert [run.point["sizes"] for run in result.select(sizes=[3, 2])] == [[3, 2], [3, 2]]
    assert "[3, 2]" in str(result) and len(result.plot("val_loss", x="sizes").axes[0].get_lines()) >= 1
    pandas = pytest.importorskip("pandas")
    assert isinstance(result.table(), pandas.DataFrame) and list(result.table().index) == [("GRU", "[2]"),
                                                                                           ("GRU", "[3, 2]")]


# ---------------------------------------------------------------- bad arguments


def test_bad_arguments(data):
    def sweep(grid=GRID, build_fn=build, **kwargs):
        return rnnkit.sweep(grid, build_fn, data, **{"epochs": 1, "verbose": 0, **kwargs})

    with pytest.raises(ValueError, match="grid must be a non-empty dict"):
        sweep({})
    with pytest.raises(ValueError, match="grid must be a non-empty dict"):
        sweep([("cell", ["LSTM"])])
    with pytest.raises(TypeError, match=r"grid\['units'\] must be a list of values, got int 16; for a single value "
                                        r"write \[16\]"):
        sweep({"cell": ["LSTM"], "units": 16})
    with pytest.raises(TypeError, match=r"grid\['cell'\] must be a list of values, got str"):
        sweep({"cell": "LSTM", "units": [2]})
    with pytest.raises(ValueError, match=r"grid\['units'\] is empty"):
        sweep({"cell": ["LSTM"], "units": []})
    with pytest.raises(ValueError, match=r"grid\['units'\] holds 2 twice"):
        sweep({"cell": ["LSTM"], "units": [2, 4, 2]})
    with pytest.raises(TypeError, match="must be identifiers, got 'hidden units'"):
        sweep({"hidden units": [2]})
    with pytest.raises(ValueError, match="the grid cannot have 'epochs'"):
        sweep({"cell": ["LSTM"], "units": [2], "epochs": [1, 2]})
    with pytest.raises(TypeError, match=r"build_fn must be a function that builds and compiles a new model .* "
                                        r"got Sequential"):
        sweep(build_fn=build("LSTM", 2))
    with pytest.raises(TypeError, match=r"build_fn\(cell, units\) must take the grid's settings as keyword "
                                        r"arguments \(cell, units, layers\)"):
        sweep({**GRID, "layers": [1]})
    with pytest.raises(ValueError, match=r"seeds is empty: give at least one seed, e.g. \[0, 1, 2\]"):
        sweep(seeds=[])
    with pytest.raises(TypeError, match=r"seeds must be a list of integers, e.g. \[0, 1, 2\], got int 0"):
        sweep(seeds=0)
    with pytest.raises(TypeError, match=r"seeds must be integers, got 0\.5 of type float"):
        sweep(seeds=[0, 0.5])
    with pytest.raises(ValueError, match=r"seeds holds a seed twice: \[1, 1\]"):
        sweep(seeds=[1, 1])
    with pytest.raises(ValueError, match="'epochs' must be a whole number of at least 1, got 0"):
        sweep(epochs=0)
    with pytest.raises(ValueError, match="verbose must be 0 or 1, got 2"):
        sweep(verbose=2)
    with pytest.raises(ValueError, match="threads must be a whole number of at least 1 or None, got 0"):
        sweep(threads=0)
    with pytest.raises(TypeError, match="threads must be a whole number of at least 1 or None, got str"):
        sweep(threads="2")
    with pytest.raises(TypeError, match=r"callbacks must be a list of callbacks, got EarlyStopping"):
        sweep(callbacks=rnnkit.callbacks.EarlyStopping())
    with pytest.raises(TypeError, match=r"data must be an rnnkit.datasets.Dataset or \(\(x_train, y_train\)"):
        rnnkit.sweep(GRID, build, data.train, epochs=1)


def test_executors_of_no_known_kind_are_refused(data):
    def sweep(executor, build_fn=build):
        return rnnkit.sweep(GRID, build_fn, data, epochs=1, verbose=0, executor=executor)

    with pytest.raises(TypeError, match=r"executor must be None .* got object"):
        sweep(object())
    with pytest.raises(TypeError, match=r"executor must be None .* got str"):
        sweep("processes")
    with cf.ThreadPoolExecutor(2) as threads, pytest.raises(TypeError, match="executor is a ThreadPoolExecutor"):
        sweep(threads)
    with pytest.raises(TypeError, match=r"executor must be None .* got object"):
        rnnkit.compare({"LSTM": functools.partial(build, "LSTM", 2)}, data, executor=object())


def test_functions_a_pool_of_processes_cannot_import_are_refused_before_training(data, monkeypatch):
    with cf.ProcessPoolExecutor(2) as forked:
        with pytest.raises(TypeError, match=r"build_fn cannot be sent to a ProcessPoolExecutor's processes .*"
                                            "define it at the top level of an importable module"):
            rnnkit.sweep(GRID, lambda cell, units: build(cell, units), data, executor=forked, verbose=0)
        with pytest.raises(TypeError, match="builder 'GRU' cannot be sent to a ProcessPoolExecutor's processes"):
            rnnkit.compare({"GRU": lambda: build("GRU", 2)}, data, executor=forked, verbose=0)

    # A function of a notebook: __main__ without a file. Forked processes have it, spawned ones don't.
    notebook = type(sys)("__main__")
    monkeypatch.setitem(sys.modules, "__main__", notebook)
    in_notebook = functools.wraps(build)(lambda cell, units: build(cell, units))
    in_notebook.__module__, in_notebook.__qualname__ = "__main__", "build"
    notebook.build = in_notebook
    spawned = cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))  # no process until a task
    with spawned, pytest.raises(TypeError, match="build_fn 'build' is defined in a notebook or an interactive "
                                                 "session, which a ProcessPoolExecutor's processes started by "
                                                 "'spawn' cannot import"):
        rnnkit.sweep(GRID, in_notebook, data, executor=spawned, verbose=0)


# ---------------------------------------------------------------- Dask and Ray


@pytest.fixture(scope="module")
def dask_client():
    """A local Dask cluster on loopback: two worker processes of one thread each."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.mark.slow
def test_a_dask_cluster_gives_the_serial_run_bit_for_bit(serial, dask_client, data, monkeypatch):
    scattered = []
    scatter = dask_client.scatter
    monkeypatch.setattr(dask_client, "scatter", lambda *args, **kwargs: scattered.append(kwargs) or scatter(*args,
                                                                                                            **kwargs))
    for executor in (dask_client, dask_client.get_executor()):
        remote = rnnkit.sweep(GRID, build, data, seeds=SEEDS, epochs=2, batch_size=16, verbose=0, executor=executor)
        assert_same_runs(serial, remote)
        assert {run.worker["threads"] for run in remote.runs} == {max(1, _transport.cores() // 2)}
        assert os.getpid() not in {run.worker["pid"] for run in remote.runs}
        assert remote.runs[3]._model is None and remote.runs[3].model.count_params() == remote.runs[3].params
    assert [kwargs.get("broadcast") for kwargs in scattered] == [True, True]  # once per sweep, to every worker


@pytest.mark.slow
def test_a_dask_cluster_takes_functions_defined_in_a_notebook(dask_client, data):
    def notebook_build(cell, units):  # not importable by name: cloudpickle sends it by value
        model = Sequential([getattr(layers, cell)(units), Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        return model

    result = rnnkit.sweep({"cell": ["SimpleRNN"], "units": [2, 3]}, notebook_build, data, seeds=[0], epochs=1,
                          verbose=0, executor=dask_client)
    here = rnnkit.sweep({"cell": ["SimpleRNN"], "units": [2, 3]}, notebook_build, data, seeds=[0], epochs=1,
                        verbose=0, threads=1)
    assert [run.history for run in result.runs] == [run.history for run in here.runs]


@pytest.mark.slow
def test_ray_gives_the_serial_run_bit_for_bit(serial, data, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    tests = str(Path(__file__).resolve().parent)  # the workers import this module's build by name
    path = os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
                 runtime_env={"env_vars": {"PYTHONPATH": path}})
    except Exception as error:  # noqa: BLE001 - whatever stops Ray from starting here is the reason to skip
        pytest.skip(f"a local Ray instance does not start here: {type(error).__name__}: {error}")
    try:
        remote = rnnkit.sweep(GRID, build, data, seeds=SEEDS, epochs=2, batch_size=16, verbose=0,
                              executor=RayExecutor())
        assert_same_runs(serial, remote)
        assert {run.worker["threads"] for run in remote.runs} == {1}  # one CPU reserved per task
        assert remote.runs[0].model.count_params() == remote.runs[0].params
    finally:
        ray.shutdown()
