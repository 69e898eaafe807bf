"""Losses, as ``keras.losses``: each gives its value and its gradient with respect to ``y_pred``.

rnnkit has no autograd, so every :class:`Loss` has ``value_and_grad(y_true, y_pred,
sample_weight=None) -> (loss, dloss_dy_pred)`` beside Keras' ``loss(y_true, y_pred,
sample_weight=None)``. The per-sample loss reduces the last axis as Keras does (``y`` of shape
``(N, T, U)`` gives per-sample losses ``(N, T)``), then the reduction applies::

    loss = rnnkit.losses.BinaryCrossentropy(from_logits=True)
    value, dy = loss.value_and_grad(y, logits)      # dy has the shape and dtype of logits

The function forms (``mean_squared_error(y_true, y_pred)``, ...) return per-sample losses.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Type, Union, cast

import numpy as np

from ._arguments import snake_case
from .serialization import class_and_config, serialize_object

__all__ = [
    "Loss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "get",
    "serialize",
    "deserialize",
    "EPSILON",
]

#: Keras' ``backend.epsilon()``: probabilities are clipped to ``[EPSILON, 1 - EPSILON]``.
EPSILON = 1e-7

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None, "none")

# backward(upstream of the per-sample losses' shape) -> dLoss/dy_pred
Backward = Callable[[np.ndarray], np.ndarray]


# ---------------------------------------------------------------------------------- helpers
def _float_dtype(x: np.ndarray, dtype: Any = None) -> np.dtype:
    """The compute dtype: ``dtype`` if given, else x's float dtype, else float32 (Keras' floatx)."""
    if dtype is not None:
        return cast(np.dtype, np.dtype(dtype))
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)


def _mean_last(values: np.ndarray) -> np.ndarray:
    """``np.mean(values, axis=-1)`` for float arrays, without np.mean's Python layers (the
    losses run once per training step on small arrays); over one entry, that entry."""
    if values.shape[-1] == 1:
        return values.reshape(values.shape[:-1])
    return cast(np.ndarray, np.add.reduce(values, axis=-1) / values.shape[-1])


def _align(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Keras' ``squeeze_or_expand_to_same_rank(y_true, y_pred)``, then equal shapes or ValueError."""
    if y_true is None:
        raise ValueError(f"{name} needs targets: y_true (y) is None")
    if y_pred.ndim == 0:
        raise ValueError(f"{name}: y_pred must have at least one axis, got a scalar")
    t, p = y_true, y_pred
    if t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        if p.ndim == 1:
            p = p[:, None]
        else:
            t = t[..., 0]
    elif p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        if t.ndim == 1:
            t = t[:, None]
        else:
            p = p[..., 0]
    if t.shape != p.shape:
        raise ValueError(f"{name}: y_true and y_pred must have the same shape, got y_true.shape="
                         f"{y_true.shape} and y_pred.shape={y_pred.shape}")
    return t, p


def _clip_bounds(dtype: np.dtype) -> Tuple[Any, Any]:
    eps = np.asarray(EPSILON, dtype=dtype)
    return eps, np.asarray(1.0, dtype=dtype) - eps


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return cast(np.ndarray, np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False))


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = x - np.max(x, axis=axis, keepdims=True)
    return cast(np.ndarray, z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True)))


def _broadcast_weights(sample_weight: Any, shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """sample_weight broadcast to the per-sample losses as Keras does: ``(N,)`` applies to
    every step of ``(N, T)``; trailing axes of size 1 are squeezed."""
    w = np.asarray(sample_weight, dtype=dtype)
    original = w.shape
    if w.ndim > len(shape) and all(d == 1 for d in w.shape[len(shape):]):
        w = w.reshape(w.shape[:len(shape)])
    elif 0 < w.ndim < len(shape):
        w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {original} does not match the per-sample losses "
                         f"of shape {shape}") from None


def _reduce(values: np.ndarray, sample_weight: Any, mask: Optional[np.ndarray],
            reduction: Optional[str]) -> Tuple[Union[float, np.ndarray], Optional[np.ndarray]]:
    """Keras' ``reduce_weighted_values``; also returns dLoss/dvalues (None for no reduction)."""
    dtype = values.dtype
    w = None if sample_weight is None else _broadcast_weights(sample_weight, values.shape, dtype)
    if mask is not None:
        m = mask.astype(dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            # Masked entries get weight 0, the others total/valid, so the mean is over valid ones.
            valid = m.sum()
            m = m * (m.size / valid if valid else 0.0)
        w = m if w is None else w * m
    weighted = values if w is None else values * w
    if reduction is None or reduction == "none":
        return weighted, None
    if reduction == "sum":
        divisor = 1.0
    elif reduction == "mean_with_sample_weight" and w is not None:
        divisor = float(np.add.reduce(w, axis=None))
    else:
        divisor = float(values.size)
    scale = 1.0 / divisor if divisor else 0.0
    coefficient = np.full(values.shape, scale, dtype=dtype) if w is None else (w * scale).astype(dtype)
    return float(np.add.reduce(weighted, axis=None)) * scale, coefficient


# ------------------------------------------------------------ per-sample losses and backward
def _mse(y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[np.ndarray, Backward]:
    t, p = _align("mean_squared_error", y_true, y_pred)
    diff = p - t
    scale = 2.0 / diff.shape[-1]

    def backward(g: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, (scale * diff * g[..., None]).reshape(y_pred.shape))

    return _mean_last(np.square(diff)), backward


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[np.ndarray, Backward]:
    t, p = _align("mean_absolute_error", y_true, y_pred)
    diff = p - t
    scale = 1.0 / diff.shape[-1]

    def backward(g: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, (scale * np.sign(diff) * g[..., None]).reshape(y_pred.shape))

    return _mean_last(np.abs(diff)), backward


def _huber(y_true: np.ndarray, y_pred: np.ndarray, delta: float = 1.0) -> Tuple[np.ndarray, Backward]:
    t, p = _align("huber", y_true, y_pred)
    threshold = np.asarray(delta, dtype=p.dtype)
    diff = p - t
    small = np.abs(diff) <= threshold
    elementwise = np.where(small, 0.5 * np.square(diff), threshold * np.abs(diff) - 0.5 * np.square(threshold))
    derivative = np.where(small, diff, threshold * np.sign(diff))
    scale = 1.0 / diff.shape[-1]

    def backward(g: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, (scale * derivative * g[..., None]).reshape(y_pred.shape))

    return _mean_last(elementwise).astype(p.dtype, copy=False), backward


def _binary_crossentropy(y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = False,
                         label_smoothing: float = 0.0, axis: int = -1) -> Tuple[np.ndarray, Backward]:
    t, p = _align("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        # -t log(sigmoid(x)) - (1 - t) log(sigmoid(-x)) = max(x, 0) - t x + log(1 + exp(-|x|))
        elementwise = np.maximum(p, 0) - t * p + np.log1p(np.exp(-np.abs(p)))
        derivative = _sigmoid(p) - t
    else:
        lo, hi = _clip_bounds(p.dtype)
        clipped = np.clip(p, lo, hi)
        elementwise = -(t * np.log(clipped) + (1.0 - t) * np.log1p(-clipped))
        inside = (p >= lo) & (p <= hi)
        derivative = np.where(inside, (clipped - t) / (clipped * (1.0 - clipped)), 0.0).astype(p.dtype)
    scale = 1.0 / p.shape[axis]

    def backward(g: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, (scale * derivative * np.expand_dims(g, axis)).reshape(y_pred.shape))

    return np.mean(elementwise, axis=axis), backward


def _categorical_crossentropy(y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = False,
                              label_smoothing: float = 0.0, axis: int = -1) -> Tuple[np.ndarray, Backward]:
    t, p = _align("categorical_crossentropy", y_true, y_pred)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / t.shape[axis]
    if from_logits:
        log_probs = _log_softmax(p, axis)
        values = -np.sum(t * log_probs, axis=axis)
        derivative = np.exp(log_probs) * np.sum(t, axis=axis, keepdims=True) - t
    else:
        # Keras normalises y_pred to sum 1 over the classes, then clips.
        total = np.sum(p, axis=axis, keepdims=True)
        q = p / total
        lo, hi = _clip_bounds(p.dtype)
        clipped = np.clip(q, lo, hi)
        values = -np.sum(t * np.log(clipped), axis=axis)
        a = np.where((q >= lo) & (q <= hi), -t / clipped, 0.0).astype(p.dtype)  # dvalues/dq
        derivative = (a - np.sum(a * q, axis=axis, keepdims=True)) / total  # through q = p / sum(p)

    def backward(g: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, (derivative * np.expand_dims(g, axis)).reshape(y_pred.shape))

    return values, backward


def _sparse_labels(y_true: np.ndarray, y_pred: np.ndarray,
                   ignore_class: Optional[int]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Integer class ids of shape ``y_pred.shape[:-1]`` and the mask of non-ignored entries;
    ValueError for a bad shape or a label outside ``[0, C)``, before any computation."""
    if y_true is None:
        raise ValueError("sparse_categorical_crossentropy needs targets: y_true (y) is None")
    if y_pred.ndim == 0:
        raise ValueError("sparse_categorical_crossentropy: y_pred needs a class axis, got a scalar")
    labels = y_true
    if labels.ndim == y_pred.ndim and labels.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError("sparse_categorical_crossentropy: y_true must hold one class id per "
                         f"prediction, shape {y_pred.shape[:-1]} or {y_pred.shape[:-1] + (1,)}; got "
                         f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    if labels.dtype.kind not in "iub" and labels.dtype.kind != "f":
        raise ValueError(f"sparse_categorical_crossentropy: y_true must hold integer class ids, got "
                         f"dtype {labels.dtype}")
    valid = None if ignore_class is None else labels != ignore_class
    checked = labels if valid is None else labels[valid]
    classes = y_pred.shape[-1]
    if labels.dtype.kind == "f":
        fractional = ~np.isfinite(checked) | (np.floor(checked) != checked)
        if fractional.any():
            raise ValueError("sparse_categorical_crossentropy: y_true must hold integer class ids, got "
                             f"{checked[fractional].flat[0]!r}")
    bad = (checked < 0) | (checked >= classes)
    if bad.any():
        value = checked[bad].flat[0]
        value = int(value) if labels.dtype.kind != "f" or float(value).is_integer() else value
        raise ValueError(f"sparse_categorical_crossentropy: label {value} is out of range; labels "
                         f"must be class ids in [0, {classes}) for y_pred with {classes} classes")
    ids = labels if valid is None else np.where(valid, labels, 0)
    return ids.astype(np.intp), valid


def _sparse_categorical_crossentropy(y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = False,
                                     ignore_class: Optional[int] = None,
                                     axis: int = -1) -> Tuple[np.ndarray, Backward, Optional[np.ndarray]]:
    if axis not in (-1, y_pred.ndim - 1):
        raise ValueError(f"sparse_categorical_crossentropy: only the last axis can be the class axis, "
                         f"got axis={axis}")
    ids, valid = _sparse_labels(y_true, y_pred, ignore_class)
    p = y_pred
    if valid is not None and not from_logits:
        p = np.where(valid[..., None], p, np.ones((), dtype=p.dtype))  # ignored rows: no 0/0
    one_hot = np.arange(p.shape[-1]) == ids[..., None]
    if from_logits:
        log_probs = _log_softmax(p, -1)
        values = -np.take_along_axis(log_probs, ids[..., None], axis=-1)[..., 0]
        derivative = np.exp(log_probs) - one_hot
    else:
        total = np.sum(p, axis=-1, keepdims=True)
        q = p / total
        q_label = np.take_along_axis(q, ids[..., None], axis=-1)[..., 0]
        lo, hi = _clip_bounds(p.dtype)
        clipped = np.clip(q_label, lo, hi)
        values = -np.log(clipped)
        a = np.where((q_label >= lo) & (q_label <= hi), -1.0 / clipped, 0.0).astype(p.dtype)
        derivative = (one_hot * a[..., None] - (a * q_label)[..., None]) / total
    if valid is not None:
        values = np.where(valid, values, 0.0).astype(p.dtype)
        derivative = derivative * valid[..., None]
    derivative = derivative.astype(p.dtype, copy=False)

    def backward(g: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, derivative * g[..., None])

    return values, backward, valid


# ------------------------------------------------------------------------- function forms
def _function_inputs(y_true: Any, y_pred: Any) -> Tuple[np.ndarray, np.ndarray]:
    y_pred = np.asarray(y_pred)
    y_pred = y_pred.astype(_float_dtype(y_pred), copy=False)
    return np.asarray(y_true, dtype=y_pred.dtype), y_pred


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per-sample ``mean(square(y_true - y_pred), axis=-1)``.

    Args:
        y_true: targets, shape ``(N, ..., U)``.
        y_pred: predictions, the same shape.

    Returns:
        Losses of shape ``(N, ...)``.
    """
    return _mse(*_function_inputs(y_true, y_pred))[0]


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per-sample ``mean(abs(y_true - y_pred), axis=-1)``; shapes as :func:`mean_squared_error`."""
    return _mae(*_function_inputs(y_true, y_pred))[0]


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> np.ndarray:
    """Per-sample mean over the last axis of ``0.5 e^2`` where ``|e| <= delta``, else
    ``delta |e| - 0.5 delta^2``, with ``e = y_pred - y_true``; shapes as :func:`mean_squared_error`."""
    return _huber(*_function_inputs(y_true, y_pred), delta=delta)[0]


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> np.ndarray:
    """Per-sample binary crossentropy, the mean over ``axis``.

    Args:
        y_true: 0/1 targets, shape ``(N, ..., U)``.
        y_pred: probabilities (clipped to ``[1e-7, 1 - 1e-7]``) or, with ``from_logits``, logits.
        label_smoothing: targets become ``t (1 - s) + 0.5 s``.
        axis: the axis averaged.

    Returns:
        Losses with ``axis`` removed.
    """
    return _binary_crossentropy(*_function_inputs(y_true, y_pred), from_logits, label_smoothing, axis)[0]


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> np.ndarray:
    """Per-sample categorical crossentropy, ``-sum(y_true * log(probabilities), axis)``.

    Args:
        y_true: one-hot targets, shape ``(N, ..., C)``.
        y_pred: probabilities (normalised to sum 1 over ``axis``, then clipped to
            ``[1e-7, 1 - 1e-7]``) or, with ``from_logits``, logits; the same shape.
        label_smoothing: targets become ``t (1 - s) + s / C``.
        axis: the class axis.

    Returns:
        Losses with ``axis`` removed.
    """
    return _categorical_crossentropy(*_function_inputs(y_true, y_pred), from_logits, label_smoothing, axis)[0]


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: Optional[int] = None, axis: int = -1) -> np.ndarray:
    """Per-sample crossentropy with integer class ids.

    Args:
        y_true: class ids in ``[0, C)``, shape ``(N, ...)`` or ``(N, ..., 1)``.
        y_pred: probabilities or, with ``from_logits``, logits, shape ``(N, ..., C)``.
        ignore_class: a class id whose entries get loss 0.
        axis: the class axis; only the last is supported, as in Keras.

    Returns:
        Losses of shape ``(N, ...)``.
    """
    y_pred = np.asarray(y_pred)
    y_pred = y_pred.astype(_float_dtype(y_pred), copy=False)
    return _sparse_categorical_crossentropy(np.asarray(y_true), y_pred, from_logits, ignore_class, axis)[0]


# ---------------------------------------------------------------------------------- classes
class Loss:
    """Base class of the losses, as ``keras.losses.Loss``.

    Subclasses implement ``call_and_backward(y_true, y_pred) -> (per_sample_losses,
    backward)``, where ``backward(upstream)`` maps dLoss/dper_sample_losses to dLoss/dy_pred;
    a subclass implementing only Keras' ``call`` can be evaluated but has no ``value_and_grad``.

    Args:
        name: name of the loss.
        reduction: ``"sum_over_batch_size"`` (sum of the weighted per-sample losses divided by
            their number), ``"mean"`` (the same), ``"sum"``, ``"mean_with_sample_weight"``
            (divided by the sum of the weights) or ``None``/``"none"`` (no reduction).
        dtype: dtype of the computation; default that of ``y_pred`` (float32 for integers).
    """

    def __init__(self, name: Optional[str] = None, reduction: Optional[str] = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of {list(REDUCTIONS)}. "
                             f"Received: reduction={reduction!r}")
        self.name = name or snake_case(type(self).__name__)
        self.reduction = reduction
        self._dtype = dtype

    @property
    def dtype(self) -> Any:
        """The ``dtype`` given to the constructor, or ``None`` (where Keras gives floatx): the
        loss then computes in ``y_pred``'s float dtype, float32 for integer predictions."""
        return self._dtype

    # Subclass hooks ---------------------------------------------------------------------
    def call(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Per-sample losses of ``y_pred`` (already converted to the compute dtype)."""
        return self.call_and_backward(y_true, y_pred)[0]

    def call_and_backward(self, y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[np.ndarray, Backward]:
        """Per-sample losses and ``backward(upstream) -> dLoss/dy_pred``."""
        raise NotImplementedError(
            f"{type(self).__name__} has no gradient: rnnkit has no autograd, so a loss used for "
            "training must implement call_and_backward(y_true, y_pred) -> (per_sample_losses, backward)")

    def _forward(self, y_true: np.ndarray, y_pred: np.ndarray,
                 need_backward: bool) -> Tuple[np.ndarray, Optional[Backward], Optional[np.ndarray]]:
        if need_backward or type(self).call is Loss.call:
            values, backward = self.call_and_backward(y_true, y_pred)
            return np.asarray(values), backward, None
        return np.asarray(self.call(y_true, y_pred)), None, None

    # Public API --------------------------------------------------------------------------
    def _inputs(self, y_true: Any, y_pred: Any) -> Tuple[np.ndarray, np.ndarray, np.dtype]:
        y_pred = np.asarray(y_pred)
        dtype = _float_dtype(y_pred, self._dtype)
        t = None if y_true is None else self._convert_y_true(np.asarray(y_true), dtype)
        # A missing y_true goes on as None: each loss raises its own ValueError for it (_align).
        return cast(np.ndarray, t), y_pred.astype(dtype, copy=False), dtype

    @staticmethod
    def _combined_mask(values: np.ndarray, own: Optional[np.ndarray], mask: Any) -> Optional[np.ndarray]:
        """The loss's own mask (ignored classes) and the model's mask (padded steps) together,
        in the shape of the per-sample losses."""
        if mask is None:
            return own
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != values.shape:
            try:
                mask = np.broadcast_to(mask.reshape(mask.shape + (1,) * (values.ndim - mask.ndim))
                                       if mask.ndim < values.ndim else mask, values.shape)
            except ValueError:
                raise ValueError(f"the mask of shape {mask.shape} does not match the per-sample losses of shape "
                                 f"{values.shape}") from None
        return mask if own is None else cast(np.ndarray, mask & own)

    def _convert_y_true(self, y_true: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return y_true.astype(dtype, copy=False)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None,
                 mask: Any = None) -> Union[float, np.ndarray]:
        """The loss: a float, or per-sample losses (times the weights) for reduction None.

        Args:
            y_true: targets, shape ``(N, ..., U)`` (class ids ``(N, ...)`` for the sparse loss).
            y_pred: predictions, shape ``(N, ..., U)``.
            sample_weight: weights of shape ``(N,)`` or of the per-sample losses ``(N, ...)``.
            mask: bool, the shape of the per-sample losses (e.g. ``(N, T)``): masked entries
                count for nothing, and a mean is over the valid ones (Keras' masked loss).
        """
        t, p, _ = self._inputs(y_true, y_pred)
        values, _, own = self._forward(t, p, need_backward=False)
        loss, _ = _reduce(values, sample_weight, self._combined_mask(values, own, mask), self.reduction)
        return loss

    def value_and_grad(self, y_true: Any, y_pred: Any, sample_weight: Any = None,
                       mask: Any = None) -> Tuple[float, np.ndarray]:
        """The reduced loss and its gradient with respect to ``y_pred``.

        Args:
            y_true, y_pred, sample_weight, mask: as for calling the loss.

        Returns:
            ``(loss, dloss_dy_pred)``, the gradient with the shape and dtype of ``y_pred``.
        """
        if self.reduction is None or self.reduction == "none":
            raise ValueError(f"{self.name}: value_and_grad needs a scalar loss, but reduction="
                             f"{self.reduction!r} gives per-sample losses; use 'sum_over_batch_size' or 'sum'")
        y_pred_array = np.asarray(y_pred)
        t, p, dtype = self._inputs(y_true, y_pred_array)
        values, backward, own = self._forward(t, p, need_backward=True)
        loss, coefficient = _reduce(values, sample_weight, self._combined_mask(values, own, mask), self.reduction)
        assert backward is not None and coefficient is not None  # need_backward, and a reduction
        out_dtype = y_pred_array.dtype if y_pred_array.dtype.kind == "f" else dtype
        grad = np.asarray(backward(coefficient)).reshape(y_pred_array.shape).astype(out_dtype, copy=False)
        return float(loss), grad

    def get_config(self) -> Dict[str, Any]:
        """``name``, ``reduction`` and the loss's own options (``from_logits``, ``delta``, ...) as
        a JSON-ready dict; ``dtype`` is not included."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Loss:
        """The loss ``cls(**config)``, from a dict of :meth:`get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({options})"


class _FunctionLoss(Loss):
    """A built-in loss: one of the per-sample functions above with fixed options."""

    _core: Callable[..., Tuple[np.ndarray, Backward]]

    def _options(self) -> Dict[str, Any]:
        return {}

    def call_and_backward(self, y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[np.ndarray, Backward]:
        return type(self)._core(y_true, y_pred, **self._options())

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), **self._options()}


class MeanSquaredError(_FunctionLoss):
    """Mean of the squared errors over the last axis; gradient ``2 (y_pred - y_true) / U``.

    Args:
        reduction, name, dtype: as for :class:`Loss`.
    """

    _core = staticmethod(_mse)

    def __init__(self, reduction: Optional[str] = "sum_over_batch_size", name: str = "mean_squared_error",
                 dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(_FunctionLoss):
    """Mean of the absolute errors over the last axis; gradient ``sign(y_pred - y_true) / U``
    (0 where they are equal).

    Args:
        reduction, name, dtype: as for :class:`Loss`.
    """

    _core = staticmethod(_mae)

    def __init__(self, reduction: Optional[str] = "sum_over_batch_size", name: str = "mean_absolute_error",
                 dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Huber(_FunctionLoss):
    """Huber loss: quadratic for ``|y_pred - y_true| <= delta``, linear beyond.

    Args:
        delta: where the loss turns from quadratic to linear.
        reduction, name, dtype: as for :class:`Loss`.
    """

    _core = staticmethod(_huber)

    def __init__(self, delta: float = 1.0, reduction: Optional[str] = "sum_over_batch_size",
                 name: str = "huber_loss", dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.delta = float(delta)

    def _options(self) -> Dict[str, Any]:
        return {"delta": self.delta}


class _SmoothedCrossentropy(_FunctionLoss):
    """What binary and categorical crossentropy share: logits or probabilities, label
    smoothing, and the averaged (class) axis."""

    def __init__(self, from_logits: bool, label_smoothing: float, axis: int, reduction: Optional[str],
                 name: str, dtype: Any) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = int(axis)

    def _options(self) -> Dict[str, Any]:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis}


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Binary crossentropy, averaged over ``axis``.

    Args:
        from_logits: ``y_pred`` holds logits (log-sigmoid forms, no clipping) rather than
            probabilities (clipped to ``[1e-7, 1 - 1e-7]``; zero gradient where clipped).
        label_smoothing: in ``[0, 1]``; targets become ``t (1 - s) + 0.5 s``.
        axis: the axis averaged.
        reduction, name, dtype: as for :class:`Loss`.
    """

    _core = staticmethod(_binary_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Optional[str] = "sum_over_batch_size", name: str = "binary_crossentropy",
                 dtype: Any = None) -> None:
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Crossentropy with one-hot targets.

    Args:
        from_logits: ``y_pred`` holds logits (log-softmax) rather than probabilities
            (normalised to sum 1 over ``axis``, then clipped to ``[1e-7, 1 - 1e-7]``).
        label_smoothing: in ``[0, 1]``; targets become ``t (1 - s) + s / C``.
        axis: the class axis.
        reduction, name, dtype: as for :class:`Loss`.
    """

    _core = staticmethod(_categorical_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Optional[str] = "sum_over_batch_size", name: str = "categorical_crossentropy",
                 dtype: Any = None) -> None:
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class SparseCategoricalCrossentropy(Loss):
    """Crossentropy with integer class ids: ``y_true`` of shape ``(N, ...)`` or ``(N, ..., 1)``,
    ``y_pred`` of shape ``(N, ..., C)``; a label outside ``[0, C)`` is a ValueError.

    Args:
        from_logits: ``y_pred`` holds logits rather than probabilities (normalised, then clipped).
        ignore_class: a class id whose entries are left out: loss and gradient 0, and the
            ``"sum_over_batch_size"`` mean taken over the other entries, as in Keras.
        reduction, name, dtype: as for :class:`Loss`.
    """

    def __init__(self, from_logits: bool = False, ignore_class: Optional[int] = None,
                 reduction: Optional[str] = "sum_over_batch_size", name: str = "sparse_categorical_crossentropy",
                 dtype: Any = None) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.ignore_class = None if ignore_class is None else int(ignore_class)

    def _convert_y_true(self, y_true: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return y_true  # class ids stay as given; checked in _sparse_labels

    def _forward(self, y_true: np.ndarray, y_pred: np.ndarray,
                 need_backward: bool) -> Tuple[np.ndarray, Optional[Backward], Optional[np.ndarray]]:
        return _sparse_categorical_crossentropy(y_true, y_pred, self.from_logits, self.ignore_class)

    def call_and_backward(self, y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[np.ndarray, Backward]:
        values, backward, _ = _sparse_categorical_crossentropy(y_true, y_pred, self.from_logits, self.ignore_class)
        return values, backward

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}


# ------------------------------------------------------------------------------ get & co
_CLASSES: Dict[str, Type[Loss]] = {cls.__name__: cls for cls in (
    MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy)}

_FUNCTIONS: Dict[Callable[..., Any], Type[Loss]] = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    huber: Huber,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}

# Keras' names: the functions, their aliases and the class names.
_NAMES: Dict[str, Type[Loss]] = {
    **{fn.__name__: cls for fn, cls in _FUNCTIONS.items()},
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    **_CLASSES,
}


def serialize(loss: Optional[Loss]) -> Optional[Dict[str, Any]]:
    """``{'class_name': ..., 'config': loss.get_config()}``."""
    if loss is None:
        return None
    if not isinstance(loss, Loss):
        raise TypeError(f"serialize expects an rnnkit.losses.Loss, got {type(loss).__name__}")
    return serialize_object(loss)


def deserialize(config: Union[str, Dict[str, Any], None],
                custom_objects: Optional[Dict[str, Type[Loss]]] = None) -> Optional[Loss]:
    """The loss described by :func:`serialize`'s dict (or a name, as :func:`get`)."""
    if config is None:
        return None
    if isinstance(config, str):
        return get(config)
    cls, options = class_and_config(config, {**_CLASSES, **(custom_objects or {})}, "loss",
                                    custom_objects_allowed=True)
    return cls.from_config(options)


def get(identifier: Any) -> Optional[Loss]:
    """A :class:`Loss` from a Keras name (``"mse"``, ``"binary_crossentropy"``, ``"Huber"``, ...),
    a config dict, a Loss class or instance, or one of this module's functions.

    A plain function ``fn(y_true, y_pred)`` has no gradient, so it is a TypeError unless it
    has a ``value_and_grad`` method; an unknown name is a ValueError listing the valid ones.
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown loss {identifier!r}; expected one of "
                             f"{', '.join(map(repr, sorted(_NAMES, key=str.lower)))}, or an rnnkit.losses.Loss")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if _hashable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(getattr(identifier, "value_and_grad", None)):
        return cast(Loss, identifier)  # it computes its own gradient, which is all fit asks of a Loss
    if callable(identifier):
        raise TypeError(
            f"loss {getattr(identifier, '__name__', identifier)!r} is a plain function: rnnkit has no "
            "autograd, so it needs the loss's gradient too. Use a built-in name or rnnkit.losses class, "
            "or subclass rnnkit.losses.Loss and implement call_and_backward(y_true, y_pred) -> "
            "(per_sample_losses, backward) (or pass an object with value_and_grad(y_true, y_pred, "
            "sample_weight=None) -> (loss, dloss_dy_pred))")
    raise ValueError(f"could not interpret loss identifier {identifier!r}")


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True
