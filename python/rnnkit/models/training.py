"""compile, fit, evaluate and predict, as Keras 3 has them, for any model: one or several inputs
and outputs, arrays in memory or batches from a generator or a PyDataset."""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
    cast,
)

import numpy as np

from .. import callbacks as callbacks_module, losses, metrics as metrics_module, ops, optimizers, traces, utils
from .._arguments import is_number
from ..layers.base import activity_losses
from . import data

if TYPE_CHECKING:
    from ..layers.base import Layer, Pullback
    from ..variables import Variable

__all__ = ["Trainer"]

# A float per name; an array for a metric per class or per threshold.
Logs = Dict[str, Any]
# One array per model input.
Inputs = List[np.ndarray]
# One array (or None) per model output: targets, sample weights.
Arrays = List[Optional[np.ndarray]]


def _map_leaves(value: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn`` applied to every non-None leaf of a list/dict structure (a serialized object,
    ``{"class_name": ..., "config": ...}``, is a leaf)."""
    if isinstance(value, (list, tuple)):
        return [_map_leaves(v, fn) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _map_leaves(v, fn) for k, v in value.items()}
    return None if value is None else fn(value)


def _metric_config(identifier: Any) -> Any:
    """A name stays a name; objects and functions are serialized (functions by name, found
    again through load_model's custom_objects)."""
    if isinstance(identifier, str):
        return identifier
    return metrics_module.serialize(metrics_module.get(identifier))


def _rows(array: Any, index: Any) -> Any:
    """The batch ``index`` (a slice or row numbers) of ``array``, or None for None: a slice gives
    views; take copies the rows of a shuffled batch at half the cost of array[index]."""
    if array is None:
        return None
    return array[index] if isinstance(index, slice) else array.take(index, axis=0)


class _Output:
    """One model output's loss, loss weight and metrics (resolved on first use)."""

    def __init__(self, name: str, loss: Any, weight: Optional[float], plain: List[Any], weighted: List[Any]) -> None:
        self.name = name
        self.loss_identifier = loss
        self.loss: Optional[losses.Loss] = None if loss is None else losses.get(loss)
        self.weight = 1.0 if weight is None else float(weight)
        self.plain, self.weighted = plain, weighted
        self.metrics: Optional[List[Tuple[metrics_module.Metric, bool]]] = None
        self.checked: Set[Tuple[Tuple[int, ...], str]] = set()  # shapes and dtypes of y already found to fit the loss


def _resolve_metric(identifier: Any, output: _Output, y: np.ndarray, y_pred: np.ndarray) -> metrics_module.Metric:
    """One of ``output``'s metrics, resolved against its loss, a row of its targets ``y`` and
    zero predictions ``y_pred`` of its shape ('accuracy' depends on them)."""
    metric = metrics_module.get(identifier, loss=output.loss_identifier, y_true=y[:1], y_pred=y_pred)
    return cast(metrics_module.Metric, metric)  # compile resolved each identifier once already


def _class_sample_weights(ys: Any, class_weight: Dict[int, float]) -> Arrays:
    """The sample weights ``class_weight`` gives the targets ``ys[0]`` of the model's one output."""
    return [data.class_sample_weights(ys[0], class_weight)]


class _Prepared(NamedTuple):
    """Validation arrays already checked and split per input and output (validation_split)."""

    xs: Inputs
    ys: Arrays
    sws: Arrays


class _StepWeights(NamedTuple):
    """The variables a training step updates and the weights whose regularizers add to the
    loss. fit and evaluate read them once per epoch, as Keras reads them when it builds its
    train function: a layer frozen or unfrozen in ``on_epoch_begin`` counts from that epoch."""

    trainable: List[Any]
    regularized: List[Any]


class _Totals:
    """Sample-weighted running means of the losses over the batches of an epoch."""

    def __init__(self) -> None:
        self.sums: Dict[str, float] = {}
        self.seen = 0

    def add(self, values: Dict[str, float], samples: int) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value * samples
        self.seen += samples

    def means(self) -> Dict[str, float]:
        return {name: total / max(self.seen, 1) for name, total in self.sums.items()}


class Trainer:
    """Training for any model through its public interface: ``propagate(inputs, mask,
    training)`` (outputs, their masks and the pullback), ``output_names``, the flatten/pack
    methods of its inputs and outputs, ``trainable_weights``, ``regularization_loss``,
    ``build`` and ``output_shape``."""

    # That interface, as Layer and the model classes (Sequential, Model) give it.
    built: bool
    output_shape: Any
    if TYPE_CHECKING:
        @property
        def output_names(self) -> List[str]: ...
        @property
        def weights(self) -> List[Variable]: ...
        @property
        def trainable_weights(self) -> List[Variable]: ...
        def build(self, input_shape: Any) -> None: ...
        def _build_shape(self, inputs: Any) -> Any: ...
        def _flatten_layers(self) -> Iterator[Layer]: ...
        def forward(self, inputs: Any, *, mask: Any = None, training: bool = False,
                    **kwargs: Any) -> Tuple[Any, Pullback]: ...
        def propagate(self, inputs: Any, mask: Any = None, training: bool = False,
                      **kwargs: Any) -> Tuple[Any, Any, Pullback]: ...
        def _flat_inputs(self, inputs: Any, /) -> List[Any]: ...
        def _flat_outputs(self, outputs: Any, /) -> List[Any]: ...
        def _pack_inputs(self, leaves: List[Any], /) -> Any: ...
        def _pack_outputs(self, leaves: List[Any], /) -> Any: ...
        def _input_cast_dtypes(self) -> List[Optional[str]]: ...
        def _check_input_arrays(self, arrays: List[np.ndarray], /) -> None: ...

    def __init__(self) -> None:
        self.optimizer: Optional[optimizers.Optimizer] = None
        self.loss: Any = None
        self.compiled = False
        self.stop_training = False
        self.history: Optional[callbacks_module.History] = None
        self._outputs_spec: List[_Output] = []
        self._compile_config: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Sets the optimizer, the losses and the metrics.

        Args:
            optimizer: a name (``"adam"``, ``"sgd"``, ``"rmsprop"``, ``"adamw"``, ``"adagrad"``)
                or an ``rnnkit.optimizers`` object.
            loss: a name (``"mse"``, ``"binary_crossentropy"``, ...) or an ``rnnkit.losses``
                object, used for every output; or a list (one per output) or a dict by output
                name (an output left out has no loss).
            loss_weights: a float (one output), or a list or dict by output name; the total loss
                is the weighted sum.
            metrics: names (``"accuracy"``, ``"mae"``, ...), ``rnnkit.metrics`` objects or
                functions ``fn(y_true, y_pred) -> per-sample values``: a list for one output; for
                several, a list with one entry (a metric or a list) per output, or a dict by
                output name. Not weighted by ``sample_weight``/``class_weight``, as in Keras.
            weighted_metrics: the same kinds, weighted by ``sample_weight``/``class_weight``.
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for
                Keras compatibility; rnnkit always runs its C++ kernels directly.
        """
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse'")
        names = self.output_names
        loss_list = self._per_output("loss", loss, names, broadcast=True)
        if all(item is None for item in loss_list):
            raise ValueError(f"compile: no output has a loss; the outputs are {names}")
        weight_list = self._per_output("loss_weights", loss_weights, names, broadcast=False)
        for weight in weight_list:
            if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float, np.number))):
                raise ValueError(f"loss_weights must be numbers, got {loss_weights!r}")
        metric_lists = {}
        for argument, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple, dict)):
                raise ValueError(f"Expected `{argument}` argument to be a list or tuple, got {value!r}")
            per_output = self._metrics_per_output(argument, value, names)
            for identifier in (m for entry in per_output for m in entry):  # unknown names fail here, not mid-fit
                if not (isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc")):
                    metrics_module.get(identifier)
            metric_lists[argument] = per_output
        if optimizer is None:
            raise ValueError("compile: 'optimizer' must be a name such as 'adam' or an rnnkit.optimizers object, "
                             "got None")
        self.optimizer = optimizers.get(optimizer)
        assert self.optimizer is not None  # None was refused above
        self._outputs_spec = [_Output(name, item, weight, plain, weighted) for name, item, weight, plain, weighted
                              in zip(names, loss_list, weight_list, metric_lists["metrics"],
                                     metric_lists["weighted_metrics"])]
        self.loss = self._outputs_spec[0].loss if len(names) == 1 else [o.loss for o in self._outputs_spec]
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": _map_leaves(loss, lambda item: item if isinstance(item, str) else losses.serialize(
                losses.get(item))),
            "loss_weights": loss_weights,
            "metrics": _map_leaves(metrics, _metric_config),
            "weighted_metrics": _map_leaves(weighted_metrics, _metric_config),
        }
        self.compiled = True

    def _compile_from_config(self, config: Dict[str, Any],
                             custom_objects: Optional[Dict[str, Any]] = None) -> None:
        """compile() again from a saved ``compile_config``."""
        def metric(item: Any) -> Any:
            return item if isinstance(item, str) else metrics_module.deserialize(item, custom_objects=custom_objects)

        def loss(item: Any) -> Any:
            return item if isinstance(item, str) else losses.deserialize(item)

        self.compile(optimizer=optimizers.deserialize(config["optimizer"]), loss=_map_leaves(config["loss"], loss),
                     loss_weights=config.get("loss_weights"), metrics=_map_leaves(config.get("metrics"), metric),
                     weighted_metrics=_map_leaves(config.get("weighted_metrics"), metric))

    @staticmethod
    def _per_output(argument: str, value: Any, names: List[str], broadcast: bool) -> List[Any]:
        """One entry per output from a single value, a list or a dict keyed by output name."""
        count = len(names)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(names))
            if unknown:
                raise ValueError(f"{argument}: unknown output name(s) {unknown}; the outputs are {names}")
            return [value.get(name) for name in names]
        if isinstance(value, (list, tuple)):
            if len(value) != count:
                raise ValueError(f"{argument}: the model has {count} output(s) ({', '.join(names)}), got a list of "
                                 f"{len(value)}")
            return list(value)
        if value is None or broadcast or count == 1:
            return [value] * count
        raise ValueError(f"{argument}: the model has {count} outputs ({', '.join(names)}); give a list or a dict "
                         f"by output name, got {value!r}")

    @classmethod
    def _metrics_per_output(cls, argument: str, value: Any, names: List[str]) -> List[List[Any]]:
        if value is None:
            return [[] for _ in names]
        if len(names) == 1 and not isinstance(value, dict):
            return [list(value)]
        entries = cls._per_output(argument, value, names, broadcast=False)
        return [[] if e is None else (list(e) if isinstance(e, (list, tuple)) else [e]) for e in entries]

    def _require_compiled(self) -> None:
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model for training or evaluation")

    @property
    def metrics_names(self) -> List[str]:
        """The names of ``evaluate``'s values, in order: ``"loss"``, each output's loss when there
        are several, then the metrics. The metrics are resolved, and so listed, at the first batch
        with targets after ``compile`` (``fit``, ``evaluate``, ``train_on_batch``, ...)."""
        names = ["loss"]
        if len(self._outputs_spec) > 1:
            names += [f"{o.name}_loss" for o in self._outputs_spec if o.loss is not None]
        return names + [m.name for o in self._outputs_spec for m, _ in o.metrics or []]

    def _resolve_metrics(self, ys: Arrays) -> None:
        """Each output's (metric, weighted) pairs, resolved on first use: 'accuracy' depends on
        the loss and the shapes. A weighted metric named like a plain one is called
        weighted_<name>; a plain name taken already gets _1, _2, ...; with several outputs every
        name starts with the output's."""
        shapes = self._flat_outputs(self.output_shape) if len(self._outputs_spec) > 1 else [self.output_shape]
        for output, y, shape in zip(self._outputs_spec, ys, shapes):
            if output.metrics is not None or y is None:
                continue
            y_pred = np.zeros(tuple(1 if d is None else d for d in shape), dtype=np.float32)
            plain = [(_resolve_metric(m, output, y, y_pred), False) for m in output.plain]
            weighted = [(_resolve_metric(m, output, y, y_pred), True) for m in output.weighted]
            names: Set[str] = set()
            for metric, _ in plain:  # two metrics of one name, e.g. "auc" and AUC(curve="PR"): auc, auc_1
                base, k = metric.name, 0
                while metric.name in names:
                    k += 1
                    metric.name = f"{base}_{k}"
                names.add(metric.name)
            for metric, _ in weighted:
                if metric.name in names:
                    metric.name = f"weighted_{metric.name}"
            if len(self._outputs_spec) > 1:
                for metric, _ in plain + weighted:
                    metric.name = f"{output.name}_{metric.name}"
            output.metrics = plain + weighted

    # ------------------------------------------------------------------ inputs
    def _prepare_data(self, x: Any, y: Any = None,
                      sample_weight: Any = None) -> Tuple[Inputs, Optional[Arrays], Arrays]:
        """Checks x, y and weights before any C++ work, and builds the model if needed: one
        array per model input, per output target and per output weight. Float inputs are cast
        once to the dtype the model computes in; integer ids stay integers."""
        arrays = self._flat_inputs(x)
        names = ["x"] if len(arrays) == 1 else [f"x[{k}]" for k in range(len(arrays))]
        dtypes = self._input_cast_dtypes()
        xs = [data.as_array(name, a, dtype) for name, a, dtype in zip(names, arrays, dtypes)]
        count = len(self.output_names)
        ys: Optional[Arrays] = None
        if y is not None:
            targets = self._per_output("y", y, self.output_names, broadcast=False) if count > 1 or isinstance(
                y, dict) else ([y[0]] if isinstance(y, (list, tuple)) and len(y) == 1 else [y])
            ys = [None if t is None else data.as_array("y" if count == 1 else f"y[{self.output_names[k]!r}]", t)
                  for k, t in enumerate(targets)]
        weights = self._per_output("sample_weight", sample_weight, self.output_names, broadcast=True) \
            if isinstance(sample_weight, (list, tuple, dict)) else [sample_weight] * count
        sws = [None if w is None else data.as_array("sample_weight", w, "float64") for w in weights]

        def suffix(k: int) -> str:
            return "" if count == 1 else f"[{self.output_names[k]!r}]"

        data.check_same_length(**dict(zip(names, xs)),
                               **{f"y{suffix(k)}": t for k, t in enumerate(ys or [])},
                               **{f"sample_weight{suffix(k)}": w for k, w in enumerate(sws)})
        if not self.built:
            self.build(self._build_shape(xs[0]))
        self._check_input_arrays(xs)
        for k, (output, target) in enumerate(zip(self._outputs_spec, ys or [])):
            if target is not None and output.loss is not None:
                self._check_targets(target, output, self._output_shape_of(k))
        return xs, ys, sws

    def _output_shape_of(self, k: int) -> Any:
        return self._flat_outputs(self.output_shape)[k] if len(self._outputs_spec) > 1 else self.output_shape

    @staticmethod
    def _check_targets(y: np.ndarray, output: _Output, output_shape: Any) -> None:
        """y must fit the output for the loss: the loss is tried on one sample of y against a
        dummy output, so every shape rule of the loss applies here, up front (once per shape
        and dtype of y; class labels are checked every time)."""
        loss = output.loss
        assert loss is not None  # only outputs with a loss are checked
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            classes = output_shape[-1]
            labels = y[y != loss.ignore_class] if loss.ignore_class is not None else y
            if y.dtype.kind == "f" and not np.all(np.equal(np.mod(labels, 1), 0)):
                raise ValueError("sparse_categorical_crossentropy needs integer class labels in y, got fractions")
            bad = (labels < 0) | (labels >= classes)
            if bad.any():
                raise ValueError(f"labels must lie in [0, {classes}) for the model's {classes} outputs, "
                                 f"got {labels[bad].flat[0].item()!r}")
        key = (y.shape[1:], y.dtype.str)
        if key in output.checked:
            return
        shape = tuple(y.shape[k] if d is None and k < y.ndim else (1 if d is None else d)
                      for k, d in enumerate(output_shape))
        try:
            loss(y[:1], np.full((1,) + shape[1:], 0.5, dtype=np.float32))
        except ValueError as error:
            raise ValueError(f"y of shape {y.shape} does not fit the model's output shape "
                             f"{output_shape} for this loss: {error}") from None
        output.checked.add(key)

    # ------------------------------------------------------------------ steps
    def _step_weights(self) -> _StepWeights:
        return _StepWeights(self.trainable_weights, [w for w in self.weights if w.regularizer is not None])

    def _losses(self, ys: Optional[Arrays], outputs: List[np.ndarray], masks: List[Any], sws: Arrays,
                need_grad: bool, regularized: List[Any], activity: Sequence[float] = ()
                ) -> Tuple[Logs, List[Optional[np.ndarray]]]:
        """The total loss (and each output's, unweighted, with several outputs) and, when
        ``need_grad``, the gradient of the total with respect to each output. The weights'
        penalties and the layers' activity penalties (``activity``) count in the total."""
        targets = ys if ys is not None else [None] * len(outputs)
        total = 0.0
        logs: Logs = {}
        grads: List[Optional[np.ndarray]] = []
        for output, y, y_pred, mask, sw in zip(self._outputs_spec, targets, outputs, masks, sws):
            if output.loss is None or (y is None and ys is not None):
                grads.append(None)
                continue
            if need_grad:
                value, d = output.loss.value_and_grad(y, y_pred, sw, mask=mask)
                grads.append(d if output.weight == 1.0 else (output.weight * d).astype(y_pred.dtype, copy=False))
            else:
                value = float(output.loss(y, y_pred, sw, mask=mask))
            total += output.weight * value
            if len(self._outputs_spec) > 1:
                logs[f"{output.name}_loss"] = float(value)
        penalty = sum(w.regularizer(w.value) for w in regularized)  # Layer.regularization_loss's terms
        return {"loss": float(total + penalty + sum(activity)), **logs}, grads

    def _train_step(self, xs: Inputs, ys: Optional[Arrays], sws: Arrays,
                    weights: Optional[_StepWeights] = None) -> Logs:
        """Forward with the masks, losses and their gradients under the masks, pullback, optimizer."""
        variables, regularized = weights or self._step_weights()
        # (the batch was checked with the data; the weights change after the pullback)
        with ops.trusted_arrays(), activity_losses() as activity:
            outputs, masks, pullback = self.propagate(self._pack_inputs(xs), None, training=True)
            flat_outputs, flat_masks = self._flat_outputs(outputs), self._flat_outputs(masks)
            logs, d_outputs = self._losses(ys, flat_outputs, flat_masks, sws, True, regularized, activity)
            _, grads = pullback(self._pack_outputs(d_outputs))
        gradients = []
        for v in variables:
            gradient = grads.get(v)
            if v.regularizer is not None:
                penalty = v.regularizer.gradient(v.value)
                gradient = penalty if gradient is None else gradient + penalty
            gradients.append(gradient)
        assert self.optimizer is not None  # compiled
        self.optimizer.apply(gradients, variables)
        self._update_metrics(ys, flat_outputs, sws, flat_masks)
        return logs

    def _test_step(self, xs: Inputs, ys: Optional[Arrays], sws: Arrays,
                   weights: Optional[_StepWeights] = None) -> Logs:
        # (no pullback; the batch was checked with the data)
        with ops.no_backward(), ops.trusted_arrays(), activity_losses() as activity:
            outputs, masks, _ = self.propagate(self._pack_inputs(xs), None, training=False)
        flat_outputs, flat_masks = self._flat_outputs(outputs), self._flat_outputs(masks)
        regularized = (weights or self._step_weights()).regularized
        logs, _ = self._losses(ys, flat_outputs, flat_masks, sws, False, regularized, activity)
        self._update_metrics(ys, flat_outputs, sws, flat_masks)
        return logs

    def _update_metrics(self, ys: Optional[Arrays], outputs: List[np.ndarray], sws: Arrays,
                        masks: List[Any]) -> None:
        """Masked steps get weight 0 in every metric, as Keras does; sample weights only in
        the weighted metrics."""
        if ys is None:
            return
        self._resolve_metrics(ys)
        for output, y, y_pred, sw, mask in zip(self._outputs_spec, ys, outputs, sws, masks):
            if y is None:
                continue
            for metric, weighted in output.metrics or []:
                weights = sw if weighted else None
                if mask is not None:
                    m = np.asarray(mask, dtype=np.float64)
                    weights = m if weights is None else m * weights.reshape(
                        weights.shape + (1,) * (m.ndim - weights.ndim))
                metric.update_state(y, y_pred, weights)

    def _reset_metrics(self, ys: Optional[Arrays]) -> None:
        if ys is None:
            return
        self._resolve_metrics(ys)
        for output in self._outputs_spec:
            for metric, _ in output.metrics or []:
                metric.reset_state()

    def _logs(self, losses_: Logs) -> Logs:
        logs = dict(losses_)
        for output in self._outputs_spec:
            for metric, _ in output.metrics or []:
                value = metric.result()  # a float, or an array (per class, per threshold)
                logs[metric.name] = float(value) if np.ndim(value) == 0 else np.asarray(value)
        return logs

    def _callback_list(self, user: Any, verbose: int, add_history: bool = False,
                       **params: Any) -> callbacks_module.CallbackList:
        """The user's callbacks, then History (fit) and the progress bar, in Keras' order."""
        return callbacks_module.CallbackList(user, add_history=add_history, add_progbar=verbose != 0,
                                             model=self, verbose=verbose, **params)

    # ------------------------------------------------------------------ batches
    def _array_batches(self, xs: Inputs, ys: Optional[Arrays], sws: Arrays, batch_size: int,
                       order: Optional[np.ndarray], steps: Optional[int]) -> Iterator[Tuple[Inputs, Any, Arrays, int]]:
        for index, count in data.batches(len(xs[0]), batch_size, order, steps):
            yield ([_rows(a, index) for a in xs], None if ys is None else [_rows(t, index) for t in ys],
                   [_rows(w, index) for w in sws], count)

    def _source_batches(self, source: data.BatchSource,
                        class_weight: Optional[Dict[int, float]] = None) -> Iterator[Tuple[Inputs, Any, Arrays, int]]:
        for x, y, w in source.epoch():
            if class_weight is not None and w is not None:
                raise ValueError(f"{source.name} yields sample weights, and class_weight is given too: use one")
            try:
                xs, ys, sws = self._prepare_data(x, y, w)
            except (ValueError, TypeError) as error:
                raise type(error)(f"a batch from {source.name} does not fit the model: {error}") from None
            if class_weight is not None and ys is not None:
                sws = _class_sample_weights(ys, class_weight)
            yield xs, ys, sws, len(xs[0])

    def _checked_class_weight(self, class_weight: Any, sample_weight: Any) -> Optional[Dict[int, float]]:
        if class_weight is None:
            return None
        if sample_weight is not None:
            raise ValueError("You cannot use `class_weight` and `sample_weight` at the same time")
        if len(self.output_names) > 1:
            raise ValueError("class_weight is only supported for models with one output")
        return data.check_class_weight(class_weight)

    # ------------------------------------------------------------------ fit
    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Union[str, int] = "auto", callbacks: Optional[Sequence[Any]] = None,
            validation_split: float = 0.0, validation_data: Any = None,
            shuffle: bool = True, class_weight: Optional[Dict[int, float]] = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: Optional[int] = None,
            validation_steps: Optional[int] = None, validation_batch_size: Optional[int] = None,
            validation_freq: int = 1) -> callbacks_module.History:
        """Trains the model, as Keras' fit.

        Args:
            x: ``(N, ...)`` inputs, e.g. ``(N, T, F)``, or a list/dict of them for several
                inputs; or a generator/iterator of ``(x, y)`` or ``(x, y, sample_weight)``
                batches, or an ``rnnkit.utils.PyDataset`` (then ``y`` is not given).
            y: ``(N, ...)`` targets, or a list/dict of them (by output name) for several outputs.
            batch_size: samples per step (32) for arrays. epochs: passes over the data.
            verbose: ``"auto"``/1 a progress bar per epoch, 2 one line per epoch, 0 silent.
            callbacks: ``rnnkit.callbacks`` objects.
            validation_split: fraction of the data, taken from the end before shuffling,
                held out for validation. validation_data: ``(x_val, y_val[, sample_weight])``,
                or a generator or PyDataset.
            shuffle: shuffle the training samples every epoch (arrays only).
            class_weight: ``{class: weight}`` multiplying each sample's loss (one output).
            sample_weight: ``(N,)`` per-sample loss weights (a list/dict per output too).
            initial_epoch: epoch to start from (to resume training).
            steps_per_epoch: at most this many batches per epoch (a generator without it runs
                until it is exhausted).
            validation_freq: validate every this many epochs.

        Returns:
            History, whose ``.history`` maps ``loss``, each output's loss and metric and
            ``val_*`` to lists.
        """
        self._require_compiled()
        epochs = data.count("epochs", epochs, minimum=0)
        initial_epoch = data.count("initial_epoch", initial_epoch, minimum=0)
        batch_size = data.batch_size(batch_size)
        steps_per_epoch = data.count("steps_per_epoch", steps_per_epoch, minimum=1, optional=True)
        validation_steps = data.count("validation_steps", validation_steps, minimum=1, optional=True)
        validation_freq = data.count("validation_freq", validation_freq, minimum=1)
        if not is_number(validation_split) or not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
        class_weight = self._checked_class_weight(class_weight, sample_weight)
        source = None
        if data.is_batch_source(x):
            if y is not None or sample_weight is not None:
                raise ValueError("when x is a generator or a PyDataset, it yields the targets: do not pass y or "
                                 "sample_weight")
            if validation_split:
                raise ValueError("validation_split needs arrays; give validation_data with a generator")
            source = data.BatchSource(x, steps_per_epoch, "the training generator")
            steps = source.steps
        else:
            xs, ys, sws = self._prepare_data(x, y, sample_weight)
            if ys is None:
                raise ValueError("fit needs targets y")
            if validation_data is None and validation_split > 0:
                samples = len(xs[0])
                split = int(samples * (1 - validation_split))
                if split == 0 or split == samples:
                    raise ValueError(f"validation_split={validation_split} leaves no training or no validation "
                                     f"samples out of {samples}")
                validation_data = ([a[split:] for a in xs], [None if t is None else t[split:] for t in ys],
                                   [None if w is None else w[split:] for w in sws])
                xs, ys = [a[:split] for a in xs], [None if t is None else t[:split] for t in ys]
                sws = [None if w is None else w[:split] for w in sws]
                validation_data = _Prepared(*validation_data)
            if class_weight is not None:  # the training samples only, as Keras
                sws = _class_sample_weights(ys, class_weight)
            self._check_stateful_batches(len(xs[0]), batch_size)
            batches_per_epoch = -(-len(xs[0]) // batch_size)
            steps = batches_per_epoch if steps_per_epoch is None else min(steps_per_epoch, batches_per_epoch)
        validate = self._validation(validation_data, validation_batch_size or batch_size, validation_steps)
        verbose = data.verbosity(verbose)
        callback_list = self._callback_list(callbacks, verbose, add_history=True, epochs=epochs, steps=steps)
        shuffler = utils.rng()
        self.stop_training = False
        self._initial_epoch = None
        callback_list.on_train_begin()
        # BackupAndRestore sets where a fit interrupted before resumes.
        initial_epoch = self._initial_epoch if self._initial_epoch is not None else initial_epoch
        epoch_logs: Logs = {}
        with data.interrupt_between_batches() as interrupt:
            for epoch in range(initial_epoch, epochs):
                if source is not None and source.exhausted:
                    break
                callback_list.on_epoch_begin(epoch)
                if source is None:
                    order = shuffler.permutation(len(xs[0])) if shuffle else None
                    batches = self._array_batches(xs, ys, sws, batch_size, order, steps)
                else:
                    batches = self._source_batches(source, class_weight)
                totals, started = _Totals(), False
                batch_begin, batch_end = (callback_list.wants(f"on_train_batch_{at}") for at in ("begin", "end"))
                weights = self._step_weights()
                for step, (xb, yb, wb, samples) in enumerate(batches):
                    if not started:
                        self._reset_metrics(yb)
                        started = True
                    if batch_begin:
                        callback_list.on_train_batch_begin(step)
                    totals.add(self._train_step(xb, yb, wb, weights), samples)
                    if batch_end:
                        callback_list.on_train_batch_end(step, self._logs(totals.means()))
                    interrupt.check()
                    if self.stop_training:
                        break
                if not started:
                    if source is not None and source.exhausted and epoch > initial_epoch:
                        break  # a generator without steps_per_epoch ran out: training ends here
                    raise ValueError("the training data gave no batch")
                epoch_logs = self._logs(totals.means())
                if validate is not None and (epoch + 1) % validation_freq == 0:
                    val_logs = validate(callback_list)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        if epochs > initial_epoch:  # an optimizer with use_ema ends with the averaged weights, as Keras
            assert self.optimizer is not None  # compiled
            self.optimizer.finalize_variable_values(self.trainable_weights)
        callback_list.on_train_end(epoch_logs)
        assert self.history is not None  # set by the History callback
        return self.history

    def _validation(self, validation_data: Any, batch_size: int,
                    steps: Optional[int]) -> Optional[Callable[[Any], Logs]]:
        """A function running the validation pass, from arrays, a generator or a PyDataset."""
        if validation_data is None:
            return None
        if data.is_batch_source(validation_data):
            source = data.BatchSource(validation_data, steps, "the validation generator")
            return lambda callback_list: self._evaluate_batches(self._source_batches(source), callback_list)
        ys: Optional[Arrays]
        if isinstance(validation_data, _Prepared):
            xs, ys, sws = validation_data
        else:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight), "
                                 "a generator or a PyDataset")
            xs, ys, sws = self._prepare_data(*validation_data)
        size = data.batch_size(batch_size)
        return lambda callback_list: self._evaluate_batches(
            self._array_batches(xs, ys, sws, size, None, steps), callback_list)

    def _check_stateful_batches(self, samples: int, batch_size: int) -> None:
        if any(getattr(layer, "stateful", False) for layer in self._flatten_layers()) and samples % batch_size:
            raise ValueError(f"a stateful model needs every batch the same size: {samples} samples do not split "
                             f"into batches of {batch_size}")

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_batches(self, batches: Iterator[Tuple[Inputs, Any, Arrays, int]],
                          callback_list: Any) -> Logs:
        callback_list.on_test_begin()
        totals, started = _Totals(), False
        batch_begin, batch_end = (callback_list.wants(f"on_test_batch_{at}") for at in ("begin", "end"))
        weights = self._step_weights()
        for step, (xb, yb, wb, samples) in enumerate(batches):
            if yb is None:
                raise ValueError("evaluation needs targets y")
            if not started:
                self._reset_metrics(yb)
                started = True
            if batch_begin:
                callback_list.on_test_batch_begin(step)
            totals.add(self._test_step(xb, yb, wb, weights), samples)
            if batch_end:
                callback_list.on_test_batch_end(step, self._logs(totals.means()))
        if not started:
            raise ValueError("the evaluation data gave no batch (a generator read to its end gives none: pass "
                             "validation_steps/steps, or use a PyDataset, which is read again every epoch)")
        logs = self._logs(totals.means())
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
        """The loss and metrics on ``(x, y)`` (arrays, lists/dicts of them, a generator or a
        PyDataset): a scalar loss with no metrics, else ``[loss, *losses, *metrics]``
        (``metrics_names``), or a dict with ``return_dict=True``."""
        self._require_compiled()
        batch_size = data.batch_size(batch_size)
        steps = data.count("steps", steps, minimum=1, optional=True)
        if data.is_batch_source(x):
            source = data.BatchSource(x, steps, "the evaluation generator")
            batches, count = self._source_batches(source), source.steps
        else:
            xs, ys, sws = self._prepare_data(x, y, sample_weight)
            if ys is None:
                raise ValueError("evaluate needs targets y")
            self._check_stateful_batches(len(xs[0]), batch_size)
            batches = self._array_batches(xs, ys, sws, batch_size, None, steps)
            count = data.step_count(len(xs[0]), batch_size, steps)
        verbose = data.verbosity(verbose)
        callback_list = self._callback_list(callbacks, verbose, epochs=1, steps=count)
        return self._returned(self._evaluate_batches(batches, callback_list), return_dict)

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Union[str, int] = "auto",
                steps: Optional[int] = None, callbacks: Optional[Sequence[Any]] = None) -> Any:
        """The model's outputs for ``x`` (arrays, lists/dicts of them, a generator or a
        PyDataset), computed in batches: ``(N, ...)`` per output, in the structure of the
        model's outputs (the first ``steps * batch_size`` samples when ``steps`` is given)."""
        batch_size = data.batch_size(batch_size)
        steps = data.count("steps", steps, minimum=1, optional=True)
        if data.is_batch_source(x):
            source = data.BatchSource(x, steps, "the prediction generator")
            batches, count = self._source_batches(source), source.steps
        else:
            xs, _, sws = self._prepare_data(x)
            self._check_stateful_batches(len(xs[0]), batch_size)
            batches = self._array_batches(xs, None, sws, batch_size, None, steps)
            count = data.step_count(len(xs[0]), batch_size, steps)
        verbose = data.verbosity(verbose)
        callback_list = self._callback_list(callbacks, verbose, epochs=1, steps=count)
        callback_list.on_predict_begin()
        collected: List[List[np.ndarray]] = []
        for step, (xb, _, _, _) in enumerate(batches):
            callback_list.on_predict_batch_begin(step)
            with ops.no_backward(), ops.trusted_arrays():  # the batch was checked with the data
                outputs = self.forward(self._pack_inputs(xb), training=False)[0]
            collected.append(self._flat_outputs(outputs))
            callback_list.on_predict_batch_end(step, {"outputs": outputs})
        callback_list.on_predict_end()
        if not collected:
            raise ValueError("the prediction data gave no batch")
        return self._pack_outputs([np.concatenate(parts) for parts in zip(*collected)])

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: Optional[Dict[int, float]] = None, return_dict: bool = False) -> Any:
        """One gradient step on one batch; returns its loss (and metrics) as evaluate does.
        ``y`` may be left out for a loss that needs no targets (its ``y_true`` is then ``None``)."""
        self._require_compiled()
        class_weight = self._checked_class_weight(class_weight, sample_weight)
        xs, ys, sws = self._prepare_data(x, y, sample_weight)
        if class_weight is not None:
            sws = _class_sample_weights(ys, class_weight)
        self._reset_metrics(ys)
        return self._returned(self._logs(self._train_step(xs, ys, sws)), return_dict)

    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False) -> Any:
        """Loss (and metrics) of one batch, without updating the weights."""
        self._require_compiled()
        xs, ys, sws = self._prepare_data(x, y, sample_weight)
        self._reset_metrics(ys)
        return self._returned(self._logs(self._test_step(xs, ys, sws)), return_dict)

    def trace(self, x: Any, y: Any = None, sample_weight: Any = None) -> traces.Trace:
        """Look inside the recurrent layers on one batch: the gates and states of every time
        step and, given targets, the gradient of the compiled loss reaching every step's states.

        The model runs once in inference mode (no dropout); with ``y`` its backward pass runs
        too, and no weight changes. See :mod:`rnnkit.traces`.

        Args:
            x: the model's inputs, as for ``predict`` (one batch: every sample is traced).
            y: targets, as for ``evaluate``, or ``None`` for the forward pass alone.
            sample_weight: per-sample loss weights, as for ``evaluate``.

        Returns:
            A :class:`rnnkit.traces.Trace`: ``{layer name: LayerTrace}`` for every SimpleRNN,
            LSTM and GRU layer (inside Bidirectional and stacked cells too), with ``gates``,
            ``hidden``, ``cell_state`` ``(N, T, units)`` and, given ``y``, ``grad_hidden``,
            ``grad_cell_state`` and ``gradient_norms()``; ``trace.loss`` is the batch's loss.
        """
        if y is not None:
            self._require_compiled()
        xs, ys, sws = self._prepare_data(x, y, sample_weight)
        with traces.recording(self) as trace, activity_losses() as activity:
            outputs, masks, pullback = self.propagate(self._pack_inputs(xs), None, training=False)
            if ys is not None:
                logs, d_outputs = self._losses(ys, self._flat_outputs(outputs), self._flat_outputs(masks), sws,
                                               True, self._step_weights().regularized, activity)
                pullback(self._pack_outputs(d_outputs))
                trace.loss = logs["loss"]
        return trace

    def predict_on_batch(self, x: Any) -> Any:
        """The model's outputs for one batch."""
        xs, _, _ = self._prepare_data(x)
        with ops.no_backward():
            return self.forward(self._pack_inputs(xs), training=False)[0]
