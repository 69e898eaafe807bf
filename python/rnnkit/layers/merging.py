"""Merge layers, as ``keras.layers``: Concatenate, Add, Subtract, Multiply, Average, Maximum,
Minimum, Dot, and their functional forms (``concatenate``, ``add``, ...).

Each takes a list of arrays (batch axis first) and returns one. Masks, as Keras 3: the output
mask is the AND of the inputs' masks, or None when no input has one; Concatenate along the
features ORs them (an input without a mask counts as all valid) and along time joins them.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

import numpy as np

from .. import ops
from .._arguments import check_flag, check_integer, check_shape
from .base import Grads, Layer, Pullback, Shape

__all__ = ["Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot", "concatenate",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "dot"]

# The gradients of a merge's inputs from that of its output.
MergeBackward = Callable[[np.ndarray], List[np.ndarray]]


class _Merge(Layer):
    """The shared part: a list of at least two inputs, the mask rule, and elementwise shapes."""

    supports_masking = True
    fixed_count: Optional[int] = None
    pullback_reads_inputs = False

    def _check_inputs(self, shapes: Any) -> List[Shape]:
        if not isinstance(shapes, (list, tuple)) or len(shapes) < 2 or not all(isinstance(s, tuple) for s in shapes):
            raise ValueError(f"{self.name}: {type(self).__name__} needs a list of at least 2 inputs, got {shapes!r}")
        if self.fixed_count is not None and len(shapes) != self.fixed_count:
            raise ValueError(f"{self.name}: {type(self).__name__} needs exactly {self.fixed_count} inputs, "
                             f"got {len(shapes)}")
        return [tuple(s) for s in shapes]

    def build(self, input_shape: Any) -> None:
        shapes = self._check_inputs(input_shape)
        self.compute_output_shape(shapes)
        super().build(shapes)

    def _build_shape(self, inputs: Any) -> Any:
        if not isinstance(inputs, list):
            raise ValueError(f"{self.name}: {type(self).__name__} needs a list of inputs, got one array")
        return [(None,) + tuple(x.shape[1:]) for x in inputs]

    def compute_output_shape(self, input_shape: Any) -> Shape:
        """Elementwise: equal shapes (an unknown size matches any)."""
        shapes = self._check_inputs(input_shape)
        out = list(shapes[0])
        for shape in shapes[1:]:
            if len(shape) != len(out):
                raise ValueError(f"{self.name}: inputs of different ranks cannot be merged: {shapes}")
            for axis, (a, b) in enumerate(zip(out, shape)):
                if a is not None and b is not None and a != b:
                    raise ValueError(f"{self.name}: the inputs must have the same shape, got {shapes}")
                out[axis] = a if a is not None else b
        return tuple(out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Optional[np.ndarray]:
        masks = [m for m in (mask if isinstance(mask, (list, tuple)) else [mask]) if m is not None]
        if not masks:
            return None
        out = np.asarray(masks[0], dtype=bool)
        for m in masks[1:]:
            out = out & np.asarray(m, dtype=bool)
        return out

    def _arrays(self, inputs: Any) -> List[np.ndarray]:
        arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self._check_inputs([a.shape for a in arrays])
        self.compute_output_shape([a.shape for a in arrays])
        return arrays

    def _forward(self, inputs: Any, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        arrays = self._arrays(inputs)
        if self.pullback_reads_inputs:  # not the caller's arrays, which may change before it runs
            arrays = [ops._keep(a) for a in arrays]
        output, backward = self._merge(arrays)

        def pullback(dy: Any) -> Tuple[Any, Grads]:
            if dy is None:
                return [None] * len(arrays), {}
            return backward(np.asarray(dy)), {}

        return output, pullback

    def _merge(self, arrays: List[np.ndarray]) -> Tuple[np.ndarray, MergeBackward]:
        raise NotImplementedError


class Add(_Merge):
    """The sum of the inputs."""

    def _merge(self, arrays: List[np.ndarray]) -> Tuple[np.ndarray, MergeBackward]:
        return sum(arrays[1:], arrays[0]), lambda dy: [dy] * len(arrays)


class Subtract(_Merge):
    """The first input minus the second."""

    fixed_count = 2

    def _merge(self, arrays: List[np.ndarray]) -> Tuple[np.ndarray, MergeBackward]:
        return arrays[0] - arrays[1], lambda dy: [dy, -dy]


class Multiply(_Merge):
    """The elementwise product of the inputs."""

    pullback_reads_inputs = True

    def _merge(self, arrays: List[np.ndarray]) -> Tuple[np.ndarray, MergeBackward]:
        product = arrays[0]
        for a in arrays[1:]:
            product = product * a

        def backward(dy: np.ndarray) -> List[np.ndarray]:
            grads = []
            for k in range(len(arrays)):
                others = np.ones_like(dy)
                for j, a in enumerate(arrays):
                    if j != k:
                        others = others * a
                grads.append(dy * others)
            return grads

        return product, backward


class Average(_Merge):
    """The mean of the inputs."""

    def _merge(self, arrays: List[np.ndarray]) -> Tuple[np.ndarray, MergeBackward]:
        n = len(arrays)
        return sum(arrays[1:], arrays[0]) / n, lambda dy: [dy / n] * n


class _Extremum(_Merge):
    """Elementwise maximum or minimum; the gradient goes to the first input that attains it."""

    def _winner(self, stacked: np.ndarray) -> np.ndarray:
        """Per entry, the index of the (first) input that attains the extremum."""
        raise NotImplementedError

    def _merge(self, arrays: List[np.ndarray]) -> Tuple[np.ndarray, MergeBackward]:
        stacked = np.stack(arrays)
        winner = self._winner(stacked)
        output = np.take_along_axis(stacked, winner[None], axis=0)[0]
        return output, lambda dy: [np.where(winner == k, dy, 0).astype(dy.dtype) for k in range(len(arrays))]


class Maximum(_Extremum):
    """The elementwise maximum of the inputs."""

    def _winner(self, stacked: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, np.argmax(stacked, axis=0))


class Minimum(_Extremum):
    """The elementwise minimum of the inputs."""

    def _winner(self, stacked: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, np.argmin(stacked, axis=0))


class Concatenate(_Merge):
    """The inputs joined along ``axis`` (default the last).

    Args:
        axis: the axis to join along (not the batch axis).
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = check_integer("Concatenate", "axis", axis)

    def _axis(self, rank: int) -> int:
        axis = self.axis if self.axis >= 0 else rank + self.axis
        if not 0 < axis < rank:
            raise ValueError(f"{self.name}: cannot concatenate along axis {self.axis} of inputs of rank {rank}")
        return axis

    def compute_output_shape(self, input_shape: Any) -> Shape:
        """The inputs' common shape with the sizes along ``axis`` added (``None`` if one is
        unknown); ValueError if the ranks or the other sizes differ."""
        shapes = self._check_inputs(input_shape)
        rank = len(shapes[0])
        axis = self._axis(rank)
        out = list(shapes[0])
        for shape in shapes[1:]:
            if len(shape) != rank:
                raise ValueError(f"{self.name}: inputs of different ranks cannot be concatenated: {shapes}")
            for k, (a, b) in enumerate(zip(out, shape)):
                if k == axis:
                    out[k] = None if a is None or b is None else a + b
                elif a is not None and b is not None and a != b:
                    raise ValueError(f"{self.name}: the inputs must match except along axis {self.axis}, "
                                     f"got {shapes}")
                else:
                    out[k] = a if a is not None else b
        return tuple(out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Optional[np.ndarray]:
        masks = mask if isinstance(mask, (list, tuple)) else [mask]
        if all(m is None for m in masks):
            return None
        arrays = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        rank = np.ndim(arrays[0])
        axis = self._axis(rank)
        full = [np.ones(np.shape(a)[:-1], bool) if m is None else np.asarray(m, bool) for a, m in zip(arrays, masks)]
        if axis == rank - 1:  # features joined: as Keras 3, a step is valid where any input's is
            return cast(np.ndarray, np.logical_or.reduce(full))
        return np.concatenate(full, axis=axis)

    def _merge(self, arrays: List[np.ndarray]) -> Tuple[np.ndarray, MergeBackward]:
        axis = self._axis(arrays[0].ndim)
        bounds = [0]
        for a in arrays:
            bounds.append(bounds[-1] + a.shape[axis])
        index = [slice(None)] * arrays[0].ndim

        def backward(dy: np.ndarray) -> List[np.ndarray]:
            return [dy[tuple(index[:axis] + [slice(lo, hi)])] for lo, hi in zip(bounds[:-1], bounds[1:])]

        return np.concatenate(arrays, axis=axis), backward

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"axis": self.axis}


class Dot(_Merge):
    """The dot product of two inputs along ``axes``, per sample (Keras' ``batch_dot``):
    ``(N, d)`` and ``(N, d)`` give ``(N, 1)``; ``(N, a, d)`` and ``(N, b, d)`` with ``axes=2``
    give ``(N, a, b)``.

    Args:
        axes: one axis for both inputs, or a pair ``(axis of the first, axis of the second)``.
        normalize: L2-normalise both inputs along those axes first (a cosine similarity).
    """

    fixed_count = 2
    supports_masking = False
    pullback_reads_inputs = True

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            self.axes: Any = list(check_shape("Dot", "axes", axes))
            if len(self.axes) != 2:
                raise ValueError(f"Dot: axes must be one axis or a pair (one per input), got {axes!r}")
        else:
            self.axes = check_integer("Dot", "axes", axes)
        self.normalize = check_flag("Dot", "normalize", normalize)

    def _pair(self, ranks: Sequence[int]) -> List[int]:
        axes = self.axes if isinstance(self.axes, list) else [self.axes, self.axes]
        pair = [a if a >= 0 else r + a for a, r in zip(axes, ranks)]
        for a, r in zip(pair, ranks):
            if not 0 < a < r:
                raise ValueError(f"{self.name}: axes {self.axes} do not fit inputs of ranks {tuple(ranks)}")
        return pair

    def compute_output_shape(self, input_shape: Any) -> Shape:
        """The batch axis, then the first input's other axes and the second's, the dot axes
        left out; ``(N, 1)`` when nothing else remains. ValueError if the dot axes' sizes differ."""
        shapes = self._check_inputs(input_shape)
        pair = self._pair([len(s) for s in shapes])
        a, b = shapes[0][pair[0]], shapes[1][pair[1]]
        if a is not None and b is not None and a != b:
            raise ValueError(f"{self.name}: the dot axes have sizes {a} and {b}; they must match ({shapes})")
        rest = [d for k, d in enumerate(shapes[0]) if k not in (0, pair[0])] + \
               [d for k, d in enumerate(shapes[1]) if k not in (0, pair[1])]
        return (shapes[0][0],) + tuple(rest or [1])

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def _merge(self, arrays: List[np.ndarray]) -> Tuple[np.ndarray, MergeBackward]:
        x, y = arrays
        ax, ay = self._pair([x.ndim, y.ndim])
        if self.normalize:
            nx = np.sqrt(np.maximum(np.sum(x * x, axis=ax, keepdims=True), 1e-12))
            ny = np.sqrt(np.maximum(np.sum(y * y, axis=ay, keepdims=True), 1e-12))
            xn, yn = x / nx, y / ny
        else:
            xn, yn = x, y
        letters = "abcdefghijklmnopqrstuvwxyz"
        sx = ["n"] + [letters[k] for k in range(1, x.ndim)]
        sy = ["n"] + [letters[x.ndim + k] for k in range(1, y.ndim)]
        sy[ay] = sx[ax]
        out_letters = [c for k, c in enumerate(sx) if k != ax] + [c for k, c in enumerate(sy) if k not in (0, ay)]
        spec_x, spec_y, spec_out = "".join(sx), "".join(sy), "".join(out_letters)
        output = np.einsum(f"{spec_x},{spec_y}->{spec_out}", xn, yn)
        scalar = output.ndim == 1
        if scalar:
            output = output[:, None]

        def backward(dy: np.ndarray) -> List[np.ndarray]:
            d = dy[:, 0] if scalar else dy
            dxn = np.einsum(f"{spec_out},{spec_y}->{spec_x}", d, yn)
            dyn = np.einsum(f"{spec_out},{spec_x}->{spec_y}", d, xn)
            if self.normalize:  # through v / |v|: (d - v_hat * <d, v_hat>) / |v|
                dxn = (dxn - xn * np.sum(dxn * xn, axis=ax, keepdims=True)) / nx
                dyn = (dyn - yn * np.sum(dyn * yn, axis=ay, keepdims=True)) / ny
            return [dxn, dyn]

        return output, backward

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"axes": self.axes, "normalize": self.normalize}


def _functional(cls: type, doc: str) -> Any:
    def merge(inputs: List[Any], **kwargs: Any) -> Any:
        return cls(**kwargs)(inputs)

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = doc
    return merge


concatenate = _functional(Concatenate, "``Concatenate(axis)(inputs)``: the inputs joined along ``axis``.")
add = _functional(Add, "``Add()(inputs)``: the sum of the inputs.")
subtract = _functional(Subtract, "``Subtract()(inputs)``: the first input minus the second.")
multiply = _functional(Multiply, "``Multiply()(inputs)``: the elementwise product.")
average = _functional(Average, "``Average()(inputs)``: the mean of the inputs.")
maximum = _functional(Maximum, "``Maximum()(inputs)``: the elementwise maximum.")
minimum = _functional(Minimum, "``Minimum()(inputs)``: the elementwise minimum.")


def dot(inputs: List[Any], axes: Any = -1, normalize: bool = False, **kwargs: Any) -> Any:
    """``Dot(axes, normalize)(inputs)``: the per-sample dot product."""
    return Dot(axes, normalize=normalize, **kwargs)(inputs)
