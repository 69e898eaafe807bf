"""Layers, as ``keras.layers``, and the one registry through which configs name classes.

``serialize(layer)`` gives ``{"class_name", "config"}``; ``deserialize`` finds the class in the
registry (rnnkit's layers and models, plus ``custom_objects``) and never imports or runs
anything else, so a saved config cannot run code.
"""

import contextvars
from typing import Any, Dict, Optional

from .base import Input, InputLayer, Layer
from .cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .core import Activation, Dense, Dropout, Embedding, Flatten, Masking, RepeatVector, Reshape
from .merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .recurrent import GRU, LSTM, RNN, SimpleRNN
from .wrappers import Bidirectional, TimeDistributed

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Dropout", "Activation", "Masking", "Embedding", "Flatten",
           "Reshape", "RepeatVector", "RNN", "SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell", "GRUCell",
           "StackedRNNCells", "Bidirectional", "TimeDistributed", "Concatenate", "Add", "Subtract", "Multiply",
           "Average", "Maximum", "Minimum", "Dot", "concatenate", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "dot", "serialize", "deserialize", "registry"]


_custom: "contextvars.ContextVar[Dict[str, type]]" = contextvars.ContextVar("custom_objects")


def registry(custom_objects: Optional[Dict[str, type]] = None) -> Dict[str, type]:
    """Class name -> class for every layer and model a config may name."""
    from .. import models

    known = {name: obj for name, obj in globals().items() if isinstance(obj, type) and issubclass(obj, Layer)}
    known.update({name: getattr(models, name) for name in models.__all__
                  if isinstance(getattr(models, name), type)})
    known.update(custom_objects or {})
    return known


def serialize(layer: Any) -> Dict[str, Any]:
    """``{"class_name": ..., "config": layer.get_config()}``."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None) -> Any:
    """A layer or model from :func:`serialize` output; only registered classes can be named.
    ``custom_objects`` reach the layers nested inside (wrapped layers, cells, models)."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"a layer config must be a dict with 'class_name' and 'config', got {config!r:.200}")
    outer = _custom.get({})
    token = _custom.set({**outer, **(custom_objects or {})})
    try:
        known = registry(_custom.get())
        cls: Any = known.get(config["class_name"])  # a layer or model class, or a custom one with from_config
        if cls is None:
            raise ValueError(f"unknown layer class {config['class_name']!r}; known: {sorted(known)}")
        inner = config.get("config", {})
        if not isinstance(inner, dict):
            raise ValueError(f"the config of {config['class_name']!r} must be a dict, got {type(inner).__name__}")
        try:
            return cls.from_config(dict(inner))
        except TypeError as error:
            raise ValueError(f"cannot rebuild {config['class_name']!r} from its config: {error}") from None
    finally:
        _custom.reset(token)
