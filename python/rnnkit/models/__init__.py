"""Models, as ``keras.models``: Sequential, Model (the functional API), load_model,
model_from_json and clone_model."""

import json
from typing import Any, Dict, Optional

from ..saving import load_model
from .functional import Model
from .sequential import Sequential

__all__ = ["Sequential", "Model", "load_model", "model_from_json", "clone_model"]


def model_from_json(json_string: str, custom_objects: Optional[Dict[str, type]] = None) -> Any:
    """A new model (fresh weights) from ``model.to_json()``; only registered classes can be named."""
    from .. import layers

    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as error:
        raise ValueError(f"model_from_json: not valid JSON ({error})") from None
    return layers.deserialize(config, custom_objects=custom_objects)


def clone_model(model: Any, custom_objects: Optional[Dict[str, type]] = None) -> Any:
    """A new model of the same architecture with new layers and freshly initialised weights, as
    ``keras.models.clone_model`` (copy the weights with ``clone.set_weights(model.get_weights())``)."""
    from .. import layers

    return layers.deserialize(layers.serialize(model), custom_objects=custom_objects)
