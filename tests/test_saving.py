"""Model files: round trips, no pickle, clear errors for damaged or foreign files, atomic writes."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rnnkit import saving
from rnnkit.layers import GRU, LSTM, Dense, Input
from rnnkit.models import Sequential, load_model


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 5, 3)).astype(np.float32)
    return x, (x.sum(axis=(1, 2)) > 0).astype(np.float32)[:, None]


def trained_model():
    model = Sequential([Input(shape=(None, 3)), LSTM(4, return_sequences=True, peephole=True), GRU(3),
                        Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    x, y = data()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model


def test_save_and_load_round_trip(tmp_path):
    model = trained_model()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    x, y = data(1)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in loaded.layers] == ["LSTM", "GRU", "Dense"]
    assert loaded.layers[0].peephole and loaded.get_config() == model.get_config()
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == model.evaluate(x, y, verbose=0, return_dict=True)
    # The optimizer state came along: one more step is the same step.
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_archive_holds_only_json_and_npy(tmp_path):
    path = tmp_path / "model.keras"
    trained_model().save(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert {"metadata.json", "config.json", "weights/index.json"} <= set(names)
        assert all(name.endswith((".json", ".npy")) for name in names)
        assert json.loads(archive.read("metadata.json"))["format"] == "rnnkit-model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temporary files left


def test_weights_round_trip(tmp_path):
    model = trained_model()
    path = tmp_path / "model.weights.npz"
    model.save_weights(path)
    fresh = Sequential([Input(shape=(None, 3)), LSTM(4, return_sequences=True, peephole=True), GRU(3),
                        Dense(1, activation="sigmoid")])
    fresh.load_weights(path)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = Sequential([Input(shape=(None, 3)), LSTM(5), Dense(1)])
    with pytest.raises(ValueError, match="holds 9 weight arrays; the model has 5"):
        other.load_weights(path)


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    path = tmp_path / "model.keras"
    trained_model().save(path)
    evil = tmp_path / "evil.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(evil, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "weights/0000.npy":
                buffer = io.BytesIO()
                np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
                content = buffer.getvalue()
            target.writestr(name, content)
    with pytest.raises(ValueError, match="damaged: cannot read array 0 of 'weights'"):
        load_model(evil)


@pytest.mark.parametrize("content,message", [
    (b"not a zip at all", "not an rnnkit model file (not a zip archive)"),
    (None, "not an rnnkit model file (format 'something-else')"),
])
def test_foreign_files_are_refused(tmp_path, content, message):
    path = tmp_path / "foreign.keras"
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("metadata.json", json.dumps({"format": "something-else"}))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_model(path)


def test_truncated_and_edited_files_are_refused(tmp_path):
    path = tmp_path / "model.keras"
    trained_model().save(path)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError):
        load_model(truncated)
    edited = tmp_path / "edited.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(edited, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "config.json":
                config = json.loads(content)
                config["config"]["layers"][1]["class_name"] = "os.system"
                content = json.dumps(config).encode()
            target.writestr(name, content)
    with pytest.raises(ValueError, match=r"unknown layer class 'os\.system'"):
        load_model(edited)


def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    model = trained_model()
    path = tmp_path / "model.keras"
    model.save(path)
    before = path.read_bytes()

    def failing_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(saving.np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_saving_an_unbuilt_model_explains():
    with pytest.raises(ValueError, match="not built yet"):
        Sequential([LSTM(3)]).save("unused.keras")


def test_a_model_saved_by_rnnkit_0_1_0_loads_with_its_optimizer_state():
    # Written by 0.1.0, when recurrent weights were keyed 'lstm/kernel' (now 'lstm/lstm_cell/kernel').
    model = load_model(Path(__file__).parent / "fixtures" / "lstm_adam_saved_by_0.1.0.rnnkit")
    np.testing.assert_allclose(model.predict(np.ones((1, 5, 3)), verbose=0),
                               [[-0.29082173109054565, 0.49450573325157166]], rtol=1e-6)
    state = model.optimizer.get_state()
    assert model.optimizer.iterations == 1
    assert {"momentum/lstm/lstm_cell/kernel", "velocity/lstm/lstm_cell/recurrent_kernel"} <= set(state)


def test_a_functional_model_file_of_format_1_loads_and_resumes():
    # A two-input, two-output graph (Masking, Bidirectional, concatenate, dict inputs and outputs),
    # compiled with a loss, weight and metric per output and trained 4 steps, saved in format 1.
    model = load_model(Path(__file__).parent / "fixtures" / "two_input_two_output_format_1.rnnkit")
    predicted = model.predict({"sequence": np.ones((1, 5, 3)), "side": np.ones((1, 4))}, verbose=0)
    np.testing.assert_allclose(predicted["value"], [[0.25090447068214417, -0.297019362449646]], rtol=1e-6)
    np.testing.assert_allclose(predicted["flag"], [[0.5429021716117859]], rtol=1e-6)
    assert model.optimizer.iterations == 4
    x = {"sequence": np.ones((4, 5, 3)), "side": np.ones((4, 4))}
    logs = model.train_on_batch(x, {"value": np.zeros((4, 2)), "flag": np.ones((4, 1))}, return_dict=True)
    assert set(logs) == {"loss", "value_loss", "flag_loss", "flag_accuracy"} and model.optimizer.iterations == 5
