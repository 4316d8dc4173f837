"""Recipes: named bundles of front end, windows, model, augmentation, optimisation and evaluation.

Each recipe kind is one object that owns its training (:class:`~musicgenre.recipes.base.Recipe`):
:class:`~musicgenre.recipes.cnn.CNNRecipe` trains a CNN from scratch (:data:`REFERENCE`,
:data:`IMPROVED`), :class:`~musicgenre.recipes.pretrained.PretrainedRecipe` trains a head on a
pretrained backbone (:data:`PRETRAINED_MUSICNN`).

Define your own with ``dataclasses.replace(IMPROVED, name="mine", ...)`` and
:func:`register_recipe`.
"""

from __future__ import annotations

import warnings
from typing import Any

from musicgenre.recipes.base import RECIPES, Recipe, TrainView, get_recipe, register_recipe
from musicgenre.recipes.cnn import IMPROVED, REFERENCE, CNNRecipe
from musicgenre.recipes.pretrained import PRETRAINED_MUSICNN, PRETRAINED_PROBE, PretrainedRecipe, PretrainedSettings

__all__ = [
    "IMPROVED",
    "PRETRAINED_MUSICNN",
    "PRETRAINED_PROBE",
    "RECIPES",
    "REFERENCE",
    "CNNRecipe",
    "PretrainedRecipe",
    "PretrainedSettings",
    "Recipe",
    "TrainView",
    "get_recipe",
    "register_recipe",
]

_RENAMED = {"TransferSettings": ("musicgenre.recipes.PretrainedSettings", PretrainedSettings)}


def __getattr__(name: str) -> Any:
    """Deprecated names: ``TransferSettings`` is :class:`PretrainedSettings`."""
    if name in _RENAMED:
        new, value = _RENAMED[name]
        warnings.warn(f"musicgenre.recipes.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
