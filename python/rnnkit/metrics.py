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

from typing import Any, Callable, Dict, List, Optional, Tuple, Type, Union, cast

import numpy as np
from numpy.typing import ArrayLike

from . import losses as losses_module
from ._arguments import snake_case
from .losses import EPSILON, _align, _broadcast_weights, mean_absolute_error, mean_squared_error
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
    "RootMeanSquaredError",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "Precision",
    "Recall",
    "AUC",
    "F1Score",
    "FBetaScore",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "mean_squared_error",
    "mean_absolute_error",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
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
    return cast(np.ndarray, np.mean(y_true == predicted, axis=-1))


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
    return cast(np.ndarray, (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64))


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
    return cast(np.ndarray, (labels == np.argmax(y_pred, axis=-1)).astype(np.float64))


# ---------------------------------------------------------------------------------- classes
def _in_top_k(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """1 where the target class's score is among the ``k`` highest of its row (ties with the
    k-th score count as in, as Keras' ``ops.in_top_k``), else 0."""
    target_scores = np.take_along_axis(scores, targets[..., None], axis=-1)
    return cast(np.ndarray, (np.sum(scores > target_scores, axis=-1) < k).astype(np.float64))


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer of at least 1, got {k!r}")
    return int(k)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1 where the class of the one-hot ``y_true`` is among the ``k`` highest scores of ``y_pred``.

    Args:
        y_true: one-hot targets, shape ``(N, ..., C)``.
        y_pred: scores, the same shape.
        k: how many of the highest scores count.

    Returns:
        Values of shape ``(N, ...)``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_pred.ndim == 0:
        raise ValueError("top_k_categorical_accuracy: y_true and y_pred must have the same shape (..., C), got "
                         f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    return _in_top_k(y_pred, np.argmax(y_true, axis=-1), _check_k(k))


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """1 where the class id ``y_true`` is among the ``k`` highest scores of ``y_pred``.

    Args:
        y_true: class ids, shape ``(N, ...)`` (or ``(N, ..., 1)``).
        y_pred: scores, shape ``(N, ..., C)``.
        k: how many of the highest scores count.

    Returns:
        Values of shape ``(N, ...)``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1:] == (1,):
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError("sparse_top_k_categorical_accuracy: y_true must have y_pred's shape without its class axis, "
                         f"got y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    return _in_top_k(y_pred, y_true.astype(np.int64), _check_k(k))


class Metric:
    """Base class of the metrics, as ``keras.metrics.Metric``: subclasses implement
    ``update_state``, ``result`` and ``reset_state``.

    Args:
        dtype: dtype of the result, kept for Keras compatibility (results are Python floats,
            accumulated in float64).
        name: name of the metric; default the class name in snake case.
    """

    def __init__(self, dtype: Any = None, name: Optional[str] = None) -> None:
        self.name = name or snake_case(type(self).__name__)
        self._dtype = dtype or "float32"

    @property
    def dtype(self) -> Any:
        """The ``dtype`` given (default ``"float32"``), kept for Keras compatibility: it does not
        change how the metric computes."""
        return self._dtype

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Adds a batch to the accumulated state. The metrics take ``(y_true, y_pred,
        sample_weight=None)`` as in Keras; :class:`Mean` takes ``(values, sample_weight=None)``."""
        raise NotImplementedError

    def result(self) -> float:
        """The metric over every batch added since the last :meth:`reset_state`: a Python float
        (Keras returns a tensor), or a float64 array of per-threshold or per-class values
        (Precision and Recall given a list of thresholds, FBetaScore with ``average=None``)."""
        raise NotImplementedError

    def reset_state(self) -> None:
        """Clears the accumulated state: the next :meth:`result` covers only the batches added after."""
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        """``update_state(*args, **kwargs)``, then ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> Dict[str, Any]:
        """``name``, ``dtype`` and the metric's own arguments (``threshold``, ``k``, ...) as a
        JSON-ready dict."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Metric:
        """The metric ``cls(**config)``, from a dict of :meth:`get_config`, with an empty state."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """Weighted running mean: ``total += sum(w * v)``, ``count += sum(w)``, result ``total / count``
    (0 before any value).

    Args:
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, name: Optional[str] = "mean", dtype: Any = None) -> None:
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

    # Keras' metric signature over Mean's update_state(values, sample_weight).
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
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
    def from_config(cls, config: Dict[str, Any]) -> Metric:
        """The metric from a dict of :meth:`get_config`, whose ``fn`` names one of this module's
        metric functions (``"binary_accuracy"``, ...); ValueError for another name."""
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


class RootMeanSquaredError(Mean):
    """``sqrt`` of the running (weighted) mean of ``square(y_true - y_pred)`` over every entry.

    Args:
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    # Keras' metric signature over Mean's update_state(values, sample_weight).
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        """Adds a batch: ``y_true`` and ``y_pred`` of one shape ``(N, ...)``, ``sample_weight``
        ``(N,)`` or broadcastable to it."""
        y_true, y_pred = _align("root_mean_squared_error", np.asarray(y_true, np.float64),
                                np.asarray(y_pred, np.float64))
        super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self) -> float:
        return float(np.sqrt(super().result()))

    def get_config(self) -> Dict[str, Any]:
        return Metric.get_config(self)


class _TopKAccuracy(MeanMetricWrapper):
    """The running mean of ``fn(y_true, y_pred, k)``, a top-k accuracy."""

    fn: Callable[..., np.ndarray]

    def __init__(self, k: int, name: str, dtype: Any) -> None:
        super().__init__(type(self).fn, name=name, dtype=dtype, k=_check_k(k))
        self.k = k

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class TopKCategoricalAccuracy(_TopKAccuracy):
    """How often the class of the one-hot ``y_true`` is among the ``k`` highest scores.

    Args:
        k: how many of the highest scores count (5).
        name, dtype: as for :class:`Metric`.
    """

    fn = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(k, name, dtype)


class SparseTopKCategoricalAccuracy(_TopKAccuracy):
    """How often the class id ``y_true`` is among the ``k`` highest scores.

    Args:
        k: how many of the highest scores count (5).
        name, dtype: as for :class:`Metric`.
    """

    fn = staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(k, name, dtype)


def _divide_no_nan(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a / b, 0 where b is 0 (Keras' ``ops.divide_no_nan``)."""
    numerator, denominator = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.divide(numerator, denominator, out=np.zeros(np.broadcast(numerator, denominator).shape),
                     where=denominator != 0)


def _thresholds(owner: str, thresholds: Any, default: float) -> np.ndarray:
    values = np.atleast_1d(np.asarray(default if thresholds is None else thresholds, np.float64))
    if values.ndim != 1 or not values.size or not np.all(np.isfinite(values) | (values == -np.inf)):
        raise ValueError(f"{owner}: thresholds must be a number or a list of numbers, got {thresholds!r}")
    return values


def _entry_weights(sample_weight: Any, shape: Tuple[int, ...]) -> np.ndarray:
    """Every entry's weight: 1, or ``sample_weight`` broadcast to ``shape`` as Keras does."""
    if sample_weight is None:
        return np.ones(shape)
    return _broadcast_weights(sample_weight, shape, np.dtype(np.float64))


class _ConfusionCounts(Metric):
    """The weighted true and false positives and negatives per threshold (and per label),
    which the confusion-matrix metrics and AUC accumulate."""

    def _reset_counts(self, shape: Tuple[int, ...]) -> None:
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.true_negatives, self.false_negatives = np.zeros(shape), np.zeros(shape)

    def _add_counts(self, scores: np.ndarray, thresholds: np.ndarray, label: np.ndarray,
                    weights: np.ndarray) -> None:
        """Adds the counts of ``scores > threshold`` against ``label`` (bool) for each threshold,
        summed over the first axis of ``scores``, ``label`` and ``weights`` (one shape)."""
        predicted = scores[None] > thresholds.reshape((-1,) + (1,) * scores.ndim)
        positive, negative = weights * label, weights * ~label

        def total(hit: np.ndarray, weight: np.ndarray) -> np.ndarray:
            return cast(np.ndarray, np.einsum("tn...,n...->t...", hit, weight))

        self.true_positives += total(predicted, positive)
        self.false_positives += total(predicted, negative)
        self.false_negatives += total(~predicted, positive)
        self.true_negatives += total(~predicted, negative)


class _ConfusionMetric(_ConfusionCounts):
    """Counts, per threshold, the weighted true and false positives and negatives of
    ``y_pred > threshold`` against ``y_true != 0``, over every entry (Keras' confusion-matrix
    metrics): ``top_k`` keeps only each row's k highest scores, ``class_id`` one class."""

    def __init__(self, thresholds: Any, top_k: Optional[int], class_id: Optional[int], name: Optional[str],
                 dtype: Any) -> None:
        super().__init__(dtype=dtype, name=name)
        kind = type(self).__name__
        self.top_k = None if top_k is None else _check_k(top_k)
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer))
                                     or class_id < 0):
            raise ValueError(f"{kind}: class_id must be None or a class index of at least 0, got {class_id!r}")
        self.class_id = class_id
        self.init_thresholds = thresholds
        # With top_k, every kept score counts as positive, as in Keras.
        self.thresholds = _thresholds(kind, thresholds, 0.5 if top_k is None else -np.inf)
        self.reset_state()

    def reset_state(self) -> None:
        self._reset_counts(self.thresholds.shape)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds a batch: ``y_true`` 0/1 and ``y_pred`` scores of one shape ``(N, ...)``,
        ``sample_weight`` ``(N,)`` or broadcastable to it."""
        name = snake_case(type(self).__name__)
        y_true, y_pred = _align(name, np.asarray(y_true), np.asarray(y_pred, np.float64))
        if self.top_k is not None:  # exactly k per row; among equal scores the first ones, as Keras' top_k
            order = np.argsort(-y_pred, axis=-1, kind="stable")[..., :self.top_k]
            kept = np.zeros(y_pred.shape, bool)
            np.put_along_axis(kept, order, True, axis=-1)
            y_pred = np.where(kept, y_pred, -np.inf)
        weights = _entry_weights(sample_weight, y_true.shape)
        if self.class_id is not None:
            if self.class_id >= y_pred.shape[-1]:
                raise ValueError(f"{name}: class_id {self.class_id} is out of range for {y_pred.shape[-1]} classes")
            y_true, y_pred, weights = (a[..., self.class_id] for a in (y_true, y_pred, weights))
        self._add_counts(y_pred.reshape(-1), self.thresholds, (y_true != 0).reshape(-1), weights.reshape(-1))

    def _per_threshold(self, values: np.ndarray) -> Any:
        return float(values[0]) if self.init_thresholds is None or np.ndim(self.init_thresholds) == 0 else values

    def get_config(self) -> Dict[str, Any]:
        thresholds = self.init_thresholds
        if isinstance(thresholds, np.ndarray):
            thresholds = thresholds.tolist()
        return {**super().get_config(), "thresholds": thresholds, "top_k": self.top_k, "class_id": self.class_id}


class Precision(_ConfusionMetric):
    """``true_positives / (true_positives + false_positives)`` of ``y_pred > threshold``.

    Args:
        thresholds: one threshold (default 0.5, or every kept score with ``top_k``) or a list,
            then ``result()`` gives one precision per threshold.
        top_k: only each row's k highest scores can be positive.
        class_id: the class (last-axis index) to measure; default every entry.
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, thresholds: Any = None, top_k: Optional[int] = None, class_id: Optional[int] = None,
                 name: str = "precision", dtype: Any = None) -> None:
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self) -> Any:
        return self._per_threshold(_divide_no_nan(self.true_positives, self.true_positives + self.false_positives))


class Recall(_ConfusionMetric):
    """``true_positives / (true_positives + false_negatives)`` of ``y_pred > threshold``.

    Args:
        thresholds, top_k, class_id, name, dtype: as for :class:`Precision`.
    """

    def __init__(self, thresholds: Any = None, top_k: Optional[int] = None, class_id: Optional[int] = None,
                 name: str = "recall", dtype: Any = None) -> None:
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self) -> Any:
        return self._per_threshold(_divide_no_nan(self.true_positives, self.true_positives + self.false_negatives))


class AUC(_ConfusionCounts):
    """Area under the ROC or precision-recall curve, from counts at fixed thresholds (Keras' AUC).

    Predictions are counted at ``num_thresholds`` thresholds evenly spaced over [0, 1] (plus
    ``-epsilon`` and ``1 + epsilon`` at the ends); the curve through those operating points is
    integrated with the trapezoid rule (``"interpolation"``; for PR, Davis & Goadrich's
    interpolation of true and false positives), or with the lower (``"minoring"``) or upper
    (``"majoring"``) rectangles.

    Args:
        num_thresholds: at least 2 (200).
        curve: ``"ROC"`` or ``"PR"``.
        summation_method: ``"interpolation"``, ``"minoring"`` or ``"majoring"``.
        thresholds: thresholds in [0, 1] to use instead of the even ones.
        multi_label: for ``(N, L)`` multi-label data, one AUC per label, averaged (weighted by
            ``label_weights``); else every entry is one data point.
        num_labels: the number of labels (``multi_label``); read from the first batch otherwise.
        label_weights: ``(L,)`` non-negative weights of the labels' AUCs (``multi_label``), or of
            the entries of each label otherwise.
        from_logits: ``y_pred`` holds logits; they go through a sigmoid first.
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: Optional[str] = None, dtype: Any = None, thresholds: Any = None, multi_label: bool = False,
                 num_labels: Optional[int] = None, label_weights: Any = None, from_logits: bool = False) -> None:
        super().__init__(dtype=dtype, name=name or "auc")
        if str(curve).upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError("AUC: summation_method must be 'interpolation', 'minoring' or 'majoring', "
                             f"got {summation_method!r}")
        self.curve, self.summation_method = str(curve).upper(), summation_method
        self._init_thresholds = thresholds
        if thresholds is not None:
            inner = sorted(float(t) for t in np.atleast_1d(thresholds))
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or \
                    num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1, got {num_thresholds!r}")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = len(inner) + 2
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        if multi_label and num_labels is not None and (isinstance(num_labels, bool) or num_labels < 1):
            raise ValueError(f"AUC: num_labels must be a positive integer, got {num_labels!r}")
        if num_labels is not None and not multi_label:
            raise ValueError("AUC: num_labels is needed only when multi_label is True")
        self.multi_label, self.num_labels = bool(multi_label), num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, np.float64)
        if self.label_weights is not None and (self.label_weights.ndim != 1 or np.any(self.label_weights < 0)):
            raise ValueError("AUC: label_weights must be a 1-D list of non-negative weights, one per label")
        self.from_logits = bool(from_logits)
        self.reset_state()

    @property
    def thresholds(self) -> List[float]:
        """The thresholds the predictions are counted at, increasing: ``-epsilon``, the inner
        ones (evenly spaced, or those given), then ``1 + epsilon``."""
        return cast(List[float], self._thresholds.tolist())

    def reset_state(self) -> None:
        labels = self.num_labels if self.multi_label else None
        self._reset_counts((self.num_thresholds,) + ((labels,) if labels else ()))
        self._counted = False

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds a batch: ``y_true`` 0/1 and ``y_pred`` of one shape (``(N, L)`` with
        ``multi_label``), ``sample_weight`` ``(N,)`` or broadcastable to it."""
        y_true, y_pred = _align("auc", np.asarray(y_true), np.asarray(y_pred, np.float64))
        if self.from_logits:
            y_pred = 0.5 * (np.tanh(0.5 * y_pred) + 1)
        weights = _entry_weights(sample_weight, y_true.shape)
        if self.label_weights is not None and not self.multi_label:
            weights = weights * self.label_weights
        label = y_true != 0
        if self.multi_label:
            if y_pred.ndim != 2:
                raise ValueError(f"auc: y_pred must have rank 2 (samples, labels) with multi_label=True, got shape "
                                 f"{y_pred.shape}")
            if not self._counted and self.num_labels is None:
                self.num_labels = y_pred.shape[1]
                self.reset_state()
            if y_pred.shape[1] != self.num_labels:
                raise ValueError(f"auc: expected {self.num_labels} labels, got {y_pred.shape[1]}")
            self._add_counts(y_pred, self._thresholds, label, weights)  # summed over the samples, per label
        else:
            self._add_counts(y_pred.reshape(-1), self._thresholds, label.reshape(-1), weights.reshape(-1))
        self._counted = True

    def _average(self, per_threshold_terms: np.ndarray) -> float:
        if not self.multi_label:
            return float(np.sum(per_threshold_terms))
        by_label = np.sum(per_threshold_terms, axis=0)
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(_divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def _interpolated_pr_terms(self) -> np.ndarray:
        """Davis & Goadrich: TP and P = TP + FP vary linearly between thresholds, so the
        precision TP / P integrates in closed form over each interval."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        slope = _divide_no_nan(dtp, np.maximum(p[:-1] - p[1:], 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return _divide_no_nan(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))

    def result(self) -> float:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._average(self._interpolated_pr_terms())
        recall = _divide_no_nan(self.true_positives, self.true_positives + self.false_negatives)
        if self.curve == "ROC":
            x, y = _divide_no_nan(self.false_positives, self.false_positives + self.true_negatives), recall
        else:
            x, y = recall, _divide_no_nan(self.true_positives, self.true_positives + self.false_positives)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def get_config(self) -> Dict[str, Any]:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels if self.multi_label else None,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self.from_logits}
        if self._init_thresholds is not None:
            config["thresholds"] = self.thresholds[1:-1]
        return config


class FBetaScore(Metric):
    """The F-beta score ``(1 + beta^2) * precision * recall / (beta^2 * precision + recall)``
    per class of ``(N, C)`` data, as Keras computes it (with its 1e-7 in each denominator).

    Args:
        average: ``None`` (one score per class), ``"micro"`` (from the counts of every class
            together), ``"macro"`` (the mean of the classes' scores) or ``"weighted"`` (their
            mean weighted by each class's number of true instances).
        beta: the weight of recall, above 0.
        threshold: scores above it are positive; ``None``: each row's highest score.
        name, dtype: as for :class:`Metric`.
    """

    def __init__(self, average: Optional[str] = None, beta: float = 1.0, threshold: Optional[float] = None,
                 name: str = "fbeta_score", dtype: Any = None) -> None:
        super().__init__(dtype=dtype, name=name)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"{type(self).__name__}: average must be None, 'micro', 'macro' or 'weighted', "
                             f"got {average!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ValueError(f"{type(self).__name__}: beta must be a number above 0, got {beta!r}")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0 < threshold <= 1):
            raise ValueError(f"{type(self).__name__}: threshold must be None or in (0, 1], got {threshold!r}")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        self.reset_state()

    def reset_state(self) -> None:
        self.true_positives = self.false_positives = self.false_negatives = self.intermediate_weights = None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds a batch: ``y_true`` 0/1 and ``y_pred`` scores, both ``(N, C)``; ``sample_weight`` ``(N,)``."""
        y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
        if y_true.ndim != 2 or y_pred.shape != y_true.shape:
            raise ValueError(f"{self.name}: expects y_true and y_pred of one shape (batch, classes), got "
                             f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
        if self.threshold is None:  # each row's highest score (an all-zero row stays all zero)
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(np.float64)
        weights = np.ones((len(y_true), 1)) if sample_weight is None else \
            np.asarray(sample_weight, np.float64).reshape(-1, 1)
        axis = None if self.average == "micro" else 0
        counts = [np.sum(values * weights, axis=axis) for values in
                  (predicted * y_true, predicted * (1 - y_true), (1 - predicted) * y_true, y_true)]
        if self.true_positives is None:
            self.true_positives, self.false_positives, self.false_negatives, self.intermediate_weights = counts
        else:
            self.true_positives = self.true_positives + counts[0]
            self.false_positives = self.false_positives + counts[1]
            self.false_negatives = self.false_negatives + counts[2]
            self.intermediate_weights = self.intermediate_weights + counts[3]

    def result(self) -> Any:
        if self.true_positives is None:
            return 0.0
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + EPSILON)
        recall = tp / (tp + self.false_negatives + EPSILON)
        beta2 = self.beta ** 2
        score = (1 + beta2) * precision * recall / (beta2 * precision + recall + EPSILON)
        if self.average == "weighted":
            weights = self.intermediate_weights / (np.sum(self.intermediate_weights) + EPSILON)
            return float(np.sum(score * weights))
        if self.average is not None:
            return float(np.mean(score))
        return score

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F-1 score ``2 * precision * recall / (precision + recall)``: :class:`FBetaScore`
    with ``beta=1``.

    Args:
        average, threshold, name, dtype: as for :class:`FBetaScore`.
    """

    def __init__(self, average: Optional[str] = None, threshold: Optional[float] = None, name: str = "f1_score",
                 dtype: Any = None) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config


# ------------------------------------------------------------------------------ get & co
_CLASSES: Dict[str, Type[Metric]] = {cls.__name__: cls for cls in (
    Mean, MeanMetricWrapper, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, Precision, Recall, AUC, FBetaScore, F1Score)}

_FUNCTIONS: Dict[str, Callable[..., Any]] = {fn.__name__: fn for fn in (
    binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, mean_squared_error,
    mean_absolute_error, top_k_categorical_accuracy, sparse_top_k_categorical_accuracy)}

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
    # Keras 3 also takes every class by its snake_case name: "precision", "auc", "f1_score", ...
    **{snake_case(cls.__name__): cls for cls in (RootMeanSquaredError, TopKCategoricalAccuracy,
                                                  SparseTopKCategoricalAccuracy, Precision, Recall, AUC,
                                                  FBetaScore, F1Score)},
    **{cls.__name__: cls for cls in (RootMeanSquaredError, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
                                     Precision, Recall, AUC, FBetaScore, F1Score)},
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


def deserialize(config: Union[str, Dict[str, Any], None],
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
    classes: Dict[str, Type[Metric]] = {**_CLASSES, **{k: v for k, v in custom.items() if isinstance(v, type)}}
    cls, options = class_and_config(config, classes, "metric", custom_objects_allowed=True)
    if isinstance(options.get("fn"), str) and options["fn"] in custom:
        options["fn"] = custom[options["fn"]]
    return cls.from_config(options)
