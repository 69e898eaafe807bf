"""The TensorBoard callback's event files (read back through tensorboardX's protobufs) and
BackupAndRestore resuming an interrupted fit where it stopped."""

import struct
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit import callbacks, layers


def events(folder):
    """(tag, step, value) of every scalar in the event files of ``folder``: TFRecords of Event
    protos (length, its CRC, the record, its CRC)."""
    from tensorboardX.proto import event_pb2

    found = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            record = data[offset + 12:offset + 12 + length]
            offset += 12 + length + 4
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    found.append((value.tag, event.step, value.simple_value))
                elif value.HasField("histo"):
                    found.append((value.tag, event.step, "histogram"))
    return found


def small_model():
    rnnkit.utils.set_random_seed(0)
    model = rnnkit.Sequential([layers.Input((5, 2)), layers.GRU(3), layers.Dense(1)])
    model.compile(rnnkit.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(24, 5, 2)).astype(np.float32), rng.normal(size=(24, 1)).astype(np.float32)


def test_tensorboard_writes_keras_layout(tmp_path):
    pytest.importorskip("tensorboardX")
    x, y = data()
    model = small_model()
    board = callbacks.TensorBoard(tmp_path / "logs", histogram_freq=2, update_freq=2)
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0, callbacks=[board])
    train, validation = events(tmp_path / "logs" / "train"), events(tmp_path / "logs" / "validation")
    losses = [(step, value) for tag, step, value in train if tag == "epoch_loss"]
    assert [step for step, _ in losses] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in losses], history.history["loss"], rtol=1e-6)
    val = [value for tag, _, value in validation if tag == "epoch_mae"]
    np.testing.assert_allclose(val, history.history["val_mae"], rtol=1e-6)
    assert {tag for tag, _, _ in train} >= {"epoch_loss", "epoch_mae", "epoch_learning_rate", "batch_loss"}
    assert [step for tag, step, _ in train if tag == "batch_loss"] == [2, 4, 6, 8]  # 9 batches, every 2nd
    histograms = {tag for tag, _, value in train if value == "histogram"}
    assert histograms == {w.path for w in model.weights}
    with pytest.raises(ValueError, match="update_freq must be"):
        callbacks.TensorBoard(update_freq=0)


def test_tensorboard_without_tensorboardx_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    x, y = data()
    with pytest.raises(ImportError, match=r"pip install 'rnnkit\[tensorboard\]'"):
        small_model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.TensorBoard(tmp_path)])


class Interrupt(callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_where_the_fit_stopped(tmp_path):
    x, y = data()
    straight = small_model()
    straight.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0)

    resumed = small_model()
    backup = callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        resumed.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0, callbacks=[backup, Interrupt(2)])
    assert (tmp_path / "backup" / "training_metadata.json").exists()
    restarted = small_model()  # a new process would start from scratch
    seen = []
    record = callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    history = restarted.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0, callbacks=[backup, record])
    assert seen == [3, 4] and len(history.history["loss"]) == 2
    for a, b in zip(restarted.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)  # weights and Adam's state came back
    assert restarted.optimizer.iterations == straight.optimizer.iterations
    assert not (tmp_path / "backup" / "training_metadata.json").exists()  # deleted at the normal end
    with pytest.raises(ValueError, match="save_freq='epoch'"):
        callbacks.BackupAndRestore(tmp_path, save_freq=10)
