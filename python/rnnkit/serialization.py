"""Keras' ``{"class_name": ..., "config": {...}}`` form, shared by losses, metrics,
optimizers and their schedules, initializers and regularizers. Plain JSON: a config can
only name one of the classes the caller allows, so reading one cannot run code."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple, Type, TypeVar

__all__ = ["serialize_object", "class_and_config"]

T = TypeVar("T")


def serialize_object(obj: Any) -> Dict[str, Any]:
    """``{"class_name": type(obj).__name__, "config": obj.get_config()}``."""
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def class_and_config(config: Any, classes: Mapping[str, Type[T]], kind: str,
                     custom_objects_allowed: bool = False) -> Tuple[Type[T], Dict[str, Any]]:
    """The class ``config["class_name"]`` names among ``classes``, and a copy of
    ``config["config"]`` (other keys, e.g. Keras' ``module``, are ignored).

    Args:
        config: ``{"class_name": ..., "config": {...}}``.
        classes: the classes allowed, by name.
        kind: what is being read, for the error messages (``"loss"``, ``"metric"``, ...).
        custom_objects_allowed: the caller takes ``custom_objects``; the error says so.

    Raises:
        ValueError: ``config`` is not such a dict, or names no class of ``classes``.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{kind} config must be a dict {{'class_name': ..., 'config': ...}}, got {config!r}")
    cls = classes.get(config["class_name"])
    if cls is None:
        hint = " (pass others through custom_objects)" if custom_objects_allowed else ""
        raise ValueError(f"unknown {kind} class {config['class_name']!r}; expected one of "
                         f"{', '.join(map(repr, sorted(classes)))}{hint}")
    return cls, dict(config.get("config") or {})
