"""The model registry: which model classes a checkpoint may name, looked up by class name.

Model classes register themselves where they are defined (``@register_model`` above the
class), so :func:`~musicgenre.models.checkpoint.load_checkpoint` rebuilds them by name
without importing them itself. Register your own subclass the same way before loading a
checkpoint that holds it.

A registered class is an ``nn.Module`` that a checkpoint can rebuild: it has
``get_config()`` (plain values), a ``from_config(config)`` class method and a
``num_classes`` property. :class:`~musicgenre.models.GenreCNN` and its subclasses,
:class:`~musicgenre.models.musicnn.Musicnn` and the transfer-learning models are.
"""

from __future__ import annotations

from typing import Any, TypeVar

from torch import nn

from musicgenre.errors import ConfigurationError

__all__ = ["get_model_class", "register_model", "registered_models"]

ModelClass = TypeVar("ModelClass", bound=type[nn.Module])

_MODELS: dict[str, type[nn.Module]] = {}


def register_model(cls: ModelClass) -> ModelClass:
    """Let checkpoints that name *cls* (by class name) be rebuilt; usable as a decorator.

    Examples
    --------
    >>> from musicgenre.models import GenreCNN
    >>> @register_model
    ... class WiderCNN(GenreCNN):
    ...     pass
    >>> get_model_class("WiderCNN") is WiderCNN
    True
    """
    _MODELS[cls.__name__] = cls
    return cls


def get_model_class(name: str) -> type[Any]:
    """The registered model class called *name* (an ``nn.Module`` subclass; see the module's notes).

    Raises
    ------
    ConfigurationError
        If no class of that name is registered; the message lists the registered ones.
    """
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown model class {name!r} (registered: {sorted(_MODELS)}); "
            "register it with musicgenre.models.register_model"
        ) from None


def registered_models() -> tuple[str, ...]:
    """Names of the registered model classes, sorted."""
    return tuple(sorted(_MODELS))
