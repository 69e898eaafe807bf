"""compile, fit, evaluate and predict, as Keras 3 has them; the Sequential model mixes this in."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import callbacks as callbacks_module
from .. import losses, metrics as metrics_module, optimizers, utils
from . import data

__all__ = ["Trainer"]

Logs = Dict[str, float]


class Trainer:
    """Training for any model through its public interface: ``propagate(x, mask, training)``
    (outputs, their mask and the pullback), ``layers``, ``trainable_weights``,
    ``regularization_loss``, ``build``, ``input_dtype`` and ``output_shape``."""

    def __init__(self) -> None:
        self.optimizer: Optional[optimizers.Optimizer] = None
        self.loss: Optional[losses.Loss] = None
        self.compiled = False
        self.stop_training = False
        self.history: Optional[callbacks_module.History] = None
        self._metric_identifiers: List[Any] = []
        self._metrics: Optional[List[metrics_module.Metric]] = None
        self._compile_config: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Optional[float] = None,
                metrics: Optional[Sequence[Any]] = None, weighted_metrics: Optional[Sequence[Any]] = None,
                run_eagerly: bool = False, steps_per_execution: int = 1, jit_compile: Any = "auto",
                auto_scale_loss: bool = True) -> None:
        """Sets the optimizer, the loss and the metrics.

        Args:
            optimizer: a name (``"adam"``, ``"sgd"``, ``"rmsprop"``, ``"adamw"``, ``"adagrad"``)
                or an ``rnnkit.optimizers`` object.
            loss: a name (``"mse"``, ``"binary_crossentropy"``, ...) or an ``rnnkit.losses`` object.
            loss_weights: a float scaling the loss (a list of one float is accepted too).
            metrics: names (``"accuracy"``, ``"mae"``, ...), ``rnnkit.metrics`` objects or
                functions ``fn(y_true, y_pred) -> per-sample values``; not weighted by
                ``sample_weight``/``class_weight``, as in Keras.
            weighted_metrics: the same kinds, weighted by ``sample_weight``/``class_weight``.
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for
                Keras compatibility; rnnkit always runs its C++ kernels directly.
        """
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse'")
        if isinstance(loss_weights, (list, tuple)) and len(loss_weights) == 1:
            loss_weights = loss_weights[0]
        if loss_weights is not None and not isinstance(loss_weights, (int, float, np.number)):
            raise ValueError(f"loss_weights must be a float for a single-output model, got {loss_weights!r}")
        identifiers = {}
        for argument, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple)):
                raise ValueError(f"Expected `{argument}` argument to be a list or tuple, got {value!r}")
            identifiers[argument] = list(value or [])
            for identifier in identifiers[argument]:  # unknown names fail here, not mid-fit
                if not (isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc")):
                    metrics_module.get(identifier)
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self._loss_identifier = loss
        self._loss_weight = 1.0 if loss_weights is None else float(loss_weights)
        self._metric_identifiers = identifiers["metrics"]
        self._weighted_metric_identifiers = identifiers["weighted_metrics"]
        self._metrics = None
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": loss if isinstance(loss, str) else losses.serialize(self.loss),
            "loss_weights": loss_weights,
            "metrics": [self._metric_config(m) for m in self._metric_identifiers],
            "weighted_metrics": [self._metric_config(m) for m in self._weighted_metric_identifiers],
        }
        self.compiled = True

    @staticmethod
    def _metric_config(identifier: Any) -> Any:
        """A name stays a name; objects and functions are serialized (functions by name,
        found again through load_model's custom_objects)."""
        if isinstance(identifier, str):
            return identifier
        return metrics_module.serialize(metrics_module.get(identifier))

    def _require_compiled(self) -> None:
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model for training or evaluation")

    @property
    def metrics_names(self) -> List[str]:
        return ["loss"] + [m.name for m, _ in self._metrics or []]

    def _resolve_metrics(self, y: np.ndarray) -> List[Tuple[metrics_module.Metric, bool]]:
        """(metric, weighted) pairs, resolved on first use: 'accuracy' depends on the loss
        and the shapes. A weighted metric named like a plain one is called weighted_<name>."""
        if self._metrics is None:
            output_shape = tuple(1 if d is None else d for d in self.output_shape)
            y_pred = np.zeros(output_shape, dtype=np.float32)

            def resolve(identifier: Any) -> metrics_module.Metric:
                return metrics_module.get(identifier, loss=self._loss_identifier, y_true=y[:1], y_pred=y_pred)

            plain = [(resolve(m), False) for m in self._metric_identifiers]
            weighted = [(resolve(m), True) for m in self._weighted_metric_identifiers]
            names = {m.name for m, _ in plain}
            for metric, _ in weighted:
                if metric.name in names:
                    metric.name = f"weighted_{metric.name}"
            self._metrics = plain + weighted
        return self._metrics

    # ------------------------------------------------------------------ inputs
    def _prepare_data(self, x: Any, y: Any = None, sample_weight: Any = None
                 ) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
        """Checks x, y and weights before any C++ work, and builds the model if needed. Float
        inputs are cast once to the dtype the first layer computes in; integer ids stay integers."""
        x = data.as_array("x", x, self._input_cast_dtype(x))
        y = None if y is None else data.as_array("y", y)
        if sample_weight is not None:
            sample_weight = data.as_array("sample_weight", sample_weight, "float64")
        data.check_same_length(x=x, y=y, sample_weight=sample_weight)
        if not self.built:
            self.build(self._build_shape(x))
        self._check_input(x)
        if y is not None:
            self._check_targets(y)
        return x, y, sample_weight

    def _input_cast_dtype(self, x: Any) -> Optional[str]:
        first = self.layers[0] if self.layers else None
        if first is None or not first.casts_inputs or (self.input_dtype and np.dtype(self.input_dtype).kind in "iu"):
            return None
        return first.dtype

    def _check_targets(self, y: np.ndarray) -> None:
        """y must fit the model's output for the loss: the loss is tried on one sample of y
        against a dummy output, so every shape rule of the loss applies here, up front."""
        if isinstance(self.loss, losses.SparseCategoricalCrossentropy):
            classes = self.output_shape[-1]
            labels = y[y != self.loss.ignore_class] if self.loss.ignore_class is not None else y
            if y.dtype.kind == "f" and not np.all(np.equal(np.mod(labels, 1), 0)):
                raise ValueError("sparse_categorical_crossentropy needs integer class labels in y, got fractions")
            bad = (labels < 0) | (labels >= classes)
            if bad.any():
                raise ValueError(f"labels must lie in [0, {classes}) for the model's {classes} outputs, "
                                 f"got {labels[bad].flat[0].item()!r}")
        shape = tuple(y.shape[k] if d is None and k < y.ndim else (1 if d is None else d)
                      for k, d in enumerate(self.output_shape))
        try:
            self.loss(y[:1], np.full((1,) + shape[1:], 0.5, dtype=np.float32))
        except ValueError as error:
            raise ValueError(f"y of shape {y.shape} does not fit the model's output shape "
                             f"{self.output_shape} for this loss: {error}") from None

    # ------------------------------------------------------------------ steps
    def _train_step(self, x: np.ndarray, y: Optional[np.ndarray], sample_weight: Optional[np.ndarray]) -> float:
        """Forward with the mask, loss and its gradient under that mask, pullback, optimizer."""
        y_pred, mask, pullback = self.propagate(x, None, training=True)
        loss, dy = self.loss.value_and_grad(y, y_pred, sample_weight, mask=mask)
        loss = self._loss_weight * loss + self.regularization_loss()
        _, grads = pullback((self._loss_weight * dy).astype(y_pred.dtype, copy=False))
        variables = self.trainable_weights
        gradients = []
        for v in variables:
            gradient = grads.get(v)
            if v.regularizer is not None:
                penalty = v.regularizer.gradient(v.value)
                gradient = penalty if gradient is None else gradient + penalty
            gradients.append(gradient)
        self.optimizer.apply(gradients, variables)
        self._update_metrics(y, y_pred, sample_weight, mask)
        return float(loss)

    def _update_metrics(self, y: Optional[np.ndarray], y_pred: np.ndarray, sample_weight: Optional[np.ndarray],
                        mask: Optional[np.ndarray] = None) -> None:
        """Masked steps get weight 0 in every metric, as Keras does; sample weights only in
        the weighted metrics."""
        if y is None:
            return
        for metric, weighted in self._resolve_metrics(y):
            weights = sample_weight if weighted else None
            if mask is not None:
                m = np.asarray(mask, dtype=np.float64)
                weights = m if weights is None else m * weights.reshape(weights.shape + (1,) * (m.ndim - weights.ndim))
            metric.update_state(y, y_pred, weights)

    def _test_step(self, x: np.ndarray, y: np.ndarray, sample_weight: Optional[np.ndarray]) -> float:
        y_pred, mask, _ = self.propagate(x, None, training=False)
        loss = self._loss_weight * self.loss(y, y_pred, sample_weight, mask=mask) + self.regularization_loss()
        self._update_metrics(y, y_pred, sample_weight, mask)
        return float(loss)

    def _reset_metrics(self, y: Optional[np.ndarray]) -> None:
        if y is None:
            return
        for metric, _ in self._resolve_metrics(y):
            metric.reset_state()

    def _logs(self, loss: float) -> Logs:
        logs = {"loss": loss}
        logs.update({m.name: float(m.result()) for m, _ in self._metrics or []})
        return logs

    def _callback_list(self, user: Any, verbose: int, add_history: bool = False,
                       **params: Any) -> callbacks_module.CallbackList:
        """The user's callbacks, then History (fit) and the progress bar, in Keras' order."""
        return callbacks_module.CallbackList(user, add_history=add_history, add_progbar=verbose != 0,
                                             model=self, verbose=verbose, **params)

    # ------------------------------------------------------------------ fit
    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Union[str, int] = "auto", callbacks: Optional[Sequence[Any]] = None,
            validation_split: float = 0.0, validation_data: Optional[Tuple[Any, ...]] = None,
            shuffle: bool = True, class_weight: Optional[Dict[int, float]] = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: Optional[int] = None,
            validation_steps: Optional[int] = None, validation_batch_size: Optional[int] = None,
            validation_freq: int = 1) -> callbacks_module.History:
        """Trains the model, as Keras' fit.

        Args:
            x: ``(N, ...)`` inputs, e.g. ``(N, T, F)``. y: ``(N, ...)`` targets.
            batch_size: samples per step (32). epochs: passes over the data.
            verbose: ``"auto"``/1 a progress bar per epoch, 2 one line per epoch, 0 silent.
            callbacks: ``rnnkit.callbacks`` objects.
            validation_split: fraction of the data, taken from the end before shuffling,
                held out for validation. validation_data: ``(x_val, y_val[, sample_weight])``.
            shuffle: shuffle the training samples every epoch.
            class_weight: ``{class: weight}`` multiplying each sample's loss.
            sample_weight: ``(N,)`` per-sample loss weights.
            initial_epoch: epoch to start from (to resume training).
            steps_per_epoch: at most this many batches per epoch.
            validation_freq: validate every this many epochs.

        Returns:
            History, whose ``.history`` maps ``loss``, each metric and ``val_*`` to lists.
        """
        self._require_compiled()
        epochs = data.count("epochs", epochs, minimum=0)
        initial_epoch = data.count("initial_epoch", initial_epoch, minimum=0)
        batch_size = data.batch_size(batch_size)
        steps_per_epoch = data.count("steps_per_epoch", steps_per_epoch, minimum=1, optional=True)
        validation_steps = data.count("validation_steps", validation_steps, minimum=1, optional=True)
        validation_freq = data.count("validation_freq", validation_freq, minimum=1)
        if not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        if class_weight is not None and sample_weight is not None:
            raise ValueError("You cannot use `class_weight` and `sample_weight` at the same time")
        x, y, sample_weight = self._prepare_data(x, y, sample_weight)
        if y is None:
            raise ValueError("fit needs targets y")
        if validation_data is None and validation_split > 0:
            split = int(len(x) * (1 - validation_split))
            if split == 0 or split == len(x):
                raise ValueError(f"validation_split={validation_split} leaves no training or no validation samples "
                                 f"out of {len(x)}")
            validation_data = (x[split:], y[split:], None if sample_weight is None else sample_weight[split:])
            x, y = x[:split], y[:split]
            sample_weight = sample_weight[:split] if sample_weight is not None else None
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight)")
            validation_data = self._prepare_data(*validation_data)
        if class_weight is not None:  # the training samples only, as Keras
            sample_weight = data.class_sample_weights(y, class_weight)
        self._check_stateful_batches(len(x), batch_size)

        batches_per_epoch = -(-len(x) // batch_size)
        steps = batches_per_epoch if steps_per_epoch is None else min(steps_per_epoch, batches_per_epoch)
        verbose = data.verbosity(verbose)
        callback_list = self._callback_list(callbacks, verbose, add_history=True, epochs=epochs, steps=steps)
        shuffler = utils.rng()
        self.stop_training = False
        callback_list.on_train_begin()
        epoch_logs: Logs = {}
        with data.interrupt_between_batches() as interrupt:
            for epoch in range(initial_epoch, epochs):
                self._reset_metrics(y)
                callback_list.on_epoch_begin(epoch)
                order = shuffler.permutation(len(x)) if shuffle else None
                total, seen = 0.0, 0
                for step, index in enumerate(data.batches(len(x), batch_size, order, steps)):
                    callback_list.on_train_batch_begin(step)
                    batch_loss = self._train_step(x[index], y[index],
                                                  sample_weight[index] if sample_weight is not None else None)
                    total, seen = total + batch_loss * len(index), seen + len(index)
                    callback_list.on_train_batch_end(step, self._logs(total / seen))
                    interrupt.check()
                    if self.stop_training:
                        break
                epoch_logs = self._logs(total / max(seen, 1))
                if validation_data is not None and (epoch + 1) % validation_freq == 0:
                    val_logs = self._evaluate(*validation_data, batch_size=data.batch_size(validation_batch_size or batch_size),
                                              steps=validation_steps, callback_list=callback_list)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        callback_list.on_train_end(epoch_logs)
        return self.history

    def _check_stateful_batches(self, samples: int, batch_size: int) -> None:
        if any(getattr(layer, "stateful", False) for layer in self._flatten_layers()) and samples % batch_size:
            raise ValueError(f"a stateful model needs every batch the same size: {samples} samples do not split "
                             f"into batches of {batch_size}")

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate(self, x: np.ndarray, y: np.ndarray, sample_weight: Optional[np.ndarray] = None,
                  batch_size: int = 32, steps: Optional[int] = None, callback_list: Any = None) -> Logs:
        self._reset_metrics(y)
        callback_list.on_test_begin()
        total, seen = 0.0, 0
        for step, index in enumerate(data.batches(len(x), batch_size, steps=steps)):
            callback_list.on_test_batch_begin(step)
            batch_loss = self._test_step(x[index], y[index], sample_weight[index] if sample_weight is not None else None)
            total, seen = total + batch_loss * len(index), seen + len(index)
            callback_list.on_test_batch_end(step, self._logs(total / seen))
        logs = self._logs(total / seen)
        callback_list.on_test_end(logs)
        return logs

    def _returned(self, logs: Logs, return_dict: bool) -> Union[float, List[float], Logs]:
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
                 verbose: Union[str, int] = "auto", sample_weight: Any = None, steps: Optional[int] = None,
                 callbacks: Optional[Sequence[Any]] = None, return_dict: bool = False) -> Any:
        """The loss and metrics on ``(x, y)``: a scalar loss with no metrics, else
        ``[loss, *metrics]``, or a dict with ``return_dict=True``."""
        self._require_compiled()
        batch_size = data.batch_size(batch_size)
        steps = data.count("steps", steps, minimum=1, optional=True)
        x, y, sample_weight = self._prepare_data(x, y, sample_weight)
        if y is None:
            raise ValueError("evaluate needs targets y")
        self._check_stateful_batches(len(x), batch_size)
        verbose = data.verbosity(verbose)
        callback_list = self._callback_list(callbacks, verbose, epochs=1,
                                            steps=data.step_count(len(x), batch_size, steps))
        return self._returned(self._evaluate(x, y, sample_weight, batch_size, steps, callback_list), return_dict)

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Union[str, int] = "auto",
                steps: Optional[int] = None, callbacks: Optional[Sequence[Any]] = None) -> np.ndarray:
        """The model's outputs for ``x``, computed in batches: ``(N, ...)`` (the first
        ``steps * batch_size`` samples when ``steps`` is given)."""
        batch_size = data.batch_size(batch_size)
        steps = data.count("steps", steps, minimum=1, optional=True)
        x, _, _ = self._prepare_data(x)
        self._check_stateful_batches(len(x), batch_size)
        verbose = data.verbosity(verbose)
        callback_list = self._callback_list(callbacks, verbose, epochs=1,
                                            steps=data.step_count(len(x), batch_size, steps))
        callback_list.on_predict_begin()
        outputs = []
        for step, index in enumerate(data.batches(len(x), batch_size, steps=steps)):
            callback_list.on_predict_batch_begin(step)
            outputs.append(self.forward(x[index], training=False)[0])
            callback_list.on_predict_batch_end(step, {"outputs": outputs[-1]})
        callback_list.on_predict_end()
        return np.concatenate(outputs)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: Optional[Dict[int, float]] = None, return_dict: bool = False) -> Any:
        """One gradient step on one batch; returns its loss (and metrics) as evaluate does.
        ``y`` may be left out for a loss that needs no targets (its ``y_true`` is then ``None``)."""
        self._require_compiled()
        if class_weight is not None and sample_weight is not None:
            raise ValueError("You cannot use `class_weight` and `sample_weight` at the same time")
        x, y, sample_weight = self._prepare_data(x, y, sample_weight)
        if class_weight is not None:
            sample_weight = data.class_sample_weights(y, class_weight)
        self._reset_metrics(y)
        return self._returned(self._logs(self._train_step(x, y, sample_weight)), return_dict)

    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False) -> Any:
        """Loss (and metrics) of one batch, without updating the weights."""
        self._require_compiled()
        x, y, sample_weight = self._prepare_data(x, y, sample_weight)
        self._reset_metrics(y)
        return self._returned(self._logs(self._test_step(x, y, sample_weight)), return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """The model's outputs for one batch."""
        x, _, _ = self._prepare_data(x)
        return self.forward(x, training=False)[0]
