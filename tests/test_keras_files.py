"""Keras 3's files: .keras archives and .weights.h5 made by real Keras 3.15 (JAX backend;
tests/fixtures/keras_files, from tests/fixtures/make_keras_files.py) load into rnnkit and predict
what Keras predicted; the files rnnkit writes have Keras' layout (and Keras 3.15 loaded them
when the fixtures were made: the same predictions, to the last bit). Keras is not needed here;
h5py is (the tests skip without it, and one checks the message then)."""

import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit import layers
from rnnkit.saving import ModelFileError, load_model, save_keras_model

FIXTURES = Path(__file__).parent / "fixtures" / "keras_files"
CASES = ["sequential", "functional", "classic_gru"]


@pytest.fixture
def h5py():
    return pytest.importorskip("h5py")


def fixture(case):
    with np.load(FIXTURES / f"{case}.npz", allow_pickle=False) as data:
        return data["x"], data["y"]


def h5_datasets(h5py, handle):
    found = {}
    with h5py.File(handle, "r") as f:
        f["layers"].visititems(lambda name, item: found.__setitem__(name, item.shape)
                               if isinstance(item, h5py.Dataset) else None)
    return found


@pytest.mark.parametrize("case", CASES)
def test_keras_archives_load_and_predict_as_keras(h5py, case):
    model = load_model(str(FIXTURES / f"{case}.keras"))
    x, y = fixture(case)
    np.testing.assert_allclose(model.predict(x, verbose=0), y, rtol=1e-5, atol=1e-6)
    summary = json.loads((FIXTURES / "keras_files.json").read_text())["cases"][case]
    assert model.count_params() == summary["params"]


def test_the_compile_config_comes_along(h5py):
    model = load_model(str(FIXTURES / "sequential.keras"))
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    assert model.optimizer.learning_rate == pytest.approx(0.001)
    x, _ = fixture("sequential")
    logs = model.evaluate(x, np.array([0, 1, 0, 1, 1]), return_dict=True, verbose=0)
    assert set(logs) == {"loss", "accuracy"}
    assert not load_model(str(FIXTURES / "sequential.keras"), compile=False).compiled


@pytest.mark.parametrize("case", CASES)
def test_keras_weights_files_load_into_the_same_model(h5py, case):
    model = load_model(str(FIXTURES / f"{case}.keras"), compile=False)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(str(FIXTURES / f"{case}.weights.h5"))
    x, y = fixture(case)
    np.testing.assert_allclose(model.predict(x, verbose=0), y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_files_written_have_keras_layout_and_load_back(h5py, case, tmp_path):
    model = load_model(str(FIXTURES / f"{case}.keras"), compile=False)
    path = tmp_path / f"{case}.keras"
    save_keras_model(model, str(path))
    with zipfile.ZipFile(path) as written, zipfile.ZipFile(FIXTURES / f"{case}.keras") as original:
        assert {"metadata.json", "config.json", "model.weights.h5"} <= set(written.namelist())
        ours, theirs = json.loads(written.read("config.json")), json.loads(original.read("config.json"))
        assert ours["class_name"] == theirs["class_name"]
        keras_layers = [layer["class_name"] for layer in theirs["config"]["layers"]
                        if not layer["module"].startswith("keras.src.ops")]
        assert [layer["class_name"] for layer in ours["config"]["layers"]] == keras_layers
        assert h5_datasets(h5py, _member(written, tmp_path / "ours.h5")) == \
            h5_datasets(h5py, _member(original, tmp_path / "theirs.h5"))
    again = load_model(str(path))
    x, y = fixture(case)
    np.testing.assert_allclose(again.predict(x, verbose=0), y, rtol=1e-5, atol=1e-6)
    weights = tmp_path / f"{case}.weights.h5"
    model.save_weights(str(weights))
    assert h5_datasets(h5py, str(weights)) == h5_datasets(h5py, str(FIXTURES / f"{case}.weights.h5"))


def _member(archive, target):
    target.write_bytes(archive.read("model.weights.h5"))
    return str(target)


def _edited(tmp_path, case, edit):
    """A copy of a fixture archive with its config changed by ``edit(config)``."""
    path = tmp_path / f"edited_{case}.keras"
    with zipfile.ZipFile(FIXTURES / f"{case}.keras") as source, zipfile.ZipFile(path, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            target.writestr(name, data)
    return str(path)


def test_unknown_layers_and_options_are_clear_errors(h5py, tmp_path):
    def conv(config):
        config["config"]["layers"][2]["class_name"] = "Conv1D"

    with pytest.raises(ModelFileError, match="unknown layer class 'Conv1D'"):
        load_model(_edited(tmp_path, "sequential", conv))

    def lambda_layer(config):  # code in a config is never run: the class is simply unknown
        config["config"]["layers"][2] = {"module": "keras.layers", "class_name": "Lambda",
                                         "config": {"name": "l", "function": "import os; os.remove('x')"}}

    with pytest.raises(ModelFileError, match="unknown layer class 'Lambda'"):
        load_model(_edited(tmp_path, "sequential", lambda_layer))

    def quantized(config):
        config["config"]["layers"][2]["config"]["quantization_config"] = {"mode": "int8"}

    with pytest.raises(ModelFileError, match=r"'quantization_config' = .* has no rnnkit equivalent"):
        load_model(_edited(tmp_path, "sequential", quantized))

    def constrained(config):  # constraints and activity regularizers are rnnkit's too
        layer = config["config"]["layers"][2]["config"]
        layer["kernel_constraint"] = {"module": "keras.constraints", "class_name": "MaxNorm",
                                      "config": {"max_value": 1.5, "axis": 0}, "registered_name": None}
        layer["activity_regularizer"] = {"module": "keras.regularizers", "class_name": "L2",
                                         "config": {"l2": 0.01}, "registered_name": None}

    lstm = load_model(_edited(tmp_path, "sequential", constrained)).layers[1]
    assert lstm.cell.kernel_constraint.max_value == 1.5 and lstm.activity_regularizer.l2 == 0.01
    with pytest.raises(ValueError, match="peephole LSTM has no Keras equivalent"):
        save_keras_model(rnnkit.Sequential([layers.Input((3, 2)), layers.LSTM(2, peephole=True)]),
                         str(tmp_path / "p.keras"))
    model = load_model(str(FIXTURES / "classic_gru.keras"))
    with pytest.raises(ModelFileError, match=r"layers/gru/cell/vars/0 has shape \(4, 9\); gru_1/gru_cell/kernel has"):
        model.load_weights(str(FIXTURES / "sequential.weights.h5"))
    with pytest.raises(ModelFileError, match=r"no weights for layer 'gru_1' \(expected group layers/gru\)"):
        model.load_weights(str(FIXTURES / "functional.weights.h5"))


def test_without_h5py_the_message_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"needs h5py: pip install 'rnnkit\[keras\]'"):
        load_model(str(FIXTURES / "sequential.keras"))
    model = rnnkit.Sequential([layers.Input((3, 2)), layers.GRU(2)])
    with pytest.raises(ImportError, match="needs h5py"):
        model.save_weights(str(tmp_path / "m.weights.h5"))
    shutil.copy(FIXTURES / "sequential.npz", tmp_path / "copy.npz")  # rnnkit's own files need nothing
    model.save_weights(str(tmp_path / "m.weights.npz"))
    model.load_weights(str(tmp_path / "m.weights.npz"))
