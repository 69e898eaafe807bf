"""rnnkit.callbacks driven by hand with scripted logs on a fake model."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence

import numpy as np
import pytest

from rnnkit import callbacks, progress


class FakeOptimizer:
    def __init__(self, learning_rate: float = 0.1) -> None:
        self._learning_rate = learning_rate

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = float(value)


class FakeModel:
    """What callbacks may use of a model: stop_training, optimizer.learning_rate, weights, saving."""

    def __init__(self, learning_rate: float = 0.1) -> None:
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.weights = [np.zeros(3), np.zeros((2, 2))]
        self.saved: List[tuple] = []
        self.history: Any = None

    def get_weights(self) -> List[np.ndarray]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        self.weights = [np.array(w) for w in weights]

    def save(self, filepath: str) -> None:
        self.saved.append(("model", filepath))

    def save_weights(self, filepath: str) -> None:
        self.saved.append(("weights", filepath))


@pytest.fixture(autouse=True)
def _plain_output(monkeypatch):
    monkeypatch.setattr(progress, "_jupyter_display", lambda: None)
    monkeypatch.setattr(progress, "_open_line", None)
    monkeypatch.delenv("PYCHARM_HOSTED", raising=False)


def fit(callback: callbacks.Callback, model: FakeModel, epoch_logs: Sequence[Dict[str, float]],
        weights_at: bool = False) -> List[int]:
    """Runs a fake fit: one epoch per logs dict, stopping as fit does. With ``weights_at``,
    the model's weights are filled with the epoch index during each epoch. Returns the
    epochs run."""
    cbs = callbacks.CallbackList([callback], model=model, verbose=0, epochs=len(epoch_logs), steps=1)
    cbs.on_train_begin()
    ran = []
    logs: Dict[str, float] = {}
    for epoch, logs in enumerate(epoch_logs):
        logs = dict(logs)
        cbs.on_epoch_begin(epoch)
        if weights_at:
            model.set_weights([np.full_like(w, epoch) for w in model.weights])
        cbs.on_epoch_end(epoch, logs)
        ran.append(epoch)
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return ran


def val_losses(*values: float) -> List[Dict[str, float]]:
    return [{"loss": 1.0, "val_loss": v} for v in values]


# ---------------------------------------------------------------------- Callback, CallbackList, History
class Recorder(callbacks.Callback):
    """Appends ``(name, hook, *args)`` to ``calls`` for every hook called."""

    def __init__(self, name: str, calls: List[tuple]) -> None:
        super().__init__()
        for hook in callbacks._HOOKS:
            setattr(self, hook, lambda *args, hook=hook: calls.append((name, hook) + args))


def test_callback_base_hooks_are_no_ops_and_batch_aliases_are_called():
    seen = []

    class Old(callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, logs))

    base = callbacks.Callback()
    for hook in callbacks._HOOKS:
        args = (0, {}) if "batch" in hook or "epoch" in hook else ({},)
        assert getattr(base, hook)(*args) is None
    assert base.model is None and base.params == {}
    old = Old()
    old.on_train_batch_begin(3)
    old.on_train_batch_end(3, {"loss": 1.0})
    assert seen == [("begin", 3), ("end", 3, {"loss": 1.0})]


def test_callback_list_knows_which_batch_hooks_some_callback_has():
    class Old(callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            pass

    quiet = callbacks.CallbackList([callbacks.History()])
    assert not any(quiet.wants(hook) for hook in callbacks._BATCH_HOOKS)
    quiet.append(Old())  # the older alias counts for the training hook it stands for
    assert quiet.wants("on_train_batch_end") and not quiet.wants("on_train_batch_begin")
    assert not quiet.wants("on_test_batch_end")
    lam = callbacks.CallbackList([callbacks.LambdaCallback(on_test_batch_begin=lambda batch, logs: None)])
    assert lam.wants("on_test_batch_begin") and not lam.wants("on_test_batch_end")


def test_callback_list_dispatches_every_hook_in_order():
    calls: List[tuple] = []
    a, b = Recorder("a", calls), Recorder("b", calls)
    cbs = callbacks.CallbackList([a, b])
    for hook in callbacks._HOOKS:
        args = (7,) if "batch" in hook or "epoch" in hook else ()
        calls.clear()
        getattr(cbs, hook)(*args)
        assert [(c[0], c[1]) for c in calls] == [("a", hook), ("b", hook)], hook
        assert calls[0][-1] == {}  # logs=None arrives as a dict


def test_callback_list_sets_model_and_params_and_adds_defaults_at_the_end():
    model = FakeModel()
    user = callbacks.EarlyStopping()
    cbs = callbacks.CallbackList([user], add_history=True, add_progbar=True, model=model,
                                 verbose=2, epochs=5, steps=10)
    assert [type(c) for c in cbs.callbacks] == [callbacks.EarlyStopping, callbacks.History, callbacks.ProgbarLogger]
    assert all(c.model is model for c in cbs.callbacks)
    assert all(c.params == {"verbose": 2, "epochs": 5, "steps": 10} for c in cbs.callbacks)
    assert model.history is cbs.callbacks[1]
    progbar = cbs.callbacks[2]
    assert (progbar.verbose, progbar.epochs, progbar.target) == (2, 5, 10)


def test_callback_list_keeps_given_history_and_progbar():
    history, progbar = callbacks.History(), callbacks.ProgbarLogger()
    cbs = callbacks.CallbackList([progbar, [history]], add_history=True, add_progbar=True)
    assert cbs.callbacks == [progbar, history]
    extra = callbacks.TerminateOnNaN()
    model = FakeModel()
    cbs.set_model(model)
    cbs.set_params({"verbose": 0, "epochs": 1, "steps": 1})
    cbs.append(extra)
    assert cbs.callbacks[-1] is extra and extra.model is model and extra.params["epochs"] == 1


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="create an instance"):
        callbacks.CallbackList([callbacks.EarlyStopping])
    with pytest.raises(TypeError, match="Callback instances"):
        callbacks.CallbackList([lambda logs: None])


def test_epoch_logs_are_shared_so_later_callbacks_see_learning_rate():
    model = FakeModel(learning_rate=0.25)
    history = callbacks.History()
    cbs = callbacks.CallbackList([callbacks.ReduceLROnPlateau(), history], model=model)
    cbs.on_train_begin()
    logs = {"loss": 1.0, "val_loss": 1.0}
    cbs.on_epoch_end(0, logs)
    assert logs["learning_rate"] == 0.25
    assert history.history["learning_rate"] == [0.25]


def test_batch_logs_become_python_floats():
    got = []
    cbs = callbacks.CallbackList([callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: got.append(logs))])
    cbs.on_train_batch_end(0, {"loss": np.float32(0.5), "accuracy": np.array(0.25)})
    assert got == [{"loss": 0.5, "accuracy": 0.25}]
    assert all(type(v) is float for v in got[0].values())


def test_history_records_epoch_logs_and_sets_model_history():
    model = FakeModel()
    history = callbacks.History()
    fit(history, model, [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.5, "learning_rate": 0.1}])
    assert history.epoch == [0, 1]
    assert history.history == {"loss": [1.0, 0.5], "val_loss": [2.0, 1.5], "learning_rate": [0.1]}
    assert model.history is history


# ---------------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience():
    model = FakeModel()
    stopper = callbacks.EarlyStopping(patience=2)
    ran = fit(stopper, model, val_losses(1.0, 0.9, 0.95, 0.96, 0.5, 0.4))
    assert ran == [0, 1, 2, 3]
    assert model.stop_training
    assert (stopper.stopped_epoch, stopper.best, stopper.wait, stopper.best_epoch) == (3, 0.9, 2, 1)


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    model = FakeModel()
    stopper = callbacks.EarlyStopping(monitor="loss")
    assert fit(stopper, model, [{"loss": v} for v in (1.0, 0.8, 0.8, 0.1)]) == [0, 1, 2]
    assert stopper.stopped_epoch == 2


def test_early_stopping_runs_to_the_end_while_improving():
    model = FakeModel()
    stopper = callbacks.EarlyStopping(patience=1)
    assert fit(stopper, model, val_losses(3, 2, 1)) == [0, 1, 2]
    assert not model.stop_training and stopper.stopped_epoch == 0


def test_early_stopping_min_delta():
    model = FakeModel()
    stopper = callbacks.EarlyStopping(min_delta=-0.1, patience=2)  # the sign is ignored
    assert stopper.min_delta == 0.1
    # 0.95 and 0.91 are within 0.1 of 1.0: no improvement.
    assert fit(stopper, model, val_losses(1.0, 0.95, 0.91, 0.5)) == [0, 1, 2]
    assert stopper.best == 1.0


@pytest.mark.parametrize("monitor, mode, values, expected_stop", [
    ("val_accuracy", "auto", (0.5, 0.6, 0.55), 2),   # auto: accuracy goes up
    ("val_auc", "auto", (0.5, 0.6, 0.55), 2),
    ("val_acc", "max", (0.5, 0.6, 0.55), 2),
    ("val_mae", "auto", (0.5, 0.4, 0.45), 2),        # auto: anything else goes down
    ("val_accuracy", "min", (0.5, 0.4, 0.45), 2),    # explicit mode wins over the name
    ("val_loss", "max", (0.5, 0.6, 0.55), 2),
])
def test_early_stopping_modes(monitor, mode, values, expected_stop):
    model = FakeModel()
    stopper = callbacks.EarlyStopping(monitor=monitor, mode=mode)
    fit(stopper, model, [{monitor: v} for v in values])
    assert stopper.stopped_epoch == expected_stop


def test_early_stopping_auto_mode_follows_a_metric_direction():
    class Metric:
        name, _direction = "score", "up"

    model = FakeModel()
    model.metrics = [Metric()]
    stopper = callbacks.EarlyStopping(monitor="val_score")
    fit(stopper, model, [{"val_score": v} for v in (1.0, 2.0, 1.5)])
    assert stopper.maximize and stopper.stopped_epoch == 2


def test_early_stopping_unknown_mode_warns_and_uses_auto():
    with pytest.warns(UserWarning, match="fallback to auto"):
        stopper = callbacks.EarlyStopping(mode="largest")
    assert stopper.mode == "auto"


def test_early_stopping_baseline():
    # Without a baseline, 0.75 after 0.7 is the first bad epoch: patience 2 keeps going.
    assert fit(callbacks.EarlyStopping(patience=2), FakeModel(), val_losses(0.8, 0.7, 0.75, 0.6)) == [0, 1, 2, 3]
    # With baseline 0.5 no epoch beats it, so the wait never restarts and 0.75 stops training.
    stopper = callbacks.EarlyStopping(patience=2, baseline=0.5)
    assert fit(stopper, FakeModel(), val_losses(0.8, 0.7, 0.75, 0.6)) == [0, 1, 2]
    assert stopper.stopped_epoch == 2 and stopper.best == 0.7
    # Beating the baseline restarts the wait as usual.
    stopper = callbacks.EarlyStopping(patience=2, baseline=0.5)
    assert fit(stopper, FakeModel(), val_losses(0.8, 0.4, 0.45, 0.3)) == [0, 1, 2, 3]


@pytest.mark.parametrize("values, best_epoch, stopped", [
    ((1.0, 0.5, 0.7, 0.8, 0.1), 1, True),   # stops at epoch 3, restores epoch 1
    ((1.0, 0.5, 0.7), 1, False),            # ends without stopping: still restores (Keras 3)
])
def test_early_stopping_restores_best_weights(values, best_epoch, stopped):
    model = FakeModel()
    stopper = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    fit(stopper, model, val_losses(*values), weights_at=True)
    assert model.stop_training is stopped
    assert stopper.best_epoch == best_epoch
    for w in model.weights:
        np.testing.assert_array_equal(w, best_epoch)


def test_early_stopping_keeps_last_weights_without_restore():
    model = FakeModel()
    fit(callbacks.EarlyStopping(patience=1), model, val_losses(1.0, 0.5, 0.7, 0.8), weights_at=True)
    np.testing.assert_array_equal(model.weights[0], 2)


def test_early_stopping_start_from_epoch():
    model = FakeModel()
    stopper = callbacks.EarlyStopping(start_from_epoch=2, restore_best_weights=True)
    # Epochs 0 and 1 are warm-up, whatever their values.
    assert fit(stopper, model, val_losses(1, 2, 3, 4, 5), weights_at=True) == [0, 1, 2, 3]
    assert stopper.stopped_epoch == 3 and stopper.best == 3 and stopper.best_epoch == 2
    np.testing.assert_array_equal(model.weights[0], 2)


def test_early_stopping_warns_on_missing_monitor_and_lists_keys():
    model = FakeModel()
    stopper = callbacks.EarlyStopping(monitor="val_accuracy")
    with pytest.warns(UserWarning, match="`val_accuracy` which is not available. Available metrics are: loss,accuracy"):
        fit(stopper, model, [{"loss": 1.0, "accuracy": 0.5}] * 3)
    assert not model.stop_training


def test_early_stopping_is_reusable_and_verbose(capsys):
    model = FakeModel()
    stopper = callbacks.EarlyStopping(patience=1, verbose=1, restore_best_weights=True)
    fit(stopper, model, val_losses(1.0, 2.0, 3.0), weights_at=True)
    assert capsys.readouterr().out == ("Epoch 2: early stopping\n"
                                       "Restoring model weights from the end of the best epoch: 1.\n")
    model.stop_training = False
    fit(stopper, model, val_losses(5.0, 4.0, 3.0))  # a new fit starts from scratch
    assert stopper.stopped_epoch == 0 and stopper.best == 3.0


# ---------------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_formats_the_filename(tmp_path):
    model = FakeModel()
    pattern = str(tmp_path / "ckpt" / "{epoch:02d}-{val_loss:.2f}.keras")
    fit(callbacks.ModelCheckpoint(pattern), model, val_losses(0.5, 0.456))
    assert model.saved == [("model", str(tmp_path / "ckpt" / "01-0.50.keras")),
                           ("model", str(tmp_path / "ckpt" / "02-0.46.keras"))]
    assert (tmp_path / "ckpt").is_dir()  # the directory is created


def test_model_checkpoint_save_best_only(tmp_path):
    model = FakeModel()
    path = str(tmp_path / "best-{epoch}.keras")
    checkpoint = callbacks.ModelCheckpoint(path, save_best_only=True)
    fit(checkpoint, model, val_losses(0.5, 0.6, 0.4, 0.4))
    assert [p for _, p in model.saved] == [path.format(epoch=1), path.format(epoch=3)]
    assert checkpoint.best == 0.4


def test_model_checkpoint_save_best_only_max_and_threshold(tmp_path):
    model = FakeModel()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "m{epoch}.keras"), monitor="val_accuracy",
                                           save_best_only=True, initial_value_threshold=0.7)
    fit(checkpoint, model, [{"val_accuracy": v} for v in (0.6, 0.8, 0.75, 0.9)])
    assert [p[-8:] for _, p in model.saved] == ["m2.keras", "m4.keras"]


def test_model_checkpoint_weights_only(tmp_path):
    model = FakeModel()
    fit(callbacks.ModelCheckpoint(str(tmp_path / "w{epoch}.weights.npz"), save_weights_only=True), model,
        val_losses(1.0))
    assert model.saved == [("weights", str(tmp_path / "w1.weights.npz"))]
    callbacks.ModelCheckpoint("w.weights.h5", save_weights_only=True)  # also accepted


def test_model_checkpoint_checks_its_arguments():
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        callbacks.ModelCheckpoint("model.h5")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        callbacks.ModelCheckpoint("model.keras", save_weights_only=True)
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.ModelCheckpoint("model.keras", save_freq="batch")
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.ModelCheckpoint("model.keras", save_freq=0)


def test_model_checkpoint_missing_format_field(tmp_path):
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "{val_accuracy:.2f}.keras"))
    with pytest.raises(KeyError, match=r"Failed to format this callback filepath.*available fields: loss, val_loss"):
        fit(checkpoint, FakeModel(), val_losses(1.0))


def test_model_checkpoint_missing_monitor_skips_with_warning(tmp_path):
    model = FakeModel()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True)
    with pytest.warns(UserWarning, match="val_loss available, skipping"):
        fit(checkpoint, model, [{"loss": 1.0}])
    assert model.saved == []


def test_model_checkpoint_every_n_batches(tmp_path):
    model = FakeModel()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "{epoch}-{batch}.keras"), save_freq=2)
    cbs = callbacks.CallbackList([checkpoint], model=model)
    cbs.on_train_begin()
    for epoch in range(2):
        cbs.on_epoch_begin(epoch)
        for batch in range(3):
            cbs.on_train_batch_end(batch, {"loss": 1.0})
        cbs.on_epoch_end(epoch, {"loss": 1.0})
    assert [p.rsplit("/", 1)[-1] for _, p in model.saved] == ["1-2.keras", "2-1.keras", "2-3.keras"]


def test_model_checkpoint_verbose(tmp_path, capsys):
    path = str(tmp_path / "m.keras")
    fit(callbacks.ModelCheckpoint(path, save_best_only=True, verbose=1), FakeModel(), val_losses(0.5, 0.7))
    assert capsys.readouterr().out.splitlines() == [
        f"Epoch 1: val_loss improved from inf to 0.50000, saving model to {path}",
        "Epoch 2: val_loss did not improve from 0.50000",
    ]


# ---------------------------------------------------------------------- learning rate
def test_reduce_lr_on_plateau_factor_and_patience():
    model = FakeModel(learning_rate=0.1)
    reduce = callbacks.ReduceLROnPlateau(factor=0.5, patience=2)
    history = callbacks.History()
    cbs = callbacks.CallbackList([reduce, history], model=model)
    cbs.on_train_begin()
    rates = []
    for epoch in range(5):
        cbs.on_epoch_end(epoch, {"val_loss": 1.0})
        rates.append(model.optimizer.learning_rate)
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    # logs hold the rate the epoch ran with, before any reduction.
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05])


def test_reduce_lr_on_plateau_improvement_resets_the_wait():
    model = FakeModel(learning_rate=0.1)
    fit(callbacks.ReduceLROnPlateau(patience=2), model, val_losses(1.0, 1.0, 0.9, 0.9, 0.8))
    assert model.optimizer.learning_rate == pytest.approx(0.1)
    # An improvement smaller than min_delta does not count.
    fit(callbacks.ReduceLROnPlateau(patience=2, min_delta=0.5), model, val_losses(1.0, 0.9, 0.8))
    assert model.optimizer.learning_rate == pytest.approx(0.01)


def test_reduce_lr_on_plateau_cooldown():
    model = FakeModel(learning_rate=1.0)
    reduce = callbacks.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2)
    rates = []
    cbs = callbacks.CallbackList([reduce], model=model)
    cbs.on_train_begin()
    for epoch in range(6):
        cbs.on_epoch_end(epoch, {"val_loss": 1.0})
        rates.append(model.optimizer.learning_rate)
    # Reduced at epoch 1; epoch 2 is cooldown; the wait starts again at epoch 3.
    assert rates == pytest.approx([1.0, 0.5, 0.5, 0.25, 0.25, 0.125])


def test_reduce_lr_on_plateau_min_lr(capsys):
    model = FakeModel(learning_rate=0.1)
    fit(callbacks.ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.005, verbose=1), model,
        val_losses(1, 1, 1, 1, 1))
    assert model.optimizer.learning_rate == pytest.approx(0.005)
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.010000000000000002.",
        "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.005.",
    ]


def test_reduce_lr_on_plateau_max_mode_and_bad_factor():
    model = FakeModel(learning_rate=0.1)
    fit(callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=1), model,
        [{"val_accuracy": v} for v in (0.5, 0.6, 0.7)])
    assert model.optimizer.learning_rate == pytest.approx(0.1)  # accuracy rising: no plateau
    with pytest.raises(ValueError, match=r"factor >= 1\.0"):
        callbacks.ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_on_plateau_warns_on_missing_monitor():
    with pytest.warns(UserWarning, match="Available metrics are: loss,learning_rate"):
        fit(callbacks.ReduceLROnPlateau(), FakeModel(), [{"loss": 1.0}])


def test_learning_rate_scheduler():
    model = FakeModel(learning_rate=0.1)
    history = callbacks.History()
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.5

    cbs = callbacks.CallbackList([callbacks.LearningRateScheduler(schedule), history], model=model)
    cbs.on_train_begin()
    for epoch in range(3):
        cbs.on_epoch_begin(epoch)
        cbs.on_epoch_end(epoch, {"loss": 1.0})
    assert seen == [(0, 0.1), (1, 0.05), (2, 0.025)]  # halving is exact
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])


def test_learning_rate_scheduler_epoch_only_schedule_and_verbose(capsys):
    model = FakeModel()
    fit(callbacks.LearningRateScheduler(lambda epoch: 1.0 / (epoch + 1), verbose=1), model, [{}] * 2)
    assert model.optimizer.learning_rate == 0.5
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 1: LearningRateScheduler setting learning rate to 1.0.",
        "Epoch 2: LearningRateScheduler setting learning rate to 0.5.",
    ]


def test_learning_rate_scheduler_errors():
    with pytest.raises(ValueError, match=r"should be a float\. Got: 'fast'"):
        fit(callbacks.LearningRateScheduler(lambda epoch, lr: "fast"), FakeModel(), [{}])

    def broken(epoch, lr):
        raise TypeError("a bug in the schedule")

    with pytest.raises(TypeError, match="a bug in the schedule"):  # not mistaken for the old form
        fit(callbacks.LearningRateScheduler(broken), FakeModel(), [{}])


# ---------------------------------------------------------------------- TerminateOnNaN, CSVLogger, LambdaCallback
@pytest.mark.parametrize("loss, stops", [(0.5, False), (math.nan, True), (math.inf, True),
                                         (np.float32("nan"), True)])
def test_terminate_on_nan(loss, stops, capsys):
    model = FakeModel()
    cbs = callbacks.CallbackList([callbacks.TerminateOnNaN()], model=model)
    cbs.on_train_batch_end(4, {"loss": loss})
    assert model.stop_training is stops
    assert capsys.readouterr().out == ("Batch 4: Invalid loss, terminating training\n" if stops else "")


def test_terminate_on_nan_can_raise():
    cbs = callbacks.CallbackList([callbacks.TerminateOnNaN(raise_error=True)], model=FakeModel())
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        cbs.on_train_batch_end(2, {"loss": math.nan})


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    logger = callbacks.CSVLogger(str(path))
    cbs = callbacks.CallbackList([logger], model=FakeModel())
    cbs.on_train_begin()
    cbs.on_epoch_end(0, {"val_loss": 0.5, "loss": 1.0, "accuracy": 0.25})
    assert path.read_text() == "epoch,accuracy,loss,val_loss\n0,0.25,1.0,0.5\n"  # flushed at once
    cbs.on_epoch_end(1, {"val_loss": 0.25, "loss": np.float32(0.5), "accuracy": 0.5})
    cbs.on_train_end()
    assert path.read_text().splitlines() == ["epoch,accuracy,loss,val_loss", "0,0.25,1.0,0.5", "1,0.5,0.5,0.25"]
    assert logger.csv_file.closed


def test_csv_logger_append_and_separator(tmp_path):
    path = tmp_path / "log.csv"
    fit(callbacks.CSVLogger(path, separator=";", append=True), FakeModel(), [{"loss": 1.0}])
    fit(callbacks.CSVLogger(path, separator=";", append=True), FakeModel(), [{"loss": 0.5}])
    assert path.read_text().splitlines() == ["epoch;loss", "0;1.0", "0;0.5"]
    fit(callbacks.CSVLogger(path), FakeModel(), [{"loss": 0.25}, {}])  # overwrite; missing keys as NA
    assert path.read_text().splitlines() == ["epoch,loss", "0,0.25", "1,NA"]


def test_lambda_callback():
    calls: List[tuple] = []
    callback = callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_train_end=lambda logs: calls.append(("train_end",)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_test_end=lambda logs: calls.append(("test_end", logs["loss"])),
    )
    cbs = callbacks.CallbackList([callback], model=FakeModel())
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_train_batch_begin(0)
    cbs.on_train_batch_end(0, {"loss": 1.0})
    cbs.on_test_end({"loss": 2.0})
    cbs.on_epoch_end(0, {"loss": 1.0})
    cbs.on_predict_end()  # not given: a no-op
    cbs.on_train_end()
    assert calls == [("train_begin",), ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0),
                     ("test_end", 2.0), ("epoch_end", 0, 1.0), ("train_end",)]


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(TypeError, match="unknown hooks: on_epoch_ends"):
        callbacks.LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        callbacks.LambdaCallback(on_epoch_end=3)
