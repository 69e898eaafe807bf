"""Dense, Dropout, Activation, Masking, Embedding and the shape layers (Flatten, Reshape, RepeatVector)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple, cast

import numpy as np

from .. import activations, constraints, initializers, ops, regularizers, utils
from .._arguments import check_flag, check_seed, check_shape, is_number
from .base import Grads, Layer, Pullback, Shape, check_rate, check_weight_sizes, dropout_keep, unary_pullback

__all__ = ["Dense", "Dropout", "Activation", "Masking", "Embedding", "Flatten", "Reshape", "RepeatVector"]


class Dense(Layer):
    """``y = activation(x W + b)`` on the last axis: ``(N, F) -> (N, units)``, and per time
    step on ``(N, T, F) -> (N, T, units)`` as Keras 3 does (the mask passes through).

    Args:
        units: output width.
        activation: ``None``/``"linear"``, or any name of ``rnnkit.activations.DENSE_ACTIVATIONS``
            (``"relu"``, ``"gelu"``, ``"softmax"``, ...) or function of that module, run in the
            C++ kernel. Setting ``layer.activation = None`` later means linear, as in Keras.
        use_bias: whether to add ``b``.
        kernel_initializer, bias_initializer: Keras names or objects.
        kernel_regularizer, bias_regularizer: ``rnnkit.regularizers`` or names.
        kernel_constraint, bias_constraint: ``rnnkit.constraints`` or names.
    """

    supports_masking = True

    def __init__(self, units: int, activation: Optional[str] = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activation
        self.use_bias = check_flag("Dense", "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    @property
    def activation(self) -> str:
        """The activation's name (``"linear"`` for none). It may be set to a name, a function of
        ``rnnkit.activations`` or ``None``, and the layer then runs the new activation."""
        return self._activation

    @activation.setter
    def activation(self, value: Optional[str]) -> None:
        self._activation = activations.get(value)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: Dense needs inputs of shape (batch, ..., features) with a known "
                             f"feature size, got {input_shape}")
        check_weight_sizes(self, {"kernel": (input_shape[-1], self.units), "bias": (self.units,)})
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                                      self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def _forward(self, inputs: np.ndarray, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        if inputs.ndim < 2 or inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected input of shape (batch, ..., {self.kernel.shape[0]}), "
                             f"got {inputs.shape}")
        kernel, bias = self.kernel, self.bias
        result = ops.dense_forward(inputs, kernel.value, bias.value if bias is not None else None,
                                   activation=self.activation)

        def pullback(dy: Any) -> Tuple[Any, Grads]:
            grads = result.backward(None if dy is None else np.asarray(dy, dtype=inputs.dtype))
            weight_grads = {kernel: grads["kernel"]}
            if bias is not None:
                weight_grads[bias] = grads["bias"]
            return grads["x"], weight_grads

        return result.output, pullback

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {
            "units": self.units, "activation": self.activation, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class Dropout(Layer):
    """Sets a fraction ``rate`` of the inputs to zero while training and scales the rest by
    ``1 / (1 - rate)``; the identity at inference.

    Args:
        rate: fraction to drop, in [0, 1).
        noise_shape: shape of the mask, broadcast against the input (``None`` entries take
            the input's size), e.g. ``(None, 1, None)`` for one mask over all time steps.
        seed: seed of the masks.
    """

    supports_masking = True

    def __init__(self, rate: float, noise_shape: Optional[Sequence[Optional[int]]] = None,
                 seed: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate, self.seed = check_rate("Dropout", "rate", rate), check_seed("Dropout", seed)
        self.noise_shape = None if noise_shape is None else check_shape("Dropout", "noise_shape", noise_shape,
                                                                        allow_none=True)
        self._rng = utils.rng(seed)

    def _forward(self, inputs: np.ndarray, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        if not training or self.rate == 0:
            return inputs, unary_pullback(lambda dy: dy)
        shape = inputs.shape if self.noise_shape is None else tuple(
            inputs.shape[k] if d is None else d for k, d in enumerate(self.noise_shape))
        if len(shape) != inputs.ndim or any(s not in (1, n) for s, n in zip(shape, inputs.shape)):
            raise ValueError(f"{self.name}: noise_shape {self.noise_shape} does not broadcast against inputs of "
                             f"shape {inputs.shape} (each entry must be None, 1 or the input's size)")
        keep = dropout_keep(self._rng, shape, self.rate, inputs.dtype)
        return inputs * keep, unary_pullback(lambda dy: dy * keep)

    def get_config(self) -> Dict[str, Any]:
        noise_shape = list(self.noise_shape) if self.noise_shape is not None else None
        return super().get_config() | {"rate": self.rate, "noise_shape": noise_shape, "seed": self.seed}


class Activation(Layer):
    """Applies an activation elementwise (softmax over the last axis); the mask passes through.

    Args:
        activation: a name of ``rnnkit.activations.DENSE_ACTIVATIONS`` (``"relu"``, ``"gelu"``,
            ``"softmax"``, ...) or one of that module's functions.
    """

    supports_masking = True

    def __init__(self, activation: Optional[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def _forward(self, inputs: np.ndarray, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        name = self.activation
        y = activations.apply(name, inputs)
        x_kept = ops._keep(inputs) if activations.needs_input(name) else None  # gelu, silu: the derivative reads x

        def backward(dy: np.ndarray) -> np.ndarray:
            return activations.gradient(name, y, dy.astype(inputs.dtype, copy=False), x_kept)

        return y, unary_pullback(backward)

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"activation": self.activation}


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value``: ``(N, T, F)`` in, the
    same out with those steps zeroed, and the mask ``(N, T)`` for the layers after it.

    Args:
        mask_value: the padding value.
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not is_number(mask_value):
            raise TypeError(f"Masking: mask_value must be a number, got {mask_value!r} of type "
                            f"{type(mask_value).__name__}")
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs: Any, mask: Any = None) -> np.ndarray:
        return cast(np.ndarray, np.any(np.asarray(inputs) != self.mask_value, axis=-1))

    def _forward(self, inputs: np.ndarray, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        if inputs.ndim < 2:
            raise ValueError(f"{self.name}: Masking needs inputs of shape (batch, time, features), got {inputs.shape}")
        keep = self.compute_mask(inputs)[..., None].astype(inputs.dtype)
        return inputs * keep, unary_pullback(lambda dy: dy * keep)

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"mask_value": self.mask_value}


class Embedding(Layer):
    """Looks up a vector per integer id: ``(N, ...)`` ids in ``[0, input_dim)`` give
    ``(N, ..., output_dim)``. The backward pass adds each step's gradient into its id's
    row (a scatter-add; no one-hot of the vocabulary is formed).

    Args:
        input_dim: vocabulary size. output_dim: vector size.
        embeddings_initializer: Keras name or object (``"uniform"``: U(-0.05, 0.05)).
        embeddings_regularizer: ``rnnkit.regularizers`` or name.
        embeddings_constraint: ``rnnkit.constraints`` or name.
        mask_zero: id 0 is padding: the layer emits the mask ``ids != 0`` (so ``input_dim``
            counts the padding id too).

    Ids may be any integer dtype; floats holding whole numbers are cast as Keras casts
    them, and fractional, negative or too large ids raise ValueError.
    """

    casts_inputs = False

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, mask_zero: bool = False, input_length: Optional[int] = None,
                 embeddings_constraint: Any = None, **kwargs: Any) -> None:
        if input_length is not None and "input_shape" not in kwargs:  # Keras 2's argument
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Embedding: {name} must be a positive integer, got {value!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = check_flag("Embedding", "mask_zero", mask_zero)
        self.supports_masking = self.mask_zero

    def build(self, input_shape: Shape) -> None:
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer, self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Optional[np.ndarray]:
        return np.asarray(inputs) != 0 if self.mask_zero else None

    def _ids(self, inputs: np.ndarray) -> np.ndarray:
        if inputs.dtype.kind == "f":
            if not np.all(np.isfinite(inputs)) or np.any(np.mod(inputs, 1) != 0):
                raise TypeError(f"{self.name}: Embedding ids must be integers, got dtype {inputs.dtype} with "
                                "fractional or non-finite values")
        elif inputs.dtype.kind not in "iu":
            raise TypeError(f"{self.name}: Embedding ids must be integers, got dtype {inputs.dtype}")
        if inputs.ndim < 1 or inputs.size == 0:
            raise ValueError(f"{self.name}: Embedding needs a non-empty batch of ids, got shape {inputs.shape}")
        bad = (inputs < 0) | (inputs >= self.input_dim)
        if bad.any():
            where = tuple(int(k) for k in np.argwhere(bad)[0])
            raise ValueError(f"{self.name}: id {inputs[where].item()!r} at index {where} is out of range: "
                             f"ids must lie in [0, input_dim) = [0, {self.input_dim})")
        ids = inputs.astype(np.intp, copy=False)
        # The pullback reads the ids: keep our own if they are still the caller's array.
        return ops._keep(ids) if ids is inputs else ids

    def _forward(self, inputs: np.ndarray, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        ids = self._ids(inputs)
        embeddings = self.embeddings

        def pullback(dy: Any) -> Tuple[Any, Grads]:
            grad = np.zeros_like(embeddings.value)
            if dy is not None:
                np.add.at(grad, ids.ravel(), np.asarray(dy, dtype=grad.dtype).reshape(-1, self.output_dim))
            return None, {embeddings: grad}

        return embeddings.value[ids], pullback

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {
            "input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint)}


class _Reshaping(Layer):
    """A layer that only rearranges its input: the gradient is reshaped back."""

    def _target(self, x: np.ndarray) -> Tuple[int, ...]:
        raise NotImplementedError

    def _forward(self, inputs: np.ndarray, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        shape = inputs.shape
        return inputs.reshape(self._target(inputs)), unary_pullback(lambda dy: dy.reshape(shape))


class Flatten(_Reshaping):
    """``(N, d1, d2, ...) -> (N, d1 * d2 * ...)``."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else int(np.prod(cast(Tuple[int, ...], rest))))

    def _target(self, x: np.ndarray) -> Tuple[int, ...]:
        return (x.shape[0], -1)


class Reshape(_Reshaping):
    """``(N, ...) -> (N, *target_shape)``; one entry of ``target_shape`` may be -1.

    Args:
        target_shape: the shape of one sample after the layer.
    """

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = check_shape("Reshape", "target_shape", target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(f"Reshape: target_shape may hold positive sizes and one -1, got {self.target_shape}")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if -1 not in self.target_shape:
            return (input_shape[0],) + self.target_shape
        known = input_shape[1:]
        if None in known:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        rest = int(np.prod(cast(Tuple[int, ...], known))) // -int(np.prod(self.target_shape))
        return (input_shape[0],) + tuple(rest if d == -1 else d for d in self.target_shape)

    def _target(self, x: np.ndarray) -> Tuple[int, ...]:
        size = int(np.prod(x.shape[1:]))
        known = -int(np.prod(self.target_shape)) if -1 in self.target_shape else int(np.prod(self.target_shape))
        if (size % known if -1 in self.target_shape else size != known):
            raise ValueError(f"{self.name}: cannot reshape samples of shape {x.shape[1:]} ({size} values) "
                             f"to {self.target_shape}")
        return (x.shape[0],) + self.target_shape

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"target_shape": list(self.target_shape)}


class RepeatVector(Layer):
    """Repeats a vector ``n`` times: ``(N, F) -> (N, n, F)``, as an encoder's summary fed to
    every step of a decoder.

    Args:
        n: number of repetitions.
    """

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"RepeatVector: n must be a positive integer, got {n!r}")
        self.n = int(n)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.n, input_shape[1])

    def _forward(self, inputs: np.ndarray, mask: Any, training: bool, **kwargs: Any) -> Tuple[Any, Pullback]:
        if inputs.ndim != 2:
            raise ValueError(f"{self.name}: RepeatVector needs inputs of shape (batch, features), got {inputs.shape}")
        return np.repeat(inputs[:, None, :], self.n, axis=1), unary_pullback(lambda dy: dy.sum(axis=1))

    def get_config(self) -> Dict[str, Any]:
        return super().get_config() | {"n": self.n}
