"""The model registry: which model classes a checkpoint may name, looked up by class name.

Model classes register themselves where they are defined (``@register_model`` above the
class), so :func:`~musicgenre.models.checkpoint.load_checkpoint` rebuilds them by name
without importing them itself. Register your own subclass the same way before loading a
checkpoint that holds it: the registry is the one way into checkpoints.

A registered class is a :class:`~musicgenre.models.protocol.GenreModel` subclass (the
contract checkpoints, export, evaluation and prediction rely on):
:class:`~musicgenre.models.GenreCNN` and its subclasses and
:class:`~musicgenre.models.MusicnnClassifier` are. The tagger
:class:`~musicgenre.models.musicnn.Musicnn` is not a genre model and is not registered.
"""

from __future__ import annotations

from typing import TypeVar

from musicgenre.errors import ConfigurationError
from musicgenre.models.protocol import GenreModel

__all__ = ["get_model_class", "register_model", "registered_models"]

ModelClass = TypeVar("ModelClass", bound=type[GenreModel])

_MODELS: dict[str, type[GenreModel]] = {}


def register_model(cls: ModelClass) -> ModelClass:
    """Let checkpoints that name *cls* (by class name) be rebuilt; usable as a decorator.

    Raises
    ------
    ConfigurationError
        If *cls* is not a :class:`~musicgenre.models.protocol.GenreModel` subclass.

    Examples
    --------
    >>> from musicgenre.models import GenreCNN
    >>> @register_model
    ... class WiderCNN(GenreCNN):
    ...     pass
    >>> get_model_class("WiderCNN") is WiderCNN
    True
    """
    if not (isinstance(cls, type) and issubclass(cls, GenreModel)):
        raise ConfigurationError(
            f"register_model takes GenreModel subclasses (musicgenre.models.GenreModel), not {cls!r}"
        )
    _MODELS[cls.__name__] = cls
    return cls


def get_model_class(name: str) -> type[GenreModel]:
    """The registered model class called *name* (a :class:`~musicgenre.models.protocol.GenreModel` subclass).

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
