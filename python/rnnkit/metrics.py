"""Stateful metrics, as ``keras.metrics``: ``update_state`` per batch, ``result()``, ``reset_state()``.

Per-sample values reduce the last axis as Keras does (accuracy on ``(N, T, C)`` gives ``(N, T)``
values, each of which counts), and :class:`Mean` keeps the weighted running mean
``sum(w * v) / sum(w)`` over every batch seen::

    m = rnnkit.metrics.SparseCategoricalAccuracy()
    m.update_state(labels, probabilities)
    m.result()

``get("accuracy", loss=..., y_true=..., y_pred=...)`` picks the accuracy the way ``compile``
does.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Type, Union

import numpy as np

from . import losses as losses_module
from .losses import _align, _broadcast_weights, _snake_case, mean_absolute_error, mean_squared_error
from .serialization import class_and_config, serialize_object

__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "mean_squared_error",
    "mean_absolute_error",
    "get",
    "serialize",
    "deserialize",
]


# ------------------------------------------------------------------------ metric functions
def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """Per-sample share of ``(y_pred > threshold) == y_true`` over the last axis.

    Args:
        y_true: 0/1 targets, shape ``(N, ..., U)`` (``(N,)`` with ``y_pred`` ``(N, 1)`` too).
        y_pred: probabilities, the same shape.
        threshold: predictions above it count as 1.

    Returns:
        Values in [0, 1] of shape ``(N, ...)``.
    """
    y_true, y_pred = _align("binary_accuracy", np.asarray(y_true), np.asarray(y_pred))
    predicted = (y_pred > threshold).astype(y_true.dtype)
    return np.mean(y_true == predicted, axis=-1)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1 where ``argmax(y_true) == argmax(y_pred)`` over the last axis, else 0.

    Args:
        y_true: one-hot targets, shape ``(N, ..., C)``.
        y_pred: scores, the same shape.

    Returns:
        Values of shape ``(N, ...)``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_pred.ndim == 0:
        raise ValueError("categorical_accuracy: y_true and y_pred must have the same shape (..., C), got "
                         f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1 where the class id ``y_true`` equals ``argmax(y_pred)`` over the last axis, else 0.

    Args:
        y_true: class ids, shape ``(N, ...)`` or ``(N, ..., 1)``.
        y_pred: scores, shape ``(N, ..., C)``.

    Returns:
        Values of shape ``(N, ...)``.
    """
    labels, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if labels.ndim == y_pred.ndim and labels.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if y_pred.ndim == 0 or labels.shape != y_pred.shape[:-1]:
        raise ValueError("sparse_categorical_accuracy: y_true must hold one class id per prediction, got "
                         f"y_true.shape={np.shape(y_true)} and y_pred.shape={y_pred.shape}")
    return (labels == np.argmax(y_pred, axis=-1)).astype(np.float64)


# ---------------------------------------------------------------------------------- classes
class Metric:
    """Base class of the metrics, as ``keras.metrics.Metric``: subclasses implement
    ``update_state``, ``result`` and ``reset_state``.

    Args:
        dtype: dtype of the result, kept for Keras compatibility (results are Python floats,
            accumulated in float64).
        name: name of the metric; default the class name in snake case.
    """

    def __init__(self, dtype: Any = None, name: Optional[str] = None) -> None:
        self.name = name or _snake_case(type(self).__name__)
        self._dtype = dtype or "float32"

    @property
    def dtype(self) -> Any:
        return self._dtype

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        """``update_state(*args, **kwargs)``, then ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Metric":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """Weighted running mean: ``total += sum(w * v)``, ``count += sum(w)``, result ``total / count``
    (0 before any value).

    Args:
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(dtype=dtype, name=name)
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Adds values.

        Args:
            values: array of any shape ``(N, ...)``; every entry counts.
            sample_weight: weights of shape ``(N,)`` (applied to every entry of a sample) or of
                ``values``' shape.
        """
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total += float(np.add.reduce(values, axis=None))
            self.count += float(values.size)
        else:
            weights = _broadcast_weights(sample_weight, values.shape, np.dtype(np.float64))
            self.total += float(np.sum(values * weights))
            self.count += float(np.sum(weights))

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)``, a function giving per-sample values.

    Args:
        fn: ``fn(y_true, y_pred, **kwargs) -> values`` of shape ``(N, ...)``.
        name, dtype: as for :class:`Metric`.
        **kwargs: passed on to ``fn``.
    """

    def __init__(self, fn: Callable[..., Any], name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds a batch.

        Args:
            y_true: targets, shape ``(N, ...)``.
            y_pred: predictions, shape ``(N, ...)``.
            sample_weight: ``(N,)`` or the per-sample values' shape.
        """
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight=sample_weight)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "fn": getattr(self._fn, "__name__", repr(self._fn)), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Metric":
        config = dict(config)
        if isinstance(config.get("fn"), str):
            name = config["fn"]
            if name not in _FUNCTIONS:
                raise ValueError(f"unknown metric function {name!r}; expected one of {sorted(_FUNCTIONS)} "
                                 "(pass others to deserialize through custom_objects)")
            config["fn"] = _FUNCTIONS[name]
        return cls(**config)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``(y_pred > threshold)`` equals the 0/1 ``y_true``.

    Args:
        name, dtype: as for :class:`Metric`.
        threshold: in (0, 1); predictions above it count as 1.
    """

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5) -> None:
        if threshold is None or not 0 < threshold < 1:
            raise ValueError("Invalid value for argument `threshold`. Expected a value in interval (0, 1). "
                             f"Received: threshold={threshold}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` equals ``argmax(y_true)`` for one-hot ``y_true``.

    Args:
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)

    def get_config(self) -> Dict[str, Any]:
        return Metric.get_config(self)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` equals the integer class id ``y_true``.

    Args:
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def get_config(self) -> Dict[str, Any]:
        return Metric.get_config(self)


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of ``mean(square(y_true - y_pred), axis=-1)``.

    Args:
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_error, name=name, dtype=dtype)

    def get_config(self) -> Dict[str, Any]:
        return Metric.get_config(self)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of ``mean(abs(y_true - y_pred), axis=-1)``.

    Args:
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, name=name, dtype=dtype)

    def get_config(self) -> Dict[str, Any]:
        return Metric.get_config(self)


# ------------------------------------------------------------------------------ get & co
_CLASSES: Dict[str, Type[Metric]] = {cls.__name__: cls for cls in (
    Mean, MeanMetricWrapper, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    MeanSquaredError, MeanAbsoluteError)}

_FUNCTIONS: Dict[str, Callable[..., Any]] = {fn.__name__: fn for fn in (
    binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, mean_squared_error,
    mean_absolute_error)}

# The names compile accepts besides 'accuracy'/'acc': Keras' function and class names and aliases.
_NAMES: Dict[str, Type[Metric]] = {
    "binary_accuracy": BinaryAccuracy, "BinaryAccuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy, "CategoricalAccuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "SparseCategoricalAccuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "MeanSquaredError": MeanSquaredError,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "MeanAbsoluteError": MeanAbsoluteError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
}

_ACCURACY_FOR_LOSS = (
    (losses_module.BinaryCrossentropy, BinaryAccuracy),
    (losses_module.CategoricalCrossentropy, CategoricalAccuracy),
    (losses_module.SparseCategoricalCrossentropy, SparseCategoricalAccuracy),
)


def _accuracy_class(loss: Any, y_true: Any, y_pred: Any) -> Type[Metric]:
    """The accuracy for 'accuracy': from a crossentropy loss, else from the shapes as Keras 3's
    compile does (y_pred's last axis 1: binary; y_true of lower rank, or last axis 1 against
    y_pred's > 1: sparse categorical; else categorical)."""
    if loss is not None:
        try:
            loss_obj = losses_module.get(loss)
        except (TypeError, ValueError):
            loss_obj = None
        for loss_cls, metric_cls in _ACCURACY_FOR_LOSS:
            if isinstance(loss_obj, loss_cls):
                return metric_cls
    if y_true is None or y_pred is None:
        raise ValueError("'accuracy' is resolved from the loss (binary, categorical or sparse "
                         "categorical crossentropy) or from the shapes of y_true and y_pred; pass "
                         "loss=, or y_true= and y_pred=")
    true_shape, pred_shape = np.shape(y_true), np.shape(y_pred)
    if not true_shape or not pred_shape:
        raise ValueError(f"'accuracy' needs y_true and y_pred with a batch axis, got shapes {true_shape} "
                         f"and {pred_shape}")
    if pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(true_shape) < len(pred_shape) or (true_shape[-1] == 1 and pred_shape[-1] > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier: Any, loss: Any = None, y_true: Any = None, y_pred: Any = None) -> Optional[Metric]:
    """A :class:`Metric` from a name, as ``compile(metrics=[...])`` resolves it.

    Args:
        identifier: ``'accuracy'``/``'acc'`` (binary, categorical or sparse categorical accuracy
            from ``loss``, else from the shapes), a metric name (``'mae'``, ``'mse'``,
            ``'binary_accuracy'``, ...; the metric is named by the string given), a config
            dict, a Metric class or instance, or a function ``fn(y_true, y_pred)`` giving
            per-sample values.
        loss: the compiled loss (name, ``rnnkit.losses`` object or function), for 'accuracy'.
        y_true, y_pred: a batch of targets and of predictions (arrays), for 'accuracy' when
            the loss does not decide.

    Returns:
        The metric; ValueError for an unknown name, listing the valid ones.
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _accuracy_class(loss, y_true, y_pred)(name=identifier)
        cls = _NAMES.get(identifier)
        if cls is None:
            valid = ["accuracy", "acc"] + sorted(_NAMES, key=str.lower)
            raise ValueError(f"unknown metric {identifier!r}; expected one of {', '.join(map(repr, valid))}, "
                             "or an rnnkit.metrics.Metric")
        return cls(name=identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        name = getattr(identifier, "__name__", None) or getattr(identifier, "name", None)
        return MeanMetricWrapper(identifier, name=name)
    raise ValueError(f"could not interpret metric identifier {identifier!r}")


def serialize(metric: Optional[Metric]) -> Optional[Dict[str, Any]]:
    """``{'class_name': ..., 'config': metric.get_config()}``."""
    if metric is None:
        return None
    if not isinstance(metric, Metric):
        raise TypeError(f"serialize expects an rnnkit.metrics.Metric, got {type(metric).__name__}")
    return serialize_object(metric)


def deserialize(config: Union[None, str, Dict[str, Any]],
                custom_objects: Optional[Dict[str, Any]] = None) -> Optional[Metric]:
    """The metric described by :func:`serialize`'s dict (or a name, as :func:`get`).

    Args:
        config: ``{'class_name': ..., 'config': {...}}``.
        custom_objects: further classes, and functions of MeanMetricWrapper, by name.
    """
    if config is None:
        return None
    if isinstance(config, str):
        return get(config)
    custom = custom_objects or {}
    classes = {**_CLASSES, **{k: v for k, v in custom.items() if isinstance(v, type)}}
    cls, options = class_and_config(config, classes, "metric", custom_objects_allowed=True)
    if isinstance(options.get("fn"), str) and options["fn"] in custom:
        options["fn"] = custom[options["fn"]]
    return cls.from_config(options)
